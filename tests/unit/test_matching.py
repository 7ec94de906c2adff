"""Matching as a table: who a need reaches, who it does not, and why; the SQL filter's
patterns never miss a match that scoring would make; the quiet hours and the cap."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.i18n import use_language
from handlers.match_notes import explain, listing
from handlers.match_scoring import (
    Feedback,
    Match,
    Profile,
    Reason,
    Vocabulary,
    close,
    place_key,
    ranked,
    score,
    subject_of,
)
from store.respect import capped, not_before, parse_window, quiet_until
from store.traits import facts, origin_key, rows_for


@dataclass(frozen=True)
class N:
    id: int
    kind: str
    title: str
    details: str = ""


@dataclass(frozen=True)
class P:
    id: int
    territory: str


ACCOUNTING = N(1, "expertise", "Accounting for the argan cooperative", "Keep the books monthly.")
TRANSLATION = N(2, "skills", "Traduction de la brochure", "Du français vers l'espagnol.")
ARTICLE = N(3, "information", "Write an article for the press")
ARABIC = N(4, "knowledge", "تدريب على المحاسبة", "محاسبة بسيطة للتعاونية")
TAFRAOUT = P(10, "Tafraout")
AIT_BAHA = P(11, "Aït Baha")
NOWHERE = P(12, "")
LANGS = frozenset({"fr"})

#   (case, profile, need, project, feedback, reached, reason kinds, English explanation)
TABLE: list[tuple[str, Profile, N, P, Feedback, bool, tuple[str, ...], str]] = [
    (
        "skill and origin",
        Profile(1, skills=("accounting",), origin="Tafraout"),
        ACCOUNTING,
        TAFRAOUT,
        Feedback(),
        True,
        ("skill", "origin"),
        "you know accounting and your family is from Tafraout",
    ),
    (
        "origin with other case and accents",
        Profile(2, skills=("design",), origin="  TAFRAOÛT "),
        ACCOUNTING,
        TAFRAOUT,
        Feedback(),
        True,
        ("origin",),
        "your family is from Tafraout",
    ),
    (
        "origin with a hyphen for the space",
        Profile(3, origin="ait-baha"),
        ACCOUNTING,
        AIT_BAHA,
        Feedback(),
        True,
        ("origin",),
        "your family is from Aït Baha",
    ),
    (
        "a kind they like, alone",
        Profile(4, liked_kinds=("expertise", "funding")),
        ACCOUNTING,
        NOWHERE,
        Feedback(),
        True,
        ("kind",),
        "you like to help with expertise",
    ),
    (
        "a language alone is not enough",
        Profile(5, languages=("fr", "ar")),
        ACCOUNTING,
        TAFRAOUT,
        Feedback(),
        False,
        (),
        "",
    ),
    (
        "kind and language",
        Profile(6, liked_kinds=("expertise",), languages=("ar", "fr")),
        ACCOUNTING,
        TAFRAOUT,
        Feedback(),
        True,
        ("kind", "language"),
        "you like to help with expertise and you speak French",
    ),
    (
        "accountant fits accounting (same beginning)",
        Profile(7, skills=("accountant",)),
        ACCOUNTING,
        NOWHERE,
        Feedback(),
        True,
        ("skill",),
        "you know accountant",
    ),
    (
        "traducteur fits traduction, accents aside",
        Profile(8, skills=("traducteur", "espagnol")),
        TRANSLATION,
        NOWHERE,
        Feedback(),
        True,
        ("skill", "skill"),
        "you know traducteur and you know espagnol",
    ),
    (
        "art does not fit article (too short to compare beginnings)",
        Profile(9, skills=("art",)),
        ARTICLE,
        NOWHERE,
        Feedback(),
        False,
        (),
        "",
    ),
    (
        "a skill matching the kind itself",
        Profile(10, skills=("expertise",)),
        ACCOUNTING,
        NOWHERE,
        Feedback(),
        True,
        ("skill",),
        "you know expertise",
    ),
    (
        "an Arabic skill in an Arabic need",
        Profile(11, skills=("محاسبة",)),
        ARABIC,
        NOWHERE,
        Feedback(),
        True,
        ("skill",),
        "you know محاسبة",
    ),
    (
        "three fitting skills count twice",
        Profile(12, skills=("accounting", "books", "monthly")),
        ACCOUNTING,
        NOWHERE,
        Feedback(),
        True,
        ("skill", "skill"),
        "you know accounting and you know books",
    ),
    (
        "stopped these notes",
        Profile(13, skills=("accounting",), matching_off=True),
        ACCOUNTING,
        TAFRAOUT,
        Feedback(),
        False,
        (),
        "",
    ),
    (
        "no private messages",
        Profile(14, skills=("accounting",), accepts_dm=False),
        ACCOUNTING,
        TAFRAOUT,
        Feedback(),
        False,
        (),
        "",
    ),
    (
        "erased",
        Profile(15, skills=("accounting",), origin="Tafraout", erased=True),
        ACCOUNTING,
        TAFRAOUT,
        Feedback(),
        False,
        (),
        "",
    ),
    (
        "said Not for me to this very need",
        Profile(16, skills=("accounting",)),
        ACCOUNTING,
        TAFRAOUT,
        Feedback(this_need=True),
        False,
        (),
        "",
    ),
    (
        "kind alone, but Not for me once on the kind",
        Profile(17, liked_kinds=("expertise",)),
        ACCOUNTING,
        TAFRAOUT,
        Feedback(same_kind=1),
        False,
        (),
        "",
    ),
    (
        "a skill survives one Not for me on the project",
        Profile(18, skills=("accounting",)),
        ACCOUNTING,
        TAFRAOUT,
        Feedback(same_project=1),
        True,
        ("skill",),
        "you know accounting",
    ),
    (
        "a skill does not survive two on the project and one on the kind",
        Profile(19, skills=("accounting",)),
        ACCOUNTING,
        TAFRAOUT,
        Feedback(same_project=2, same_kind=1),
        False,
        (),
        "",
    ),
    (
        "an empty profile",
        Profile(20),
        ACCOUNTING,
        TAFRAOUT,
        Feedback(),
        False,
        (),
        "",
    ),
    (
        "another territory",
        Profile(21, origin="Tiznit", skills=("painting",)),
        ACCOUNTING,
        TAFRAOUT,
        Feedback(),
        False,
        (),
        "",
    ),
]


@pytest.mark.parametrize(
    ("case", "profile", "need", "project", "feedback", "reached", "kinds", "why"),
    TABLE,
    ids=[row[0] for row in TABLE],
)
def test_who_is_reached_and_why(
    case: str,
    profile: Profile,
    need: N,
    project: P,
    feedback: Feedback,
    reached: bool,
    kinds: tuple[str, ...],
    why: str,
) -> None:
    match = score(profile, need, project, feedback, languages=LANGS)
    if not reached:
        assert match is None, case
        return
    assert match is not None, case
    assert match.member_id == profile.member_id
    assert tuple(reason.kind for reason in match.reasons) == kinds
    assert match.score == sum(r.points for r in match.reasons) - match.penalty
    with use_language("en"):
        assert explain(match) == why


def test_scores_and_penalties() -> None:
    both = score(
        Profile(1, skills=("accounting",), origin="Tafraout"), ACCOUNTING, TAFRAOUT, Feedback()
    )
    assert both is not None and both.score == 4 + 3
    penalised = score(Profile(1, skills=("accounting",)), ACCOUNTING, TAFRAOUT, Feedback(1, 0, 0))
    assert penalised is None  # this very need
    many = score(
        Profile(1, skills=("accounting", "books")), ACCOUNTING, TAFRAOUT, Feedback(same_project=9)
    )
    # Four points per skill (8), Not for me on the project counted twice at most (-4).
    assert many is not None and (many.score, many.penalty) == (4, 4)


def test_ranking_best_first_then_oldest_member() -> None:
    matches = [
        Match(3, 2, ()),
        Match(1, 7, ()),
        Match(2, 7, ()),
        Match(4, 4, ()),
    ]
    assert [m.member_id for m in ranked(matches)] == [1, 2, 4, 3]


def test_explanations_in_other_languages_keep_the_member_words() -> None:
    match = Match(1, 7, (Reason("skill", "comptabilité", 4), Reason("origin", "Tafraout", 3)))
    with use_language("fr"):
        text = explain(match)
    assert "comptabilité" in text and "Tafraout" in text
    with use_language("en"):
        assert listing(["a"]) == "a"
        assert listing(["a", "b", "c"]) == "a, b and c"
        assert listing([]) == ""


def test_words_and_places() -> None:
    assert close("accounting", "accountant")
    assert close("traduction", "traducteur")
    assert not close("data", "database")  # four letters: only equal words match
    assert not close("art", "article")
    assert not close("commerce", "communication")
    assert place_key("Aït-Baha") == place_key("ait  baha") == ("ait", "baha")
    assert place_key(None) == ()


# --- the SQL filter never misses ------------------------------------------------------------


WORDS = [
    "accounting", "accountant", "comptabilité", "comptable", "traduction", "traducteur",
    "éducation", "education", "Économie", "économiste", "santé", "sante", "web", "design",
    "designer", "marketing", "market", "data", "database", "art", "article", "eau", "énergie",
    "solaire", "agriculture", "agronome", "محاسبة", "تعليم", "droit", "juriste", "café", "ux",
    "ux-design", "3d", "gestion de projet", "e-commerce", "web design", "de", "2024",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=6),
    st.lists(st.sampled_from(WORDS), min_size=0, max_size=12),
)
def test_the_vocabulary_finds_exactly_the_fitting_tags(
    need_words: list[str], tags: list[str]
) -> None:
    need = N(1, "expertise", " ".join(need_words[:2]), " ".join(need_words[2:]))
    subject = subject_of(need, NOWHERE, LANGS)
    expected = tuple(sorted({tag for tag in tags if subject.fits(tag)}))
    assert Vocabulary(tags).fitting(subject) == expected


@pytest.mark.parametrize(
    "tag", ["comptabilité", "python", "محاسبة", "100%", "machine_learning", "wow!", 'say "hi"']
)
def test_traits_keep_tags_as_written(tag: str) -> None:
    found = facts(
        skills=[tag, "x"],
        liked_kinds=["idea"],
        languages=["fr"],
        origin=None,
        accepts_dm=True,
        matching_off=False,
    )
    assert found == {("skill", tag), ("skill", "x"), ("kind", "idea"), ("lang", "fr")}


@pytest.mark.parametrize("origin", ["Tafraout", "TAFRAOÛT", "tafraout ", "Tafraoût"])
def test_traits_store_every_spelling_of_an_origin_as_the_territory_key(origin: str) -> None:
    assert origin_key(origin) == " ".join(place_key("Tafraout")) == "tafraout"
    assert origin_key("Aït-Baha") == "ait baha"
    assert ("origin", "tafraout") in facts(
        skills=[],
        liked_kinds=[],
        languages=[],
        origin=origin,
        accepts_dm=True,
        matching_off=False,
    )


@pytest.mark.parametrize(("accepts_dm", "matching_off"), [(False, False), (True, True)])
def test_members_who_may_not_be_matched_have_no_traits(
    accepts_dm: bool, matching_off: bool
) -> None:
    profile = {
        "skills": ["python"],
        "liked_kinds": ["idea"],
        "languages": ["fr"],
        "origin": "Tafraout",
        "accepts_dm": accepts_dm,
        "matching_off": matching_off,
    }
    assert rows_for(1, profile) == []


def test_trait_values_too_long_or_not_text_are_left_out() -> None:
    found = facts(
        skills=["ok", "", "x" * 101, 3, None],
        liked_kinds="idea",  # not a list: ignored
        languages=["fr"],
        origin="  ",
        accepts_dm=True,
        matching_off=False,
    )
    assert found == {("skill", "ok"), ("lang", "fr")}


def test_short_words_fit_only_as_whole_skills() -> None:
    subject = subject_of(N(9, "idea", "web website webinar ux design"), NOWHERE, LANGS)
    assert subject.fits("web") and subject.fits("UX") and subject.fits("ux-design")
    assert not subject.fits("ux-ui")  # "ui" is not a word of the need
    assert subject.fits("webmaster") is False  # "webma" begins no word of the need
    assert subject.fits("websites")  # "websi" begins "website"
    assert not subject_of(N(9, "idea", "Besoin 14 qu'il"), NOWHERE, LANGS).fits("14")


# --- quiet hours and the cap -----------------------------------------------------------------

CASABLANCA = ZoneInfo("Africa/Casablanca")


def test_quiet_hours_postpone_to_their_end() -> None:
    night = parse_window("22:00-08:00")
    assert night == (time(22), time(8))
    late = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)  # 00:30 in Casablanca (UTC+1)
    assert quiet_until(late, CASABLANCA, night) == datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
    noon = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)
    assert quiet_until(noon, CASABLANCA, night) is None
    assert quiet_until(late, CASABLANCA, (time(0), time(0))) is None
    lunch = parse_window("12:00-14:00")
    assert lunch is not None
    assert quiet_until(noon, CASABLANCA, lunch) == datetime(2026, 11, 26, 13, 0, tzinfo=UTC)


def test_not_before_uses_the_member_zone_and_window_else_the_community() -> None:
    at = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # 05:00 in Montreal, 11:00 in Casablanca
    assert not_before(at, member_zone=None, member_quiet=None, community_zone=CASABLANCA) == at
    assert not_before(
        at, member_zone="America/Montreal", member_quiet=None, community_zone=CASABLANCA
    ) == datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
    assert (
        not_before(
            at,
            member_zone="America/Montreal",
            member_quiet="01:00-04:00",
            community_zone=CASABLANCA,
        )
        == at
    )
    assert (
        not_before(at, member_zone="Not/AZone", member_quiet="bad", community_zone=CASABLANCA) == at
    )
    assert parse_window("25:00-08:00") is None


def test_cap() -> None:
    assert not capped(1, 2)
    assert capped(2, 2)
    assert capped(0, 0)
