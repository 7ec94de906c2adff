"""Typed SQLAlchemy models: the single description of the CDS data.

Identifiers that users or buttons carry (contribution kinds, statuses) are stored as short
strings so that they survive renames of the Python enums and read well in SQL.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and gives them back aware on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


class ContributionKind(enum.StrEnum):
    IDEA = "idea"
    FACILITATION = "facilitation"
    EXPERTISE = "expertise"
    KNOWLEDGE = "knowledge"
    SKILLS = "skills"
    NETWORK = "network"
    INFORMATION = "information"
    FUNDING = "funding"


class ProjectStatus(enum.StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAUSED = "paused"
    ARCHIVED = "archived"


class NeedStatus(enum.StrEnum):
    OPEN = "open"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"


class OfferStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    DONE = "done"


class Availability(enum.StrEnum):
    ONE_OFF = "one_off"
    FEW_HOURS = "few_hours"
    ONGOING = "ongoing"


class Role(enum.StrEnum):
    MEMBER = "member"
    LEADER = "leader"
    CM = "cm"
    ADMIN = "admin"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"
    HELD = "held"  # the member cannot be written to privately: shown when they come back


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (Index("ix_members_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    locale: Mapped[str | None] = mapped_column(String(8))
    # Consent to engagement messages in private (campaigns, suggestions); the answers to
    # the member's own offers are always sent.
    accepts_dm: Mapped[bool] = mapped_column(Boolean, default=False)
    timezone: Mapped[str | None] = mapped_column(String(64))
    quiet_hours: Mapped[str | None] = mapped_column(String(11))  # "22:00-08:00"; None: default
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime | None]
    # The profile, built a little at a time; every field may stay empty.
    skills: Mapped[list[str]] = mapped_column(default=list)
    liked_kinds: Mapped[list[str]] = mapped_column(default=list)
    languages: Mapped[list[str]] = mapped_column(default=list)
    country: Mapped[str | None] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    city: Mapped[str | None] = mapped_column(String(100))
    origin: Mapped[str | None] = mapped_column(String(100))  # territory (commune) of origin
    availability: Mapped[str | None] = mapped_column(String(16))
    share_name: Mapped[bool] = mapped_column(Boolean, default=False)  # may be named publicly
    matching_off: Mapped[bool] = mapped_column(Boolean, default=False)  # "Stop these"
    profile_asked_at: Mapped[datetime | None]
    profile_skipped: Mapped[list[str]] = mapped_column(default=list)

    identities: Mapped[list[MemberIdentity]] = relationship(
        back_populates="member", cascade="all, delete-orphan", lazy="selectin"
    )


class MemberIdentity(Base):
    __tablename__ = "member_identities"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    username: Mapped[str | None] = mapped_column(String(100), index=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    language_code: Mapped[str | None] = mapped_column(String(16))
    unreachable: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen_at: Mapped[datetime | None]

    member: Mapped[Member] = relationship(back_populates="identities")

    # Not a column: set by `members.touch_identity` when an unreachable member writes again.
    returned: bool = False


class MemberRole(Base):
    """Community-wide roles granted in chat (`cm`); configured ones live in the settings."""

    __tablename__ = "member_roles"
    __table_args__ = (UniqueConstraint("member_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    granted_at: Mapped[datetime]


class Chat(Base):
    """A group or channel the bot is in; `registered` ones receive announcements."""

    __tablename__ = "chats"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200), default="")
    tags: Mapped[list[str]] = mapped_column(default=list)
    registered: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    registered_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    title: Mapped[str] = mapped_column(String(120))
    summary: Mapped[str] = mapped_column(Text, default="")
    territory: Mapped[str] = mapped_column(String(100), default="")
    tags: Mapped[list[str]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default=ProjectStatus.DRAFT.value, index=True)
    proposed_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    spotlighted_at: Mapped[datetime | None]

    needs: Mapped[list[Need]] = relationship(back_populates="project", order_by="Need.id")
    leaders: Mapped[list[ProjectLeader]] = relationship(
        back_populates="project", cascade="all, delete-orphan"
    )


class ProjectLeader(Base):
    __tablename__ = "project_leaders"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    granted_at: Mapped[datetime]

    project: Mapped[Project] = relationship(back_populates="leaders")


class Need(Base):
    __tablename__ = "needs"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(120))
    details: Mapped[str] = mapped_column(Text, default="")
    target_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    effort: Mapped[str] = mapped_column(String(200), default="")
    deadline: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=NeedStatus.OPEN.value, index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]

    project: Mapped[Project] = relationship(back_populates="needs")


class Offer(Base):
    __tablename__ = "offers"
    __table_args__ = (
        Index("ix_offers_need_member", "need_id", "member_id"),
        # /stats reads offers by creation time, status, kind and need from this index alone.
        Index("ix_offers_created_status_kind_need", "created_at", "status", "kind", "need_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id", ondelete="CASCADE"))
    # NULL once the member erased their data: the contribution stays, anonymous.
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")
    availability: Mapped[str] = mapped_column(String(16), default=Availability.ONE_OFF.value)
    pledged_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    share_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=OfferStatus.PENDING.value, index=True)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(64), default="")
    referred_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    # 0: none yet; 1: the leaders were reminded; 2: the CM was told; 3: released
    reminder_stage: Mapped[int] = mapped_column(Integer, default=0)
    thanked_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    need: Mapped[Need] = relationship()


class MatchFeedback(Base):
    """A member's "Not for me" on a need they were matched with; later matches learn from it."""

    __tablename__ = "match_feedback"
    __table_args__ = (UniqueConstraint("member_id", "need_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id", ondelete="CASCADE"))
    verdict: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]


