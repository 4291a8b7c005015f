"""One audit as plain report data. Pure: no Flask, no database; rows come in already loaded (or as plain values).

The rules a reader of the report relies on:

* **Score band**: 85 and above "Customers would recommend you", 70 to 84 "Good, with gaps customers notice",
  50 to 69 "Customers put up with it", below 50 "Customers are walking away".
* **Promise kept**: a touchpoint counts once the auditor answered one of its items or wrapped it up. Its promise
  is kept when the auditor said so in the wrap-up, unless a measured wait, count or number on it missed its
  target: a measured breach wins, and the auditor's "kept" is shown as an override with the wrap-up's note as
  its reason. When the wrap-up leaves it open, the promise is kept when the touchpoint produced no finding (the
  report says which way each verdict was reached).
* **Worst moment**: the walked touchpoint with the lowest score; ties go to the higher effort, then to more
  findings. There is none when every walked touchpoint scored 100% with its promise kept and an effort below 5.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from shopper.checklists.items import item_type
from shopper.checklists.items.base import Measure
from shopper.checklists.schema import DEFAULT_CRITICAL_CAP, item_index
from shopper.checklists.scoring import (
    AnswerData,
    breach,
    format_number,
    format_seconds,
    item_fraction,
    score,
    visible_item_keys,
)
from shopper.reports.brand import Brand, Credit

REPORT_TITLE = "Be your customer"
CHANNEL_LABELS = {
    "website": "Website",
    "phone": "Phone",
    "email": "Email",
    "chat": "Chat",
    "social": "Social media",
    "in-person": "In person",
    "printed": "Printed",
    "billing": "Billing",
    "delivery": "Delivery",
    "other": "Other",
}
HIGH_EFFORT = 5


# Inputs: rows as loaded, or anything with the same attributes ---------------------------------------------------


class AnswerRow(Protocol):
    touchpoint_key: str
    item_key: str
    value: Any
    note: str
    flagged: bool
    updated_at: dt.datetime | None
    updated_by_id: int | None


class VisitRow(Protocol):
    touchpoint_key: str
    effort: int | None
    promise_kept: bool | None
    note: str
    finished_at: dt.datetime | None


class PhotoRow(Protocol):
    id: str
    touchpoint_key: str
    item_key: str | None
    caption: str
    width: int
    height: int


class ActionRow(Protocol):
    """The action taken on a finding, as the action plan prints it (shopper.actions.service.PlanLine)."""

    title: str
    owner: str
    due_on: dt.date | None
    status_label: str


class FindingRow(Protocol):
    position: int
    touchpoint_key: str
    touchpoint_title: str
    promise: str
    item_key: str
    prompt: str
    value: Any
    reason: str
    critical: bool
    manual: bool
    note: str


@dataclass(frozen=True)
class AuditFacts:
    """The audit's own columns and names, as plain values."""

    definition: dict[str, Any]
    business: str
    site: str
    site_address: str
    checklist_title: str
    version_number: int
    scenario: str
    auditor: str
    started_at: dt.datetime | None
    submitted_at: dt.datetime | None
    score: float | None
    result: dict[str, Any] | None
    revision: int


# Output -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhotoRef:
    id: str
    caption: str
    width: int
    height: int

    @property
    def portrait(self) -> bool:
        return self.height > self.width


@dataclass(frozen=True)
class ItemLine:
    key: str
    prompt: str
    answer: str
    status: str  # "met", "missed" or "info" (not scored)
    reason: str | None  # why it missed, in words
    note: str
    critical: bool
    flagged: bool
    photos: tuple[PhotoRef, ...]

    @property
    def long(self) -> bool:
        """A long answer (written text) reads better below its question than beside it."""
        return len(self.answer) > 40


