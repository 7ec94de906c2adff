"""What members do with campaigns: answer a question (the Answer button, or a reply to the
bot's message in a group), vote in a poll, click a campaign's link or button (credited, with
the offer that follows), say "not now", and tell how their accepted offer is going.

Every press is re-checked: the campaign still exists, the run wrote to this member, the offer
is theirs and still accepted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import delete, or_, select

from handlers import dialogs, lookup, notify
from handlers.campaign_content import (
    FOLLOWUP_CHOICES,
    pick_content,
)
from handlers.campaign_preview import DELETED, as_number, find_campaign
from handlers.cards import OFFER_STATUS_LABELS
from handlers.chat import (
    Message,
    Outgoing,
    Press,
    Rich,
    Target,
    Text,
    Vote,
    italic,
)
from handlers.context import Ctx
from handlers.dialogs import Data, Dialog, FreeText, Step
from handlers.errors import (
    CampaignNotAnswerable,
    NotYourOffer,
    OfferAlreadyDecided,
    StaleButton,
)
from handlers.i18n import _
from handlers.profile import maybe_ask_profile_question
from store import offers as store_offers
from store.members import community_manager_ids
from store.models import (
    Campaign,
    CampaignKind,
    CampaignResponse,
    CampaignRun,
    Delivery,
    Need,
    Offer,
    OfferStatus,
    Project,
)

logger = logging.getLogger(__name__)

ACCEPTED = OfferStatus.ACCEPTED.value
ANSWER_MAX = 1000
SOURCE_PREFIX = "campaign:"


async def _by_code(ctx: Ctx, code: str) -> Campaign | None:
    return await ctx.session.scalar(
        select(Campaign).where(Campaign.code == code, Campaign.status != DELETED)
    )


async def latest_run(ctx: Ctx, campaign_id: int) -> CampaignRun | None:
    return await ctx.session.scalar(
        select(CampaignRun)
        .where(CampaignRun.campaign_id == campaign_id)
        .order_by(CampaignRun.scheduled_at.desc(), CampaignRun.id.desc())
        .limit(1)
    )


def _respond(
    ctx: Ctx,
    campaign_id: int,
    run_id: int | None,
    kind: str,
    *,
    text: str = "",
    choice: Sequence[str] = (),
) -> None:
    ctx.session.add(
        CampaignResponse(
            campaign_id=campaign_id,
            run_id=run_id,
            member_id=ctx.actor.member_id,
            kind=kind,
            choice=list(choice),
            text=text,
            created_at=ctx.now(),
        )
    )


# --- members: answers, votes, clicks -------------------------------------------------------


async def _recipient_run(ctx: Ctx, campaign: Campaign, run_id: int) -> CampaignRun:
    """The run, if it belongs to the campaign and wrote to this member or to a group (where
    any member may answer)."""
    run = await ctx.session.get(CampaignRun, run_id)
    if run is None or run.campaign_id != campaign.id:
        raise CampaignNotAnswerable()
    delivered = await ctx.session.scalar(
        select(Delivery.id)
        .where(
            Delivery.run_id == run.id,
            or_(Delivery.member_id == ctx.actor.member_id, Delivery.member_id.is_(None)),
        )
        .limit(1)
    )
    if delivered is None:
        raise CampaignNotAnswerable()
    return run


async def press_answer(ctx: Ctx, press: Press) -> None:
    """ "Answer" under a campaign's question: ask for the answer."""
    if len(press.args) != 2 or as_number(press.args[1]) is None:
        raise StaleButton()
    campaign = await find_campaign(ctx, press.args[0])
    if campaign.kind != CampaignKind.QUESTION.value:
        raise StaleButton()
    run_id = int(press.args[1])
    if run_id == 0:
        ctx.reply(_("This was a test: answers to it are not recorded."))
        return
    await _recipient_run(ctx, campaign, run_id)
    question = pick_content(campaign.content, ctx.actor.locale, ctx.community.default_language)
    await dialogs.start(
        ctx, ANSWER, data={"campaign_id": campaign.id, "run_id": run_id, "question": question}
    )


def _ask_answer(ctx: Ctx, data: Data) -> Rich:
    return Rich.join(
        [
            italic(data.get("question") or ""),
            _("Your answer (at most 1000 characters):"),
        ]
    )


async def _finish_answer(ctx: Ctx, data: Data) -> None:
    campaign = await ctx.session.get(Campaign, data["campaign_id"])
    if campaign is None or campaign.status == DELETED:
        raise CampaignNotAnswerable()
    _respond(ctx, campaign.id, data["run_id"], "answer", text=data["answer"])
    ctx.reply(_("Thank you, {name}! Your answer is recorded.").format(name=ctx.actor.display_name))
    await maybe_ask_profile_question(ctx)


ANSWER = dialogs.register(
    Dialog(
        "campaign_answer",
        steps=(Step("answer", _ask_answer, FreeText(ANSWER_MAX)),),
        finish=_finish_answer,
    )
)


