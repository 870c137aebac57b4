"""Evaluation suite of the customer analysis and its draft (`notifications.analysis`): each case is
one customer of the shipped sample files, with the exact inputs a run sends, through
notifications/ai.py (analysis, then the message from it). Dataset and thresholds in
notifications/evals/; figures in docs/evaluation.md.

The expected band is the checked rule scorecard's priority (the one the risk check measures against
later outcomes); the expected trigger factors are the records that raised the score.
"""

from __future__ import annotations

import json
from pathlib import Path

from llm.evaluation import MetricResult, Suite, fingerprint, register
from llm.evaluation.metrics import invented_facts
from notifications import ai, checks, prompts
from notifications.spelling import american_words

EVALS = Path(__file__).resolve().parent / "evals"
DATASET = EVALS / "notifications.analysis.jsonl"


def run_case(case) -> dict:
    inputs = case.inputs["analysis"]
    analysis = ai.analyse_many([(case.id, inputs, None)], force_refresh=True)[case.id]
    channel = case.inputs["message"]["channel"]
    msg_inputs = {
        **case.inputs["message"],
        "analysis": {k: analysis.data.get(k) for k in ("contact_reason", "trigger_factors", "communication_style")},
    }
    draft = ai.draft_many([(case.id, msg_inputs, None)], force_refresh=True)[case.id]
    return {
        "analysis": analysis.data,
        "subject": draft.data.get("subject", ""),
        "message": draft.data.get("message", ""),
        "channel": channel,
        "offline": analysis.offline and draft.offline,
        "provider": analysis.provider,
    }


def risk_band(case, output) -> MetricResult:
    got, want = output["analysis"].get("priority"), case.expected["priority"]
    return MetricResult.check([] if got == want else [f"priority {got}, expected {want}"])


def trigger_factors_resolve(case, output) -> MetricResult:
    known = set(case.facts)
    factors = output["analysis"].get("trigger_factors") or []
    problems = [
        f"factor {f.get('ref')!r} points at no record of this customer" for f in factors if f.get("ref") not in known
    ]
    if not factors and case.expected["trigger_factors"]:
        problems.append("no trigger factor, though the data holds some")
    return MetricResult.check(problems)


def british_spelling(case, output) -> MetricResult:
    return MetricResult.check(
        f"American spelling {w}" for w in american_words(f"{output['subject']}\n{output['message']}")
    )


def no_invented_facts(case, output) -> MetricResult:
    sources = [json.dumps(case.inputs, ensure_ascii=False), "Customer Care Team"]
    return MetricResult.check(
        f"invented {f}" for f in invented_facts(f"{output['subject']}\n{output['message']}", *sources)
    )


def channel_limit(case, output) -> MetricResult:
    limit = checks.limit_for(output["channel"])
    problems = (
        []
        if 0 < len(output["message"]) <= limit
        else [f"{len(output['message'])} characters, {output['channel']} allows {limit}"]
    )
    return MetricResult.check(problems)


def offers_in_actions(case, output) -> MetricResult:
    offers = [a["offer"] for a in case.inputs["analysis"]["recommended_actions"] if a["offer"]]
    offers.append(case.inputs["analysis"]["customer"]["tariff"])
    return MetricResult.check([checks.check_offer(f"{output['subject']}\n{output['message']}", offers)])


register(
    Suite(
        feature="notifications.analysis",
        dataset=DATASET,
        run=run_case,
        metrics=[
            risk_band,
            trigger_factors_resolve,
            british_spelling,
            no_invented_facts,
            channel_limit,
            offers_in_actions,
        ],
        thresholds=EVALS / "notifications.analysis.thresholds.json",
        prompt_version=fingerprint(
            prompts.ANALYSIS_SYSTEM,
            prompts.ANALYSIS_PROMPT,
            prompts.MESSAGE_SYSTEM,
            prompts.MESSAGE_PROMPT,
            ai.WRITER_VERSION,
        ),
        description="Customer analysis and draft: risk band, trigger factors that resolve, British spelling, "
        "no invented facts, channel limits, offers only from Recommended Actions.",
    )
)


def build_cases(team, per_band: int = 16) -> list[dict]:
    """Cases from a team holding the imported sample: `per_band` customers of each priority band,
    riskiest first within a band (the dataset file is written from this; a test keeps them in step)."""
    from notifications.models import CustomerRecord, NotificationSettings
    from notifications.services import _channel, customer_inputs, message_inputs

    conf = NotificationSettings.for_team(team)
    cases = []
    for band in ("High", "Medium", "Low"):
        records = list(
            CustomerRecord.objects.filter(team=team, priority=band)
            .select_related("account")
            .order_by("-risk_raw", "customer_id")[:per_band]
        )
        inputs = customer_inputs(records, conf)
        for r in records:
            i = inputs[r.pk]
            refs = [f"activity:{r.customer_id}", f"profile:{r.customer_id}"]
            refs += [x["ref"] for x in i["interactions"] + i["notification_history"] + i["recommended_actions"]]
            placeholder = {"contact_reason": "", "trigger_factors": [], "communication_style": ""}
            cases.append(
                {
                    "id": f"{r.customer_id}-{band.lower()}",
                    "inputs": {
                        "analysis": i,
                        "message": {**message_inputs(i, placeholder, _channel(i)), "analysis": placeholder},
                    },
                    "expected": {
                        "priority": band,
                        "trigger_factors": [f["ref"] for f in i["rule_assessment"]["factors"] if f["delta"] > 0],
                        "later_left": bool(r.outcome),
                    },
                    "facts": refs,
                    "tags": [band.lower(), r.segment],
                }
            )
    return cases
