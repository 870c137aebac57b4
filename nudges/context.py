"""The company context (seed 2's company-context.md), stored per team with versions.

The markdown format is the seed's, so a file exported here opens in the seed and the other way:

    # Company Context - Acme Sales

    Version: 1.0

    ## Company Overview
    ...
    ## Email Engagement Learnings
    - **2025-01-12**: Keep cold outreach under 150 words _(Context: P0 email action)_

Every change appends a `ContextVersion` (1.0, 1.1, ...) with who made it, its source and, for
learnings, the feedback behind it; a rollback appends a copy of an older version, so history is
never rewritten.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from crm.models import Team
from nudges.plan_errors import PlanError
from nudges.summary import digest

OVERVIEW = "Company Overview"
SECTIONS = (
    OVERVIEW,
    "Product/Service Details",
    "Target Audience",
    "Communication Guidelines",
    "Email Engagement Learnings",
    "Call Strategy Learnings",
    "LinkedIn Outreach Learnings",
    "WhatsApp Communication Learnings",
)
LEARNING_SECTIONS = {
    "email": "Email Engagement Learnings",
    "phone": "Call Strategy Learnings",
    "linkedin": "LinkedIn Outreach Learnings",
    "whatsapp": "WhatsApp Communication Learnings",
    "general": "Communication Guidelines",
}
DEFAULT_SECTIONS = {
    OVERVIEW: "We help our customers grow. Describe the company, its value proposition and what sets it apart.",
    "Product/Service Details": "List the products and services, their plans and what each solves.",
    "Target Audience": "Describe the ideal customer profile: industries, company sizes, roles who buy.",
    "Communication Guidelines": (
        "- Be concise, specific and helpful; one clear call to action per message.\n"
        "- Reference the customer's own words and the last interaction.\n"
        "- Never promise prices, discounts or dates that are not agreed."
    ),
    "Email Engagement Learnings": "",
    "Call Strategy Learnings": "",
    "LinkedIn Outreach Learnings": "",
    "WhatsApp Communication Learnings": "",
}
MAX_FILE_CHARS = 200_000

_TITLE = re.compile(r"^#\s+(?P<title>\S.*)$")
_VERSION = re.compile(r"^Version:\s*(?P<v>\S+)\s*$", re.IGNORECASE)
_SECTION = re.compile(r"^##\s+(?P<name>\S.*?)\s*$")
_LEARNING_LINE = re.compile(r"^-\s+(?:\*\*[^*]+\*\*:\s*)?(?P<text>.+?)(?:\s+_\(Context:[^)]*\)_)?\s*$")


@dataclass(frozen=True)
class ParsedContext:
    title: str
    version: str
    sections: dict[str, str]


def parse_markdown(text: str) -> ParsedContext:
    """The seed's file format; a file that does not fit raises PlanError naming the line."""
    if "\x00" in text:
        raise PlanError("line 1: the file is binary, not markdown", field="file")
    if len(text) > MAX_FILE_CHARS:
        raise PlanError(f"the file is larger than {MAX_FILE_CHARS:,} characters", field="file")
    lines = text.lstrip("\ufeff").splitlines()
    title = version = None
    current = None
    sections: dict[str, list[str]] = {}
    for n, raw in enumerate(lines, start=1):
        line = raw.rstrip()
        if current is None and not line.strip():
            continue
        if title is None:
            m = _TITLE.match(line)
            if not m or line.startswith("##"):
                raise PlanError(f"line {n}: expected the title line '# Company Context - ...'", field="file")
            title = m["title"].strip()
            continue
        m = _SECTION.match(line)
        if m:
            name = m["name"]
            if version is None:
                raise PlanError(f"line {n}: 'Version: X.Y' must come before the first section", field="file")
            if name in sections:
                raise PlanError(f"line {n}: section '{name}' appears twice", field="file")
            current = name
            sections[name] = []
            continue
        if current is None:
            m = _VERSION.match(line)
            if m and version is None:
                if not re.fullmatch(r"\d+\.\d+", m["v"]):
                    raise PlanError(f"line {n}: version '{m['v']}' is not of the form 1.0", field="file")
                version = m["v"]
                continue
            raise PlanError(f"line {n}: text outside a '## Section' (only 'Version: X.Y' may stand here)", field="file")
        sections[current].append(line)
    if title is None:
        raise PlanError("line 1: the file is empty", field="file")
    if version is None:
        raise PlanError(f"line {len(lines)}: no 'Version: X.Y' line", field="file")
    if not sections:
        raise PlanError(f"line {len(lines)}: no '## Section' at all", field="file")
    return ParsedContext(title, version, {k: "\n".join(v).strip() for k, v in sections.items()})


