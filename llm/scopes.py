"""Who sees which usage rows. llm knows nothing of teams: each ledger row carries an opaque integer
`scope` its caller passed (`ask(..., scope=...)`, `BulkItem(scope=...)`), and the app above that
knows what scopes mean registers one resolver deciding which scopes a user may see:

    # crm/apps.py
    register_scope_resolver(visible_team_ids)   # fn(user) -> set[int] | None (None: every scope)

Rows with no scope (a call no team asked for) are seen only by users whose resolver answers None.
With no resolver registered (llm used on its own) every permitted user sees every row.

A workflow that makes several calls deep inside feature code (the co-pilot's route, write and check
steps) can scope them all at once: `@scoped_by(fn)` on its entry function sets the scope `fn(*args,
**kwargs)` for every call made while it runs, unless a call passes its own `scope`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextvars import ContextVar

ScopeResolver = Callable[[object], "set[int] | None"]
_resolver: list[ScopeResolver] = []
_current: ContextVar[int | None] = ContextVar("llm_scope", default=None)


def register_scope_resolver(fn: ScopeResolver) -> ScopeResolver:
    """Install `fn` as the one resolver (a second registration replaces the first: apps.ready()
    can run twice in tests)."""
    _resolver[:] = [fn]
    return fn


def visible_scopes(user) -> set[int] | None:
    if not _resolver:
        return None
    scopes = _resolver[0](user)
    return None if scopes is None else set(scopes)


def current_scope() -> int | None:
    """The scope set by the innermost `scoped_by` function running, or None."""
    return _current.get()


def scoped_by(scope_of: Callable[..., int | None]) -> Callable:
    """Decorator: calls made while the decorated function runs carry `scope_of(*args, **kwargs)`.
    Reset when it returns or raises, so a worker's next task never inherits it."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            token = _current.set(scope_of(*args, **kwargs))
            try:
                return fn(*args, **kwargs)
            finally:
                _current.reset(token)

        return wrapper

    return decorate
