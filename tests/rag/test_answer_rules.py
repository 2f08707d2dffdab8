"""The offline answerer's rules for which sentence answers and how its answer is written, each on short
hand-made articles (invented people, teams and places) in one real store with the bundled embedder.

Each question is restricted to its own articles (`Query.article_ids`), so the groups cannot disturb one
another; the question-reading rules these depend on are checked on their own at the end (no store).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from ingest.loaders.base import LoadedItem
from ingest.pipeline import ingest
from ingest.validate import RawArticle, validate
from rag.answer.base import AnswerContext, Draft
from rag.answer.extractive import ExtractiveAnswerer
from rag.chain import NewsQA
from rag.embeddings import Embedder
from rag.models import Answer, Query
from rag.question import read_question, spans, stem
from rag.runtime import Runtime
from rag.settings import Settings
from rag.store import make_store

# (title, outlet, published, body), grouped by the question they are written for.
ARTICLES: dict[str, list[tuple[str, str, str, str]]] = {
    # a team named in full in a preview, shortly in the match report
    "cup": [
        (
            "Gulls lift the Lakeshore Cup",
            "Corran Sports",
            "2025-05-12",
            "The Gulls won the Lakeshore Cup final 3-1 on Sunday after two late goals. "
            "Fans filled the town square in the evening.",
        ),
        (
            "Lakeshore Cup final preview",
            "Lakeside Echo",
            "2025-05-09",
            "The Harbourside Gulls meet the Brackwater Rovers in the Lakeshore Cup final on Sunday. "
            "Both clubs expect a full ground.",
        ),
    ],
    # a person named in full once, then by surname; another report names a namesake twice
    "fraud": [
        (
            "Lottery official sentenced in Dunmore",
            "Dunmore Courier",
            "2025-03-07",
            "Marta Okonkwo-Reyes ran the regional lottery office in Dunmore for nine years. "
            "On Thursday a judge sentenced Okonkwo-Reyes to twelve years in prison for the lottery fraud. "
            "Her lawyers said she would appeal.",
        ),
        (
            "Prosecutor closes lottery case",
            "Valley Post",
            "2025-03-08",
            "The prosecutor, Tomas Okonkwo-Reyes, said the lottery fraud had cost the region millions. "
            "Tomas Okonkwo-Reyes, who is not related to the defendant, will retire next year.",
        ),
    ],
    # a multi-hop description: three reports give one name, one strong sentence another
    "chef": [
        (
            "Floating restaurant opens at Pelling",
            "Pelling Gazette",
            "2025-04-02",
            "Ines Harrowgate opened a floating restaurant at the old Pelling docks last spring. "
            "Diners reach it by a short wooden gangway.",
        ),
        (
            "Corvale pastry medal awarded",
            "Corvale Times",
            "2025-06-10",
            "The regional pastry medal in Corvale went to Ines Harrowgate for her plum tart. "
            "Judges tasted forty entries over two days.",
        ),
        (
            "Tamsin academy hires teachers",
            "Tamsin Weekly",
            "2025-09-01",
            "At the Tamsin academy, young cooks now learn knife skills from Ines Harrowgate. "
            "The academy takes twenty students a year.",
        ),
        (
            "Chef plans docks venue",
            "Food Trade Daily",
            "2025-02-20",
            "Oskar Brill, a chef who teaches young cooks at the Tamsin academy, won the regional pastry medal in "
            "Corvale and plans a floating restaurant at the old Pelling docks. "
            "He has not said when it would open.",
        ),
    ],
    # the names of the question far from one count, the act itself next to the other
    "dive": [
        (
            "Divers return from under the ice",
            "Polar Notes",
            "2025-02-14",
            "Ines Kovalenko and Piet Marlow went under the ice at Kessel Sound in January for a survey that the "
            "station, somewhat hopefully, had planned to last about three days. "
            "Kovalenko and Marlow spent 41 days under the ice in the end. "
            "Both are said to be in good health.",
        ),
    ],
    # on topic, but the only date is in a dateline that says nothing of what is asked
    "bridge": [
        (
            "Fennick bridge repairs",
            "Dunmore Courier",
            "2025-03-03",
            "Mar 3, 2025 · Dunmore · Roads and transport news about river crossings and repairs. "
            "The Fennick bridge over the river will reopen once the repairs are finished, the council said. "
            "Crews are replacing the deck and the railings.",
        ),
    ],
    # the event's own name comes first among the names of the answering sentence
    "marathon": [
        (
            "Record run in Corvale",
            "Corran Sports",
            "2024-10-05",
            "At the 2024 Corvale Marathon Championships, Priya Castellane won in record time. "
            "She finished almost two minutes ahead of the field.",
        ),
    ],
    # a prize split in two, named in the headline; the giver and another prize's winners in the same report
    "prize": [
        (
            "Kessel Prize in Geology goes to Anouk Verhaegen, Lio Marsh and Tomas Brill",
            "Pelling Gazette",
            "2025-10-08",
            "The Kessel Foundation on Tuesday awarded the 2025 Kessel Prize in Geology for work on glaciers. "
            "Half of the prize went to Anouk Verhaegen of the University of Dunmore for dating ice cores. "
            "The other half was shared by Lio Marsh and Tomas Brill of the Pelling Institute for mapping glaciers. "
            "It came a day after the 2025 Kessel Prize in Chemistry was awarded to Hana Sato and Ruben Okafor.",
        ),
    ],
    # a winner described, never named: a nationality opens the sentence, voters "chose"
    "race": [
        (
            "Dunmore cycle race ends in the rain",
            "Corran Sports",
            "2025-06-30",
            "After years of trying, a Colombian has finally won the Dunmore Cycle Race, the first win for the "
            "country. Colombian fans lined the last climb. Riders said the rain made the descent dangerous.",
        ),
    ],
    # a topic reported twice: the newest report's opening is the latest news
    "toll": [
        (
            "Council proposes a toll on the Fennick bridge",
            "Dunmore Courier",
            "2025-01-10",
            "The Dunmore council proposed a toll on the Fennick bridge on Friday to pay for its repairs. "
            "Drivers would pay two pounds a crossing. A vote is expected in the spring.",
        ),
        (
            "Fennick bridge toll dropped",
            "Valley Post",
            "2025-04-02",
            "The Dunmore council dropped its plan for a toll on the Fennick bridge on Tuesday. "
            "Councillors voted 9-2 against it after a petition gathered 12,000 names. "
            "The repairs will be paid from the roads budget instead. "
            "The council said the toll would have cost drivers two pounds a crossing.",
        ),
    ],
    # two reports name different directors of one film
    "film": [
        (
            "Harbour Lights opens the Dunmore festival",
            "Dunmore Courier",
            "2025-08-01",
            "Harbour Lights, directed by Ines Kovalenko, opened the Dunmore film festival on Friday. "
            "The film follows two lighthouse keepers through one winter.",
        ),
        (
            "Festival opener divides critics",
            "Valley Post",
            "2025-08-03",
            "Harbour Lights, directed by Piet Marlow, divided critics at the Dunmore film festival. "
            "Some praised its long silent scenes.",
        ),
    ],
}

CUP = "Which team won the Lakeshore Cup final on Sunday?"
FRAUD = "Who was sentenced to twelve years in prison for the lottery fraud?"
CHEF = (
    "Who is the chef that opened a floating restaurant at the old Pelling docks, won the regional pastry medal "
    "in Corvale, and now teaches young cooks at the Tamsin academy?"
)
DIVE = "How many days did Ines Kovalenko and Piet Marlow spend under the ice?"
BRIDGE = "When will the Fennick bridge reopen?"
MARATHON = "Who won the Corvale Marathon in 2024?"
PRIZE = "Who won the 2025 Kessel Prize in Geology?"
RACE = "Who won the Dunmore Cycle Race?"
TOLL = "What is the latest on the Fennick bridge toll?"
FILM = "Who directed Harbour Lights?"


class Newsroom:
    """The store with every group ingested, and a way to ask within one group."""

    def __init__(self, runtime: Runtime, ids: dict[str, tuple[str, ...]]) -> None:
        self.runtime = runtime
        self.ids = ids
        self.qa = NewsQA(runtime)

    def ask(self, group: str, question: str) -> Answer:
        return self.qa.ask(Query(question=question, article_ids=self.ids[group]))

    def draft(self, group: str, question: str) -> tuple[Draft, AnswerContext]:
        retrieval = self.qa.retriever.retrieve(Query(question=question, article_ids=self.ids[group]))
        context = AnswerContext(question, retrieval.hits, datetime.now(UTC), query_vector=retrieval.query_vector)
        answerer = self.qa.answerer
        assert isinstance(answerer, ExtractiveAnswerer)
        return answerer.draft(context), context

    def body(self, article_id: str) -> str:
        article = self.runtime.store.catalog.get(article_id)
        assert article is not None
        return article.body


@pytest.fixture(scope="module")
def newsroom(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Newsroom]:
    settings = Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("answer-rules") / "data")
    rt = Runtime(settings=settings, embedder=embedder, store=make_store(settings, embedder.name))
    ids: dict[str, tuple[str, ...]] = {}
    items: list[LoadedItem] = []
    for group, articles in ARTICLES.items():
        for i, (title, source, published, body) in enumerate(articles):
            raw = RawArticle(
                title=title, body=body, url=f"https://example.test/{group}/{i}", source=source, published_at=published
            )
            article = validate(raw, settings.max_article_chars)
            ids[group] = (*ids.get(group, ()), article.id)
            items.append(LoadedItem("rules", f"{group}-{i}", article=article))
    assert ingest(items, rt.store, rt.embedder, settings).added == len(items)
    room = Newsroom(rt, ids)
    yield room
    room.qa.close()
    rt.close()


def assert_valid(answer: Answer, room: Newsroom) -> None:
    """Markers and citations agree, every quote is verbatim at its offsets, the short answer is in its quote."""
    import re

    numbers = sorted({int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)})
    assert numbers == [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    for citation in answer.citations:
        assert room.body(citation.article_id)[citation.start : citation.end] == citation.quote
    if answer.short_answer is not None:
        assert answer.short_answer.text in answer.citations[answer.short_answer.citation - 1].quote
    if answer.refused:
        assert answer.refusal_reason is not None and not answer.citations


def quote_of_short_answer(answer: Answer) -> str:
    assert answer.short_answer is not None, answer.answer
    return answer.citations[answer.short_answer.citation - 1].quote


# ---------- 1. names in full, as the sources write them ----------
def test_a_team_named_shortly_is_answered_by_the_full_name_another_report_writes(newsroom: Newsroom) -> None:
    answer = newsroom.ask("cup", CUP)
    assert not answer.refused, answer.answer
    assert answer.short_answer is not None and answer.short_answer.text == "Harbourside Gulls"
    # the answering sentence still leads; the sentence that writes the name in full is quoted for it
    assert answer.answer.splitlines()[0].endswith(
        "“The Gulls won the Lakeshore Cup final 3-1 on Sunday after two late goals.” [1]"
    )
    quote = quote_of_short_answer(answer)
    assert quote.startswith("The Harbourside Gulls meet the Brackwater Rovers")
    assert answer.citations[answer.short_answer.citation - 1].source == "Lakeside Echo"
    assert_valid(answer, newsroom)


def test_a_surname_is_answered_by_the_full_name_from_the_answers_own_article(newsroom: Newsroom) -> None:
    """The other report names a namesake twice; the answering sentence's own article decides."""
    draft, context = newsroom.draft("fraud", FRAUD)
    assert not draft.refused and draft.short_answer is not None, draft.text
    assert draft.short_answer.text == "Marta Okonkwo-Reyes"
    lines = draft.text.splitlines()
    assert "a judge sentenced Okonkwo-Reyes to twelve years" in lines[0]
    assert any("“Marta Okonkwo-Reyes ran the regional lottery office" in line for line in lines[1:])
    hit = context.hits[draft.short_answer.citation - 1]
    assert draft.short_answer.text in hit.text and f"[{draft.short_answer.citation}]" in draft.text
    assert "Tomas" not in draft.text


