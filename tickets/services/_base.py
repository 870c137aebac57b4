"""Small helpers every inbox workflow shares."""

from __future__ import annotations

from celery import current_app

from crm.errors import ServiceError


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def validate_choice(name: str, value: str, choices) -> str:
    if value not in choices:
        raise ServiceError(f"Unknown {name} {value!r}. Allowed: {', '.join(choices)}.", field=name)
    return value


def enqueue(task: str, *args) -> None:
    """Queue `tickets.tasks.<task>` once the current transaction commits.

    Looked up by name in Celery's registry, so services never import the tasks module (tasks
    import services: one direction, no circle)."""
    current_app.tasks[f"tickets.tasks.{task}"].delay_on_commit(*args)
