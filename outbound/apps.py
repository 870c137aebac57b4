from django.apps import AppConfig


class OutboundConfig(AppConfig):
    name = "outbound"
    verbose_name = "Outbound deliveries"

    def ready(self) -> None:
        import outbound.tasks  # noqa: F401 - registers deliver_task, which services enqueue by name