async def on_reply(ctx: Ctx, text: Text) -> bool:
    """A reply to a campaign's question (in a group, or quoted in private): record it."""
    if not text.reply_to:
        return False
    here = Target(ctx.place.platform, ctx.place.chat_id, ctx.place.private).key
    row = (
        await ctx.session.execute(
            select(Delivery.run_id, Campaign)
            .join(CampaignRun, CampaignRun.id == Delivery.run_id)
            .join(Campaign, Campaign.id == CampaignRun.campaign_id)
            .where(Delivery.message_id == text.reply_to, Delivery.target == here)
            .limit(1)
        )
    ).first()
    if row is None:
        return False
    run_id, campaign = row
    if campaign.kind != CampaignKind.QUESTION.value or campaign.status == DELETED:
        return False
    answer = dialogs.parse_text(FreeText(ANSWER_MAX), text.text)
    if answer is None:
        return False
    _respond(ctx, campaign.id, run_id, "answer", text=answer)
    ctx.reply(_("Thank you, {name}! Your answer is recorded.").format(name=ctx.actor.display_name))
    return True


async def _voted_poll(ctx: Ctx, vote: Vote) -> tuple[Delivery, int] | None:
    """The campaign poll a vote is about: by the platform's poll id (Telegram's are global),
    else by the message id in this chat (Discord's)."""
    here = Target(ctx.place.platform, ctx.place.chat_id, ctx.place.private).key
    by_ref = Delivery.external_ref == vote.poll_ref
    by_message = (Delivery.message_id == vote.poll_ref) & (Delivery.target == here)
    for condition in (by_ref, by_message):
        row = (
            await ctx.session.execute(
                select(Delivery, CampaignRun.campaign_id)
                .join(CampaignRun, CampaignRun.id == Delivery.run_id)
                .where(condition)
                .order_by(Delivery.id)
                .limit(1)
            )
        ).first()
        if row is not None and row[0].payload.get("type") == "poll":
            return row[0], row[1]
    return None


async def on_vote(ctx: Ctx, vote: Vote) -> bool:
    """A vote in a campaign's poll: the member's latest choice replaces the previous one."""
    found = await _voted_poll(ctx, vote)
    if found is None:
        logger.info("a vote on a poll that is not a campaign's")
        return False
    delivery, campaign_id = found
    options = delivery.payload.get("options") or []
    choices = sorted({index for index in vote.choices if 0 <= index < len(options)})
    await ctx.session.execute(
        delete(CampaignResponse).where(
            CampaignResponse.campaign_id == campaign_id,
            CampaignResponse.run_id == delivery.run_id,
            CampaignResponse.member_id == ctx.actor.member_id,
            CampaignResponse.kind == "vote",
        )
    )
    if choices:  # none: the vote was retracted
        _respond(ctx, campaign_id, delivery.run_id, "vote", choice=[str(i) for i in choices])
        if Target.parse(delivery.target).private:  # a vote in a group's poll asks nothing
            await maybe_ask_profile_question(ctx)
    return True


async def credit_click(ctx: Ctx, code: str | None) -> str:
    """Record a click on a campaign's link or button; returns the offer source to keep."""
    campaign = await _by_code(ctx, code) if code else None
    if campaign is None:
        return "link"
    run = await latest_run(ctx, campaign.id)
    _respond(ctx, campaign.id, run.id if run else None, "click")
    return SOURCE_PREFIX + campaign.code


async def credit_offer(ctx: Ctx, offer: Offer) -> None:
    """An offer made through a campaign's link counts for that campaign."""
    if not offer.source.startswith(SOURCE_PREFIX):
        return
    campaign = await _by_code(ctx, offer.source.removeprefix(SOURCE_PREFIX))
    if campaign is None:
        return
    run = await latest_run(ctx, campaign.id)
    _respond(ctx, campaign.id, run.id if run else None, "offer", text=str(offer.id))


async def press_campaign_offer(ctx: Ctx, press: Press) -> None:
    """ "I can help" under a campaign's message: start the offer, credited to the campaign."""
    from handlers.offers import begin_offer

    if len(press.args) != 2:
        raise StaleButton()
    need_ref, code = press.args
    await begin_offer(ctx, need_ref, source=await credit_click(ctx, code))


async def press_campaign_project(ctx: Ctx, press: Press) -> None:
    """ "See the project" under a campaign's message: show its card, credited."""
    from handlers.project_rules import SLUG
    from handlers.projects import show_project

    if len(press.args) != 2 or not SLUG.fullmatch(press.args[0]):
        raise StaleButton()
    slug, code = press.args
    await credit_click(ctx, code)
    await show_project(ctx, slug)


async def press_not_now(ctx: Ctx, press: Press) -> None:
    """ "Not now" under a suggestion: a kind word, nothing recorded."""
    ctx.reply(
        _(
            "No problem, {name}! You will find every open need with /needs whenever you like."
        ).format(name=ctx.actor.display_name)
    )


