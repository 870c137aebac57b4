"""Shared DRF pieces, so no endpoint answers edge input with a 500 (issue 10, item 2).

- `SafeJSONParser`: JSON bodies nested deeper than `crm.validators.JSON_MAX_DEPTH`, or holding
  NUL, lone surrogates or non-finite numbers, are a 400 naming the top-level field, before any
  view sees them (Python's parser raises RecursionError near 1,000 levels; PostgreSQL refuses NUL).
- `SafeFilterBackend`: django-filter with datetime filters that are converted to UTC and bounded
  to the years the database holds; `?last_activity_at__lt=2024-01-01T00:00:00+16:00` reached
  PostgreSQL with an offset it refuses.
- `refuse_non_string_text`: DRF's `CharField` (and its Email, Slug, URL and Regex kinds) turned a
  JSON number into a string (`"language": 0` stored "0") where the schema says string; installed
  once by `crm.apps`, it refuses numbers and booleans with "Not a valid string." (schemathesis ST201).
- `refuse_non_boolean_flags`: DRF's `BooleanField` read 0, 1, "true", "yes", "on"... as booleans where
  the schema says boolean; installed the same way, it takes JSON `true` and `false` only in a JSON
  body; query strings and multipart bodies (the uploads' flags) read "true"/"false" as DRF does.
- `refuse_non_integer_numbers`: DRF's `IntegerField` and `PrimaryKeyRelatedField` read "5", 5.0 and
  "5.0" as 5 where the schema says integer; installed the same way, they take JSON integers only in a
  JSON body; query strings and multipart bodies (a QueryDict: every value a string) take digits.
  `FloatField` likewise takes JSON numbers only (it read `false` as 0.0 and "0.5" as 0.5).
- `ValidatedCursorPagination`: a cursor that does not decode, or whose position is not a value of
  the ordering column, is a 400 on `cursor`, not a 404 or a database error.

The value checks themselves live in `crm.validators` (shared with imports and forms); this module
only applies them at the DRF boundaries. Wired in settings.REST_FRAMEWORK.
"""

from __future__ import annotations

import codecs
import json
import re
import threading
from datetime import timedelta

import django_filters
from django import forms
from django.conf import settings
from django.db import models
from django.http import QueryDict
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ParseError, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser

# crm.errors and crm.validators are imported inside the functions: DRF imports this module while
# building APIView (DEFAULT_PARSER_CLASSES), and crm.errors itself imports rest_framework.views.
NON_FIELD = "non_field_errors"

# --- Text fields -------------------------------------------------------------------------------


def refuse_non_string_text() -> None:
    """Make every DRF CharField refuse input that is not a string. The API's OpenAPI schema says
    `type: string` for them, and a JSON number silently becoming text hides a client's mistake (an
    id sent as a number, a phone number losing its leading zero). Form bodies are strings already.

    Its length is also checked as sent: DRF trims surrounding whitespace first and checks
    `max_length` on what is left, so a text of 500 characters with a leading no-break space was
    taken where the schema says `maxLength: 500` (schemathesis ST201)."""
    original = serializers.CharField.to_internal_value
    if getattr(original, "refuses_non_strings", False):
        return

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return original(self, data)

    to_internal_value.refuses_non_strings = True
    serializers.CharField.to_internal_value = to_internal_value


def refuse_non_boolean_flags() -> None:
    """Make every DRF BooleanField take JSON `true` or `false` only. API bodies are JSON (docs/api.md),
    whose schema says `type: boolean`; DRF's field also reads 0, 1, "true", "yes", "on" and "off",
    so a client sending `"false"` by mistake was answered as if it meant it."""
    original = serializers.BooleanField.to_internal_value
    if getattr(original, "refuses_non_booleans", False):
        return

    def to_internal_value(self, data):
        if isinstance(data, bool) or reads_strings(self):
            return original(self, data)
        self.fail("invalid", input=data)

    to_internal_value.refuses_non_booleans = True
    serializers.BooleanField.to_internal_value = to_internal_value


def reads_strings(field: serializers.Field) -> bool:
    """Whether `field` reads text: its serializer validates a QueryDict (a query string or a multipart
    body, where every value is a string). A parsed JSON body has real numbers and booleans."""
    return isinstance(getattr(field.root, "initial_data", None), QueryDict)


# In a query string or a form: "5" and "-5", not "5.0" or "٥" (DRF read both as 5).
INTEGER_TEXT = re.compile(r"-?[0-9]+")


def _is_json_integer(data) -> bool:
    return isinstance(data, int) and not isinstance(data, bool)


def refuse_non_integer_numbers() -> None:
    """Make DRF's IntegerField and PrimaryKeyRelatedField take JSON integers only in a JSON body. The
    schema says `type: integer`; DRF also read "5", 5.0 and "5.0" as 5 (and a foreign key 5.7 as row 5,
    through the model field's int()). Query-parameter serializers and the uploads' `team` read a
    QueryDict and keep reading digits."""
    _guard(
        serializers.IntegerField,
        "refuses_non_integers",
        lambda self, data: (
            _is_json_integer(data) or (reads_strings(self) and isinstance(data, str) and INTEGER_TEXT.fullmatch(data))
        ),
        lambda self, data: self.fail("invalid"),
    )
    # FloatField read `false` as 0.0 and "0.5" as 0.5 where the schema says number (ST201).
    _guard(
        serializers.FloatField,
        "refuses_non_numbers",
        lambda self, data: (
            (isinstance(data, int | float) and not isinstance(data, bool))
            or (reads_strings(self) and isinstance(data, str))
        ),
        lambda self, data: self.fail("invalid"),
    )
    _guard(
        serializers.PrimaryKeyRelatedField,
        "refuses_non_integers",
        lambda self, data: _is_json_integer(data) or reads_strings(self) or not _integer_pk(self),
        lambda self, data: self.fail("incorrect_type", data_type=type(data).__name__),
    )


