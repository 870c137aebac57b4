"""Hooks through which upper apps react to changes in the customer graph.

`crm` sits below the feature apps and must not import them. When an upper app needs to know that
something changed here (tickets rescores a customer's open tickets when churn risk or lifetime value
changes), it registers a function in its `apps.py` `ready()`, as timeline sources do:

    from crm import hooks
    hooks.on_account_updated(rescore_account_tickets)

`crm.services.update_account` calls every registered function inside its transaction, after the
change and its audit record are written, with `account` and `fields` (the names that changed).
"""

from __future__ import annotations

from collections.abc import Callable

AccountHook = Callable[..., None]

_ACCOUNT_UPDATED: list[AccountHook] = []


def on_account_updated(fn: AccountHook) -> AccountHook:
    """Register `fn(*, account, fields)`; registering the same function twice keeps one."""
    if fn not in _ACCOUNT_UPDATED:
        _ACCOUNT_UPDATED.append(fn)
    return fn


def account_updated(*, account, fields: set[str]) -> None:
    for fn in list(_ACCOUNT_UPDATED):
        fn(account=account, fields=fields)
