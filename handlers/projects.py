"""Projects: browse and follow them, propose one, and (community managers) create, publish,
pause and archive them."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from handlers import dialogs, lookup, notify
from handlers.cards import KIND_LABELS, PROJECT_STATUS_LABELS, project_card
from handlers.chat import Button, Command, Message, Outgoing, Press, Rich, Span, bold, italic, rows
from handlers.context import Ctx
from handlers.dialogs import Data, Dialog, FreeText, Option, Pick, Step
from handlers.errors import (
    InvalidSlug,
    ProjectNotOpen,
    SlugTaken,
    StaleButton,
    UnknownProject,
    Usage,
    UserError,
    WrongStatus,
)
from handlers.i18n import LANGUAGES, N_, _, translate
from store import members
from store import projects as store
from store.models import AuditEntry, Project, ProjectLeader, ProjectStatus, Role

logger = logging.getLogger(__name__)

PAGE_SIZE = 5
MAX_FILTER_BYTES = 40  # keeps the "page" button payload within Telegram's 64 bytes
MAX_PAGE = 999
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{2,49}$")
GENERATED_SLUG_LENGTH = 48
MAX_TAGS, MAX_TAG_LENGTH = 8, 30

DRAFT, OPEN = ProjectStatus.DRAFT.value, ProjectStatus.OPEN.value
PAUSED, ARCHIVED = ProjectStatus.PAUSED.value, ProjectStatus.ARCHIVED.value
HIDDEN = frozenset({DRAFT, ARCHIVED})  # seen only by the project's leaders and CMs

# move -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "publish": (frozenset({DRAFT, PAUSED}), OPEN),
    "pause": (frozenset({OPEN}), PAUSED),
    "archive": (frozenset({DRAFT, OPEN, PAUSED}), ARCHIVED),
}


# --- small shared pieces -------------------------------------------------------------------


def usage(command: str) -> Usage:
    """The usage error of `command`, in the member's language."""
    from handlers.routes import COMMAND_ROUTES

    return Usage(usage=_(COMMAND_ROUTES[command].usage))


def audit(ctx: Ctx, action: str, subject: str, **details: Any) -> None:
    ctx.session.add(
        AuditEntry(
            at=ctx.now(),
            actor_id=ctx.actor.member_id,
            action=action,
            subject=subject,
            details=details,
        )
    )


_FOLDED = str.maketrans({"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ł": "l", "ı": "i"})


def slug_base(title: str) -> str:
    """Lowercase ASCII words of `title` joined by dashes; accents dropped, other scripts too."""
    folded = unicodedata.normalize("NFKD", title.lower().translate(_FOLDED))
    ascii_only = (
        "".join(c for c in folded if not unicodedata.combining(c))
        .encode("ascii", "ignore")
        .decode()
    )
    words = re.sub(r"[^a-z0-9]+", "-", ascii_only).strip("-")
    if len(words) > GENERATED_SLUG_LENGTH:
        words = words[:GENERATED_SLUG_LENGTH].rsplit("-", 1)[0] or words[:GENERATED_SLUG_LENGTH]
    return words.strip("-")


def pick_slug(title: str, taken: set[str], project_count: int) -> str:
    """A free short name for `title`: its words, then -2, -3...; "project-<n>" when the title
    has no Latin letters or digits (e.g. an Arabic-only title)."""
    base = slug_base(title)
    if SLUG.fullmatch(base):
        candidates = (base if n == 1 else f"{base}-{n}" for n in range(1, 10_000))
    else:
        candidates = (f"project-{n}" for n in range(project_count + 1, project_count + 10_000))
    return next(slug for slug in candidates if slug not in taken)


async def unique_slug(ctx: Ctx, title: str) -> str:
    base = slug_base(title)
    prefix = base if SLUG.fullmatch(base) else "project-"
    taken = await store.slugs_starting_with(ctx.session, prefix)
    return pick_slug(title, taken, len(taken))


def parse_tags(text: str | None) -> list[str]:
    """Comma- or space-separated keywords, lowercased, without '#', deduplicated, capped."""
    tags: list[str] = []
    for word in re.split(r"[,;،؛\s]+", text or ""):
        tag = word.strip().lstrip("#").lower()[:MAX_TAG_LENGTH]
        if tag and tag not in tags:
            tags.append(tag)
    return tags[:MAX_TAGS]


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


def _status_label(status: str) -> str:
    return _(PROJECT_STATUS_LABELS.get(status, status))


def _slug_arg(args: tuple[str, ...]) -> str:
    """The one slug a button carries, or StaleButton for a forged or outdated one."""
    if len(args) != 1 or not SLUG.fullmatch(args[0]):
        raise StaleButton()
    return args[0]


