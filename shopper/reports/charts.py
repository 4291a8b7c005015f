"""The journey map as SVG text, drawn on the server so the web page and the PDF show the very same picture. Pure.

Only presentation attributes are used (no ``style``), so the page's strict CSP allows the SVG inline; every text
node is escaped, and colours must be ``#rrggbb`` (anything else falls back to the default).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 640
LEFT, RIGHT = 42, 8
TOP = 46  # room for the "worst moment" label and the score above a 100% marker
PLOT_HEIGHT = 140
EFFORT_TOP_GAP = 40
EFFORT_HEIGHT = 52
LABEL_GAP = 20
LINE_HEIGHT = 14
KEPT, BROKEN, UNKNOWN, GRID, INK, MUTED, WORST_BAND = (
    "#1e7a46",
    "#b3261e",
    "#8a94a3",
    "#d9dee5",
    "#1b2430",
    "#5b6675",
    "#fbe3e0",
)
FONT = "'Source Sans 3', 'Source Sans Pro', sans-serif"
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class JourneyPoint:
    number: int
    title: str
    score: float | None  # percent
    effort: int | None  # 1 to 7
    kept: bool | None  # None: not walked, or no verdict
    worst: bool = False


def _color(value: str, default: str) -> str:
    return value if isinstance(value, str) and _HEX.match(value) else default


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _wrap(title: str, max_chars: int, max_lines: int = 3) -> list[str]:
    """Break a title into at most ``max_lines`` lines of about ``max_chars``; the last one ends in an ellipsis
    when the title does not fit."""
    words = title.split()
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}".strip()
        if len(candidate) <= max_chars or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(1, max_chars - 1)].rstrip() + "…"
    return [line if len(line) <= max_chars else line[: max(1, max_chars - 1)] + "…" for line in lines]


def _text(x: float, y: float, content: str, size: float, **attrs: str) -> str:
    extra = "".join(f' {name.replace("_", "-")}="{escape(value)}"' for name, value in attrs.items())
    return f'<text x="{_fmt(x)}" y="{_fmt(y)}" font-size="{_fmt(size)}"{extra}>{escape(content)}</text>'


def journey_svg(points: Sequence[JourneyPoint], primary: str = "#1d4e89", accent: str = "#f2a541") -> str:
    """The journey map: each touchpoint's score on a line, its effort as a bar, its promise as the marker's colour
    (green kept, red broken, grey not judged), and the worst moment shaded with a label."""
    primary = _color(primary, "#1d4e89")
    accent = _color(accent, "#f2a541")
    count = max(1, len(points))
    step = (WIDTH - LEFT - RIGHT) / count
    chars = max(6, int(step / 6.6))
    label_lines = max([len(_wrap(p.title, chars)) for p in points] or [1])
    effort_top = TOP + PLOT_HEIGHT + EFFORT_TOP_GAP
    labels_top = effort_top + EFFORT_HEIGHT + LABEL_GAP
    height = labels_top + LINE_HEIGHT * label_lines + 6

    def x_of(index: int) -> float:
        return LEFT + step * (index + 0.5)

    def y_of(value: float) -> float:
        return TOP + PLOT_HEIGHT * (1 - max(0.0, min(100.0, value)) / 100)

    summary = "; ".join(
        f"{p.number}. {p.title}: "
        + ("not scored" if p.score is None else f"{p.score:.0f}%")
        + (f", effort {p.effort} of 7" if p.effort is not None else "")
        + {True: ", promise kept", False: ", promise broken", None: ""}[p.kept]
        + (" (worst moment)" if p.worst else "")
        for p in points
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="journey-chart" viewBox="0 0 {WIDTH} {_fmt(height)}" '
        f'width="{WIDTH}" height="{_fmt(height)}" role="img" aria-labelledby="journey-title journey-desc" '
        f'font-family="{escape(FONT)}" fill="{INK}">',
        '<title id="journey-title">Journey map: score, effort and promise at each touchpoint</title>',
        f'<desc id="journey-desc">{escape(summary)}</desc>',
    ]
    for index, point in enumerate(points):
        if point.worst:
            left = x_of(index) - step / 2 + 2
            parts.append(
                f'<rect x="{_fmt(left)}" y="0" width="{_fmt(step - 4)}" '
                f'height="{_fmt(labels_top + LINE_HEIGHT * label_lines)}" rx="6" fill="{WORST_BAND}"/>'
            )
            parts.append(
                _text(x_of(index), 14, "Worst moment", 11.5, text_anchor="middle", font_weight="600", fill=BROKEN)
            )
    for value in (0, 50, 100):
        y = y_of(value)
        parts.append(
            f'<line x1="{LEFT}" y1="{_fmt(y)}" x2="{WIDTH - RIGHT}" y2="{_fmt(y)}" stroke="{GRID}" stroke-width="1"'
            + (' stroke-dasharray="4 4"' if value == 50 else "")
            + "/>"
        )
        parts.append(_text(LEFT - 6, y + 4, f"{value}%", 11, text_anchor="end", fill=MUTED))
    scored = [(x_of(i), y_of(p.score)) for i, p in enumerate(points) if p.score is not None]
    if len(scored) > 1:
        path = " ".join(f"{'M' if i == 0 else 'L'}{_fmt(x)} {_fmt(y)}" for i, (x, y) in enumerate(scored))
        parts.append(
            f'<path d="{path}" fill="none" stroke="{primary}" stroke-width="2.5" stroke-linejoin="round" '
            'stroke-linecap="round"/>'
        )
    for index, point in enumerate(points):
        x = x_of(index)
        color = {True: KEPT, False: BROKEN, None: UNKNOWN}[point.kept]
        if point.score is None:
            y = y_of(0)
            parts.append(
                f'<circle cx="{_fmt(x)}" cy="{_fmt(y)}" r="10" fill="#ffffff" stroke="{color}" stroke-width="2"/>'
            )
            parts.append(_text(x, y + 4, str(point.number), 12, text_anchor="middle", font_weight="600", fill=color))
            parts.append(_text(x, y - 16, "not scored", 11, text_anchor="middle", fill=MUTED))
            continue
        y = y_of(point.score)
        parts.append(f'<circle cx="{_fmt(x)}" cy="{_fmt(y)}" r="11" fill="{color}" stroke="#ffffff" stroke-width="2"/>')
        parts.append(_text(x, y + 4, str(point.number), 12, text_anchor="middle", font_weight="600", fill="#ffffff"))
        parts.append(_text(x, y - 17, f"{point.score:.0f}%", 13, text_anchor="middle", font_weight="600"))
    parts.append(_text(4, effort_top - 10, "Effort for the customer (1 = effortless, 7 = exhausting)", 11, fill=MUTED))
    parts.append(
        f'<line x1="{LEFT}" y1="{effort_top + EFFORT_HEIGHT}" x2="{WIDTH - RIGHT}" y2="{effort_top + EFFORT_HEIGHT}" '
        f'stroke="{GRID}" stroke-width="1"/>'
    )
    bar_width = min(34.0, step * 0.45)
    for index, point in enumerate(points):
        x = x_of(index)
        if point.effort is None:
            parts.append(_text(x, effort_top + EFFORT_HEIGHT - 4, "–", 12, text_anchor="middle", fill=MUTED))
            continue
        effort = max(1, min(7, point.effort))
        bar = EFFORT_HEIGHT * effort / 7
        high = effort >= 5
        parts.append(
            f'<rect x="{_fmt(x - bar_width / 2)}" y="{_fmt(effort_top + EFFORT_HEIGHT - bar)}" '
            f'width="{_fmt(bar_width)}" height="{_fmt(bar)}" rx="3" fill="{BROKEN if high else accent}"'
            f' fill-opacity="{"0.85" if high else "0.75"}"/>'
        )
        parts.append(
            _text(x + bar_width / 2 + 4, effort_top + EFFORT_HEIGHT - 3, str(effort), 12, font_weight="600", fill=INK)
        )
    for index, point in enumerate(points):
        for line_no, line in enumerate(_wrap(f"{point.number}. {point.title}", chars)):
            parts.append(
                _text(
                    x_of(index),
                    labels_top + LINE_HEIGHT * line_no,
                    line,
                    11.5,
                    text_anchor="middle",
                    font_weight="600" if point.worst else "400",
                )
            )
    parts.append("</svg>")
    return "\n".join(parts)
