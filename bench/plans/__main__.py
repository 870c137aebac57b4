"""Action plans benchmark on PostgreSQL, each figure against the naive approach in the same run.

    .venv/bin/python -m bench.plans
    BENCH_DEALS=100000 BENCH_MESSAGES=1000000 BENCH_BULK=10000 .venv/bin/python -m bench.plans
    BENCH_REUSE=1 ...   # keep the data loaded by the previous run

Uses DATABASE_URL (default postgres://postgres@127.0.0.1:5432/h8_bench_plans; the name must contain
"bench"; it is created and migrated when missing). Data: bench/nudges/data.py (one account, contact
and email thread per deal). Measures:
  1. one offline plan end to end (deal data, summary, cache check, generation, store), p50/p95 over
     BENCH_SAMPLES deals, each with a new campaign context so the cache misses; the naive approach
     on the same deals: the deal's records fetched one by one through lazy relations, no summary
     cache, no plan cache, items saved one at a time;
  2. a cached plan: the same requests again (a hit), p50/p95;
  3. BENCH_BULK deals in one bulk run with the offline writer (`plan_bulk.plan_many`), deals/s,
     against the single path called in a loop (on BENCH_NAIVE_BULK deals, rate extrapolated);
  4. a bulk run of BENCH_MODEL_BULK deals through the gateway's bulk entry with a fake model
     provider (synchronous: the fake has no Batches API): model calls on the first run, and on a rerun after BENCH_CHANGED_SHARE of the deals got a new email (the
     five-input cache saves the rest).
The load average is printed with each figure (the machine is shared).
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from pathlib import Path

DEALS = int(os.environ.get("BENCH_DEALS", "100000"))
MESSAGES = int(os.environ.get("BENCH_MESSAGES", "1000000"))
BULK = int(os.environ.get("BENCH_BULK", "10000"))
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "200"))
NAIVE_BULK = int(os.environ.get("BENCH_NAIVE_BULK", "500"))
MODEL_BULK = int(os.environ.get("BENCH_MODEL_BULK", "2000"))
CHANGED_SHARE = float(os.environ.get("BENCH_CHANGED_SHARE", "0.1"))
REUSE = os.environ.get("BENCH_REUSE") == "1"
OUT = Path(os.environ.get("BENCH_DIR", tempfile.gettempdir())) / "h8_bench_plans"

from bench.common import setup_django  # noqa: E402

setup_django("postgres://postgres@127.0.0.1:5432/h8_bench_plans")

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.nudges import data  # noqa: E402
from crm.models import Activity, Contact, Deal  # noqa: E402
from llm import use_provider  # noqa: E402
from llm.testing import FakeProvider, reply  # noqa: E402
from nudges import plan_bulk, plan_writer, plans, summary  # noqa: E402
from nudges.models import DealSummary, Plan, PlanFeedback, PlanItem  # noqa: E402


def load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def fmt(name: str, times: list[float]) -> str:
    return f"{name}: p50 {statistics.median(times):.1f} ms, p95 {pct(times, 0.95):.1f} ms (n={len(times)}) [{load()}]"


def naive_plan(deal_id: int, campaign: str) -> Plan:
    """A plan built by querying the deal's records one by one, with no cache at any level."""
    deal = Deal.objects.get(pk=deal_id)
    account, stage, owner, primary = deal.account, deal.stage, deal.owner, deal.primary_contact  # lazy loads
    deal.account, deal.stage, deal.owner, deal.primary_contact = account, stage, owner, primary
    contacts = []
    for pk in Contact.objects.filter(account_id=deal.account_id).order_by("pk").values_list("pk", flat=True):
        c = Contact.objects.get(pk=pk)
        contacts.append({f: getattr(c, f if f != "pk" else "pk") for f in summary.CONTACT_FIELDS})
    rows = []
    for pk in (
        Activity.objects.filter(deal_id=deal_id).order_by("-occurred_at", "-pk").values_list("pk", flat=True)[:30]
    ):
        a = Activity.objects.get(pk=pk)
        rows.append({f: getattr(a, f) for f in summary.ACTIVITY_FIELDS})
    d = summary.assemble(deal, contacts, rows)
    now = timezone.now()
    summ = summary.summarize(d, now)
    version = plans.context.current(deal.team_id)
    inputs = plans.build_inputs(d, summ, sections=version.sections, campaign=campaign, now=now)
    written = plan_writer.write_plan(inputs)
    plan = Plan.objects.create(
        team_id=deal.team_id, deal=deal, campaign_context=campaign, cache_key="naive", deal_hash="", summary_hash="",
        prompt_hash="", context_hash="", campaign_hash="", situation=written["situation"], summary=summ,
        expires_at=now, in_cache=False,
    )  # fmt: skip
    for item in plans.plan_items(plan, written["actions"]):
        item.save()
    return plan


def model_plan_reply() -> dict:
    return {
        "situation": {"engagement_level": "low", "last_interaction": "email", "key_themes": [], "analysis": "Quiet."},
        "actions": [
            {"priority": "P0", "channel": "email", "action_type": "follow_up", "title": "Follow up", "contact": "",
             "timing": "Today 10:00–14:00", "prerequisites": ["Re-read the thread"], "rationale": "Quiet",
             "content": {"subject": "Following up", "body": "Hello, following up on our last exchange."}},
            {"priority": "P1", "channel": "email", "action_type": "share_content", "title": "Share", "contact": "",
             "timing": "This week", "prerequisites": [], "rationale": "Value", "outline": ["Send a resource"]},
            {"priority": "P1", "channel": "linkedin", "action_type": "meeting", "title": "Call", "contact": "",
             "timing": "This week", "prerequisites": [], "rationale": "Live", "outline": ["Propose a call"]},
            {"priority": "P2", "channel": "email", "action_type": "check_in", "title": "Check in", "contact": "",
             "timing": "Next week", "prerequisites": [], "rationale": "Warm", "outline": ["Check in"]},
        ],
    }  # fmt: skip