async def visible_project(ctx: Ctx, slug: str) -> Project:
    """The project, unless it is a draft or archived and the actor neither leads it nor is a CM."""
    project = await lookup.project(ctx, slug)
    if project.status in HIDDEN and not await lookup.leads(ctx, project.id):
        raise UnknownProject(slug=project.slug, suggestion="")
    return project


# --- browsing ------------------------------------------------------------------------------


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
    buttons = [Button(_short(project.title), "proj", (project.slug,)) for project, _n in found]
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


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- one project ---------------------------------------------------------------------------


async def cmd_project(ctx: Ctx, cmd: Command) -> None:
    """Show a project's card: what it is, its open needs, how to help and follow."""
    if len(cmd.args) != 1:
        raise usage("project")
    await show_project(ctx, cmd.args[0])


async def press_project(ctx: Ctx, press: Press) -> None:
    """A project button: show its card."""
    await show_project(ctx, _slug_arg(press.args))


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
    await _follow(ctx, _slug_arg(press.args))


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
    await _unfollow(ctx, _slug_arg(press.args))


async def _unfollow(ctx: Ctx, slug: str) -> None:
    project = await lookup.project(ctx, slug)
    if await store.unfollow(ctx.session, ctx.actor.member_id, project.id):
        ctx.reply(_("You no longer follow “{project}”.").format(project=project.title))
        return
    if project.status in HIDDEN and not await lookup.leads(ctx, project.id):
        raise UnknownProject(slug=project.slug, suggestion="")
    ctx.reply(_("You were not following “{project}”.").format(project=project.title))


# --- proposing and creating ----------------------------------------------------------------


def _unanswered(key: str) -> Callable[[Data], bool]:
    """Ask a step only when its answer is not already known (lets a dialog restart at it)."""
    return lambda data: key not in data


def _ask_title(ctx: Ctx, data: Data) -> str:
    return _("What is the project? Give it a short title (at most 120 characters).")


def _ask_summary(ctx: Ctx, data: Data) -> str:
    return _(
        "Describe it in a few sentences: what it is, who it helps, what it needs "
        "(at most 1000 characters)."
    )


def _ask_territory(ctx: Ctx, data: Data) -> str:
    return _("Where does it take place? A town, a valley or a province, e.g. Tafraout.")


def _ask_tags(ctx: Ctx, data: Data) -> str:
    return _(
        "A few keywords separated by commas, e.g. water, women, education (at most 8), or Skip."
    )


def _preview(title: str, territory: str, tags: list[str], summary: str) -> Rich:
    meta = " · ".join([territory, *(f"#{tag}" for tag in tags)])
    return Rich.join([bold(title), italic(meta), summary])


def _preview_answers(data: Data) -> Rich:
    return _preview(data["title"], data["territory"], parse_tags(data.get("tags")), data["summary"])


def _ask_confirm_proposal(ctx: Ctx, data: Data) -> Rich:
    return Rich.join(
        [
            _preview_answers(data),
            "",
            _("Send this proposal to the community manager?"),
        ]
    )


CONFIRM = Pick([Option("yes", N_("Confirm"))])


async def _create(
    ctx: Ctx, data: Data, *, slug: str, status: str, proposed_by: int | None
) -> Project:
    now = ctx.now()
    project = Project(
        slug=slug,
        title=data["title"],
        summary=data["summary"],
        territory=data["territory"],
        tags=parse_tags(data.get("tags")),
        status=status,
        proposed_by=proposed_by,
        created_at=now,
        updated_at=now,
    )
    ctx.session.add(project)
    await ctx.session.flush()
    return project


async def _finish_propose(ctx: Ctx, data: Data) -> None:
    slug = await unique_slug(ctx, data["title"])
    project = await _create(ctx, data, slug=slug, status=DRAFT, proposed_by=ctx.actor.member_id)
    audit(ctx, "project.propose", f"project:{project.id}", slug=slug, title=project.title)
    ctx.reply(
        _(
            "Thank you! Your proposal “{title}” goes to the community manager, who will review "
            "it. I will tell you as soon as it is published."
        ).format(title=project.title)
    )
    await _tell_community_managers(ctx, project)


