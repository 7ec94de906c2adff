"""Proposing and creating a project: the `/propose` conversation of a member with an idea
(a draft, and a word to the community managers) and the `/newproject` conversation of a
community manager (a draft or an open project, under a short name they choose).

Both dialogs ask the same questions and show the same preview, so they share this module; a
short name that turns out to be taken restarts `/newproject` at that one question."""

from __future__ import annotations

import logging
from collections.abc import Callable

from handlers import dialogs, notify
from handlers.chat import Button, Command, Message, Outgoing, Rich, bold, italic, rows
from handlers.context import Ctx
from handlers.dialogs import Data, Dialog, FreeText, Option, Pick, Step
from handlers.errors import InvalidSlug, SlugTaken, UserError
from handlers.i18n import N_, _
from handlers.project_rules import DRAFT, OPEN, SLUG, audit, parse_tags, unique_slug, usage
from store import members
from store import projects as store
from store.models import Project

logger = logging.getLogger(__name__)


# --- the questions, the preview and the creation both dialogs share, then /propose ---------


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


# --- /newproject, for community managers ---------------------------------------------------


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
