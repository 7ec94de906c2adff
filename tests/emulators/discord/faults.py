"""Fault injection: REST calls answered with an error (`fail_next`) or delayed (`slow_next`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.emulators.discord.errors import ERRORS, STATUS_MESSAGES, DiscordError
from tests.emulators.discord.ratelimits import RateLimited
from tests.emulators.discord.state import EmulatorState


@dataclass
class Fault:
    """A scripted error (``status`` set) or delay for the next ``times`` matching calls."""

    method: str
    pattern: re.Pattern[str]
    times: int
    status: int | None = None
    code: int | None = None
    message: str | None = None
    retry_after: float = 0.1
    delay: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and self.method in ("*", method) and bool(self.pattern.search(path))


class FaultInjection(EmulatorState):
    """Errors and delays scripted for the next matching REST calls."""

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        code: int | None = None,
        *,
        times: int = 1,
        message: str | None = None,
        retry_after: float = 0.1,
    ) -> None:
        """Answer the next ``times`` matching REST calls with an error.

        ``method`` may be ``"*"``; ``path_regex`` is searched in the path under /api/v10.
        A 429 carries ``retry_after`` and the ``Via`` header, like Discord's.
        """
        pattern = re.compile(path_regex)
        fault = Fault(method.upper(), pattern, times, status, code, message, retry_after)
        self._faults.append(fault)

    def slow_next(self, method: str, path_regex: str, delay: float, *, times: int = 1) -> None:
        """Delay the next ``times`` matching REST calls by ``delay`` seconds."""
        self._faults.append(Fault(method.upper(), re.compile(path_regex), times, delay=delay))

    def _take_faults(self, method: str, path: str) -> tuple[float, Fault | None]:
        delay, failure = 0.0, None
        for fault in self._faults:
            if not fault.matches(method, path):
                continue
            if fault.status is None and not delay:
                fault.times -= 1
                delay = fault.delay
            elif fault.status is not None and failure is None:
                fault.times -= 1
                failure = fault
        self._faults = [f for f in self._faults if f.times > 0]
        return delay, failure

    def _raise_fault(self, fault: Fault) -> None:
        if fault.status == 429:
            raise RateLimited(fault.retry_after, is_global=False)
        status = fault.status or 500
        code = fault.code if fault.code is not None else 0
        message = fault.message or (
            ERRORS[code][1] if code in ERRORS and code else STATUS_MESSAGES.get(status, "Error")
        )
        raise DiscordError(code, status=status, message=message)
