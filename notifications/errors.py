"""The refusal type services raise (docs/seams.md)."""

from crm.errors import ServiceError

__all__ = ["ServiceError"]