class MemberTrait(Base):
    """One fact matching looks up: a skill tag (as written), a liked kind, a language code or
    the folded commune of origin of a member who may be matched. Derived from the member's
    profile by `store.traits`, in the same transaction as every change of it."""

    __tablename__ = "member_traits"
    __table_args__ = (
        Index("ix_member_traits_member_id", "member_id"),
        {"sqlite_with_rowid": False},
    )

    trait: Mapped[str] = mapped_column(String(8), primary_key=True)
    value: Mapped[str] = mapped_column(String(100), primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )


class NeedClick(Base):
    """Someone opened a need through a link (announcement, share, match): the funnel's
    "clicked" step, and the referral credit when a member shared it."""

    __tablename__ = "need_clicks"

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    referrer_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime]


class Follow(Base):
    __tablename__ = "follows"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime]


class DialogState(Base):
    """One conversation in progress per person and chat; it survives restarts."""

    __tablename__ = "dialog_states"
    __table_args__ = (UniqueConstraint("platform", "chat_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    dialog: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]


class Announcement(Base):
    """A need card posted in a chat, kept so that it can be edited when the need closes."""

    __tablename__ = "announcements"
    __table_args__ = (UniqueConstraint("need_id", "chat_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL")
    )
    message_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class CampaignKind(enum.StrEnum):
    MESSAGE = "message"
    QUESTION = "question"
    POLL = "poll"
    SPOTLIGHT = "spotlight"
    DIGEST = "digest"
    FOLLOWUP = "followup"
    REENGAGE = "reengage"


class CampaignStatus(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    FINISHED = "finished"  # its end date or number of runs was reached
    DELETED = "deleted"


class RunStatus(enum.StrEnum):
    PENDING = "pending"  # created, not yet expanded into deliveries
    DISPATCHING = "dispatching"  # deliveries written, the outbox is sending them
    DONE = "done"
    SKIPPED = "skipped"  # nothing to send (an empty digest), or missed beyond the grace


class Campaign(Base):
    """A community manager's scheduled engagement; the scheduler is rebuilt from this table."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)  # travels in deep links
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.ACTIVE.value, index=True)
    # {"fr": "...", "en": "...", "ar": "..."}; missing languages fall back to the community's
    content: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # poll options per language {"fr": [...]}, follow-up/re-engage delays {"days": 14} ...
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # {"groups": "all" | [tags], "members": "none" | "everyone" | "contributors" | "followers"}
    audience: Mapped[dict[str, Any]] = mapped_column(default=dict)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="SET NULL"))
    need_id: Mapped[int | None] = mapped_column(ForeignKey("needs.id", ondelete="SET NULL"))
    # {"type": "once" | "daily" | "weekly" | "monthly" | "cron", "time": "HH:MM", ...}
    schedule: Mapped[dict[str, Any]] = mapped_column(default=dict)
    timezone: Mapped[str] = mapped_column(String(64))
    ends_on: Mapped[date | None] = mapped_column(Date)
    max_runs: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CampaignRun(Base):
    """One firing of a campaign, unique per local slot: a double fire creates one run."""

    __tablename__ = "campaign_runs"
    __table_args__ = (UniqueConstraint("campaign_id", "slot"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    slot: Mapped[str] = mapped_column(String(32))  # local wall-clock time, "2026-03-22T10:00"
    scheduled_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.PENDING.value, index=True)
    started_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class CampaignResponse(Base):
    """What members did with a campaign: an answer, a poll vote, a click, an offer."""

    __tablename__ = "campaign_responses"
    __table_args__ = (Index("ix_campaign_responses_campaign_kind", "campaign_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("campaign_runs.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))  # answer, vote, click, offer
    choice: Mapped[list[str]] = mapped_column(default=list)  # poll options chosen
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class Delivery(Base):
    """The outbox: one row per (purpose, target), drained by the dispatcher."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("purpose", "target"),
        Index("ix_deliveries_status_not_before", "status", "not_before"),
        Index("ix_deliveries_target_status", "target", "status"),
        Index("ix_deliveries_member_created", "member_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(120))
    target: Mapped[str] = mapped_column(String(120))
    platform: Mapped[str] = mapped_column(String(16))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaign_runs.id", ondelete="CASCADE"), index=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    message_id: Mapped[str | None] = mapped_column(String(64))
    # A second platform reference where one exists (a Telegram poll's id, for its votes).
    external_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    error: Mapped[str] = mapped_column(Text, default="")
    not_before: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class OutboxLease(Base):
    """Which outbox dispatcher may send on a platform, until when: one at a time, so that
    several bot processes together stay within the platform's rate limits. `holder` is the
    dispatcher's random id; `host` and `pid` are there for the humans reading the table."""

    __tablename__ = "outbox_leases"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    holder: Mapped[str] = mapped_column(String(32))
    host: Mapped[str] = mapped_column(String(255), default="")
    pid: Mapped[int] = mapped_column(Integer, default=0)
    since: Mapped[datetime]  # when this holder took it (renewals keep it)
    expires_at: Mapped[datetime]


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(120), default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
