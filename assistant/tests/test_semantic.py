"""Optional semantic search: fusion is pure and always tested; embedding tests need
requirements-semantic.txt and skip with the reason otherwise (CI runs them in their own leg)."""

import pytest

from assistant import semantic

needs_model = pytest.mark.skipif(
    not semantic.installed(), reason="semantic search not installed (pip install -r requirements-semantic.txt)"
)


@pytest.fixture
def semantic_on(settings):
    settings.ASSISTANT_SEMANTIC = "auto"


def test_reciprocal_rank_fusion_rewards_agreement_between_rankings():
    fused = semantic.fuse([1, 2, 3], [3, 1, 4], limit=3)
    assert [pk for pk, _ in fused] == [1, 3, 2]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)


def test_fusion_of_one_ranking_keeps_its_order():
    assert [pk for pk, _ in semantic.fuse([5, 9, 7], limit=10)] == [5, 9, 7]


@pytest.mark.django_db
def test_without_the_package_search_is_lexical_and_embed_command_says_how_to_install(settings, team):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    settings.ASSISTANT_SEMANTIC = "off"
    assert semantic.available() is False
    with pytest.raises(CommandError, match="requirements-semantic.txt"):
        call_command("embed_playbook")


@pytest.mark.semantic
@needs_model
@pytest.mark.django_db
def test_semantic_search_finds_a_passage_that_shares_no_word_with_the_question(team, semantic_on):
    from assistant import tools
    from assistant.models import PassageEmbedding
    from assistant.playbook import import_playbook

    doc = import_playbook(
        team=team,
        data=b"## Travel\nBook economy class for flights under six hours.\n\n## Gifts\nDo not accept presents worth more than 50 pounds.",
        file_name="p.md",
    )
    assert PassageEmbedding.objects.filter(passage__document=doc).count() == 2
    hits = tools.ranked_passages({team.pk}, "aeroplane seating rules", 1)
    assert doc.passages.get(pk=hits[0][0]).heading == "Travel"


@pytest.mark.semantic
@needs_model
@pytest.mark.django_db
def test_hybrid_recall_at_5_is_at_least_lexical_on_the_dataset(semantic_on, capsys):
    from assistant.evaluation import retrieval_recall

    figures = retrieval_recall(k=5)
    with capsys.disabled():
        print(f"\nrecall@5 of expected playbook passages: {figures}")
    assert figures["hybrid"]["recall"] >= figures["lexical"]["recall"]


@pytest.mark.semantic
@needs_model
def test_embeddings_are_memoised_per_text_so_a_reimport_embeds_only_what_changed(monkeypatch):
    import numpy as np

    monkeypatch.setattr(semantic, "_memo", semantic.OrderedDict())
    first = semantic.embed(["Discounts up to 10%.", "Payment terms are 30 days."])
    model = semantic._model()
    encoded: list[list[str]] = []
    real = model.encode
    monkeypatch.setattr(model, "encode", lambda texts, **kw: encoded.append(list(texts)) or real(texts, **kw))
    again = semantic.embed(["Payment terms are 30 days.", "Renewals start at 120 days.", "Discounts up to 10%."])
    assert encoded == [["Renewals start at 120 days."]]
    np.testing.assert_array_equal(again[0], first[1])
    np.testing.assert_array_equal(again[2], first[0])
    monkeypatch.setattr(semantic, "MEMO_SIZE", 2)
    semantic.embed(["one more text"])
    assert len(semantic._memo) == 2 and "Discounts up to 10%." not in semantic._memo  # least recently used goes
