"""The refusal type services raise: `crm.errors.ServiceError` (docs/seams.md) once it has landed,
until then a stand-in with the same signature."""

try:
    from crm.errors import ServiceError
except ImportError:  # pragma: no cover - replaced by crm.errors when it lands

    class ServiceError(Exception):  # type: ignore[no-redef]
        def __init__(self, message: str, *, code: str = "invalid", field: str | None = None):
            super().__init__(message)
            self.message, self.code, self.field = message, code, field


__all__ = ["ServiceError"]
