"""What every project module shares: a project's short name (the rule it follows, making one
from a title, reading it from a button), its keywords, its statuses and who may see a hidden
one, the usage error of a command and the audit entry each change writes.

Kept apart so that browsing, the proposal and creation dialogs and the status moves apply the
same rules from their own modules; the importer and the campaign modules use them too."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from handlers import lookup
from handlers.context import Ctx
from handlers.errors import StaleButton, UnknownProject, Usage
from handlers.i18n import _
from store import projects as store
from store.models import Project, ProjectStatus

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{2,49}$")
GENERATED_SLUG_LENGTH = 48
MAX_TAGS, MAX_TAG_LENGTH = 8, 30

DRAFT, OPEN = ProjectStatus.DRAFT.value, ProjectStatus.OPEN.value
PAUSED, ARCHIVED = ProjectStatus.PAUSED.value, ProjectStatus.ARCHIVED.value
HIDDEN = frozenset({DRAFT, ARCHIVED})  # seen only by the project's leaders and CMs


def usage(command: str) -> Usage:
    """The usage error of `command`, in the member's language."""
    from handlers.routes import COMMAND_ROUTES

    return Usage(usage=_(COMMAND_ROUTES[command].usage))


def audit(ctx: Ctx, action: str, subject: str, **details: Any) -> None:
    """Record a change (to a project, a chat, someone's rights) for the audit log."""
    ctx.audit(action, subject, **details)


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
    """A short name for `title` that no project has yet."""
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


def slug_arg(args: tuple[str, ...]) -> str:
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


def short(text: str, limit: int = 40) -> str:
    """`text` cut to fit a button label."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
