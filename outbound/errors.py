"""The errors of sending: refusals before a row exists, and the transports' two kinds of failure."""

from __future__ import annotations

from crm.errors import ServiceError


class SendRefused(ServiceError):
    """Consent or address says no: nothing is stored and nothing is sent."""


class TemporaryDeliveryError(Exception):
    """Worth retrying with backoff: the provider did not take the message (connection refused,
    5xx, 429, SMTP 4xx)."""


class PermanentDeliveryError(Exception):
    """Retrying will not help: bad address, 4xx, missing configuration."""


class UncertainDeliveryError(Exception):
    """The message left the building but no answer came back (a read timeout after the request was
    written): the provider may have accepted it, so it is never resent without a person."""