@dataclass(frozen=True)
class TouchpointReport:
    number: int
    key: str
    title: str
    channel: str
    promise: str
    score: float | None
    effort: int | None
    walked: bool
    kept: bool | None
    # "auditor" (the wrap-up said so), "measure" (the wrap-up said kept but a measure broke it: the auditor's
    # word is an override, overruled), "findings" (no verdict in the wrap-up: judged from findings); None if not walked
    kept_by: str | None
    note: str
    findings: int
    critical: int
    worst: bool
    measures: tuple[Measure, ...]
    items: tuple[ItemLine, ...]
    photos: tuple[PhotoRef, ...]  # photos of the touchpoint itself, not of an item
    walked_by: tuple[str, ...]
    walked_from: dt.datetime | None
    walked_to: dt.datetime | None

    @property
    def overridden(self) -> bool:
        """The auditor marked the promise kept although a measure on it broke; the note is the auditor's reason."""
        return self.kept_by == "measure"

    @property
    def all_photos(self) -> tuple[PhotoRef, ...]:
        return tuple(photo for item in self.items for photo in item.photos) + self.photos


@dataclass(frozen=True)
class FindingLine:
    number: int
    touchpoint_number: int
    touchpoint_title: str
    promise: str
    prompt: str
    reason: str
    answer: str
    note: str
    critical: bool
    manual: bool
    photos: tuple[PhotoRef, ...]
    action: ActionRow | None = None  # None until someone turns the finding into an action


@dataclass(frozen=True)
class Band:
    key: str  # "rave", "good", "tolerated", "leaving" or "unscored"
    label: str


@dataclass(frozen=True)
class Report:
    title: str
    brand: Brand
    business: str
    site: str
    site_address: str
    checklist_title: str
    version_number: int
    scenario: str
    auditor: str
    started_at: dt.datetime | None
    submitted_at: dt.datetime | None
    duration: str | None
    score: float | None
    band: Band
    capped: bool
    critical_cap: float
    promises_kept: int
    promises_total: int
    touchpoints: tuple[TouchpointReport, ...]
    findings: tuple[FindingLine, ...]
    scoring_method: tuple[str, ...]
    revision: int
    credit: Credit

    @property
    def made_by_line(self) -> str:
        """Who made the report, for the method section: "Prepared for <client> by <consultancy>." on a co-branded
        report, then "Made with Shopper." unless the brand is white-labelled."""
        parts = [f"{self.credit.line}." if self.credit.line else ""]
        if not self.credit.white_label:
            parts.append("Made with Shopper.")
        return " ".join(part for part in parts if part)

    @property
    def score_text(self) -> str:
        return "–" if self.score is None else f"{self.score:.0f}"

    @property
    def verdict(self) -> str:
        if self.promises_total == 0:
            return "No touchpoint was walked."
        return f"Promises kept: {self.promises_kept} of {self.promises_total}"

    @property
    def worst(self) -> TouchpointReport | None:
        return next((tp for tp in self.touchpoints if tp.worst), None)

    @property
    def scenario_short(self) -> str:
        """The scenario cut at a word near 280 characters, for the cover (the method section has all of it)."""
        if len(self.scenario) <= 280:
            return self.scenario
        return self.scenario[:280].rsplit(" ", 1)[0].rstrip(" ,.;:") + "…"

    @property
    def fix_first(self) -> tuple[FindingLine, ...]:
        """Up to three findings to start with: critical ones, then those of the worst moment, then walk order."""
        worst = self.worst.number if self.worst is not None else None
        ranked = sorted(self.findings, key=lambda f: (not f.critical, f.touchpoint_number != worst, f.number))
        return tuple(ranked[:3])

    @property
    def critical_findings(self) -> int:
        return sum(1 for finding in self.findings if finding.critical)

    @property
    def document_title(self) -> str:
        return f"{self.title}: {self.business}, {self.site}"


# Building -----------------------------------------------------------------------------------------------------


def score_band(value: float | None) -> Band:
    if value is None:
        return Band("unscored", "Not scored: nothing on this walk had a target")
    if value >= 85:
        return Band("rave", "Customers would recommend you")
    if value >= 70:
        return Band("good", "Good, with gaps customers notice")
    if value >= 50:
        return Band("tolerated", "Customers put up with it")
    return Band("leaving", "Customers are walking away")