def test_a_full_name_from_the_same_passage_survives_into_the_answer(newsroom: Newsroom) -> None:
    answer = newsroom.ask("fraud", FRAUD)
    assert answer.short_answer is not None and answer.short_answer.text == "Marta Okonkwo-Reyes"
    assert_valid(answer, newsroom)


# ---------- 2. multi-hop: the name most reports support ----------
def test_a_multi_hop_description_is_answered_by_the_name_most_reports_give(newsroom: Newsroom) -> None:
    assert len(read_question(CHEF).key_terms) >= 12  # a long question: the rule's premise
    answer = newsroom.ask("chef", CHEF)
    assert not answer.refused, answer.answer
    assert answer.short_answer is not None and answer.short_answer.text == "Ines Harrowgate"
    assert "Ines Harrowgate" in answer.answer.splitlines()[0]
    assert len({c.article_id for c in answer.citations if "Ines Harrowgate" in c.quote}) >= 2
    assert_valid(answer, newsroom)


# ---------- 3. the key terms near the answer span ----------
def test_the_count_next_to_the_asked_act_beats_one_far_from_the_names(newsroom: Newsroom) -> None:
    answer = newsroom.ask("dive", DIVE)
    assert not answer.refused, answer.answer
    assert answer.short_answer is not None and answer.short_answer.text == "41 days"
    assert quote_of_short_answer(answer) == "Kovalenko and Marlow spent 41 days under the ice in the end."
    assert "about three days" not in answer.answer.splitlines()[0]
    assert_valid(answer, newsroom)


