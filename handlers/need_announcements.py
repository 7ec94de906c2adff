"""A need's cards in the groups: `/announce` posts them (and tells the members whose profile
fits), and `refresh_announcements` keeps them up to date when the need is edited or closed.

Kept together because both go through the same announcement rows and the outbox."""

from __future__ import annotations

import logging

from handlers import lookup, notify
from handlers.cards import need_card
from handlers.chat import Command, Edit, MessageRef, Platform, Rich, Target
from handlers.context import Ctx
from handlers.errors import ProjectNotOpen, Usage
from handlers.i18n import _, use_language
from handlers.match_notes import notify_matches, report_text
from handlers.need_rules import audit, need_and_project, require_open_need
from handlers.serial import dump
from store import needs as store_needs
from store import outbox
from store.models import Announcement, Delivery, DeliveryStatus, Need, Project, ProjectStatus

logger = logging.getLogger(__name__)


async def refresh_announcements(ctx: Ctx, need: Need, project: Project, purpose: str) -> int:
    """Bring every posted card of this need up to date; returns how many will change.

    A card already posted is edited through the outbox; a card still waiting in the outbox
    gets the new content instead, so the group never sees the stale one."""
    with use_language(ctx.community.default_language):
        card = need_card(need, project)
    changed = 0
    for announcement, chat in await store_needs.announcements(ctx.session, need.id):
        delivery = (
            await ctx.session.get(Delivery, announcement.delivery_id)
            if announcement.delivery_id is not None
            else None
        )
        message_id = announcement.message_id or (delivery.message_id if delivery else None)
        if message_id:
            announcement.message_id = message_id
            target = Target(Platform(chat.platform), chat.external_id, False)
            queued = await outbox.enqueue(
                ctx.session,
                purpose=purpose,
                target=target.key,
                platform=chat.platform,
                payload=dump(Edit(MessageRef(target, message_id), card)),
                now=ctx.now(),
            )
            if queued is not None:
                ctx.queued += 1
                changed += 1
        elif delivery is not None and delivery.status == DeliveryStatus.PENDING.value:
            delivery.payload = dump(card)
            changed += 1
        else:
            # Being sent right now, or failed: there is no message to edit.
            logger.info(
                "announcement %s of need %s has no message to edit", announcement.id, need.id
            )
    return changed


# --- /announce -----------------------------------------------------------------------------


async def cmd_announce(ctx: Ctx, cmd: Command) -> None:
    """Post the card of one of your needs in every registered group that matches it."""
    if not cmd.args:
        raise Usage(usage=_("/announce <need no.>"))
    need, project = await need_and_project(ctx, cmd.args[0])
    await lookup.require_leader(ctx, project)
    require_open_need(need)
    if project.status != ProjectStatus.OPEN.value:
        raise ProjectNotOpen(project=project.title)
    chats = await store_needs.chats_for(ctx.session, project)
    if not chats:
        ctx.reply(
            _(
                "No registered group matches this project yet. Ask the community manager to "
                "register groups with /linkgroup."
            )
        )
        # Members whose profile fits still hear of it, personally.
        ctx.reply(report_text(await notify_matches(ctx, need, project)))
        return
    already = await store_needs.announced_chat_ids(ctx.session, need.id)
    purpose = f"announce:need:{need.id}"
    posted: list[int] = []
    for chat in chats:
        if chat.id in already:
            continue
        delivery_id = await notify.to_chat(ctx, chat, purpose, lambda: need_card(need, project))
        if delivery_id is None:  # queued before under this purpose: link that delivery
            target = Target(Platform(chat.platform), chat.external_id, False)
            existing = await outbox.existing(ctx.session, purpose, target.key)
            delivery_id = existing.id if existing is not None else None
        ctx.session.add(
            Announcement(
                need_id=need.id, chat_id=chat.id, delivery_id=delivery_id, created_at=ctx.now()
            )
        )
        posted.append(chat.id)
    skipped = len(chats) - len(posted)
    await ctx.session.flush()
    if posted:
        audit(ctx, "need.announce", f"need:{need.id}", chats=posted, already=skipped)
    matched = await notify_matches(ctx, need, project)
    ctx.reply(
        Rich.join(
            [
                _("Announced in {count} groups ({already} already had it).").format(
                    count=len(posted), already=skipped
                ),
                report_text(matched),
            ]
        )
    )


__all__ = ["cmd_announce", "refresh_announcements"]
