"""What the member's side and the leaders' side of offers share: the statuses an offer can
still leave, its audit entry, its status in words, the names and contacts shown with it, its
need and project, and the buttons a leader answers it with (the same on the new-offer message
and in the review).

Kept apart so that `offers` (making, listing and withdrawing offers) and `offer_review` (the
leaders' answers) say and check the same things."""

from __future__ import annotations

from typing import Any

from handlers import recognition
from handlers.cards import OFFER_STATUS_LABELS
from handlers.chat import Button, rows
from handlers.context import Ctx
from handlers.i18n import _
from store.models import Member, Need, Offer, OfferStatus, Project

PENDING = OfferStatus.PENDING.value
ACCEPTED = OfferStatus.ACCEPTED.value
WITHDRAWABLE = (PENDING, ACCEPTED)


def audit_offer(ctx: Ctx, action: str, offer_id: int, **details: Any) -> None:
    """Record what the actor did to an offer, for the audit log."""
    ctx.audit(action, f"offer:{offer_id}", **details)


def status_label(status: str) -> str:
    """An offer's status in the member's language."""
    return _(OFFER_STATUS_LABELS.get(status, status))


async def contact_of(ctx: Ctx, member_id: int) -> str:
    """How to reach a member: each platform, with its @username when there is one."""
    member = await ctx.session.get(Member, member_id)
    if member is None:
        return ""
    handles = [
        f"{identity.platform} @{identity.username}" if identity.username else identity.platform
        for identity in member.identities
    ]
    return ", ".join(handles)


async def name_of(ctx: Ctx, member_id: int | None) -> str:
    """A member's display name, or a dash for an erased member."""
    member = await ctx.session.get(Member, member_id) if member_id is not None else None
    return member.display_name if member is not None and member.display_name else "—"


async def offer_parts(ctx: Ctx, offer: Offer) -> tuple[Need, Project]:
    """The need an offer answers, and its project."""
    need = await ctx.session.get_one(Need, offer.need_id)
    project = await ctx.session.get_one(Project, need.project_id)
    return need, project


def decision_buttons(offer: Offer) -> tuple[tuple[Button, ...], ...]:
    """The leader's next possible answer to an offer, as buttons (none once it is settled)."""
    if offer.status == PENDING:
        return rows(
            Button("✅ " + _("Accept"), "acc", (str(offer.id),)),
            Button("✖️ " + _("Decline"), "dec", (str(offer.id),)),
        )
    if offer.status == ACCEPTED:
        return rows(Button("🎉 " + _("Mark done"), "done", (str(offer.id),)))
    if offer.status == OfferStatus.DONE.value and offer.thanked_at is None:
        return rows(recognition.thank_button(offer))
    return ()
