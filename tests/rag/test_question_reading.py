"""Rules of reading a question and a sentence (rag/question.py), each pinned on hand-made text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rag.question import (
    EventDate,
    extended_clash,
    named_outlets,
    numbered_clash,
    proper_names,
    qualifier_clash,
    read_question,
    same_outlet,
    spans,
    subtitle_clash,
)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What did a Reuters report say about the merger?", ("Reuters",)),
        ("Considering a New York Times article and a BBC News report, which firm won?", ("New York Times", "BBC News")),
        ("Does the 'Fortune' article agree with The Verge article?", ("Fortune", "Verge")),
        ("What is the company, according to 'The Age', that sued?", ("The Age",)),
        ("Based on an article from The Wall Street Journal and another in The Guardian, who left?",
         ("The Wall Street Journal", "The Guardian")),
        ("What did Microsoft say in March?", ()),
        ("Who is the minister, according to Megan Grey?", ()),  # a bare "according to" may name a person
        ("What did a report on Mexico say?", ()),
    ],
)  # fmt: skip
def test_named_outlets(question: str, expected: tuple[str, ...]) -> None:
    assert named_outlets(question) == expected


def test_same_outlet_ignores_case_the_and_section_names() -> None:
    assert same_outlet("Verge", "The Verge")
    assert same_outlet("BBC", "BBC News - Entertainment & Arts")
    assert same_outlet("The Independent", "The Independent - Sports")
    assert not same_outlet("Reuters", "The Verge")
    assert not same_outlet("Times", "Tech Timeshare")


@pytest.mark.parametrize(
    ("question", "sentence", "clash"),
    [
        ("When was Splatoon 2 released?", "Splatoon 1 was released in 2015.", True),
        ("When was Splatoon 2 released?", "Splatoon 1 came first and Splatoon 2 followed in 2017.", False),
        ("When was Marvel's Spider-Man released?", "Marvel's Spider-Man 2 launches on 20 October.", True),
        ("When does Season 11 premiere?", "The Season 10 premiere is on Sunday.", True),
        ("When does Season 11 premiere?", "Season 11 premieres on August 22.", False),
        ("What changed by May 2025?", "Companies had to comply from May 15.", False),  # a day of a month
        ("When did Apollo 11 land?", "The Falcon 9 rocket flew twice.", False),  # not a name the question uses
    ],
)
def test_numbered_names_must_match(question: str, sentence: str, clash: bool) -> None:
    assert numbered_clash(question, sentence) is clash


def test_since_a_year_does_not_date_the_event() -> None:
    event = EventDate(2018)
    assert event.in_text("She won the title in 2018.")
    assert not event.in_text("She is the youngest finalist since 2018.")
    assert not event.in_text("Nothing like it had happened before 2018.")


def test_names_keep_letters_of_any_alphabet() -> None:
    found = [s.text for s in proper_names("Tadej Pogačar beat Marc-Alexis Côté and Aymar Azaïzia.")]
    assert found == ["Tadej Pogačar", "Marc-Alexis Côté", "Aymar Azaïzia"]


def test_a_place_after_in_is_not_a_person() -> None:
    plan = read_question("Who won the final stage?")
    found = [s.text for s in spans("Wout van Aert sprinted to victory in Paris on Sunday.", plan)]
    assert "Paris" not in found and "Wout" in found[0]


def test_the_most_specific_date_comes_first() -> None:
    plan = read_question("When does the new season premiere?")
    found = [s.text for s in spans("It will premiere on Thursday, Nov. 12 at 9 p.m.", plan)]
    assert found[0] == "Nov. 12"
    found = [s.text for s in spans("Episode 17 releases Sunday, October 2, 2022.", plan)]
    assert found[0] == "October 2, 2022"


def test_a_score_is_not_a_numbered_name() -> None:
    question = "Who beat the Kansas City Chiefs in Super Bowl LIX?"
    assert not numbered_clash(question, "The Philadelphia Eagles beat the Kansas City Chiefs 40-22 on Sunday.")


@pytest.mark.parametrize(
    ("sentence", "says"),
    [
        ("Half of the prize went to Anouk Verhaegen for ice-core dating.", True),
        ("The medal was awarded to Lio Marsh on Friday.", True),
        ("Verhaegen was awarded the prize on Tuesday.", True),
        ("The Gulls beat the Rovers 3-1.", True),
        ("Verhaegen wins the prize.", True),
        ("The foundation awarded the 2025 prize for work on glaciers.", False),  # names the giver, not the winner
        ("The prize is worth two million kronor.", False),
    ],
)
def test_who_won_is_answered_by_news_wording_for_winning(sentence: str, says: bool) -> None:
    assert read_question("Who won the 2025 Kessel Prize in Geology?").says_verb(sentence) is says


@pytest.mark.parametrize(
    ("question", "overview"),
    [
        ("What is the latest on the US AI chip export rule?", True),
        ("What's the latest news about the Fennick toll?", True),
        ("What is happening with the Pelling docks?", True),
        ("Any updates on the lottery case?", True),
        ("What was the most recent Federal Reserve interest rate decision?", False),  # one fact: the decision
        ("What is the latest figure for Microsoft's stake?", False),
        ("How much has Microsoft invested in OpenAI?", False),
    ],
)
def test_questions_asking_for_the_news_on_a_topic(question: str, overview: bool) -> None:
    assert read_question(question).overview is overview


@pytest.mark.parametrize(
    ("question", "sentence", "clash"),
    [
        ("Who won the Kessel Prize in Geology?", "The Kessel Prize in Chemistry went to Hana Sato.", True),
        (
            "Who won the Kessel Prize in Geology?",
            "Unlike the Prize in Chemistry, the Prize in Geology was split.",
            False,
        ),
        ("Who won the Kessel Prize in Geology?", "Half of the prize went to Anouk Verhaegen.", False),
        ("Who heads the Ministry of Defence?", "The Ministry of Finance named Lio Marsh.", True),
        ("Who heads the Ministry of Defence?", "Tomas Brill of the Pelling Institute spoke.", False),
    ],
)
def test_a_name_qualified_otherwise_is_another_thing(question: str, sentence: str, clash: bool) -> None:
    assert qualifier_clash(question, sentence) is clash


def test_a_prize_named_by_the_word_before_it_is_another_prize() -> None:
    assert qualifier_clash("Who is the Maxwell Award winner in 2019?", "2019 CFDA Awards winners: Ann Lee, Bo Marsh.")
    assert not qualifier_clash("Who is the Maxwell Award winner in 2019?", "Joe Burrow won the Maxwell Award.")


@pytest.mark.parametrize(
    ("question", "kind", "verb"),
    [
        ("When was Diablo 3 released?", "date", "releas"),
        ("When will the first season of The Blacklist premiere?", "date", "premiere"),
        ("What is the release date for Super Mario Odyssey?", "date", "release"),
        ("What is the date of the 2021 NBA Draft?", "date", None),
        ("When is the Super Bowl?", "date", None),  # "bowl" is no act
        ("What is the name of Amazon's AI assistant?", "name", None),
        ("Which movie won Best Picture at the 90th Academy Awards?", "name", "win"),
        ("Which actor won Best Actor at the 92nd Academy Awards?", "person", "win"),
    ],
)
def test_answer_types_and_acts_of_when_and_which_questions(question: str, kind: str, verb: str | None) -> None:
    plan = read_question(question)
    assert (plan.answer_type, plan.verb) == (kind, verb)


@pytest.mark.parametrize(
    ("sentence", "says"),
    [
        ("The game was released on March 3, 2017.", True),
        ("The game launched worldwide on March 3, 2017.", True),
        ("The game will arrive on Steam on December 6.", False),  # a later port, not the release
        ("Sep 13, 2022 ... the sequel has been revealed.", False),
    ],
)
def test_when_was_it_released_is_answered_by_a_release(sentence: str, says: bool) -> None:
    assert read_question("When was the game released?").says_verb(sentence) is says


@pytest.mark.parametrize(
    ("question", "sentence", "says"),
    [
        ("Who is the director of the Pelling movie?", "The film was directed by Ann Lee.", True),
        ("Who is the CEO of Pellco?", "Pellco's chief executive, Ann Lee, spoke.", True),
        ("Who is the CEO of Pellco?", "Ann Lee, the founder of Pellco, spoke.", False),
        ("Who was the runner-up of the Dunmore Cup?", "The Gulls beat the Rovers in the Dunmore Cup final.", False),
        ("Who was the runner-up of the Dunmore Cup?", "The Gulls beat the losing finalists, the Rovers.", True),
        ("Who is the individual that founded Pellco?", "Ann Lee founded Pellco.", True),  # no role asked
    ],
)
def test_who_is_the_role_of_is_answered_by_a_sentence_giving_the_role(question: str, sentence: str, says: bool) -> None:
    assert read_question(question).says_role(sentence) is says


@pytest.mark.parametrize(
    ("question", "sentence", "names"),
    [
        ("Who is the CEO of Apple?", "Apple CEO Tim Cook attends the opening.", ["Tim Cook"]),
        ("Who is the president of FIFA?", "Sepp Blatter, the former president of FIFA, spoke.", []),
        (
            "Who is the president of FIFA?",
            "Former president Sepp Blatter and Gianni Infantino met.",
            ["Gianni Infantino"],
        ),
        ("Who is the individual behind FTX?", "Sam Bankman-Fried, former CEO of FTX, spoke.", ["Sam Bankman-Fried"]),
        ("Who was named the 2021 Teacher of the Year?", "She was named Teacher of the Year.", []),
        ("Who was named the 2021 Teacher of the Year?", "Las Vegas educator Ann Lee was honoured.", ["Ann Lee"]),
        ("What is the name of the headset?", "It shows 3-D objects.", []),
        ("Who plays Diana Prince?", "Thirteen-year-old Lilly Aspell plays the young Diana Prince.", ["Lilly Aspell"]),
    ],
)
def test_who_spans_are_people_now_in_the_role(question: str, sentence: str, names: list[str]) -> None:
    assert [s.text for s in spans(sentence, read_question(question))] == names


@pytest.mark.parametrize(
    ("question", "sentence", "clash"),
    [
        ("Who directed The Avengers?", "The Russo brothers directed Avengers: Infinity War.", True),
        ("Who directed The Avengers?", "Whedon directed The Avengers before Avengers: Age of Ultron.", False),
        ("When was Pell Chronicles released?", "Pell Chronicles: Definitive Edition came out in 2020.", True),
        (
            "When was Pell Chronicles: Definitive Edition released?",
            "Pell Chronicles: Definitive Edition came out.",
            False,
        ),
        ("What is coming to Netflix?", "From Netflix: The world of a family shatters.", False),  # no subtitle
    ],
)
def test_another_work_of_the_series_is_another_thing(question: str, sentence: str, clash: bool) -> None:
    assert subtitle_clash(question, sentence) is clash


@pytest.mark.parametrize(
    ("question", "sentence", "clash"),
    [
        ("What is the date of the 2021 NBA Draft?", "The 2021 NBA Draft Combine is set for June 21.", True),
        (
            "What is the date of the 2021 NBA Draft?",
            "The Draft Combine comes before the NBA Draft on July 29.",
            False,
        ),
        ("Who is the director of the Pell Creed movie?", "Ann Lee, director of Pell Creed Syndicate, spoke.", True),
        ("How much did Tesla earn?", "Tesla Model 3 sales rose.", False),  # one-word names are left alone
    ],
)
def test_a_longer_name_beginning_with_the_asked_one_is_another_thing(question: str, sentence: str, clash: bool) -> None:
    assert extended_clash(question, sentence) is clash


def test_a_year_a_name_carries_is_no_future_event() -> None:
    as_of = datetime(2025, 1, 1, tzinfo=UTC)
    assert read_question("What is the release date of Cyberpunk 2077?").future_event(as_of) is None
    assert read_question("How much did Microsoft invest in OpenAI in 2031?").future_event(as_of) is not None


@pytest.mark.parametrize(
    ("question", "sentence", "first"),
    [
        ("Which country won the most medals?", "At the Games in Pyeong, Korea, Norway came out on top.", "Norway"),
        ("Which city hosted the 2012 Games?", "London hosted the 2012 Games.", "London"),
        ("Where were the 2012 Games held?", "London hosted the 2012 Games.", None),  # "where": in or at a place
    ],
)
def test_a_place_that_acts_needs_no_in(question: str, sentence: str, first: str | None) -> None:
    plan = read_question(question)
    found = spans(sentence, plan)
    if first is None:
        assert found == []
    else:
        assert plan.acting_place and first in [s.text for s in found]


def test_the_events_own_words_do_not_make_it_another_event() -> None:
    assert not extended_clash(
        "Who won the Corvale Marathon in 2024?", "At the Corvale Marathon Championships, Ann won."
    )


def test_an_event_is_no_place_that_acts() -> None:
    found = spans("The Summer Olympics were hosted by Beijing.", read_question("Which city hosted the 2008 Games?"))
    assert [s.text for s in found] == ["Beijing"]
