"""Dates users type: bounds for filters (a bare day means the whole day) and timestamps for Chroma."""

from __future__ import annotations

import re
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
