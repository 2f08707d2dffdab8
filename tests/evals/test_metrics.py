"""Eval metrics on hand-made cases, with the expected numbers worked out by hand."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from evals import metrics as m

# ----------------------------------------------------------------- retrieval

RANKED = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"]


def test_hits_at_k_is_any_gold_in_top_k() -> None:
    assert m.hits_at_k(RANKED, {"c"}, 3) == 1.0
    assert m.hits_at_k(RANKED, {"c"}, 2) == 0.0
    assert m.hits_at_k(RANKED, {"c", "z"}, 4) == 1.0  # one of two is enough
    assert m.hits_at_k(RANKED, {"k"}, 10) == 0.0  # 11th place is outside the top 10


def test_recall_at_k_counts_all_gold_items() -> None:
    assert m.recall_at_k(RANKED, {"a", "d"}, 4) == 1.0
    assert m.recall_at_k(RANKED, {"a", "d"}, 3) == 0.5
    assert m.recall_at_k(RANKED, {"a", "z", "y", "x"}, 10) == 0.25  # gold that was never retrieved counts
    assert m.recall_at_k([], {"a"}, 10) == 0.0


def test_duplicates_count_once_at_their_best_rank() -> None:
    ranked = ["a", "a", "a", "b"]
    assert m.dedupe(ranked) == ["a", "b"]
    assert m.recall_at_k(ranked, {"b"}, 2) == 1.0  # b is the 2nd distinct article
    assert m.mrr_at_k(ranked, {"b"}) == 0.5


def test_mrr_at_k() -> None:
    assert m.mrr_at_k(RANKED, {"a"}) == 1.0
    assert m.mrr_at_k(RANKED, {"c", "e"}) == pytest.approx(1 / 3)
    assert m.mrr_at_k(RANKED, {"k"}, 10) == 0.0
    assert m.mrr_at_k(RANKED, {"k"}, 11) == pytest.approx(1 / 11)


def test_ndcg_at_k_by_hand() -> None:
    # gold at ranks 1 and 3 of two gold items: (1 + 1/log2(4)) / (1 + 1/log2(3))
    expected = (1 + 1 / 2) / (1 + 1 / math.log2(3))
    assert m.ndcg_at_k(RANKED, {"a", "c"}) == pytest.approx(expected)
    assert m.ndcg_at_k(RANKED, {"a", "b"}) == pytest.approx(1.0)
    assert m.ndcg_at_k(RANKED, {"z"}) == 0.0
    # more gold than k: the ideal ranking fills all k places
    assert m.ndcg_at_k(["a", "b"], {"a", "b", "c"}, k=2) == pytest.approx(1.0)


def test_retrieval_metrics_refuse_empty_gold_and_bad_k() -> None:
    with pytest.raises(ValueError):
        m.recall_at_k(RANKED, set(), 10)
    with pytest.raises(ValueError):
        m.hits_at_k(RANKED, {"a"}, 0)


# ----------------------------------------------------------------- answers


def test_normalize_answer() -> None:
    assert m.normalize_answer("The $13 Billion!") == "13 billion"
    assert m.normalize_answer("An apple, a day [1][2]") == "apple day"
    assert m.normalize_answer("2,104 asteroids") == m.normalize_answer("2104 asteroids")
    assert m.normalize_answer("  Sam   Bankman-Fried. ") == "sam bankman fried"
    assert m.normalize_answer("“Yes” [1, 2]") == "yes"


def test_exact_match_and_contains_are_separate() -> None:
    assert m.exact_match("The Google.", "google")
    assert m.exact_match("Google [1]", ["Microsoft", "Google"])
    assert not m.exact_match("Google said so", "google")
    assert m.contains_match("Google said so [1]", "google")
    assert m.contains_match("Microsoft has invested $13 billion in OpenAI [1].", "$13 billion")
    assert not m.contains_match("It invested $130 billion", "$13 billion")  # whole words, not substrings
    assert not m.contains_match("", "x")
    assert not m.exact_match("", "")


def test_yes_no() -> None:
    assert m.extract_yes_no("Yes, the Fed cut rates [1].") == "yes"
    assert m.extract_yes_no("No. It fell 17% [1].") == "no"
    assert m.extract_yes_no("Nvidia shares fell about 17%.") is None
    assert m.yes_no_match("Yes, it did.", "Yes")
    assert not m.yes_no_match("No, it did not.", "yes")
    assert not m.yes_no_match("Nobody knows.", "no")  # 'nobody' is not 'no'


def test_contains_all_groups() -> None:
    text = "Tech Times says $13 billion [1]; The Ledger Review says more than $14 billion [2]."
    assert m.contains_all(text, ["13 billion", "14 billion"])
    assert m.contains_all(text, [["twelve", "13 billion"], "14 billion"])
    assert not m.contains_all(text, ["13 billion", "15 billion"])
    assert m.contains_all(text, [])


# ----------------------------------------------------------------- citations


@dataclass(frozen=True)
class C:
    n: int
    article_id: str
    quote: str
    start: int
    end: int


BODY = "Microsoft has invested $13 billion. It added $1 billion in 2024."
BODIES = {"a1": BODY}


def test_markers_parsing() -> None:
    assert m.markers("x [1] y [2, 3] z [10]") == [1, 2, 3, 10]
    assert m.markers("no markers, [a] or [] here") == []


def test_valid_citations() -> None:
    quote = "Microsoft has invested $13 billion."
    check = m.check_citations("It invested $13 billion [1].", [C(1, "a1", quote, 0, len(quote))], BODIES)
    assert check.valid and check.problems == []
    assert check.markers == 1 and check.citations == 1


def test_dangling_marker_is_invalid() -> None:
    quote = "Microsoft has invested $13 billion."
    check = m.check_citations("Yes [1] and [2].", [C(1, "a1", quote, 0, len(quote))], BODIES)
    assert not check.valid
    assert check.dangling_markers == (2,)


def test_quote_must_be_verbatim_at_offsets() -> None:
    quote = "Microsoft has invested $13 billion."
    shifted = C(1, "a1", quote, 1, len(quote) + 1)
    paraphrase = C(2, "a1", "Microsoft invested $13 billion.", 0, 31)
    check = m.check_citations("A [1] B [2]", [shifted, paraphrase], BODIES)
    assert check.bad_quotes == (1, 2) and not check.valid
    out_of_range = m.check_citations("A [1]", [C(1, "a1", "x", 500, 501)], BODIES)
    assert out_of_range.bad_quotes == (1,)


def test_unknown_article_and_duplicate_numbers_are_invalid() -> None:
    quote = "It added $1 billion in 2024."
    start = BODY.index(quote)
    ok = C(1, "a1", quote, start, start + len(quote))
    assert m.check_citations("A [1]", [C(1, "zz", quote, start, start + len(quote))], BODIES).unknown_articles == (1,)
    assert m.check_citations("A [1]", [ok, ok], BODIES).duplicate_numbers == (1,)


def test_unreferenced_citation_is_reported_but_not_invalid() -> None:
    quote = "Microsoft has invested $13 billion."
    check = m.check_citations("No markers here.", [C(1, "a1", quote, 0, len(quote))], BODIES)
    assert check.valid and check.unreferenced == (1,)


def test_refusal_without_citations_is_valid() -> None:
    assert m.check_citations("The sources do not say.", [], BODIES).valid


def test_citation_precision_recall() -> None:
    assert m.citation_precision(["a", "b"], {"a", "c"}) == 0.5
    assert m.citation_recall(["a", "b"], {"a", "c", "d", "e"}) == 0.25
    assert m.citation_precision(["a", "a"], {"a"}) == 1.0
    assert m.citation_precision([], {"a"}) is None
    assert m.citation_recall(["a"], set()) is None


# ----------------------------------------------------------------- refusals


def test_refusal_scores() -> None:
    # (should_refuse, refused): 2 right refusals, 1 wrong refusal, 1 missed, 2 right answers
    pairs = [(True, True), (True, True), (False, True), (True, False), (False, False), (False, False)]
    s = m.refusal_scores(pairs)
    assert (s.tp, s.fp, s.fn, s.tn) == (2, 1, 1, 2)
    assert s.precision == pytest.approx(2 / 3)
    assert s.recall == pytest.approx(2 / 3)
    assert s.f1 == pytest.approx(2 / 3)


def test_refusal_scores_edge_cases() -> None:
    never = m.refusal_scores([(True, False), (False, False)])
    assert never.precision is None and never.recall == 0.0 and never.f1 is None
    wrong = m.refusal_scores([(False, True), (True, False)])
    assert wrong.precision == 0.0 and wrong.recall == 0.0 and wrong.f1 == 0.0
    assert m.refusal_scores([]).recall is None


# ----------------------------------------------------------------- latency


def test_percentile_matches_linear_interpolation() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert m.percentile(values, 50) == 25.0
    assert m.percentile(values, 95) == pytest.approx(38.5)
    assert m.percentile([7.0], 95) == 7.0
    assert m.percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    with pytest.raises(ValueError):
        m.percentile([], 50)


def test_latency_summary_and_mean() -> None:
    s = m.latency_summary([1.0, 2.0, 3.0, 100.0])
    assert s["n"] == 4 and s["p50"] == 2.5 and s["max"] == 100.0
    assert m.latency_summary([]) == {"n": 0}
    assert m.mean([True, False, None, 1.0]) == pytest.approx(2 / 3)
    assert m.mean([None]) is None


def test_an_entity_answer_is_exact_when_its_short_answer_is() -> None:
    from evals.runner import score_answer
    from evals.suites.model import SuiteItem
    from rag.models import Answer, ShortAnswer

    item = SuiteItem(id="q", question="Who led the round?", answer=("Thrive Capital",), answer_type="entity")
    quoted = Answer(question=item.question, answer="Wire (2024-10-02): “Thrive Capital led the round.”")
    assert score_answer(item, quoted, [], {}).exact_match is False
    short = quoted.model_copy(update={"short_answer": ShortAnswer(text="Thrive Capital", citation=1)})
    scores = score_answer(item, short, [], {})
    assert scores.exact_match is True and scores.contains is True
