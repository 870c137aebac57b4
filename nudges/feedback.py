"""What reps do with actions and what they say about them: using a P0 action (send, done,
discard, with the edit distance as implicit feedback), explicit feedback, learnings extracted from
it, a manager's preview/accept/reject, and the manager statistics per action type and channel.
"""

from __future__ import annotations

import difflib
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from crm import services as crm_services
from crm.models import Activity, Contact
from nudges import context, plan_ai, plans
from nudges.models import Learning, Plan, PlanFeedback, PlanItem
from nudges.plan_errors import PlanError
from outbound import services as outbound
from outbound import tasks as _outbound_tasks  # noqa: F401 - registers deliver_task, which queue_delivery looks up by name
from outbound.errors import SendRefused

ACTIVITY_KIND = {"email": "email", "phone": "call", "linkedin": "linkedin", "whatsapp": "whatsapp"}
SOURCE = "nudges.plan_item"


def edit_distance(before: str, after: str) -> int:
    """Characters changed between the proposed and the used text: the larger side of every
    non-equal block (difflib's matching, linear enough for a 2,000-character email)."""
    if before == after:
        return 0
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal")


def _contact(item: PlanItem) -> Contact | None:
    if not item.contact_name:
        return None
    return Contact.objects.filter(account_id=item.plan.deal.account_id, name=item.contact_name).first()