def answer_text(item: dict[str, Any], value: Any, photos: int = 0) -> str:
    """An answer as the report prints it."""
    return item_type(item["type"]).answer_text(item, value, photos)


def _status(item: dict[str, Any], value: Any) -> tuple[str, str | None]:
    reason = breach(item, value)
    fraction = item_fraction(item, value)
    if fraction is None:
        return ("missed" if reason else "info"), reason
    return ("met" if fraction >= 1 and reason is None else "missed"), reason


def _photo_refs(photos: Iterable[PhotoRow]) -> tuple[PhotoRef, ...]:
    return tuple(PhotoRef(p.id, p.caption or "", p.width, p.height) for p in photos)


def _touchpoint_scores(
    facts: AuditFacts, answers: Mapping[str, AnswerData], photo_counts: Mapping[str, int]
) -> tuple[dict[str, float | None], float | None, bool]:
    """Touchpoint scores as stored at submission; computed afresh only for an audit that has none stored."""
    result = facts.result
    if not result or "touchpoints" not in result:
        computed = score(facts.definition, answers, photo_counts)
        return {t.key: t.score for t in computed.touchpoints}, computed.overall, computed.capped
    stored = {t["key"]: t.get("score") for t in result["touchpoints"]}
    return stored, result.get("overall", facts.score), bool(result.get("capped", False))


def _pick_worst(touchpoints: list[dict[str, Any]]) -> str | None:
    walked = [tp for tp in touchpoints if tp["walked"]]
    if not walked:
        return None

    def badness(tp: dict[str, Any]) -> tuple[float, int, int]:
        tp_score = tp["score"] if tp["score"] is not None else 100.0
        return (tp_score, -(tp["effort"] or 0), -tp["findings"])

    worst = min(walked, key=badness)
    troubled = (
        (worst["score"] is not None and worst["score"] < 100)
        or worst["kept"] is False
        or (worst["effort"] or 0) >= HIGH_EFFORT
    )
    return worst["key"] if troubled else None


def scoring_method(definition: dict[str, Any], capped: bool) -> tuple[str, ...]:
    cap = definition.get("critical_cap", DEFAULT_CRITICAL_CAP)
    lines = [
        "Every question with a target earns its weight in points when the answer meets the target: a yes where "
        "yes is expected, a wait within the promised time, a count at or under its limit. A rating earns part of "
        "its points (3 of 5 earns half), and a choice earns the share its option is worth.",
        "Questions without a target (notes, dates, photos), questions answered 'not applicable' and questions "
        "that did not apply to this walk earn nothing and cost nothing.",
        "A touchpoint's score is the points it earned out of the points it could earn. The overall score adds up "
        "the points of every touchpoint, so touchpoints with more or weightier questions count for more.",
        f"Some questions are critical. When one of them fails, the overall score is held at {format_number(cap)}% "
        "at most, whatever the rest earned" + (": that happened on this walk." if capped else "."),
        "Effort is the auditor's own sense of how hard each touchpoint was, from 1 (effortless) to 7 (exhausting).",
    ]
    return tuple(lines)


@dataclass(frozen=True)
class _Rows:
    """The audit's rows, grouped the way the report reads them."""

    answers: dict[str, AnswerRow]
    visits: dict[str, VisitRow]
    item_photos: dict[str, list[PhotoRow]]  # item key -> its photos
    loose_photos: dict[str, list[PhotoRow]]  # touchpoint key -> photos of the touchpoint itself
    findings: list[FindingRow]  # critical first, then walk order
    people: Mapping[int, str]

    def findings_of(self, touchpoint_key: str) -> list[FindingRow]:
        return [finding for finding in self.findings if finding.touchpoint_key == touchpoint_key]


