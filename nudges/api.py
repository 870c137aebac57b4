"""REST endpoints for nudges. `register(router)` adds viewsets; `urlpatterns` holds any plain API paths."""

urlpatterns: list = []


def register(router) -> None:
    """Nothing registered yet."""
