from django.apps import AppConfig


class NudgesConfig(AppConfig):
    name = "nudges"
    verbose_name = "Deal nudges"

    def ready(self) -> None:
        from nudges import (
            ai,  # noqa: F401 - registers the offline writer with the LLM gateway
            feedback,
            plan_ai,  # noqa: F401 - the plan, expansion and learning writers
            signals,
        )
        from outbound.hooks import register_listener

        register_listener(feedback.SOURCE, on_sent=feedback.on_plan_email_sent)
        # ORM edits and deletes of activities mark their deals' stored signals dirty.
        signals.connect()