def _group(
    answers: Iterable[AnswerRow],
    visits: Iterable[VisitRow],
    photos: Iterable[PhotoRow],
    findings: Iterable[FindingRow],
    people: Mapping[int, str],
) -> _Rows:
    item_photos: dict[str, list[PhotoRow]] = {}
    loose_photos: dict[str, list[PhotoRow]] = {}
    for photo in photos:
        if photo.item_key:
            item_photos.setdefault(photo.item_key, []).append(photo)
        else:
            loose_photos.setdefault(photo.touchpoint_key, []).append(photo)
    return _Rows(
        answers={a.item_key: a for a in answers},
        visits={v.touchpoint_key: v for v in visits},
        item_photos=item_photos,
        loose_photos=loose_photos,
        findings=sorted(findings, key=lambda f: (not f.critical, f.position)),
        people=people,
    )


def _item_line(item: dict[str, Any], answer: AnswerRow | None, photos: list[PhotoRow]) -> ItemLine:
    value = answer.value if answer is not None else None
    status, reason = _status(item, value)
    return ItemLine(
        key=item["key"],
        prompt=item["prompt"],
        answer=answer_text(item, value, len(photos)),
        status=status,
        reason=reason,
        note=(answer.note or "").strip() if answer is not None else "",
        critical=bool(item.get("critical", False)),
        flagged=bool(answer is not None and answer.flagged),
        photos=_photo_refs(photos),
    )


@dataclass
class _Walked:
    """What the auditor did at one touchpoint: the items to print, their measures, who and when."""

    items: list[ItemLine] = field(default_factory=list)
    measures: list[Measure] = field(default_factory=list)
    walkers: list[str] = field(default_factory=list)
    times: list[dt.datetime] = field(default_factory=list)

    def add(
        self, item: dict[str, Any], answer: AnswerRow | None, photos: list[PhotoRow], people: Mapping[int, str]
    ) -> None:
        self.items.append(_item_line(item, answer, photos))
        if answer is None:
            return
        name = people.get(answer.updated_by_id) if answer.updated_by_id is not None else None
        if name and name not in self.walkers:
            self.walkers.append(name)
        if answer.updated_at is not None:
            self.times.append(answer.updated_at)
        measure = item_type(item["type"]).measure(item, answer.value)
        if measure is not None:
            self.measures.append(measure)


def _walked(touchpoint: dict[str, Any], rows: _Rows, visible: set[str]) -> _Walked:
    """The visible items of the touchpoint that were answered or have photos."""
    walked = _Walked()
    for item in touchpoint["items"]:
        answer = rows.answers.get(item["key"])
        photos = rows.item_photos.get(item["key"], [])
        value = answer.value if answer is not None else None
        if item["key"] in visible and (item_type(item["type"]).answered(value, len(photos)) or photos):
            walked.add(item, answer, photos, rows.people)
    return walked


def _touchpoint_draft(
    number: int, touchpoint: dict[str, Any], rows: _Rows, visible: set[str], score_of: float | None, auditor: str
) -> dict[str, Any]:
    """A touchpoint's report, all but whether it is the worst moment (which needs all of them)."""
    key = touchpoint["key"]
    walked = _walked(touchpoint, rows, visible)
    visit = rows.visits.get(key)
    wrapped = visit is not None and (visit.effort is not None or visit.promise_kept is not None)
    if visit is not None and visit.finished_at is not None and wrapped:
        walked.times.append(visit.finished_at)
    tp_findings = rows.findings_of(key)
    was_walked = bool(walked.items) or wrapped or bool(rows.loose_photos.get(key))
    if not was_walked:
        kept, kept_by = None, None
    elif visit is not None and visit.promise_kept and any(not measure.met for measure in walked.measures):
        kept, kept_by = False, "measure"
    elif visit is not None and visit.promise_kept is not None:
        kept, kept_by = visit.promise_kept, "auditor"
    else:
        kept, kept_by = not tp_findings, "findings"
    return dict(
        number=number,
        key=key,
        title=touchpoint["title"],
        channel=CHANNEL_LABELS.get(touchpoint.get("channel", "other"), "Other"),
        promise=touchpoint.get("promise", ""),
        score=score_of,
        effort=visit.effort if visit is not None else None,
        walked=was_walked,
        kept=kept,
        kept_by=kept_by,
        note=(visit.note or "").strip() if visit is not None else "",
        findings=len(tp_findings),
        critical=sum(1 for f in tp_findings if f.critical),
        measures=tuple(walked.measures),
        items=tuple(walked.items),
        photos=_photo_refs(rows.loose_photos.get(key, [])),
        walked_by=tuple(walked.walkers) or ((auditor,) if was_walked and auditor else ()),
        walked_from=min(walked.times) if walked.times else None,
        walked_to=max(walked.times) if walked.times else None,
    )


