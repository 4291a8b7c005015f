"""What the dashboard counts of one submitted audit, computed once from its stored result: a pure function.

A touchpoint counts as walked when one of its items was answered or its wrap-up was filled in; its promise counts
as kept by the report's rule: the wrap-up's verdict, else no finding in that touchpoint. Every numeric answer is
kept as an item measure (a wait, a count): whether it met its target is judged later, against the checklist's
newest target, so a stricter target published later applies to past walks too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TouchpointMeasures:
    key: str
    score: float | None
    walked: bool
    kept: bool  # walked and its promise kept


@dataclass(frozen=True)
class AuditMeasures:
    touchpoints: tuple[TouchpointMeasures, ...]
    items: tuple[tuple[str, float], ...]  # (item key, numeric answer)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def measures_of(
    result: Mapping[str, Any] | None,
    verdicts: Mapping[str, tuple[int | None, bool | None]],
    finding_touchpoints: Iterable[str],
    answers: Mapping[str, Any],
) -> AuditMeasures:
    """The measures of an audit from its stored `result` (audit.result), its wrap-ups (touchpoint key ->
    (effort, promise kept)), the touchpoint keys of its findings and its answers (item key -> value)."""
    found = set(finding_touchpoints)
    touchpoints = []
    for touchpoint in (result or {}).get("touchpoints", []):
        key = touchpoint["key"]
        effort, promise_kept = verdicts.get(key, (None, None))
        walked = bool(touchpoint.get("answered")) or effort is not None or promise_kept is not None
        kept = promise_kept if promise_kept is not None else key not in found
        touchpoints.append(TouchpointMeasures(key, touchpoint.get("score"), walked, walked and kept))
    items = tuple((key, number) for key, value in sorted(answers.items()) if (number := _number(value)) is not None)
    return AuditMeasures(tuple(touchpoints), items)
