"""How well a member's profile fits a need: pure, explainable scoring (no I/O).

Each point comes with a reason the member can read ("you know accounting and your family is
from Tafraout"):

| reason | points |
|---|---|
| a skill whose words match words of the need (title, details, kind) | 4 each, two at most |
| a commune of origin spelled like the project's territory (case and accents aside) | 3 |
| the need's kind is one the member likes | 2 |
| a language in common with the community's | 1 |

A member is reached from 2 points; a language alone is not enough. Every "Not for me" the
member said on the same project's needs takes 2 points (twice at most), on needs of the same
kind 1 point (three times at most). Members who stopped these notes, who did not accept
private messages, or whose data was erased are never reached.

Words are compared folded (no accents, case-folded). Two words match when they are equal, or
when both have 5 letters or more and begin with the same 5: "accounting" fits "accountant",
"traduction" fits "traducteur", "art" does not fit "article". A skill fits when every
meaningful word of it matches a word of the need; a skill without a word of 5 letters must be
one word of the need ("ux", "3d", "web").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal, Protocol

from store.folding import fold, place_key, words

SKILL_POINTS = 4
SKILLS_COUNTED = 2
ORIGIN_POINTS = 3
KIND_POINTS = 2
LANGUAGE_POINTS = 1
THRESHOLD = 2
NOT_FOR_ME_PROJECT = 2
NOT_FOR_ME_PROJECT_COUNTED = 2
NOT_FOR_ME_KIND = 1
NOT_FOR_ME_KIND_COUNTED = 3
PREFIX = 5  # letters two long words must share to match

# Words that never make a match (in the community's languages).
_STOPWORDS_TEXT = """
    a an and are as at be by for from in into is it of on or our the their this to with we you
    au aux avec ce ces cette dans de des du elle en est et il ils la le les leur leurs nos notre
    nous ou où par pour qu que qui sa se ses son sur un une vos votre vous
    al el en la las los del por para con una uno y
    في من على إلى الى و أو مع عن
