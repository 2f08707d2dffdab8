"""The one date parser and the date window that requests, the CLI, articles and suites all use."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from ingest.validate import parse_date as article_date
from rag.dates import DateWindow, parse_bound
from rag.errors import ArticleInvalid, InvalidInput

LAST = timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2024", datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC) - LAST),
        ("2024-02", datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC) - LAST),
        ("2024-12", datetime(2024, 12, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC) - LAST),
        ("2024-10-01", datetime(2024, 10, 1, tzinfo=UTC), datetime(2024, 10, 2, tzinfo=UTC) - LAST),
        ("2024-10-01T12:30:00Z", datetime(2024, 10, 1, 12, 30, tzinfo=UTC), datetime(2024, 10, 1, 12, 30, tzinfo=UTC)),
    ],
)
def test_bare_years_months_and_days_cover_their_whole_span(text: str, start: datetime, end: datetime) -> None:
    assert parse_bound(text) == start
    assert parse_bound(text, end=True) == end


def test_every_result_is_time_zone_aware() -> None:
    assert parse_bound("2024-10-01 09:00") == datetime(2024, 10, 1, 9, tzinfo=UTC)  # naive is UTC
    assert parse_bound("Tue, 01 Oct 2024 09:00:00 PDT") == datetime(2024, 10, 1, 16, tzinfo=UTC)
    assert parse_bound(datetime(2024, 10, 1)) == datetime(2024, 10, 1, tzinfo=UTC)
    eastern = timezone(timedelta(hours=-5))
    assert parse_bound(datetime(2024, 10, 1, tzinfo=eastern)) == datetime(2024, 10, 1, 5, tzinfo=UTC)
    assert parse_bound(date(2024, 10, 1), end=True) == datetime(2024, 10, 2, tzinfo=UTC) - LAST


def test_timestamps_in_seconds_and_milliseconds() -> None:
    moment = datetime(2024, 10, 1, 12, tzinfo=UTC)
    assert parse_bound(int(moment.timestamp())) == moment
    assert parse_bound(moment.timestamp() * 1000) == moment


@pytest.mark.parametrize("empty", [None, "", "   "])
def test_nothing_is_no_bound(empty: str | None) -> None:
    assert parse_bound(empty) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("the day after the election", "cannot parse since 'the day after the election'"),
        ("2024-13", "cannot parse since '2024-13'"),
        ("0000", "cannot parse since '0000'"),
        ("1 Oct 2024 09:00 XYZ", "unknown time zone"),
        ("1799-12-31", "out of range: years 1800-2200"),
        ("2201", "out of range"),
        ("0001-01-01T00:00:00+05:00", "out of range"),  # before year 1 in UTC: no OverflowError
        ("9999-12-31T23:00:00-05:00", "out of range"),
        ([2024], "must be a date string, got list"),
        (True, "must be a date string, got bool"),
    ],
)
def test_bad_dates_name_the_field(value: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as info:
        parse_bound(value, field="since")
    assert info.value.field == "since"


def test_article_dates_fail_as_article_invalid() -> None:
    assert article_date("2024-10-01", "published_at") == datetime(2024, 10, 1, tzinfo=UTC)
    assert article_date("1800-01-01", "published_at") == datetime(1800, 1, 1, tzinfo=UTC)
    with pytest.raises(ArticleInvalid, match="cannot parse published_at 'never'") as info:
        article_date("never", "published_at")
    assert info.value.field == "published_at"


def test_a_window_includes_both_ends_and_refuses_since_after_until() -> None:
    window = DateWindow.parse("2024-10", "2024-10")
    assert window.since == datetime(2024, 10, 1, tzinfo=UTC)
    assert window.until == datetime(2024, 11, 1, tzinfo=UTC) - LAST
    assert window.since_ts == int(datetime(2024, 10, 1, tzinfo=UTC).timestamp())
    assert window.until_ts == int(datetime(2024, 11, 1, tzinfo=UTC).timestamp()) - 1
    assert DateWindow.parse(None, "2024") == DateWindow(None, datetime(2025, 1, 1, tzinfo=UTC) - LAST)
    assert DateWindow.parse(None, None).since_ts is None
    with pytest.raises(InvalidInput, match=r"filters\.since is after filters\.until") as info:
        DateWindow.parse("2025-01-02", "2025-01-01", since_field="filters.since", until_field="filters.until")
    assert info.value.field == "filters.since"


def test_since_a_day_with_its_year_or_a_year_the_question_names() -> None:
    from rag.dates import date_cues

    now = datetime(2026, 12, 3, tzinfo=UTC)
    assert date_cues("What changed after November 6, 2023?", now).since == datetime(2023, 11, 6, tzinfo=UTC)
    assert date_cues("In 2023 coverage, what changed since October?", now).since == datetime(2023, 10, 1, tzinfo=UTC)
    assert date_cues("What happened since October?", now).since == datetime(2026, 10, 1, tzinfo=UTC)
    assert date_cues("What happened since March 3?", now).since == datetime(2026, 3, 3, tzinfo=UTC)
