"""A project's news: `/update` sends a leader's message to the project's followers and to the
members who offered to it, privately, in one command or a one-question conversation.

About a whole project rather than one need, so it is not with the need commands."""

from __future__ import annotations

from handlers import dialogs, lookup, notify
from handlers.chat import Button, Command, Message, Rich, bold, italic, rows
from handlers.context import Ctx
from handlers.dialogs import Data, Dialog, FreeText, Step
from handlers.errors import UnknownProject, Usage
from handlers.i18n import _
from handlers.need_rules import audit
from store import needs as store_needs
from store import offers as store_offers
from store.models import OfferStatus, Project

UPDATE_MAX = 2000
# Everyone with a live relation to the project hears its news.
NEWS_OFFER_STATUSES = (
    OfferStatus.PENDING.value,
    OfferStatus.ACCEPTED.value,
    OfferStatus.DONE.value,
)


async def cmd_update(ctx: Ctx, cmd: Command) -> None:
    """Send news of your project to its followers and contributors."""
    if not cmd.args:
        raise Usage(usage=_("/update <short name>"))
    project = await lookup.project(ctx, cmd.args[0])
    await lookup.require_leader(ctx, project)
    text = dialogs.parse_text(FreeText(UPDATE_MAX, optional=True), " ".join(cmd.args[1:]))
    if text is None:
        await dialogs.start(
            ctx, UPDATE, data={"project_id": project.id, "project_title": project.title}
        )
        return
    await _send_update(ctx, project, text)


def _ask_update(ctx: Ctx, data: Data) -> str:
    return _(
        "What is the news of “{project}”? Write it in one message (at most 2000 characters): "
        "it goes to its followers and contributors."
    ).format(project=data["project_title"])


async def _finish_update(ctx: Ctx, data: Data) -> None:
    project = await ctx.session.get(Project, data["project_id"])
    if project is None:
        raise UnknownProject(slug="", suggestion="")
    await lookup.require_leader(ctx, project)
    await _send_update(ctx, project, data["text"])


async def _send_update(ctx: Ctx, project: Project, text: str) -> None:
    audience = set(await store_needs.followers(ctx.session, project.id))
    audience |= set(await store_offers.contributors(ctx.session, project.id, NEWS_OFFER_STATUSES))
    audience.discard(ctx.actor.member_id)
    entry = audit(ctx, "project.update", f"project:{project.id}", text=text)
    await ctx.session.flush()
    author = ctx.actor.display_name

    def build() -> Message:
        return Message(
            Rich.join(
                [
                    Rich.of("📰 ") + bold(_("News from {project}").format(project=project.title)),
                    text,
                    italic(_("— {name}").format(name=author)),
                ]
            ),
            rows(Button("ℹ️ " + _("Project"), "proj", (project.slug,))),
        )

    sent = 0
    for member_id in sorted(audience):
        purpose = f"update:{project.id}:{entry.id}:{member_id}"
        if await notify.to_member(ctx, member_id, purpose, build):
            sent += 1
    entry.details = {"text": text, "recipients": sent}
    if sent:
        ctx.reply(_("Your news will be sent to {count} people.").format(count=sent))
    else:
        ctx.reply(
            _("Nobody follows “{project}” or has offered to it yet, so nobody received it.").format(
                project=project.title
            )
        )


UPDATE = dialogs.register(
    Dialog(
        "update",
        steps=(Step("text", _ask_update, FreeText(UPDATE_MAX)),),
        finish=_finish_update,
    )
)

__all__ = ["cmd_update"]
