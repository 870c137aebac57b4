"""Company context: the seed's markdown format, versions, rollback, learnings and the feedback loop."""

import pytest
from django.urls import reverse

from nudges import context, feedback, plan_writer, plans
from nudges.models import ContextVersion, Learning, PromptTemplate
from nudges.plan_errors import PlanError

pytestmark = pytest.mark.django_db

SEED_FILE = """# Company Context - Brevo Sales

Version: 1.0

## Company Overview
We sell email marketing.

## Email Engagement Learnings
- **2025-01-12**: Keep cold outreach under 150 words _(Context: P0 email action)_
- **2025-01-11**: Always reference mutual connections _(Context: P1 linkedin action)_
"""


def test_seed_file_round_trips():
    parsed = context.parse_markdown(SEED_FILE)
    assert parsed.title == "Company Context - Brevo Sales" and parsed.version == "1.0"
    assert context.learnings(parsed.sections)["email"] == [
        "Keep cold outreach under 150 words",
        "Always reference mutual connections",
    ]
    again = context.parse_markdown(context.render_markdown(title=parsed.title, version="1.0", sections=parsed.sections))
    assert again.sections == parsed.sections


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "line 1: the file is empty"),
        ("Version: 1.0\n## A\nx", "line 1: expected the title line"),
        ("# T\n## A\nx", "line 2: 'Version: X.Y' must come before"),
        ("# T\nVersion: one\n## A", "line 2: version 'one'"),
        ("# T\nVersion: 1.0\nstray text\n## A", "line 3: text outside"),
        ("# T\nVersion: 1.0\n## A\nx\n## A\ny", "line 5: section 'A' appears twice"),
        ("# T\nVersion: 1.0\n", "no '## Section'"),
        ("# T\x00", "binary"),
    ],
)
def test_a_file_that_does_not_parse_names_the_line(text, reason):
    with pytest.raises(PlanError) as err:
        context.parse_markdown(text)
    assert reason in err.value.message


def test_import_refused_leaves_the_stored_version_unchanged(team, manager):
    before = context.current(team.pk)
    with pytest.raises(PlanError):
        context.import_markdown(team_id=team.pk, text="# T\nstray\n", actor=manager)
    assert context.current(team.pk).pk == before.pk
    new = context.import_markdown(team_id=team.pk, text=SEED_FILE, actor=manager)
    assert new.version == "1.1" and new.source == "import" and new.created_by == manager


def test_versions_and_rollback(team, manager):
    v0 = context.current(team.pk)
    v1 = context.save_sections(team_id=team.pk, sections={"Target Audience": "Retailers"}, actor=manager)
    same = context.save_sections(team_id=team.pk, sections={"Target Audience": "Retailers"}, actor=manager)
    assert (v0.version, v1.version) == ("1.0", "1.1") and same.pk == v1.pk
    back = context.rollback(team_id=team.pk, to_ordinal=0, actor=manager)
    assert back.version == "1.2" and back.sections == v0.sections and back.rolled_back_to == v0
    with pytest.raises(PlanError):
        context.rollback(team_id=team.pk, to_ordinal=99, actor=manager)


@pytest.mark.parametrize(
    "body, problem",
    [
        ("Write a plan.", "missing the required placeholder {{company_context}}"),
        ("{{company_context}} {{deal_name}}", "unknown placeholder {{deal_name}}"),
        ("", "empty"),
    ],
)
def test_template_problems(body, problem):
    assert any(problem in p for p in context.template_problems(body))


def test_template_is_fine_with_known_placeholders():
    assert context.template_problems("{{ company_context }} {{channel_rules}} {{today}}") == []


def test_duplicate_learning_is_not_proposed_twice(team):
    sections = context.with_learning(
        dict(context.DEFAULT_SECTIONS), "Email Engagement Learnings", "- Keep cold outreach emails under 150 words"
    )
    assert context.duplicate_of("Keep cold outreach emails under 150 words", sections)
    assert context.duplicate_of("Call before noon on Fridays", sections) is None


