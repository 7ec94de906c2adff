"""Profiles without I/O: the pacing of progressive questions over a fake clock, and the
validation of every bounded value (tags, languages, countries, quiet hours, places)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from handlers.errors import (
    InvalidQuietHours,
    InvalidTags,
    TextEmpty,
    TextTooLong,
    TooManyLanguages,
    UnknownCountry,
    UnknownLanguage,
    UserError,
)
from handlers.i18n import use_language
from handlers.profile import QUESTION_ORDER, ProfileState, next_question
from handlers.profile_values import (
    parse_country,
    parse_languages,
    parse_place,
    parse_quiet_hours,
    parse_skills,
)

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def state(
    asked_at: datetime | None = None, skipped: tuple[str, ...] = (), filled: tuple[str, ...] = ()
) -> ProfileState:
    return ProfileState(asked_at, frozenset(skipped), frozenset(filled))


# --- pacing ----------------------------------------------------------------------------------


def test_the_first_question_is_consent() -> None:
    assert next_question(state(), T0) == "accepts_dm"


@pytest.mark.parametrize(
    ("days", "expected"),
    [(0, None), (1, None), (6, None), (6.99, None), (7, "accepts_dm"), (30, "accepts_dm")],
)
def test_never_two_questions_in_a_week(days: float, expected: str | None) -> None:
    assert next_question(state(asked_at=T0), T0 + timedelta(days=days)) == expected


def test_skipped_and_filled_questions_are_not_asked_in_order() -> None:
    assert next_question(state(skipped=("accepts_dm",)), T0) == "skills"
    assert next_question(state(skipped=("accepts_dm",), filled=("skills",)), T0) == "origin"
    assert next_question(state(filled=QUESTION_ORDER[:-1]), T0) == "availability"
    assert next_question(state(skipped=QUESTION_ORDER[:3], filled=QUESTION_ORDER[3:]), T0) is None


def test_a_week_of_fake_clock_asks_each_question_once() -> None:
    """One natural moment a day for ten weeks, every question skipped when asked."""
    now, asked_at, skipped, asked = T0, None, set[str](), []
    for _day in range(70):
        key = next_question(ProfileState(asked_at, frozenset(skipped), frozenset()), now)
        if key is not None:
            asked.append((now, key))
            asked_at = now
            skipped.add(key)
        now += timedelta(days=1)
    assert [key for _at, key in asked] == list(QUESTION_ORDER)
    gaps = [later - earlier for (earlier, _a), (later, _b) in itertools.pairwise(asked)]
    assert all(gap >= timedelta(days=7) for gap in gaps)


# --- skills ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Accounting", ["accounting"]),
        ("accounting, design", ["accounting", "design"]),
        ("accounting design", ["accounting", "design"]),
        ("محاسبة، تصميم", ["محاسبة", "تصميم"]),
        ("#Web-Design;  SEO , seo", ["web-design", "seo"]),
        (" , accounting ,, ", ["accounting"]),
    ],
)
def test_skills_are_lowercase_tags(raw: str, expected: list[str]) -> None:
    assert parse_skills(raw) == expected


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("", TextEmpty),
        (" ,, ", TextEmpty),
        (" ".join(f"t{i}" for i in range(16)), InvalidTags),
        ("a" * 31, InvalidTags),
    ],
)
def test_skills_are_bounded(raw: str, error: type[UserError]) -> None:
    with pytest.raises(error):
        parse_skills(raw)


def test_fifteen_tags_of_thirty_characters_are_fine() -> None:
    tags = [f"{i:02d}" + "x" * 28 for i in range(15)]
    assert parse_skills(", ".join(tags)) == tags


# --- languages -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "language", "expected"),
    [
        ("fr, ar, en", "en", ["fr", "ar", "en"]),
        ("FR AR", "en", ["fr", "ar"]),
        ("French, Arabic", "en", ["fr", "ar"]),
        ("français et arabe", "fr", ["fr", "ar"]),
        ("Francais, ANGLAIS", "fr", ["fr", "en"]),
        ("العربية، الفرنسية", "ar", ["ar", "fr"]),
        ("Spanish", "fr", ["es"]),  # a name in another of the bot's languages
        ("Tachelhit, darija, amazigh", "en", ["shi", "ary", "zgh"]),
        ("fr, fr, French", "en", ["fr"]),
    ],
)
def test_languages_by_code_or_name(raw: str, language: str, expected: list[str]) -> None:
    assert parse_languages(raw, language) == expected


def test_unknown_language_suggests_the_closest() -> None:
    with pytest.raises(UnknownLanguage) as refused:
        parse_languages("fr, Frensh", "en")
    assert refused.value.params["suggestion"] == "French (fr)"
    with use_language("en"):
        assert "Did you mean “French (fr)”?" in refused.value.render()


@pytest.mark.parametrize("raw", ["xx", "zz, fr", "qq"])
def test_unknown_codes_are_refused(raw: str) -> None:
    with pytest.raises(UnknownLanguage):
        parse_languages(raw, "en")


def test_at_most_six_languages() -> None:
    assert len(parse_languages("fr ar en es de it", "en")) == 6
    with pytest.raises(TooManyLanguages):
        parse_languages("fr ar en es de it nl", "en")


# --- countries -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "language", "expected"),
    [
        ("FR", "en", "FR"),
        ("ma", "en", "MA"),
        ("Morocco", "en", "MA"),
        ("maroc", "fr", "MA"),
        ("Belgique", "en", "BE"),
        ("المغرب", "ar", "MA"),
        ("États-Unis", "fr", "US"),
        ("etats-unis", "fr", "US"),
        ("UK", "en", "GB"),
        ("  canada ", "ar", "CA"),
    ],
)
def test_countries_by_code_or_name(raw: str, language: str, expected: str) -> None:
    assert parse_country(raw, language) == expected


@pytest.mark.parametrize(
    ("raw", "suggestion"),
    [("Marocco", "Morocco (MA)"), ("Frnace", "France (FR)"), ("zz", ""), ("EU", "")],
)
def test_unknown_countries_suggest_the_closest(raw: str, suggestion: str) -> None:
    with pytest.raises(UnknownCountry) as refused:
        parse_country(raw, "en")
    if suggestion:
        assert refused.value.params["suggestion"] == suggestion


def test_regions_are_not_countries() -> None:
    for raw in ("EU", "UN", "150", "ZZ"):
        with pytest.raises(UnknownCountry):
            parse_country(raw, "en")


# --- quiet hours and places ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("22:00-08:00", "22:00-08:00"),
        (" 22:00 - 08:00 ", "22:00-08:00"),
        ("22h-8h", "22:00-08:00"),
        ("9.30 – 17", "09:30-17:00"),
        ("23 to 7", "23:00-07:00"),
        ("00:00-00:00", "00:00-00:00"),
        ("none", None),
        ("Default", None),
        ("aucune", None),
    ],
)
def test_quiet_hours(raw: str, expected: str | None) -> None:
    assert parse_quiet_hours(raw, clear_words=("aucune",)) == expected


@pytest.mark.parametrize("raw", ["24:00-08:00", "22:60-08:00", "tonight", "22:00", "22-08-01"])
def test_bad_quiet_hours(raw: str) -> None:
    with pytest.raises(InvalidQuietHours):
        parse_quiet_hours(raw)


def test_places_are_bounded_and_take_the_known_spelling() -> None:
    assert parse_place("  Lyon ") == "Lyon"
    assert parse_place("tafraout", ["Tiznit", "Tafraout"]) == "Tafraout"
    assert parse_place("Tafraoute", ["Tafraout"]) == "Tafraoute"
    assert parse_place("x" * 100) == "x" * 100
    with pytest.raises(TextTooLong):
        parse_place("x" * 101)
    with pytest.raises(TextEmpty):
        parse_place("   ")