async def _tell_community_managers(ctx: Ctx, project: Project) -> None:
    community = ctx.community
    recipients = set(
        await members.community_manager_ids(
            ctx.session, community.community_managers | community.admins
        )
    )
    recipients.discard(ctx.actor.member_id)
    proposer = ctx.actor.display_name

    def build() -> Outgoing:
        return Message(
            Rich.join(
                [
                    bold("💡 " + _("New project proposal")),
                    _preview(project.title, project.territory, project.tags, project.summary),
                    "",
                    _("Proposed by {name}. Short name: {slug}.").format(
                        name=proposer, slug=project.slug
                    ),
                    _("Review the waiting proposals with /drafts."),
                ]
            ),
            rows(
                Button("✅ " + _("Publish"), "pub", (project.slug,)),
                Button("ℹ️ " + _("Project"), "proj", (project.slug,)),
            ),
        )

    for member_id in sorted(recipients):
        await notify.to_member(ctx, member_id, f"project:{project.id}:proposed", build)
    if not recipients:
        logger.info("no community manager to tell about proposal %s", project.id)


PROPOSE = dialogs.register(
    Dialog(
        "propose",
        steps=(
            Step("title", _ask_title, FreeText(120)),
            Step("summary", _ask_summary, FreeText(1000)),
            Step("territory", _ask_territory, FreeText(100)),
            Step("tags", _ask_tags, FreeText(200, optional=True)),
            Step("confirm", _ask_confirm_proposal, CONFIRM),
        ),
        finish=_finish_propose,
    )
)


async def cmd_propose(ctx: Ctx, cmd: Command) -> None:
    """Propose a project idea; the community manager reviews and publishes it."""
    ctx.reply(
        _(
            "Let's describe your project idea in four short questions. "
            "Type /cancel at any time to stop."
        )
    )
    await dialogs.start(ctx, PROPOSE)


def _ask_slug(ctx: Ctx, data: Data) -> str:
    return _(
        "Its short name, used in commands and links: 3 to 50 lowercase letters, digits and "
        "dashes, e.g. argan-tafraout."
    )


def _ask_publish(ctx: Ctx, data: Data) -> str:
    return _("Publish it now, or keep it as a draft that only community managers see?")


def _ask_confirm_creation(ctx: Ctx, data: Data) -> Rich:
    status = _("published now") if data["publish"] == OPEN else _("kept as a draft")
    return Rich.join(
        [
            _preview_answers(data),
            italic(f"{data['slug']} · {status}"),
            "",
            _("Create this project?"),
        ]
    )


async def _slug_problem(ctx: Ctx, slug: str) -> UserError | None:
    if not SLUG.fullmatch(slug):
        return InvalidSlug()
    if await store.by_slug(ctx.session, slug) is not None:
        return SlugTaken(slug=slug)
    return None


async def _finish_newproject(ctx: Ctx, data: Data) -> None:
    slug = str(data["slug"]).strip().lower()
    problem = await _slug_problem(ctx, slug)
    if problem is not None:
        # Keep every other answer and ask only for another short name.
        ctx.reply("⚠️ " + problem.render())
        kept = {key: value for key, value in data.items() if key not in {"slug", "confirm"}}
        await dialogs.start(ctx, NEWPROJECT, data=kept)
        return
    status = OPEN if data["publish"] == OPEN else DRAFT
    project = await _create(ctx, data, slug=slug, status=status, proposed_by=None)
    audit(ctx, "project.create", f"project:{project.id}", slug=slug, status=status)
    if status == OPEN:
        audit(ctx, "project.publish", f"project:{project.id}", slug=slug, previous=None)
        text = _(
            "“{title}” is created and open. Give it leaders with /grant <member> leader {slug}; "
            "they add needs with /addneed {slug}."
        )
    else:
        text = _("“{title}” is created as a draft. Publish it with /publish {slug}.")
    ctx.reply(text.format(title=project.title, slug=slug))


NEWPROJECT = dialogs.register(
    Dialog(
        "newproject",
        steps=(
            Step("slug", _ask_slug, FreeText(60), when=_unanswered("slug")),
            Step("title", _ask_title, FreeText(120), when=_unanswered("title")),
            Step("summary", _ask_summary, FreeText(1000), when=_unanswered("summary")),
            Step("territory", _ask_territory, FreeText(100), when=_unanswered("territory")),
            Step("tags", _ask_tags, FreeText(200, optional=True), when=_unanswered("tags")),
            Step(
                "publish",
                _ask_publish,
                Pick([Option(OPEN, N_("Publish now")), Option(DRAFT, N_("Keep as a draft"))]),
                when=_unanswered("publish"),
            ),
            Step("confirm", _ask_confirm_creation, CONFIRM),
        ),
        finish=_finish_newproject,
    )
)


