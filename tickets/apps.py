from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = "Support inbox"

    def ready(self) -> None:
        from crm import timeline
        from tickets import ai  # noqa: F401 - registers the offline writers for tickets.triage and tickets.draft
        from tickets.timeline import ticket_entries

        timeline.register_source("ticket", ticket_entries)
