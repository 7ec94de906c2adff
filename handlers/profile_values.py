"""Reading what a member types into their profile: bounded, validated, normalised.

Pure functions (no I/O): skills tags, languages (ISO 639 codes Babel knows, or their names in
the member's language), countries (ISO 3166-1 alpha-2 codes Babel knows, or their names),
quiet hours, and names of places. A refusal is a `UserError` naming the rule, with the
closest known value when there is one.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from functools import cache

from babel import Locale, UnknownLocaleError

from handlers.dialogs import clean_text
from handlers.errors import (
    InvalidQuietHours,
    InvalidTags,
    TextEmpty,
    TextTooLong,
    TooManyLanguages,
    UnknownCountry,
    UnknownLanguage,
)
from handlers.i18n import LANGUAGES
from store.folding import fold

SKILLS_MAX = 15
SKILL_LENGTH_MAX = 30
LANGUAGES_MAX = 6
PLACE_MAX = 100  # city, commune of origin
SKILLS_INPUT_MAX = 600
LANGUAGES_INPUT_MAX = 200
COUNTRY_INPUT_MAX = 100

# Tags and lists are separated by commas (Latin or Arabic), semicolons or spaces.
_TAG_SEPARATORS = re.compile(r"[,،;\s]+")
_LIST_SEPARATORS = re.compile(r"[,،;/]+")
_WORDS_IGNORED = frozenset({"and", "et", "y", "or", "ou", "و", "&", "+"})
# Not countries: the EU, the eurozone, the UN, "outlying Oceania", pseudo-locales, unknown.
_NOT_COUNTRIES = frozenset({"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"})
# Names members use that Babel spells differently; the languages of the Souss-Massa first.
_LANGUAGE_ALIASES = {
    "amazigh": "zgh",
    "tamazight": "zgh",
    "berber": "zgh",
    "berbere": "zgh",
    "الامازيغية": "zgh",
    "تمازيغت": "zgh",
    "tachelhite": "shi",
    "tashelhit": "shi",
    "tashelhiyt": "shi",
    "chelha": "shi",
    "tachelhit": "shi",
    "تاشلحيت": "shi",
    "darija": "ary",
    "الدارجة": "ary",
    "tarifit": "rif",
}
_COUNTRY_ALIASES = {"uk": "GB", "usa": "US", "uae": "AE"}

_QUIET = re.compile(
    r"(\d{1,2})(?:[:hH.](\d{2})?)?\s*(?:-|–|—|to|à)\s*(\d{1,2})(?:[:hH.](\d{2})?)?",
    re.IGNORECASE,
)


def _locale(language: str) -> Locale:
    try:
        return Locale.parse(language)
    except (ValueError, UnknownLocaleError):
        return Locale("en")


@cache
def _names(language: str, kind: str) -> dict[str, str]:
    """code -> name of every language (`kind` "languages") or territory ("territories")."""
    table = getattr(_locale(language), kind)
    return {str(code): str(name) for code, name in table.items() if code and name}


def _search_order(language: str) -> list[str]:
    """The member's language first, then the bot's other languages."""
    return [language, *(other for other in ("en", *LANGUAGES) if other != language)]


# --- skills --------------------------------------------------------------------------------


def parse_skills(raw: str) -> list[str]:
    """ "Accounting, web  design،arabic" -> ["accounting", "web", "design", "arabic"]."""
    tags: list[str] = []
    for part in _TAG_SEPARATORS.split(clean_text(raw)):
        tag = part.strip("#.!?\"'()[]").lower()
        if tag and tag not in tags:
            tags.append(tag)
    if not tags:
        raise TextEmpty()
    if len(tags) > SKILLS_MAX or any(len(tag) > SKILL_LENGTH_MAX for tag in tags):
        raise InvalidTags(count=SKILLS_MAX, length=SKILL_LENGTH_MAX)
    return tags


# --- languages -----------------------------------------------------------------------------


@cache
def language_codes() -> frozenset[str]:
    """ISO 639-1 codes Babel knows, and the 639-2/3 codes of languages without one
    (Tachelhit `shi`, Standard Moroccan Tamazight `zgh`, Moroccan Arabic `ary`...)."""
    return frozenset(
        code
        for code in _names("en", "languages")
        if code.isascii() and code.isalpha() and code.islower() and len(code) in (2, 3)
    )


@cache
def _language_names(language: str) -> dict[str, str]:
    """folded name -> code, in one language."""
    codes = language_codes()
    return {
        fold(name): code for code, name in _names(language, "languages").items() if code in codes
    }


def language_name(code: str, language: str) -> str:
    """The name of language `code` in `language` ("ar" in French: "arabe")."""
    return _names(language, "languages").get(code, code)


def _one_language(token: str, language: str) -> str | None:
    folded = fold(token)
    if folded in language_codes():
        return folded
    if folded in _LANGUAGE_ALIASES:
        return _LANGUAGE_ALIASES[folded]
    for other in _search_order(language):
        code = _language_names(other).get(folded)
        if code is not None:
            return code
    return None


def _closest_language(token: str, language: str) -> str:
    names = _language_names(language)
    close = difflib.get_close_matches(fold(token), list(names), n=1, cutoff=0.7)
    if not close:
        english = _language_names("en")
        close = difflib.get_close_matches(fold(token), list(english), n=1, cutoff=0.7)
        if not close:
            return ""
        names = english
    code = names[close[0]]
    return f"{language_name(code, language)} ({code})"


def parse_languages(raw: str, language: str) -> list[str]:
    """ "fr, ar, en" or "français et arabe" -> ["fr", "ar"] (at most 6, each known)."""
    codes: list[str] = []
    for chunk in _LIST_SEPARATORS.split(clean_text(raw)):
        chunk = chunk.strip()
        if not chunk:
            continue
        whole = _one_language(chunk, language)
        found = [whole] if whole is not None else []
        if whole is None:
            for word in chunk.split():
                if fold(word) in _WORDS_IGNORED:
                    continue
                code = _one_language(word, language)
                if code is None:
                    raise UnknownLanguage(
                        language=word, suggestion=_closest_language(word, language)
                    )
                found.append(code)
        codes.extend(code for code in found if code not in codes)
    if not codes:
        raise TextEmpty()
    if len(codes) > LANGUAGES_MAX:
        raise TooManyLanguages(count=LANGUAGES_MAX)
    return codes


# --- countries -----------------------------------------------------------------------------


@cache
def country_codes() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes Babel knows (regions like "150" and the EU left out)."""
    return frozenset(
        code
        for code in _names("en", "territories")
        if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
    )


