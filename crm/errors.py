"""The one error type services raise for a refusal, and the DRF handler that answers it.

A service refuses with `ServiceError("Say why you dismiss this nudge.", field="reason")`. Console
views catch it and show the message; the API lets it escape, and `api_exception_handler` (wired as
REST_FRAMEWORK["EXCEPTION_HANDLER"]) turns it into a 400 naming the field (409 for
`code="conflict"`), so no viewset repeats a try/except around its service call.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError, RestrictedError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

NON_FIELD = "non_field_errors"


class ServiceError(Exception):
    """A refusal a person can act on: the message is shown as is, `field` names the culprit."""

    def __init__(self, message: str, *, code: str = "invalid", field: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field

    def as_dict(self) -> dict[str, list[str]]:
        return {self.field or NON_FIELD: [self.message]}

    @property
    def status_code(self) -> int:
        return status.HTTP_409_CONFLICT if self.code == "conflict" else status.HTTP_400_BAD_REQUEST


def _django_validation_detail(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {
            (k if k != "__all__" else NON_FIELD): [str(m) for e in v for m in e] for k, v in exc.message_dict.items()
        }
    return {NON_FIELD: [str(m) for m in exc.messages]}


def api_exception_handler(exc, context):
    """DRF's handler plus the refusals our domain raises; anything else stays a 500 (a bug)."""
    if isinstance(exc, ServiceError):
        body, code = exc.as_dict(), exc.status_code
    elif isinstance(exc, DjangoValidationError):
        body, code = _django_validation_detail(exc), status.HTTP_400_BAD_REQUEST
    elif isinstance(exc, (ProtectedError, RestrictedError)):
        body, code = {"detail": "Other records still depend on this one."}, status.HTTP_409_CONFLICT
    elif isinstance(exc, IntegrityError):
        # A unique or check constraint raced past the serializer's checks: the write was rolled back.
        body, code = {NON_FIELD: ["This would duplicate an existing record."]}, status.HTTP_400_BAD_REQUEST
    else:
        return exception_handler(exc, context)
    set_rollback()
    return Response(body, status=code)
