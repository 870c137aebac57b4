"""Workflows: analyse a segment, keep the review queue, edit, check, approve and send drafts."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date

from django.db import connection, transaction
from django.utils import timezone

from crm.bulk_copy import insert_objects
from crm.models import Contact
from notifications import ai, checks, segments
from notifications.errors import ServiceError
from notifications.facts import as_of, load_history, recompute, update_rows
from notifications.models import (
    AnalysisRun,
    CustomerRecord,
    Notification,
    NotificationSettings,
    PastNotification,
    RecommendedAction,
)
from notifications.risk import PRIORITY_LEVEL, URGENCY
from outbound.consent import refusal
from outbound.services import queue_delivery

FACTOR_KINDS = ("profile", "activity", "interaction", "notification", "action")
CHUNK = 25  # customers per step of a run: the page shows results after each step
SIGNATURE = "Customer Care Team"
SENDABLE = (
    Notification.Status.DRAFT,
    Notification.Status.NEEDS_EDIT,
    Notification.Status.APPROVED,
    Notification.Status.FAILED,
)


def customer_inputs(
    records: list[CustomerRecord], conf: NotificationSettings, loaded: dict | None = None
) -> dict[int, dict]:
    """{record pk: analysis inputs}, loaded in bulk. `loaded` (a dict) receives the contacts and the
    notification history by account, for `check_contexts` to reuse."""
    today = as_of(conf)
    account_ids = [r.account_id for r in records]
    interactions, notes = load_history(account_ids)
    contacts = {c.account_id: c for c in Contact.objects.filter(account_id__in=account_ids).order_by("-pk")}
    if loaded is not None:
        loaded.update(contacts=contacts, notes=notes)
    actions: dict[int, list] = {}
    for a in RecommendedAction.objects.filter(account_id__in=account_ids).order_by("external_id"):
        actions.setdefault(a.account_id, []).append(a)
    names = segments.segment_names(segments.parse_rules(conf.segment_rules))
    out = {}
    for r in records:
        contact = contacts.get(r.account_id)
        first = contact.first_name if contact else ""
        customer = {
            "customer_id": r.customer_id,
            "first_name": first,
            "name": contact.name if contact else r.account.name,
            "region": r.region,
            "tariff": r.tariff,
            "payment_method": r.payment_method,
            "monthly_spend": str(r.monthly_spend),
            "tenure_months": r.tenure_months,
            "green_tariff": r.green_tariff,
            "preferred_channel": contact.preferred_channel if contact else "email",
            "marketing_consent": r.marketing_consent,
            "account_status": r.account_status,
            "engagement_score": r.engagement_score,
            "churn_risk": r.churn_risk,
            "payment_status": r.payment_status,
            "contract_end": r.contract_end.isoformat() if r.contract_end else "",
            "last_login": r.last_login.isoformat() if r.last_login else "",
        }
        out[r.pk] = {
            "as_of": today.isoformat(),
            "customer": customer,
            "interactions": [
                {
                    "ref": f"interaction:{i.ref}",
                    "date": i.on.isoformat(),
                    "category": i.category,
                    "summary": i.summary.split("\n\n")[0],
                    "sentiment": i.sentiment,
                }
                for i in interactions.get(r.account_id, [])[:10]
            ],
            "notification_history": [
                {
                    "ref": f"notification:{n.ref}",
                    "sent_on": n.sent_on.isoformat(),
                    "subject": n.subject,
                    "opened": n.opened,
                    "clicked": n.clicked,
                    "responded": n.responded,
                }
                for n in notes.get(r.account_id, [])[:10]
            ],
            "recommended_actions": [
                {
                    "ref": f"action:{a.external_id}",
                    "action": a.action,
                    "offer": a.offer,
                    "valid_until": a.valid_until.isoformat() if a.valid_until else "",
                }
                for a in actions.get(r.account_id, [])
            ],
            "rule_assessment": {
                "risk_score": r.risk_score,
                "priority": r.priority,
                "urgency": URGENCY.get(r.priority, ""),
                "segment": r.segment,
                "segment_reason": r.segment_reason,
                "factors": [{**f, "ref": f"{f['kind']}:{f['ref']}"} for f in r.risk_factors],
            },
            "segments": ", ".join(names),
            "version": ai.WRITER_VERSION,
        }
    return out


def _hash(inputs: dict) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


def message_inputs(inputs: dict, analysis: dict, channel: str) -> dict:
    today = inputs["as_of"]
    recent = [
        n["subject"] for n in inputs["notification_history"] if _days_between(n["sent_on"], today) <= checks.CLASH_DAYS
    ]
    offer = next((a["offer"] for a in inputs["recommended_actions"] if a["offer"]), "")
    return {
        "channel": channel,
        "limit": checks.limit_for(channel),
        "customer": {k: inputs["customer"][k] for k in ("first_name", "tariff", "contract_end", "monthly_spend")},
        "analysis": {k: analysis.get(k) for k in ("contact_reason", "trigger_factors", "communication_style")},
        "offer": offer,
        "recent_subjects": recent,
        "version": ai.WRITER_VERSION,
    }


def _days_between(a: str, b: str) -> int:
    return (date.fromisoformat(b) - date.fromisoformat(a)).days


def _channel(inputs: dict) -> str:
    ch = inputs["customer"]["preferred_channel"]
    return ch if ch in checks.CHANNEL_LIMITS else "email"


@dataclass
class Step:
    """What analysing some customers cost."""

    customers: int = 0
    unchanged: int = 0  # same inputs as their notification: nothing asked
    asked: int = 0  # customers whose analysis and draft went to the gateway
    cached: int = 0  # gateway answers from the reply cache (no model call)
    batched: int = 0  # items submitted to a Message Batch
    pending: dict[str, int] = field(default_factory=dict)  # feature -> LLMBatch id submitted

    def add(self, other: Step) -> None:
        for name in ("customers", "unchanged", "asked", "cached", "batched"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.pending.update(other.pending)

    def as_dict(self) -> dict:
        return {
            "customers": self.customers,
            "unchanged": self.unchanged,
            "asked": self.asked,
            "cached": self.cached,
            "batched": self.batched,
            # An unchanged customer saves its analysis and its draft; a cache hit saves one call.
            "calls_saved": 2 * self.unchanged + self.cached,
        }


@transaction.atomic
def analyse_records(
    record_ids: list[int],
    *,
    conf: NotificationSettings,
    run: AnalysisRun | None = None,
    force_refresh=False,
    mode: str = "sync",
    batched: dict | None = None,
) -> Step:
    """Analyse and draft for these customers and store their notifications. mode "auto" (batch runs):
    when the gateway submits a batch, nothing is stored and the Step says what is pending; a feature
    already batched by this run (`batched`) is answered from the cache, synchronously for the rest."""
    # The refinement and the account's imported extras are not inputs: left in the database.
    records = list(
        CustomerRecord.objects.filter(pk__in=record_ids).select_related("account").defer("refinement", "account__extra")
    )
    loaded: dict = {}
    inputs = customer_inputs(records, conf, loaded)
    hashes = {r.pk: _hash(inputs[r.pk]) for r in records}
    # What decides whether to ask first (the hash and status only); whole rows only for those asked again.
    current = {
        record_id: (input_hash, status)
        for record_id, input_hash, status in Notification.objects.filter(record_id__in=record_ids)
        .exclude(status=Notification.Status.SENT)
        .values_list("record_id", "input_hash", "status")
    }
    redo = (Notification.Status.DRAFT, Notification.Status.NEEDS_EDIT, Notification.Status.FAILED)
    todo = [
        r
        for r in records
        if (force_refresh or r.pk not in current or current[r.pk][0] != hashes[r.pk])
        and (r.pk not in current or current[r.pk][1] in redo)
    ]
    existing = {
        n.record_id: n
        for n in Notification.objects.filter(record_id__in=[r.pk for r in todo if r.pk in current]).exclude(
            status=Notification.Status.SENT
        )
    }
    step = Step(customers=len(records), unchanged=len(records) - len(todo), asked=len(todo))
    batched = batched or {}
    keyed = mode != "sync" and run is not None

    def key(r) -> str:
        return f"{run.pk}:{r.pk}" if keyed else str(r.pk)

    def ask(feature, items) -> ai.Answers | None:
        again = feature in batched  # its batch was collected: answers come from the cache
        answers = ai.ask_bulk(
            feature,
            items,
            force_refresh=force_refresh and not again,
            mode="sync" if again or not keyed else mode,
        )
        step.cached += sum(1 for a in answers.done.values() if a.cached)
        if answers.pending:
            step.batched += len(answers.pending)
            step.pending[feature] = answers.batch_id
            return None
        return answers

    analysed = ask(ai.ANALYSIS, [(key(r), inputs[r.pk], r.account) for r in todo])
    if analysed is None:
        return step
    analyses = {r.pk: analysed.done[key(r)] for r in todo}
    msg_inputs = {r.pk: message_inputs(inputs[r.pk], analyses[r.pk].data, _channel(inputs[r.pk])) for r in todo}
    drafted = ask(ai.MESSAGE, [(key(r), msg_inputs[r.pk], r.account) for r in todo])
    if drafted is None:
        return step
    drafts = {r.pk: drafted.done[key(r)] for r in todo}
    contexts = check_contexts(todo, conf, inputs, loaded)
    new, again = [], []
    for r in todo:
        a, d = analyses[r.pk], drafts[r.pk]
        data = _sanitised(a.data, r)
        priority = data["priority"]
        n = existing.get(r.pk) or Notification(team_id=r.team_id, account_id=r.account_id, record=r)
        n.run = run
        n.priority, n.priority_rank = priority, Notification.PRIORITY_RANK[priority]
        n.urgency = data["urgency"] or URGENCY[priority]
        n.risk_score, n.risk_raw = data["risk_score"], r.risk_raw
        n.analysis = data
        n.channel = msg_inputs[r.pk]["channel"]
        if n.edited_by_id is None:  # never overwrite an agent's edit
            n.subject = (d.data.get("subject") or "")[:300]
            n.message = d.data.get("message") or ""
        n.input_hash = hashes[r.pk]
        n.provenance = {
            "offline": a.offline and d.offline,
            "provider": a.provider,
            "fallback_reason": a.fallback_reason or d.fallback_reason,
            "flags": sorted(set(a.flags + d.flags)),
        }
        n.failed_checks = [f.as_dict() for f in run_checks(n, record=r, ctx=contexts[r.pk])]
        n.status = Notification.Status.DRAFT
        (new if n.pk is None else again).append(n)
    insert_objects(Notification, new)  # COPY: bulk_create adapted every field in Python, ~0.4 ms each
    _update_notifications(again)
    return step


_REANALYSED = [
    "run", "priority", "priority_rank", "urgency", "risk_score", "risk_raw", "analysis", "channel", "subject",
    "message", "input_hash", "provenance", "failed_checks", "status", "updated_at",
]  # fmt: skip
_JSON_FIELDS = {"analysis", "provenance", "failed_checks"}


def _update_notifications(rows: list[Notification]) -> None:
    """Reanalysed notifications in one prepared UPDATE (a save per row cost ~1 ms each)."""
    now = timezone.now()
    stamp = connection.ops.adapt_datetimefield_value(now)
    values = []
    for n in rows:
        n.updated_at = now
        row = [json.dumps(getattr(n, f)) if f in _JSON_FIELDS else getattr(n, f) for f in _REANALYSED[1:-1]]
        values.append((n.run_id, *row, stamp, n.pk))
    update_rows(Notification, _REANALYSED, values)


def _sanitised(data: dict, record: CustomerRecord) -> dict:
    """Model output with the record's own rule values where it is missing or out of range."""
    out = dict(data)
    if out.get("priority") not in Notification.PRIORITY_RANK:
        out["priority"] = record.priority
    try:
        out["risk_score"] = max(1, min(10, int(out.get("risk_score", record.risk_score))))
    except (TypeError, ValueError):
        out["risk_score"] = record.risk_score
    out["level"] = PRIORITY_LEVEL[out["priority"]]
    out.setdefault("urgency", URGENCY[out["priority"]])
    # A factor must point at a record of a known kind: "interaction:INT-1" -> kind, id for its link.
    factors = []
    for f in out.get("trigger_factors") or []:
        kind, _, ref_id = str(f.get("ref", "") if isinstance(f, dict) else "").partition(":")
        if kind in FACTOR_KINDS and ref_id:
            factors.append(
                {"label": str(f.get("label", ""))[:200], "ref": f"{kind}:{ref_id}", "kind": kind, "id": ref_id}
            )
    out["trigger_factors"] = factors
    out["conversation_starters"] = [s for s in out.get("conversation_starters") or [] if isinstance(s, str)]
    return out


