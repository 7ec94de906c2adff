"""The one entry point every adapter calls: a neutral event in, neutral messages out.

`handle` resolves the member, picks their language, opens one unit of work, routes the event
through the permission table to its handler or dialog, and commits; a refused request or an
unexpected error rolls everything back and is answered in words, never with a traceback.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from handlers import dialogs
from handlers.chat import (
    Actor,
    Command,
    Document,
    Event,
    FormSubmit,
    Image,
    Incoming,
    Message,
    Outgoing,
    Place,
    Poll,
    Press,
    Rich,
    Text,
    Vote,
)
from handlers.context import Ctx, Services
from handlers.errors import NotAllowed, NotInGroup, StaleButton, UserError
from handlers.i18n import N_, _, negotiate, use_language
from handlers.permissions import ACTIONS, COMMANDS, Rule, Scope, permits
from handlers.serial import load
from store import members, outbox
from store.models import Role
from store.uow import UnitOfWork

logger = logging.getLogger(__name__)

CommandHandler = Callable[[Ctx, Command], Awaitable[None]]
ActionHandler = Callable[[Ctx, Press], Awaitable[None]]
# Takes a text or a vote that is not a command (a reply to a campaign question, a poll vote);
# returns False to leave it to the dialogs.
IncomingHandler = Callable[[Ctx, Any], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class Route:
    handler: CommandHandler
    usage: str  # N_() msgid, e.g. "/project <short name>"
    description: str  # N_() msgid shown in /help and the platforms' command menus


ROLE_NAMES = {
    Role.LEADER: N_("a leader of the project"),
    Role.CM: N_("a community manager"),
    Role.ADMIN: N_("an administrator"),
}


class Router:
    """The routing tables: command name -> route, button action -> handler, and the kinds of
    incoming (`Text`, `Vote`) a feature may claim before the dialogs see them."""

    def __init__(
        self,
        commands: dict[str, Route],
        actions: dict[str, ActionHandler],
        incoming: Mapping[type, IncomingHandler] | None = None,
    ) -> None:
        missing = (set(commands) - set(COMMANDS)) | (set(actions) - set(ACTIONS))
        if missing:
            raise ValueError(f"routes without a permission rule: {sorted(missing)}")
        self.commands = commands
        self.actions = actions
        self.incoming = dict(incoming or {})


async def resolve_actor(services: Services, event: Event) -> tuple[Actor, bool]:
    """Find or create the member behind the event and gather their roles; the flag says
    whether they just became reachable again (messages may be waiting for them)."""
    identity = event.identity
    private = event.place.private or event.place.whisper
    async with UnitOfWork(services.sessions) as uow:
        member, found, changed = await members.touch_identity(
            uow.session,
            platform=identity.platform.value,
            external_id=identity.user_id,
            username=identity.username,
            display_name=identity.display_name,
            language_code=identity.language_code,
            now=services.now(),
            reachable=private,
        )
        returned = found.returned
        member_id, chosen, name = member.id, member.locale, member.display_name
        roles = await members.granted_roles(uow.session, member_id)
        keys = [f"{known.platform}:{known.external_id}" for known in member.identities]
        if changed:
            await uow.commit()
    community = services.community
    if any(key in community.admins for key in keys):
        roles.add(Role.ADMIN.value)
    if roles & {Role.ADMIN.value} or any(key in community.community_managers for key in keys):
        roles.add(Role.CM.value)
    locale = chosen or negotiate(identity.language_code) or community.default_language
    actor = Actor(
        member_id=member_id,
        identity=identity,
        display_name=name or identity.display_name,
        locale=locale,
        roles=frozenset(roles),
    )
    return actor, returned


async def handle(services: Services, router: Router, event: Event) -> list[Outgoing]:
    """Handle one event in one unit of work and return what to answer."""
    try:
        actor, returned = await resolve_actor(services, event)
    except Exception:
        logger.exception("could not resolve the member of an event")
        return [_apology(event.place)]
    with use_language(actor.locale):
        for attempt in (1, 2):
            try:
                replies = await _handle_once(services, router, actor, event)
                if returned:
                    replies = await _held_messages(services, actor, event.place) + replies
                return replies
            except IntegrityError:
                # Two events raced to create the same row (a double press); the second
                # attempt sees the first one's result.
                if attempt == 2:
                    logger.exception("integrity error twice while handling an event")
            except Exception:
                logger.exception(
                    "unexpected error while handling %s", type(event.incoming).__name__
                )
                break
        return [_apology(event.place)]


async def _handle_once(
    services: Services, router: Router, actor: Actor, event: Event
) -> list[Outgoing]:
    async with UnitOfWork(services.sessions) as uow:
        ctx = Ctx(uow.session, actor, event.place, services)
        try:
            redirected = await _dispatch(ctx, router, event.incoming)
        except UserError as error:
            await uow.rollback()
            notice = _notice(ctx.place, "⚠️ " + error.render())
            if ctx.place != event.place:  # refused inside a flow moved to private
                notice = dataclasses.replace(notice, to=ctx.private_target)
            return [notice]
        await uow.commit()
    for hook in ctx.after_commit:
        await hook()
    if ctx.queued and services.on_outbox is not None:
        woken = services.on_outbox()
        if woken is not None:
            await woken
    if redirected is not None:
        return _redirect(ctx, redirected)
    return ctx.replies


async def _held_messages(services: Services, actor: Actor, place: Place) -> list[Outgoing]:
    """What could not reach the member while they were unreachable, shown now, privately."""
    async with UnitOfWork(services.sessions) as uow:
        held = await outbox.take_held(uow.session, actor.member_id, services.now())
        await uow.commit()
    if not held:
        return []
    shown: list[Outgoing] = [
        _notice(place, _("While I could not write to you, these messages waited for you:"))
    ]
    for delivery in held:
        message = load(delivery.payload)
        if isinstance(message, Message):
            shown.append(dataclasses.replace(message, private=place.private))
    return shown


async def _dispatch(ctx: Ctx, router: Router, incoming: Incoming) -> Place | None:
    """Route the event; returns the group it came from when the answer moved to private."""
    match incoming:
        case Command():
            route = router.commands.get(incoming.name)
            if route is None:
                if ctx.place.private:
                    ctx.reply(
                        _("I don't know the command /{name}. See /help.").format(name=incoming.name)
                    )
                return None
            origin = _enter(ctx, COMMANDS[incoming.name])
            await route.handler(ctx, incoming)
            return origin
        case Press(action="dlg"):
            await dialogs.on_press(ctx, incoming)
            return None
        case Press():
            handler = router.actions.get(incoming.action)
            if handler is None:
                raise StaleButton()
            origin = _enter(ctx, ACTIONS[incoming.action])
            await handler(ctx, incoming)
            return origin
        case Vote():
            await _claim(ctx, router, incoming)
            return None
        case Text() | FormSubmit():
            if await _claim(ctx, router, incoming):
                return None
            text = incoming.text if isinstance(incoming, Text) else _form_text(incoming)
            state = await dialogs.current_state(ctx)
            if state is not None:
                await dialogs.on_text(ctx, state, text)
            elif ctx.place.private:
                ctx.reply(_("I only understand commands here. See /help for what you can do."))
            return None
    return None


async def _claim(ctx: Ctx, router: Router, incoming: Incoming) -> bool:
    """Offer the incoming to the feature that routes its type; True when it was taken."""
    handler = router.incoming.get(type(incoming))
    return handler is not None and await handler(ctx, incoming)


def _enter(ctx: Ctx, rule: Rule) -> Place | None:
    """Apply the rule's role and scope; move a personal flow from a group to private."""
    if not permits(rule, ctx.actor.roles):
        raise NotAllowed(who=_(ROLE_NAMES.get(rule.role, N_("a community manager"))))
    if rule.scope is Scope.GROUP and ctx.place.private:
        raise NotInGroup()
    if rule.scope is Scope.PRIVATE and not ctx.place.private and not ctx.place.whisper:
        origin = ctx.place
        identity = ctx.actor.identity
        ctx.place = Place(identity.platform, identity.user_id, private=True)
        return origin
    return None


def _redirect(ctx: Ctx, origin: Place) -> list[Outgoing]:
    """Send the answers to the member's private chat and say so, briefly, in the group."""
    target = ctx.private_target
    moved: list[Outgoing] = [
        dataclasses.replace(out, to=target)
        if isinstance(out, Message | Image | Document | Poll) and out.to is None
        else out
        for out in ctx.replies
    ]
    name = ctx.actor.display_name
    moved.append(
        Message(Rich.of(_("{name}, I have answered you in a private message.").format(name=name)))
    )
    return moved


def _form_text(form: FormSubmit) -> str:
    return next(iter(form.fields.values()), "")


def _notice(place: Place, text: str) -> Message:
    return Message(Rich.of(text), private=place.private)


def _apology(place: Place) -> Message:
    return _notice(
        place,
        _("Sorry, something went wrong on my side. Nothing was changed; please try again."),
    )
