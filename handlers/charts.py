"""Charts as PNG images, drawn with matplotlib for a phone screen.

Big type, thick lines with distinct markers, colours that stay apart for colour-blind readers
(Okabe and Ito's palette) on a white background. The texts arrive translated: this module
only draws. matplotlib is imported when the first chart is drawn, not when the bot starts,
and the figure is drawn without pyplot (no global state), so a chart can be drawn in a
worker thread.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT, DPI = 1000, 700, 100
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")  # blue, vermilion, green, purple
MARKERS = ("o", "s", "^", "D")
INK, GRID = "#111111", "#BBBBBB"
TITLE_SIZE, TEXT_SIZE, TICK_SIZE = 28, 20, 18
MAX_TICKS = 8  # date labels on the horizontal axis, at most (fewer when they are long)
PLOT_WIDTH = 880  # pixels, roughly, between the axes
MAX_MARKED = 20  # beyond this many points, markers would hide the lines


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    values: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class LineChart:
    """Several series over the same points; `labels` name the points (dates)."""

    title: str
    subtitle: str
    labels: tuple[str, ...]
    series: tuple[Series, ...]


def prepare() -> None:
    """Draw a first, throw-away chart: matplotlib's import and font cache cost about a
    second, better spent at start-up (in a worker thread) than on a manager's first /stats."""
    line_chart_png(LineChart("-", "", ("1", "2"), (Series("-", (0, 1)),)))


def line_chart_png(chart: LineChart) -> bytes:
    """The chart as a 1000x700 PNG."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, layout="constrained")
    figure.patch.set_facecolor("white")
    axes = figure.add_subplot()
    points = range(len(chart.labels))
    marked = len(chart.labels) <= MAX_MARKED
    for index, series in enumerate(chart.series):
        axes.plot(
            points,
            series.values,
            color=COLOURS[index % len(COLOURS)],
            marker=MARKERS[index % len(MARKERS)] if marked else None,
            markersize=11,
            linewidth=4,
            label=series.label,
        )
    figure.suptitle(
        chart.title + ("\n" + chart.subtitle if chart.subtitle else ""),
        fontsize=TITLE_SIZE,
        color=INK,
        fontweight="bold",
    )
    longest = max((len(label) for label in chart.labels), default=1)
    shown = _ticks(len(chart.labels), max(2, min(MAX_TICKS, PLOT_WIDTH // (longest * 12 + 36))))
    axes.set_xticks(shown, [chart.labels[i] for i in shown])
    axes.tick_params(labelsize=TICK_SIZE, colors=INK, width=2, length=8)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    axes.set_ylim(bottom=0, top=max(1, *_peaks(chart.series)) * 1.15)
    axes.set_xlim(-0.4, max(len(chart.labels) - 1, 0) + 0.4)
    axes.grid(axis="y", color=GRID, linewidth=1.2)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        axes.spines[side].set_linewidth(2)
        axes.spines[side].set_color(INK)
    # Under the plot, in one row: never over the lines, however dense they are.
    figure.legend(
        loc="outside lower center",
        ncols=len(chart.series),
        fontsize=TEXT_SIZE,
        frameon=False,
        handlelength=1.6,
        columnspacing=1.2,
    )
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI, facecolor="white")
    return out.getvalue()


def _ticks(count: int, limit: int = MAX_TICKS) -> list[int]:
    """The points that get a date label: every one when few, else evenly spread, the last
    (the most recent) always shown."""
    if count <= limit:
        return list(range(count))
    step = -(-count // limit)
    return sorted(range(count - 1, -1, -step))


def _peaks(series: Sequence[Series]) -> list[int]:
    return [max(s.values, default=0) for s in series] or [0]