def clear_plans() -> None:
    with connection.cursor() as cur:
        cur.execute(
            "TRUNCATE nudges_planitem, nudges_planfeedback, nudges_learning, nudges_plan, nudges_dealsummary, "
            "llm_cachedreply, llm_llmcall RESTART IDENTITY CASCADE"
        )


def main() -> None:
    call_command("migrate", verbosity=0)
    if not REUSE or not Deal.objects.exists():
        t0 = time.perf_counter()
        info = data.generate(deals=DEALS, messages=MESSAGES, now=data.utc_now(), out_dir=OUT)
        print(f"loaded {info['deals']:,} deals and {info['messages']:,} activities in {time.perf_counter() - t0:.0f} s")
    clear_plans()
    print(f"deals {Deal.objects.count():,}, activities {Activity.objects.count():,} [{load()}]")
    rng = random.Random(8)
    max_id = Deal.objects.order_by("-pk").values_list("pk", flat=True).first()
    sample = rng.sample(range(1, max_id + 1), SAMPLES)
    deals = {d.pk: d for d in Deal.objects.filter(pk__in=sample).select_related(*plans.DEAL_RELATED)}

    # 1. one plan end to end, cache miss (new campaign context per request)
    fresh, naive = [], []
    for i, pk in enumerate(sample):
        t0 = time.perf_counter()
        plans.plan_for_deal(deal=plans.resolve_deal(pk), campaign_context=f"bench {i}")
        fresh.append((time.perf_counter() - t0) * 1000)
    for i, pk in enumerate(sample):
        t0 = time.perf_counter()
        naive_plan(pk, f"naive {i}")
        naive.append((time.perf_counter() - t0) * 1000)
    print(fmt("1. offline plan end to end (resolve, data, summary, cache check, write, store)", fresh))
    print(fmt("   naive: records one by one, no cache", naive))

    # 2. the same requests again: served from the cache
    cached = []
    for i, pk in enumerate(sample):
        t0 = time.perf_counter()
        _, hit = plans.plan_for_deal(deal=plans.resolve_deal(pk), campaign_context=f"bench {i}")
        cached.append((time.perf_counter() - t0) * 1000)
        assert hit
    print(fmt("2. cached plan (same five inputs)", cached))
    del deals

    # 3. bulk, offline writer
    clear_plans()
    ids = sorted(rng.sample(range(1, max_id + 1), BULK))
    t0 = time.perf_counter()
    stats = plan_bulk.plan_many(deal_ids=ids, campaign_context="bulk")
    bulk_s = time.perf_counter() - t0
    print(f"3. bulk offline: {stats.written:,} plans in {bulk_s:.1f} s = {BULK / bulk_s:,.0f} deals/s "
          f"({PlanItem.objects.count():,} items) [{load()}]")  # fmt: skip
    t0 = time.perf_counter()
    again = plan_bulk.plan_many(deal_ids=ids, campaign_context="bulk")
    rerun_s = time.perf_counter() - t0
    print(
        f"   rerun, nothing changed: {again.cached:,} cached, {again.written} written in {rerun_s:.1f} s = {BULK / rerun_s:,.0f} deals/s"
    )
    t0 = time.perf_counter()
    for pk in ids[:NAIVE_BULK]:
        plans.plan_for_deal(deal=plans.resolve_deal(pk), campaign_context="naive bulk")
    loop_s = time.perf_counter() - t0
    print(
        f"   naive: the single path in a loop, {NAIVE_BULK} deals in {loop_s:.1f} s = {NAIVE_BULK / loop_s:,.0f} deals/s [{load()}]"
    )

    # 4. bulk through the gateway with a fake model provider
    clear_plans()
    ids = ids[:MODEL_BULK]
    fake = FakeProvider([reply(data=model_plan_reply(), input_tokens=2500, output_tokens=900)])
    with use_provider(fake):
        t0 = time.perf_counter()
        first = plan_bulk.plan_many(deal_ids=ids, campaign_context="model")
        first_s = time.perf_counter() - t0
        calls_first = len(fake.requests)
        changed = ids[:: max(1, round(1 / CHANGED_SHARE))]
        Activity.objects.bulk_create(
            [
                Activity(
                    account_id=a,
                    deal_id=d,
                    contact_id=c,
                    kind="email",
                    direction="in",
                    body="Any news on pricing?",
                    occurred_at=timezone.now(),
                )  # fmt: skip
                for d, a, c in Deal.objects.filter(pk__in=changed).values_list("pk", "account_id", "primary_contact_id")
            ]
        )
        t0 = time.perf_counter()
        second = plan_bulk.plan_many(deal_ids=ids, campaign_context="model")
        second_s = time.perf_counter() - t0
        calls_second = len(fake.requests) - calls_first
    print(f"4. bulk through ask_many with a fake provider: run 1 {first.written:,} plans, {calls_first:,} model calls "
          f"in {first_s:.1f} s = {len(ids) / first_s:,.0f} deals/s")  # fmt: skip
    print(f"   run 2 after {len(changed):,} deals got a new email: {second.written:,} regenerated, {second.cached:,} "
          f"from the five-input cache, {calls_second:,} model calls ({len(ids) - calls_second:,} saved) in {second_s:.1f} s [{load()}]")  # fmt: skip
    Activity.objects.filter(body="Any news on pricing?").delete()
    print(
        f"   summaries stored: {DealSummary.objects.count():,}; feedback rows untouched: {PlanFeedback.objects.count()}"
    )


if __name__ == "__main__":
    main()
