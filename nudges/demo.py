"""Demo nudges: a scan over the demo world (its stale deals with email threads), run in-process.

Idempotent: a rerun on the same day leaves the same nudges (unchanged inputs are not rewritten).
"""

from crm.models import Team
from nudges import services


def load() -> str:
    teams = list(Team.objects.filter(slug__in=["enterprise-sales", "midmarket-sales"]).values_list("id", flat=True))
    total = services.RefreshSummary()
    for chunk in services.chunked(services.candidate_deal_ids(team_ids=teams), 500):
        total.add(services.refresh_nudges(deal_ids=chunk))
    open_now = services.Nudge.objects.open().filter(team_id__in=teams).count()
    return f"Nudges: {open_now} open ({total.created} new, {total.updated} rewritten, {total.unchanged} unchanged)."