@pytest.mark.parametrize(
    "fields, learning, section",
    [
        ({"text": "Email too long, keep under 150 words"}, "Keep cold outreach emails under 150 words", "email"),
        (
            {"text": "Call was poorly timed", "didnt_work": "Called during their lunch hour"},
            "Avoid: called during their lunch hour",
            "phone",
        ),
        (
            {"text": "LinkedIn message could be improved", "improvement": "Add reference to mutual connections"},
            "Add reference to mutual connections",
            "linkedin",
        ),
        (
            {"text": "Email worked great", "worked": "Short subject line and clear CTA"},
            "Keep doing: short subject line and clear cta",
            "email",
        ),
        ({"text": "ok"}, "", "email"),
    ],
)
def test_offline_learning_extractor(fields, learning, section):
    from nudges.plan_ai import learning_offline

    channel = section if section != "email" else "email"
    out = learning_offline({"priority": "P0", "channel": channel, **fields})
    assert out["learning"] == learning and out["section"] == section
    assert out["actionable"] is bool(learning)


def test_feedback_loop_round_trip_next_plan_follows_the_learning(stale_deal, agent, manager, team):
    """Feedback -> learning (offline extractor) -> preview -> accept (1.0 -> 1.1) -> the next plan's
    email is under 150 words and cites the learning."""
    plan, _ = plans.plan_for_deal(deal=stale_deal, campaign_context="Q4 product launch")
    email = plan.items.filter(priority="P0", channel="email").first()
    fb = feedback.record_feedback(
        plan=plan, item=email, actor=agent, type="negative", text="Email too long, keep under 150 words"
    )
    learning = Learning.objects.get(feedback=fb)
    assert learning.status == "proposed" and learning.section == "Email Engagement Learnings"
    # A learning of 10 words makes any email over it change, so make the limit bite.
    learning.text = learning.text.replace("150", "40")
    learning.context_line = learning.context_line.replace("150", "40")
    learning.save()
    rows = feedback.preview_learning(learning=learning)
    assert rows and rows[0]["deal_id"] == stale_deal.pk
    change = next(c for c in rows[0]["changes"] if c["channel"] == "email")
    assert change["words_after"] < change["words_before"]
    new = feedback.accept_learning(learning=learning, actor=manager)
    assert new.version == "1.1" and new.feedback == fb and new.source == "learning"
    nxt, cached = plans.plan_for_deal(deal=stale_deal, campaign_context="Q4 product launch")
    assert not cached and nxt.context_version == new
    body = nxt.items.filter(priority="P0", channel="email").first().content["body"]
    assert plan_writer.words(body) < 40
    assert any("under 40 words" in p for p in nxt.items.filter(priority="P0", channel="email").first().prerequisites)


def test_auto_apply_when_approval_is_off(stale_deal, agent, team, settings):
    settings.PLANS_LEARNING_APPROVAL = False
    plan, _ = plans.plan_for_deal(deal=stale_deal)
    feedback.record_feedback(plan=plan, actor=agent, type="neutral", channel="linkedin", priority="P1",
                             text="LinkedIn message could be improved", improvement="Add reference to mutual connections")  # fmt: skip
    assert context.current(team.pk).version == "1.1"
    assert "Add reference to mutual connections" in context.current(team.pk).sections["LinkedIn Outreach Learnings"]
    # The same feedback again is a duplicate: no 1.2.
    feedback.record_feedback(
        plan=plan,
        actor=agent,
        type="neutral",
        channel="linkedin",
        text="again",
        improvement="Add reference to mutual connections",
    )
    assert context.current(team.pk).version == "1.1"
    assert Learning.objects.filter(status="duplicate").count() == 1


def test_action_stats(stale_deal, agent, stages):
    plan, _ = plans.plan_for_deal(deal=stale_deal)
    p0 = list(plan.items.filter(priority="P0"))
    feedback.use_item(item=p0[0], actor=agent, action="done")
    if len(p0) > 1:
        feedback.use_item(item=p0[1], actor=agent, action="discard")
    from crm.services import change_deal_stage

    change_deal_stage(actor=agent, deal=stale_deal, stage=stages["negotiation"])
    rows = {(r["action_type"], r["channel"]): r for r in feedback.action_stats([stale_deal.team_id])}
    first = rows[(p0[0].action_type, p0[0].channel)]
    assert first["sent_unchanged"] == 1 and first["moved_forward"] == 1


# --- settings pages -----------------------------------------------------------------------


def test_settings_page_for_a_manager(client, manager, team):
    client.force_login(manager)
    page = client.get(reverse("plans:index"))
    assert page.status_code == 200 and b"Company context" in page.content and b"version 1.0" in page.content


