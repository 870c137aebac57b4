from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Customer notifications"

    def ready(self) -> None:
        from notifications import ai  # noqa: F401 - registers the offline writers with the LLM gateway

        try:
            from outbound import hooks
        except ImportError:  # outbound lands separately; until then nothing is sent
            return
        from notifications import services

        hooks.register_listener(
            services.SOURCE, on_sent=services.on_delivery_sent, on_failed=services.on_delivery_failed
        )