def render_markdown(*, title: str, version: str, sections: dict[str, str]) -> str:
    parts = [f"# {title}", "", f"Version: {version}", ""]
    for name in ordered(sections):
        parts += [f"## {name}", sections[name].strip(), ""]
    return "\n".join(p for p in parts if p is not None).rstrip() + "\n"


def ordered(sections: dict[str, str]) -> list[str]:
    """The seed's sections in its order, then any the team added."""
    return [s for s in SECTIONS if s in sections] + [s for s in sections if s not in SECTIONS]


def as_markdown(version) -> str:
    return render_markdown(title=version.title, version=version.version, sections=version.sections)


def learnings(sections: dict[str, str]) -> dict[str, list[str]]:
    """{channel: [learning text]} from the learnings sections (newest last), for the writers.
    Parsed once per distinct text (a bulk run asks for every deal of a team), handed out as copies."""
    parsed = _learnings(tuple(sections.get(name) or "" for name in LEARNING_SECTIONS.values()))
    return {channel: list(lines) for channel, lines in parsed.items()}


@functools.lru_cache(maxsize=64)
def _learnings(texts: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    out = {}
    for channel, text in zip(LEARNING_SECTIONS, texts, strict=True):
        lines = []
        for line in text.splitlines():
            m = _LEARNING_LINE.match(line.strip())
            if m and line.strip().startswith("-"):
                lines.append(m["text"].strip())
        out[channel] = tuple(lines)
    return out


_STOP = set("a an the to of for and or in on at with our your their be is are it its that this".split())


def _tokens(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP}


def duplicate_of(text: str, sections: dict[str, str]) -> str | None:
    """The line of the context that already says this (token overlap ≥ 60 %), or None."""
    new = _tokens(text)
    if not new:
        return None
    for body in sections.values():
        for line in body.splitlines():
            m = _LEARNING_LINE.match(line.strip())
            old = _tokens(m["text"] if m else line)
            if old and len(new & old) / len(new | old) >= 0.6:
                return line.strip()
    return None


def learning_line(text: str, *, priority: str, channel: str, today) -> str:
    return f"- **{today.isoformat()}**: {text.strip().rstrip('.')} _(Context: {priority} {channel} action)_"


def next_version(version: str) -> str:
    major, minor = version.split(".")
    return f"{major}.{int(minor) + 1}"


def content_hash(title: str, sections: dict[str, str]) -> str:
    return digest([title, sections])


def default_title(team: Team) -> str:
    return f"Company Context - {team.name}"


def current(team_id: int, *, actor=None):
    """The team's current version, initialised from the default template on first use."""
    from nudges.models import ContextVersion

    found = ContextVersion.objects.current_for(team_id)
    return found if found is not None else init_context(team_id=team_id, actor=actor)


@transaction.atomic
def init_context(*, team_id: int, actor=None, force: bool = False):
    """`context-init`: version 1.0 from the default template (or a new version with the
    default content when `force` and the team already has one)."""
    from nudges.models import ContextVersion

    team = Team.objects.select_for_update().get(pk=team_id)
    existing = ContextVersion.objects.current_for(team_id)
    if existing is not None and not force:
        return existing
    return _append(
        team=team, base=existing, title=default_title(team), sections=dict(DEFAULT_SECTIONS),
        source=ContextVersion.Source.INIT, actor=actor, note="Initialised from the default template",
    )  # fmt: skip


def _append(*, team, base, title, sections, source, actor, note, feedback=None, rolled_back_to=None, version=None):
    from nudges.models import ContextVersion

    return ContextVersion.objects.create(
        team=team,
        ordinal=0 if base is None else base.ordinal + 1,
        version=version or ("1.0" if base is None else next_version(base.version)),
        title=title,
        sections=sections,
        content_hash=content_hash(title, sections),
        source=source,
        note=note[:300],
        feedback=feedback,
        rolled_back_to=rolled_back_to,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )


@transaction.atomic
def save_sections(*, team_id: int, sections: dict[str, str], actor, source="edit", note="", feedback=None, title=None):
    """A new version with these sections; nothing is stored when nothing changed."""
    from nudges.models import ContextVersion

    team = Team.objects.select_for_update().get(pk=team_id)
    base = ContextVersion.objects.current_for(team_id)
    if base is None:
        base = init_context(team_id=team_id, actor=actor)
    merged = {**base.sections, **{k: v.strip() for k, v in sections.items()}}
    new_title = (title or base.title).strip()
    if content_hash(new_title, merged) == base.content_hash:
        return base
    changed = [k for k in ordered(merged) if merged.get(k) != base.sections.get(k)]
    return _append(
        team=team, base=base, title=new_title, sections=merged, source=source, actor=actor,
        note=note or ("Changed: " + ", ".join(changed) if changed else "Title changed"), feedback=feedback,
    )  # fmt: skip


def import_markdown(*, team_id: int, text: str, actor):
    """Replace the context with a file's content, as a new version. A file that does not parse
    raises PlanError with the line and the reason; the stored version is unchanged."""
    parsed = parse_markdown(text)
    return save_sections(
        team_id=team_id, sections=parsed.sections, actor=actor, source="import", title=parsed.title,
        note=f"Imported a file (its version {parsed.version})",
    )  # fmt: skip


@transaction.atomic
def rollback(*, team_id: int, to_ordinal: int, actor):
    from nudges.models import ContextVersion

    team = Team.objects.select_for_update().get(pk=team_id)
    target = ContextVersion.objects.filter(team_id=team_id, ordinal=to_ordinal).first()
    if target is None:
        raise PlanError(f"version #{to_ordinal} does not exist for this team", field="version", code="not_found")
    base = ContextVersion.objects.current_for(team_id)
    if base.pk == target.pk:
        raise PlanError(f"version {target.version} is already the current one", field="version")
    return _append(
        team=team, base=base, title=target.title, sections=dict(target.sections), source=ContextVersion.Source.ROLLBACK,
        actor=actor, note=f"Rolled back to {target.version}", rolled_back_to=target,
    )  # fmt: skip


def with_learning(sections: dict[str, str], section: str, line: str) -> dict[str, str]:
    body = (sections.get(section) or "").strip()
    return {**sections, section: f"{body}\n{line}".strip()}


_VARIABLE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


def template_problems(body: str) -> list[str]:
    """Why a prompt template cannot be used ([] when it can)."""
    from nudges.plan_prompts import OPTIONAL_VARIABLES, REQUIRED_VARIABLES

    problems = []
    if not body.strip():
        return ["the template is empty"]
    found = set(_VARIABLE.findall(body))
    for name in REQUIRED_VARIABLES:
        if name not in found:
            problems.append(f"missing the required placeholder {{{{{name}}}}}")
    known = set(REQUIRED_VARIABLES) | set(OPTIONAL_VARIABLES)
    for name in sorted(found - known):
        problems.append(
            f"unknown placeholder {{{{{name}}}}} (known: " + ", ".join(f"{{{{{k}}}}}" for k in sorted(known)) + ")"
        )
    return problems


def render_template(body: str, values: dict[str, str]) -> str:
    return _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), body)


def today_text(now=None) -> str:
    now = timezone.localtime(now or timezone.now())
    return f"{now.strftime('%A')} {now.day} {now.strftime('%B %Y')}"
