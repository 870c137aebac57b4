from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = "Support inbox"

    def ready(self) -> None:
        import tickets.tasks  # noqa: F401 - registers the Celery tasks that services enqueue by name
        from crm import hooks, timeline
        from outbound.hooks import register_listener
        from tickets import (
            ai,  # noqa: F401 - registers the offline writers for tickets.triage and tickets.draft
            services,
        )
        from tickets.timeline import ticket_entries

        timeline.register_source("ticket", ticket_entries)
        # Churn risk, lifetime value and VIP feed ticket scores: an account edit (API or admin, through
        # crm.services.update_account) rescores that customer's open tickets at once.
        hooks.on_account_updated(lambda *, account, fields: services.sync_customer_inputs(account_id=account.pk))
        register_listener(services.REPLY_SOURCE, on_sent=services.on_reply_sent, on_failed=services.on_reply_failed)
