"""Every string the code can say exists in every catalogue, with the same placeholders."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from handlers.i18n import LANGUAGES, _, catalog, negotiate, translate, use_language

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "N_": None}
METHOD_MAP = [
    ("handlers/**.py", "python"),
    ("schedules/**.py", "python"),
    ("bot/**.py", "python"),
]


def source_messages() -> dict[str, str]:
    found: dict[str, str] = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(
        ROOT, METHOD_MAP, keywords=KEYWORDS
    ):
        if isinstance(message, str) and message:
            found.setdefault(message, filename)
    return found


def placeholders(text: str) -> set[str]:
    return {field for _l, field, _f, _c in string.Formatter().parse(text) if field is not None}


MESSAGES = source_messages()


def test_the_code_has_messages() -> None:
    assert len(MESSAGES) > 100


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_is_complete(language: str) -> None:
    translations = catalog(language)
    missing = sorted(
        f"{where}: {msgid!r}" for msgid, where in MESSAGES.items() if msgid not in translations
    )
    assert not missing, f"{len(missing)} strings missing from {language}:\n" + "\n".join(missing)


@pytest.mark.parametrize("language", LANGUAGES)
def test_placeholders_match(language: str) -> None:
    translations = catalog(language)
    wrong = [
        (msgid, translated)
        for msgid, translated in translations.items()
        if msgid in MESSAGES and placeholders(msgid) != placeholders(translated)
    ]
    assert not wrong


def test_translation_follows_the_member() -> None:
    msgid = "Cancelled. Nothing was saved."
    with use_language("fr"):
        french = _(msgid)
    with use_language("ar"):
        arabic = _(msgid)
    assert french != msgid and arabic != msgid and french != arabic
    assert translate(msgid, "en") == msgid


@pytest.mark.parametrize(
    ("code", "language"),
    [("fr-FR", "fr"), ("en_GB", "en"), ("ar", "ar"), ("de", None), (None, None), ("", None)],
)
def test_platform_language_codes(code: str | None, language: str | None) -> None:
    assert negotiate(code) == language
