"""One sender per platform across processes: the outbox dispatcher's leases.

Several bot processes may drain the same outbox (replicas, or the old and the new process of
a rolling deploy). Claims keep them from sending a row twice, but each paces itself to the
platform's full rate, so together they would go over it. Hence a lease per platform
(store/leases.py): a pass sends on a paced platform only after taking or renewing its lease;
while the lane sends, a keeper renews it every third of its length; a dispatcher that stops
cleanly gives its leases up, and the lease of one that died expires, so another process takes
over within one lease length.

Expiry times come from the dispatcher's clock (a fake one in tests); the renewal period is
real time, like the sends it covers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.chat import Clock
from store import leases
from store.leases import Holder

logger = logging.getLogger(__name__)

# How long a lease lasts without renewal: how soon another process takes over a dead one.
LEASE_SECONDS = 30.0
# Renewals per lease length: a renewal or two may be late or fail without losing it.
RENEWALS_PER_LEASE = 3


class PlatformLeases:
    """The leases one dispatcher holds, under a random holder id of its own."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        seconds: float = LEASE_SECONDS,
    ) -> None:
        if seconds <= 0:
            raise ValueError("a lease must last some time")
        self.sessions = sessions
        self.clock = clock
        self.seconds = seconds
        self.holder = Holder(uuid.uuid4().hex, socket.gethostname(), os.getpid())
        self._expiry: dict[str, datetime] = {}  # the platforms held, until when

    @property
    def held(self) -> frozenset[str]:
        """The platforms this dispatcher held at its last take or renewal."""
        return frozenset(self._expiry)

    @property
    def renew_every(self) -> float:
        return self.seconds / RENEWALS_PER_LEASE

    async def take(self, platform: str) -> bool:
        """Take or renew `platform`'s lease; False while another dispatcher holds it."""
        async with self.sessions() as session, session.begin():
            expires = await leases.take(
                session, platform, self.holder, now=self.clock.now(), seconds=self.seconds
            )
        if expires is not None:
            if platform not in self._expiry:
                logger.info("outbox lease on %s taken: this dispatcher sends there", platform)
            self._expiry[platform] = expires
            return True
        if self._expiry.pop(platform, None) is not None:
            logger.warning("outbox lease on %s taken over by another dispatcher", platform)
        await self._log_holder(platform)
        return False

    async def keep(self, platform: str, stop: asyncio.Event | None, halt: asyncio.Event) -> None:
        """While a lane sends on `platform`: renew the lease; set `halt` once `stop` is set or
        the lease is lost (the lane then lets its sends in flight finish, and stops)."""
        while not await _stopped_within(stop, self.renew_every):
            if not await self._renewed(platform):
                break
        halt.set()

    async def _renewed(self, platform: str) -> bool:
        """Renew `platform`'s lease; whether it is still ours."""
        try:
            return await self.take(platform)
        except Exception:
            # The database may be briefly away: the lease still runs until its expiry.
            logger.warning("could not renew the outbox lease on %s", platform, exc_info=True)
            expiry = self._expiry.get(platform)
            if expiry is not None and self.clock.now() < expiry:
                return True
            self._expiry.pop(platform, None)
            return False

    async def release_all(self) -> None:
        """Give up every lease held (a clean stop): another process may send at once."""
        for platform in sorted(self._expiry):
            try:
                async with self.sessions() as session, session.begin():
                    await leases.release(session, platform, self.holder)
            except Exception:
                logger.warning(
                    "could not release the outbox lease on %s: it expires by itself",
                    platform,
                    exc_info=True,
                )
            else:
                logger.info("outbox lease on %s released", platform)
        self._expiry.clear()

    async def _log_holder(self, platform: str) -> None:
        if not logger.isEnabledFor(logging.DEBUG):
            return
        async with self.sessions() as session:
            lease = await leases.current(session, platform)
        if lease is None:  # released in the meantime: the next pass takes it
            logger.debug("outbox lease on %s was just released: skipped this pass", platform)
            return
        logger.debug(
            "outbox lease on %s held by %s (pid %d on %s) until %s: skipped this pass",
            platform,
            lease.holder,
            lease.pid,
            lease.host,
            lease.expires_at.isoformat(),
        )


async def _stopped_within(stop: asyncio.Event | None, seconds: float) -> bool:
    """Wait `seconds`, or less if `stop` is set meanwhile; returns whether it is."""
    if stop is None:
        await asyncio.sleep(seconds)
        return False
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()