def recompute_segments(team) -> int:
    """After a rule change: every customer's segment and risk again."""
    return recompute(team)


# --- checks ------------------------------------------------------------------------------------


def consent_refusal(record: CustomerRecord, contact: Contact | None, channel: str) -> str:
    """Outbound's consent rule (the one place it lives) plus the profile's marketing consent."""
    if not record.marketing_consent:
        return "the customer has not consented to marketing messages (Customer Profiles)"
    if contact is None:
        return "the customer has no contact to send to"
    return refusal(contact, channel, timezone.now()) or ""


@dataclass
class CheckContext:
    """What the checks compare a draft with, for one customer."""

    sources: list[str]
    offers: list[str]
    history: list[tuple]
    contact: Contact | None
    today: date


def check_contexts(
    records: list[CustomerRecord], conf: NotificationSettings, inputs: dict | None = None, loaded: dict | None = None
) -> dict[int, CheckContext]:
    """{record pk: CheckContext} in a few queries for any number of customers (none when `inputs`
    and `loaded` come from `customer_inputs`)."""
    if inputs is None or not loaded:
        loaded = {}
        inputs = customer_inputs(records, conf, loaded)
    contacts = loaded["contacts"]
    history = {acc: [(n.sent_on, n.subject) for n in notes] for acc, notes in loaded["notes"].items()}
    today = max(as_of(conf), timezone.localdate())
    out = {}
    for r in records:
        i = inputs[r.pk]
        contact = contacts.get(r.account_id)
        # The customer's own tariff is not an offer: "your Fixed Saver 12M ends" names what they have.
        offers = [a["offer"] for a in i["recommended_actions"] if a["offer"]] + [r.tariff]
        texts = [json.dumps(i, default=str, ensure_ascii=False), SIGNATURE] + ([contact.name] if contact else [])
        out[r.pk] = CheckContext(texts, offers, history.get(r.account_id, []), contact, today)
    return out


