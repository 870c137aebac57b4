"""What the API takes from a request, as its OpenAPI schema says: hooks on DRF installed once by
`crm.apps`, each added when schemathesis found input the schema calls invalid accepted (ST201) or
an answer the schema does not allow.

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
- `refuse_empty_typed_parameters`: a typed query or multipart parameter sent empty is read as the
  empty value it is (and refused), not as "not given".
- `methods_before_permissions`: a method the endpoint lacks is a 405 before a permission answers 404.
- `refuse_unknown_query_parameters`: a query parameter the operation does not document, or one holding
  NUL, is a 400 naming it.
"""

from __future__ import annotations

import re
import threading

from django.db import models
from django.http import QueryDict
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

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


def is_json_integer(data) -> bool:
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
            is_json_integer(data) or (reads_strings(self) and isinstance(data, str) and INTEGER_TEXT.fullmatch(data))
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
        lambda self, data: is_json_integer(data) or reads_strings(self) or not _integer_pk(self),
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


# --- request shape ------------------------------------------------------------------------------


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
