"""First contact, help, language: what every member sees first."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import update

from handlers import dialogs
from handlers.campaign_content import split_code
from handlers.chat import Button, Command, Press, Rich, bold, rows
from handlers.context import Ctx
from handlers.errors import Usage
from handlers.i18n import LANGUAGE_NAMES, LANGUAGES, N_, _, use_language
from store.models import Member

# (ctx, value, campaign code or None): what a `/start <kind>-<value>[-c<code>]` link opens.
DeepLink = Callable[[Ctx, str, str | None], Awaitable[None]]


async def cmd_start(ctx: Ctx, cmd: Command) -> None:
    """Welcome the member, or follow the deep link they came by."""
    payload = cmd.args[0] if cmd.args else ""
    kind, _sep, value = payload.partition("-")
    value, campaign = split_code(value)
    follow = deep_links().get(kind)
    if follow is not None and value:
        await follow(ctx, value, campaign)
        return
    community = ctx.community
    lines: list[Rich | str] = [
        Rich.of(
            _("Welcome to {community}, {name}!").format(
                community=community.name, name=ctx.actor.display_name or "👋"
            )
        ),
        _(
            "I connect the development projects of the territory with people who want to "
            "help: an idea, some expertise, your network, a few hours, or a pledge."
        ),
        "",
        Rich.of(bold(_("Start here:"))),
        _("/projects — the projects and what they need"),
        _("/needs — every open need, by kind"),
        _("/help — everything you can do"),
        "",
        _(
            "Privacy: I keep your name and accounts, your language, your /profile, the "
            "projects you follow and the contributions you offer, only to connect you with "
            "projects. Nothing personal is shown in groups. /mydata sends you all of it; "
            "/forgetme erases it."
        ),
    ]
    if community.demo:
        lines.insert(0, Rich.of(bold(_("DEMO community: sample data, not real projects."))))
    buttons = (
        rows(*(Button(LANGUAGE_NAMES[code], "lang", (code,)) for code in LANGUAGES), width=3)
        if ctx.place.private
        else ()
    )
    ctx.reply(Rich.join(lines), buttons)


def deep_links() -> dict[str, DeepLink]:
    """`/start <kind>-<value>` payloads and what they open; a `-c<code>` suffix credits a
    campaign with the click (and with the offer that follows); `offer-<need>-r<member>` is a
    member's shared link, `offer-<need>-m` a matching note's (see handlers.referrals)."""
    from handlers import referrals

    return {"offer": _offer_link, "project": _project_link, "share": referrals.share_link}


async def _offer_link(ctx: Ctx, need_ref: str, campaign: str | None) -> None:
    from handlers import campaign_responses, offers, referrals

    tracked = referrals.parse_link(need_ref) if campaign is None else None
    if tracked is not None:
        await referrals.follow_link(ctx, tracked)
        return
    source = await campaign_responses.credit_click(ctx, campaign) if campaign else "link"
    await offers.begin_offer(ctx, need_ref, source=source)


async def _project_link(ctx: Ctx, slug: str, campaign: str | None) -> None:
    from handlers import campaign_responses, projects

    if campaign:
        await campaign_responses.credit_click(ctx, campaign)
    await projects.show_project(ctx, slug)


async def cmd_help(ctx: Ctx, cmd: Command) -> None:
    """List the commands this person may use, by role."""
    from handlers.routes import commands_for

    sections = commands_for(ctx.actor.roles)
    lines: list[Rich | str] = []
    for title, entries in sections:
        lines.append(Rich.of(bold(_(title))))
        lines.extend(f"{usage} — {description}" for usage, description in entries)
        lines.append("")
    lines.append(_("Type /cancel at any time to stop a conversation."))
    ctx.reply(Rich.join(lines))


async def cmd_cancel(ctx: Ctx, cmd: Command) -> None:
    """Stop the conversation in progress, saving nothing."""
    if await dialogs.clear(ctx):
        ctx.reply(_("Cancelled. Nothing was saved."))
    else:
        ctx.reply(_("There was nothing to cancel."))


async def cmd_language(ctx: Ctx, cmd: Command) -> None:
    """Choose the language the bot speaks to you."""
    if cmd.args:
        await _set_language(ctx, cmd.args[0].lower())
        return
    ctx.reply(
        _("Choose your language:"),
        rows(*(Button(LANGUAGE_NAMES[code], "lang", (code,)) for code in LANGUAGES), width=3),
    )


async def press_language(ctx: Ctx, press: Press) -> None:
    """A language button."""
    await _set_language(ctx, press.args[0] if press.args else "")


async def _set_language(ctx: Ctx, code: str) -> None:
    if code not in LANGUAGES:
        raise Usage(usage="/language " + "|".join(LANGUAGES))
    await ctx.session.execute(
        update(Member).where(Member.id == ctx.actor.member_id).values(locale=code)
    )
    with use_language(code):
        ctx.reply(_("I will speak {language} with you.").format(language=LANGUAGE_NAMES[code]))


SECTION_MEMBER = N_("For everyone")
SECTION_LEADER = N_("For project leaders")
SECTION_CM = N_("For community managers")
