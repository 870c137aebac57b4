"""Shared DRF pieces, so no endpoint answers edge input with a 500 (issue 10, item 2).

- `SafeJSONParser`: JSON bodies nested deeper than `crm.validators.JSON_MAX_DEPTH`, or holding
  NUL, lone surrogates or non-finite numbers, are a 400 naming the top-level field, before any
  view sees them (Python's parser raises RecursionError near 1,000 levels; PostgreSQL refuses NUL).
- `SafeFilterBackend`: django-filter with datetime filters that are converted to UTC and bounded
  to the years the database holds; `?last_activity_at__lt=2024-01-01T00:00:00+16:00` reached
  PostgreSQL with an offset it refuses.
- `ValidatedCursorPagination`: a cursor that does not decode, or whose position is not a value of
  the ordering column, is a 400 on `cursor`, not a 404 or a database error.

What a request's fields and query parameters may hold (JSON types as the schema says, typed
parameters never empty, only documented parameters) is enforced by the hooks in `crm.drf_input`.

The value checks themselves live in `crm.validators` (shared with imports and forms); this module
only applies them at the DRF boundaries. Wired in settings.REST_FRAMEWORK.
"""

from __future__ import annotations

import codecs
import json
from datetime import timedelta

import django_filters
from django import forms
from django.conf import settings
from django.db import models
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ParseError, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser

from crm.drf_input import is_json_integer, reads_strings