def run_checks(
    n: Notification, *, record: CustomerRecord | None = None, subject=None, body=None, ctx: CheckContext | None = None
) -> list[checks.Failure]:
    record = record or n.record
    if ctx is None:
        ctx = check_contexts([record], NotificationSettings.for_team(record.team))[record.pk]
    return checks.check_message(
        subject=n.subject if subject is None else subject,
        body=n.message if body is None else body,
        channel=n.channel,
        sources=ctx.sources,
        offers=ctx.offers,
        history=ctx.history,
        today=ctx.today,
        consent_refusal=consent_refusal(record, ctx.contact, n.channel),
    )


def save_draft(*, notification: Notification, subject: str, message: str, actor) -> Notification:
    if notification.status in (Notification.Status.SENT, Notification.Status.QUEUED):
        raise ServiceError("This notification has already been sent.", code="conflict")
    subject, message = subject.strip(), message.strip()
    if not message:
        raise ServiceError("The message is empty.", field="message")
    limit = checks.limit_for(notification.channel)
    if len(message) > limit:
        raise ServiceError(
            f"The message is {len(message)} characters; {notification.channel} allows {limit}.", field="message"
        )
    notification.subject, notification.message = subject[:300], message
    notification.edited_by = actor
    notification.failed_checks = [f.as_dict() for f in run_checks(notification)]
    notification.status = Notification.Status.DRAFT
    notification.save(update_fields=["subject", "message", "edited_by", "failed_checks", "status", "updated_at"])
    return notification


