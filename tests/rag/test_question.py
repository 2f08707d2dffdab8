"""The question plan's rules, each on hand-made questions (no model, no store)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rag.question import read_question, spans, stem


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How much has Microsoft invested in OpenAI?", "money"),
        ("What price did the buyer pay for the studio?", "money"),
        ("What was Tesla's revenue in Q1 2021?", "money"),
        ("How many seats did Labour win?", "number"),
        ("How much electricity will the reactor supply?", "number"),
        ("By how much did the central bank cut rates?", "number"),
        ("What stake does Microsoft hold in OpenAI?", "percentage"),
        ("What percentage of the vote did the party get?", "percentage"),
        ("When was Splatoon 2 released?", "date"),
        ("In which year did the company go public?", "date"),
        ("Who led the funding round?", "person"),
        ("Which firm's analysts estimated the investment?", "organisation"),
        ("And which other AI company did Microsoft talk to?", "organisation"),
        ("Where did the lander touch down?", "place"),
        ("Super Bowl 2021 location", "place"),
        ("Did the Fed cut rates in September 2024?", "yes_no"),
        ("Between the report from Wired on 2023-11-24 and the one on 2023-11-25, was there a change?", "yes_no"),
        ("What is the latest on the chip export rule?", "free"),
        ("What did Microsoft and OpenAI sign in September 2025, and what did they sign in October?", "free"),
    ],
)
def test_expected_answer_type(question: str, kind: str) -> None:
    assert read_question(question).answer_type == kind


def test_key_terms_leave_out_question_words_and_keep_stems() -> None:
    plan = read_question("How many days did the astronauts spend in space?")
    assert set(plan.key_terms) == {"days", "astronaut", "spend", "space"}
    assert stem("talks") == stem("talked") == "talk" and stem("spent") == "spend"


def test_event_years_are_not_publication_windows_or_days() -> None:
    assert [d.year for d in read_question("How much did it invest in 2024?").event_dates] == [2024]
    november = read_question("What happened in November 2023?").event_dates[0]
    assert (november.year, november.month) == (2023, 11)
    assert read_question("How much has it invested since 2019?").event_dates == ()
    assert read_question("Did the report from The Verge on 2023-11-24 say so?").event_dates == ()


def test_an_event_after_as_of_cannot_be_reported() -> None:
    plan = read_question("How much did Microsoft invest in OpenAI in 2031?")
    assert plan.future_event(datetime(2025, 11, 1, tzinfo=UTC)) is not None
    assert plan.future_event(datetime(2032, 1, 2, tzinfo=UTC)) is None


def test_event_date_matches_text_and_month() -> None:
    november = read_question("What happened in November 2023?").event_dates[0]
    assert november.in_text("It closed in November 2023.") and not november.in_text("It closed in May 2023.")
    assert november.published_in(datetime(2023, 11, 5, tzinfo=UTC))


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("How much has Microsoft invested?", "Microsoft has invested $13 billion since 2019.", "$13 billion"),
        ("What stake does Microsoft hold?", "Microsoft holds a stake of roughly 27% in the group.", "roughly 27%"),
        ("How many seats did Labour win?", "Labour won 411 of the 650 seats, after 14 years.", "411"),
        ("When was the game released?", "The game was released on July 21, 2017 in Japan.", "July 21, 2017"),
        ("Who was named most valuable player?", "Quarterback Jalen Hurts was named the MVP.", "Jalen Hurts"),
        ("Where did the lander touch down?", "The lander set down near Mons Latreille.", "Mons Latreille"),
        ("Which other company did Microsoft talk to?", "Microsoft held talks with Anthropic.", "Anthropic"),
    ],
)
def test_spans_of_the_expected_type(question: str, sentence: str, expected: str) -> None:
    found = spans(sentence, read_question(question))
    assert found and found[0].text == expected and sentence[found[0].start : found[0].end] == expected


def test_names_the_question_uses_or_excludes_are_not_answers() -> None:
    plan = read_question("Which AI company other than OpenAI did Microsoft talk to?")
    assert plan.excluded == ("OpenAI",)
    assert [s.text for s in spans("Microsoft talked to OpenAI and Anthropic.", plan)] == ["Anthropic"]


def test_a_count_needs_its_unit() -> None:
    plan = read_question("How many seats did the party win?")
    assert spans("The party has been in power for 14 years.", plan) == []


def test_coverage_counts_terms_in_the_passage_at_half() -> None:
    plan = read_question("How many days did Wilmore spend in space?")
    assert plan.coverage("He spent 286 days in space.", "Wilmore returned") == pytest.approx(3.5 / 4)


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("The ferry will run until midnight from May.", "midnight"),
        ("Polls close at 9 p.m. on Thursday.", "9 p.m."),
        ("The market opened at 9:30 with gains.", "9:30"),
    ],
)
def test_times_of_day_answer_when_questions(sentence: str, expected: str) -> None:
    plan = read_question("Until what time will it run?")
    assert plan.answer_type == "date"
    assert expected in [s.text for s in spans(sentence, plan)]


def test_may_the_verb_is_not_a_month() -> None:
    plan = read_question("When will the bridge open?")
    assert [s.text for s in spans("The council may 3 times delay it.", plan)] == []
