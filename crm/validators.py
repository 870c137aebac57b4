"""What the database can store and read back, checked once for every boundary.

Imports (`crm/imports.py`), serializers (the mixins at the end) and console forms call these
before a value reaches a column, so a refusal names the field or the row instead of surfacing as a
500, or worse, as a stored row that breaks every later read (PostgreSQL keeps a year-10000
timestamp that Python cannot load).

Each validator returns the cleaned value or raises `crm.errors.ServiceError` naming `field`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from rest_framework import serializers

from crm.errors import ServiceError

# NUL: PostgreSQL text and jsonb refuse it. Lone surrogates: not encodable as UTF-8, so psycopg
# fails before the row is sent. Everything else PostgreSQL's UTF8 encoding takes.
_REFUSED_CHARS = re.compile("[\x00\ud800-\udfff]")

YEAR_MIN, YEAR_MAX = 1900, 9999
# A stored instant is shown in local time (up to 14 hours either side of UTC): a day of margin at
# each end keeps every time zone's rendering inside Python's datetime range.
_DISPLAY_MARGIN = timedelta(days=1)
EARLIEST = datetime(YEAR_MIN, 1, 1, tzinfo=UTC) + _DISPLAY_MARGIN
LATEST = datetime(YEAR_MAX, 12, 31, 23, 59, 59, 999999, tzinfo=UTC) - _DISPLAY_MARGIN

# Python's json parser recurses once per nesting level and stops near 1,000 levels; our own data is
# never deeper than a handful, so 32 leaves room for integrators while refusing abuse long before.
JSON_MAX_DEPTH = 32


# Primary keys are bigints: a longer digit string overflows the database's integer (a 500).
_MAX_ID = 2**63 - 1


def parse_id(value) -> int | None:
    """A primary key from user input (URL, form, query string), or None if it cannot be one."""
    text = str(value or "").strip()
    if not (text.isascii() and text.isdigit()) or int(text) > _MAX_ID:
        return None
    return int(text)


def _describe(ch: str) -> str:
    return "NUL" if ch == "\x00" else f"U+{ord(ch):04X}"


def clean_text(value, *, max_length: int | None = None, field: str | None = None, label: str | None = None) -> str:
    """A string PostgreSQL text accepts, at most `max_length` characters."""
    name = label or field or "the value"
    if not isinstance(value, str):
        raise ServiceError(f"{name} must be text.", field=field)
    bad = _REFUSED_CHARS.search(value)
    if bad:
        raise ServiceError(
            f"{name} contains a character that cannot be stored ({_describe(bad.group())} at position {bad.start() + 1}).",
            field=field,
        )
    if max_length is not None and len(value) > max_length:
        raise ServiceError(f"{name} is {len(value)} characters long; at most {max_length} fit.", field=field)
    return value


def bounded_datetime(value: datetime, *, field: str | None = None, label: str | None = None) -> datetime:
    """An aware datetime (naive means UTC) whose year stays within 1900-9999 in every time zone."""
    name = label or field or "the date"
    if not isinstance(value, datetime):
        raise ServiceError(f"{name} must be a date and time.", field=field)
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=UTC)
    try:
        in_utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        in_utc = None  # 9999-12-31T23:59:59-05:00 is year 10000 in UTC: Python cannot even hold it
    if in_utc is None or not EARLIEST <= in_utc <= LATEST:
        raise ServiceError(f"{name} {value.isoformat()} is outside the years {YEAR_MIN}-{YEAR_MAX}.", field=field)
    return in_utc


def bounded_decimal(
    value,
    *,
    max_digits: int,
    decimal_places: int,
    field: str | None = None,
    label: str | None = None,
    minimum: Decimal | None = None,
) -> Decimal:
    """A finite decimal, rounded to `decimal_places`, that fits a NUMERIC(max_digits, decimal_places)."""
    name = label or field or "the amount"
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ServiceError(f"{name} {str(value)[:40]!r} is not a number.", field=field) from None
    if not number.is_finite():
        raise ServiceError(f"{name} must be a finite number.", field=field)
    limit = Decimal(10) ** (max_digits - decimal_places)
    if abs(number) >= limit:
        raise ServiceError(f"{name} {str(value)[:40]} is too large (below {limit:,} fits).", field=field)
    number = number.quantize(Decimal(1).scaleb(-decimal_places))
    if abs(number) >= limit:  # rounding 999.995 up can spill over
        raise ServiceError(f"{name} {str(value)[:40]} is too large (below {limit:,} fits).", field=field)
    if minimum is not None and number < minimum:
        raise ServiceError(f"{name} cannot be below {minimum}.", field=field)
    return number


def decimal_for(model_field: models.DecimalField, value, *, field: str | None = None, **kwargs) -> Decimal:
    """`bounded_decimal` sized from a model's DecimalField."""
    return bounded_decimal(
        value,
        max_digits=model_field.max_digits,
        decimal_places=model_field.decimal_places,
        field=field or model_field.name,
        **kwargs,
    )