# crm.errors and crm.validators are imported inside the functions: DRF imports this module while
# building APIView (DEFAULT_PARSER_CLASSES), and crm.errors itself imports rest_framework.views.
NON_FIELD = "non_field_errors"


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string", "maxLength": 100}]})
class IdOrReferenceField(serializers.CharField):
    """Our numeric id or an external reference ("42" or "CRM-9001"): a JSON integer is taken as the
    id it is, and documented so; anything else must be a string."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 100)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, int) and not isinstance(data, bool):
            data = str(data)
        return super().to_internal_value(data)


def sse_event_schema(*events: str) -> dict:
    """The schema of one Server-Sent Event of a `text/event-stream` response: an object with its
    `event` name and its `data` (a JSON text), as OpenAPI 3.2's `itemSchema` describes a stream and
    as schemathesis checks every parsed event against the response's schema (ST108). A stream is
    not one string."""
    return {
        "type": "object",
        "required": ["data"],
        "properties": {
            "event": {"type": "string", "enum": list(events)},
            "data": {"type": "string", "description": "A JSON object."},
            "id": {"type": "string"},
            "retry": {"type": "integer"},
        },
    }


# --- JSON bodies ------------------------------------------------------------------------------


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, refusing what would crash the parser, the database or a later read."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            # NaN and Infinity are refused always: jsonb and our numeric columns cannot hold them.
            data = json.load(codecs.getreader(encoding)(stream), parse_constant=_refuse_constant)
        except RecursionError:
            from crm.validators import JSON_MAX_DEPTH

            raise ParseError(f"JSON parse error - nested deeper than {JSON_MAX_DEPTH} levels.") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        check_json_body(data)
        return data


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def check_json_body(data) -> None:
    """400 naming the field when a parsed JSON body holds what cannot be stored."""
    from crm.errors import ServiceError
    from crm.validators import JSON_MAX_DEPTH, clean_json, clean_text

    items = data.items() if isinstance(data, dict) else [(None, data)]
    errors: dict[str, list[str]] = {}
    for key, value in items:
        field = key if isinstance(key, str) else NON_FIELD
        try:
            if isinstance(key, str):
                clean_text(key, max_length=200, field=field, label="a field name")
            # The body itself is one level: its fields may nest JSON_MAX_DEPTH - 1 more.
            clean_json(value, max_depth=JSON_MAX_DEPTH - 1, field=field)
        except ServiceError as exc:
            errors.setdefault(_printable(field), []).append(exc.message)
    if errors:
        raise ValidationError(errors)


def _printable(field: str) -> str:
    # A field name with NUL cannot be echoed back as a key the client can read.
    return field if not any(ch == "\x00" or "\ud800" <= ch <= "\udfff" for ch in field) else NON_FIELD


# --- filters ----------------------------------------------------------------------------------


MAX_UTC_OFFSET = timedelta(hours=15, minutes=59)


class BoundedDateTimeField(forms.DateTimeField):
    """An ISO datetime in UTC within the years the database can hold and read back."""

    def to_python(self, value):
        from crm.errors import ServiceError
        from crm.validators import bounded_datetime

        value = super().to_python(value)
        if value is None:
            return None
        offset = value.utcoffset()
        if offset is not None and abs(offset) > MAX_UTC_OFFSET:
            # Python takes offsets up to 23:59; PostgreSQL refuses past 15:59 and no zone uses them.
            raise forms.ValidationError("The UTC offset must be within ±15:59.", code="offset")
        try:
            return bounded_datetime(value, label="This date")
        except ServiceError as exc:
            raise forms.ValidationError(exc.message, code="out_of_range") from None


class BoundedDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = BoundedDateTimeField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # django-filter's ISO field class would otherwise win over ours.
        self.field_class = BoundedDateTimeField


class StrictBooleanField(forms.Field):
    """`true`/`false` (or `1`/`0`), nothing else: django-filter's boolean field reads any other value,
    `null` or a typo, as "no filter" and answers with every row (schemathesis ST201)."""

    VALUES = {"true": True, "1": True, "false": False, "0": False}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, bool):
            return value
        try:
            return self.VALUES[str(value).strip().lower()]
        except KeyError:
            raise forms.ValidationError("Use true or false.", code="invalid") from None


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class IntegerFilter(django_filters.NumberFilter):
    """An integer column filters by a whole number: django-filter's NumberFilter reads a decimal, so
    `?source_id=0.5` answered an empty page where the schema says integer (schemathesis ST201)."""

    field_class = forms.IntegerField


class SafeFilterSet(django_filters.FilterSet):
    """The FilterSet every `filterset_fields` builds on: datetime fields filter through
    `BoundedDateTimeFilter`, booleans through `StrictBooleanFilter`. Hand-written filtersets subclass
    it too."""

    FILTER_DEFAULTS = {
        **django_filters.FilterSet.FILTER_DEFAULTS,
        models.DateTimeField: {"filter_class": BoundedDateTimeFilter},
        models.BooleanField: {"filter_class": StrictBooleanFilter},
        **{
            kind: {"filter_class": IntegerFilter}
            for kind in (
                models.IntegerField,
                models.BigIntegerField,
                models.SmallIntegerField,
                models.PositiveIntegerField,
                models.PositiveBigIntegerField,
                models.PositiveSmallIntegerField,
                models.AutoField,
                models.BigAutoField,
            )
        },
    }

    def is_valid(self):
        """A typed filter sent empty (`?account=`, `?occurred_at__lt=`) is a 400 naming it, not "no
        filter": the schema says an integer, a date-time or one of the choices, and an empty value is
        none of them (schemathesis ST201). Text filters may be empty."""
        valid = super().is_valid()
        for name, value in self.data.items():
            found = self.filters.get(name)
            if found is not None and value == "" and not isinstance(found.field, forms.CharField):
                self.form.add_error(name, EMPTY_PARAMETER)
                valid = False
        return valid


EMPTY_PARAMETER = "Give a value, or leave the parameter out."


class SafeFilterBackend(DjangoFilterBackend):
    filterset_base = SafeFilterSet


# --- cursors ----------------------------------------------------------------------------------


class StrictPageSize:
    """A page size that is not a positive whole number is a 400 naming it: DRF silently falls back to
    the default page size, where the schema says a positive integer."""

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param) if self.page_size_query_param else None
        if raw is not None and not (raw.isascii() and raw.isdigit() and int(raw) >= 1):
            raise ValidationError({self.page_size_query_param: ["A positive whole number."]})
        return super().get_page_size(request)


class ValidatedCursorPagination(StrictPageSize, CursorPagination):
    """Cursor pagination whose cursor is checked before it reaches the query: garbage, nested
    JSON or a position of the wrong type is a 400 naming `cursor`."""

    invalid_cursor_message = "Invalid cursor: use the `next` or `previous` link of a page."

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise ValidationError({self.cursor_query_param: [self.invalid_cursor_message]}) from None
        if cursor is not None and cursor.position is not None:
            self._check_position(cursor.position)
        return cursor

    def _check_position(self, position: str) -> None:
        from crm.validators import bounded_datetime, clean_text

        ordering = self.ordering if isinstance(self.ordering, str) else self.ordering[0]
        name = ordering.lstrip("-")
        model = getattr(getattr(self, "_queryset_model", None), "_meta", None)
        try:
            field = model.get_field(name) if model else None
        except Exception:  # noqa: BLE001  (an annotation: no model field to check against)
            field = None
        try:
            clean_text(position, max_length=200)
            if field is not None:
                value = field.to_python(position)
                if isinstance(field, models.IntegerField | models.AutoField) and not -(2**63) <= value < 2**63:
                    raise ValueError("out of range")
                if isinstance(field, models.DateTimeField):
                    bounded_datetime(value)
        except Exception:  # noqa: BLE001  (ServiceError, Django's ValidationError, ValueError: the same 400)
            raise ValidationError({self.cursor_query_param: [self.invalid_cursor_message]}) from None

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                # Past max_page_size DRF gives max_page_size rows: no maximum to document.
                parameter["schema"]["minimum"] = 1
        return parameters

    def paginate_queryset(self, queryset, request, view=None):
        self._queryset_model = queryset.model
        return super().paginate_queryset(queryset, request, view)


# --- schema -----------------------------------------------------------------------------------


def schema_doc_excludes() -> list[type]:
    """drf-spectacular takes a serializer's description from the first docstring in its MRO; our
    mixins' docstrings (how they work) must not become every API schema's description."""
    from drf_spectacular.plumbing import get_lib_doc_excludes

    from crm.validators import StorageSafeSerializerMixin

    return [*get_lib_doc_excludes(), StorageSafeSerializerMixin]


# Error statuses every operation of a kind can answer, with why. Documented once here rather than
# on each view, so a new endpoint's schema is true from the start (schemathesis checks it).
ERROR_SCHEMA = {
    "type": "object",
    "description": '`{"detail": message}` or `{field: [messages]}` (docs/api.md, Errors).',
    "additionalProperties": True,
}
_ERRORS = {
    "400": "Invalid input: the body names each field (or `non_field_errors`), a filter or the cursor.",
    "401": "No credentials, or a token that is unknown or expired (`WWW-Authenticate: Token`).",
    "403": "Signed in, but the role does not allow it (or a session request without its CSRF token).",
    "404": "No such row among those you can see (other teams' rows answer the same).",
    "409": "The row changed or other rows depend on it.",
    "415": "The body is not JSON (the file uploads: not multipart/form-data); `detail` names the type sent.",
    "429": "Too many requests (sign-in lockout); see `Retry-After`.",
}


def decimal_bodies_take_numbers(result, generator, request, public):
    """A money field (`DecimalField`) is answered as a string ("12.50", exact) and takes a string or
    a JSON number in a request body, as DRF reads both; drf-spectacular documented the request side
    as a string only, so a client sending 12.5 was "violating the schema" and still answered 201
    (schemathesis would flag it). Request components (COMPONENT_SPLIT_REQUEST: `...Request`) say
    `oneOf` the decimal string or a number."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if not name.endswith("Request"):
            continue
        for prop, schema in list(component.get("properties", {}).items()):
            if schema.get("format") == "decimal" and schema.get("type") == "string":
                outer = {k: schema.pop(k) for k in ("nullable", "description", "readOnly", "writeOnly") if k in schema}
                component["properties"][prop] = {"oneOf": [schema, {"type": "number"}], **outer}
    return result


