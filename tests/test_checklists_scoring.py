"""Scoring, findings and submit checks (shopper.checklists.scoring), by example and by property."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from shopper.checklists.schema import iter_items, validate_definition
from shopper.checklists.scoring import (
    AnswerData,
    Finding,
    Missing,
    ScoreResult,
    TouchpointScore,
    breach,
    format_seconds,
    item_fraction,
    missing_for_submit,
    score,
    visible_item_keys,
)
from tests.test_checklists_schema import definitions, doc_json_blocks, possible_answers

PROPERTY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def touchpoint(key: str, *items: dict[str, Any], promise: str = "") -> dict[str, Any]:
    result: dict[str, Any] = {"key": key, "title": key.title(), "channel": "other", "items": list(items)}
    if promise:
        result["promise"] = promise
    return result


def checklist(*touchpoints: dict[str, Any], **fields: Any) -> dict[str, Any]:
    definition = {"title": "T", **fields, "touchpoints": list(touchpoints)}
    assert validate_definition(definition) == []
    return definition


def check(key: str, **fields: Any) -> dict[str, Any]:
    return {"key": key, "type": "check", "prompt": f"{key}?", **fields}


def answers(**values: Any) -> dict[str, AnswerData]:
    return {key.replace("_", "-"): AnswerData(value) for key, value in values.items()}


RATING = {"key": "r", "type": "rating", "prompt": "?", "scale": 5, "target_min": 4}
CHOICE = {
    "key": "who",
    "type": "choice",
    "prompt": "Who answered?",
    "options": [
        {"value": "person", "label": "A person", "score": 100},
        {"value": "menu", "label": "A phone menu", "score": 60},
        {"value": "nobody", "label": "Nobody answered", "flag": True},
    ],
}
MULTIPLE = {
    "key": "m",
    "type": "choice",
    "prompt": "?",
    "multiple": True,
    "options": [
        {"value": "a", "label": "A", "score": 100},
        {"value": "b", "label": "B", "score": 50, "flag": True},
        {"value": "c", "label": "C", "flag": True},
    ],
}
NUMBER = {"key": "n", "type": "number", "prompt": "?", "unit": "min", "target_min": 0, "target_max": 5}
TIMER = {"key": "tm", "type": "timer", "prompt": "?", "target_max_s": 60}
COUNTER = {"key": "k", "type": "counter", "prompt": "?", "target_max": 1}


# --- item_fraction -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "value", "expected"),
    [
        (check("c"), "yes", 1.0),
        (check("c"), "no", 0.0),
        (check("c"), "na", None),
        (check("c", expect="no"), "no", 1.0),
        (check("c", expect="no"), "yes", 0.0),
        (RATING, 1, 0.0),
        (RATING, 3, 0.5),
        (RATING, 5, 1.0),
        ({**RATING, "scale": 10}, 4, 1 / 3),
        (CHOICE, "person", 1.0),
        (CHOICE, "menu", 0.6),
        (CHOICE, "nobody", 0.0),
        (MULTIPLE, ["a", "b"], 0.75),
        (MULTIPLE, ["a", "a", "c"], 0.5),
        (MULTIPLE, [], None),
        ({**CHOICE, "options": [{**option, "score": 0} for option in CHOICE["options"]]}, "person", None),
        ({**MULTIPLE, "options": [{"value": "x", "label": "X"}, {"value": "y", "label": "Y"}]}, ["x"], None),
        (NUMBER, 0, 1.0),
        (NUMBER, 5, 1.0),
        (NUMBER, 5.01, 0.0),
        (NUMBER, -0.5, 0.0),
        ({**NUMBER, "target_min": 3, "target_max": 3}, 3.0, 1.0),
        ({"key": "n", "type": "number", "prompt": "?", "target_min": 2}, 1000, 1.0),
        ({"key": "n", "type": "number", "prompt": "?", "target_max": 2}, -1000, 1.0),
        ({"key": "n", "type": "number", "prompt": "?"}, 3, None),
        (TIMER, 60, 1.0),
        (TIMER, 60.5, 0.0),
        ({**TIMER, "target_max_s": 0}, 0, 1.0),
        ({"key": "tm", "type": "timer", "prompt": "?"}, 5, None),
        (COUNTER, 1, 1.0),
        (COUNTER, 2, 0.0),
        ({"key": "k", "type": "counter", "prompt": "?"}, 2, None),
        ({"key": "t", "type": "text", "prompt": "?"}, "words", None),
        ({"key": "p", "type": "photo", "prompt": "?"}, None, None),
        ({"key": "d", "type": "date", "prompt": "?"}, "2024-05-01", None),
        (check("c"), None, None),
        (RATING, 6, None),  # does not fit the item: counts as unanswered
        (CHOICE, "robot", None),
        (TIMER, -5, None),
    ],
)
def test_item_fraction(item: dict[str, Any], value: Any, expected: float | None) -> None:
    result = item_fraction(item, value)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)


# --- breach and formatting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "value", "expected"),
    [
        (TIMER, 61, "61 s: the promise is 60 s"),
        (TIMER, 250, "4 min 10 s: the promise is 1 min"),
        (TIMER, 60.5, "60.5 s: the promise is 60 s"),
        (TIMER, 119, "119 s: the promise is 60 s"),
        (TIMER, 120, "2 min: the promise is 1 min"),
        ({**TIMER, "target_max_s": 3600}, 3725, "1 h 2 min: the promise is 1 h"),
        ({**TIMER, "target_max_s": 0}, 1, "1 s: the promise is 0 s"),
        (COUNTER, 3, "3: the target is at most 1"),
        ({**COUNTER, "unit": "hand-offs"}, 3, "3 hand-offs: the target is at most 1"),
        (check("c"), "no", "answered no"),
        (check("c", expect="no"), "yes", "answered yes"),
        (RATING, 2, "2 of 5: the target is at least 4"),
        (RATING, 3.0, "3 of 5: the target is at least 4"),
        (CHOICE, "nobody", 'chose "Nobody answered"'),
        (MULTIPLE, ["c", "a", "b"], 'chose "B", "C"'),
        (NUMBER, 12, "12 min: the target is 0 to 5 min"),
        (NUMBER, 12.25, "12.25 min: the target is 0 to 5 min"),
        (NUMBER, -1, "-1 min: the target is 0 to 5 min"),
        ({**NUMBER, "target_min": 2.5, "target_max": 2.5}, 3, "3 min: the target is exactly 2.5 min"),
        (
            {"key": "n", "type": "number", "prompt": "?", "unit": "stars", "target_min": 4},
            3,
            "3 stars: the target is at least 4 stars",
        ),
        ({"key": "n", "type": "number", "prompt": "?", "target_max": 0.5}, 0.75, "0.75: the target is at most 0.5"),
        ({"key": "n", "type": "number", "prompt": "?", "target_max": 0}, 1 / 3, "0.333: the target is at most 0"),
    ],
)  # fmt: skip
def test_breach_reasons_read_well(item: dict[str, Any], value: Any, expected: str) -> None:
    assert breach(item, value) == expected


@pytest.mark.parametrize(
    ("item", "value"),
    [
        (TIMER, 60),
        (TIMER, None),
        ({"key": "tm", "type": "timer", "prompt": "?"}, 9999),
        (COUNTER, 1),
        (check("c"), "yes"),
        (check("c"), "na"),
        (check("c", expect="no"), "na"),
        (RATING, 4),
        ({**RATING, "target_min": 1}, 1),
        ({"key": "r", "type": "rating", "prompt": "?", "scale": 5}, 1),
        (CHOICE, "menu"),
        (MULTIPLE, ["a"]),
        (MULTIPLE, []),
        (NUMBER, 5),
        ({"key": "n", "type": "number", "prompt": "?"}, -99),
        ({"key": "t", "type": "text", "prompt": "?"}, "terrible"),
        ({"key": "d", "type": "date", "prompt": "?"}, "2020-01-01"),
        ({"key": "p", "type": "photo", "prompt": "?"}, None),
        ({**check("c"), "flag_if": "never"}, "yes"),
        (TIMER, "slow"),  # not an answer of a timer
    ],
)
def test_no_breach(item: dict[str, Any], value: Any) -> None:
    assert breach(item, value) is None


def test_breach_reports_the_rule_even_when_flag_if_is_never() -> None:
    assert breach({**check("c"), "flag_if": "never"}, "no") == "answered no"


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0 s"),
        (45, "45 s"),
        (59.4, "59 s"),
        (59.6, "1 min"),
        (60, "1 min"),
        (61, "1 min 1 s"),
        (250, "4 min 10 s"),
        (3599, "59 min 59 s"),
        (3600, "1 h"),
        (3629, "1 h"),
        (3630, "1 h 1 min"),
        (3720, "1 h 2 min"),
        (3725, "1 h 2 min"),
        (86400, "24 h"),
    ],
)
def test_format_seconds(seconds: float, expected: str) -> None:
    assert format_seconds(seconds) == expected


@pytest.mark.parametrize("seconds", [-1, float("nan"), float("inf")])
def test_format_seconds_refuses_non_durations(seconds: float) -> None:
    with pytest.raises(ValueError):
        format_seconds(seconds)


# --- visibility --------------------------------------------------------------------------------------------

CHAINED = checklist(
    touchpoint(
        "a",
        check("first"),
        check("second", show_if={"item": "first", "equals": "no"}),
        check("third", show_if={"item": "second", "in": ["no", "na"]}),
    ),
    touchpoint(
        "b",
        CHOICE,
        {"key": "transfers", "type": "counter", "prompt": "?", "show_if": {"item": "who", "in": ["person", "menu"]}},
        check("many", show_if={"item": "transfers", "equals": 3}),
        MULTIPLE,
        check("saw-b", show_if={"item": "m", "equals": "b"}),
        check("after", show_if={"item": "first", "equals": "yes"}),
    ),
)
ALWAYS = {"first", "who", "m"}


@pytest.mark.parametrize(
    ("values", "shown"),
    [
        ({}, ALWAYS),
        ({"first": "yes"}, ALWAYS | {"after"}),
        ({"first": "no"}, ALWAYS | {"second"}),
        ({"first": "no", "second": "no"}, ALWAYS | {"second", "third"}),
        ({"first": "no", "second": "na"}, ALWAYS | {"second", "third"}),
        ({"first": "no", "second": "yes"}, ALWAYS | {"second"}),
        ({"first": "yes", "second": "no"}, ALWAYS | {"after"}),  # third's source is hidden, so it is hidden too
        ({"first": "na"}, ALWAYS),
        ({"who": "nobody", "transfers": 3}, ALWAYS),
        ({"who": "menu", "transfers": 3}, ALWAYS | {"transfers", "many"}),
        ({"who": "menu", "transfers": 3.0}, ALWAYS | {"transfers", "many"}),
        ({"who": "person", "transfers": 2}, ALWAYS | {"transfers"}),
        ({"who": "robot"}, ALWAYS),  # an answer that does not fit counts as unanswered
        ({"m": ["a", "b"]}, ALWAYS | {"saw-b"}),
        ({"m": ["a"]}, ALWAYS),
        ({"m": []}, ALWAYS),
        ({"m": "b"}, ALWAYS),
    ],
)
def test_visible_item_keys(values: dict[str, Any], shown: set[str]) -> None:
    assert visible_item_keys(CHAINED, values) == shown


# --- score: examples ---------------------------------------------------------------------------------------


def test_the_worked_example_of_the_documentation() -> None:
    blocks = doc_json_blocks()
    definition = blocks["Worked example"]
    given = {key: AnswerData(**fields) for key, fields in blocks["Scoring the example"].items()}
    result = score(definition, given)
    invoice = "Every invoice can be understood without calling us."
    billing = "A person answers within a minute and sorts it out in one call."
    assert result == ScoreResult(
        overall=50.0,
        capped=True,
        critical_failures=("resolved",),
        touchpoints=(
            TouchpointScore("invoice", "Read the invoice", invoice, 66.7, 2.0, 3.0, 2, 2, 0),
            TouchpointScore("billing-line", "Call the billing line", billing, 65.7, 4.6, 7.0, 5, 5, 0),
        ),
        findings=(
            Finding(
                "billing-line", "Call the billing line", billing, "resolved",
                "Was your question answered in this call?",
                "no", "answered no", True, False, "They told me to send an email instead.",
            ),
            Finding(
                "invoice", "Read the invoice", invoice, "invoice-clear", "How easy is the invoice to understand?",
                3, "3 of 5: the target is at least 4", False, False, "",
            ),
            Finding(
                "billing-line", "Call the billing line", billing, "call-notes", "Anything else worth noting?",
                "The hold music was very loud.", "flagged by the auditor", False, True, "",
            ),
        ),
    )  # fmt: skip
    assert missing_for_submit(definition, given) == []

    given["who-answered"] = AnswerData("nobody")
    result = score(definition, given)
    assert (result.overall, result.capped, result.critical_failures) == (71.4, False, ())
    assert [touchpoint.score for touchpoint in result.touchpoints] == [66.7, 75.0]
    assert [(finding.item_key, finding.reason) for finding in result.findings] == [
        ("invoice-clear", "3 of 5: the target is at least 4"),
        ("who-answered", 'chose "Nobody answered"'),
        ("call-notes", "flagged by the auditor"),
    ]


def test_nothing_answered_is_not_scored() -> None:
    definition = checklist(touchpoint("a", check("x", critical=True), RATING), touchpoint("b", TIMER))
    result = score(definition, {})
    assert result.overall is None
    assert not result.capped
    assert result.critical_failures == ()
    assert result.findings == ()
    assert [(t.score, t.earned, t.possible, t.answered, t.visible) for t in result.touchpoints] == [
        (None, 0.0, 0.0, 0, 2),
        (None, 0.0, 0.0, 0, 1),
    ]


def test_weights_and_exclusions() -> None:
    definition = checklist(
        touchpoint(
            "a",
            check("heavy", weight=3),
            check("light", weight=0.5),
            check("zero", weight=0),
            check("skipped"),
            {"key": "open", "type": "number", "prompt": "?"},
            {"key": "words", "type": "text", "prompt": "?"},
        ),
        touchpoint("b", check("only")),
    )
    result = score(definition, answers(heavy="yes", light="no", zero="no", skipped="na", open=3, words="hi"))
    first, second = result.touchpoints
    assert (first.earned, first.possible, first.score) == (3.0, 3.5, 85.7)
    assert (first.answered, first.visible) == (6, 6)  # "na" is an answer, it just does not count
    assert second.score is None
    assert result.overall == 85.7
    assert [finding.item_key for finding in result.findings] == ["light", "zero"]


def test_overall_is_earned_over_possible_across_touchpoints_not_a_mean_of_percentages() -> None:
    definition = checklist(
        touchpoint("a", check("a1")),
        touchpoint("b", check("b1", weight=3), check("b2")),
    )
    result = score(definition, answers(a1="no", b1="yes", b2="yes"))
    assert [touchpoint.score for touchpoint in result.touchpoints] == [0.0, 100.0]
    assert result.overall == 80.0


def test_rounding_happens_only_at_the_end() -> None:
    definition = checklist(touchpoint("a", *(check(f"c{n}") for n in range(3))), touchpoint("b", check("d")))
    result = score(definition, answers(c0="yes", c1="no", c2="no", d="yes"))
    assert [touchpoint.score for touchpoint in result.touchpoints] == [33.3, 100.0]
    assert result.touchpoints[0].earned == 1.0
    assert result.overall == 50.0  # 2 of 4, not the rounded 33.3 and 100 averaged in any way


@pytest.mark.parametrize(
    ("values", "touchpoint_score", "overall", "capped", "failures"),
    [
        ({"gate": "no", "a": "yes", "b": "yes", "c": "yes"}, 75.0, 50.0, True, ("gate",)),
        ({"gate": "yes", "a": "yes", "b": "yes", "c": "yes"}, 100.0, 100.0, False, ()),
        ({"gate": "no", "a": "no", "b": "no", "c": "yes"}, 25.0, 25.0, False, ("gate",)),  # already under the cap
        ({"gate": "no", "a": "yes"}, 50.0, 50.0, False, ("gate",)),  # exactly the cap
        ({"gate": "na", "a": "yes", "b": "yes", "c": "yes"}, 100.0, 100.0, False, ()),
        ({"a": "yes", "b": "yes", "c": "yes"}, 100.0, 100.0, False, ()),
    ],
)
def test_a_failed_critical_item_caps_the_overall_score(
    values: dict[str, Any], touchpoint_score: float, overall: float, capped: bool, failures: tuple[str, ...]
) -> None:
    definition = checklist(touchpoint("a", check("gate", critical=True), check("a"), check("b"), check("c")))
    result = score(definition, answers(**values))
    assert (result.overall, result.capped, result.critical_failures) == (overall, capped, failures)
    assert result.touchpoints[0].score == touchpoint_score  # the cap applies to the overall score only


def test_partial_credit_on_a_critical_item_is_a_failure() -> None:
    definition = checklist(touchpoint("a", {**RATING, "critical": True, "target_min": 1}), critical_cap=20)
    result = score(definition, answers(r=4))
    assert (result.overall, result.capped, result.critical_failures) == (20.0, True, ("r",))
    assert result.touchpoints[0].score == 75.0
    assert result.findings == ()  # a failure, but no breach of target_min


def test_the_cap_is_never_exceeded_after_rounding() -> None:
    definition = checklist(
        touchpoint("a", check("gate", critical=True), *(check(f"c{n}") for n in range(9))), critical_cap=33.36
    )
    result = score(definition, answers(gate="no", **{f"c{n}": "yes" for n in range(9)}))
    assert result.capped
    assert result.overall == 33.3
    almost = checklist(touchpoint("a", check("gate", critical=True), check("x"), check("y")), critical_cap=66.66)
    result = score(almost, answers(gate="no", x="yes", y="yes"))  # 66.666... > 66.66
    assert (result.overall, result.capped) == (66.6, True)


def test_critical_items_that_cannot_fail() -> None:
    definition = checklist(
        touchpoint(
            "a",
            check("show"),
            check("weightless", critical=True, weight=0),
            check("hidden", critical=True, show_if={"item": "show", "equals": "yes"}),
            {"key": "words", "type": "text", "prompt": "?", "critical": True},
            {"key": "no-target", "type": "timer", "prompt": "?", "critical": True},
        )
    )
    result = score(definition, answers(show="no", weightless="no", hidden="no", words="bad", no_target=999))
    assert (result.overall, result.capped, result.critical_failures) == (0.0, False, ())
    assert [(finding.item_key, finding.critical) for finding in result.findings] == [
        ("show", False),
        ("weightless", False),
    ]


def test_findings_put_critical_first_then_walk_order() -> None:
    definition = checklist(
        touchpoint("a", check("a1"), check("a2", critical=True), promise="Promise A"),
        touchpoint("b", COUNTER, check("b2", critical=True), {**TIMER, "flag_if": "never"}, promise="Promise B"),
    )
    result = score(definition, answers(a1="no", a2="no", k=4, b2="no", tm=500))
    assert [(f.item_key, f.critical, f.promise) for f in result.findings] == [
        ("a2", True, "Promise A"),
        ("b2", True, "Promise B"),
        ("a1", False, "Promise A"),
        ("k", False, "Promise B"),
    ]
    assert result.critical_failures == ("a2", "b2")
    assert result.findings[3].reason == "4: the target is at most 1"
    assert result.findings[3].value == 4


def test_manual_flags() -> None:
    definition = checklist(
        touchpoint(
            "a",
            check("gate"),
            check("breached", critical=True),
            {**check("quiet"), "flag_if": "never"},
            {"key": "pic", "type": "photo", "prompt": "?"},
            check("hidden", show_if={"item": "gate", "equals": "no"}),
            check("fine"),
        )
    )
    given = {
        "gate": AnswerData("yes"),
        "breached": AnswerData("no", note="rude", flagged=True),
        "quiet": AnswerData("no", note="odd", flagged=True),
        "pic": AnswerData(None, note="see photo", flagged=True),
        "hidden": AnswerData("no", flagged=True),
        "fine": AnswerData("yes", flagged=False, note="all good"),
    }
    result = score(definition, given, {"pic": 2})
    assert [(f.item_key, f.reason, f.critical, f.manual, f.note, f.value) for f in result.findings] == [
        ("breached", "answered no", True, True, "rude", "no"),
        ("quiet", "flagged by the auditor", False, True, "odd", "no"),
        ("pic", "flagged by the auditor", False, True, "see photo", None),
    ]


def test_answers_that_do_not_fit_count_as_unanswered() -> None:
    definition = checklist(touchpoint("a", check("c", required=True), RATING, CHOICE))
    result = score(
        definition,
        {"c": AnswerData("maybe"), "r": AnswerData(7), "who": AnswerData("robot"), "gone": AnswerData("yes")},
    )
    assert result.overall is None
    assert result.touchpoints[0].answered == 0
    assert result.touchpoints[0].required_missing == 1
    assert result.findings == ()


def test_touchpoint_counts_photos_and_required_items() -> None:
    definition = checklist(
        touchpoint(
            "a",
            {"key": "pic", "type": "photo", "prompt": "?", "required": True},
            {"key": "pic2", "type": "photo", "prompt": "?", "required": True},
            check("c", required=True),
            check("d", required=True, show_if={"item": "c", "equals": "no"}),
            {"key": "t", "type": "text", "prompt": "?", "required": True},
        )
    )
    result = score(definition, answers(c="yes", t="   "), {"pic": 1, "pic2": 0, "elsewhere": 5})
    only = result.touchpoints[0]
    assert (only.visible, only.answered, only.required_missing) == (4, 2, 2)
    assert only.score == 100.0


# --- missing_for_submit ------------------------------------------------------------------------------------


def test_missing_for_submit() -> None:
    definition = checklist(
        touchpoint(
            "a",
            check("must", required=True),
            check("hidden", required=True, show_if={"item": "must", "equals": "no"}),
            {"key": "pic", "type": "photo", "prompt": "Photo?", "required": True},
            check("why", evidence={"prompt": "Why?", "require": "note"}),
        ),
        touchpoint(
            "b",
            check("proof", evidence={"require": "photo"}),
            check("proof-na", evidence={"require": "photo"}),
            check("unanswered", evidence={"require": "note"}),
            {"key": "pic2", "type": "photo", "prompt": "?", "evidence": {"require": "note"}},
            check("told", evidence={"require": "note"}),
        ),
    )
    given = {
        "why": AnswerData("no", note="  "),
        "proof": AnswerData("yes"),
        "proof-na": AnswerData("na"),
        "pic2": AnswerData(None),
        "told": AnswerData("yes", note="they said so"),
    }
    assert missing_for_submit(definition, given, {"pic2": 1}) == [
        Missing("a", "must", "must?", "answer"),
        Missing("a", "pic", "Photo?", "answer"),
        Missing("a", "why", "why?", "note"),
        Missing("b", "proof", "proof?", "photo"),
        Missing("b", "pic2", "?", "note"),
    ]
    given.update(must=AnswerData("no"), why=AnswerData("no", note="rude"), proof=AnswerData("yes"))
    assert missing_for_submit(definition, given, {"pic": 1, "pic2": 1, "proof": 2}) == [
        Missing("a", "hidden", "hidden?", "answer"),
        Missing("b", "pic2", "?", "note"),
    ]
    assert missing_for_submit(definition, given) == [
        Missing("a", "hidden", "hidden?", "answer"),
        Missing("a", "pic", "Photo?", "answer"),
        Missing("b", "proof", "proof?", "photo"),
    ]


# --- properties --------------------------------------------------------------------------------------------


@st.composite
def audits(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, AnswerData], dict[str, int]]:
    """A valid definition with valid (or missing) answers, notes, flags and photo counts."""
    definition = draw(definitions())
    given: dict[str, AnswerData] = {}
    photos: dict[str, int] = {}
    for _, item in iter_items(definition):
        key = item["key"]
        if item["type"] == "photo":
            photos[key] = draw(st.integers(0, 2))
            value = None
        elif draw(st.integers(0, 4)) == 0:
            continue
        elif item["type"] == "choice" and item.get("multiple"):
            value = draw(st.lists(st.sampled_from([option["value"] for option in item["options"]]), max_size=4))
        else:
            value = draw(possible_answers(item))
        given[key] = AnswerData(value, note=draw(st.sampled_from(["", " ", "why"])), flagged=draw(st.booleans()))
    return definition, given, photos


def _numbers(result: ScoreResult) -> tuple[Any, ...]:
    """Everything a score depends on, leaving out the answered counts and the findings."""
    return (
        result.overall,
        result.capped,
        result.critical_failures,
        tuple((touchpoint.score, touchpoint.earned, touchpoint.possible) for touchpoint in result.touchpoints),
    )


def _controls_something(definition: dict[str, Any], key: str) -> bool:
    return any(item.get("show_if", {}).get("item") == key for _, item in iter_items(definition))


@PROPERTY
@given(audits())
def test_scores_stay_in_range_and_match_a_direct_computation(audit: Any) -> None:
    definition, given, photos = audit
    result = score(definition, given, photos)
    visible = visible_item_keys(definition, {key: answer.value for key, answer in given.items()})
    earned = possible = 0.0
    for touchpoint, summary in zip(definition["touchpoints"], result.touchpoints, strict=True):
        assert summary.score is None or 0 <= summary.score <= 100
        assert 0 <= summary.earned <= summary.possible + 1e-9
        assert 0 <= summary.required_missing <= summary.visible - summary.answered
        assert summary.visible == sum(item["key"] in visible for item in touchpoint["items"])
        for item in touchpoint["items"]:
            fraction = item_fraction(item, given[item["key"]].value) if item["key"] in given else None
            if item["key"] in visible and fraction is not None:
                earned += fraction * item.get("weight", 1)
                possible += item.get("weight", 1)
    if possible == 0:
        assert result.overall is None
    else:
        assert result.overall is not None and 0 <= result.overall <= 100
        if not result.critical_failures:
            assert result.overall == pytest.approx(round(100 * earned / possible, 1), abs=0.051)
    cap = definition.get("critical_cap", 50)
    if result.capped:
        assert result.critical_failures and result.overall <= cap
    if result.critical_failures:
        assert result.overall <= cap
    assert all(finding.item_key in visible for finding in result.findings)
    flags = [finding.critical for finding in result.findings]
    assert flags == sorted(flags, reverse=True)


@PROPERTY
@given(audits(), st.data())
def test_a_na_answer_counts_like_no_answer(audit: Any, data: st.DataObject) -> None:
    definition, given, photos = audit
    definition = copy.deepcopy(definition)
    extra = check("extra-check", weight=data.draw(st.integers(0, 10)), critical=data.draw(st.booleans()))
    data.draw(st.sampled_from(definition["touchpoints"]))["items"].append(extra)
    checks = [
        item["key"]
        for _, item in iter_items(definition)
        if item["type"] == "check" and not _controls_something(definition, item["key"])
    ]
    key = data.draw(st.sampled_from(checks))
    with_na = {**given, key: AnswerData("na")}
    without = {name: answer for name, answer in given.items() if name != key}
    assert _numbers(score(definition, with_na, photos)) == _numbers(score(definition, without, photos))


@PROPERTY
@given(audits(), st.data())
def test_weight_zero_items_never_change_a_score(audit: Any, data: st.DataObject) -> None:
    definition, given, photos = audit
    definition = copy.deepcopy(definition)
    candidates = [
        item
        for _, item in iter_items(definition)
        if item["type"] not in ("photo", "text", "date") and not _controls_something(definition, item["key"])
    ]
    assume(candidates)
    item = data.draw(st.sampled_from(candidates))
    item["weight"] = 0
    other = data.draw(st.none() | possible_answers(item)) if not item.get("multiple") else data.draw(st.just([]))
    changed = {**given, item["key"]: AnswerData(other)}
    assert _numbers(score(definition, changed, photos)) == _numbers(score(definition, given, photos))


@PROPERTY
@given(audits())
def test_the_order_of_the_answers_does_not_matter(audit: Any) -> None:
    definition, given, photos = audit
    reordered = dict(reversed(list(given.items())))
    assert score(definition, reordered, dict(reversed(list(photos.items())))) == score(definition, given, photos)
    assert missing_for_submit(definition, reordered, photos) == missing_for_submit(definition, given, photos)


@PROPERTY
@given(audits())
def test_missing_answers_are_exactly_the_visible_required_unanswered_items(audit: Any) -> None:
    definition, given, photos = audit
    visible = visible_item_keys(definition, {key: answer.value for key, answer in given.items()})
    expected = []
    for _, item in iter_items(definition):
        key = item["key"]
        answered = (
            photos.get(key, 0) > 0 if item["type"] == "photo" else given.get(key, AnswerData(None)).value is not None
        )
        if key in visible and item.get("required") and not answered:
            expected.append(key)
    missing = missing_for_submit(definition, given, photos)
    assert [entry.item_key for entry in missing if entry.what == "answer"] == expected
    assert sum(t.required_missing for t in score(definition, given, photos).touchpoints) == len(expected)
    assert all(entry.item_key in visible for entry in missing)
