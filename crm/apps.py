from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "Customer graph"

    def ready(self):
        # llm (below crm) stores an opaque `scope` on each usage row; callers pass the team id, so a
        # user sees the usage rows of the teams they see (every row, unscoped ones too, for admins).
        from crm.drf_input import (
            methods_before_permissions,
            refuse_empty_typed_parameters,
            refuse_non_boolean_flags,
            refuse_non_integer_numbers,
            refuse_non_string_text,
            refuse_unknown_query_parameters,
        )
        from crm.visibility import visible_team_ids
        from llm.usage import register_scope_resolver

        register_scope_resolver(visible_team_ids)
        refuse_non_string_text()
        refuse_non_boolean_flags()
        refuse_non_integer_numbers()
        refuse_empty_typed_parameters()
        methods_before_permissions()
        refuse_unknown_query_parameters()
