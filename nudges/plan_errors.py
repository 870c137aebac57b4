"""The refusal action plans raise: a message a person can act on, naming the field.

Same shape as the shared `crm.errors.ServiceError` (docs/seams.md); views and the API turn it into
a message or a 400 (404 for `code="not_found"`)."""


class PlanError(Exception):
    def __init__(self, message: str, *, code: str = "invalid", field: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