def document_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: add the error answers each operation can give.

    400 wherever input is read (a body, query parameters, a cursor); 401 for every operation that
    needs credentials; 403 for writes (roles, CSRF); 404 where a path names a row; 409 for deletes
    (protected rows); 415 wherever a body is read in a type the operation does not take. An
    operation's own documented answers win."""
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            statuses = set()
            if operation.get("requestBody") or any(p.get("in") == "query" for p in operation.get("parameters", [])):
                statuses.add("400")
            if operation.get("requestBody"):
                statuses.add("415")
            security = operation.get("security")
            if security and {} not in security:  # credentials required (not optional, not none)
                # 404 too: whatever is not yours (a row, a team, a manager-only view) is "not found".
                statuses |= {"401", "404"}
            if method != "get":
                statuses |= {"403", "400"}
            if "{" in path:
                statuses.add("404")
            if method == "delete":
                statuses.add("409")
            responses = operation.setdefault("responses", {})
            for status in sorted(statuses):
                responses.setdefault(
                    status,
                    {
                        "description": _ERRORS[status],
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                )
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    return result


def api_aware_not_found(request, exception):
    """handler404: the API answers JSON (its documented content type), the console its page.

    A path the URL patterns do not match (`/api/tickets/0.5/escalate/`) never reaches DRF."""
    if request.path_info.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse({"detail": "Not found."}, status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


# --- people on a record -----------------------------------------------------------------------

NOT_A_MEMBER = "Choose a member of this record's team."


@extend_schema_field(OpenApiTypes.INT)
class TeamMemberField(serializers.Field):
    """A user id (deal owner, account manager) checked against the record's team in the
    serializer's `validate` with `member_of_team`, not looked up here: a lookup here would answer
    "does not exist" for a wrong id and something else for another team's user, telling an
    outsider which ids exist. Both get `NOT_A_MEMBER`."""

    def to_internal_value(self, data):
        if not is_json_integer(data) and not (
            isinstance(data, str) and data.isascii() and data.isdigit() and reads_strings(self)
        ):
            raise ValidationError(NOT_A_MEMBER)
        value = int(data)
        if not 1 <= value < 2**63:
            raise ValidationError(NOT_A_MEMBER)
        return value

    def to_representation(self, value):
        return getattr(value, "pk", value)


def member_of_team(user_id: int | None, team, *, field: str):
    """The user with this id if they belong to `team`; the same 400 for anyone else or no one."""
    from django.contrib.auth import get_user_model

    if user_id is None:
        return None
    user = get_user_model().objects.filter(pk=user_id, memberships__team=team, is_active=True).first()
    if user is None:
        raise ValidationError({field: [NOT_A_MEMBER]})
    return user
