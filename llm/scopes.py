"""Who sees which usage rows. llm knows nothing of teams: each ledger row carries an opaque integer
`scope` its caller passed (`ask(..., scope=...)`, `BulkItem(scope=...)`), and the app above that
knows what scopes mean registers one resolver deciding which scopes a user may see:

    # crm/apps.py
    register_scope_resolver(visible_team_ids)   # fn(user) -> set[int] | None (None: every scope)

Rows with no scope (a call no team asked for) are seen only by users whose resolver answers None.
With no resolver registered (llm used on its own) every permitted user sees every row.
"""

from __future__ import annotations

from collections.abc import Callable

ScopeResolver = Callable[[object], "set[int] | None"]
_resolver: list[ScopeResolver] = []


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
