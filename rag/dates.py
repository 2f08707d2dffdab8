"""Dates: the one parser for every date newsrag reads (request and CLI bounds, where a bare day means the
whole day; article dates; suite files), the publication-date window, and date expressions in questions."""

from __future__ import annotations

import re
import warnings
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from dateutil import parser as date_parser

from rag.errors import InvalidInput

EARLIEST_YEAR, LATEST_YEAR = 1800, 2200  # any date outside is a typo or a placeholder, not news

_DAY_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH_ONLY = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR_ONLY = re.compile(r"^(\d{4})$")

# Zone abbreviations that news exports use; dateutil alone knows only UTC/GMT/Z, warns on the rest and
# returns a naive time (then taken as UTC: hours off). Fixed offsets also keep the result independent of
# the machine's own zone (dateutil otherwise returns tzlocal() when the name matches it).
_TZ_HOURS = {
    "UTC": 0, "GMT": 0, "Z": 0, "UT": 0, "WET": 0, "WEST": 1, "BST": 1, "CET": 1, "CEST": 2, "MET": 1,
    "MEST": 2, "EET": 2, "EEST": 3, "MSK": 3, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7,
    "MDT": -6, "PST": -8, "PDT": -7, "AKST": -9, "AKDT": -8, "HST": -10, "JST": 9, "KST": 9, "HKT": 8,
    "SGT": 8, "AWST": 8, "ACST": 9.5, "ACDT": 10.5, "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13,
}  # fmt: skip
TZINFOS = {name: int(hours * 3600) for name, hours in _TZ_HOURS.items()}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _year_bound(year: int, end: bool) -> datetime:
    return _month_end(year, 12) if end else _month_start(year, 1)


def _month_bound(year: int, month: int, end: bool) -> datetime:
    return _month_end(year, month) if end else _month_start(year, month)


def _parse_text(text: str, end: bool, field: str) -> datetime:
    try:
        if year := _YEAR_ONLY.match(text):
            return _year_bound(int(year.group(1)), end)
        if month := _MONTH_ONLY.match(text):
            return _month_bound(int(month.group(1)), int(month.group(2)), end)
        with warnings.catch_warnings():
            warnings.simplefilter("error", date_parser.UnknownTimezoneWarning)
            parsed = date_parser.parse(text, tzinfos=TZINFOS)
    except date_parser.UnknownTimezoneWarning as exc:
        raise InvalidInput(f"cannot parse {field} {text!r}: unknown time zone", field=field) from exc
    except (ValueError, OverflowError) as exc:
        raise InvalidInput(f"cannot parse {field} {text!r}; use YYYY-MM-DD or ISO 8601", field=field) from exc
    if _DAY_ONLY.match(text) and end:
        parsed = datetime.combine(parsed.date(), time.max)
    return parsed


