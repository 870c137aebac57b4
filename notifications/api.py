"""REST endpoints for notifications. `register(router)` adds viewsets; `urlpatterns` holds any plain API paths."""

urlpatterns: list = []


def register(router) -> None:
    """Nothing registered yet."""