"""
STOPWORDS = frozenset(fold(word) for word in _STOPWORDS_TEXT.split())

ReasonKind = Literal["skill", "origin", "kind", "language"]


@dataclass(frozen=True, slots=True)
class Profile:
    """A member as matching sees them."""

    member_id: int
    skills: tuple[str, ...] = ()
    liked_kinds: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    origin: str | None = None
    accepts_dm: bool = True
    matching_off: bool = False
    erased: bool = False
    display_name: str = ""
    share_name: bool = False


@dataclass(frozen=True, slots=True)
class Feedback:
    """What the member said before: "Not for me" on this need, on the same project's needs,
    on needs of the same kind."""

    this_need: bool = False
    same_project: int = 0
    same_kind: int = 0


@dataclass(frozen=True, slots=True)
class Reason:
    kind: ReasonKind
    value: str  # the skill as the member wrote it, the territory, the kind, the language code
    points: int


@dataclass(frozen=True, slots=True)
class Match:
    member_id: int
    score: int
    reasons: tuple[Reason, ...]
    penalty: int = 0
    display_name: str = ""
    share_name: bool = False


class NeedLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def details(self) -> str: ...


class ProjectLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def territory(self) -> str: ...


def meaningful_word(word: str) -> bool:
    """A word that can make a match: two letters or more, not a number, not a stopword."""
    return len(word) >= 2 and not word.isdigit() and word not in STOPWORDS


def close(one: str, other: str) -> bool:
    """Two folded words match: equal, or long enough and beginning alike."""
    if one == other:
        return True
    return len(one) >= PREFIX and len(other) >= PREFIX and one[:PREFIX] == other[:PREFIX]


def _skill_key(skill: str) -> tuple[str, str] | None:
    """Where a skill is filed: ("stem", the beginning of its first long word), or ("word",
    its only short word); None when it can never fit."""
    meaningful = [word for word in words(skill) if meaningful_word(word)]
    for word in meaningful:
        if len(word) >= PREFIX:
            return "stem", word[:PREFIX]
    if len(meaningful) == 1 and fold(skill) == meaningful[0]:
        return "word", meaningful[0]
    return None


@dataclass(frozen=True)
class Subject:
    """What a need looks for, folded once: its words, its kind, its territory."""

    need_id: int
    project_id: int
    kind: str
    tokens: frozenset[str]
    territory: tuple[str, ...]
    territory_label: str
    languages: frozenset[str]
    _by_prefix: dict[str, tuple[str, ...]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )
    _skills: dict[str, bool] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        grouped: dict[str, list[str]] = {}
        for token in self.tokens:
            if len(token) >= PREFIX:
                grouped.setdefault(token[:PREFIX], []).append(token)
        self._by_prefix.update({key: tuple(value) for key, value in grouped.items()})

    def fits(self, skill: str) -> bool:
        """Whether a skill fits the need (see the module's rules)."""
        known = self._skills.get(skill)
        if known is None:
            key = _skill_key(skill)
            if key is None:
                known = False
            elif key[0] == "word":
                known = key[1] in self.tokens
            else:
                meaningful = [word for word in words(skill) if meaningful_word(word)]
                known = all(self._has(word) for word in meaningful)
            self._skills[skill] = known
        return known

    def _has(self, word: str) -> bool:
        if word in self.tokens:
            return True
        if len(word) < PREFIX:
            return False
        return any(close(word, token) for token in self._by_prefix.get(word[:PREFIX], ()))


class Vocabulary:
    """The community's distinct skill tags, filed so that the few that may fit a need are
    found without looking at the others."""

    def __init__(self, tags: Iterable[str]) -> None:
        self.tags = frozenset(tags)
        self._filed: dict[tuple[str, str], list[str]] = {}
        for tag in self.tags:
            key = _skill_key(tag)
            if key is not None:
                self._filed.setdefault(key, []).append(tag)

    def fitting(self, subject: Subject) -> tuple[str, ...]:
        """The tags that fit the need, sorted."""
        found: set[str] = set()
        for token in subject.tokens:
            key = ("stem", token[:PREFIX]) if len(token) >= PREFIX else ("word", token)
            found.update(tag for tag in self._filed.get(key, ()) if subject.fits(tag))
        return tuple(sorted(found))


@lru_cache(maxsize=256)
def _subject(
    need_id: int,
    project_id: int,
    kind: str,
    title: str,
    details: str,
    territory: str,
    languages: frozenset[str],
) -> Subject:
    tokens = {token for token in words(f"{title} {details} {kind}") if meaningful_word(token)}
    return Subject(
        need_id=need_id,
        project_id=project_id,
        kind=kind,
        tokens=frozenset(tokens),
        territory=place_key(territory),
        territory_label=territory.strip(),
        languages=languages,
    )


def subject_of(need: NeedLike, project: ProjectLike, languages: frozenset[str]) -> Subject:
    return _subject(
        need.id,
        project.id,
        need.kind,
        need.title,
        need.details or "",
        project.territory or "",
        languages,
    )


def score(
    profile: Profile,
    need: NeedLike,
    project: ProjectLike,
    feedback: Feedback,
    *,
    languages: frozenset[str] = frozenset(),
) -> Match | None:
    """How well a member fits a need, with the reasons; None when they are not reached.
    `languages` are the community's (the project's working languages)."""
    return score_subject(profile, subject_of(need, project, languages), feedback)


def score_subject(profile: Profile, subject: Subject, feedback: Feedback) -> Match | None:
    """`score` with the need already folded (scoring many members for one need)."""
    if profile.erased or profile.matching_off or not profile.accepts_dm or feedback.this_need:
        return None
    reasons: list[Reason] = []
    for skill in profile.skills:
        if subject.fits(skill):
            reasons.append(Reason("skill", skill, SKILL_POINTS))
            if len(reasons) == SKILLS_COUNTED:
                break
    if subject.territory and place_key(profile.origin) == subject.territory:
        reasons.append(Reason("origin", subject.territory_label, ORIGIN_POINTS))
    if subject.kind in profile.liked_kinds:
        reasons.append(Reason("kind", subject.kind, KIND_POINTS))
    common = sorted(set(profile.languages) & subject.languages)
    if common:
        reasons.append(Reason("language", common[0], LANGUAGE_POINTS))
    total = sum(reason.points for reason in reasons)
    if total < THRESHOLD:
        return None
    penalty = NOT_FOR_ME_PROJECT * min(feedback.same_project, NOT_FOR_ME_PROJECT_COUNTED)
    penalty += NOT_FOR_ME_KIND * min(feedback.same_kind, NOT_FOR_ME_KIND_COUNTED)
    if total - penalty < THRESHOLD:
        return None
    return Match(
        member_id=profile.member_id,
        score=total - penalty,
        reasons=tuple(reasons),
        penalty=penalty,
        display_name=profile.display_name,
        share_name=profile.share_name,
    )


def ranked(matches: Sequence[Match]) -> list[Match]:
    """Best scores first; the longest-standing members first among equals."""
    return sorted(matches, key=lambda match: (-match.score, match.member_id))
