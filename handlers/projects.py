"""What members do with projects: browse the open ones (`/projects`, by territory or by the
kind of help they need), open one's card (also the `/start project-<slug>` deep link), and
follow or unfollow its news.

The community manager's side (proposals, creation, publication) is in `project_dialogs` and
`project_status`; the rules they all share are in `project_rules`."""

from __future__ import annotations

from handlers import lookup
from handlers.cards import KIND_LABELS, project_card
from handlers.chat import Button, Command, Press, Rich, Span, bold, rows
from handlers.context import Ctx
from handlers.errors import ProjectNotOpen, StaleButton, UnknownProject
from handlers.i18n import LANGUAGES, _, translate
from handlers.project_rules import (
    DRAFT,
    HIDDEN,
    OPEN,
    PAUSED,
    short,
    slug_arg,
    usage,
    visible_project,
)
from store import projects as store
from store.models import Role

PAGE_SIZE = 5
MAX_FILTER_BYTES = 40  # keeps the "page" button payload within Telegram's 64 bytes
MAX_PAGE = 999


# --- browsing ------------------------------------------------------------------------------


def kind_named(text: str) -> str | None:
    """The contribution kind `text` names: its id ("funding") or its label in any language."""
    wanted = text.strip().casefold()
    for kind, msgid in KIND_LABELS.items():
        names = {str(kind)}
        for language in LANGUAGES:
            label = translate(msgid, language).casefold()
            names.update({label, label.split("(")[0].strip()})
        if wanted in names:
            return str(kind)
    return None


async def cmd_projects(ctx: Ctx, cmd: Command) -> None:
    """List the open projects, optionally those of a territory or needing a kind of help."""
    query = cmd.rest.strip()
    if len(query.encode()) > MAX_FILTER_BYTES:
        raise usage("projects")
    await _show_page(ctx, query, 1)


async def press_page(ctx: Ctx, press: Press) -> None:
    """The "‹ Prev" and "Next ›" buttons of the project list."""
    if len(press.args) != 2:
        raise StaleButton()
    query, page = press.args
    if len(query.encode()) > MAX_FILTER_BYTES or not page.isdigit():
        raise StaleButton()
    if not 1 <= int(page) <= MAX_PAGE:
        raise StaleButton()
    await _show_page(ctx, query, int(page))