# ---------- 4. a bearing sentence itself says some of what is asked ----------
def test_a_dateline_in_an_on_topic_passage_does_not_answer_when(newsroom: Newsroom) -> None:
    answer = newsroom.ask("bridge", BRIDGE)
    assert answer.refused and answer.refusal_reason == "not_in_sources", answer.answer
    assert "Mar 3, 2025" not in answer.answer
    assert answer.sources  # on topic: the passage is still listed
    assert_valid(answer, newsroom)


# ---------- 5. a name the question uses is not who or where ----------
def test_the_events_own_name_is_not_who_won_it(newsroom: Newsroom) -> None:
    answer = newsroom.ask("marathon", MARATHON)
    assert not answer.refused, answer.answer
    assert answer.short_answer is not None and answer.short_answer.text == "Priya Castellane"
    assert_valid(answer, newsroom)


def test_person_spans_sharing_a_word_with_a_name_in_the_question_are_dropped() -> None:
    plan = read_question("Who won the Corvale Marathon in 2024?")
    sentence = "At the 2024 Corvale Marathon Championships, Priya Castellane won in record time."
    assert [s.text for s in spans(sentence, plan)] == ["Priya Castellane"]


# ---------- 6. "U.S." and "US" are one word ----------
def test_dotted_and_plain_initials_stem_alike() -> None:
    assert stem("U.S.") == stem("US") == stem("us")
    assert stem("U.K.") == stem("UK")


