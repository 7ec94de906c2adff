"""Button payloads: versioned, within the platforms' limits, never trusted."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.buttons import MAX_BYTES, PayloadTooLong, decode, encode
from handlers.chat import Press

ARG = st.text(st.characters(blacklist_characters="|", blacklist_categories=("Cs",)), max_size=12)


@given(st.sampled_from(["acc", "dec", "page", "dlg"]), st.lists(ARG, max_size=3))
def test_round_trip_or_refused(action: str, args: list[str]) -> None:
    try:
        payload = encode(action, tuple(args))
    except PayloadTooLong:
        assert len("|".join(["1", action, *args]).encode()) > MAX_BYTES
        return
    assert len(payload.encode()) <= MAX_BYTES  # Telegram's callback_data bound
    assert decode(payload) == Press(action, tuple(args))


def test_largest_real_payloads_fit() -> None:
    # the longest dialog payload: dialog name, step name and a value
    assert len(encode("dlg", ("newproject", "publish_now", "__cancel")).encode()) <= 64
    assert decode(encode("acc", ("999999999",))) == Press("acc", ("999999999",))


@pytest.mark.parametrize("forged", ["", "2|acc|1", "1|", "acc|1", "1|" + "x" * 80, "💥"])
def test_foreign_or_old_payloads_are_rejected(forged: str) -> None:
    assert decode(forged) is None


def test_separator_is_reserved() -> None:
    with pytest.raises(ValueError):
        encode("acc", ("1|2",))
