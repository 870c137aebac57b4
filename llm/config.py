"""Parsing of the LLM_* settings (pure; imported by config/settings.py, so no Django models here).

Every parser raises ImproperlyConfigured naming the variable, so a bad value stops the process at
start with a message an operator can act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ImproperlyConfigured

PROVIDERS = ("offline", "anthropic", "openai-compatible", "bedrock")
DEFAULT_ANTHROPIC_MODEL = "claude-sonnet-4-6"
# A Bedrock model id (or an inference profile id such as "eu.anthropic.claude-sonnet-4-5-...").
DEFAULT_BEDROCK_MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"


@dataclass(frozen=True)
class Budget:
    """A daily allowance for one feature: tokens (input + output + cache) or US dollars."""

    feature: str
    limit: Decimal
    unit: str  # "tok" or "usd"

    def describe(self, used: Decimal) -> str:
        if self.unit == "usd":
            return f"${used:.2f} of ${self.limit:.2f}"
        return f"{int(used):,} of {int(self.limit):,} tokens"


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens."""

    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal


def _pairs(name: str, raw: str) -> list[tuple[str, str]]:
    pairs = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ImproperlyConfigured(f"{name}: expected name=value items separated by commas, got {item!r}")
        pairs.append((key.strip(), value.strip()))
    return pairs


_BUDGET = re.compile(r"^\$?(?P<num>\d+(?:\.\d+)?)\s*(?P<mult>[km]?)\s*(?P<unit>tok|tokens|usd|\$)?$", re.IGNORECASE)


def parse_budgets(raw: str, *, name: str = "LLM_BUDGETS") -> dict[str, Budget]:
    """ "tickets.draft=200000tok,nudges.nudge=5usd,*=2mtok" -> {feature: Budget}. "*" is the default."""
    budgets = {}
    for feature, value in _pairs(name, raw):
        match = _BUDGET.match(value.replace(",", "").replace("_", ""))
        if not match:
            raise ImproperlyConfigured(f"{name}: {feature}={value!r} must look like 200000tok, 2mtok or 5usd")
        number = Decimal(match["num"])
        unit = "usd" if (match["unit"] or "").lower() in ("usd", "$") or value.startswith("$") else "tok"
        if unit == "tok":
            number *= {"": 1, "k": 1000, "m": 1_000_000}[match["mult"].lower()]
        elif match["mult"]:
            raise ImproperlyConfigured(f"{name}: {feature}={value!r}: k/m multipliers apply to tokens only")
        if not match["unit"] and not value.startswith("$"):
            raise ImproperlyConfigured(f"{name}: {feature}={value!r} needs a unit: tok or usd")
        budgets[feature] = Budget(feature=feature, limit=number, unit=unit)
    return budgets


# Published list prices, USD per million tokens (input / output / cache read / cache write).
# Families cover dated and future point releases; LLM_PRICES overrides or adds entries.
DEFAULT_PRICES: dict[str, Price] = {
    "claude-opus-4-0": Price(Decimal("15"), Decimal("75"), Decimal("1.50"), Decimal("18.75")),
    "claude-opus-4-1": Price(Decimal("15"), Decimal("75"), Decimal("1.50"), Decimal("18.75")),
    "claude-opus": Price(Decimal("5"), Decimal("25"), Decimal("0.50"), Decimal("6.25")),
    "claude-sonnet": Price(Decimal("3"), Decimal("15"), Decimal("0.30"), Decimal("3.75")),
    "claude-haiku": Price(Decimal("1"), Decimal("5"), Decimal("0.10"), Decimal("1.25")),
    "offline": Price(Decimal("0"), Decimal("0"), Decimal("0"), Decimal("0")),
}


