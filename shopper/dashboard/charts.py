"""Line charts as SVG text, drawn on the server. Pure.

One series per chart (small multiples read better on a 360 px phone than a tangle of lines). The SVG scales to its
container's width through its viewBox; text is sized for that. Only presentation attributes are used, no ``style``,
so the strict CSP allows the SVG inline; every text node is escaped. A period nobody walked leaves a gap in the line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date
from html import escape

from shopper.checklists.scoring import format_number, format_seconds
from shopper.palette import GRID, INK, LINE, MUTED, TARGET

WIDTH = 320
LEFT, RIGHT, TOP, BOTTOM = 46, 10, 14, 22
MAX_LABELS = 6


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def period_label(period: str, unit: str, first: bool = False) -> str:
    """'2026-03-01' -> 'Mar' (or 'Mar 26' for January and the first label) for months, '2 Mar' for weeks."""
    day = date.fromisoformat(period)
    if unit == "week":
        return f"{day.day} {day:%b}"
    return f"{day:%b %y}" if first or day.month == 1 else f"{day:%b}"


def percent(value: float) -> str:
    return f"{value:.0f}%"


def seconds(value: float) -> str:
    return format_seconds(value)


def count(value: float) -> str:
    return format_number(round(value, 1))


def short_seconds(value: float) -> str:
    """A duration for an axis, in one unit: "45 s", "2.5 min", "1 h"."""
    if value < 120:
        return f"{format_number(round(value))} s"
    if value < 7200:
        return f"{format_number(round(value / 60, 1))} min"
    return f"{format_number(round(value / 3600, 1))} h"


TIME_STEPS = (10, 15, 30, 60, 120, 180, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 14400, 21600, 43200, 86400)


def nice_seconds(value: float) -> float:
    """A round duration at least `value`: 30 s, 1 min, 5 min, 30 min, 1 h ... (whole days beyond)."""
    for step in TIME_STEPS:
        if step >= value:
            return float(step)
    return float(math.ceil(value / 86400) * 86400)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is at least `value` (and at least 1)."""
    if value <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)


def _text(x: float, y: float, content: str, size: float = 10, anchor: str = "start", fill: str = MUTED) -> str:
    return (
        f'<text x="{_fmt(x)}" y="{_fmt(y)}" font-size="{_fmt(size)}" text-anchor="{anchor}" fill="{fill}">'
        f"{escape(content)}</text>"
    )


#: what the values are: how to write them, on the axis too, and how to round the top of the scale
KINDS: dict[str, tuple[Callable[[float], str], Callable[[float], str], Callable[[float], float]]] = {
    "percent": (percent, percent, lambda _: 100.0),
    "seconds": (seconds, short_seconds, nice_seconds),
    "count": (count, count, nice_ceiling),
}


def line_chart(
    periods: Sequence[str],
    values: Sequence[float | None],
    *,
    title: str,
    unit: str = "month",
    kind: str = "percent",
    target: float | None = None,
    height: int = 150,
) -> str:
    """A line of `values` (one per period, None for none) under an accessible summary. Percentages are drawn on 0 to
    100; waits and counts on 0 to a round number above the largest value and the target."""
    if len(periods) != len(values):
        raise ValueError("one value per period")
    show, tick_label, ceiling = KINDS[kind]
    known = [v for v in values if v is not None]
    top = ceiling(max([*known, target or 0, 0]) * 1.1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, height - TOP - BOTTOM
    n = len(periods)

    def x(i: int) -> float:
        return LEFT + (plot_w / 2 if n == 1 else i * plot_w / (n - 1))

    def y(value: float) -> float:
        return TOP + plot_h - max(0.0, min(value, top)) / top * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
        f'aria-label="{escape(summary(periods, values, title, unit, show))}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for tick in (0, top / 2, top):
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_fmt(y(tick))}" y2="{_fmt(y(tick))}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(_text(LEFT - 4, y(tick) + 3.5, tick_label(tick), 10, "end"))
    if target is not None:
        parts.append(
            f'<line class="chart-target" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_fmt(y(target))}" '
            f'y2="{_fmt(y(target))}" stroke="{TARGET}" stroke-width="1.5" stroke-dasharray="5 4"/>'
        )
        parts.append(_text(LEFT + 3, y(target) - 3, f"target {show(target)}", 10, "start", TARGET))
    step = max(1, math.ceil(n / MAX_LABELS))
    for i in range(0, n, step):
        parts.append(_text(x(i), height - 6, period_label(periods[i], unit, first=i == 0), 10, "middle"))

    run: list[str] = []
    runs: list[list[str]] = []
    for i, value in enumerate(values):
        if value is None:
            if run:
                runs.append(run)
            run = []
            continue
        run.append(f"{_fmt(x(i))},{_fmt(y(value))}")
    if run:
        runs.append(run)
    for points in runs:
        if len(points) > 1:
            parts.append(
                f'<polyline class="chart-line" points="{" ".join(points)}" fill="none" stroke="{LINE}" '
                f'stroke-width="2.5" stroke-linejoin="round" stroke-linecap="round"/>'
            )
    for i, value in enumerate(values):
        if value is not None:
            parts.append(f'<circle cx="{_fmt(x(i))}" cy="{_fmt(y(value))}" r="3" fill="{LINE}"/>')
    last = next((i for i in range(n - 1, -1, -1) if values[i] is not None), None)
    if last is not None:
        anchor = "end" if x(last) > WIDTH - 40 else "middle"
        parts.append(_text(x(last), y(values[last]) - 7, show(values[last]), 11, anchor, INK))
    parts.append("</svg>")
    return "".join(parts)


def summary(periods: Sequence[str], values: Sequence[float | None], title: str, unit: str, show) -> str:
    """What the chart says in words, for screen readers: the first and the latest value."""
    known = [(p, v) for p, v in zip(periods, values, strict=True) if v is not None]
    if not known:
        return f"{title}: no walks in this range."
    (first_p, first_v), (last_p, last_v) = known[0], known[-1]
    if len(known) == 1:
        return f"{title}: {show(first_v)} ({period_label(first_p, unit, True)})."
    return (
        f"{title}: {show(first_v)} ({period_label(first_p, unit, True)}) to "
        f"{show(last_v)} ({period_label(last_p, unit, True)})."
    )


def aligned(periods: Sequence[str], points) -> list[float | None]:
    """Values of `points` (anything with .period and .value) placed on `periods`, None where there is none."""
    by_period = {point.period: point.value for point in points}
    return [by_period.get(period) for period in periods]
