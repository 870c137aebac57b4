from django.apps import AppConfig


class NudgesConfig(AppConfig):
    name = "nudges"
    verbose_name = "Deal nudges"

    def ready(self) -> None:
        # Registers the offline writer with the LLM gateway.
        from nudges import ai  # noqa: F401
