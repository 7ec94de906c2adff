"""Rights and groups: community managers grant leader rights, admins grant CM rights, and
groups are registered for announcements."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from handlers import lookup, notify
from handlers.chat import Command, Message, Outgoing, Rich, Span, bold
from handlers.context import Ctx
from handlers.errors import InvalidTags, NotAllowed
from handlers.i18n import _
from handlers.project_rules import audit, usage
from store import members
from store.models import AuditEntry, Chat, Member, MemberRole, Project, ProjectLeader, Role

MAX_GROUP_TAGS, MAX_GROUP_TAG_LENGTH = 10, 30


@dataclass(frozen=True, slots=True)
class RightsRequest:
    member_ref: str
    role: str  # "leader" or "cm"
    slug: str | None


def parse_rights(command: str, args: tuple[str, ...]) -> RightsRequest:
    """`<member> leader <slug>` or `<member> cm`; the member may be several words."""
    if len(args) >= 2 and args[-1].lower() == Role.CM.value:
        return RightsRequest(" ".join(args[:-1]), Role.CM.value, None)
    if len(args) >= 3 and args[-2].lower() == Role.LEADER.value:
        return RightsRequest(" ".join(args[:-2]), Role.LEADER.value, args[-1])
    raise usage(command)


def _require_admin(ctx: Ctx) -> None:
    if Role.ADMIN.value not in ctx.actor.roles:
        raise NotAllowed(who=_("an administrator"))


async def cmd_grant(ctx: Ctx, cmd: Command) -> None:
    """Make a member a leader of a project, or (admins) a community manager."""
    request = parse_rights("grant", cmd.args)
    if request.role == Role.CM.value:
        _require_admin(ctx)
    member = await lookup.member(ctx, request.member_ref)
    if request.slug is not None:
        await _grant_leader(ctx, member, await lookup.project(ctx, request.slug))
    else:
        await _grant_cm(ctx, member)


async def cmd_revoke(ctx: Ctx, cmd: Command) -> None:
    """Take back a member's leader rights on a project, or (admins) their CM rights."""
    request = parse_rights("revoke", cmd.args)
    if request.role == Role.CM.value:
        _require_admin(ctx)
    member = await lookup.member(ctx, request.member_ref)
    if request.slug is not None:
        await _revoke_leader(ctx, member, await lookup.project(ctx, request.slug))
    else:
        await _revoke_cm(ctx, member)


async def _grant_leader(ctx: Ctx, member: Member, project: Project) -> None:
    if await ctx.session.get(ProjectLeader, (project.id, member.id)) is not None:
        ctx.reply(
            _("{name} is already a leader of “{project}”.").format(
                name=member.display_name, project=project.title
            )
        )
        return
    ctx.session.add(
        ProjectLeader(
            project_id=project.id,
            member_id=member.id,
            granted_by=ctx.actor.member_id,
            granted_at=ctx.now(),
        )
    )
    entry = await _audit_rights(ctx, "rights.grant", member, Role.LEADER.value, project)
    ctx.reply(
        _("{name} is now a leader of “{project}”.").format(
            name=member.display_name, project=project.title
        )
    )
    title, slug = project.title, project.slug
    await _tell(
        ctx,
        member,
        entry,
        lambda: _(
            "You are now a leader of “{project}”: add its needs with /addneed {slug} and review "
            "the offers with /offers {slug}."
        ).format(project=title, slug=slug),
    )


async def _revoke_leader(ctx: Ctx, member: Member, project: Project) -> None:
    row = await ctx.session.get(ProjectLeader, (project.id, member.id))
    if row is None:
        ctx.reply(
            _("{name} is not a leader of “{project}”; nothing was changed.").format(
                name=member.display_name, project=project.title
            )
        )
        return
    await ctx.session.delete(row)
    entry = await _audit_rights(ctx, "rights.revoke", member, Role.LEADER.value, project)
    ctx.reply(
        _("{name} is no longer a leader of “{project}”.").format(
            name=member.display_name, project=project.title
        )
    )
    title = project.title
    await _tell(
        ctx,
        member,
        entry,
        lambda: _("You are no longer a leader of “{project}”.").format(project=title),
    )


async def _configured_cm(ctx: Ctx, member: Member) -> bool:
    community = ctx.community
    configured = community.community_managers | community.admins
    return any(key in configured for key in await members.identity_keys(ctx.session, member.id))


async def _cm_row(ctx: Ctx, member: Member) -> MemberRole | None:
    return await ctx.session.scalar(
        select(MemberRole).where(
            MemberRole.member_id == member.id, MemberRole.role == Role.CM.value
        )
    )


