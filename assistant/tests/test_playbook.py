import pytest

from assistant import search
from assistant.models import Passage
from assistant.playbook import import_playbook, parse_markdown
from crm.errors import ServiceError

pytestmark = pytest.mark.django_db


def test_sample_pdf_is_split_into_sections_with_page_numbers(playbook):
    passages = list(playbook.passages.all())
    assert playbook.kind == "pdf"
    assert playbook.pages == 3
    pricing = next(p for p in passages if p.heading == "Discussing 2026 pricing")
    assert pricing.page == 1
    assert "15 January 2026" in pricing.text
    products = next(p for p in passages if p.heading == "Product recommendations by industry and spend")
    assert products.page == 2
    assert "Mobile App Banners and Online Display Ads" in products.text


def test_markdown_sections_become_passages_under_their_heading():
    drafts = parse_markdown(
        "# Title\nIntro line.\n\n## Discounts\nUp to 10% without approval.\n\n## Travel\nBook economy."
    )
    assert [(d.heading, d.text) for d in drafts] == [
        ("Title", "Intro line."),
        ("Discounts", "Up to 10% without approval."),
        ("Travel", "Book economy."),
    ]


def test_pdf_without_text_layer_is_reported_as_such(team):
    from assistant.sample_data.make_pdf import build

    blank = build("")  # one page, no text drawn
    with pytest.raises(ServiceError, match="no text layer"):
        import_playbook(team=team, data=blank, file_name="scan.pdf")


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (b"", "empty.md", "empty"),
        (b"\x00\x01\x02binary", "notes.txt", "binary"),
        ("caf\xe9".encode("latin-1"), "latin.txt", "not UTF-8"),
        (b"%PDF-1.4 broken", "broken.pdf", "not a readable PDF"),
    ],
)
def test_bad_files_are_refused_with_the_reason_and_nothing_is_stored(team, data, name, reason):
    with pytest.raises(ServiceError, match=reason):
        import_playbook(team=team, data=data, file_name=name)
    assert not Passage.objects.exists()


def test_reimport_replaces_the_passages_at_once_and_search_sees_only_the_new_text(team):
    first = import_playbook(
        team=team, data=b"## Travel\nBook economy class for flights.", file_name="p.md", title="Policies"
    )
    old_ids = set(first.passages.values_list("pk", flat=True))
    second = import_playbook(
        team=team, data=b"## Travel\nBook rail where possible.", file_name="p.md", title="Policies"
    )
    assert second.pk == first.pk
    assert old_ids.isdisjoint(second.passages.values_list("pk", flat=True))
    assert search.search([team.pk], "economy flights") == []
    hits = search.search([team.pk], "rail")
    assert [Passage.objects.get(pk=h.passage_id).text for h in hits] == ["Book rail where possible."]


def test_search_ranks_the_pricing_policy_first_and_stays_inside_the_team(playbook, other_team):
    hits = search.search([playbook.team_id], "What is our policy on discussing 2026 pricing?")
    top = Passage.objects.get(pk=hits[0].passage_id)
    assert top.heading == "Discussing 2026 pricing"
    assert search.search([other_team.pk], "2026 pricing") == []


def test_search_with_no_content_words_returns_nothing(playbook):
    assert search.search([playbook.team_id], "what is the") == []
