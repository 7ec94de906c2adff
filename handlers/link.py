"""Linking accounts: one person writing from Telegram and from Discord is one member.

`/link` shows a short one-time code; `/link CODE` sent from the account on the other platform
merges the two members: the member who was shown the code keeps their number, and the other
one's identities, offers, follows, rights and history move to it. Codes last 15 minutes, are
used once, and wrong guesses are limited so that nobody can try codes until one works.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from handlers.chat import Command, Rich, bold, code
from handlers.context import Ctx
from handlers.errors import (
    InvalidLinkCode,
    LinkCodeIsYours,
    LinkSamePlatform,
    TooManyLinkAttempts,
    Usage,
)
from handlers.i18n import _
from store import links
from store.models import AuditEntry

# No 0/O, 1/I/L: a code is read on one screen and typed on another.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
CODE_LIFETIME = timedelta(minutes=15)
WRONG_CODES_ALLOWED = 5
WRONG_CODES_WINDOW = timedelta(hours=1)
REFUSED = "member.link_refused"


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise(typed: str) -> str:
    """What the member typed, as a code: case, spaces and dashes do not matter."""
    return "".join(typed.split()).replace("-", "").upper()


async def cmd_link(ctx: Ctx, cmd: Command) -> None:
    """Link your accounts on two platforms: a code shown here, entered on the other."""
    if not cmd.args:
        await _show_code(ctx)
        return
    if len(cmd.args) != 1:
        raise Usage(usage=_("/link [code]"))
    await _use_code(ctx, normalise(cmd.args[0]))


async def _show_code(ctx: Ctx) -> None:
    now = ctx.now()
    await links.forget_codes_shown_before(ctx.session, now - CODE_LIFETIME)
    fresh = new_code()
    while await links.pending_code(ctx.session, fresh) is not None:
        fresh = new_code()
    await links.add_code(ctx.session, fresh, ctx.actor.member_id, now)
    ctx.reply(
        Rich.join(
            [
                Rich.of(_("Your linking code: ")) + bold(fresh),
                _(
                    "It works once, for 15 minutes. From your account on the other platform, "
                    "send me:"
                ),
                Rich.of(code(f"/link {fresh}")),
                _("Your offers, follows and history will then be one."),
            ]
        )
    )


async def _use_code(ctx: Ctx, typed: str) -> None:
    session, now, actor = ctx.session, ctx.now(), ctx.actor
    wrong = await links.count_actions_since(
        session, actor.member_id, REFUSED, now - WRONG_CODES_WINDOW
    )
    if wrong >= WRONG_CODES_ALLOWED:
        raise TooManyLinkAttempts()
    state = await links.pending_code(session, typed) if typed else None
    if state is None or now - state.updated_at > CODE_LIFETIME:
        # Not raised: the refusal must be recorded (it counts against the attempts left),
        # and a raised error would roll the record back.
        session.add(
            AuditEntry(at=now, actor_id=actor.member_id, action=REFUSED, subject="", details={})
        )
        ctx.reply("⚠️ " + InvalidLinkCode().render())
        return
    keep_id, gone_id = state.member_id, actor.member_id
    if keep_id == gone_id:
        raise LinkCodeIsYours()
    kept_platforms = await links.platforms_of(session, keep_id)
    gone_platforms = await links.platforms_of(session, gone_id)
    shared = sorted(kept_platforms & gone_platforms)
    if shared:
        raise LinkSamePlatform(platform=shared[0].capitalize())
    if not await links.claim_code(session, state.id):
        raise InvalidLinkCode()
    await links.merge_members(session, keep_id, gone_id)
    platforms = sorted(kept_platforms | gone_platforms)
    session.add(
        AuditEntry(
            at=now,
            actor_id=keep_id,
            action="member.link",
            subject=f"member:{keep_id}",
            details={"merged": gone_id, "platforms": platforms},
        )
    )
    ctx.reply(
        _(
            "Your accounts are linked ({platforms}): your offers, follows and history are now "
            "one, wherever you write to me."
        ).format(platforms=", ".join(name.capitalize() for name in platforms))
    )
