"""Checks shared by every AI feature (first cut; issue 3 completes them)."""

import re

_INJECTION = re.compile(
    r"ignore (all |any )?(previous|prior|above) (instructions|prompts?)|disregard (the )?(system|previous)|"
    r"you are now|system prompt|act as (an? )?(admin|developer)",
    re.IGNORECASE,
)


def looks_like_injection(text: str) -> bool:
    """True when customer text tries to instruct the model; the item goes to human review."""
    return bool(_INJECTION.search(text or ""))
