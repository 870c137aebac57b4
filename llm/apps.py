from django.apps import AppConfig


class LlmConfig(AppConfig):
    name = "llm"
    verbose_name = "AI gateway"

    def ready(self):
        from llm import injection_suite  # noqa: F401 - registers the llm.injection evaluation suite
