"""The refusal action plans raise: the shared `crm.errors.ServiceError` (docs/seams.md), so the API
answers it as a 400 naming the field (409 for "conflict"), plus 404 for `code="not_found"` (an
unknown or invisible deal or plan must look the same)."""

from rest_framework import status

from crm.errors import ServiceError


class PlanError(ServiceError):
    @property
    def status_code(self) -> int:
        if self.code == "not_found":
            return status.HTTP_404_NOT_FOUND
        return super().status_code
