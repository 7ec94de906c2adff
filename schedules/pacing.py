"""Pacing the outbox within a platform's send rates, many chats at once.

Each platform gets a `Lane` per drain: deliveries are queued per target (one chat), a heap
orders the targets by the moment each may send again, and up to `concurrency` sends are in
flight. A target sends one message at a time, so its messages keep their queueing order.

Two limits apply, as the platforms state them (`SendRates`):
- the platform-wide rate, `per_second`: an `aiolimiter.AsyncLimiter` hands out permits at a
  steady 95% of the limit. Its capacity (the burst it allows, from the start) is just above 1,
  so that any window of one second, widened by the `SPREAD` the network may add to arrival
  times, never holds more than the limit;
- the per-chat rates (`private`, `group`: so many messages per so many seconds): a
  `SlidingWindow` per chat, of the chat's own send times, with the same margins.
A platform-wide `SlidingWindow` of the real send times backs the limiter up: the database work
between the permit and the send can bunch sends together, and this keeps them apart.

The permit is taken before the row is claimed, so a crash never strands a row that was only
waiting; the pacing state (limiter, windows, a platform-wide pause after a global 429) lives in
a `Pacer` that outlasts a drain, so consecutive drains respect each other's sends.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import enum
import heapq
import math
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiolimiter import AsyncLimiter

from handlers.chat import SendRates

# Below the platform's limit by this fraction: clocks and servers differ a little.
MARGIN = 0.05
# How far apart the network may spread requests sent together (seconds).
SPREAD = 0.03
# Sends in flight at once, per platform.
CONCURRENCY = 50
# A target paused for at most this long (a retry) is waited for within the drain; a longer
# pause leaves the row pending for a later drain (its `not_before` says when).
RETRY_LINGER = 10.0
# Exponential backoff after a passing fault: 1, 2, 4, 8 seconds, then 8.
BACKOFF_CAP = 8.0
# How often to look for more due rows while some are still queued, and while none came.
REFILL_GAP = 0.2
IDLE_REFILL_GAP = 1.0


def backoff(attempt: int) -> float:
    """The wait after the `attempt`-th try failed with a passing fault."""
    return min(BACKOFF_CAP, 2.0 ** max(0, attempt - 1))


class SlidingWindow:
    """At most `limit` events in any `seconds`-long window (times on the loop's clock)."""

    __slots__ = ("_times", "limit", "seconds")

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = max(1, limit)
        self.seconds = seconds
        self._times: deque[float] = deque(maxlen=self.limit)

    def free_at(self) -> float:
        """When the next event may happen (0: now)."""
        if len(self._times) < self.limit:
            return 0.0
        return self._times[0] + self.seconds

    def record(self, at: float) -> None:
        self._times.append(at)

    def idle(self, now: float) -> bool:
        return not self._times or self._times[-1] + self.seconds <= now


def chat_window(limit: tuple[int, float]) -> SlidingWindow:
    count, seconds = limit
    return SlidingWindow(count, seconds * (1 + MARGIN) + SPREAD)


class Pacer:
    """One platform's pace, kept across drains."""

    def __init__(self, rates: SendRates) -> None:
        if rates.per_second <= 0:
            raise ValueError("per_second must be positive")
        self.rates = rates
        limit = max(1, math.floor(rates.per_second))
        window = limit / rates.per_second + SPREAD
        self.steady = min((1 - MARGIN) * rates.per_second, 0.999 * limit / window)
        # A leaky bucket of capacity c lets at most c + steady * window permits into any
        # window: kept below limit + 1, so no start-up burst. The sliver above 1 lets a permit
        # that the event loop woke late (timers fire up to a millisecond late) be made up by
        # the next, instead of losing that time for good.
        self.capacity = 1 + min(1.0, 0.9 * (limit - self.steady * window))
        self._limiter = AsyncLimiter(self.capacity, self.capacity / self.steady)
        self.limit = limit
        self.window = window
        self._recent = SlidingWindow(limit, window)
        self._chats: dict[str, SlidingWindow] = {}
        self.paused_until = 0.0

    def chat(self, key: str, private: bool) -> SlidingWindow:
        window = self._chats.get(key)
        if window is None:
            window = chat_window(self.rates.private if private else self.rates.group)
            self._chats[key] = window
        return window

    def chat_free_at(self, key: str, private: bool) -> float:
        window = self._chats.get(key)
        return 0.0 if window is None else window.free_at()

    def pause(self, until: float) -> None:
        """The platform limited the whole bot: no send at all before `until`."""
        self.paused_until = max(self.paused_until, until)

    async def permit(self) -> None:
        """Wait for the platform's next send slot."""
        await _sleep_until(lambda: self.paused_until)
        await self._limiter.acquire()

    async def gate(self, key: str, private: bool) -> float:
        """Right before a send: wait out a platform-wide pause and any bunching, then count
        the send; returns its time."""
        chat = self.chat(key, private)
        await _sleep_until(lambda: max(self.paused_until, self._recent.free_at(), chat.free_at()))
        now = asyncio.get_running_loop().time()
        self._recent.record(now)
        chat.record(now)
        return now

    def forget_idle(self, now: float) -> None:
        """Drop the windows of chats that could send again anyway (memory stays bounded)."""
        for key in [key for key, window in self._chats.items() if window.idle(now)]:
            del self._chats[key]


async def _sleep_until(deadline: Callable[[], float]) -> None:
    """Sleep until the loop's clock reaches `deadline()`, which may move while sleeping."""
    loop = asyncio.get_running_loop()
    while True:
        wait = deadline() - loop.time()
        if wait <= 0:
            return
        await asyncio.sleep(wait)


# --- what one attempt came to ------------------------------------------------------------------


class Result(enum.Enum):
    SENT = "sent"
    FAILED = "failed"
    HELD = "held"
    UNKNOWN = "unknown"
    RETRY = "retry"  # back to pending: try again after `delay`
    BLOCKED = "blocked"  # failed, and the target's other pending rows were skipped
    NOT_CLAIMED = "not claimed"  # another worker has it, or it must wait its turn


@dataclass(frozen=True, slots=True)
class Outcome:
    result: Result
    delay: float = 0.0
    skipped: int = 0


class Turn:
    """One send's turn in its lane: `wait()` right before sending (after the claim);
    `pause_platform(seconds)` at once when the platform limited the whole bot, so that no
    other send goes out while the refusal is being recorded."""

    def __init__(self, lane: Lane, queue: _Queue, loop: asyncio.AbstractEventLoop) -> None:
        self._lane = lane
        self._queue = queue
        self._loop = loop

    async def wait(self) -> None:
        pacer = self._lane.pacer
        if pacer is not None:
            at = await pacer.gate(self._queue.key, self._queue.private)
        else:
            at = self._loop.time()
        self._lane.stats.note_send(at)

    def pause_platform(self, seconds: float) -> None:
        if self._lane.pacer is not None:
            self._lane.pacer.pause(self._loop.time() + seconds)


# Claim the row, wait for the turn right before sending, send, record: what came of it.
Attempt = Callable[[int, Turn], Awaitable[Outcome]]
# Due rows as (id, target key, private), in id order, after an id, at most so many.
Fetch = Callable[[int, int], Awaitable[list[tuple[int, str, bool]]]]


@dataclass
class PlatformStats:
    """What one drain did on one platform (times on the event loop's clock)."""

    platform: str
    sent: int = 0
    failed: int = 0
    held: int = 0
    unknown: int = 0
    retried: int = 0
    skipped: int = 0
    elsewhere: int = 0  # claimed by another worker, or waiting behind an earlier row
    sends: int = 0  # calls to the messenger
    elapsed: float = 0.0
    first_send: float | None = None
    last_send: float | None = None

    @property
    def processed(self) -> int:
        """Rows claimed and settled by this drain (one per attempt)."""
        return self.sent + self.failed + self.held + self.unknown + self.retried

    @property
    def rate(self) -> float:
        """Sends per second over the whole drain."""
        return self.sends / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def send_rate(self) -> float:
        """Sends per second between the first and the last send: the pace itself."""
        if self.first_send is None or self.last_send is None or self.sends < 2:
            return 0.0
        span = self.last_send - self.first_send
        return (self.sends - 1) / span if span > 0 else 0.0

    def note_send(self, at: float) -> None:
        self.sends += 1
        if self.first_send is None:
            self.first_send = at
        self.last_send = at

    def count(self, outcome: Outcome) -> None:
        match outcome.result:
            case Result.SENT:
                self.sent += 1
            case Result.FAILED:
                self.failed += 1
            case Result.HELD:
                self.held += 1
            case Result.UNKNOWN:
                self.unknown += 1
            case Result.RETRY:
                self.retried += 1
            case Result.BLOCKED:
                self.failed += 1
            case Result.NOT_CLAIMED:
                self.elsewhere += 1
        self.skipped += outcome.skipped

    def as_dict(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "sent": self.sent,
            "failed": self.failed,
            "held": self.held,
            "unknown": self.unknown,
            "retried": self.retried,
            "skipped": self.skipped,
            "elsewhere": self.elsewhere,
            "sends": self.sends,
            "elapsed": round(self.elapsed, 3),
            "rate": round(self.rate, 3),
            "send_rate": round(self.send_rate, 3),
        }


@dataclass
class DrainSummary:
    """What one drain did, per platform; `elapsed` in seconds."""

    platforms: dict[str, PlatformStats] = field(default_factory=dict)
    elapsed: float = 0.0

    def total(self, name: str) -> int:
        return sum(int(getattr(stats, name)) for stats in self.platforms.values())

    @property
    def processed(self) -> int:
        return sum(stats.processed for stats in self.platforms.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "elapsed": round(self.elapsed, 3),
            "platforms": {name: stats.as_dict() for name, stats in self.platforms.items()},
        }


# --- one platform's share of a drain -------------------------------------------------------------


@dataclass
class _Queue:
    """One target's due rows, in id order."""

    key: str
    private: bool
    ids: list[int] = field(default_factory=list)
    paused_until: float = 0.0
    busy: bool = False  # a send is in flight
    scheduled: bool = False  # in the ready heap
    blocked: bool = False  # refused for the rest of this drain


class Lane:
    """Sends one platform's due rows until none is left (or `stop`), within the pace."""

    def __init__(
        self,
        platform: str,
        fetch: Fetch,
        attempt: Attempt,
        *,
        pacer: Pacer | None,
        concurrency: int,
        page: int,
        linger: float,
    ) -> None:
        self.stats = PlatformStats(platform)
        self._fetch = fetch
        self._attempt = attempt
        self.pacer = pacer
        self._concurrency = max(1, concurrency)
        self._page = max(1, page)
        self._linger = linger
        self._queues: dict[str, _Queue] = {}
        self._ready: list[tuple[float, int, str]] = []  # (may send at, first id, target)
        self._known: set[int] = set()  # queued or in flight
        self._queued = 0
        self._in_flight: set[asyncio.Task[None]] = set()
        self._cursor = 0
        self._next_refill = 0.0
        self._changed = asyncio.Event()
        self._failure: BaseException | None = None

    async def run(self, stop: asyncio.Event | None = None) -> PlatformStats:
        loop = asyncio.get_running_loop()
        started = loop.time()
        watcher: asyncio.Task[bool] | None = None
        if stop is not None:
            watcher = asyncio.create_task(stop.wait())
            watcher.add_done_callback(lambda _task: self._changed.set())
        try:
            await self._schedule_sends(loop, stop)
            while self._in_flight:  # stopping: let the sends in flight finish
                self._changed.clear()
                self._raise_failure()
                await self._changed.wait()
            self._raise_failure()
        finally:
            if watcher is not None:
                watcher.cancel()
            # Only on a crash or a cancellation: their rows stay `sending`, so `recover`
            # marks them unknown and nothing is sent twice.
            for task in self._in_flight:
                task.cancel()
            if self._in_flight:
                await asyncio.gather(*self._in_flight, return_exceptions=True)
            self.stats.elapsed = loop.time() - started
            if self.pacer is not None:
                self.pacer.forget_idle(loop.time())
        return self.stats

    async def _schedule_sends(
        self, loop: asyncio.AbstractEventLoop, stop: asyncio.Event | None
    ) -> None:
        while True:
            self._changed.clear()
            self._raise_failure()
            if stop is not None and stop.is_set():
                return
            now = loop.time()
            if self._wants_refill(now):
                await self._refill(loop)
                continue
            if not self._ready:
                if self._in_flight:
                    await self._changed.wait()
                elif await self._nothing_due(loop):
                    return
                continue
            ready_at = self._ready[0][0]
            if len(self._in_flight) >= self._concurrency:
                await self._changed.wait()
                continue
            if ready_at > now:
                await self._wait(min(ready_at, self._next_refill) - now)
                continue
            _ready_at, _first, key = heapq.heappop(self._ready)
            queue = self._queues[key]
            queue.scheduled = False
            if queue.blocked or not queue.ids:
                continue
            if self.pacer is not None:
                await self.pacer.permit()
            self._launch(queue, loop)

    def _wants_refill(self, now: float) -> bool:
        if now < self._next_refill:
            return False
        starving = not self._ready or self._ready[0][0] > now
        return starving or self._queued < self._page // 2

    async def _refill(self, loop: asyncio.AbstractEventLoop) -> tuple[int, bool]:
        """Queue the next page of due rows; returns (how many were new, whether the end of
        the table was reached, in which case the next page starts from the beginning)."""
        rows = await self._fetch(self._cursor, self._page)
        now = loop.time()
        new = 0
        for delivery_id, key, private in rows:
            if delivery_id in self._known:
                continue
            queue = self._queues.get(key)
            if queue is None:
                queue = self._queues[key] = _Queue(key, private)
            if queue.blocked:
                continue
            bisect.insort(queue.ids, delivery_id)
            self._known.add(delivery_id)
            self._queued += 1
            new += 1
            self._schedule(queue, now)
        at_end = len(rows) < self._page
        self._cursor = 0 if at_end else rows[-1][0]
        self._next_refill = now + (REFILL_GAP if new or not at_end else IDLE_REFILL_GAP)
        return new, at_end

    async def _nothing_due(self, loop: asyncio.AbstractEventLoop) -> bool:
        """With nothing queued and nothing in flight: scan the table once more from the start."""
        while True:
            from_start = self._cursor == 0
            new, at_end = await self._refill(loop)
            if new:
                return False
            if at_end and from_start:
                return True

    async def _wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout=max(0.0, seconds))

    def _schedule(self, queue: _Queue, now: float) -> None:
        if queue.busy or queue.scheduled or queue.blocked or not queue.ids:
            return
        ready_at = queue.paused_until
        if self.pacer is not None:
            ready_at = max(ready_at, self.pacer.chat_free_at(queue.key, queue.private))
        heapq.heappush(self._ready, (ready_at, queue.ids[0], queue.key))
        queue.scheduled = True

    def _launch(self, queue: _Queue, loop: asyncio.AbstractEventLoop) -> None:
        delivery_id = queue.ids.pop(0)
        self._queued -= 1
        queue.busy = True
        task = loop.create_task(self._send_one(queue, delivery_id, loop))
        self._in_flight.add(task)
        task.add_done_callback(self._finished)

    async def _send_one(
        self, queue: _Queue, delivery_id: int, loop: asyncio.AbstractEventLoop
    ) -> None:
        outcome = await self._attempt(delivery_id, Turn(self, queue, loop))
        self._settle(queue, delivery_id, outcome, loop.time())

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None and self._failure is None:
            self._failure = task.exception()
        self._changed.set()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _settle(self, queue: _Queue, delivery_id: int, outcome: Outcome, now: float) -> None:
        queue.busy = False
        self._known.discard(delivery_id)
        self.stats.count(outcome)
        if outcome.result is Result.RETRY:
            if outcome.delay <= self._linger:
                queue.ids.insert(0, delivery_id)
                self._known.add(delivery_id)
                self._queued += 1
                queue.paused_until = now + outcome.delay
            else:
                self._drop(queue)
        elif outcome.result is Result.BLOCKED:
            self._drop(queue)
            queue.blocked = True
        elif outcome.result is Result.NOT_CLAIMED:
            # Whatever stopped this row stops the target's later rows too: a later pass
            # finds them when their turn comes.
            self._drop(queue)
        self._schedule(queue, now)

    def _drop(self, queue: _Queue) -> None:
        self._known.difference_update(queue.ids)
        self._queued -= len(queue.ids)
        queue.ids.clear()


async def run_together(coroutines: list[Coroutine[Any, Any, PlatformStats]]) -> list[PlatformStats]:
    """Run the lanes side by side; the first failure cancels the others and is raised as is."""
    tasks = [asyncio.ensure_future(coroutine) for coroutine in coroutines]
    try:
        if tasks:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in tasks:
            error = task.exception() if task.done() and not task.cancelled() else None
            if error is not None:
                raise error
        return [task.result() for task in tasks]
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