def _finding_lines(
    definition: dict[str, Any],
    rows: _Rows,
    numbers: Mapping[str, int],
    actions: Mapping[str, ActionRow],
) -> tuple[FindingLine, ...]:
    index = item_index(definition)
    lines = []
    for number, finding in enumerate(rows.findings, start=1):
        item = index.get(finding.item_key, (None, None))[1]
        photos = rows.item_photos.get(finding.item_key, [])
        lines.append(
            FindingLine(
                number=number,
                touchpoint_number=numbers.get(finding.touchpoint_key, 0),
                touchpoint_title=finding.touchpoint_title,
                promise=finding.promise or "",
                prompt=finding.prompt,
                reason=finding.reason,
                answer=answer_text(item, finding.value, len(photos)) if item else "",
                note=(finding.note or "").strip(),
                critical=bool(finding.critical),
                manual=bool(finding.manual),
                photos=_photo_refs(photos),
                action=actions.get(finding.item_key),
            )
        )
    return tuple(lines)


def _duration(facts: AuditFacts) -> str | None:
    if facts.started_at is None or facts.submitted_at is None or facts.submitted_at < facts.started_at:
        return None
    return format_seconds((facts.submitted_at - facts.started_at).total_seconds())


def build_report(
    *,
    facts: AuditFacts,
    brand: Brand,
    answers: Iterable[AnswerRow],
    visits: Iterable[VisitRow],
    photos: Iterable[PhotoRow],
    findings: Iterable[FindingRow],
    people: Mapping[int, str],
    actions: Mapping[str, ActionRow] | None = None,
    credit: Credit | None = None,
) -> Report:
    """The whole report for one audit. ``people`` maps user ids to names (for who walked what); ``actions`` maps
    item keys to the action taken on that finding; ``credit`` says who made it (by default: the business's own
    report, with no one else named)."""
    definition = facts.definition
    rows = _group(answers, visits, photos, findings, people)
    photo_counts = {key: len(value) for key, value in rows.item_photos.items()}
    answer_data = {key: AnswerData(a.value, a.note or "", bool(a.flagged)) for key, a in rows.answers.items()}
    visible = visible_item_keys(definition, {key: a.value for key, a in answer_data.items()})
    tp_scores, overall, capped = _touchpoint_scores(facts, answer_data, photo_counts)
    drafts = [
        _touchpoint_draft(number, touchpoint, rows, visible, tp_scores.get(touchpoint["key"]), facts.auditor)
        for number, touchpoint in enumerate(definition["touchpoints"], start=1)
    ]
    worst_key = _pick_worst(drafts)
    touchpoints = tuple(TouchpointReport(worst=d["key"] == worst_key, **d) for d in drafts)
    walked = [tp for tp in touchpoints if tp.walked]
    return Report(
        title=REPORT_TITLE,
        brand=brand,
        business=facts.business,
        site=facts.site,
        site_address=facts.site_address,
        checklist_title=facts.checklist_title,
        version_number=facts.version_number,
        scenario=facts.scenario.strip(),
        auditor=facts.auditor,
        started_at=facts.started_at,
        submitted_at=facts.submitted_at,
        duration=_duration(facts),
        score=overall,
        band=score_band(overall),
        capped=capped,
        critical_cap=definition.get("critical_cap", DEFAULT_CRITICAL_CAP),
        promises_kept=sum(1 for tp in walked if tp.kept),
        promises_total=len(walked),
        touchpoints=touchpoints,
        findings=_finding_lines(definition, rows, {tp.key: tp.number for tp in touchpoints}, actions or {}),
        scoring_method=scoring_method(definition, capped),
        revision=facts.revision,
        credit=credit or Credit(client=facts.business),
    )