def approve(*, notifications, actor) -> tuple[list[Notification], list[Notification]]:
    """Approve every draft that passes every check; the rest go back for editing with the failed checks."""
    approved, refused = [], []
    now = timezone.now()
    items = list(
        notifications.select_related("record", "record__team", "record__account").filter(
            status__in=(Notification.Status.DRAFT, Notification.Status.NEEDS_EDIT)
        )
    )
    contexts: dict[int, CheckContext] = {}
    for team_id in {n.team_id for n in items}:
        records = [n.record for n in items if n.team_id == team_id]
        contexts.update(check_contexts(records, NotificationSettings.for_team(records[0].team)))
    for n in items:
        failures = run_checks(n, ctx=contexts[n.record_id])
        n.failed_checks = [f.as_dict() for f in failures]
        if failures:
            n.status = Notification.Status.NEEDS_EDIT
            refused.append(n)
        else:
            n.status, n.approved_by, n.approved_at = Notification.Status.APPROVED, actor, now
            approved.append(n)
        n.save(update_fields=["failed_checks", "status", "approved_by", "approved_at", "updated_at"])
    return approved, refused


def matching(qs, *, priority: str = "", segment: str = ""):
    if priority:
        qs = qs.filter(priority=priority)
    if segment:
        qs = qs.filter(record__segment=segment)
    return qs