def use_item(
    *, item: PlanItem, actor, action: str, text: str = "", subject: str = "", via: str = "console"
) -> PlanItem:
    """Send (email, through outbound), mark done (copied and used elsewhere: logged on the
    timeline), or discard a P0 action. Once only: a used action cannot be used again."""
    if action not in ("send", "done", "discard"):
        raise PlanError("action must be send, done or discard", field="action")
    if item.priority != "P0" and not item.content:
        raise PlanError("expand this outline into full content before using it", field="item")
    if item.use != PlanItem.Use.PROPOSED:
        raise PlanError(f"this action was already {item.get_use_display().lower()}", field="item", code="conflict")
    original = item.content_text()
    if item.channel == "email" and (subject or text):
        final = f"Subject: {subject}\n\n{text}".strip() if subject else text
    else:
        final = text or original
    deal = item.plan.deal
    now = timezone.now()
    with transaction.atomic():
        claimed = PlanItem.objects.filter(pk=item.pk, use=PlanItem.Use.PROPOSED).update(
            use={"send": PlanItem.Use.SENT, "done": PlanItem.Use.DONE, "discard": PlanItem.Use.DISCARDED}[action],
            used_at=now,
            used_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        if claimed != 1:  # another request used it first
            raise PlanError("this action was already used", field="item", code="conflict")
        item.refresh_from_db()
        distance = None
        if action == "send":
            item.delivery_id = _send(
                item,
                actor=actor,
                subject=subject or item.content.get("subject", ""),
                body=text or item.content.get("body", ""),
            )
        if action in ("send", "done"):
            distance = edit_distance(original, final)
            item.used_text = final
            item.edit_distance = distance
            if action == "done":
                crm_services.log_activity(
                    actor=actor, account=deal.account, deal=deal, contact=_contact(item),
                    kind=ACTIVITY_KIND[item.channel], subject=item.title[:300],
                    body=final, via=via,
                )  # fmt: skip
        item.save(update_fields=["used_text", "edit_distance", "delivery_id"])
        kind = (
            PlanFeedback.Kind.DISCARDED
            if action == "discard"
            else PlanFeedback.Kind.SENT_UNCHANGED
            if distance == 0
            else PlanFeedback.Kind.EDITED
        )
        PlanFeedback.objects.create(
            team_id=item.plan.team_id,
            plan=item.plan,
            item=item,
            kind=kind,
            type={"discarded": "negative", "sent_unchanged": "positive"}.get(kind, "neutral"),
            priority=item.priority,
            channel=item.channel,
            edit_distance=distance,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
    return item


def _send(item: PlanItem, *, actor, subject: str, body: str) -> int:
    if item.channel != "email":
        raise PlanError(
            f"{item.get_channel_display()} cannot be sent from here: copy it and mark it done", field="action"
        )
    contact = _contact(item)
    if contact is None or not contact.email:
        raise PlanError("this action's contact has no email address", field="item")
    try:
        delivery, _ = outbound.queue_delivery(
            key=f"{SOURCE}:{item.pk}", team=item.plan.team, channel="email", recipient=contact.email,
            subject=subject, body=body, contact=contact, source=SOURCE, source_id=item.pk, actor=actor,
        )  # fmt: skip
    except SendRefused as exc:
        raise PlanError(f"not sent: {exc}", field="action") from exc
    return delivery.pk


def record_feedback(
    *,
    plan: Plan,
    actor,
    type: str,
    text: str = "",
    worked: str = "",
    didnt_work: str = "",
    improvement: str = "",
    item: PlanItem | None = None,
    priority: str | None = None,
    channel: str | None = None,
) -> PlanFeedback:
    """Log explicit feedback, extract one learning and propose it (or apply it at once when
    PLANS_LEARNING_APPROVAL is off, as the seed's command line does)."""
    if type not in PlanFeedback.Type.values:
        raise PlanError("type must be positive, negative or neutral", field="type")
    if item is not None and item.plan_id != plan.pk:
        raise PlanError("that action belongs to another plan", field="item")
    if not any(s.strip() for s in (text, worked, didnt_work, improvement)):
        raise PlanError("say what happened: text, worked, didn't work or improvement", field="text")
    priority = item.priority if item else (priority or "P0")
    channel = item.channel if item else (channel or "email")
    if priority not in ("P0", "P1", "P2"):
        raise PlanError("priority must be P0, P1 or P2", field="priority")
    if channel not in context.LEARNING_SECTIONS or channel == "general":
        raise PlanError("channel must be email, phone, linkedin or whatsapp", field="channel")
    with transaction.atomic():
        feedback = PlanFeedback.objects.create(
            team_id=plan.team_id, plan=plan, item=item, type=type, text=text[:4000], worked=worked[:2000],
            didnt_work=didnt_work[:2000], improvement=improvement[:2000], priority=priority, channel=channel,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )  # fmt: skip
        learning = propose_learning(feedback)
        if learning.status == Learning.Status.PROPOSED and not settings.PLANS_LEARNING_APPROVAL:
            accept_learning(learning=learning, actor=actor)
    return feedback


def propose_learning(feedback: PlanFeedback) -> Learning:
    version = context.current(feedback.team_id)
    section_name = context.LEARNING_SECTIONS[feedback.channel]
    inputs = {
        "type": feedback.type,
        "priority": feedback.priority,
        "channel": feedback.channel,
        "text": feedback.text,
        "worked": feedback.worked,
        "didnt_work": feedback.didnt_work,
        "improvement": feedback.improvement,
        "existing": "\n".join(context.learnings(version.sections).get(feedback.channel, [])),
    }
    data, provenance = plan_ai.extract_learning(inputs, about=feedback.plan)
    text = " ".join(str(data.get("learning") or "").split())[:300]
    section = context.LEARNING_SECTIONS.get(data.get("section") or "", section_name)
    status, reason = Learning.Status.PROPOSED, ""
    if not data.get("actionable") or not text:
        status, reason = Learning.Status.NONE, "nothing actionable in this feedback"
    else:
        same = context.duplicate_of(text, version.sections)
        if same:
            status, reason = Learning.Status.DUPLICATE, f"the context already says: {same}"[:300]
    line = context.learning_line(text, priority=feedback.priority, channel=feedback.channel, today=timezone.localdate())
    return Learning.objects.create(
        team_id=feedback.team_id, feedback=feedback, section=section, text=text, context_line=line[:500],
        status=status, reason=reason, provenance=provenance, base_version=version,
    )  # fmt: skip


@transaction.atomic
def accept_learning(*, learning: Learning, actor):
    """Add the line to its section as a new context version (1.0 -> 1.1)."""
    learning = Learning.objects.select_for_update().get(pk=learning.pk)
    if learning.status != Learning.Status.PROPOSED:
        raise PlanError(f"this learning is {learning.get_status_display().lower()}", field="learning", code="conflict")
    version = context.current(learning.team_id)
    same = context.duplicate_of(learning.text, version.sections)
    if same:
        learning.status, learning.reason = Learning.Status.DUPLICATE, f"the context already says: {same}"[:300]
        learning.save(update_fields=["status", "reason"])
        return None
    new = context.save_sections(
        team_id=learning.team_id, sections=context.with_learning(version.sections, learning.section, learning.context_line),
        actor=actor, source="learning", note=f"Learning: {learning.text}", feedback=learning.feedback,
    )  # fmt: skip
    learning.status = Learning.Status.ACCEPTED
    learning.result_version = new
    learning.decided_by = actor if getattr(actor, "is_authenticated", False) else None
    learning.decided_at = timezone.now()
    learning.save(update_fields=["status", "result_version", "decided_by", "decided_at"])
    return new


def reject_learning(*, learning: Learning, actor, reason: str = "") -> Learning:
    updated = Learning.objects.filter(pk=learning.pk, status=Learning.Status.PROPOSED).update(
        status=Learning.Status.REJECTED, reason=reason[:300], decided_by=actor, decided_at=timezone.now()
    )
    if not updated:
        raise PlanError("this learning was already decided", field="learning", code="conflict")
    learning.refresh_from_db()
    return learning


def preview_learning(*, learning: Learning, deals: int | None = None) -> list[dict]:
    """Regenerate the plans of the last N deals planned by this team against the proposed context
    (nothing stored) and report how their P0 actions change."""
    deals = deals or settings.PLANS_PREVIEW_DEALS
    version = context.current(learning.team_id)
    proposed = context.with_learning(version.sections, learning.section, learning.context_line)
    latest: dict[int, Plan] = {}
    for plan in (
        Plan.objects.filter(team_id=learning.team_id, status=Plan.Status.READY)
        .select_related("deal")
        .order_by("-generated_at")[:200]
    ):
        latest.setdefault(plan.deal_id, plan)
        if len(latest) >= deals:
            break
    rows = []
    for plan in latest.values():
        before = [i for i in plan.items.all() if i.priority == "P0"]
        composed = plans.compose(
            plans.resolve_deal(plan.deal_id), campaign_context=plan.campaign_context, sections=proposed
        )
        written = plan_ai.write_plan(composed.inputs, system=composed.system, about=plan.deal)
        after = [a for a in written.data["actions"] if a["priority"] == "P0"]
        changes = []
        for i, new in enumerate(after):
            old = before[i] if i < len(before) else None
            new_text = PlanItem(channel=new["channel"], content=new.get("content") or {}).content_text()
            old_text = old.content_text() if old else ""
            if old_text != new_text or (old and old.prerequisites != new.get("prerequisites")):
                changes.append({
                    "channel": new["channel"], "title": new.get("title", ""),
                    "words_before": len(old_text.split()), "words_after": len(new_text.split()),
                    "before": old_text, "after": new_text,
                    "prerequisites_added": [p for p in new.get("prerequisites", []) if not old or p not in old.prerequisites],
                })  # fmt: skip
        rows.append({"deal": plan.deal.name, "deal_id": plan.deal_id, "plan": plan.public_id, "changes": changes})
    return rows


def action_stats(team_ids=None, now=None) -> list[dict]:
    """Per action type and channel: P0 actions proposed, sent unchanged, edited, discarded, and
    how many of the used ones were followed by a stage change or a reply within PLANS_FORWARD_DAYS."""
    now = now or timezone.now()
    window = timedelta(days=settings.PLANS_FORWARD_DAYS)
    items = PlanItem.objects.filter(priority="P0")
    if team_ids is not None:
        items = items.filter(plan__team_id__in=team_ids)
    replied = Activity.objects.filter(
        deal_id=OuterRef("plan__deal_id"), direction=Activity.Direction.INBOUND,
        occurred_at__gt=OuterRef("used_at"), occurred_at__lte=OuterRef("used_at") + window,
    )  # fmt: skip
    rows = items.annotate(replied=Exists(replied)).values_list(
        "action_type", "channel", "use", "edit_distance", "used_at", "plan__deal__stage_changed_at", "replied"
    )
    out: dict[tuple, dict] = {}
    for action_type, channel, use, distance, used_at, stage_changed, has_reply in rows:
        row = out.setdefault(
            (action_type, channel),
            {
                "action_type": action_type,
                "channel": channel,
                "proposed": 0,
                "sent_unchanged": 0,
                "edited": 0,
                "discarded": 0,
                "used": 0,
                "moved_forward": 0,
            },
        )
        row["proposed"] += 1
        if use == PlanItem.Use.DISCARDED:
            row["discarded"] += 1
        elif use in (PlanItem.Use.SENT, PlanItem.Use.DONE):
            row["used"] += 1
            row["sent_unchanged" if distance == 0 else "edited"] += 1
            stage_moved = stage_changed is not None and used_at < stage_changed <= used_at + window
            if stage_moved or has_reply:
                row["moved_forward"] += 1
    return sorted(out.values(), key=lambda r: (-r["proposed"], r["action_type"], r["channel"]))


def on_plan_email_sent(delivery) -> None:
    """outbound listener: a sent plan email goes on the deal's timeline once (keyed by delivery)."""
    item = PlanItem.objects.filter(pk=delivery.source_id).select_related("plan__deal__account").first()
    if item is None:
        return
    deal = item.plan.deal
    activity, created = Activity.objects.get_or_create(
        account=deal.account,
        external_id=f"outbound-delivery-{delivery.pk}",
        defaults={
            "deal": deal, "contact": delivery.contact, "actor": item.used_by, "kind": Activity.Kind.EMAIL,
            "direction": Activity.Direction.OUTBOUND, "subject": delivery.subject[:300], "body": delivery.body,
            "occurred_at": delivery.sent_at or timezone.now(), "to_addr": delivery.recipient[:254],
        },
    )  # fmt: skip
    if created:
        deal.record_touch(activity.occurred_at)