def json_value_span(text: str, start: int = 0, *, whole: bool = False) -> tuple[int, int]:
    """(end, deepest nesting) of the JSON value at `start`, found without parsing (strings skipped).

    Python's parser recurses once per level and dies near 1,000 levels (RecursionError); scanning
    first lets a too-deep value be refused before any parser sees it. `whole`: scan to the end of
    the text instead of stopping where the value closes; end is -1 when it never closes.
    """
    depth = deepest = 0
    in_string = escaped = False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
            if depth == 0 and not whole:
                return i + 1, deepest
    return -1, deepest


def json_text_depth(text: str) -> int:
    """Deepest nesting of [ and { in JSON text, without parsing it."""
    return json_value_span(text, whole=True)[1]


def check_json_text(text: str, *, max_depth: int = JSON_MAX_DEPTH, field: str | None = None) -> str:
    """Refuse JSON text nested deeper than `max_depth` before a parser recurses into it."""
    deepest = json_text_depth(text)
    if deepest > max_depth:
        raise ServiceError(f"JSON nested {deepest} levels deep; at most {max_depth} are accepted.", field=field)
    return text


def clean_json(value, *, max_depth: int = JSON_MAX_DEPTH, field: str | None = None):
    """A parsed JSON value jsonb stores: bounded depth, keys and strings without NUL or surrogates."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > max_depth:
                raise ServiceError(f"JSON nested deeper than {max_depth} levels.", field=field)
            children = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in children:
                if isinstance(key, str):
                    clean_text(key, field=field, label="a JSON key")
                stack.append((child, depth + 1))
        elif isinstance(item, str):
            clean_text(item, field=field, label="a JSON string")
        elif isinstance(item, float) and (item != item or item in (float("inf"), float("-inf"))):
            raise ServiceError("JSON numbers must be finite.", field=field)
    return value


# --- DRF: the same checks at every API boundary ----------------------------------------------------


def _drf(check):
    """Adapt a validator to DRF: its ServiceError becomes a field ValidationError."""

    def validator(value):
        try:
            check(value)
        except ServiceError as exc:
            raise serializers.ValidationError(exc.message) from None

    return validator


def validators_for(field: serializers.Field) -> list:
    """The storage checks a DRF field needs, from its type and size."""
    if isinstance(field, serializers.CharField):  # EmailField, SlugField, URLField... included
        max_length = getattr(field, "max_length", None)
        return [_drf(lambda v, m=max_length: clean_text(v, max_length=m, label="This field"))]
    if isinstance(field, serializers.DateTimeField):
        return [_drf(lambda v: bounded_datetime(v, label="This date"))]
    if isinstance(field, serializers.DecimalField) and field.max_digits is not None:
        places = field.decimal_places or 0
        return [_drf(lambda v, d=field.max_digits, p=places: bounded_decimal(v, max_digits=d, decimal_places=p))]
    if isinstance(field, serializers.JSONField):
        return [_drf(clean_json)]
    return []


class StorageSafeSerializerMixin:
    """Adds the storage checks to every writable field of a serializer (put it first in the bases).

    DRF alone lets through NUL characters, lone surrogates, nested JSON of any depth and dates that
    turn into year 10000 once stored; each would be a 500 at save time or on a later read.
    """

    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            if field.read_only:
                continue
            field.validators = [*field.validators, *validators_for(field)]
            child = getattr(field, "child", None)  # ListField / DictField items
            if isinstance(child, serializers.Field) and not isinstance(child, serializers.BaseSerializer):
                child.validators = [*child.validators, *validators_for(child)]
        return fields


def as_django_validator(check):
    """Adapt a validator to Django forms and model fields."""

    def validator(value):
        try:
            check(value)
        except ServiceError as exc:
            raise DjangoValidationError(exc.message) from None

    return validator
