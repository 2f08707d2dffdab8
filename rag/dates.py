"""Dates users type: bounds for filters (a bare day means the whole day) and timestamps for Chroma."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from dateutil import parser as date_parser

from rag.errors import InvalidInput

_DAY_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH_ONLY = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR_ONLY = re.compile(r"^(\d{4})$")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_bound(value: str | datetime | None, *, end: bool = False, field: str = "date") -> datetime | None:
    """'2024-10-01' as a lower bound is its first instant, as an upper bound its last; '2024' and
    '2024-10' likewise cover the whole year or month."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return _aware(value)
    text = value.strip()
    if year := _YEAR_ONLY.match(text):
        y = int(year.group(1))
        return datetime(y + 1, 1, 1, tzinfo=UTC) - timedelta(microseconds=1) if end else datetime(y, 1, 1, tzinfo=UTC)
    if month := _MONTH_ONLY.match(text):
        y, m = int(month.group(1)), int(month.group(2))
        first = datetime(y, m, 1, tzinfo=UTC)
        if not end:
            return first
        following = datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=UTC)
        return following - timedelta(microseconds=1)
    try:
        parsed = date_parser.parse(text)
    except (ValueError, OverflowError) as exc:
        raise InvalidInput(f"cannot parse {field} {value!r}; use YYYY-MM-DD or ISO 8601", field=field) from exc
    if _DAY_ONLY.match(text) and end:
        parsed = datetime.combine(parsed.date(), time.max)
    return _aware(parsed)


def to_ts(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None


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
_SINCE = re.compile(rf"\b(since|after|from)\s+(?:(early|mid|late)\s+)?({_MONTH_RE})\.?(?:\s+(\d{{4}}))?\b", re.I)
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
        year = int(m.group(4)) if m.group(4) else _year_for_month(month, as_of)
        since = _month_start(year, month)
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
