"""`manage.py sales_action`: the seed's subcommands and options, exit codes."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from llm import use_provider
from llm.testing import FakeProvider
from nudges import context
from nudges.models import Learning, Plan

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command("sales_action", *args, stdout=out)
    return out.getvalue()


def test_recommend_prints_the_overview_and_sections_and_saves_files(stale_deal, tmp_path):
    stale_deal.external_id = "690daec017db693613964d23"
    stale_deal.save()
    out = run("recommend", "690daec017db693613964d23", "-c", "Q4 product launch", "-o", str(tmp_path / "r.json"),
              "-m", str(tmp_path / "s.md"), "-v")  # fmt: skip
    assert "Recommendation Overview" in out and "TechGiant renewal" in out and "P0 Actions" in out
    assert "Priority 0 Actions (Execute Today)" in out and "Priority 2 Actions" in out and "deal_hash" in out
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["recommendation_id"].startswith("rec_") and data["campaign_context"] == "Q4 product launch"
    assert (tmp_path / "s.md").read_text().startswith("# Sales Action Strategy - TechGiant renewal")


def test_recommend_twice_is_served_from_cache_without_a_model_call(stale_deal):
    run("recommend", str(stale_deal.pk))
    fake = FakeProvider([])
    with use_provider(fake):
        out = run("recommend", str(stale_deal.pk))
    assert "cache" in out and fake.requests == [] and Plan.objects.count() == 1
    run("recommend", str(stale_deal.pk), "--force-refresh")
    assert Plan.objects.count() == 2


def test_unknown_deal_exits_2(db):
    with pytest.raises(CommandError) as err:
        run("recommend", "nope")
    assert err.value.returncode == 2 and "nope" in str(err.value)


def test_prompt_file_missing_or_without_placeholder_is_refused_before_any_model_call(stale_deal, tmp_path):
    fake = FakeProvider([])
    bad = tmp_path / "p.md"
    bad.write_text("Write a plan.")
    with use_provider(fake):
        with pytest.raises(CommandError) as missing:
            run("recommend", str(stale_deal.pk), "--prompt-file", str(tmp_path / "none.md"))
        with pytest.raises(CommandError) as refused:
            run("recommend", str(stale_deal.pk), "--prompt", str(bad))
    assert "does not exist" in str(missing.value) and "{{company_context}}" in str(refused.value)
    assert fake.requests == [] and not Plan.objects.exists()
    good = tmp_path / "g.md"
    good.write_text("Enterprise tone.\n{{company_context}}")
    run("recommend", str(stale_deal.pk), "--prompt-file", str(good))
    assert Plan.objects.count() == 1


def test_feedback_flow(stale_deal, settings, team):
    settings.PLANS_LEARNING_APPROVAL = False  # the seed applies learnings at once
    run("recommend", str(stale_deal.pk))
    rec = Plan.objects.get().public_id
    out = run("feedback", rec, "--type", "negative", "--text", "Email too long, keep under 150 words")
    assert "Keep cold outreach emails under 150 words" in out and "1.0 → 1.1" in out
    assert "under 150 words" in context.current(team.pk).sections["Email Engagement Learnings"]
    with pytest.raises(CommandError) as err:
        run("feedback", "rec_unknown", "--type", "positive", "--text", "x")
    assert err.value.returncode == 2 and "rec_unknown" in str(err.value)
    with pytest.raises(CommandError):
        run("feedback", rec, "--type", "positive", "--text", "x", "--deal-id", "999999")


def test_feedback_waits_for_approval_by_default(stale_deal):
    run("recommend", str(stale_deal.pk))
    out = run("feedback", Plan.objects.get().public_id, "-t", "neutral", "--text", "LinkedIn message could be improved",
              "--improvement", "Add reference to mutual connections", "--priority", "P1", "--channel", "linkedin")  # fmt: skip
    assert "waiting for a manager" in out and Learning.objects.get().section == "LinkedIn Outreach Learnings"


def test_cache_info_and_clear(stale_deal):
    run("recommend", str(stale_deal.pk))
    assert "Total recommendations" in run("cache-info") and "60 minutes" in run("cache-info")
    with pytest.raises(CommandError):
        run("cache-clear")
    assert "Cleared 1" in run("cache-clear", "--yes")


def test_context_init_export_import(team, tmp_path):
    out = run("context-init", "--export", str(tmp_path / "c.md"))
    assert "blue: company context 1.0" in out
    text = (tmp_path / "c.md").read_text()
    assert text.startswith("# Company Context - Blue Team\n\nVersion: 1.0")
    (tmp_path / "c.md").write_text(text.replace("Describe the ideal customer profile", "Retailers"))
    assert "1.1" in run("context-import", str(tmp_path / "c.md"))
    (tmp_path / "bad.md").write_text("# T\nstray\n")
    with pytest.raises(CommandError) as err:
        run("context-import", str(tmp_path / "bad.md"))
    assert "line 2" in str(err.value) and context.current(team.pk).version == "1.1"