def _guard(field_class, marker: str, accepts, refuse) -> None:
    """Put `accepts(field, data)` in front of `field_class.to_internal_value` (once: `marker`);
    what it does not accept is refused by `refuse(field, data)`."""
    original = field_class.to_internal_value
    if getattr(original, marker, False):
        return

    def to_internal_value(self, data):
        if accepts(self, data):
            return original(self, data)
        refuse(self, data)

    setattr(to_internal_value, marker, True)
    field_class.to_internal_value = to_internal_value


def _integer_pk(field: serializers.PrimaryKeyRelatedField) -> bool:
    if field.pk_field is not None:
        return False  # the pk_field decides what it reads
    pk = field.queryset.model._meta.pk
    return isinstance(pk.target_field if pk.is_relation else pk, models.IntegerField)


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


def methods_before_permissions() -> None:
    """Answer a method the endpoint does not have with 405 before checking who asks: a permission
    that hides an endpoint behind 404 (the usage ledger for people without `llm.view_usage`) answered
    `TRACE /api/llm/usage/` with 404, where 405 says the method, not the caller, is wrong
    (schemathesis ST204). Installed once by `crm.apps`."""
    from rest_framework.exceptions import MethodNotAllowed
    from rest_framework.views import APIView

    original = APIView.check_permissions
    if getattr(original, "methods_first", False):
        return

    def check_permissions(self, request):
        if request.method not in self.allowed_methods:
            raise MethodNotAllowed(request.method)
        return original(self, request)

    check_permissions.methods_first = True
    APIView.check_permissions = check_permissions


class _DocumentedQueries:
    """The query parameters the OpenAPI schema documents for each operation, read from the schema
    drf-spectacular generates (once per process, ~0.3 s, on the first API request)."""

    def __init__(self):
        self._routes: list[tuple[re.Pattern, dict[str, frozenset[str]]]] | None = None
        self._lock = threading.Lock()

    def _build(self) -> list[tuple[re.Pattern, dict[str, frozenset[str]]]]:
        from drf_spectacular.generators import SchemaGenerator

        routes = []
        for path, item in SchemaGenerator().get_schema(request=None, public=True).get("paths", {}).items():
            pattern = "".join(
                "[^/]+" if part.startswith("{") else re.escape(part) for part in re.split(r"(\{[^}]+\})", path)
            )
            methods = {
                method.upper(): frozenset(p["name"] for p in op.get("parameters", []) if p.get("in") == "query")
                for method, op in item.items()
                if isinstance(op, dict)
            }
            routes.append((path.count("{"), re.compile(f"^{pattern}$"), methods))
        # A literal path wins over a template that also matches it (`/api/plans/runs/` is not the
        # plan `/api/plans/{public_id}/`).
        return [(pattern, methods) for _, pattern, methods in sorted(routes, key=lambda r: r[0])]

    def known(self, path: str, method: str) -> frozenset[str] | None:
        if self._routes is None:
            with self._lock:
                if self._routes is None:
                    self._routes = self._build()
        method = "GET" if method == "HEAD" else method
        for pattern, methods in self._routes:
            if pattern.match(path):
                return methods.get(method)
        return None  # not in the schema (the schema itself, the stream): not checked


DOCUMENTED_QUERIES = _DocumentedQueries()
# DRF's own: `?format=json` picks a renderer on any endpoint.
ALWAYS_ALLOWED_QUERY = frozenset({"format"})


def refuse_unknown_query_parameters() -> None:
    """A query parameter the operation does not document is a 400 naming it: a misspelt filter
    (`?stauts=open`) used to answer with every row, as if no filter had been asked for, and the schema
    lists an operation's parameters as all it takes (schemathesis ST201 adds others). Checked after
    authentication and permissions, so a hidden endpoint still answers 404. Installed by `crm.apps`."""
    from rest_framework.views import APIView

    original = APIView.initial
    if getattr(original, "refuses_unknown_queries", False):
        return

    def initial(self, request, *args, **kwargs):
        original(self, request, *args, **kwargs)
        if request.query_params and request.method != "OPTIONS":
            # PostgreSQL cannot compare text holding NUL: a hand-read parameter (`?team=%00`) was a 500.
            nul = sorted({name for name, value in request.query_params.lists() if any("\x00" in v for v in value)})
            if nul:
                raise ValidationError({name: ["NUL characters are not allowed."] for name in nul})
            known = DOCUMENTED_QUERIES.known(request.path, request.method)
            if known is not None:
                unknown = sorted(set(request.query_params) - known - ALWAYS_ALLOWED_QUERY)
                if unknown:
                    raise ValidationError({name: ["Unknown query parameter for this endpoint."] for name in unknown})

    initial.refuses_unknown_queries = True
    APIView.initial = initial


def refuse_empty_typed_parameters() -> None:
    """Make every DRF field that is not text read an empty value in a query string or a multipart
    body (`?limit=`, `team=`) as the value it is, which its validation refuses ("A valid integer is
    required."), instead of as "not given": the schema says an integer, a boolean or one of the
    choices, and an empty value is none of them. Installed once by `crm.apps`."""
    original = serializers.Field.get_value
    if getattr(original, "reads_empty_values", False):
        return

    def get_value(self, dictionary):
        if (
            isinstance(dictionary, QueryDict)
            and not isinstance(self, serializers.CharField)
            and dictionary.get(self.field_name, None) == ""
        ):
            return ""
        return original(self, dictionary)

    get_value.reads_empty_values = True
    serializers.Field.get_value = get_value


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
        if not _is_json_integer(data) and not (
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
