"""Button payloads: versioned, compact, and checked against the platforms' limits.

A payload is `1|action|arg|arg...`. Telegram allows 64 bytes of `callback_data`, Discord 100
characters of `custom_id`; we keep every payload within the smaller bound so that one codec
serves every platform and the console's `/press`.
"""

from __future__ import annotations

from handlers.chat import Press

VERSION = "1"
SEPARATOR = "|"
MAX_BYTES = 64


class PayloadTooLong(ValueError):
    pass


def encode(action: str, args: tuple[str, ...] = ()) -> str:
    parts = (VERSION, action, *args)
    if any(SEPARATOR in part for part in parts):
        raise ValueError(f"'{SEPARATOR}' is reserved in button payloads: {parts!r}")
    payload = SEPARATOR.join(parts)
    if len(payload.encode()) > MAX_BYTES:
        raise PayloadTooLong(payload)
    return payload


def decode(payload: str) -> Press | None:
    """The press a payload stands for, or None when it is not one of ours (or too old)."""
    if len(payload.encode()) > MAX_BYTES:
        return None
    version, _, rest = payload.partition(SEPARATOR)
    if version != VERSION or not rest:
        return None
    action, *args = rest.split(SEPARATOR)
    if not action:
        return None
    return Press(action, tuple(args))
