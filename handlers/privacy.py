"""/mydata and /forgetme: a member sees everything kept about them, and can have it erased."""

from __future__ import annotations

import json
import logging

from handlers import dialogs, notify
from handlers.chat import Command, Document, Message, Outgoing, Rich, bold
from handlers.context import Ctx
from handlers.dialogs import Data, Dialog, Option, Pick, Step
from handlers.i18n import N_, _
from store import privacy as store
from store.members import community_manager_ids
from store.models import Project

logger = logging.getLogger(__name__)


async def cmd_mydata(ctx: Ctx, cmd: Command) -> None:
    """Send you a file with everything I keep about you."""
    data = await store.export_member(ctx.session, ctx.actor.member_id, ctx.now())
    body = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False).encode("utf-8")
    filename = f"cds-mydata-{ctx.today().date().isoformat()}.json"
    caption = Rich.join(
        [
            bold(_("Everything I keep about you")),
            _("To change your profile: /profile. To erase everything: /forgetme."),
        ]
    )
    # Always to the private chat: the file is personal, wherever the command was typed.
    ctx.replies.append(Document(body, filename, caption, to=ctx.private_target))


async def cmd_forgetme(ctx: Ctx, cmd: Command) -> None:
    """Erase your personal data, after a confirmation."""
    await dialogs.start(ctx, FORGET)


def _ask_confirm(ctx: Ctx, data: Data) -> Rich:
    return Rich.join(
        [
            bold(_("Erase your data?")),
            _(
                "I will erase your profile, your names and accounts on every platform, the "
                "projects you follow, your rights and the messages waiting for you. Your "
                "offers stay in the projects' history, anonymous and without your words."
            ),
            _("This cannot be undone. To keep a copy first, use /mydata."),
        ]
    )


async def _finish_forget(ctx: Ctx, data: Data) -> None:
    erased = await store.erase_member(ctx.session, ctx.actor.member_id, ctx.now())
    logger.info("a member erased their data (%d offers made anonymous)", erased.offers)
    await _tell_managers(ctx, erased.leaderless)
    ctx.reply(
        Rich.join(
            [
                bold(_("Done: your data is erased.")),
                _(
                    "If you write to me again, I will greet you as someone new. "
                    "Thank you for what you did for the territory."
                ),
            ]
        )
    )


async def _tell_managers(ctx: Ctx, project_ids: list[int]) -> None:
    """Projects left without a leader: the community managers hear it."""
    if not project_ids:
        return
    community = ctx.community
    managers = await community_manager_ids(
        ctx.session, community.community_managers | community.admins
    )
    for project_id in project_ids:
        project = await ctx.session.get(Project, project_id)
        if project is None:
            continue
        title = project.title

        def build(title: str = title) -> Outgoing:
            return Message(
                Rich.of(
                    _(
                        "The project “{project}” has no leader any more: its leader erased "
                        "their data. Grant leader rights to someone with /grant."
                    ).format(project=title)
                )
            )

        for manager_id in sorted(managers):
            await notify.to_member(
                ctx, manager_id, f"project:{project_id}:leaderless:{ctx.now():%Y%m%d%H%M}", build
            )


FORGET = dialogs.register(
    Dialog(
        "forgetme",
        steps=(Step("confirm", _ask_confirm, Pick([Option("yes", N_("Yes, erase me"))])),),
        finish=_finish_forget,
    )
)
