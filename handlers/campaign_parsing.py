"""Reading what a community manager types for a schedule: times, weekdays, days of the month,
moments and time zones, in English, French or Arabic words. Refusals are `UserError`s that
say what a good answer looks like."""

from __future__ import annotations

import difflib
import re
from datetime import date, datetime
from functools import cache
from zoneinfo import available_timezones

from handlers.errors import (
    InvalidDateTime,
    InvalidMonthDay,
    InvalidTime,
    InvalidWeekdays,
    UnknownTimezone,
)

TIME = re.compile(r"([01]?\d|2[0-3])[:hH.]([0-5]\d)")
WEEKDAY_WORDS: dict[str, int] = {}
for _index, _names in enumerate(
    (
        ("monday", "mon", "lundi", "lun", "الاثنين", "الإثنين"),
        ("tuesday", "tue", "mardi", "mar", "الثلاثاء"),
        ("wednesday", "wed", "mercredi", "mer", "الأربعاء", "الاربعاء"),
        ("thursday", "thu", "jeudi", "jeu", "الخميس"),
        ("friday", "fri", "vendredi", "ven", "الجمعة"),
        ("saturday", "sat", "samedi", "sam", "السبت"),
        ("sunday", "sun", "dimanche", "dim", "الأحد", "الاحد"),
    )
):
    for _name in _names:
        WEEKDAY_WORDS[_name] = _index
ORDINAL_WORDS: dict[str, int] = {
    **dict.fromkeys(("first", "1st", "premier", "première", "1er", "الأول", "أول"), 1),
    **dict.fromkeys(("second", "2nd", "deuxième", "second", "2e", "الثاني", "ثاني"), 2),
    **dict.fromkeys(("third", "3rd", "troisième", "3e", "الثالث", "ثالث"), 3),
    **dict.fromkeys(("fourth", "4th", "quatrième", "4e", "الرابع", "رابع"), 4),
    **dict.fromkeys(("last", "dernier", "dernière", "الأخير", "آخر"), -1),
}


def _words(text: str) -> list[str]:
    return [word for word in re.split(r"[\s,;/]+", text.strip().casefold()) if word]


def parse_time(text: str) -> str:
    match = TIME.fullmatch(text.strip())
    if match is None:
        raise InvalidTime()
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def parse_weekdays(text: str) -> list[int]:
    """ "mon thu", "lundi, jeudi", "1 4" (Monday is 1) -> [0, 3]."""
    days: set[int] = set()
    for word in _words(text):
        if word.isdigit() and 1 <= int(word) <= 7:
            days.add(int(word) - 1)
        elif word in WEEKDAY_WORDS:
            days.add(WEEKDAY_WORDS[word])
        else:
            raise InvalidWeekdays()
    if not days:
        raise InvalidWeekdays()
    return sorted(days)


def parse_monthday(text: str) -> dict[str, int]:
    """ "15" -> {"day": 15}; "first monday" / "dernier vendredi" -> {"nth": .., "weekday": ..}."""
    words = _words(text)
    if len(words) == 1 and words[0].isdigit() and 1 <= int(words[0]) <= 31:
        return {"day": int(words[0])}
    nth = [ORDINAL_WORDS[w] for w in words if w in ORDINAL_WORDS]
    nth += [int(w) for w in words if w.isdigit() and 1 <= int(w) <= 4]
    weekday = [WEEKDAY_WORDS[w] for w in words if w in WEEKDAY_WORDS]
    if len(words) != 2 or len(nth) != 1 or len(weekday) != 1:
        raise InvalidMonthDay()
    return {"nth": nth[0], "weekday": weekday[0]}


def parse_local(text: str, example: str) -> datetime:
    """ "2026-12-01 18:00" -> a naive local datetime."""
    cleaned = " ".join(text.strip().replace("T", " ").split())
    try:
        day, hour = cleaned.split(" ")
        return datetime.combine(date.fromisoformat(day), datetime.strptime(hour, "%H:%M").time())
    except ValueError:
        raise InvalidDateTime(example=example) from None


@cache
def _zone_names() -> dict[str, str]:
    return {name.casefold(): name for name in available_timezones()}


def parse_zone(text: str) -> str:
    """An IANA time zone name, case-insensitive; a refusal suggests the closest."""
    names = _zone_names()
    wanted = text.strip().replace(" ", "_").casefold()
    if wanted in names:
        return names[wanted]
    close = difflib.get_close_matches(wanted, list(names), n=1, cutoff=0.6)
    if not close:
        close = [name for name in names if wanted and name.endswith("/" + wanted)][:1]
    raise UnknownTimezone(zone=text.strip(), suggestion=names[close[0]] if close else "")


def parse_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]
