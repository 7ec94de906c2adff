"""Referrals: the first circle mobilises the second.

Every need card has a "Share" button. It gives the member, privately, a message to forward:
the need, and a button that opens it through the member's personal link
(`/start offer-<need>-r<member>`, a `t.me/<bot>?start=...` link on Telegram). Whoever offers
through it credits the member (`Offer.referred_by`, source "share"), each opening is counted
(`NeedClick`), and the member is thanked when the offer is accepted. Sharing is bounded
(`SHARES_PER_HOUR`); a member's own link credits nobody.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from handlers import lookup, notify
from handlers.cards import NEED_STATUS_LABELS, need_summary
from handlers.chat import Button, Message, Press, Rich, Span, bold, code, italic, rows
from handlers.context import Ctx
from handlers.errors import NeedClosed, ProjectNotOpen, ShareLimit, StaleButton
from handlers.i18n import _
from store import matching as queries
from store.models import Need, NeedStatus, Offer, Project, ProjectStatus

logger = logging.getLogger(__name__)

SHARES_PER_HOUR = 20
DETAILS_SHOWN = 500
# What follows a need's number in an offer link: "-r<member>" a member's share, "-m" a
# matching note.
_TAIL = re.compile(r"(?P<need>\d{1,11})-(?:r(?P<referrer>\d{1,11})|(?P<match>m))")


@dataclass(frozen=True, slots=True)
class Link:
    """What an offer link carries besides the need."""

    need_ref: str
    source: str  # "share" or "match"
    referrer: int | None = None


def parse_link(value: str) -> Link | None:
    """ "12-r5" -> a share by member 5; "12-m" -> a matching note; else None."""
    found = _TAIL.fullmatch(value)
    if found is None:
        return None
    if found.group("match"):
        return Link(found.group("need"), "match")
    return Link(found.group("need"), "share", int(found.group("referrer")))


def share_payload(need_id: int, member_id: int) -> str:
    """The `/start` payload of a member's personal link to a need (well within Telegram's
    64 characters of [A-Za-z0-9_-])."""
    return f"offer-{need_id}-r{member_id}"


def credited(referrer: object, member_id: int) -> int | None:
    """The member an offer credits: the sharer whose link brought it, never oneself."""
    if isinstance(referrer, int) and not isinstance(referrer, bool) and referrer != member_id:
        return referrer
    return None


# --- following a link ------------------------------------------------------------------------


async def follow_link(ctx: Ctx, link: Link) -> None:
    """Someone opened a shared link or a note's link: count the click, credit the sharer
    (never oneself), and start the offer."""
    from handlers import offers

    need = await lookup.need(ctx, link.need_ref)
    referrer = link.referrer
    if referrer is not None and (
        referrer == ctx.actor.member_id or not await queries.member_exists(ctx.session, referrer)
    ):
        referrer = None
    await queries.record_click(
        ctx.session,
        need_id=need.id,
        member_id=ctx.actor.member_id,
        source=link.source,
        referrer_id=referrer,
        now=ctx.now(),
    )
    await offers.begin_offer(ctx, str(need.id), source=link.source, referred_by=referrer)


# --- sharing ---------------------------------------------------------------------------------


async def press_share(ctx: Ctx, press: Press) -> None:
    """ "Share" under a need: your personal link to forward, privately."""
    if len(press.args) != 1:
        raise StaleButton()
    await share(ctx, press.args[0])


async def share_link(ctx: Ctx, value: str, campaign: str | None) -> None:
    """`/start share-<need>` (the Share button of a card posted in a Telegram group)."""
    await share(ctx, value)


async def share(ctx: Ctx, need_ref: str) -> None:
    """Give the member a message to forward, with their personal link to the need."""
    need = await lookup.need(ctx, need_ref)
    project = await ctx.session.get_one(Project, need.project_id)
    if need.status != NeedStatus.OPEN.value:
        raise NeedClosed(status=_(NEED_STATUS_LABELS.get(need.status, need.status)))
    if project.status != ProjectStatus.OPEN.value:
        raise ProjectNotOpen(project=project.title)
    now = ctx.now()
    recent = await queries.shares_since(ctx.session, ctx.actor.member_id, now - timedelta(hours=1))
    if recent >= SHARES_PER_HOUR:
        raise ShareLimit(count=SHARES_PER_HOUR)
    ctx.audit(queries.SHARE_ACTION, f"need:{need.id}")
    payload = share_payload(need.id, ctx.actor.member_id)
    ctx.reply(
        Rich.join(
            [
                bold(_("Your personal link to this need")),
                _(
                    "Forward the next message to people who could help: its button opens the "
                    "need with your personal link. When one of them offers through it and the "
                    "leaders accept, I will tell you."
                ),
            ]
        )
    )
    card = shared_card(need, project, payload)
    ctx.reply(card.text, card.buttons)


def shared_card(need: Need, project: Project, payload: str) -> Message:
    """The message a member forwards: the need, and how to offer through their link."""
    lines: list[Rich | Span | str] = [
        Rich.of("📣 ")
        + bold(project.title)
        + (f" · {project.territory}" if project.territory else ""),
        need_summary(need),
    ]
    if need.details:
        details = need.details
        if len(details) > DETAILS_SHOWN:
            details = details[: DETAILS_SHOWN - 1].rstrip() + "…"
        lines.append(details)
    lines.append(
        Rich.of(italic(_("To help, open it with the button, or write this to the bot:")))
        + " "
        + code(f"/start {payload}")
    )
    return Message(
        Rich.join(lines),
        rows(Button("🙋 " + _("Open this need"), private_start=payload)),
    )


# --- thanks ------------------------------------------------------------------------------------


async def thank_referrer(ctx: Ctx, offer: Offer, need: Need, project: Project) -> bool:
    """An offer that came through a member's share was accepted: thank the member (without
    naming who offered). True when a thank-you was queued."""
    referrer = offer.referred_by
    if referrer is None or referrer == offer.member_id:
        return False

    def build() -> Message:
        return Message(
            Rich.join(
                [
                    Rich.of("🙌 ") + bold(_("Thank you for sharing!")),
                    _(
                        "Someone you shared “{need}” ({project}) with offered their help, and "
                        "the leaders accepted it. This is how the projects find their people."
                    ).format(need=need.title, project=project.title),
                ]
            )
        )

    return await notify.to_member(ctx, referrer, f"referral:{offer.id}", build)


__all__ = [
    "SHARES_PER_HOUR",
    "Link",
    "credited",
    "follow_link",
    "parse_link",
    "press_share",
    "share",
    "share_link",
    "share_payload",
    "shared_card",
    "thank_referrer",
]
