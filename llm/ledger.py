"""The usage ledger (one `LLMCall` row per call) and the daily budgets read from it.

The ledger insert runs on every call, so it is written once as SQL from the model's own field
definitions (see `_insert_call`)."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from llm.config import price_for
from llm.models import LLMCall, Outcome
from llm.prepared import LLMResult, Prepared

log = logging.getLogger(__name__)


def budget_status(feature: str, now=None) -> tuple[Any, Decimal] | None:
    """(Budget, used today) for a feature with a budget, else None."""
    budget = settings.LLM_BUDGETS.get(feature) or settings.LLM_BUDGETS.get("*")
    if budget is None:
        return None
    now = now or timezone.now()
    start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = LLMCall.objects.filter(feature=feature, created_at__gte=start, cache_hit=False)
    if budget.unit == "usd":
        used = rows.aggregate(v=Sum("cost_usd"))["v"] or Decimal("0")
    else:
        used = rows.aggregate(
            v=Sum(F("input_tokens") + F("output_tokens") + F("cache_read_tokens") + F("cache_write_tokens"))
        )["v"] or Decimal("0")
    return budget, Decimal(used)


def budget_block(feature: str) -> str:
    status = budget_status(feature)
    if status is None:
        return ""
    budget, used = status
    if used < budget.limit:
        return ""
    return f"daily AI budget for {feature} used up ({budget.describe(used)} today); resets at midnight"


def estimate_cost(model: str, result: LLMResult, *, batched: bool = False) -> Decimal:
    price = price_for(model, settings.LLM_PRICES)
    if price is None:
        return Decimal("0")
    cost = (
        result.input_tokens * price.input
        + result.output_tokens * price.output
        + result.cache_read_tokens * price.cache_read
        + result.cache_write_tokens * price.cache_write
    ) / Decimal(1_000_000)
    if batched:
        cost /= 2  # Message Batches are billed at half price
    return cost.quantize(Decimal("0.000001"))


def about_fields(about) -> dict:
    if about is None or getattr(about, "pk", None) is None:
        return {}
    return {"content_type": ContentType.objects.get_for_model(about), "object_id": str(about.pk)}


def _ledger_row(prep: Prepared, result: LLMResult, outcome: str, error_kind: str, *, batched=False) -> LLMCall:
    # A fallback row names the configured model (whose tokens, if any, were spent), not "offline".
    model = prep.model if result.offline else result.model
    if not result.cached and (result.input_tokens or result.output_tokens):
        result.cost_usd = estimate_cost(model, result, batched=batched)
    return LLMCall(
        feature=prep.feature,
        provider=prep.provider.name,
        model=model,
        outcome=outcome,
        cache_hit=result.cached,
        batched=batched,
        input_tokens=0 if result.cached else result.input_tokens,
        output_tokens=0 if result.cached else result.output_tokens,
        cache_read_tokens=0 if result.cached else result.cache_read_tokens,
        cache_write_tokens=0 if result.cached else result.cache_write_tokens,
        cost_usd=Decimal("0") if result.cached else result.cost_usd,
        latency_ms=round(result.latency_ms, 3),
        attempts=result.attempts,
        error_kind=error_kind,
        fallback_reason=result.fallback_reason[:300],
        flags=result.flags,
        trimmed_chars=prep.trimmed_chars,
        cache_key=prep.key,
        scope=prep.scope,
        **about_fields(prep.about),
    )


def record(prep, result, outcome, error_kind="", *, batched=False) -> LLMResult:
    result.call_id = _insert_call(_ledger_row(prep, result, outcome, error_kind, batched=batched))
    return result


# The two statements every call runs (ledger insert, cache lookup) are written once as SQL from
# the models' own field definitions: compiling them through the ORM cost more than the rest of a
# cached call put together (bench/llm_gateway). Values still go through each field's own
# get_db_prep_save / from_db_value, so types and JSON handling match the ORM exactly.
def _insert_call(row: LLMCall) -> int:
    from django.db import connection

    fields = [f for f in LLMCall._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    sql = f"INSERT INTO {quote(LLMCall._meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608 - names from the model
    returning = connection.features.can_return_columns_from_insert
    if returning:
        sql += f" RETURNING {quote(LLMCall._meta.pk.column)}"
    values = [f.get_db_prep_save(f.pre_save(row, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row.pk = cursor.fetchone()[0] if returning else cursor.lastrowid
    return row.pk


def insert_offline_rows(feature: str, rows: list[tuple]) -> None:
    from django.db import connection

    fields = {f.attname: f for f in LLMCall._meta.concrete_fields if f.attname != "id"}
    constant = LLMCall(feature=feature, provider="offline", model="offline", outcome=Outcome.OFFLINE)
    constant.created_at = timezone.now()
    varying = ("latency_ms", "flags", "content_type_id", "object_id", "scope")
    fixed = [name for name in fields if name not in varying]
    prepared = [fields[name].get_db_prep_save(getattr(constant, name), connection) for name in fixed]
    flags_field = fields["flags"]
    no_flags = flags_field.get_db_prep_save([], connection)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(fields[name].column) for name in (*fixed, *varying))
    one_row = "(" + ", ".join(["%s"] * (len(fixed) + len(varying))) + ")"
    table = quote(LLMCall._meta.db_table)
    if connection.vendor == "postgresql":
        # COPY: a 400-row VALUES statement costs psycopg more to parse than the rows cost to store.
        plain = [getattr(constant, name) for name in fixed]
        with transaction.atomic(), connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for latency, flags, ct, oid, scope in rows:
                    copy.write_row((*plain, latency, json.dumps(flags), ct, oid, scope))
        return
    chunk = 400  # 400 rows x 23 columns stays under SQLite's 32,766 bound parameters
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            params = []
            for latency, flags, ct, oid, scope in part:
                params += prepared
                params += (
                    latency,
                    flags_field.get_db_prep_save(flags, connection) if flags else no_flags,
                    ct,
                    oid,
                    scope,
                )
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {', '.join([one_row] * len(part))}",  # noqa: S608 - names from the model
                params,
            )