def parse_bound(value: object, *, end: bool = False, field: str = "date") -> datetime | None:
    """The one date parser (request bounds, CLI flags, article dates, suite files), always time-zone aware.

    '2024-10-01' as a lower bound is its first instant, as an upper bound (`end`) its last; '2024' and
    '2024-10' likewise cover the whole year or month. Also datetimes, dates and Unix timestamps (seconds,
    or milliseconds as JavaScript exports them). InvalidInput names the field."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time.max if end else time.min)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            parsed = datetime.fromtimestamp(value / 1000 if value > 10_000_000_000 else value, UTC)
        except (ValueError, OverflowError, OSError) as exc:
            raise InvalidInput(f"{field} {value!r} is out of range", field=field) from exc
    elif isinstance(value, str):
        parsed = _parse_text(value.strip(), end, field)
    else:
        raise InvalidInput(f"{field} must be a date string, got {type(value).__name__}", field=field)
    parsed = _aware(parsed)  # a bare date or time is taken as UTC
    in_range = EARLIEST_YEAR <= parsed.year <= LATEST_YEAR  # checked first: then astimezone cannot overflow
    if not (in_range and EARLIEST_YEAR <= parsed.astimezone(UTC).year <= LATEST_YEAR):
        raise InvalidInput(f"{field} {value!r} is out of range: years {EARLIEST_YEAR}-{LATEST_YEAR}", field=field)
    return parsed


def to_ts(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None


@dataclass(frozen=True)
class DateWindow:
    """A publication-date window, both ends inclusive, either end open; never since > until."""

    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def parse(
        cls, since: object, until: object, *, since_field: str = "since", until_field: str = "until"
    ) -> DateWindow:
        """A bare day, month or year as `until` means its end (`--until 2024-10` includes October 31)."""
        window = cls(parse_bound(since, field=since_field), parse_bound(until, end=True, field=until_field))
        if window.since and window.until and window.since > window.until:
            raise InvalidInput(f"{since_field} is after {until_field}", field=since_field)
        return window

    @property
    def since_ts(self) -> int | None:
        return to_ts(self.since)

    @property
    def until_ts(self) -> int | None:
        return to_ts(self.until)


# ---------- date expressions in questions ----------
_MONTHS = {
    name: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_RECENCY = re.compile(
    r"\b(latest|most recent|newest|recently|recent|currently|current|now|up to date|so far|to date)\b", re.I
)
_RELATIVE = re.compile(
    r"\b(today|yesterday|this week|last week|past week|this month|last month|past month|this year|"
    r"last year|past year|(?:in the )?(?:past|last) (\d+) (day|week|month|year)s?)\b",
    re.I,
)
_SINCE = re.compile(
    rf"\b(since|after|from)\s+(?:(early|mid|late)\s+)?({_MONTH_RE})\.?(?:\s+(\d{{1,2}})(?:st|nd|rd|th)?\b,?)?"
    rf"(?:\s+(\d{{4}}))?\b",
    re.I,
)
_ANY_YEAR = re.compile(r"\b((?:19|20)\d{2})\b")
_SINCE_YEAR = re.compile(r"\b(since|after)\s+(\d{4})\b", re.I)
_IN_MONTH = re.compile(rf"\bin\s+({_MONTH_RE})\.?(?:\s+(\d{{4}}))?\b", re.I)
_IN_YEAR = re.compile(r"\b(?:in|during|of)\s+((?:19|20)\d{2})\b", re.I)


@dataclass(frozen=True)
class DateCues:
    """What a question says about time. `since`/`until` are hard bounds (relative to as_of);
    `prefer_*` is a soft window ("in 2024" may name when events happened, not when they were reported);
    `recency` asks for the newest reports."""

    since: datetime | None = None
    until: datetime | None = None
    prefer_since: datetime | None = None
    prefer_until: datetime | None = None
    recency: bool = False
    phrases: tuple[str, ...] = ()


def _month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def _month_end(year: int, month: int) -> datetime:
    return _month_start(year + (month == 12), month % 12 + 1) - timedelta(microseconds=1)


def _year_for_month(month: int, as_of: datetime) -> int:
    """'since October' means the most recent October not after as_of."""
    return as_of.year if month <= as_of.month else as_of.year - 1


def date_cues(question: str, as_of: datetime) -> DateCues:
    as_of = _aware(as_of)
    day = as_of.replace(hour=0, minute=0, second=0, microsecond=0)
    since: datetime | None = None
    prefer_since: datetime | None = None
    prefer_until: datetime | None = None
    phrases: list[str] = []
    if m := _RELATIVE.search(question):
        phrase = m.group(1).lower()
        phrases.append(m.group(0))
        if phrase == "today":
            since = day
        elif phrase == "yesterday":
            since = day - timedelta(days=1)
        elif phrase in ("this week",):
            since = day - timedelta(days=day.weekday())
        elif phrase in ("last week", "past week"):
            since = day - timedelta(days=7)
        elif phrase == "this month":
            since = day.replace(day=1)
        elif phrase in ("last month", "past month"):
            since = day - timedelta(days=31)
        elif phrase == "this year":
            since = day.replace(month=1, day=1)
        elif phrase in ("last year", "past year"):
            since = day - timedelta(days=365)
        elif m.group(2):
            n, unit = int(m.group(2)), m.group(3).lower()
            since = day - timedelta(days=n * {"day": 1, "week": 7, "month": 31, "year": 365}[unit])
    if since is None and (m := _SINCE.search(question)):
        month = _MONTHS[m.group(3).lower()]
        # "after November 6, 2023"; a bare "since October" takes a year the question names elsewhere, or
        # else the most recent October.
        named_year = _ANY_YEAR.search(question)
        if m.group(5):
            year = int(m.group(5))
        elif named_year:
            year = int(named_year.group(1))
        else:
            year = _year_for_month(month, as_of)
        since = _month_start(year, month)
        if m.group(4) and 1 <= int(m.group(4)) <= 31:
            with suppress(ValueError):  # "February 30" keeps the month's start
                since = since.replace(day=int(m.group(4)))
        phrases.append(m.group(0))
    if since is None and (m := _SINCE_YEAR.search(question)):
        since = datetime(int(m.group(2)) + (m.group(1).lower() == "after"), 1, 1, tzinfo=UTC)
        phrases.append(m.group(0))
    if m := _IN_MONTH.search(question):
        month = _MONTHS[m.group(1).lower()]
        if m.group(1).lower() != "may" or m.group(2):  # "in may" is too often the verb
            year = int(m.group(2)) if m.group(2) else _year_for_month(month, as_of)
            prefer_since, prefer_until = _month_start(year, month), _month_end(year, month)
            phrases.append(m.group(0))
    elif m := _IN_YEAR.search(question):
        year = int(m.group(1))
        prefer_since, prefer_until = datetime(year, 1, 1, tzinfo=UTC), _month_end(year, 12)
        phrases.append(m.group(0))
    recency = bool(_RECENCY.search(question))
    return DateCues(
        since=since,
        until=as_of if since is not None else None,
        prefer_since=prefer_since,
        prefer_until=prefer_until,
        recency=recency,
        phrases=tuple(phrases),
    )


_ISO_DAY = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_WRITTEN_DAY = re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?\b", re.I)


@dataclass(frozen=True)
class DayMention:
    """A calendar day named in a question; `year` is None when the question leaves it out."""

    position: int
    month: int
    day: int
    year: int | None = None

    def matches(self, when: datetime | None, slack_days: int = 1) -> bool:
        if when is None:
            return False
        for year in [self.year] if self.year else [when.year, when.year - 1, when.year + 1]:
            try:
                target = datetime(year, self.month, self.day, tzinfo=UTC)
            except ValueError:
                continue
            if abs((when - target).total_seconds()) <= (slack_days + 0.5) * 86400:
                return True
        return False


def mentioned_days(text: str) -> list[DayMention]:
    """Calendar days named in a question ('on 2023-11-24', 'October 1st, 2023'), in order."""
    found: list[DayMention] = []
    for m in _ISO_DAY.finditer(text):
        found.append(DayMention(m.start(), int(m.group(2)), int(m.group(3)), int(m.group(1))))
    for m in _WRITTEN_DAY.finditer(text):
        year = int(m.group(3)) if m.group(3) else None
        found.append(DayMention(m.start(), _MONTHS[m.group(1).lower()], int(m.group(2)), year))
    return sorted(found, key=lambda d: d.position)


def describe_age(newest: datetime, as_of: datetime) -> str:
    """'2 days', '3 months': how old the newest source is, for the answer's recency note."""
    days = max(0, (_aware(as_of) - newest).days)
    if days < 1:
        return "less than a day"
    if days < 60:
        return f"{days} day{'s' * (days != 1)}"
    if days < 730:
        return f"{days // 30} months"
    return f"{days // 365} years"
