"""Listeners: an upper app learns when its deliveries end without outbound importing it.

Registered in the upper app's `AppConfig.ready()`:
`register_listener("tickets.message", on_sent=fn, on_failed=fn)`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Listener:
    on_sent: Callable | None = None
    on_failed: Callable | None = None
    on_uncertain: Callable | None = None


_listeners: dict[str, Listener] = {}


def register_listener(source: str, *, on_sent=None, on_failed=None, on_uncertain=None) -> None:
    """One listener per source; registering again replaces it (ready() may run twice in tests)."""
    _listeners[source] = Listener(on_sent=on_sent, on_failed=on_failed, on_uncertain=on_uncertain)


def notify(event: str, delivery) -> None:
    """Call the source's listener for `event` (sent, failed, uncertain). The send has already
    happened and been recorded: a listener's failure is logged, never undoes it."""
    listener = _listeners.get(delivery.source)
    fn = getattr(listener, f"on_{event}", None) if listener else None
    if fn is None:
        return
    try:
        fn(delivery)
    except Exception:  # noqa: BLE001 - a listener bug must not turn a sent message into a failed one
        log.exception("outbound listener %s.on_%s failed for delivery %s", delivery.source, event, delivery.pk)