# --- follow-ups: the contributor says how it is going ---------------------------------------


async def press_followup(ctx: Ctx, press: Press) -> None:
    """Done / I need help / I can't any more, about your own accepted offer."""
    if len(press.args) not in (2, 3) or press.args[1] not in FOLLOWUP_CHOICES:
        raise StaleButton()
    offer = await lookup.offer(ctx, press.args[0])
    if offer.member_id != ctx.actor.member_id:
        raise NotYourOffer()
    if offer.status != ACCEPTED:
        raise OfferAlreadyDecided(status=_(OFFER_STATUS_LABELS.get(offer.status, offer.status)))
    need = await ctx.session.get_one(Need, offer.need_id)
    project = await ctx.session.get_one(Project, need.project_id)
    choice = press.args[1]
    await FOLLOWUPS[choice](ctx, offer, need, project)
    campaign_id = as_number(press.args[2]) if len(press.args) == 3 else None
    if campaign_id is not None:  # the button came with a follow-up campaign: count the answer
        campaign = await ctx.session.get(Campaign, campaign_id)
        if campaign is not None:
            run = await latest_run(ctx, campaign.id)
            _respond(ctx, campaign.id, run.id if run else None, "answer", choice=[choice])


async def _followup_transition(ctx: Ctx, offer: Offer, to: str, **values: Any) -> None:
    won = await store_offers.transition(
        ctx.session,
        offer.id,
        from_statuses=(ACCEPTED,),
        to_status=to,
        member_id=ctx.actor.member_id,
        **values,
    )
    await ctx.session.refresh(offer)
    if not won:
        raise OfferAlreadyDecided(status=_(OFFER_STATUS_LABELS.get(offer.status, offer.status)))


async def _tell_leaders(
    ctx: Ctx, project: Project, purpose: str, build: Callable[[], Outgoing]
) -> None:
    for leader_id in await lookup.leader_ids(ctx, project.id):
        await notify.to_member(ctx, leader_id, purpose, build)


async def _followup_done(ctx: Ctx, offer: Offer, need: Need, project: Project) -> None:
    await _followup_transition(ctx, offer, OfferStatus.DONE.value, decided_at=ctx.now())
    ctx.audit("offer.done", f"offer:{offer.id}", by="member", via="followup")
    name = ctx.actor.display_name

    def build() -> Outgoing:
        return Message(
            Rich.of(
                _(
                    "🎉 {name} says their contribution no. {offer} to “{need}” ({project}) is "
                    "done. A word of thanks from you will mean a lot."
                ).format(name=name, offer=offer.id, need=need.title, project=project.title)
            )
        )

    await _tell_leaders(ctx, project, f"offer:{offer.id}:followup:done", build)
    ctx.reply(_("Wonderful, thank you {name}! I told the project's leaders.").format(name=name))


async def _followup_help(ctx: Ctx, offer: Offer, need: Need, project: Project) -> None:
    name = ctx.actor.display_name

    def build() -> Outgoing:
        return Message(
            Rich.of(
                _(
                    "🆘 {name} needs help with their contribution no. {offer} to “{need}” "
                    "({project}). Please get in touch with them."
                ).format(name=name, offer=offer.id, need=need.title, project=project.title)
            )
        )

    purpose = f"offer:{offer.id}:followup:help:{ctx.now():%Y%m%d%H%M}"
    await _tell_leaders(ctx, project, purpose, build)
    community = ctx.community
    managers = set(
        await community_manager_ids(ctx.session, community.community_managers | community.admins)
    )
    leaders = set(await lookup.leader_ids(ctx, project.id))
    for member_id in sorted(managers - leaders - {ctx.actor.member_id}):
        await notify.to_member(ctx, member_id, purpose, build)
    ctx.reply(
        _(
            "I told the project's leaders and the community manager: they will get in touch "
            "with you soon."
        )
    )


async def _followup_stop(ctx: Ctx, offer: Offer, need: Need, project: Project) -> None:
    await _followup_transition(ctx, offer, OfferStatus.WITHDRAWN.value)
    ctx.audit("offer.withdraw", f"offer:{offer.id}", via="followup")
    name = ctx.actor.display_name

    def build() -> Outgoing:
        return Message(
            Rich.of(
                _(
                    "{name} can no longer go on with their contribution no. {offer} to “{need}” "
                    "({project}); the offer is withdrawn."
                ).format(name=name, offer=offer.id, need=need.title, project=project.title)
            )
        )

    await _tell_leaders(ctx, project, f"offer:{offer.id}:withdrawn", build)
    ctx.reply(
        _(
            "Understood, {name}: your offer no. {offer} is withdrawn and I told the leaders. "
            "Thank you for what you did!"
        ).format(name=name, offer=offer.id)
    )


FOLLOWUPS = {"done": _followup_done, "help": _followup_help, "stop": _followup_stop}
