"""What a handler gets: the actor, the place, the open unit of work and the services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.chat import Actor, Button, Clock, Message, Outgoing, Place, Rich, Span, Target
from store.models import AuditEntry


@dataclass(frozen=True, slots=True)
class Community:
    """The community's own settings, as handlers need them (built from the configuration)."""

    name: str = "CDS Souss-Massa"
    default_language: str = "fr"
    timezone: str = "Africa/Casablanca"
    admins: frozenset[str] = frozenset()  # platform identities, e.g. "telegram:123"
    community_managers: frozenset[str] = frozenset()
    dialog_timeout: timedelta = timedelta(hours=24)
    demo: bool = False
    # [offers]: leaders answer an offer within this many days (see handlers.reminders); a
    # member has at most this many pending offers, and sends at most this many per hour.
    offer_answer_days: int = 3
    offer_max_pending: int = 5
    offer_max_per_hour: int = 5
    # [campaigns]: engagement messages (campaigns, matching notes) per member over a window,
    # and the default quiet hours; [matching]: personal notes per announced need, at most.
    cap_messages: int = 2
    cap_days: int = 7
    quiet_hours: str = "22:00-08:00"
    match_notes_max: int = 200

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class Scheduler(Protocol):
    """The campaign scheduler, as handlers see it (implemented in `schedules/`, injected by
    the composition root): handlers never import APScheduler."""

    def next_runs(self, schedule: dict[str, Any], timezone: str, count: int) -> list[datetime]:
        """The next `count` firing times (UTC) of a schedule; ValueError names what is wrong."""
        ...

    async def changed(self, campaign_id: int) -> None:
        """A campaign was created or changed: (re)register or drop its job."""
        ...

    async def run_now(self, campaign_id: int, started_by: int | None) -> int:
        """Fire a campaign at once; returns the run id."""
        ...


@dataclass
class Services:
    """Everything the core needs, injected by the composition root (bot/app.py)."""

    sessions: async_sessionmaker[AsyncSession]
    community: Community = field(default_factory=Community)
    clock: Clock = field(default_factory=SystemClock)
    # Called after a unit of work that queued deliveries has committed (wakes the dispatcher).
    on_outbox: Callable[[], Awaitable[None] | None] | None = None
    scheduler: Scheduler | None = None

    def now(self) -> datetime:
        return self.clock.now()


@dataclass
class Ctx:
    """One event being handled: read and write through `session`, answer through `reply`."""

    session: AsyncSession
    actor: Actor
    place: Place
    services: Services
    replies: list[Outgoing] = field(default_factory=list)
    queued: int = 0  # deliveries written to the outbox by this event
    # Run once the event's unit of work has committed (e.g. tell the scheduler).
    after_commit: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    @property
    def community(self) -> Community:
        return self.services.community

    def now(self) -> datetime:
        return self.services.now()

    def today(self) -> datetime:
        return self.now().astimezone(self.community.tz)

    def reply(
        self,
        text: Rich | Span | str,
        buttons: Sequence[Sequence[Button]] = (),
        *,
        expects_text: int | None = None,
        text_label: str = "",
    ) -> None:
        """Answer the actor where they are."""
        self.replies.append(
            Message(
                Rich.of(text),
                tuple(tuple(row) for row in buttons),
                private=self.place.private,
                expects_text=expects_text,
                text_label=text_label,
            )
        )

    def audit(self, action: str, subject: str, **details: Any) -> AuditEntry:
        """Record what the actor did, for the audit log (in the event's transaction); the
        entry is returned so that its id, once flushed, can name what it caused."""
        entry = AuditEntry(
            at=self.now(),
            actor_id=self.actor.member_id,
            action=action,
            subject=subject,
            details=details,
        )
        self.session.add(entry)
        return entry

    @property
    def private_target(self) -> Target:
        identity = self.actor.identity
        return Target(identity.platform, identity.user_id, True)