def parse_prices(raw: str, *, name: str = "LLM_PRICES") -> dict[str, Price]:
    """ "my-model=0.5/1.5,claude-haiku=1/5/0.1/1.25" merged over DEFAULT_PRICES.

    Fields are input/output[/cache read[/cache write]] in USD per million tokens; cache read defaults
    to 10% of input and cache write to 125% of input (Anthropic's ratios).
    """
    prices = dict(DEFAULT_PRICES)
    for model, value in _pairs(name, raw):
        try:
            fields = [Decimal(f) for f in value.split("/")]
        except InvalidOperation:
            raise ImproperlyConfigured(f"{name}: {model}={value!r} must be numbers separated by /") from None
        if not 2 <= len(fields) <= 4 or any(f < 0 for f in fields):
            raise ImproperlyConfigured(f"{name}: {model}={value!r} needs input/output[/cache_read[/cache_write]]")
        inp, out = fields[0], fields[1]
        cache_read = fields[2] if len(fields) > 2 else inp / 10
        cache_write = fields[3] if len(fields) > 3 else inp * Decimal("1.25")
        prices[model] = Price(inp, out, cache_read, cache_write)
    return prices


def price_for(model: str, prices: dict[str, Price]) -> Price | None:
    """Exact model name first, then the longest family prefix ("claude-sonnet-4-6" -> "claude-sonnet").
    Bedrock ids ("eu.anthropic.claude-sonnet-4-5-20250929-v1:0") are priced by their Claude name."""
    if model not in prices and "anthropic." in model:
        model = model.split("anthropic.", 1)[1]
    if model in prices:
        return prices[model]
    best = max((key for key in prices if model.startswith(key)), key=len, default=None)
    return prices[best] if best else None


def parse_feature_map(raw: str, *, name: str) -> dict[str, str]:
    return dict(_pairs(name, raw))


def parse_ttls(raw: str, *, name: str = "LLM_CACHE_TTLS") -> dict[str, int]:
    ttls = {}
    for feature, value in _pairs(name, raw):
        if not value.isdigit():
            raise ImproperlyConfigured(f"{name}: {feature}={value!r} must be whole seconds")
        ttls[feature] = int(value)
    return ttls


def default_model(provider: str) -> str:
    return {"anthropic": DEFAULT_ANTHROPIC_MODEL, "bedrock": DEFAULT_BEDROCK_MODEL}.get(provider, "")


def profile_region(profile: str) -> str:
    """The region an AWS profile's config names ("" if none), read by boto3 as the SDK would."""
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        return boto3.Session(profile_name=profile).region_name or ""
    except ProfileNotFound:
        raise ImproperlyConfigured(f"AWS_PROFILE={profile!r} is not in the AWS config or credentials files") from None


def check_provider(*, provider: str, anthropic_key: str, base_url: str, model: str, aws_region: str = "") -> None:
    if provider == "anthropic" and not anthropic_key:
        raise ImproperlyConfigured("LLM_PROVIDER=anthropic needs ANTHROPIC_API_KEY")
    if provider == "bedrock" and not aws_region:
        raise ImproperlyConfigured(
            "LLM_PROVIDER=bedrock needs an AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or "
            "LLM_BEDROCK_REGION, or an AWS_PROFILE whose config names a region)"
        )
    if provider == "openai-compatible":
        if not base_url.startswith(("http://", "https://")):
            raise ImproperlyConfigured("LLM_PROVIDER=openai-compatible needs LLM_BASE_URL (http:// or https://)")
        if not model:
            raise ImproperlyConfigured("LLM_PROVIDER=openai-compatible needs LLM_MODEL (the served model's name)")


def check_timeouts(*, timeout: float, deadline: float, soft_limit: int) -> None:
    if timeout <= 0:
        raise ImproperlyConfigured("LLM_TIMEOUT_SECONDS must be positive")
    if deadline < timeout:
        raise ImproperlyConfigured("LLM_DEADLINE_SECONDS must be at least LLM_TIMEOUT_SECONDS")
    if deadline >= soft_limit:
        raise ImproperlyConfigured(
            f"LLM_DEADLINE_SECONDS ({deadline:g}) must be below CELERY_TASK_SOFT_TIME_LIMIT ({soft_limit}): "
            "a model call with its retries has to finish before Celery interrupts the task"
        )
