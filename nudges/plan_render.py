"""A plan as the seed's markdown strategy file (`--markdown strategy.md`) and as plain JSON
(`--output results.json`), shared by the command line and the API's export."""

from __future__ import annotations

from nudges.models import Plan

HEADINGS = {
    "P0": "🎯 Priority 0 Actions (Execute Today)",
    "P1": "⚡ Priority 1 Actions (This Week)",
    "P2": "📅 Priority 2 Actions (Next Week)",
}


def plan_json(plan: Plan, *, cached: bool = False) -> dict:
    from nudges.plan_api import PlanSerializer

    return dict(PlanSerializer(plan, context={"cached": cached}).data)


def item_markdown(item) -> list[str]:
    lines = [f"### {item.get_channel_display()} - {item.title}", f"**Timing**: {item.timing}", ""]
    if item.contact_name:
        lines[1:1] = [f"**Contact**: {item.contact_name}"]
    if item.prerequisites:
        lines += ["**Prerequisites**:", *[f"{n}. {p}" for n, p in enumerate(item.prerequisites, 1)], ""]
    if item.content:
        lines += ["**Full Content**:", "", item.content_text(), ""]
    elif item.outline:
        lines += ["**Outline**:", *[f"- {p}" for p in item.outline], ""]
    if item.rationale:
        lines += [f"**Rationale**: {item.rationale}", ""]
    return lines


def plan_markdown(plan: Plan) -> str:
    s = plan.situation or {}
    items = plan.items_by_priority()
    lines = [
        f"# Sales Action Strategy - {plan.deal.name}",
        "",
        f"Recommendation: {plan.public_id} · generated {plan.generated_at:%Y-%m-%d %H:%M}"
        + (f" · company context {plan.context_version.version}" if plan.context_version else "")
        + (f" · campaign: {plan.campaign_context}" if plan.campaign_context else ""),
        "",
        "## 📊 Situation Analysis",
        f"- Engagement Level: {s.get('engagement_level', '')}",
        f"- Last Interaction: {s.get('last_interaction', '')}",
        f"- Key Themes: {', '.join(s.get('key_themes') or []) or 'none'}",
        "",
        s.get("analysis", ""),
        "",
    ]
    for priority, heading in HEADINGS.items():
        lines += [f"## {heading}", ""]
        for item in items.get(priority, []):
            lines += item_markdown(item)
    return "\n".join(lines).rstrip() + "\n"