@cache
def _country_names(language: str) -> dict[str, str]:
    codes = country_codes()
    return {
        fold(name): code for code, name in _names(language, "territories").items() if code in codes
    }


def country_name(code: str, language: str) -> str:
    return _names(language, "territories").get(code, code)


def parse_country(raw: str, language: str) -> str:
    """ "FR", "fr", "France", "المغرب" -> the alpha-2 code; a refusal suggests the closest."""
    text = clean_text(raw)
    if not text:
        raise TextEmpty()
    folded = fold(text)
    if len(folded) == 2 and folded.upper() in country_codes():
        return folded.upper()
    if folded in _COUNTRY_ALIASES:
        return _COUNTRY_ALIASES[folded]
    for other in _search_order(language):
        code = _country_names(other).get(folded)
        if code is not None:
            return code
    names = _country_names(language)
    close = difflib.get_close_matches(folded, list(names), n=1, cutoff=0.6)
    if not close:  # a name that starts the same way: "Maroc" for "mar"
        close = [name for name in names if len(folded) >= 3 and name.startswith(folded)][:1]
    suggestion = ""
    if close:
        code = names[close[0]]
        suggestion = f"{country_name(code, language)} ({code})"
    raise UnknownCountry(country=text, suggestion=suggestion)


# --- quiet hours, places -------------------------------------------------------------------


def parse_quiet_hours(raw: str, clear_words: Iterable[str] = ()) -> str | None:
    """ "22:00-08:00", "22h-8h", "22 to 8" -> "22:00-08:00"; a clearing word -> None
    (the community's default applies)."""
    text = clean_text(raw)
    if fold(text) in {"none", "default", "-", *(fold(word) for word in clear_words)}:
        return None
    match = _QUIET.fullmatch(text)
    if match is None:
        raise InvalidQuietHours()
    hour1, minute1, hour2, minute2 = (int(part) if part else 0 for part in match.groups())
    if hour1 > 23 or hour2 > 23 or minute1 > 59 or minute2 > 59:
        raise InvalidQuietHours()
    return f"{hour1:02d}:{minute1:02d}-{hour2:02d}:{minute2:02d}"


def parse_place(raw: str, known: Sequence[str] = ()) -> str:
    """A city or commune as typed (bounded); spelled like a known territory when it is one."""
    text = clean_text(raw)
    if not text:
        raise TextEmpty()
    if len(text) > PLACE_MAX:
        raise TextTooLong(limit=PLACE_MAX, length=len(text))
    for name in known:
        if fold(name) == fold(text):
            return name
    return text