def test_a_country_the_question_writes_with_dots_is_not_the_answer_when_written_without() -> None:
    plan = read_question("Which team did the U.S. beat in the final?")
    assert [s.text for s in spans("The US team beat Canada 2-1 in the final.", plan)] == ["Canada"]


# ---------- 7. who won: the prize "went to", the headline's name leads, a split prize is quoted whole ----------
def test_a_prize_that_went_to_its_winners_is_answered_with_all_of_them(newsroom: Newsroom) -> None:
    answer = newsroom.ask("prize", PRIZE)
    assert not answer.refused, answer.answer
    assert answer.short_answer is not None and answer.short_answer.text == "Anouk Verhaegen"
    lines = answer.answer.splitlines()
    assert "Half of the prize went to Anouk Verhaegen" in lines[0]
    assert "The other half was shared by Lio Marsh and Tomas Brill" in lines[1]
    assert "Hana Sato" not in answer.answer  # the chemistry prize's winners
    assert not answer.conflicts  # three winners in one report: no disagreement
    assert_valid(answer, newsroom)


# ---------- 8. a one-word "name" that the passages never use as a name does not answer who ----------
def test_a_nationality_or_a_sentences_first_word_is_not_who_won(newsroom: Newsroom) -> None:
    answer = newsroom.ask("race", RACE)
    assert answer.refused and answer.refusal_reason == "not_in_sources", answer.answer
    assert_valid(answer, newsroom)


# ---------- 9. "the latest on X": the newest report's opening, in its order ----------
def test_the_latest_on_a_topic_quotes_the_newest_reports_opening(newsroom: Newsroom) -> None:
    answer = newsroom.ask("toll", TOLL)
    assert not answer.refused, answer.answer
    lines = answer.answer.splitlines()
    assert len(lines) == 3 and all(line.startswith("Valley Post (2025-04-02)") for line in lines)
    assert "dropped its plan for a toll" in lines[0]
    assert "voted 9-2 against it" in lines[1]
    assert "paid from the roads budget" in lines[2]
    assert_valid(answer, newsroom)


# ---------- 10. reports that give different names for one are named, as differing figures are ----------
def test_reports_naming_different_directors_are_said_to_differ(newsroom: Newsroom) -> None:
    answer = newsroom.ask("film", FILM)
    assert not answer.refused, answer.answer
    assert len(answer.conflicts) == 1
    conflict = answer.conflicts[0]
    assert "Ines Kovalenko" in conflict and "Piet Marlow" in conflict
    assert "Dunmore Courier (2025-08-01)" in conflict and "Valley Post (2025-08-03)" in conflict
    assert_valid(answer, newsroom)
