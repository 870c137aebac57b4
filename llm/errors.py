"""The gateway's own exceptions. Providers translate SDK and HTTP errors into these two kinds, so
the retry policy is written once (in llm.gateway) and never multiplied by an SDK's own retries."""


class LLMError(Exception):
    kind = "error"

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class TemporaryLLMError(LLMError):
    """Worth retrying: connection failure, timeout, 408/409/429, 5xx, 529 overloaded."""

    kind = "temporary"

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message, status=status)
        self.retry_after = retry_after


class PermanentLLMError(LLMError):
    """Retrying cannot help: bad key, bad request, unknown model, spend limit, payload too large."""

    kind = "permanent"


class SchemaError(LLMError):
    """The reply did not satisfy the JSON schema, even after one repair attempt."""

    kind = "schema"


TEMPORARY_STATUSES = frozenset({408, 409, 429})


def is_temporary_status(status: int) -> bool:
    return status in TEMPORARY_STATUSES or status >= 500


def parse_retry_after(headers) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    if headers is None:
        return None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    from datetime import UTC, datetime

    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
