"""Translation: gettext catalogues (fr, en, ar) read with Babel, chosen per event.

The current language lives in a context variable, so `_()` translates for the member being
answered without passing a language around. Source strings are English; `N_()` marks a
string for extraction where it must be translated later (class attributes, tables).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

LANGUAGES: tuple[str, ...] = ("fr", "en", "ar")
DEFAULT_LANGUAGE = "fr"
LOCALE_DIR = Path(__file__).parent / "locales"
LANGUAGE_NAMES = {"fr": "Français", "en": "English", "ar": "العربية"}

_current: ContextVar[str] = ContextVar("cds_language", default=DEFAULT_LANGUAGE)


@cache
def catalog(language: str) -> dict[str, str]:
    """The translations of one language, msgid -> msgstr, empty ones left out."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        po = read_po(handle, locale=language)
    return {
        str(message.id): str(message.string)
        for message in po
        if message.id and isinstance(message.id, str) and message.string
    }


def translate(msgid: str, language: str) -> str:
    return catalog(language).get(msgid, msgid)


def _(msgid: str) -> str:
    """Translate `msgid` into the language of the member being answered."""
    return translate(msgid, _current.get())


def N_(msgid: str) -> str:
    """Mark `msgid` for the catalogues without translating it now."""
    return msgid


def current_language() -> str:
    return _current.get()


@contextlib.contextmanager
def use_language(language: str) -> Iterator[None]:
    """Translate into `language` inside the block (e.g. while writing to another member)."""
    token = _current.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)
    try:
        yield
    finally:
        _current.reset(token)


def negotiate(language_code: str | None) -> str | None:
    """Map a platform language code ("fr-FR", "ar", "en_GB") to a supported language."""
    if not language_code:
        return None
    base = language_code.replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else None