# --- sending -----------------------------------------------------------------------------------

SOURCE = "notifications.notification"


def send(*, notification: Notification, actor, subject: str | None = None, message: str | None = None) -> Notification:
    """Send through outbound, exactly once (the delivery key is the notification's id): a second
    call returns the notification as it is. Refused with the failed checks when any check fails."""
    with transaction.atomic():
        n = Notification.objects.select_for_update().select_related("record", "record__team").get(pk=notification.pk)
        if n.status in (Notification.Status.QUEUED, Notification.Status.SENT):
            return n
        if message is not None:
            save_draft(notification=n, subject=n.subject if subject is None else subject, message=message, actor=actor)
        failures = run_checks(n)
        if failures:
            n.failed_checks = [f.as_dict() for f in failures]
            n.status = Notification.Status.NEEDS_EDIT
            n.save(update_fields=["failed_checks", "status", "updated_at"])
            raise ServiceError(
                "Not sent: " + "; ".join(f"{checks.CHECK_LABELS[f.check]}: {f.reason}" for f in failures),
                field="message",
            )
        contact = Contact.objects.filter(account_id=n.account_id).order_by("pk").first()
        delivery, _ = queue_delivery(
            key=f"{SOURCE}:{n.pk}",
            team=n.record.team,
            channel=n.channel,
            recipient="",  # outbound picks the contact's address for the channel
            body=n.message,
            subject=n.subject,
            contact=contact,
            source=SOURCE,
            source_id=n.pk,
            actor=actor,
        )
        n.status, n.delivery_id, n.sent_body = Notification.Status.QUEUED, delivery.pk, n.message
        n.failed_checks = []
        n.save(update_fields=["status", "delivery_id", "sent_body", "failed_checks", "updated_at"])
    return n


def on_delivery_sent(delivery) -> None:
    """outbound listener: the notification is sent, and its history gets the message."""
    with transaction.atomic():
        n = Notification.objects.select_for_update().filter(pk=delivery.source_id).first()
        if n is None or n.status == Notification.Status.SENT:
            return
        sent_at = delivery.sent_at or timezone.now()
        n.status, n.sent_at = Notification.Status.SENT, sent_at
        n.save(update_fields=["status", "sent_at", "updated_at"])
        PastNotification.objects.get_or_create(
            team_id=n.team_id,
            external_id=f"NT-{delivery.pk}",
            defaults={"account_id": n.account_id, "sent_on": timezone.localdate(sent_at), "channel": n.channel,
                      "subject": n.subject or "(no subject)", "delivery_id": delivery.pk},
        )  # fmt: skip


def on_delivery_failed(delivery) -> None:
    Notification.objects.filter(pk=delivery.source_id).exclude(status=Notification.Status.SENT).update(
        status=Notification.Status.FAILED, last_error=(delivery.last_error or "delivery failed")[:500]
    )


EXPORT_HEADER = [
    "customer_id",
    "segment",
    "status",
    "priority",
    "urgency",
    "risk_score",
    "channel",
    "subject",
    "message",
    "sent_at",
]


def export_csv(team, notifications=None) -> tuple[str, int]:
    """The queue and the history of one team as CSV text (cells escaped against formulas)."""
    from notifications.exports import to_csv

    rows = (notifications if notifications is not None else Notification.objects.filter(team=team)).select_related(
        "record"
    )
    rows = list(rows.order_by("priority_rank", "-risk_score", "pk"))
    body = to_csv(
        EXPORT_HEADER,
        ([n.record.customer_id, n.record.segment, n.status, n.level_label, n.urgency, n.risk_score, n.channel, n.subject,
          n.sent_body or n.message, n.sent_at.isoformat() if n.sent_at else ""] for n in rows),
    )  # fmt: skip
    return body, len(rows)
