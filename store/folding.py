"""Text as compared: folded (no accents, case-folded) and cut into words.

Matching compares names and words this way, and the member traits store places already
folded, so both sides meet on the same spelling: "Aït-Baha", "ait  baha" and "AIT BAHA" are
one place.
"""

from __future__ import annotations

import re
import unicodedata

_WORDS = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """A name as compared: no accents or Arabic vowel marks, case-folded, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text.replace("’", "'"))
    # NFKD also splits the hamza off أ and إ, so they compare equal to the bare alif.
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.casefold().split())


def words(text: str) -> list[str]:
    """The words of a text as compared: no accents, case-folded."""
    return _WORDS.findall(fold(text))


def place_key(text: str | None) -> tuple[str, ...]:
    """A place name as compared: "Aït-Baha" and "ait baha" are the same place."""
    return tuple(words(text or ""))


__all__ = ["fold", "place_key", "words"]
