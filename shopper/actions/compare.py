"""Then and now: one submitted walk against the previous walk of the same checklist at the same site. Pure.

The rules:

* Touchpoints and items are matched by their stable keys, so two walks compare across checklist versions. A
  touchpoint only in the newer version is "new in this version"; one only in the older is "no longer checked".
* Scores are the touchpoint scores stored at submission. A touchpoint counts as walked when one of its items was
  answered or the auditor wrapped it up; its promise is kept when the wrap-up says so, and when the wrap-up leaves
  that open, when the touchpoint has no finding (the report's rule).
* Measures are the timers and counters with a target: the value then and now, against the newer target.
* A finding of the earlier walk is **fixed** when its item was answered this time without a finding, **still open**
  when it was found again, **not checked this time** when its item was left unanswered (or hidden by an earlier
  answer), and **no longer checked** when the newer version dropped the item. A finding of this walk that the earlier
  walk did not have is **new**, or **new in this version** when its item did not exist before. Item keys are unique
  within a checklist, so an item that moved to another touchpoint is still the same item.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from shopper.checklists.items import item_type
from shopper.checklists.schema import item_index


@dataclass(frozen=True)
class FindingFact:
    touchpoint_key: str
    item_key: str
    prompt: str
    reason: str
    critical: bool = False


@dataclass(frozen=True)
class WalkFacts:
    """One submitted walk as plain values."""

    definition: dict[str, Any]
    submitted_at: dt.datetime | None
    score: float | None
    touchpoint_scores: Mapping[str, float | None]  # touchpoint key -> percent, as stored at submission
    answers: Mapping[str, Any]  # item key -> value (None or missing: not answered)
    verdicts: Mapping[str, bool | None] = field(default_factory=dict)  # touchpoint key -> the wrap-up's promise kept
    wrapped: frozenset[str] = frozenset()  # touchpoints the auditor wrapped up (effort or verdict given)
    findings: Sequence[FindingFact] = ()


class Presence(StrEnum):
    BOTH = "both"
    ADDED = "added"  # new in this version
    REMOVED = "removed"  # no longer checked


class FindingState(StrEnum):
    FIXED = "fixed"
    OPEN = "open"
    NEW = "new"
    NEW_ITEM = "new_item"
    NOT_RECHECKED = "not_rechecked"
    DROPPED = "dropped"

    @property
    def label(self) -> str:
        return FINDING_LABELS[self]


FINDING_LABELS = {
    FindingState.FIXED: "Fixed",
    FindingState.OPEN: "Still open",
    FindingState.NEW: "New",
    FindingState.NEW_ITEM: "New in this version",
    FindingState.NOT_RECHECKED: "Not checked this time",
    FindingState.DROPPED: "No longer checked",
}


@dataclass(frozen=True)
class MeasureChange:
    item_key: str
    prompt: str
    then: str | None  # "4 min", None when not measured
    now: str | None
    target: str
    then_met: bool | None
    now_met: bool | None
    then_value: float | None
    now_value: float | None

    @property
    def trend(self) -> str | None:
        """ "better", "worse" or "same" (lower is better for waits and hand-offs); None when one side is missing."""
        if self.then_value is None or self.now_value is None:
            return None
        if self.now_value < self.then_value:
            return "better"
        return "worse" if self.now_value > self.then_value else "same"

    @property
    def text(self) -> str:
        return f"{self.prompt}: {self.then or '–'} → {self.now or '–'}"


@dataclass(frozen=True)
class TouchpointChange:
    key: str
    title: str
    promise: str
    presence: Presence
    score_then: float | None
    score_now: float | None
    kept_then: bool | None  # None: not walked (or not in that version)
    kept_now: bool | None
    measures: tuple[MeasureChange, ...]

    @property
    def delta(self) -> float | None:
        if self.score_then is None or self.score_now is None:
            return None
        return round(self.score_now - self.score_then, 1)

    @property
    def headline(self) -> str:
        """ "Call the billing line: 40% → 85%, Time until a person answered: 4 min → 45 s"."""
        if self.presence == Presence.ADDED:
            return f"{self.title}: new in this version"
        if self.presence == Presence.REMOVED:
            return f"{self.title}: no longer checked"
        parts = [f"{_percent(self.score_then)} → {_percent(self.score_now)}"]
        parts += [measure.text for measure in self.measures if measure.then or measure.now]
        return f"{self.title}: " + ", ".join(parts)


@dataclass(frozen=True)
class FindingChange:
    state: FindingState
    touchpoint_key: str
    touchpoint_title: str
    item_key: str
    prompt: str
    reason_then: str | None
    reason_now: str | None
    critical: bool


@dataclass(frozen=True)
class Comparison:
    then_at: dt.datetime | None
    now_at: dt.datetime | None
    score_then: float | None
    score_now: float | None
    promises_then: tuple[int, int]  # (kept, walked)
    promises_now: tuple[int, int]
    touchpoints: tuple[TouchpointChange, ...]
    findings: tuple[FindingChange, ...]

    @property
    def delta(self) -> float | None:
        if self.score_then is None or self.score_now is None:
            return None
        return round(self.score_now - self.score_then, 1)

    def notable(self, limit: int = 5) -> tuple[TouchpointChange, ...]:
        """The touchpoints that changed most: added or dropped ones first, then the largest score changes."""
        changed = [tp for tp in self.touchpoints if tp.presence != Presence.BOTH or tp.delta]
        changed.sort(key=lambda tp: (tp.presence == Presence.BOTH, -abs(tp.delta or 0)))
        return tuple(changed[:limit])

    def findings_in(self, state: FindingState | str) -> tuple[FindingChange, ...]:
        return tuple(f for f in self.findings if f.state == state)

    def count(self, state: FindingState | str) -> int:
        return len(self.findings_in(state))


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}%"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _measured(item: dict[str, Any]) -> bool:
    return item_type(item["type"]).limit(item) is not None


def _measure(item: dict[str, Any], then: Any, now: Any) -> MeasureChange:
    kind = item_type(item["type"])
    limit = kind.limit(item)

    def show(value: float | None) -> str | None:
        return None if value is None else kind.value_text(item, value)

    then_value, now_value = _number(then), _number(now)
    return MeasureChange(
        item_key=item["key"],
        prompt=item["prompt"],
        then=show(then_value),
        now=show(now_value),
        target=kind.limit_text(item),
        then_met=None if then_value is None or limit is None else then_value <= limit,
        now_met=None if now_value is None or limit is None else now_value <= limit,
        then_value=then_value,
        now_value=now_value,
    )


def _answered(walk: WalkFacts, item_key: str) -> bool:
    return walk.answers.get(item_key) is not None


def promise_verdicts(walk: WalkFacts) -> dict[str, bool]:
    """Touchpoint key -> promise kept, for every walked touchpoint (see the module's rules)."""
    with_findings = {f.touchpoint_key for f in walk.findings}
    verdicts: dict[str, bool] = {}
    for touchpoint in walk.definition["touchpoints"]:
        key = touchpoint["key"]
        answered = any(_answered(walk, item["key"]) for item in touchpoint["items"])
        if not answered and key not in walk.wrapped:
            continue
        verdict = walk.verdicts.get(key)
        verdicts[key] = verdict if verdict is not None else key not in with_findings
    return verdicts


def compare_walks(then: WalkFacts, now: WalkFacts) -> Comparison:
    """How `now` differs from `then`, touchpoint by touchpoint and finding by finding."""
    then_items, now_items = item_index(then.definition), item_index(now.definition)
    then_kept, now_kept = promise_verdicts(then), promise_verdicts(now)
    then_tps = {tp["key"]: tp for tp in then.definition["touchpoints"]}
    now_tps = {tp["key"]: tp for tp in now.definition["touchpoints"]}

    order = [(tp, Presence.BOTH if tp["key"] in then_tps else Presence.ADDED) for tp in now.definition["touchpoints"]]
    order += [(tp, Presence.REMOVED) for key, tp in then_tps.items() if key not in now_tps]
    touchpoints = []
    for touchpoint, presence in order:
        key = touchpoint["key"]
        measures = tuple(
            _measure(item, then.answers.get(item["key"]), now.answers.get(item["key"]))
            for item in touchpoint["items"]
            if _measured(item)
        )
        touchpoints.append(
            TouchpointChange(
                key=key,
                title=touchpoint["title"],
                promise=touchpoint.get("promise", ""),
                presence=presence,
                score_then=then.touchpoint_scores.get(key) if presence != Presence.ADDED else None,
                score_now=now.touchpoint_scores.get(key) if presence != Presence.REMOVED else None,
                kept_then=then_kept.get(key),
                kept_now=now_kept.get(key),
                measures=measures,
            )
        )

    def titled(item_key: str, fallback_tp: str) -> tuple[str, str]:
        """The touchpoint an item sits in now (or sat in, when it was dropped), and that touchpoint's title."""
        for items in (now_items, then_items):
            if item_key in items:
                touchpoint = items[item_key][0]
                return touchpoint["key"], touchpoint["title"]
        return fallback_tp, fallback_tp

    found_then = {f.item_key: f for f in then.findings}
    found_now = {f.item_key: f for f in now.findings}
    changes: list[FindingChange] = []
    for item_key, old in found_then.items():
        new = found_now.get(item_key)
        if item_key not in now_items:
            state = FindingState.DROPPED
        elif new is not None:
            state = FindingState.OPEN
        elif _answered(now, item_key):
            state = FindingState.FIXED
        else:
            state = FindingState.NOT_RECHECKED
        tp_key, tp_title = titled(item_key, old.touchpoint_key)
        changes.append(
            FindingChange(
                state=state,
                touchpoint_key=tp_key,
                touchpoint_title=tp_title,
                item_key=item_key,
                prompt=(new or old).prompt,
                reason_then=old.reason,
                reason_now=new.reason if new is not None else None,
                critical=old.critical or (new is not None and new.critical),
            )
        )
    for item_key, new in found_now.items():
        if item_key in found_then:
            continue
        tp_key, tp_title = titled(item_key, new.touchpoint_key)
        changes.append(
            FindingChange(
                state=FindingState.NEW if item_key in then_items else FindingState.NEW_ITEM,
                touchpoint_key=tp_key,
                touchpoint_title=tp_title,
                item_key=item_key,
                prompt=new.prompt,
                reason_then=None,
                reason_now=new.reason,
                critical=new.critical,
            )
        )
    state_order = list(FindingState)
    position = {tp.key: n for n, tp in enumerate(touchpoints)}
    changes.sort(key=lambda c: (state_order.index(c.state), position.get(c.touchpoint_key, len(position))))
    return Comparison(
        then_at=then.submitted_at,
        now_at=now.submitted_at,
        score_then=then.score,
        score_now=now.score,
        promises_then=(sum(then_kept.values()), len(then_kept)),
        promises_now=(sum(now_kept.values()), len(now_kept)),
        touchpoints=tuple(touchpoints),
        findings=tuple(changes),
    )
