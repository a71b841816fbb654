"""Support hours: the forms people write, what is refused and how, and open/next-open across
weekends, overnight spans and DST changes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.settings.hours import FORM, Hours, HoursError, parse_hours

WEEKDAYS = frozenset(range(5))
EVERY_DAY = frozenset(range(7))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    """Epoch seconds of a UTC wall time: utc(2026, 3, 30, 7) is 2026-03-30 07:00 UTC."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


def local(text: str, tz: str) -> float:
    """Epoch seconds of an ISO wall time in tz (first time round when clocks repeat it)."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp()


def hours(text: str) -> Hours:
    parsed = parse_hours(text)
    assert parsed is not None
    return parsed


def test_the_time_zone_database_is_there() -> None:
    assert datetime(2026, 7, 1, 12, tzinfo=ZoneInfo("Europe/Berlin")).utcoffset() == timedelta(
        hours=2
    )


# -- accepted forms ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "days", "start", "end", "tz"),
    [
        ("Mon-Fri 09:00-17:00 Europe/Berlin", WEEKDAYS, time(9), time(17), "Europe/Berlin"),
        ("mon-fri 09:00-17:00 Europe/Berlin", WEEKDAYS, time(9), time(17), "Europe/Berlin"),
        ("MON-FRI 09:00-17:00 Europe/Berlin", WEEKDAYS, time(9), time(17), "Europe/Berlin"),
        ("Mon–Fri 09:00–17:00 Europe/Berlin", WEEKDAYS, time(9), time(17), "Europe/Berlin"),
        ("Mon—Fri 09:00—17:00 Europe/Berlin", WEEKDAYS, time(9), time(17), "Europe/Berlin"),
        ("Mon - Fri 09:00 - 17:00 Europe/Berlin", WEEKDAYS, time(9), time(17), "Europe/Berlin"),
        ("Monday-Friday 09:00-17:00 UTC", WEEKDAYS, time(9), time(17), "UTC"),
        ("monday-friday 9:00-17:30 UTC", WEEKDAYS, time(9), time(17, 30), "UTC"),
        ("Tues-Thurs 09:00-17:00 UTC", frozenset({1, 2, 3}), time(9), time(17), "UTC"),
        ("Tue-Thur 09:00-17:00 UTC", frozenset({1, 2, 3}), time(9), time(17), "UTC"),
        ("Mon,Wed,Fri 09:00-17:00 UTC", frozenset({0, 2, 4}), time(9), time(17), "UTC"),
        ("Mon, Wed, Fri 09:00-17:00 UTC", frozenset({0, 2, 4}), time(9), time(17), "UTC"),
        ("Mon-Wed,Fri 09:00-17:00 UTC", frozenset({0, 1, 2, 4}), time(9), time(17), "UTC"),
        ("Sat-Sun 10:00-14:00 UTC", frozenset({5, 6}), time(10), time(14), "UTC"),
        ("Sun 10:00-14:00 UTC", frozenset({6}), time(10), time(14), "UTC"),
        ("Saturday,Sunday 10:00-14:00 UTC", frozenset({5, 6}), time(10), time(14), "UTC"),
        ("Fri-Mon 10:00-14:00 UTC", frozenset({4, 5, 6, 0}), time(10), time(14), "UTC"),
        ("Sun-Tue 10:00-14:00 UTC", frozenset({6, 0, 1}), time(10), time(14), "UTC"),
        ("Mon-Mon 10:00-14:00 UTC", frozenset({0}), time(10), time(14), "UTC"),
        ("daily 08:00-20:00 UTC", EVERY_DAY, time(8), time(20), "UTC"),
        ("Daily 08:00-20:00 UTC", EVERY_DAY, time(8), time(20), "UTC"),
        ("Mon-Sun 08:00-20:00 UTC", EVERY_DAY, time(8), time(20), "UTC"),
        ("Mon-Fri 22:00-06:00 UTC", WEEKDAYS, time(22), time(6), "UTC"),
        ("Mon-Fri 09:00-24:00 UTC", WEEKDAYS, time(9), time(0), "UTC"),
        ("Mon-Fri 00:00-08:00 UTC", WEEKDAYS, time(0), time(8), "UTC"),
        ("Mon-Fri 9am-5pm UTC", WEEKDAYS, time(9), time(17), "UTC"),
        ("Mon-Fri 9AM-5PM UTC", WEEKDAYS, time(9), time(17), "UTC"),
        ("Mon-Fri 9 am - 5 pm UTC", WEEKDAYS, time(9), time(17), "UTC"),
        ("Mon-Fri 9:30am-5:45pm UTC", WEEKDAYS, time(9, 30), time(17, 45), "UTC"),
        ("Mon-Fri 12pm-1pm UTC", WEEKDAYS, time(12), time(13), "UTC"),
        ("Mon-Fri 10pm-12am UTC", WEEKDAYS, time(22), time(0), "UTC"),
        ("Mon-Fri 09:00-17:00 America/New_York", WEEKDAYS, time(9), time(17), "America/New_York"),
        ("Mon-Fri 09:00-17:00 Asia/Kolkata", WEEKDAYS, time(9), time(17), "Asia/Kolkata"),
        ("Mon-Fri 09:00-17:00 utc", WEEKDAYS, time(9), time(17), "UTC"),
        ("Mon-Fri 09:00-17:00 europe/berlin", WEEKDAYS, time(9), time(17), "Europe/Berlin"),
        ("Mon-Fri 09:00-17:00 Europe/Berlin.", WEEKDAYS, time(9), time(17), "Europe/Berlin"),
        ("Mon-Fri, 09:00-17:00, Europe/Berlin", WEEKDAYS, time(9), time(17), "Europe/Berlin"),
        ("  Mon-Fri\t09:00-17:00\nEurope/Berlin  ", WEEKDAYS, time(9), time(17), "Europe/Berlin"),
    ],
)
def test_accepted_forms(text: str, days: frozenset[int], start: time, end: time, tz: str) -> None:
    assert parse_hours(text) == Hours(days, start, end, tz)


@pytest.mark.parametrize(
    "text", ["off", "OFF", "none", "None", "always", "Always", "24/7", "", "   ", " off "]
)
def test_no_hours_means_always_open(text: str) -> None:
    assert parse_hours(text) is None


# -- rejections ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("Mon-Fri 09:00-17:00", "add a time zone at the end, like Europe/Berlin"),
        ("Mon-Fri 9am-5pm", "add a time zone"),
        ("Mon-Fri 09:00-17:00 Europe/Berln", "`Europe/Berln` is not a time zone I know"),
        ("Mon-Fri 09:00-17:00 Europe", "`Europe` is not a time zone"),
        ("Mon-Fri 09:00-17:00 CEST", "`CEST` is not a time zone"),
        ("Mon-Fri 09:00-17:00 +02:00", "not a time zone"),
        ("Mon-Fri 09:00-17:00 localtime", "`localtime` is not a time zone"),
        ("Mon-Fri 09:00-17:00 ../../etc/passwd", "not a time zone"),
        ("Mon-Fri 09:00-17:00 /usr/share/zoneinfo/UTC", "not a time zone"),
        ("Mon-Fri 09:00-17:00 zone.tab", "not a time zone"),
        ("Mon-Fri 09:00-17:00 Europe/Berlin Sat 10:00-12:00", "is more than a time zone"),
        ("Mon-Fri 09:00-17:00 Europe/Berlin UTC", "is more than a time zone"),
        ("09:00-17:00 Europe/Berlin", "say which days first, like Mon-Fri"),
        ("9-5", "say which days first"),
        (",, 09:00-17:00 UTC", "say which days, like Mon-Fri"),
        ("Mon-Fri Europe/Berlin", "has no hours: add them like 09:00-17:00"),
        ("Mon-Fri", "has no hours"),
        ("weekdays 09:00-17:00 UTC", "`weekdays` is not a day or a range of days"),
        ("Mun-Fri 09:00-17:00 UTC", "`Mun-Fri` is not a day"),
        ("Mon-Fry 09:00-17:00 UTC", "`Mon-Fry` is not a day"),
        ("Mon-Wed-Fri 09:00-17:00 UTC", "`Mon-Wed-Fri` is not a day"),
        ("Mon Wed 09:00-17:00 UTC", "`Mon Wed` is not a day"),
        ("Mon- 09:00-17:00 UTC", "`Mon-` is not a day"),
        ("every day 09:00-17:00 UTC", "`every day` is not a day"),
        ("Mon-Fri 09:00 17:00 UTC", "`09:00` is not a span of hours"),
        ("Mon-Fri 09:00 to 17:00 UTC", "`09:00` is not a span of hours"),
        ("Mon-Fri 9-17 UTC", "`9` is not a time"),
        ("Mon-Fri 0900-1700 UTC", "`0900` is not a time"),
        ("Mon-Fri 25:00-17:00 UTC", "`25:00` is not a time"),
        ("Mon-Fri 09:60-17:00 UTC", "`09:60` is not a time"),
        ("Mon-Fri 24:00-08:00 UTC", "`24:00` is not a time"),
        ("Mon-Fri 09:00-24:30 UTC", "`24:30` is not a time"),
        ("Mon-Fri 13pm-5pm UTC", "`13pm` is not a time"),
        ("Mon-Fri 0am-5pm UTC", "`0am` is not a time"),
        ("Mon-Fri 09:00- UTC", "nothing is not a time"),
        ("Mon-Fri 09:00-17:00-18:00 UTC", "`17:00-18:00` is not a time"),
        ("Mon-Fri 9h-17h UTC", "`9h` is not a time"),
        ("Mon-Fri 09:00-09:00 UTC", "start and end at the same time (09:00)"),
        ("Mon-Fri 00:00-24:00 UTC", "start and end at the same time (00:00)"),
        ("Mon-Fri 12am-12am UTC", "start and end at the same time"),
        ("never", "`never` has no hours"),
        ("whenever", "has no hours"),
    ],
)
def test_rejections_show_the_form(text: str, fragment: str) -> None:
    with pytest.raises(HoursError) as caught:
        parse_hours(text)
    message = str(caught.value)
    assert fragment in message
    assert FORM in message
    assert FORM == "Mon-Fri 09:00-17:00 Europe/Berlin"


def test_same_start_and_end_points_to_always() -> None:
    with pytest.raises(HoursError, match="for support at all hours say always"):
        parse_hours("daily 08:00-08:00 UTC")


def test_a_huge_input_is_shortened_in_the_message() -> None:
    with pytest.raises(HoursError) as caught:
        parse_hours("Mon-Fri 09:00-17:00 " + "Z" * 10_000)
    assert len(str(caught.value)) < 300


# -- describe, to_json, from_json ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "described"),
    [
        ("Mon-Fri 09:00-17:00 Europe/Berlin", "Mon–Fri 09:00–17:00 Europe/Berlin"),
        ("mon-fri 9am-5pm utc", "Mon–Fri 09:00–17:00 UTC"),
        ("Mon,Wed,Fri 09:00-17:00 UTC", "Mon, Wed, Fri 09:00–17:00 UTC"),
        ("Mon-Wed,Fri 09:00-17:00 UTC", "Mon–Wed, Fri 09:00–17:00 UTC"),
        ("Mon-Fri,Sun 09:00-17:00 UTC", "Sun–Fri 09:00–17:00 UTC"),
        ("Mon-Tue,Sat-Sun 09:00-17:00 UTC", "Sat–Tue 09:00–17:00 UTC"),
        ("Sat-Sun 10:00-14:00 UTC", "Sat, Sun 10:00–14:00 UTC"),
        ("Sun,Mon 10:00-14:00 UTC", "Mon, Sun 10:00–14:00 UTC"),
        ("Fri-Mon 10:00-14:00 UTC", "Fri–Mon 10:00–14:00 UTC"),
        ("Sat-Mon 10:00-14:00 UTC", "Sat–Mon 10:00–14:00 UTC"),
        ("Wed,Fri-Mon 10:00-14:00 UTC", "Wed, Fri–Mon 10:00–14:00 UTC"),
        ("Sun-Wed 10:00-14:00 UTC", "Sun–Wed 10:00–14:00 UTC"),
        ("daily 08:00-20:00 UTC", "Daily 08:00–20:00 UTC"),
        ("Mon-Sun 08:00-20:00 UTC", "Daily 08:00–20:00 UTC"),
        ("Mon-Fri 22:00-06:00 UTC", "Mon–Fri 22:00–06:00 UTC"),
        ("Mon-Fri 09:00-24:00 UTC", "Mon–Fri 09:00–24:00 UTC"),
        ("Mon-Fri 00:00-08:30 UTC", "Mon–Fri 00:00–08:30 UTC"),
        ("Thu 1pm-2pm America/New_York", "Thu 13:00–14:00 America/New_York"),
    ],
)
def test_describe(text: str, described: str) -> None:
    parsed = hours(text)
    assert parsed.describe() == described
    assert parse_hours(parsed.describe()) == parsed


@pytest.mark.parametrize(
    "text",
    [
        "Mon-Fri 09:00-17:00 Europe/Berlin",
        "Mon,Wed,Fri 09:00-17:00 America/New_York",
        "Fri-Mon 22:00-06:00 UTC",
        "daily 09:00-24:00 Asia/Tokyo",
        "Sun 00:00-00:30 Australia/Lord_Howe",
    ],
)
def test_json_round_trip(text: str) -> None:
    parsed = hours(text)
    stored = parsed.to_json()
    assert Hours.from_json(stored) == parsed
    assert isinstance(stored["days"], list)
    assert all(isinstance(v, str) for k, v in stored.items() if k != "days")


def test_to_json_shape() -> None:
    assert hours("Mon-Fri 09:00-24:00 Europe/Berlin").to_json() == {
        "days": [0, 1, 2, 3, 4],
        "start": "09:00",
        "end": "00:00",
        "tz": "Europe/Berlin",
    }


def test_seconds_survive_the_round_trip() -> None:
    exact = Hours(WEEKDAYS, time(9, 0, 30), time(17), "UTC")
    assert exact.to_json()["start"] == "09:00:30"
    assert Hours.from_json(exact.to_json()) == exact


_GOOD: dict[str, object] = {"days": [0, 1], "start": "09:00", "end": "17:00", "tz": "UTC"}


@pytest.mark.parametrize(
    "data",
    [
        {**_GOOD, "days": []},
        {**_GOOD, "days": [7]},
        {**_GOOD, "days": [-1]},
        {**_GOOD, "days": [True]},
        {**_GOOD, "days": [1.0]},
        {**_GOOD, "days": "01"},
        {**_GOOD, "days": None},
        {**_GOOD, "start": "9:00"},
        {**_GOOD, "start": "09:00+02:00"},
        {**_GOOD, "start": "25:00"},
        {**_GOOD, "start": 900},
        {**_GOOD, "end": "09:00"},
        {**_GOOD, "end": None},
        {**_GOOD, "tz": "Nowhere/City"},
        {**_GOOD, "tz": 1},
        {**_GOOD, "tz": "localtime/../UTC"},
        {k: v for k, v in _GOOD.items() if k != "tz"},
        {},
        [],
        "Mon-Fri 09:00-17:00 UTC",
        None,
    ],
)
def test_from_json_refuses_what_to_json_never_wrote(data: object) -> None:
    with pytest.raises(HoursError):
        Hours.from_json(data)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("days", "start", "end", "tz"),
    [
        (frozenset(), time(9), time(17), "UTC"),
        (frozenset({8}), time(9), time(17), "UTC"),
        (WEEKDAYS, time(9), time(9), "UTC"),
        (WEEKDAYS, time(9, tzinfo=UTC), time(17), "UTC"),
        (WEEKDAYS, time(9), time(17), "Nowhere/City"),
        (WEEKDAYS, time(9), time(17), ""),
    ],
)
def test_hours_refuse_bad_fields(days: frozenset[int], start: time, end: time, tz: str) -> None:
    with pytest.raises(HoursError):
        Hours(days, start, end, tz)


def test_hours_are_hashable_values() -> None:
    a = hours("Mon-Fri 09:00-17:00 UTC")
    b = hours("monday-friday 9am-5pm utc")
    assert a == b
    assert len({a, b}) == 1


# -- is_open and next_open -----------------------------------------------------------------------

BERLIN = "Mon-Fri 09:00-17:00 Europe/Berlin"
NIGHTS = "Mon-Fri 22:00-06:00 UTC"


@pytest.mark.parametrize(
    ("text", "when", "tz", "expected"),
    [
        # 2026-03-23 is a Monday (CET, UTC+1).
        (BERLIN, "2026-03-23T09:00:00", "Europe/Berlin", True),  # exactly start: open
        (BERLIN, "2026-03-23T08:59:59", "Europe/Berlin", False),
        (BERLIN, "2026-03-23T12:00:00", "Europe/Berlin", True),
        (BERLIN, "2026-03-23T16:59:59", "Europe/Berlin", True),
        (BERLIN, "2026-03-23T17:00:00", "Europe/Berlin", False),  # exactly end: closed
        (BERLIN, "2026-03-27T16:59:59", "Europe/Berlin", True),  # Friday
        (BERLIN, "2026-03-28T12:00:00", "Europe/Berlin", False),  # Saturday
        (BERLIN, "2026-03-29T12:00:00", "Europe/Berlin", False),  # Sunday, DST day
        (BERLIN, "2026-03-30T09:00:00", "Europe/Berlin", True),  # Monday, now CEST
        (BERLIN, "2026-03-30T08:59:59", "Europe/Berlin", False),
        (BERLIN, "2026-03-23T08:30:00", "UTC", True),  # 09:30 in Berlin
        (BERLIN, "2026-03-23T16:30:00", "UTC", False),  # 17:30 in Berlin
        (BERLIN, "2026-07-06T07:00:00", "UTC", True),  # 09:00 CEST
        (BERLIN, "2026-07-06T06:59:59", "UTC", False),
        # Overnight spans belong to the day they start.
        (NIGHTS, "2026-03-23T22:00:00", "UTC", True),  # Monday night starts
        (NIGHTS, "2026-03-23T21:59:59", "UTC", False),
        (NIGHTS, "2026-03-24T00:00:00", "UTC", True),
        (NIGHTS, "2026-03-24T05:59:59", "UTC", True),
        (NIGHTS, "2026-03-24T06:00:00", "UTC", False),  # exactly end: closed
        (NIGHTS, "2026-03-23T03:00:00", "UTC", False),  # Sunday night: not a working night
        (NIGHTS, "2026-03-28T03:00:00", "UTC", True),  # Saturday morning: Friday's night
        (NIGHTS, "2026-03-28T22:00:00", "UTC", False),  # Saturday night
        (NIGHTS, "2026-03-29T05:00:00", "UTC", False),
        ("Mon-Fri 09:00-24:00 UTC", "2026-03-23T23:59:59", "UTC", True),
        ("Mon-Fri 09:00-24:00 UTC", "2026-03-24T00:00:00", "UTC", False),
        ("Fri 09:00-24:00 UTC", "2026-03-28T00:00:00", "UTC", False),
        ("Fri-Mon 10:00-14:00 UTC", "2026-03-28T12:00:00", "UTC", True),  # Saturday
        ("Fri-Mon 10:00-14:00 UTC", "2026-03-29T12:00:00", "UTC", True),  # Sunday
        ("Fri-Mon 10:00-14:00 UTC", "2026-03-30T12:00:00", "UTC", True),  # Monday
        ("Fri-Mon 10:00-14:00 UTC", "2026-03-31T12:00:00", "UTC", False),  # Tuesday
        ("Sat-Sun 10:00-14:00 UTC", "2026-03-27T12:00:00", "UTC", False),  # Friday
        ("Sat-Sun 10:00-14:00 UTC", "2026-03-29T10:00:00", "UTC", True),
        ("Sun 22:00-02:00 UTC", "2026-03-30T01:00:00", "UTC", True),  # Sunday's night, Monday
    ],
)
def test_is_open(text: str, when: str, tz: str, expected: bool) -> None:
    assert hours(text).is_open(local(when, tz)) is expected


@pytest.mark.parametrize(
    ("text", "at", "opens"),
    [
        # Saturday evening before the spring change (Sunday 2026-03-29): Monday 09:00 CEST.
        (BERLIN, utc(2026, 3, 28, 19), utc(2026, 3, 30, 7)),
        # Saturday evening before the autumn change (Sunday 2026-10-25): Monday 09:00 CET.
        (BERLIN, utc(2026, 10, 24, 18), utc(2026, 10, 26, 8)),
        # Friday at closing time, the weekend of each change.
        (BERLIN, local("2026-03-27T17:00:00", "Europe/Berlin"), utc(2026, 3, 30, 7)),
        (BERLIN, local("2026-10-23T17:00:00", "Europe/Berlin"), utc(2026, 10, 26, 8)),
        # During the Sunday of each change, either side of the jump.
        (BERLIN, utc(2026, 3, 29, 0, 59), utc(2026, 3, 30, 7)),
        (BERLIN, utc(2026, 3, 29, 1, 1), utc(2026, 3, 30, 7)),
        (BERLIN, utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 8)),
        (BERLIN, utc(2026, 10, 25, 1, 30), utc(2026, 10, 26, 8)),
        # Before opening the same day; a second before opening.
        (BERLIN, local("2026-03-23T06:00:00", "Europe/Berlin"), utc(2026, 3, 23, 8)),
        (BERLIN, utc(2026, 3, 23, 7, 59, 59), utc(2026, 3, 23, 8)),
        # New York: spring forward Sunday 2026-03-08, fall back Sunday 2026-11-01.
        ("Mon-Fri 09:00-17:00 America/New_York", utc(2026, 3, 7, 23), utc(2026, 3, 9, 13)),
        ("Mon-Fri 09:00-17:00 America/New_York", utc(2026, 10, 31, 22), utc(2026, 11, 2, 14)),
        # Overnight spans: just after Friday's night ends, the next is Monday night.
        (NIGHTS, utc(2026, 3, 28, 6), utc(2026, 3, 30, 22)),
        (NIGHTS, utc(2026, 3, 23, 21), utc(2026, 3, 23, 22)),
        # Days that wrap round the week.
        ("Fri-Mon 10:00-14:00 UTC", utc(2026, 3, 24, 12), utc(2026, 3, 27, 10)),
        ("Sun 10:00-14:00 UTC", utc(2026, 3, 29, 14), utc(2026, 4, 5, 10)),
    ],
)
def test_next_open(text: str, at: float, opens: float) -> None:
    parsed = hours(text)
    assert not parsed.is_open(at)
    assert parsed.next_open(at) == opens
    assert parsed.is_open(opens)


@pytest.mark.parametrize(
    ("text", "at"),
    [
        (BERLIN, utc(2026, 3, 23, 8)),
        (BERLIN, utc(2026, 3, 23, 15, 59, 59)),
        (NIGHTS, utc(2026, 3, 28, 5, 59, 59)),
    ],
)
def test_next_open_when_open_is_now(text: str, at: float) -> None:
    assert hours(text).next_open(at) == at
    assert hours(text).next_open(at + 0.25) == at + 0.25


def test_an_overnight_span_across_the_spring_change_is_an_hour_shorter() -> None:
    saturday_night = hours("Sat 22:00-06:00 Europe/Berlin")
    assert saturday_night.next_open(utc(2026, 3, 28, 12)) == utc(2026, 3, 28, 21)  # 22:00 CET
    assert saturday_night.is_open(utc(2026, 3, 29, 3, 59, 59))
    assert not saturday_night.is_open(utc(2026, 3, 29, 4))  # 06:00 CEST: seven hours


def test_an_overnight_span_across_the_autumn_change_is_an_hour_longer() -> None:
    saturday_night = hours("Sat 22:00-06:00 Europe/Berlin")
    assert saturday_night.next_open(utc(2026, 10, 24, 12)) == utc(2026, 10, 24, 20)  # 22:00 CEST
    assert saturday_night.is_open(utc(2026, 10, 25, 4, 59, 59))
    assert not saturday_night.is_open(utc(2026, 10, 25, 5))  # 06:00 CET: nine hours


def test_a_start_the_clocks_skip_opens_when_they_jump() -> None:
    early = hours("daily 02:30-05:00 Europe/Berlin")
    # 2026-03-29: at 01:00 UTC Berlin clocks go from 02:00 CET straight to 03:00 CEST.
    assert not early.is_open(utc(2026, 3, 29, 0, 59, 59))  # 01:59:59 CET
    assert early.next_open(utc(2026, 3, 29, 0, 30)) == utc(2026, 3, 29, 1)
    assert early.is_open(utc(2026, 3, 29, 1))  # 03:00 CEST
    assert early.is_open(utc(2026, 3, 29, 2, 59, 59))
    assert not early.is_open(utc(2026, 3, 29, 3))  # 05:00 CEST


def test_a_start_the_clocks_repeat_opens_the_first_time_round() -> None:
    early = hours("daily 02:30-05:00 Europe/Berlin")
    # 2026-10-25: at 01:00 UTC Berlin clocks go from 03:00 CEST back to 02:00 CET.
    assert early.next_open(utc(2026, 10, 24, 23)) == utc(2026, 10, 25, 0, 30)  # 02:30 CEST
    for minutes in range(30, 240, 15):  # open throughout, including the repeated hour
        assert early.is_open(utc(2026, 10, 25, 0) + minutes * 60)
    assert not early.is_open(utc(2026, 10, 25, 4))  # 05:00 CET


def test_a_span_the_clocks_skip_entirely_waits_for_the_next_week() -> None:
    skipped = hours("Sun 02:00-02:45 Europe/Berlin")
    assert skipped.next_open(utc(2026, 3, 28, 12)) == utc(2026, 4, 5, 0)  # 02:00 CEST a week on
    assert not any(skipped.is_open(utc(2026, 3, 29, 0) + m * 60) for m in range(0, 240, 5))


STEP = 1800  # seconds between the moments checked


def _wall_clock_is_open(parsed: Hours, at: float) -> bool:
    """A plain reading of the rules, right wherever no clock change falls inside a span."""
    now = datetime.fromtimestamp(at, ZoneInfo(parsed.tz))
    today, yesterday = now.weekday(), (now.weekday() - 1) % 7
    clock = now.time()
    if parsed.start < parsed.end:
        return today in parsed.days and parsed.start <= clock < parsed.end
    return (today in parsed.days and clock >= parsed.start) or (
        yesterday in parsed.days and clock < parsed.end
    )


@pytest.mark.parametrize(
    "text",
    [
        BERLIN,
        "Mon-Fri 09:00-17:00 America/New_York",
        "Mon,Wed,Fri 08:15-12:45 Australia/Sydney",
        "Fri-Mon 22:00-06:00 Europe/Berlin",
        "Sat-Sun 10:00-24:00 America/New_York",
        NIGHTS,
    ],
)
@pytest.mark.parametrize("weeks", [("2026-03-01", 42), ("2026-10-18", 24)])  # (first day, days)
def test_is_open_and_next_open_agree_over_weeks_with_clock_changes(
    text: str, weeks: tuple[str, int]
) -> None:
    parsed = hours(text)
    first = datetime.fromisoformat(weeks[0]).replace(tzinfo=UTC).timestamp()
    grid = [first + n * STEP for n in range(weeks[1] * 86400 // STEP)]
    flags = [parsed.is_open(at) for at in grid]
    # Off the nights clocks change, the rules read plainly.
    for at, flag in zip(grid, flags, strict=True):
        local_day = datetime.fromtimestamp(at, ZoneInfo(parsed.tz)).date()
        changes = {
            d
            for d in (local_day - timedelta(days=1), local_day)
            if datetime.combine(d, time(12), ZoneInfo(parsed.tz)).utcoffset()
            != datetime.combine(d + timedelta(days=1), time(12), ZoneInfo(parsed.tz)).utcoffset()
        }
        if not changes:
            assert flag is _wall_clock_is_open(parsed, at), datetime.fromtimestamp(at, UTC)
    # next_open is the first open moment: nothing on the grid between now and then is open.
    next_open_index = len(grid)
    for i in range(len(grid) - 1, -1, -1):
        if flags[i]:
            next_open_index = i
            assert parsed.next_open(grid[i]) == grid[i]
            continue
        opens = parsed.next_open(grid[i])
        assert opens > grid[i]
        assert parsed.is_open(opens)
        assert not parsed.is_open(opens - 1)
        if next_open_index < len(grid):
            assert opens <= grid[next_open_index]
            assert opens > grid[next_open_index] - STEP


# -- anything at all -----------------------------------------------------------------------------

_FRAGMENTS = [
    "Mon", "fri", "Sunday", "tues", "daily", "-", "–", ",", " ", "  ", "\t", "09:00", "9:00",
    "17:00", "24:00", "25:00", "00:00", "9am", "5pm", "12am", "12pm", "13pm", "9", ":", "am",
    "Europe/Berlin", "UTC", "utc", "America/New_York", "Europe", "/", "..", "off", "always",
    "24/7", "none", "x", "\x00", "\ud800", "é", "٣", "٠٩:٠٠", "\u00a0", "🙂", ".", "%", "<", "`",
]  # fmt: skip


_DAY_PARTS = ["Mon-Fri", "mon – fri", "Fri-Mon", "Mon,Wed,Fri", "daily", "Sat, Sun", "Tue"]
_TIME_PARTS = ["09:00-17:00", "9am - 5pm", "22:00-06:00", "00:00-24:00", "12pm-12am", "9-5"]
_ZONE_PARTS = ["Europe/Berlin", "UTC", "utc", "America/New_York", "Pacific/Apia", "", "X/Y"]


def _odd_hours(rng: random.Random) -> str:
    def noise() -> str:
        return "".join(rng.choice(_FRAGMENTS) for _ in range(rng.randint(0, 4)))

    if rng.random() < 0.4:
        return noise() + noise()
    parts = [rng.choice(_DAY_PARTS), rng.choice(_TIME_PARTS), rng.choice(_ZONE_PARTS)]
    if rng.random() < 0.5:
        parts[rng.randrange(3)] = noise()
    return rng.choice([" ", "  ", ", ", "\t"]).join(parts)


def test_any_string_gives_hours_none_or_hours_error() -> None:
    rng = random.Random(20261025)
    texts = [_odd_hours(rng) for _ in range(3000)]
    texts += ["Mon-Fri 09:00-17:00 " + "a/" * 2000, "-" * 1000, "," * 1000, "9" * 1000]
    accepted = 0
    for text in texts:
        try:
            parsed = parse_hours(text)
        except HoursError as exc:
            assert FORM in str(exc)
        else:
            if parsed is not None:
                accepted += 1
                assert parse_hours(parsed.describe()) == parsed
                assert Hours.from_json(parsed.to_json()) == parsed
                assert isinstance(parsed.is_open(utc(2026, 3, 29, 1)), bool)
                assert parsed.is_open(parsed.next_open(utc(2026, 3, 28, 23)))
    assert accepted > 100
