"""Rate limits: the fixed window each bucket (and the global limit) counts in, the exception a
call over the limit raises, and the ``X-RateLimit-*`` headers Discord sends with every answer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class Window:
    """A fixed-window counter: ``limit`` requests per ``per`` seconds."""

    limit: int
    per: float
    remaining: int = 0
    reset_at: float = 0.0

    def refresh(self, now: float) -> None:
        if now >= self.reset_at:
            self.remaining = self.limit
            self.reset_at = now + self.per

    def retry_after(self, now: float) -> float:
        return max(self.reset_at - now, 0.001)


class RateLimited(Exception):
    def __init__(self, retry_after: float, *, is_global: bool) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after
        self.is_global = is_global


def fill_rate_headers(headers: dict[str, str], window: Window, bucket: str, now: float) -> None:
    reset_after = max(window.reset_at - now, 0.0)
    headers.update(
        {
            "X-RateLimit-Limit": str(window.limit),
            "X-RateLimit-Remaining": str(window.remaining),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket,
        }
    )
