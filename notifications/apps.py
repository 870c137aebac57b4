from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Customer notifications"

    def ready(self) -> None:
        from notifications import (
            ai,  # noqa: F401 - registers the offline writers with the LLM gateway
            runs,  # noqa: F401 - registers the analysis runs' batch handler
            segment_refinement,  # noqa: F401 - registers its batch handler
            services,
        )
        from outbound import hooks
        from outbound import tasks as _outbound_tasks  # noqa: F401 - outbound enqueues its task by name

        hooks.register_listener(
            services.SOURCE, on_sent=services.on_delivery_sent, on_failed=services.on_delivery_failed
        )
