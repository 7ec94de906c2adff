"""/stats: the community manager's figures for a period, as a few lines and a trend chart."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, tzinfo

from babel.dates import format_date
from babel.numbers import format_decimal

from handlers import charts
from handlers.cards import KIND_ICONS, KIND_LABELS, OFFER_STATUS_LABELS, PROJECT_STATUS_LABELS
from handlers.chat import Command, Image, Rich, bold
from handlers.context import Ctx
from handlers.i18n import N_, _, current_language
from handlers.project_rules import usage
from store import stats as store_stats
from store.models import ContributionKind
from store.stats import Period, Stats, Trend, UnknownPeriod

TITLES = {
    "7d": N_("Figures for the last 7 days"),
    "30d": N_("Figures for the last 30 days"),
    "90d": N_("Figures for the last 90 days"),
    "1y": N_("Figures for the last 12 months"),
    "all": N_("Figures since the beginning"),
}
STEPS = {1: N_("day by day"), 7: N_("week by week"), 28: N_("every four weeks")}
PROJECT_ORDER = ("open", "paused", "draft", "archived")
OFFER_ORDER = ("pending", "accepted", "done", "declined", "withdrawn")
HOUR = 3600.0


async def cmd_stats(ctx: Ctx, cmd: Command) -> None:
    """The community's figures for a period (7d, 30d, 90d, 1y or all), with a trend chart."""
    period = parse_period(cmd.args, ctx.now())
    chart = trend_chart(await store_stats.trend(ctx.session, period), period, ctx.community.tz)
    # Drawing is CPU-bound (a tenth of a second or two): in a thread, while the database
    # counts the other figures.
    drawing = asyncio.ensure_future(asyncio.to_thread(charts.line_chart_png, chart))
    try:
        figures = await store_stats.collect(ctx.session, period)
    finally:
        png = await drawing
    ctx.reply(summary(figures, ctx.community.tz))
    ctx.replies.append(Image(png, Rich.of("📈 " + chart.title + " · " + chart.subtitle)))


def parse_period(args: tuple[str, ...], now: datetime) -> Period:
    """The period named by the command's argument (30 days when none)."""
    if len(args) > 1:
        raise usage("stats")
    try:
        return Period.parse(args[0] if args else None, now)
    except UnknownPeriod:
        raise usage("stats") from None


# --- the text -------------------------------------------------------------------------------


def summary(stats: Stats, tz: tzinfo) -> Rich:
    """A few lines that fit a phone screen."""
    title = Rich.of(bold("📊 " + _(TITLES[stats.period])))
    if stats.since is not None:
        title += " (" + _span(stats.since, stats.until, tz) + ")"
    funnel = stats.funnel
    lines: list[Rich | str] = [
        title,
        "👥 "
        + _("Members: {total} · {new} new · {active} active").format(
            total=number(stats.members_total),
            new=number(stats.members_new),
            active=number(stats.members_active),
        ),
        "📁 "
        + _("Projects: {counts}").format(
            counts=_counts(stats.projects, PROJECT_ORDER, PROJECT_STATUS_LABELS)
        ),
        "📌 "
        + _("Needs: {open} open · {new} new · {fulfilled} fulfilled").format(
            open=number(stats.needs_open),
            new=number(stats.needs_new),
            fulfilled=number(stats.needs_fulfilled),
        ),
        "🙋 "
        + _("Offers: {total} ({counts})").format(
            total=number(stats.offers_total),
            counts=_counts(stats.offers_by_status, OFFER_ORDER, OFFER_STATUS_LABELS),
        ),
        "    " + _kinds(stats.offers_by_kind),
        "🔻 "
        + _(
            "Announced {announced} → clicked {clicked} → offered {offered} → "
            "accepted {accepted} → done {done}"
        ).format(
            announced=number(funnel.announced),
            clicked=number(funnel.clicked),
            offered=number(funnel.offered),
            accepted=number(funnel.accepted),
            done=number(funnel.done),
        ),
        "⏱ " + _response(stats),
        "📣 "
        + _(
            "Campaigns: runs {runs} · sent {sent} · answers {answers} · votes {votes} · "
            "offers {offers}"
        ).format(
            runs=number(stats.campaigns.runs),
            sent=number(stats.campaigns.sent),
            answers=number(stats.campaigns.answers),
            votes=number(stats.campaigns.votes),
            offers=number(stats.campaigns.offers),
        ),
    ]
    return Rich.join(lines)


def number(value: int | float) -> str:
    """A count as the member's language writes it (1,234 / 1 234)."""
    return str(format_decimal(value, format="#,##0.#", locale=current_language()))


def _counts(counts: Mapping[str, int], order: Iterable[str], labels: Mapping[str, str]) -> str:
    """ "12 open · 3 paused", in the order of the statuses, those at zero left out."""
    parts = [
        _("{count} {label}").format(count=number(counts[key]), label=_(labels.get(key, key)))
        for key in [*order, *sorted(set(counts) - set(order))]
        if counts.get(key)
    ]
    return " · ".join(parts) if parts else _("none")


def _kinds(counts: Mapping[str, int]) -> str:
    """The kinds offered, the most offered first (in the CDS order when equal)."""
    order = {kind.value: rank for rank, kind in enumerate(ContributionKind)}
    ranked = sorted(
        (kind for kind, count in counts.items() if count),
        key=lambda kind: (-counts[kind], order.get(kind, len(order)), kind),
    )
    parts = [
        f"{KIND_ICONS.get(kind, '•')} {_(KIND_LABELS.get(kind, kind))} {number(counts[kind])}"
        for kind in ranked
    ]
    return _("By kind: {kinds}").format(kinds=" · ".join(parts) if parts else _("none"))


def _response(stats: Stats) -> str:
    median = stats.response_median
    if median is None:
        return _("No offer was answered by a leader in this period.")
    hours = median / HOUR
    if hours < 48:
        delay = _("{hours} h").format(hours=number(round(hours, 1)))
    else:
        delay = _("{days} days").format(days=number(round(hours / 24, 1)))
    return _("Leaders' answer to an offer: {delay} (median; answered: {count})").format(
        delay=delay, count=number(stats.responses)
    )


def _span(since: datetime, until: datetime, tz: tzinfo) -> str:
    last = until - timedelta(microseconds=1)
    return f"{_date(since, tz)} – {_date(last, tz)}"


def _date(moment: datetime, tz: tzinfo, pattern: str = "d MMM y") -> str:
    local = moment.astimezone(tz)
    return str(format_date(local.date(), pattern, locale=current_language()))


# --- the chart ------------------------------------------------------------------------------


def trend_chart(trend: Trend, period: Period, tz: tzinfo) -> charts.LineChart:
    """New members, offers and offers accepted or done, per point of the trend."""
    # A year or more: the month and year; else the day and month the point starts on.
    long = trend.days * len(trend.offers) > 366
    pattern = "MMM y" if long else "d MMM"
    return charts.LineChart(
        title=_(TITLES[period.key]),
        subtitle=_(STEPS.get(trend.days, STEPS[7])),
        labels=tuple(_date(start, tz, pattern) for start in trend.starts),
        series=(
            charts.Series(_("New members"), trend.members),
            charts.Series(_("Offers"), trend.offers),
            charts.Series(_("Accepted or done"), trend.accepted),
        ),
    )
