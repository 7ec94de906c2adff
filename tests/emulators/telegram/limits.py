"""What the emulator refuses for size or speed: documented limits and send rate windows.

`Limits` holds the documented sizes of Bot API 10.0, `RateLimits` Telegram's send rates, and
`RateWindows` counts recent sends in sliding windows (one for the whole bot, one per chat) to
answer 429 as Telegram does when a window is full.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from tests.emulators.telegram.model import ApiError, Chat

#: Methods that post a new message and therefore count against the send rate limits.
SEND_METHODS: Final = frozenset({"sendMessage", "sendPhoto", "sendDocument", "sendPoll"})


@dataclass(frozen=True)
class RateLimits:
    """Telegram's send limits as sliding windows; `RateLimits.off()` disables them."""

    enabled: bool = True
    overall: int = 30
    overall_window: float = 1.0
    #: 1 message a second per private chat, with a burst of 3.
    private: int = 3
    private_window: float = 3.0
    group: int = 20
    group_window: float = 60.0
    methods: frozenset[str] = SEND_METHODS

    @classmethod
    def off(cls) -> RateLimits:
        return cls(enabled=False)


@dataclass(frozen=True)
class Limits:
    """The documented size limits of Bot API 10.0 that the emulator enforces."""

    message_text: int = 4096
    caption: int = 1024
    callback_data_bytes: int = 64
    buttons_total: int = 100
    buttons_per_row: int = 8
    callback_answer_text: int = 200
    poll_question: int = 300
    #: Bot API 10.0 lowered the minimum from 2 to 1; set 2 to mimic older servers.
    poll_options_min: int = 1
    poll_options_max: int = 12
    poll_option_text: int = 100
    commands: int = 100
    command_description: int = 256
    deep_link_payload: int = 64


class RateWindows:
    """The times of recent sends, per window: the whole bot's and each chat's."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, int], deque[float]] = {}

    def admit(
        self, limits: RateLimits, clock: Callable[[], float], method: str, chat: Chat
    ) -> None:
        """Refuse with 429 when a send would exceed a sliding window; else count it."""
        if not limits.enabled or method not in limits.methods:
            return
        now = clock()
        windows = [(self._window("all", 0), limits.overall, limits.overall_window)]
        if chat.is_group:
            windows.append((self._window("chat", chat.id), limits.group, limits.group_window))
        else:
            windows.append((self._window("chat", chat.id), limits.private, limits.private_window))
        wait = 0
        for stamps, capacity, span in windows:
            while stamps and stamps[0] <= now - span:
                stamps.popleft()
            if len(stamps) >= capacity:
                wait = max(wait, math.ceil(stamps[0] + span - now), 1)
        if wait:
            raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        for stamps, _, _ in windows:
            stamps.append(now)

    def _window(self, scope: str, key: int) -> deque[float]:
        return self._windows.setdefault((scope, key), deque())
