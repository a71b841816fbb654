"""Support hours as people write them: ``Mon-Fri 09:00-17:00 Europe/Berlin``.

Days are ranges (``Mon-Fri``, wrapping ones like ``Fri-Mon`` too), comma lists (``Mon,Wed,Fri``),
both (``Mon-Wed,Fri``) or ``daily``; times are 24-hour ``09:00`` or ``9am``/``5pm``; the time zone
is any IANA name. An end before the start crosses midnight (``22:00-06:00``) and belongs to the
day it starts. ``off``, ``none``, ``always``, ``24/7`` or nothing at all mean no hours: always open.

Times are wall-clock times in the zone, so opening stays at 09:00 local across DST changes. A
time the clocks skip (spring forward) happens when they jump past it; a time they repeat (fall
back) happens the first time round.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

FORM = "Mon-Fri 09:00-17:00 Europe/Berlin"
ALWAYS = frozenset({"", "off", "none", "always", "24/7"})
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY_WORDS = {
    **{name.lower(): n for n, name in enumerate(DAY_NAMES)},
    **{
        name: n
        for n, name in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
    "tues": 1,
    "thur": 3,
    "thurs": 3,
}
_DASHES = re.compile(r"[\u2010-\u2015\u2212]")  # hyphens, en and em dashes, minus sign
# "Mon - Fri", "09:00 - 17:00", "9am - 5pm"; not "Mon- 09:00", which stays an unfinished range.
_SPACED_DASH = re.compile(r"(?<=[A-Za-z])\s*-\s*(?=[A-Za-z])|(?<=[0-9mM])\s*-\s*(?=[0-9])")
_TIME_24 = re.compile(r"([0-9]{1,2}):([0-9]{2})")
_TIME_12 = re.compile(r"([0-9]{1,2})(?::([0-9]{2}))?([ap]m)", re.IGNORECASE)
_STORED_TIME = re.compile(r"[0-9]{2}:[0-9]{2}(?::[0-9]{2})?")
_MAX_SHOWN = 60


class HoursError(ValueError):
    """Message says what was wrong and shows the right form."""


@dataclass(frozen=True)
class Hours:
    """When the support team is around; outside these hours the bot says when they are back."""

    days: frozenset[int]  # 0=Monday .. 6=Sunday
    start: time
    end: time  # before start: the span crosses midnight; never equal to start
    tz: str  # IANA name

    def __post_init__(self) -> None:
        try:
            days = frozenset(self.days)
        except TypeError:
            raise HoursError(f"days must be weekday numbers 0-6, not {self.days!r}") from None
        if not days or any(type(d) is not int or not 0 <= d <= 6 for d in days):
            raise HoursError(f"days must be weekday numbers 0-6 (0 is Monday), not {self.days!r}")
        object.__setattr__(self, "days", days)
        for t in (self.start, self.end):
            if not isinstance(t, time) or t.tzinfo is not None:
                raise HoursError(f"start and end must be times without a zone, not {t!r}")
        if self.start == self.end:
            raise HoursError(_same_time(self.start))
        if not isinstance(self.tz, str) or _load_zone(self.tz) is None:
            raise HoursError(_unknown_zone(str(self.tz)))

    def describe(self) -> str:
        """``Mon–Fri 09:00–17:00 Europe/Berlin``; parse_hours reads it back."""
        end = "24:00" if self.end == time(0) else _clock(self.end)
        return f"{_describe_days(self.days)} {_clock(self.start)}–{end} {self.tz}"

    def to_json(self) -> dict[str, object]:
        return {
            "days": sorted(self.days),
            "start": _clock(self.start),
            "end": _clock(self.end),
            "tz": self.tz,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Hours:
        """The hours to_json stored; HoursError when ``data`` is not that shape."""
        if not isinstance(data, Mapping):
            raise HoursError(f"stored hours must be an object, not {type(data).__name__}")
        missing = [k for k in ("days", "start", "end", "tz") if k not in data]
        if missing:
            raise HoursError(f"stored hours lack {', '.join(missing)}")
        days, tz = data["days"], data["tz"]
        if not isinstance(days, list | tuple):
            raise HoursError(f"stored days must be a list, not {days!r}")
        if not isinstance(tz, str):
            raise HoursError(f"stored time zone must be a name, not {tz!r}")
        return cls(frozenset(days), _stored_time(data["start"]), _stored_time(data["end"]), tz)

    def is_open(self, at: float) -> bool:
        """Whether the team is around at ``at`` (Unix epoch seconds): start counts, end does not."""
        zone = ZoneInfo(self.tz)
        today = datetime.fromtimestamp(at, zone).date()
        for day in (today - timedelta(days=1), today):
            if day.weekday() in self.days:
                opens, closes = self._span(day, zone)
                if opens <= at < closes:
                    return True
        return False

    def next_open(self, at: float) -> float:
        """``at`` itself when open, else the epoch seconds of the next opening."""
        if self.is_open(at):
            return at
        zone = ZoneInfo(self.tz)
        today = datetime.fromtimestamp(at, zone).date()
        for offset in range(15):
            day = today + timedelta(days=offset)
            if day.weekday() in self.days:
                opens, closes = self._span(day, zone)
                if at < opens < closes:
                    return opens
        raise HoursError(f"{self.describe()} never opens")  # only if every span fell in a DST gap

    def _span(self, day: date, zone: ZoneInfo) -> tuple[float, float]:
        """Epoch seconds when the span starting on ``day`` opens and closes."""
        opens = _instant(datetime.combine(day, self.start), zone)
        close_day = day if self.start < self.end else day + timedelta(days=1)
        return opens, _instant(datetime.combine(close_day, self.end), zone)


def parse_hours(text: str) -> Hours | None:
    """The hours in ``text``, or None for no hours (always open); HoursError shows the form."""
    raw = text.strip()
    if raw.lower() in ALWAYS:
        return None
    normal = _SPACED_DASH.sub("-", _DASHES.sub("-", raw))
    normal = re.sub(r"([0-9])\s+([ap]m)\b", r"\1\2", normal, flags=re.IGNORECASE)
    words = normal.split()
    first_time = next((i for i, w in enumerate(words) if w[0] in "0123456789"), None)
    if first_time is None:
        raise HoursError(f"{_show(raw)} has no hours: add them like 09:00-17:00, as in {FORM}")
    if first_time == 0:
        raise HoursError(f"say which days first, like Mon-Fri: {FORM}")
    days = _parse_days(" ".join(words[:first_time]))
    start, end = _parse_span(words[first_time].rstrip(","))
    rest = words[first_time + 1 :]
    if not rest:
        raise HoursError(f"add a time zone at the end, like Europe/Berlin: {FORM}")
    if len(rest) > 1:
        raise HoursError(
            f"{_show(' '.join(rest))} is more than a time zone: give one span of days, one of"
            f" hours and a time zone, like {FORM}"
        )
    name = rest[0].rstrip(".,;")
    tz = _canonical_zone(name)
    if tz is None:
        raise HoursError(_unknown_zone(name))
    return Hours(days, start, end, tz)


def _parse_days(text: str) -> frozenset[int]:
    days: set[int] = set()
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        word = item.lower()
        if word == "daily":
            days.update(range(7))
            continue
        first, dash, last = word.partition("-")
        if first not in _DAY_WORDS or (dash and last not in _DAY_WORDS):
            raise HoursError(
                f"{_show(item)} is not a day or a range of days: use Mon, Tue, Wed, Thu, Fri,"
                f" Sat, Sun as in Mon-Fri, Mon,Wed,Fri or daily, like {FORM}"
            )
        a = _DAY_WORDS[first]
        b = _DAY_WORDS[last] if dash else a
        days.update((a + n) % 7 for n in range((b - a) % 7 + 1))
    if not days:
        raise HoursError(f"say which days, like Mon-Fri: {FORM}")
    return frozenset(days)


def _parse_span(word: str) -> tuple[time, time]:
    first, dash, last = word.partition("-")
    if not dash:
        raise HoursError(
            f"{_show(word)} is not a span of hours: give start-end like 09:00-17:00, as in {FORM}"
        )
    start, end = _parse_time(first, end=False), _parse_time(last, end=True)
    if start == end:
        raise HoursError(_same_time(start))
    return start, end


def _parse_time(word: str, *, end: bool) -> time:
    if match := _TIME_24.fullmatch(word):
        hour, minute = int(match[1]), int(match[2])
        if end and hour == 24 and minute == 0:
            return time(0)
        if hour <= 23 and minute <= 59:
            return time(hour, minute)
    elif match := _TIME_12.fullmatch(word):
        hour, minute = int(match[1]), int(match[2] or 0)
        if 1 <= hour <= 12 and minute <= 59:
            return time(hour % 12 + (12 if match[3].lower() == "pm" else 0), minute)
    shown = _show(word) if word else "nothing"
    raise HoursError(
        f"{shown} is not a time: use 24-hour times like 09:00 or 17:30 (or 9am, 5pm), as in {FORM}"
    )


def _stored_time(value: object) -> time:
    if not isinstance(value, str) or not _STORED_TIME.fullmatch(value):
        raise HoursError(f"stored times must look like 09:00, not {value!r}")
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise HoursError(f"stored times must look like 09:00, not {value!r}") from None


def _instant(wall: datetime, zone: ZoneInfo) -> float:
    """Epoch seconds when clocks in ``zone`` show ``wall`` (naive): the first time round when
    they show it twice, the moment they jump past it when they skip it."""
    first = wall.replace(tzinfo=zone, fold=0).timestamp()
    second = wall.replace(tzinfo=zone, fold=1).timestamp()
    if first <= second:
        return first
    # In a gap: clocks show less than ``wall`` at ``lo`` and more at ``hi``; find the jump.
    lo, hi = math.floor(second), math.ceil(first)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return float(hi)


def _describe_days(days: frozenset[int]) -> str:
    if len(days) == 7:
        return "Daily"
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    # A run through Sunday into Monday reads as one range (Fri–Mon) once it spans 3 days or more.
    wraps = len(runs) > 1 and runs[0][0] == 0 and runs[-1][-1] == 6
    if wraps and len(runs[0]) + len(runs[-1]) >= 3:
        runs[0] = runs.pop() + runs[0]
        runs.sort(key=lambda run: run[0])
    parts = [
        f"{DAY_NAMES[run[0]]}–{DAY_NAMES[run[-1]]}"
        if len(run) >= 3
        else ", ".join(DAY_NAMES[d] for d in run)
        for run in runs
    ]
    return ", ".join(parts)


def _clock(t: time) -> str:
    return t.strftime("%H:%M") if t.second == 0 and t.microsecond == 0 else t.isoformat()


def _same_time(t: time) -> str:
    return (
        f"the hours start and end at the same time ({_clock(t)}): give an end that differs from"
        f" the start, like {FORM}; for support at all hours say always"
    )


def _unknown_zone(name: str) -> str:
    return (
        f"{_show(name)} is not a time zone I know: use an IANA name like Europe/Berlin,"
        f" America/New_York or UTC, as in {FORM}"
    )


def _load_zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # not found, a malformed key, or an unreadable file
        return None


def _canonical_zone(name: str) -> str | None:
    """``name`` if zoneinfo knows it, else its correctly cased spelling (``utc`` -> ``UTC``).
    ``localtime`` is refused: it is whatever zone the server happens to be set to."""
    if name.lower() == "localtime":
        return None
    if _load_zone(name) is not None:
        return name
    canonical = _zone_names().get(name.lower())
    return canonical if canonical is not None and _load_zone(canonical) is not None else None


@lru_cache(maxsize=1)
def _zone_names() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def _show(text: str) -> str:
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 1] + "…"
    return "`" + text.replace("`", "'") + "`"