async def cmd_newproject(ctx: Ctx, cmd: Command) -> None:
    """Create a project (community managers), optionally naming its short name at once."""
    data: Data = {}
    if cmd.args:
        if len(cmd.args) != 1:
            raise usage("newproject")
        slug = cmd.args[0].strip().lower()
        problem = await _slug_problem(ctx, slug)
        if problem is not None:
            raise problem
        data["slug"] = slug
    await dialogs.start(ctx, NEWPROJECT, data=data)


# --- publication and status ----------------------------------------------------------------


async def cmd_publish(ctx: Ctx, cmd: Command) -> None:
    """Open a draft or paused project to members."""
    await _move(ctx, "publish", _one_arg(cmd, "publish"))


async def cmd_pause(ctx: Ctx, cmd: Command) -> None:
    """Pause an open project: it leaves the project list until published again."""
    await _move(ctx, "pause", _one_arg(cmd, "pause"))


async def cmd_archive(ctx: Ctx, cmd: Command) -> None:
    """Archive a project for good."""
    await _move(ctx, "archive", _one_arg(cmd, "archive"))


async def press_publish(ctx: Ctx, press: Press) -> None:
    """The Publish button of a proposal."""
    await _move(ctx, "publish", _slug_arg(press.args))


def _one_arg(cmd: Command, name: str) -> str:
    if len(cmd.args) != 1:
        raise usage(name)
    return cmd.args[0]


MOVE_DONE = {
    "publish": N_("“{title}” is now open: members find it in /projects and can offer help."),
    "pause": N_(
        "“{title}” is paused: it no longer appears in /projects. /publish {slug} reopens it."
    ),
    "archive": N_("“{title}” is archived."),
}


async def _move(ctx: Ctx, move: str, slug: str) -> None:
    project = await lookup.project(ctx, slug)
    allowed_from, to = TRANSITIONS[move]
    before = project.status
    if before != to and before not in allowed_from:
        raise WrongStatus(status=_status_label(before))
    changed = before != to and await store.change_status(
        ctx.session, project.id, allowed_from=allowed_from, to=to, now=ctx.now()
    )
    if not changed:
        await ctx.session.refresh(project)  # another event may have moved it meanwhile
        if project.status != to:
            raise WrongStatus(status=_status_label(project.status))
        ctx.reply(
            _("“{title}” is already {status}; nothing was changed.").format(
                title=project.title, status=_status_label(to)
            )
        )
        return
    await ctx.session.refresh(project)
    audit(ctx, f"project.{move}", f"project:{project.id}", slug=project.slug, previous=before)
    ctx.reply(_(MOVE_DONE[move]).format(title=project.title, slug=project.slug))
    if move == "publish" and before == DRAFT:
        await _published_proposal(ctx, project)


async def _published_proposal(ctx: Ctx, project: Project) -> None:
    """Tell the idea launcher their project is live, and hint the CM to make them a leader."""
    proposer = project.proposed_by
    if proposer is None:
        return
    if await ctx.session.get(ProjectLeader, (project.id, proposer)) is None:
        ctx.reply(
            _("To let the proposer manage it: /grant #{member} leader {slug}").format(
                member=proposer, slug=project.slug
            )
        )
    if proposer == ctx.actor.member_id:
        return

    def build() -> Outgoing:
        return Message(
            Rich.of("🎉 ")
            + _(
                "Good news: your project “{title}” is published! Members can now find it, "
                "follow it and offer help. Share it: /project {slug}"
            ).format(title=project.title, slug=project.slug),
            rows(Button("ℹ️ " + _("Project"), "proj", (project.slug,))),
        )

    await notify.to_member(ctx, proposer, f"project:{project.id}:published", build)


async def cmd_drafts(ctx: Ctx, cmd: Command) -> None:
    """List the proposals and drafts waiting for review, with a Publish button each."""
    found = await store.drafts(ctx.session)
    if not found:
        ctx.reply(_("No drafts to review."))
        return
    total = await store.count_with_status(ctx.session, DRAFT)
    lines: list[Rich | Span | str] = [
        bold(_("Drafts waiting for review ({count}):").format(count=total))
    ]
    for project, proposer in found:
        line = Rich.of("• ") + bold(project.title)
        if project.territory:
            line += " — " + project.territory
        if proposer is not None:
            line += " · " + _("proposed by {name}").format(name=proposer)
        lines.append(line + " · /project " + project.slug)
    buttons = [
        Button(
            "✅ " + _("Publish “{title}”").format(title=_short(project.title, 30)),
            "pub",
            (project.slug,),
        )
        for project, _proposer in found
    ]
    ctx.reply(Rich.join(lines), rows(*buttons, width=1))