async def _show_page(ctx: Ctx, query: str, page: int) -> None:
    kind = kind_named(query) if query else None
    territory = query if query and kind is None else None
    found, total = await store.browse(
        ctx.session, territory=territory, kind=kind, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    pages = max(1, -(-total // PAGE_SIZE))
    if total and not found:  # the list shrank since the button was drawn: show the last page
        page = pages
        found, total = await store.browse(
            ctx.session,
            territory=territory,
            kind=kind,
            offset=(page - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
    if not found:
        if query:
            ctx.reply(
                _(
                    "No open project matches “{filter}” right now. Try /projects without a "
                    "filter, or /needs to browse every open need."
                ).format(filter=query)
            )
        else:
            ctx.reply(
                _("There are no open projects yet. Do you have an idea? Send it with /propose.")
            )
        return
    if query:
        header = _("Open projects matching “{filter}” ({count}):").format(filter=query, count=total)
    else:
        header = _("Open projects ({count}):").format(count=total)
    if pages > 1:
        header += " " + _("page {page} of {pages}").format(page=page, pages=pages)
    lines: list[Rich | Span | str] = [bold(header)]
    for number, (project, open_needs) in enumerate(found, start=(page - 1) * PAGE_SIZE + 1):
        line = Rich.of(f"{number}. ") + bold(project.title)
        if project.territory:
            line += " — " + project.territory
        line += " · " + _open_needs_text(open_needs)
        lines.append(line)
    if ctx.place.private:
        lines += ["", _("Open a project with its button, or type /project <short name>.")]
    buttons = [Button(short(project.title), "proj", (project.slug,)) for project, _n in found]
    navigation = []
    if page > 1:
        navigation.append(Button("‹ " + _("Prev"), "page", (query, str(page - 1))))
    if page < pages:
        navigation.append(Button(_("Next") + " ›", "page", (query, str(page + 1))))
    ctx.reply(Rich.join(lines), [*rows(*buttons, width=1), *rows(*navigation)])


def _open_needs_text(count: int) -> str:
    if count == 0:
        return _("no open needs")
    if count == 1:
        return _("1 open need")
    return _("{count} open needs").format(count=count)


# --- one project ---------------------------------------------------------------------------


async def cmd_project(ctx: Ctx, cmd: Command) -> None:
    """Show a project's card: what it is, its open needs, how to help and follow."""
    if len(cmd.args) != 1:
        raise usage("project")
    await show_project(ctx, cmd.args[0])


async def press_project(ctx: Ctx, press: Press) -> None:
    """A project button: show its card."""
    await show_project(ctx, slug_arg(press.args))


async def show_project(ctx: Ctx, slug: str) -> None:
    """The project card (also the target of the `/start project-<slug>` deep link)."""
    project = await visible_project(ctx, slug)
    needs = await store.needs_of(ctx.session, project.id)
    following = None
    if ctx.place.private:  # following is personal: no such button in a group
        following = await store.is_following(ctx.session, ctx.actor.member_id, project.id)
        if not following and project.status != OPEN:
            following = None  # only open projects can be followed
    card = project_card(project, needs, following=following)
    text, buttons = card.text, list(card.buttons)
    if project.status in {DRAFT, PAUSED} and Role.CM.value in ctx.actor.roles:
        text += "\n\n" + _("Not visible to members. Publish it with /publish {slug}.").format(
            slug=project.slug
        )
        buttons.append((Button("✅ " + _("Publish"), "pub", (project.slug,)),))
    ctx.reply(text, buttons)


# --- following -----------------------------------------------------------------------------


async def cmd_follow(ctx: Ctx, cmd: Command) -> None:
    """Get the news of a project (new needs, updates from its leaders)."""
    if len(cmd.args) != 1:
        raise usage("follow")
    await _follow(ctx, cmd.args[0])


async def press_follow(ctx: Ctx, press: Press) -> None:
    """The Follow button of a project card."""
    await _follow(ctx, slug_arg(press.args))


async def _follow(ctx: Ctx, slug: str) -> None:
    project = await visible_project(ctx, slug)
    if project.status != OPEN:
        raise ProjectNotOpen(project=project.title)
    if await store.follow(ctx.session, ctx.actor.member_id, project.id, ctx.now()):
        text = _(
            "You now follow “{project}”: I will send you its news (new needs, updates) in a "
            "private message."
        )
    else:
        text = _("You already follow “{project}”; its news comes to you in private.")
    buttons = rows(Button("🔕 " + _("Unfollow"), "unf", (project.slug,)))
    ctx.reply(text.format(project=project.title), buttons if ctx.place.private else ())


async def cmd_unfollow(ctx: Ctx, cmd: Command) -> None:
    """Stop getting the news of a project."""
    if len(cmd.args) != 1:
        raise usage("unfollow")
    await _unfollow(ctx, cmd.args[0])


async def press_unfollow(ctx: Ctx, press: Press) -> None:
    """The Unfollow button of a project card."""
    await _unfollow(ctx, slug_arg(press.args))


async def _unfollow(ctx: Ctx, slug: str) -> None:
    project = await lookup.project(ctx, slug)
    if await store.unfollow(ctx.session, ctx.actor.member_id, project.id):
        ctx.reply(_("You no longer follow “{project}”.").format(project=project.title))
        return
    if project.status in HIDDEN and not await lookup.leads(ctx, project.id):
        raise UnknownProject(slug=project.slug, suggestion="")
    ctx.reply(_("You were not following “{project}”.").format(project=project.title))
