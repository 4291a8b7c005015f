"""Scores, findings and submit checks for one audit: pure functions over plain data.

The rules are in docs/checklist-format.md ("Scoring"). Every function takes a valid definition; answers that
do not fit their item (e.g. left over from an earlier version of the checklist) count as unanswered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shopper.checklists.items import item_type
from shopper.checklists.items.base import format_number as format_number
from shopper.checklists.items.base import format_seconds as format_seconds
from shopper.checklists.schema import DEFAULT_CRITICAL_CAP, AnswerError, check_answer, iter_items


@dataclass(frozen=True)
class AnswerData:
    value: Any
    note: str = ""
    flagged: bool = False  # the auditor flagged it by hand


@dataclass(frozen=True)
class TouchpointScore:
    key: str
    title: str
    promise: str
    score: float | None  # percentage, 1 decimal; None when nothing was scored
    earned: float
    possible: float
    answered: int
    visible: int
    required_missing: int


@dataclass(frozen=True)
class Finding:
    touchpoint_key: str
    touchpoint_title: str
    promise: str
    item_key: str
    prompt: str
    value: Any
    reason: str
    critical: bool  # a critical item that failed
    manual: bool  # the auditor flagged it
    note: str


@dataclass(frozen=True)
class ScoreResult:
    overall: float | None
    capped: bool  # the critical cap lowered the overall score
    critical_failures: tuple[str, ...]  # item keys, walk order
    touchpoints: tuple[TouchpointScore, ...]
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class Missing:
    touchpoint_key: str
    item_key: str
    prompt: str
    what: str  # "answer", "note" or "photo"


MANUAL_REASON = "flagged by the auditor"


def _clean(item: dict[str, Any], value: Any) -> Any:
    try:
        return check_answer(item, value)
    except AnswerError:
        return None


def _clean_values(definition: dict[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    return {item["key"]: _clean(item, values.get(item["key"])) for _, item in iter_items(definition)}


def _matches(condition: dict[str, Any], value: Any) -> bool:
    wanted = [condition["equals"]] if "equals" in condition else condition["in"]
    given = value if isinstance(value, list) else [value]
    return any(part == want for part in given for want in wanted)


def _visible(definition: dict[str, Any], cleaned: Mapping[str, Any]) -> set[str]:
    visible: set[str] = set()
    for _, item in iter_items(definition):
        condition = item.get("show_if")
        if condition is None or (condition["item"] in visible and _matches(condition, cleaned.get(condition["item"]))):
            visible.add(item["key"])
    return visible


def visible_item_keys(definition: dict[str, Any], values: Mapping[str, Any]) -> set[str]:
    """Keys of the items shown for these answer values (item key -> value).

    An item with ``show_if`` is shown when its source item is shown and has a matching answer; for a multiple
    choice, when any chosen option matches.
    """
    return _visible(definition, _clean_values(definition, values))


def _fraction(item: dict[str, Any], value: Any) -> float | None:
    return None if value is None else item_type(item["type"]).fraction(item, value)


def item_fraction(item: dict[str, Any], value: Any) -> float | None:
    """The share of the item's points an answer earns (0..1), or None when it is not scored.

    None for an unanswered item, a ``na`` check, a type that is never scored (text, photo, date), a number,
    timer or counter without a target, an empty multiple choice and a choice whose options all score 0.
    """
    return _fraction(item, _clean(item, value))


def _breach(item: dict[str, Any], value: Any) -> str | None:
    return None if value is None else item_type(item["type"]).breach(item, value)


def breach(item: dict[str, Any], value: Any) -> str | None:
    """A short reason when the answer breaks the item's own rule, else None.

    ``flag_if`` is not applied here: ``score`` decides which breaches become findings.
    """
    return _breach(item, _clean(item, value))


def _answered(item: dict[str, Any], value: Any, photos: int) -> bool:
    return item_type(item["type"]).answered(value, photos)


def _percent(earned: float, possible: float) -> float | None:
    return None if possible == 0 else round(100 * earned / possible, 1)


def _round_down(value: float) -> float:
    """``value`` rounded to 1 decimal, never above ``value``."""
    rounded = round(float(value), 1)
    while rounded > value:
        rounded = round(rounded - 0.1, 1)
    return rounded


def score(
    definition: dict[str, Any],
    answers: Mapping[str, AnswerData],
    photo_counts: Mapping[str, int] | None = None,
) -> ScoreResult:
    """Score an audit: touchpoint and overall percentages, critical failures and findings."""
    photo_counts = photo_counts or {}
    cleaned = _clean_values(definition, {key: answer.value for key, answer in answers.items()})
    visible = _visible(definition, cleaned)
    touchpoint_scores: list[TouchpointScore] = []
    failures: list[str] = []
    findings: list[Finding] = []
    total_earned = total_possible = 0.0
    for touchpoint in definition["touchpoints"]:
        earned = possible = 0.0
        answered = shown = required_missing = 0
        for item in touchpoint["items"]:
            key = item["key"]
            if key not in visible:
                continue
            shown += 1
            value = cleaned[key]
            if _answered(item, value, photo_counts.get(key, 0)):
                answered += 1
            elif item.get("required", False):
                required_missing += 1
            fraction = _fraction(item, value)
            weight = item.get("weight", 1)
            failed = False
            if fraction is not None and weight > 0:
                earned += fraction * weight
                possible += weight
                failed = fraction < 1
            critical = failed and item.get("critical", False)
            if critical:
                failures.append(key)
            reason = _breach(item, value) if item.get("flag_if", "breach") == "breach" else None
            answer = answers.get(key)
            manual = answer is not None and answer.flagged
            if reason is not None or manual:
                findings.append(
                    Finding(
                        touchpoint_key=touchpoint["key"],
                        touchpoint_title=touchpoint["title"],
                        promise=touchpoint.get("promise", ""),
                        item_key=key,
                        prompt=item["prompt"],
                        value=value,
                        reason=reason or MANUAL_REASON,
                        critical=critical,
                        manual=manual,
                        note=answer.note if answer is not None else "",
                    )
                )
        touchpoint_scores.append(
            TouchpointScore(
                key=touchpoint["key"],
                title=touchpoint["title"],
                promise=touchpoint.get("promise", ""),
                score=_percent(earned, possible),
                earned=earned,
                possible=possible,
                answered=answered,
                visible=shown,
                required_missing=required_missing,
            )
        )
        total_earned += earned
        total_possible += possible

    overall = _percent(total_earned, total_possible)
    capped = False
    if failures and overall is not None:
        cap = definition.get("critical_cap", DEFAULT_CRITICAL_CAP)
        capped = 100 * total_earned / total_possible > cap
        overall = min(overall, _round_down(cap))
    findings.sort(key=lambda finding: not finding.critical)  # stable: walk order within each group
    return ScoreResult(
        overall=overall,
        capped=capped,
        critical_failures=tuple(failures),
        touchpoints=tuple(touchpoint_scores),
        findings=tuple(findings),
    )


def missing_for_submit(
    definition: dict[str, Any],
    answers: Mapping[str, AnswerData],
    photo_counts: Mapping[str, int] | None = None,
) -> list[Missing]:
    """What still stops the audit from being submitted, in walk order.

    A required visible item needs an answer (a photo item: at least one photo). An answered visible item whose
    evidence requires a note or a photo needs a non-blank note or a photo; a ``na`` answer needs no evidence.
    """
    photo_counts = photo_counts or {}
    cleaned = _clean_values(definition, {key: answer.value for key, answer in answers.items()})
    visible = _visible(definition, cleaned)
    missing: list[Missing] = []
    for touchpoint, item in iter_items(definition):
        key = item["key"]
        if key not in visible:
            continue
        value = cleaned[key]
        photos = photo_counts.get(key, 0)
        answer = answers.get(key)
        if not _answered(item, value, photos):
            what = "answer" if item.get("required", False) else None
        elif value in item_type(item["type"]).no_evidence_for:
            what = None
        else:
            require = item.get("evidence", {}).get("require", "none")
            if require == "note" and not (answer is not None and answer.note.strip()):
                what = "note"
            elif require == "photo" and photos < 1:
                what = "photo"
            else:
                what = None
        if what is not None:
            missing.append(Missing(touchpoint["key"], key, item["prompt"], what))
    return missing