async def _grant_cm(ctx: Ctx, member: Member) -> None:
    if await _cm_row(ctx, member) is not None or await _configured_cm(ctx, member):
        ctx.reply(_("{name} is already a community manager.").format(name=member.display_name))
        return
    ctx.session.add(
        MemberRole(
            member_id=member.id,
            role=Role.CM.value,
            granted_by=ctx.actor.member_id,
            granted_at=ctx.now(),
        )
    )
    entry = await _audit_rights(ctx, "rights.grant", member, Role.CM.value, None)
    ctx.reply(_("{name} is now a community manager.").format(name=member.display_name))
    await _tell(
        ctx,
        member,
        entry,
        lambda: _(
            "You are now a community manager of this community: see /help for your new commands."
        ),
    )


async def _revoke_cm(ctx: Ctx, member: Member) -> None:
    row = await _cm_row(ctx, member)
    if row is None:
        if await _configured_cm(ctx, member):
            text = _(
                "{name} is a community manager by configuration; change the configuration file "
                "to take that back."
            )
        else:
            text = _("{name} is not a community manager; nothing was changed.")
        ctx.reply(text.format(name=member.display_name))
        return
    await ctx.session.delete(row)
    entry = await _audit_rights(ctx, "rights.revoke", member, Role.CM.value, None)
    ctx.reply(_("{name} is no longer a community manager.").format(name=member.display_name))
    await _tell(
        ctx, member, entry, lambda: _("You are no longer a community manager of this community.")
    )


async def _audit_rights(
    ctx: Ctx, action: str, member: Member, role: str, project: Project | None
) -> AuditEntry:
    details: dict[str, str | int] = {"role": role}
    if project is not None:
        details.update(project=project.slug, project_id=project.id)
    entry = ctx.audit(action, f"member:{member.id}", **details)
    await ctx.session.flush()
    return entry


async def _tell(ctx: Ctx, member: Member, entry: AuditEntry, text: Callable[[], str]) -> None:
    """Tell the member privately about a change of their rights (one message per change)."""
    if member.id == ctx.actor.member_id:
        return

    def build() -> Outgoing:
        return Message(Rich.of(text()))

    await notify.to_member(ctx, member.id, f"rights:{entry.id}", build)


# --- groups --------------------------------------------------------------------------------


def parse_group_tags(args: tuple[str, ...]) -> list[str]:
    tags: list[str] = []
    for word in " ".join(args).replace(",", " ").split():
        tag = word.lstrip("#").lower()
        if tag and tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_GROUP_TAGS or any(len(tag) > MAX_GROUP_TAG_LENGTH for tag in tags):
        raise InvalidTags(count=MAX_GROUP_TAGS, length=MAX_GROUP_TAG_LENGTH)
    return tags


async def _this_chat(ctx: Ctx) -> Chat | None:
    return await ctx.session.scalar(
        select(Chat).where(
            Chat.platform == ctx.place.platform.value, Chat.external_id == ctx.place.chat_id
        )
    )


async def cmd_linkgroup(ctx: Ctx, cmd: Command) -> None:
    """Register this group for announcements, with territory or theme tags."""
    tags = parse_group_tags(cmd.args)
    chat = await _this_chat(ctx)
    title = (ctx.place.title or "")[:200]
    if chat is None:
        chat = Chat(
            platform=ctx.place.platform.value,
            external_id=ctx.place.chat_id,
            created_at=ctx.now(),
        )
        ctx.session.add(chat)
    chat.title = title or chat.title
    chat.tags = tags
    chat.registered = True
    chat.active = True
    chat.registered_by = ctx.actor.member_id
    await ctx.session.flush()
    audit(ctx, "chat.link", f"chat:{chat.id}", platform=chat.platform, tags=tags)
    text = _("This group is registered: announcements of needs will be posted here.")
    if tags:
        text += " " + _("Tags: {tags}.").format(tags=", ".join(tags))
    ctx.reply(text)


async def cmd_unlinkgroup(ctx: Ctx, cmd: Command) -> None:
    """Stop announcements in this group."""
    chat = await _this_chat(ctx)
    if chat is None or not chat.registered:
        ctx.reply(_("This group was not registered; nothing was changed."))
        return
    chat.registered = False
    audit(ctx, "chat.unlink", f"chat:{chat.id}", platform=chat.platform)
    ctx.reply(_("This group is no longer registered: no more announcements here."))


async def cmd_groups(ctx: Ctx, cmd: Command) -> None:
    """List the groups registered for announcements."""
    chats = list(
        await ctx.session.scalars(
            select(Chat).where(Chat.registered.is_(True)).order_by(Chat.platform, Chat.title)
        )
    )
    if not chats:
        ctx.reply(_("No group is registered yet. Use /linkgroup inside a group."))
        return
    lines: list[Rich | Span | str] = [
        bold(_("Registered groups ({count}):").format(count=len(chats)))
    ]
    for chat in chats:
        line = Rich.of(f"• {chat.platform} — ") + bold(chat.title or chat.external_id)
        if chat.tags:
            line += " · " + " ".join(f"#{tag}" for tag in chat.tags)
        if not chat.active:
            line += " · " + _("inactive (the bot cannot post there)")
        lines.append(line)
    ctx.reply(Rich.join(lines))