def test_manager_edits_imports_exports_and_rolls_back(client, manager, team):
    client.force_login(manager)
    context.current(team.pk)
    names = context.ordered(context.DEFAULT_SECTIONS)
    data = {"team": team.pk, "title": "Company Context - Blue"} | {
        f"s{i}": context.DEFAULT_SECTIONS[n] for i, n in enumerate(names)
    }
    data["s2"] = "Mid-size retailers"
    assert client.post(reverse("plans:context_save"), data).status_code == 302
    assert context.current(team.pk).sections["Target Audience"] == "Mid-size retailers"
    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = SimpleUploadedFile("c.md", b"# T\nVersion: 1.0\nstray\n")
    page = client.post(reverse("plans:context_import"), {"team": team.pk, "file": bad}, follow=True)
    assert "line 3: text outside" in page.content.decode() and context.current(team.pk).version == "1.1"
    good = SimpleUploadedFile("c.md", SEED_FILE.encode())
    client.post(reverse("plans:context_import"), {"team": team.pk, "file": good})
    assert context.current(team.pk).version == "1.2"
    export = client.get(reverse("plans:context_export") + f"?team={team.pk}")
    assert export.content.decode().startswith("# Company Context - Brevo Sales\n\nVersion: 1.2")
    client.post(reverse("plans:context_rollback", args=[0]), {"team": team.pk})
    assert context.current(team.pk).version == "1.3" and context.current(team.pk).source == "rollback"


def test_template_missing_placeholder_refused_in_settings(client, manager, team):
    client.force_login(manager)
    page = client.post(
        reverse("plans:template_new"), {"team": team.pk, "name": "bad", "body": "No placeholder", "is_active": "on"}
    )
    assert page.status_code == 400 and "missing the required placeholder" in page.content.decode()
    ok = client.post(
        reverse("plans:template_new"),
        {"team": team.pk, "name": "good", "body": "Brief. {{company_context}}", "is_active": "on"},
    )
    assert ok.status_code == 302 and PromptTemplate.objects.get().is_active


def test_agent_reads_but_cannot_change(agent_client, team):
    assert agent_client.get(reverse("plans:index")).status_code == 200
    assert agent_client.post(reverse("plans:context_save"), {"team": team.pk, "title": "x"}).status_code == 403
    assert agent_client.post(reverse("plans:cache_clear"), {"team": team.pk}).status_code == 403


def test_manager_previews_and_accepts_in_the_console(client, manager, stale_deal, agent):
    plan, _ = plans.plan_for_deal(deal=stale_deal)
    fb = feedback.record_feedback(plan=plan, actor=agent, type="negative", text="Email too long, keep under 60 words")
    learning = Learning.objects.get(feedback=fb)
    client.force_login(manager)
    preview = client.get(reverse("plans:learning_preview", args=[learning.pk]))
    assert preview.status_code == 200 and stale_deal.name in preview.content.decode()
    client.post(reverse("plans:learning_decide", args=[learning.pk]), {"decision": "accept"})
    learning.refresh_from_db()
    assert learning.status == "accepted" and learning.result_version.version == "1.1"


@pytest.mark.parametrize("name", ["index", "export", "rollback", "preview", "decide", "template"])
def test_outsider_gets_404_on_settings(outsider_client, stale_deal, agent, team, name):
    plan, _ = plans.plan_for_deal(deal=stale_deal)
    fb = feedback.record_feedback(plan=plan, actor=agent, type="negative", text="keep under 60 words")
    learning = Learning.objects.get(feedback=fb)
    template = PromptTemplate.objects.create(team=team, name="t", body="{{company_context}}")
    url, method = {
        "index": (reverse("plans:index") + f"?team={team.pk}", "get"),
        "export": (reverse("plans:context_export") + f"?team={team.pk}", "get"),
        "rollback": (reverse("plans:context_rollback", args=[0]) + f"?team={team.pk}", "post"),
        "preview": (reverse("plans:learning_preview", args=[learning.pk]), "get"),
        "decide": (reverse("plans:learning_decide", args=[learning.pk]), "post"),
        "template": (reverse("plans:template_edit", args=[template.pk]) + f"?team={team.pk}", "get"),
    }[name]
    response = outsider_client.get(url) if method == "get" else outsider_client.post(url, {"decision": "accept"})
    assert response.status_code == 404
    assert ContextVersion.objects.filter(team=team).count() == 1
