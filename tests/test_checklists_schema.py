"""The checklist format: constants, the published JSON Schema, the hand-written validator and answer checks.

Also home of the ``definitions()`` Hypothesis strategy the other checklist tests import.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopper.checklists.schema import (
    CHANNELS,
    CHECKLIST_SCHEMA,
    ITEM_TYPES,
    KEY_PATTERN,
    AnswerError,
    DefinitionError,
    Problem,
    check_answer,
    check_definition,
    item_index,
    iter_items,
    normalize,
    validate_definition,
)

KEY_RULE = "is not a valid key: use up to 63 lowercase letters, digits and hyphens, starting with a letter or a digit"
TYPE_LIST = "check, rating, choice, text, number, timer, counter, photo, date"
CHANNEL_LIST = "website, phone, email, chat, social, in-person, printed, billing, delivery, other"
FIELD_LIST = (
    "key, type, prompt, help, expect, scale, labels, target_min, target_max, target_max_s, unit, multiple, "
    "max_length, options, weight, required, critical, evidence, flag_if, show_if"
)
SCHEMA_VALIDATOR = jsonschema.Draft202012Validator(CHECKLIST_SCHEMA)
DOC = Path(__file__).resolve().parent.parent / "docs" / "checklist-format.md"
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- strategies shared with the other checklist tests ------------------------------------------------------

KEYS = st.from_regex(r"[a-z0-9][a-z0-9-]{0,10}", fullmatch=True)
#: Free text with every character the CSV encoding has to survive.
TEXT = st.text(alphabet=st.sampled_from(list("ab Z09=+-@'|:!,;\\\t\n\r\"é€") + ["\u00a0"]), max_size=12)
NON_BLANK = TEXT.filter(lambda text: re.search(r"\S", text) is not None)
NUMBERS = st.one_of(
    st.integers(-1000, 1000),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, allow_subnormal=False),
)


def _optional(draw: st.DrawFn, target: dict[str, Any], name: str, strategy: st.SearchStrategy[Any]) -> None:
    if draw(st.booleans()):
        target[name] = draw(strategy)


@st.composite
def possible_answers(draw: st.DrawFn, item: dict[str, Any]) -> Any:
    """One answer ``item`` can have (never None), as show_if would compare it."""
    item_type = item["type"]
    if item_type == "check":
        return draw(st.sampled_from(["yes", "no", "na"]))
    if item_type == "choice":
        return draw(st.sampled_from([option["value"] for option in item["options"]]))
    if item_type == "rating":
        return draw(st.integers(1, item["scale"]))
    if item_type == "counter":
        return draw(st.integers(0, 10000))
    if item_type == "number":
        return draw(NUMBERS)
    if item_type == "timer":
        return draw(st.one_of(st.integers(0, 86400), st.floats(0, 86400, allow_subnormal=False)))
    if item_type == "text":
        return draw(NON_BLANK.filter(lambda text: len(text) <= item.get("max_length", 5000)))
    assert item_type == "date"
    return draw(st.dates()).isoformat()


@st.composite
def items(draw: st.DrawFn, key: str, earlier: list[dict[str, Any]]) -> dict[str, Any]:
    item_type = draw(st.sampled_from(ITEM_TYPES))
    item: dict[str, Any] = {"key": key, "type": item_type, "prompt": draw(NON_BLANK)}
    _optional(draw, item, "help", TEXT)
    _optional(draw, item, "weight", st.one_of(st.integers(0, 10), st.floats(0, 10, allow_subnormal=False)))
    _optional(draw, item, "required", st.booleans())
    _optional(draw, item, "critical", st.booleans())
    if draw(st.booleans()):
        evidence: dict[str, Any] = {}
        _optional(draw, evidence, "prompt", TEXT)
        _optional(draw, evidence, "require", st.sampled_from(["none", "note", "photo"]))
        item["evidence"] = evidence
    _optional(draw, item, "flag_if", st.sampled_from(["breach", "never"]))
    if item_type == "check":
        _optional(draw, item, "expect", st.sampled_from(["yes", "no"]))
    elif item_type == "rating":
        scale = item["scale"] = draw(st.integers(3, 10))
        _optional(draw, item, "labels", st.lists(TEXT, min_size=scale, max_size=scale))
        _optional(draw, item, "target_min", st.integers(1, scale))
    elif item_type == "choice":
        _optional(draw, item, "multiple", st.booleans())
        count = draw(st.integers(2, 5))
        options = []
        for index in range(count):
            option: dict[str, Any] = {"value": f"{draw(KEYS)}-{index}", "label": draw(NON_BLANK)}
            _optional(
                draw,
                option,
                "score",
                st.one_of(st.integers(0, 100), st.floats(0, 100, allow_subnormal=False)),
            )
            _optional(draw, option, "flag", st.booleans())
            options.append(option)
        item["options"] = options
    elif item_type == "text":
        _optional(draw, item, "max_length", st.integers(1, 5000))
    elif item_type == "number":
        _optional(draw, item, "unit", TEXT)
        bounds = sorted(draw(st.lists(NUMBERS, min_size=2, max_size=2)))
        if draw(st.booleans()):
            item["target_min"] = bounds[0]
        if draw(st.booleans()):
            item["target_max"] = bounds[1]
    elif item_type == "timer":
        _optional(draw, item, "target_max_s", st.integers(0, 86400))
    elif item_type == "counter":
        _optional(draw, item, "target_max", st.integers(0, 10000))
        _optional(draw, item, "unit", TEXT)
    sources = [source for source in earlier if source["type"] != "photo"]
    if sources and draw(st.integers(0, 2)) == 0:
        source = draw(st.sampled_from(sources))
        if draw(st.booleans()):
            item["show_if"] = {"item": source["key"], "equals": draw(possible_answers(source))}
        else:
            answers = draw(st.lists(possible_answers(source), min_size=1, max_size=3))
            item["show_if"] = {"item": source["key"], "in": answers}
    return item


@st.composite
def definitions(draw: st.DrawFn, max_touchpoints: int = 4, max_items: int = 5) -> dict[str, Any]:
    """Valid checklist definitions using every field, with unique keys and show_if on earlier items."""
    definition: dict[str, Any] = {"title": draw(NON_BLANK)}
    _optional(draw, definition, "description", TEXT)
    _optional(draw, definition, "critical_cap", st.one_of(st.integers(0, 100), st.floats(0, 100)))
    walk: list[dict[str, Any]] = []
    touchpoints = []
    for index in range(draw(st.integers(1, max_touchpoints))):
        touchpoint: dict[str, Any] = {
            "key": f"{draw(KEYS)}-{index}",
            "title": draw(NON_BLANK),
            "channel": draw(st.sampled_from(CHANNELS)),
        }
        _optional(draw, touchpoint, "promise", TEXT)
        _optional(draw, touchpoint, "guidance", TEXT)
        touchpoint["items"] = []
        for _ in range(draw(st.integers(1, max_items))):
            item = draw(items(f"{draw(KEYS)}-{len(walk)}", walk))
            touchpoint["items"].append(item)
            walk.append(item)
        touchpoints.append(touchpoint)
    definition["touchpoints"] = touchpoints
    return definition


# --- examples ----------------------------------------------------------------------------------------------


def full_definition() -> dict[str, Any]:
    """A valid checklist using every item type and field."""
    return {
        "title": "Billing walk-through",
        "description": "Walk the billing journey as a customer.",
        "critical_cap": 40,
        "touchpoints": [
            {
                "key": "website",
                "title": "Find the price online",
                "channel": "website",
                "promise": "Prices are one tap away.",
                "guidance": "Use your own phone.",
                "items": [
                    {
                        "key": "price-found",
                        "type": "check",
                        "prompt": "Did you find the price?",
                        "help": "Any page counts.",
                        "weight": 2,
                        "required": True,
                        "critical": True,
                        "evidence": {"prompt": "Paste the address.", "require": "note"},
                        "flag_if": "breach",
                        "expect": "yes",
                    },
                    {
                        "key": "ease",
                        "type": "rating",
                        "prompt": "How easy was it?",
                        "scale": 5,
                        "labels": ["Very hard", "Hard", "OK", "Easy", "Effortless"],
                        "target_min": 4,
                    },
                    {
                        "key": "clicks",
                        "type": "counter",
                        "prompt": "Clicks?",
                        "target_max": 3,
                        "unit": "clicks",
                    },
                ],
            },
            {
                "key": "billing",
                "title": "Billing line",
                "channel": "phone",
                "promise": "A person answers within a minute.",
                "items": [
                    {"key": "answer-time", "type": "timer", "prompt": "Time to a person", "target_max_s": 60},
                    {
                        "key": "who",
                        "type": "choice",
                        "prompt": "Who answered?",
                        "options": [
                            {"value": "person", "label": "A person", "score": 100},
                            {"value": "menu", "label": "A phone menu", "score": 40, "flag": False},
                            {"value": "nobody", "label": "Nobody answered", "score": 0, "flag": True},
                        ],
                    },
                    {
                        "key": "topics",
                        "type": "choice",
                        "prompt": "What did they explain?",
                        "multiple": True,
                        "options": [
                            {"value": "amount", "label": "The amount", "score": 100},
                            {"value": "date", "label": "The due date", "score": 50},
                        ],
                        "show_if": {"item": "who", "in": ["person", "menu"]},
                    },
                    {
                        "key": "wait",
                        "type": "number",
                        "prompt": "Minutes on hold",
                        "unit": "min",
                        "target_min": 0,
                        "target_max": 5.5,
                        "weight": 0.5,
                    },
                    {
                        "key": "notes",
                        "type": "text",
                        "prompt": "What went wrong?",
                        "max_length": 500,
                        "show_if": {"item": "price-found", "equals": "no"},
                    },
                    {"key": "screenshot", "type": "photo", "prompt": "Photo of the bill", "evidence": {}},
                    {"key": "visit-date", "type": "date", "prompt": "Date of the call", "flag_if": "never"},
                    {
                        "key": "long-wait",
                        "type": "text",
                        "prompt": "Why so many clicks?",
                        "show_if": {"item": "clicks", "in": [4, 5, 6]},
                    },
                ],
            },
        ],
    }


def minimal(*items: dict[str, Any]) -> dict[str, Any]:
    """A one-touchpoint checklist; the default item is a plain check."""
    return {
        "title": "T",
        "touchpoints": [
            {
                "key": "tp",
                "title": "Touchpoint",
                "channel": "other",
                "items": list(items) or [{"key": "first", "type": "check", "prompt": "First?"}],
            }
        ],
    }


def with_first(item: dict[str, Any]) -> dict[str, Any]:
    """A checklist of a check called "first" followed by ``item``."""
    return minimal({"key": "first", "type": "check", "prompt": "First?"}, item)


def edited(change: Any) -> dict[str, Any]:
    definition = full_definition()
    change(definition)
    return definition


def item_of(definition: dict[str, Any], key: str) -> dict[str, Any]:
    return item_index(definition)[key][1]


VALID = {
    "minimal": minimal(),
    "full": full_definition(),
    "every channel": {
        "title": "Channels",
        "touchpoints": [
            {
                "key": channel,
                "title": channel,
                "channel": channel,
                "items": [{"key": f"i-{n}", "type": "photo", "prompt": "p"}],
            }
            for n, channel in enumerate(CHANNELS)
        ],
    },
    "critical cap 0": {**minimal(), "critical_cap": 0},
    "critical cap 100.0": {**minimal(), "critical_cap": 100.0},
    "empty description": {**minimal(), "description": ""},
    "show_if equals na": with_first(
        {"key": "b", "type": "text", "prompt": "Why?", "show_if": {"item": "first", "equals": "na"}}
    ),
    "show_if on a rating": edited(lambda d: item_of(d, "clicks").update(show_if={"item": "ease", "in": [1, 2.0]})),
    "show_if on a timer": edited(lambda d: item_of(d, "who").update(show_if={"item": "answer-time", "equals": 61.5})),
    "show_if on a number": edited(lambda d: item_of(d, "notes").update(show_if={"item": "wait", "equals": -3})),
    "show_if on a date": edited(lambda d: item_of(d, "visit-date").update(show_if={"item": "notes", "equals": "late"})),
    "show_if on a multiple choice": edited(
        lambda d: item_of(d, "wait").update(show_if={"item": "topics", "equals": "amount"})
    ),
    "show_if across touchpoints": edited(
        lambda d: item_of(d, "answer-time").update(show_if={"item": "price-found", "in": ["yes", "na"]})
    ),
    "empty rating labels": with_first(
        {"key": "r", "type": "rating", "prompt": "R", "scale": 3, "labels": ["", "", ""]}
    ),
    "rating 10 with target 10": with_first(
        {"key": "r", "type": "rating", "prompt": "R", "scale": 10, "target_min": 10}
    ),
    "number with equal targets": with_first(
        {"key": "n", "type": "number", "prompt": "N", "target_min": 2, "target_max": 2}
    ),
    "number with only a minimum": with_first({"key": "n", "type": "number", "prompt": "N", "target_min": -1.5}),
    "weight 0 and 10": minimal(
        {"key": "a", "type": "check", "prompt": "A", "weight": 0},
        {"key": "b", "type": "check", "prompt": "B", "weight": 10},
    ),
    "20 options": with_first(
        {
            "key": "c",
            "type": "choice",
            "prompt": "C",
            "options": [{"value": f"o{n}", "label": f"Option {n}"} for n in range(20)],
        }
    ),
    "longest strings": {
        "title": "t" * 200,
        "description": "d" * 2000,
        "touchpoints": [
            {
                "key": "k" * 63,
                "title": "é" * 200,
                "channel": "email",
                "promise": "p" * 500,
                "guidance": "g" * 2000,
                "items": [
                    {
                        "key": "9" * 63,
                        "type": "text",
                        "prompt": "p" * 500,
                        "help": "h" * 1000,
                        "max_length": 5000,
                    }
                ],
            }
        ],
    },
    "30 touchpoints of 60 items": {
        "title": "Big",
        "touchpoints": [
            {
                "key": f"t{t}",
                "title": "T",
                "channel": "other",
                "items": [{"key": f"t{t}-i{i}", "type": "check", "prompt": "?"} for i in range(60)],
            }
            for t in range(30)
        ],
    },
}


@pytest.mark.parametrize("name", list(VALID))
def test_valid_examples_pass_the_validator_and_the_published_schema(name: str) -> None:
    definition = VALID[name]
    assert validate_definition(definition) == []
    assert list(SCHEMA_VALIDATOR.iter_errors(definition)) == []
    assert check_definition(definition) is definition


def _set(path: str, value: Any) -> Any:
    """An edit of full_definition(): set the field at a dotted path like ``touchpoints[1].items[0].type``."""

    def change(definition: dict[str, Any]) -> None:
        *parents, last = re.findall(r"[^.\[\]]+", path)
        target: Any = definition
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value

    return change


def _delete(path: str) -> Any:
    def change(definition: dict[str, Any]) -> None:
        *parents, last = re.findall(r"[^.\[\]]+", path)
        target: Any = definition
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        del target[last]

    return change


# (edit of full_definition(), path of the problem, the exact message)
STRUCTURAL = [
    (_delete("title"), "title", "is required"),
    (_set("title", ""), "title", "must not be empty"),
    (_set("title", "  \n"), "title", "must not be empty"),
    (_set("title", "x" * 201), "title", "must be at most 200 characters (it has 201)"),
    (_set("title", 7), "title", "must be a string, not 7"),
    (_set("description", "x" * 2001), "description", "must be at most 2000 characters (it has 2001)"),
    (_set("critical_cap", 101), "critical_cap", "must be a number from 0 to 100, not 101"),
    (_set("critical_cap", "50"), "critical_cap", 'must be a number, not "50"'),
    (
        _set("colour", "red"),
        "colour",
        "is not a field of a checklist (allowed: title, description, critical_cap, touchpoints)",
    ),
    (_set("titel", "x"), "titel", 'is not a field of a checklist; did you mean "title"?'),
    (_set("touchpoints", []), "touchpoints", "must have at least 1 touchpoint"),
    (_set("touchpoints", {}), "touchpoints", "must be a list of touchpoints, not an object"),
    (_set("touchpoints[0]", "website"), "touchpoints[0]", 'must be an object (a touchpoint), not "website"'),
    (
        _set("touchpoints[0].key", "Web Site"),
        "touchpoints[0].key",
        f'"Web Site" {KEY_RULE}',
    ),
    (
        _set("touchpoints[0].key", "-web"),
        "touchpoints[0].key",
        f'"-web" {KEY_RULE}',
    ),
    (
        _set("touchpoints[0].key", "k" * 64),
        "touchpoints[0].key",
        f'"{"k" * 37}..." {KEY_RULE}',
    ),
    (_delete("touchpoints[0].channel"), "touchpoints[0].channel", "is required"),
    (
        _set("touchpoints[0].channel", "fax"),
        "touchpoints[0].channel",
        f'"fax" is not a known channel ({CHANNEL_LIST})',
    ),
    (
        _set("touchpoints[0].promise", "p" * 501),
        "touchpoints[0].promise",
        "must be at most 500 characters (it has 501)",
    ),
    (_set("touchpoints[0].guidance", None), "touchpoints[0].guidance", "must be a string, not null"),
    (_set("touchpoints[0].items", []), "touchpoints[0].items", "must have at least 1 item"),
    (
        _set("touchpoints[0].itemz", []),
        "touchpoints[0].itemz",
        'is not a field of a touchpoint; did you mean "items"?',
    ),
    (
        _set("touchpoints[0].items[0]", None),
        "touchpoints[0].items[0]",
        "must be an object (an item), not null",
    ),
    (_delete("touchpoints[0].items[0].prompt"), "touchpoints[0].items[0].prompt", "is required"),
    (_set("touchpoints[0].items[0].prompt", " "), "touchpoints[0].items[0].prompt", "must not be empty"),
    (
        _set("touchpoints[0].items[0].type", "slider"),
        "touchpoints[0].items[0].type",
        f'"slider" is not a known item type ({TYPE_LIST})',
    ),
    (
        _set("touchpoints[0].items[0].weight", 11),
        "touchpoints[0].items[0].weight",
        "must be a number from 0 to 10, not 11",
    ),
    (
        _set("touchpoints[0].items[0].weight", -0.5),
        "touchpoints[0].items[0].weight",
        "must be a number from 0 to 10, not -0.5",
    ),
    (
        _set("touchpoints[0].items[0].weight", True),
        "touchpoints[0].items[0].weight",
        "must be a number, not true",
    ),
    (
        _set("touchpoints[0].items[0].required", 1),
        "touchpoints[0].items[0].required",
        "must be true or false, not 1",
    ),
    (
        _set("touchpoints[0].items[0].critical", "yes"),
        "touchpoints[0].items[0].critical",
        'must be true or false, not "yes"',
    ),
    (
        _set("touchpoints[0].items[0].evidence.require", "video"),
        "touchpoints[0].items[0].evidence.require",
        '"video" is not a known evidence requirement (none, note, photo)',
    ),
    (
        _set("touchpoints[0].items[0].evidence.url", "x"),
        "touchpoints[0].items[0].evidence.url",
        "is not a field of evidence (allowed: prompt, require)",
    ),
    (
        _set("touchpoints[0].items[0].evidence", "note"),
        "touchpoints[0].items[0].evidence",
        'must be an object (the evidence follow-up), not "note"',
    ),
    (
        _set("touchpoints[0].items[0].flag_if", "always"),
        "touchpoints[0].items[0].flag_if",
        '"always" is not a known flag_if value (breach, never)',
    ),
    (
        _set("touchpoints[0].items[0].expect", "true"),
        "touchpoints[0].items[0].expect",
        '"true" is not a known expected answer (yes, no)',
    ),
    (
        _set("touchpoints[0].items[0].scale", 5),
        "touchpoints[0].items[0].scale",
        "is not used by check items (only by rating)",
    ),
    (
        _set("touchpoints[0].items[0].target_max", 5),
        "touchpoints[0].items[0].target_max",
        "is not used by check items (only by number, counter)",
    ),
    (
        _set("touchpoints[0].items[0].colour", 5),
        "touchpoints[0].items[0].colour",
        f"is not a field of an item (allowed: {FIELD_LIST})",
    ),
    (
        _set("touchpoints[0].items[0].requried", True),
        "touchpoints[0].items[0].requried",
        'is not a field of an item; did you mean "required"?',
    ),
    (
        _delete("touchpoints[0].items[1].scale"),
        "touchpoints[0].items[1].scale",
        "is required for rating items",
    ),
    (
        _set("touchpoints[0].items[1].scale", 11),
        "touchpoints[0].items[1].scale",
        "must be a whole number from 3 to 10, not 11",
    ),
    (
        _set("touchpoints[0].items[1].scale", 2),
        "touchpoints[0].items[1].scale",
        "must be a whole number from 3 to 10, not 2",
    ),
    (
        _set("touchpoints[0].items[1].labels", ["a", "b", "c", "d"]),
        "touchpoints[0].items[1].labels",
        "has 4 labels but the scale has 5 points; give one label per point",
    ),
    (
        _set("touchpoints[0].items[1].labels", ["a", "b"]),
        "touchpoints[0].items[1].labels",
        "must have at least 3 labels",
    ),
    (
        _set("touchpoints[0].items[1].labels[2]", 3),
        "touchpoints[0].items[1].labels[2]",
        "must be a string, not 3",
    ),
    (
        _set("touchpoints[0].items[1].labels[2]", "x" * 101),
        "touchpoints[0].items[1].labels[2]",
        "must be at most 100 characters (it has 101)",
    ),
    (
        _set("touchpoints[0].items[1].target_min", 6),
        "touchpoints[0].items[1].target_min",
        "must be a whole number from 1 to 5, not 6",
    ),
    (
        _set("touchpoints[0].items[1].target_min", 0),
        "touchpoints[0].items[1].target_min",
        "must be a whole number from 1 to 5, not 0",
    ),
    (
        _set("touchpoints[0].items[2].target_max", -1),
        "touchpoints[0].items[2].target_max",
        "must be a whole number from 0 to 10000, not -1",
    ),
    (
        _set("touchpoints[0].items[2].unit", "u" * 21),
        "touchpoints[0].items[2].unit",
        "must be at most 20 characters (it has 21)",
    ),
    (
        _set("touchpoints[1].items[0].target_max_s", 86401),
        "touchpoints[1].items[0].target_max_s",
        "must be a whole number from 0 to 86400, not 86401",
    ),
    (
        _set("touchpoints[1].items[0].target_max_s", 1.5),
        "touchpoints[1].items[0].target_max_s",
        "must be a whole number from 0 to 86400, not 1.5",
    ),
    (
        _delete("touchpoints[1].items[1].options"),
        "touchpoints[1].items[1].options",
        "is required for choice items",
    ),
    (
        _set("touchpoints[1].items[1].options", [{"value": "a", "label": "A"}]),
        "touchpoints[1].items[1].options",
        "must have at least 2 options",
    ),
    (
        _set("touchpoints[1].items[1].options[0].value", "A B"),
        "touchpoints[1].items[1].options[0].value",
        f'"A B" {KEY_RULE}',
    ),
    (
        _delete("touchpoints[1].items[1].options[0].label"),
        "touchpoints[1].items[1].options[0].label",
        "is required",
    ),
    (
        _set("touchpoints[1].items[1].options[0].score", 101),
        "touchpoints[1].items[1].options[0].score",
        "must be a number from 0 to 100, not 101",
    ),
    (
        _set("touchpoints[1].items[1].options[0].flag", "no"),
        "touchpoints[1].items[1].options[0].flag",
        'must be true or false, not "no"',
    ),
    (
        _set("touchpoints[1].items[1].options[0].colour", "red"),
        "touchpoints[1].items[1].options[0].colour",
        "is not a field of an option (allowed: value, label, score, flag)",
    ),
    (
        _set("touchpoints[1].items[1].multiple", 0),
        "touchpoints[1].items[1].multiple",
        "must be true or false, not 0",
    ),
    (
        _set("touchpoints[1].items[3].target_min", "0"),
        "touchpoints[1].items[3].target_min",
        'must be a number, not "0"',
    ),
    (
        _set("touchpoints[1].items[4].max_length", 0),
        "touchpoints[1].items[4].max_length",
        "must be a whole number from 1 to 5000, not 0",
    ),
    (
        _set("touchpoints[1].items[4].show_if", "first"),
        "touchpoints[1].items[4].show_if",
        'must be an object (a condition), not "first"',
    ),
    (
        _set("touchpoints[1].items[4].show_if", {"item": "price-found"}),
        "touchpoints[1].items[4].show_if",
        'needs "equals" (one answer) or "in" (a list of answers)',
    ),
    (
        _set("touchpoints[1].items[4].show_if.in", ["no"]),
        "touchpoints[1].items[4].show_if",
        "use either equals or in, not both",
    ),
    (
        _set("touchpoints[1].items[4].show_if.equals", True),
        "touchpoints[1].items[4].show_if.equals",
        "must be a string or a finite number, not true",
    ),
    (
        _set("touchpoints[1].items[4].show_if.equals", None),
        "touchpoints[1].items[4].show_if.equals",
        "must be a string or a finite number, not null",
    ),
    (
        _set("touchpoints[1].items[4].show_if.if", "x"),
        "touchpoints[1].items[4].show_if.if",
        "is not a field of show_if (allowed: item, equals, in)",
    ),
    (
        _set("touchpoints[1].items[2].show_if.in", []),
        "touchpoints[1].items[2].show_if.in",
        "must have at least 1 answer",
    ),
    (
        _set("touchpoints[1].items[2].show_if.in", "person"),
        "touchpoints[1].items[2].show_if.in",
        'must be a list of answers, not "person"',
    ),
    (
        _set("touchpoints[1].items[2].show_if.item", "Who"),
        "touchpoints[1].items[2].show_if.item",
        f'"Who" {KEY_RULE}',
    ),
    (
        _set("touchpoints[1].items[5].unit", "cm"),
        "touchpoints[1].items[5].unit",
        "is not used by photo items (only by number, counter)",
    ),
    (
        _set("touchpoints[1].items[6].options", []),
        "touchpoints[1].items[6].options",
        "is not used by date items (only by choice)",
    ),
]


@pytest.mark.parametrize(("change", "path", "message"), STRUCTURAL)
def test_structural_problems_fail_the_validator_and_the_published_schema(change: Any, path: str, message: str) -> None:
    definition = edited(change)
    assert Problem(path, message) in validate_definition(definition)
    assert not SCHEMA_VALIDATOR.is_valid(definition)


# Rules JSON Schema cannot express: only the validator enforces them.
CROSS_CHECKS = [
    (
        _set("touchpoints[1].key", "website"),
        "touchpoints[1].key",
        'duplicate touchpoint key "website" (also touchpoints[0])',
    ),
    (
        _set("touchpoints[1].items[6].key", "ease"),
        "touchpoints[1].items[6].key",
        'duplicate item key "ease" (also touchpoints[0].items[1])',
    ),
    (
        _set("touchpoints[1].items[1].options[1].value", "person"),
        "touchpoints[1].items[1].options[1].value",
        'duplicate option value "person" (also options[0])',
    ),
    (
        _set("touchpoints[1].items[4].show_if.item", "nope"),
        "touchpoints[1].items[4].show_if.item",
        'there is no item "nope" in this checklist',
    ),
    (
        _set("touchpoints[1].items[4].show_if.item", "notes"),
        "touchpoints[1].items[4].show_if.item",
        "an item cannot depend on itself",
    ),
    (
        _set("touchpoints[0].items[1].show_if", {"item": "who", "equals": "person"}),
        "touchpoints[0].items[1].show_if.item",
        '"who" comes later in the walk; show_if can only point at an earlier item',
    ),
    (
        _set("touchpoints[1].items[4].show_if.equals", "maybe"),
        "touchpoints[1].items[4].show_if.equals",
        '"maybe" is not a possible answer of "price-found" (yes, no, na)',
    ),
    (
        _set("touchpoints[1].items[2].show_if.in", ["person", "robot"]),
        "touchpoints[1].items[2].show_if.in[1]",
        '"robot" is not an option of "who" (person, menu, nobody)',
    ),
    (
        _set("touchpoints[1].items[4].show_if", {"item": "ease", "equals": 6}),
        "touchpoints[1].items[4].show_if.equals",
        '6 is not a possible answer of "ease": rating must be a whole number from 1 to 5',
    ),
    (
        _set("touchpoints[1].items[4].show_if", {"item": "ease", "equals": "4"}),
        "touchpoints[1].items[4].show_if.equals",
        '"4" is not a possible answer of "ease": rating must be a whole number from 1 to 5',
    ),
    (
        _set("touchpoints[1].items[4].show_if", {"item": "clicks", "equals": 1.5}),
        "touchpoints[1].items[4].show_if.equals",
        '1.5 is not a possible answer of "clicks": count must be a whole number from 0 to 10000',
    ),
    (
        _set("touchpoints[1].items[4].show_if", {"item": "answer-time", "equals": -1}),
        "touchpoints[1].items[4].show_if.equals",
        '-1 is not a possible answer of "answer-time": time must be a number of seconds from 0 to 86400',
    ),
    (
        _set("touchpoints[1].items[6].show_if", {"item": "screenshot", "equals": "yes"}),
        "touchpoints[1].items[6].show_if.equals",
        '"screenshot" is a photo item, which has no answer to compare',
    ),
    (
        _set("touchpoints[1].items[7].show_if", {"item": "visit-date", "equals": "2024-02-30"}),
        "touchpoints[1].items[7].show_if.equals",
        '"2024-02-30" is not a possible answer of "visit-date": date must be a real date written YYYY-MM-DD',
    ),
    (
        _set("touchpoints[1].items[6].show_if", {"item": "notes", "equals": "x" * 501}),
        "touchpoints[1].items[6].show_if.equals",
        f'"{"x" * 37}..." is not a possible answer of "notes": text must be at most 500 characters',
    ),
    (
        _set("touchpoints[1].items[6].show_if", {"item": "wait", "equals": "five"}),
        "touchpoints[1].items[6].show_if.equals",
        '"five" is not a possible answer of "wait": the answer must be a finite number',
    ),
    (
        _set("touchpoints[1].items[3].target_min", 6),
        "touchpoints[1].items[3].target_min",
        "must not be more than target_max (6 > 5.5)",
    ),
    (
        _set("touchpoints[0].items[1].scale", 5.0),
        "touchpoints[0].items[1].scale",
        "must be a whole number from 3 to 10, not 5.0",
    ),
    (
        _set("touchpoints[0].items[2].target_max", 3.0),
        "touchpoints[0].items[2].target_max",
        "must be a whole number from 0 to 10000, not 3.0",
    ),
]


@pytest.mark.parametrize(("change", "path", "message"), CROSS_CHECKS)
def test_rules_beyond_json_schema_are_enforced_by_the_validator(change: Any, path: str, message: str) -> None:
    definition = edited(change)
    assert validate_definition(definition) == [Problem(path, message)]
    assert SCHEMA_VALIDATOR.is_valid(definition)  # documents exactly where the schema stops


def test_every_problem_is_reported_not_just_the_first() -> None:
    definition = full_definition()
    definition["title"] = ""
    definition["touchpoints"][0]["channel"] = "fax"
    definition["touchpoints"][0]["items"][1]["labels"] = ["a"] * 4
    definition["touchpoints"][1]["items"][0]["type"] = "slider"
    definition["touchpoints"][1]["items"][4]["show_if"]["equals"] = "maybe"
    definition["touchpoints"][1]["items"][6]["key"] = "who"
    assert [str(problem) for problem in validate_definition(definition)] == [
        "title: must not be empty",
        'touchpoints[0].channel: "fax" is not a known channel (website, phone, email, chat, social, in-person, '
        "printed, billing, delivery, other)",
        "touchpoints[0].items[1].labels: has 4 labels but the scale has 5 points; give one label per point",
        'touchpoints[1].items[0].type: "slider" is not a known item type (check, rating, choice, text, number, '
        "timer, counter, photo, date)",
        'touchpoints[1].items[6].key: duplicate item key "who" (also touchpoints[1].items[1])',
        'touchpoints[1].items[4].show_if.equals: "maybe" is not a possible answer of "price-found" (yes, no, na)',
    ]


def test_an_unknown_type_does_not_flag_type_specific_fields_as_unknown() -> None:
    definition = with_first({"key": "s", "type": "slider", "prompt": "S", "scale": 5, "colour": "red"})
    assert [str(problem) for problem in validate_definition(definition)] == [
        "touchpoints[0].items[1].colour: is not a field of an item (allowed: key, type, prompt, help, expect, scale, "
        "labels, target_min, target_max, target_max_s, unit, multiple, max_length, options, weight, required, "
        "critical, evidence, flag_if, show_if)",
        'touchpoints[0].items[1].type: "slider" is not a known item type (check, rating, choice, text, number, '
        "timer, counter, photo, date)",
    ]


def test_show_if_values_are_not_checked_against_a_broken_source() -> None:
    definition = with_first({"key": "r", "type": "rating", "prompt": "R", "scale": 50})
    definition["touchpoints"][0]["items"].append(
        {"key": "t", "type": "text", "prompt": "T", "show_if": {"item": "r", "equals": 40}}
    )
    assert validate_definition(definition) == [
        Problem("touchpoints[0].items[1].scale", "must be a whole number from 3 to 10, not 50")
    ]


def test_non_finite_numbers_are_refused() -> None:
    definition = edited(_set("touchpoints[0].items[0].weight", math.inf))
    definition["touchpoints"][1]["items"][3]["target_max"] = math.nan
    assert validate_definition(definition) == [
        Problem("touchpoints[0].items[0].weight", "must be a finite number"),
        Problem("touchpoints[1].items[3].target_max", "must be a finite number"),
    ]


def test_too_many_touchpoints_and_items() -> None:
    big = copy.deepcopy(VALID["30 touchpoints of 60 items"])
    big["touchpoints"][0]["items"].append({"key": "extra", "type": "check", "prompt": "?"})
    big["touchpoints"].append(
        {
            "key": "t30",
            "title": "T",
            "channel": "other",
            "items": [{"key": "x", "type": "date", "prompt": "?"}],
        }
    )
    assert validate_definition(big) == [
        Problem("touchpoints", "must have at most 30 touchpoints (it has 31)"),
        Problem("touchpoints[0].items", "must have at most 60 items (it has 61)"),
    ]
    assert not SCHEMA_VALIDATOR.is_valid(big)


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        "checklist",
        3,
        2.5,
        True,
        b"{}",
        {"touchpoints": None, "title": None},
        {1: 2},
        [{"title": "x"}],
    ],
)
def test_the_validator_never_raises_on_garbage(data: Any) -> None:
    problems = validate_definition(data)
    assert problems and all(isinstance(problem, Problem) for problem in problems)


def test_garbage_at_every_level() -> None:
    data = {
        "title": ["x"],
        "touchpoints": [
            3,
            {"key": None, "title": {}, "channel": [], "items": "nope"},
            {
                "key": "a",
                "title": "A",
                "channel": "phone",
                "items": [[], {"type": {"x": 1}, "key": "k", "prompt": 5}],
            },
            {
                "key": "b",
                "title": "B",
                "channel": "phone",
                "items": [
                    {
                        "key": "r",
                        "type": "rating",
                        "prompt": "R",
                        "scale": "5",
                        "labels": "a|b|c",
                        "target_min": 10**400,
                    }
                ],
            },
            {
                "key": "c",
                "title": "C",
                "channel": "phone",
                "items": [
                    {
                        "key": "c",
                        "type": "choice",
                        "prompt": "C",
                        "options": [1, {"value": 2, "label": None, "score": "x"}],
                        "show_if": {"item": 5, "in": [None, [1]]},
                    }
                ],
            },
        ],
    }
    messages = [str(problem) for problem in validate_definition(data)]
    assert messages == [
        "title: must be a string, not a list",
        "touchpoints[0]: must be an object (a touchpoint), not 3",
        "touchpoints[1].key: must be a string, not null",
        "touchpoints[1].title: must be a string, not an object",
        "touchpoints[1].channel: a list is not a known channel (website, phone, email, chat, social, in-person, "
        "printed, billing, delivery, other)",
        'touchpoints[1].items: must be a list of items, not "nope"',
        "touchpoints[2].items[0]: must be an object (an item), not a list",
        "touchpoints[2].items[1].type: an object is not a known item type (check, rating, choice, text, number, "
        "timer, counter, photo, date)",
        "touchpoints[2].items[1].prompt: must be a string, not 5",
        'touchpoints[3].items[0].scale: must be a whole number from 3 to 10, not "5"',
        'touchpoints[3].items[0].labels: must be a list of labels, not "a|b|c"',
        "touchpoints[3].items[0].target_min: must be a whole number from 1 to 10, not a very large number",
        "touchpoints[4].items[0].show_if.item: must be a string, not 5",
        "touchpoints[4].items[0].show_if.in[0]: must be a string or a finite number, not null",
        "touchpoints[4].items[0].show_if.in[1]: must be a string or a finite number, not a list",
        "touchpoints[4].items[0].options[0]: must be an object (an option), not 1",
        "touchpoints[4].items[0].options[1].value: must be a string, not 2",
        "touchpoints[4].items[0].options[1].label: must be a string, not null",
        'touchpoints[4].items[0].options[1].score: must be a number, not "x"',
    ]


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=6)
    | st.sampled_from(
        ["yes", "na", "check", "rating", "choice", "photo", "website", "note", "breach", "first", "ease"]
    ),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["title", "touchpoints", "key", "type", "items", "prompt", "options", "show_if", "item", "x"]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@FAST
@given(JSON_VALUES)
def test_the_validator_never_raises_on_arbitrary_json(data: Any) -> None:
    assert all(isinstance(problem, Problem) for problem in validate_definition(data))


def _containers(value: Any, found: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key or index) in a JSON value."""
    if isinstance(value, dict):
        for name, child in value.items():
            found.append((value, name))
            _containers(child, found)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.append((value, index))
            _containers(child, found)
    return found


#: What only the validator refuses; any other refusal of a schema-valid definition is drift. (A key with a
#: trailing newline passes the schema's pattern in Python's ``re``, not in ECMA-262 regexes.)
VALIDATOR_ONLY = re.compile(
    r"duplicate |comes later|cannot depend on itself|there is no item|is not a possible answer|is not an option of"
    r"|is a photo item|must not be more than target_max|must be a whole number .*, not -?\d+\.0$"
    r'|"[^"]*\\n" is not a valid key'
)


def _agreement(definition: Any) -> str | None:
    """None if the validator and the schema agree on ``definition``, else a description of the drift."""
    problems = validate_definition(definition)
    schema_valid = SCHEMA_VALIDATOR.is_valid(definition)
    if not problems and not schema_valid:
        return "only the schema refuses it"
    if problems and schema_valid and not all(VALIDATOR_ONLY.search(problem.message) for problem in problems):
        return f"only the validator refuses it: {[str(problem) for problem in problems]}"
    return None


def sweep_base() -> dict[str, Any]:
    """The smallest checklist with every type and every field, so sweeping it stays quick."""
    return {
        "title": "T",
        "description": "D",
        "critical_cap": 40,
        "touchpoints": [
            {
                "key": "tp",
                "title": "T",
                "channel": "phone",
                "promise": "P",
                "guidance": "G",
                "items": [
                    {
                        "key": "c",
                        "type": "check",
                        "prompt": "P",
                        "help": "H",
                        "weight": 2,
                        "required": True,
                        "critical": False,
                        "evidence": {"prompt": "E", "require": "note"},
                        "flag_if": "never",
                        "expect": "no",
                    },
                    {
                        "key": "r",
                        "type": "rating",
                        "prompt": "P",
                        "scale": 4,
                        "labels": ["a", "b", "", "d"],
                        "target_min": 3,
                    },
                    {
                        "key": "ch",
                        "type": "choice",
                        "prompt": "P",
                        "multiple": True,
                        "options": [
                            {"value": "a", "label": "A", "score": 50, "flag": True},
                            {"value": "b", "label": "B"},
                        ],
                    },
                    {
                        "key": "t",
                        "type": "text",
                        "prompt": "P",
                        "max_length": 9,
                        "show_if": {"item": "c", "equals": "na"},
                    },
                    {"key": "n", "type": "number", "prompt": "P", "unit": "u", "target_min": -1.5, "target_max": 2},
                    {
                        "key": "tm",
                        "type": "timer",
                        "prompt": "P",
                        "target_max_s": 60,
                        "show_if": {"item": "r", "in": [1, 2]},
                    },
                    {"key": "k", "type": "counter", "prompt": "P", "target_max": 1, "unit": "u"},
                    {"key": "p", "type": "photo", "prompt": "P"},
                    {"key": "d", "type": "date", "prompt": "P"},
                ],
            }
        ],
    }


LENGTHS = {"title": 200, "description": 2000, "promise": 500, "guidance": 2000, "prompt": 500, "help": 1000, "unit": 20}


def _candidates(container: Any, name: Any) -> list[Any]:
    """Replacement values around the edges of what the format allows at ``container[name]``."""
    value = container[name]
    if isinstance(value, bool):
        return [0, "true", None]
    if isinstance(value, int | float):
        return [-1, 0, 0.5, 2, 3.0, 5, 10.5, 11, 101, 5001, 10001, 86401, "1", True, None]
    if isinstance(value, str):
        size = 100 if isinstance(container, list) else LENGTHS.get(name, 200 if name == "label" else 63)
        return ["", " ", "zz", "Web Site", "na", 5, None, "x" * size, "x" * (size + 1)]
    if isinstance(value, list):
        return [[], value[:1], "x", *((value * (size + 1))[: size + 1] for size in (10, 20, 30, 60))]
    return [{}, [], None]


ADDED_FIELDS = {
    "extra": 1, "expect": "no", "scale": 5, "labels": ["a", "b", "c", "d", "e"], "target_min": 1, "target_max": 3,
    "target_max_s": 60, "unit": "u", "multiple": True, "max_length": 10, "options": [], "weight": 1,
    "required": True, "critical": True, "evidence": {}, "flag_if": "never", "show_if": {}, "prompt": "p",
    "require": "note", "equals": "yes", "in": ["yes"], "score": 5, "flag": True, "promise": "p", "help": "h",
}  # fmt: skip


def test_the_schema_and_the_validator_agree_on_every_edge() -> None:
    """Replace every value of a small full example by edge values, delete every field, add every field anywhere."""
    base = sweep_base()
    assert validate_definition(base) == [] and _agreement(base) is None
    drift = []
    for container, name in _containers(base, []):
        for replacement in [*_candidates(container, name), "<delete>"]:
            original = container[name]  # restored as the same object: later positions point into it
            if replacement == "<delete>":
                del container[name]
            else:
                container[name] = replacement
            if (finding := _agreement(base)) is not None:
                drift.append((name, replacement, finding))
            if isinstance(container, list) and replacement == "<delete>":
                container.insert(name, original)
            else:
                container[name] = original
    for container, _ in _containers(base, []):
        if isinstance(container, dict):
            for name, value in ADDED_FIELDS.items():
                if name not in container:
                    container[name] = value
                    if (finding := _agreement(base)) is not None:
                        drift.append((name, value, finding))
                    del container[name]
    assert base == sweep_base()
    assert drift == []


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_the_schema_and_the_validator_agree_on_random_mutations(data: st.DataObject) -> None:
    definition = full_definition()
    for _ in range(data.draw(st.integers(1, 3))):
        container, name = data.draw(st.sampled_from(_containers(definition, [])))
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            container[name] = data.draw(JSON_VALUES)
        elif action == "delete":
            del container[name]
        elif isinstance(container, dict):
            container[data.draw(st.sampled_from(list(ADDED_FIELDS)))] = data.draw(JSON_VALUES)
    assert _agreement(definition) is None


@FAST
@given(definitions())
def test_generated_definitions_are_valid_for_both(definition: dict[str, Any]) -> None:
    assert validate_definition(definition) == []
    assert SCHEMA_VALIDATOR.is_valid(definition)


def test_the_published_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(CHECKLIST_SCHEMA)
    assert CHECKLIST_SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert CHECKLIST_SCHEMA["$defs"]["key"]["pattern"] == KEY_PATTERN
    assert CHECKLIST_SCHEMA["$defs"]["item"]["properties"]["type"]["enum"] == list(ITEM_TYPES)
    assert CHECKLIST_SCHEMA["$defs"]["touchpoint"]["properties"]["channel"]["enum"] == list(CHANNELS)


# --- constants, errors, helpers ----------------------------------------------------------------------------


def test_constants_follow_the_documented_order() -> None:
    assert ITEM_TYPES == ("check", "rating", "choice", "text", "number", "timer", "counter", "photo", "date")
    assert CHANNELS == (
        "website", "phone", "email", "chat", "social", "in-person", "printed", "billing", "delivery", "other"
    )  # fmt: skip
    assert KEY_PATTERN == r"^[a-z0-9][a-z0-9-]{0,62}$"


@pytest.mark.parametrize(
    ("key", "valid"),
    [("a", True), ("0", True), ("billing-line", True), ("a-", True), ("a" * 63, True), ("a" * 64, False),
     ("", False), ("-a", False), ("A", False), ("a_b", False), ("a b", False), ("é", False), ("a\n", False)],
)  # fmt: skip
def test_item_keys_follow_the_key_pattern(key: str, valid: bool) -> None:
    definition = minimal({"key": key, "type": "check", "prompt": "?"})
    assert (validate_definition(definition) == []) is valid


def test_problem_and_definition_error_read_well() -> None:
    problem = Problem("touchpoints[2].items[4].type", '"slider" is not a known item type')
    assert str(problem) == 'touchpoints[2].items[4].type: "slider" is not a known item type'
    error = DefinitionError([problem, Problem("title", "is required")])
    assert isinstance(error, ValueError)
    assert error.problems == [problem, Problem("title", "is required")]
    assert str(error) == (
        "the checklist has 2 problems:\n"
        '- touchpoints[2].items[4].type: "slider" is not a known item type\n'
        "- title: is required"
    )
    assert str(DefinitionError([problem])).startswith("the checklist has 1 problem:\n")


def test_check_definition_raises_with_every_problem() -> None:
    with pytest.raises(DefinitionError) as caught:
        check_definition({"title": "", "touchpoints": []})
    assert caught.value.problems == [
        Problem("title", "must not be empty"),
        Problem("touchpoints", "must have at least 1 touchpoint"),
    ]


def test_iter_items_and_item_index_walk_in_order() -> None:
    definition = full_definition()
    walk = [(touchpoint["key"], item["key"]) for touchpoint, item in iter_items(definition)]
    assert walk == [
        ("website", "price-found"), ("website", "ease"), ("website", "clicks"), ("billing", "answer-time"),
        ("billing", "who"), ("billing", "topics"), ("billing", "wait"), ("billing", "notes"),
        ("billing", "screenshot"), ("billing", "visit-date"), ("billing", "long-wait"),
    ]  # fmt: skip
    index = item_index(definition)
    assert list(index) == [key for _, key in walk]
    touchpoint, item = index["who"]
    assert touchpoint is definition["touchpoints"][1]
    assert item is definition["touchpoints"][1]["items"][1]


def test_normalize_drops_defaults_only() -> None:
    definition = minimal(
        {
            "key": "a",
            "type": "check",
            "prompt": "A",
            "help": "",
            "weight": 1.0,
            "required": False,
            "critical": True,
            "flag_if": "breach",
            "expect": "yes",
            "evidence": {"prompt": "", "require": "none"},
        },
        {
            "key": "b",
            "type": "choice",
            "prompt": "B",
            "multiple": False,
            "options": [
                {"value": "x", "label": "X", "score": 0, "flag": False},
                {"value": "y", "label": "Y", "score": 5},
            ],
            "evidence": {"require": "note"},
        },
        {"key": "c", "type": "counter", "prompt": "C", "unit": "", "target_max": 0, "weight": 0},
        {"key": "d", "type": "text", "prompt": "D", "max_length": 5000},
    )
    definition.update(description="", critical_cap=50)
    definition["touchpoints"][0].update(promise="", guidance="")
    original = copy.deepcopy(definition)
    assert normalize(definition) == {
        "title": "T",
        "touchpoints": [
            {
                "key": "tp",
                "title": "Touchpoint",
                "channel": "other",
                "items": [
                    {"key": "a", "type": "check", "prompt": "A", "critical": True},
                    {
                        "key": "b",
                        "type": "choice",
                        "prompt": "B",
                        "options": [{"value": "x", "label": "X"}, {"value": "y", "label": "Y", "score": 5}],
                        "evidence": {"require": "note"},
                    },
                    {"key": "c", "type": "counter", "prompt": "C", "target_max": 0, "weight": 0},
                    {"key": "d", "type": "text", "prompt": "D"},
                ],
            }
        ],
    }
    assert definition == original  # not modified in place


@FAST
@given(definitions())
def test_normalize_keeps_meaning_and_is_idempotent(definition: dict[str, Any]) -> None:
    normal = normalize(definition)
    assert validate_definition(normal) == []
    assert normalize(normal) == normal


# --- answers -----------------------------------------------------------------------------------------------

CHECK = {"key": "c", "type": "check", "prompt": "?"}
RATING = {"key": "r", "type": "rating", "prompt": "?", "scale": 5}
CHOICE = {
    "key": "ch",
    "type": "choice",
    "prompt": "?",
    "options": [
        {"value": "yes", "label": "Yes"},
        {"value": "no", "label": "No"},
        {"value": "na", "label": "N/A"},
    ],
}
MULTIPLE = {**CHOICE, "multiple": True}
TEXT_ITEM = {"key": "t", "type": "text", "prompt": "?", "max_length": 5}


@pytest.mark.parametrize(
    ("item", "value", "expected"),
    [
        (CHECK, "yes", "yes"),
        (CHECK, "no", "no"),
        (CHECK, "na", "na"),
        (RATING, 1, 1),
        (RATING, 5, 5),
        (RATING, 4.0, 4),
        (CHOICE, "na", "na"),
        (MULTIPLE, ["no", "yes", "no"], ["no", "yes"]),
        (MULTIPLE, [], []),
        (MULTIPLE, ("na",), ["na"]),
        (TEXT_ITEM, "hello", "hello"),
        (TEXT_ITEM, "   ", None),
        (TEXT_ITEM, "", None),
        ({"key": "n", "type": "number", "prompt": "?"}, -2.5, -2.5),
        ({"key": "n", "type": "number", "prompt": "?"}, 10**20, 10**20),
        ({"key": "tm", "type": "timer", "prompt": "?"}, 61.25, 61.25),
        ({"key": "tm", "type": "timer", "prompt": "?"}, 0, 0),
        ({"key": "tm", "type": "timer", "prompt": "?"}, 86400, 86400),
        ({"key": "k", "type": "counter", "prompt": "?"}, 3.0, 3),
        ({"key": "k", "type": "counter", "prompt": "?"}, 10000, 10000),
        ({"key": "d", "type": "date", "prompt": "?"}, "2024-02-29", "2024-02-29"),
        ({"key": "d", "type": "date", "prompt": "?"}, dt.date(2024, 3, 1), "2024-03-01"),
        ({"key": "p", "type": "photo", "prompt": "?"}, None, None),
        (CHECK, None, None),
        (RATING, None, None),
    ],
)
def test_check_answer_accepts_and_normalises(item: dict[str, Any], value: Any, expected: Any) -> None:
    result = check_answer(item, value)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("item", "value", "message"),
    [
        (CHECK, "maybe", "'maybe' is not an option; choose one of: yes, no, na"),
        (CHECK, True, "true is not an option; choose one of: yes, no, na"),
        (CHECK, "YES", "'YES' is not an option; choose one of: yes, no, na"),
        (RATING, 6, "rating must be a whole number from 1 to 5"),
        (RATING, 0, "rating must be a whole number from 1 to 5"),
        (RATING, 2.5, "rating must be a whole number from 1 to 5"),
        (RATING, "3", "rating must be a whole number from 1 to 5"),
        (RATING, True, "rating must be a whole number from 1 to 5"),
        (CHOICE, "maybe", "'maybe' is not an option; choose one of: yes, no, na"),
        (CHOICE, ["yes"], "a list is not an option; choose one of: yes, no, na"),
        (MULTIPLE, "yes", "choose a list of options from: yes, no, na"),
        (MULTIPLE, ["yes", "maybe"], "'maybe' is not an option; choose one of: yes, no, na"),
        (TEXT_ITEM, "toolong", "text must be at most 5 characters"),
        (TEXT_ITEM, 5, "text must be a string"),
        ({"key": "n", "type": "number", "prompt": "?"}, math.nan, "the answer must be a finite number"),
        ({"key": "n", "type": "number", "prompt": "?"}, "12", "the answer must be a finite number"),
        ({"key": "n", "type": "number", "prompt": "?"}, False, "the answer must be a finite number"),
        (
            {"key": "tm", "type": "timer", "prompt": "?"},
            -1,
            "time must be a number of seconds from 0 to 86400",
        ),
        (
            {"key": "tm", "type": "timer", "prompt": "?"},
            86400.5,
            "time must be a number of seconds from 0 to 86400",
        ),
        (
            {"key": "tm", "type": "timer", "prompt": "?"},
            math.inf,
            "time must be a number of seconds from 0 to 86400",
        ),
        ({"key": "k", "type": "counter", "prompt": "?"}, -1, "count must be a whole number from 0 to 10000"),
        ({"key": "k", "type": "counter", "prompt": "?"}, 1.5, "count must be a whole number from 0 to 10000"),
        (
            {"key": "k", "type": "counter", "prompt": "?"},
            10001,
            "count must be a whole number from 0 to 10000",
        ),
        (
            {"key": "d", "type": "date", "prompt": "?"},
            "2023-02-29",
            "date must be a real date written YYYY-MM-DD",
        ),
        (
            {"key": "d", "type": "date", "prompt": "?"},
            "20240101",
            "date must be a real date written YYYY-MM-DD",
        ),
        (
            {"key": "d", "type": "date", "prompt": "?"},
            "2024-01-01T10:00",
            "date must be a real date written YYYY-MM-DD",
        ),
        (
            {"key": "d", "type": "date", "prompt": "?"},
            dt.datetime(2024, 1, 1),
            "date must be a real date written YYYY-MM-DD",
        ),
        (
            {"key": "p", "type": "photo", "prompt": "?"},
            "img.jpg",
            "a photo item takes photos, not an answer value",
        ),
    ],
)
def test_check_answer_refuses_with_a_clear_message(item: dict[str, Any], value: Any, message: str) -> None:
    with pytest.raises(AnswerError) as caught:
        check_answer(item, value)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


# --- the documentation -------------------------------------------------------------------------------------


def doc_json_blocks() -> dict[str, Any]:
    """The ```json blocks of docs/checklist-format.md that follow a heading, keyed by that heading."""
    blocks: dict[str, Any] = {}
    heading = ""
    for match in re.finditer(r"^(#+ [^\n]+)$|^```json\n(.*?)^```$", DOC.read_text(encoding="utf-8"), re.M | re.S):
        if match.group(1):
            heading = match.group(1).lstrip("# ").strip()
        else:
            blocks[heading] = json.loads(match.group(2))
    return blocks


def test_the_documented_schema_is_the_published_schema() -> None:
    assert doc_json_blocks()["JSON Schema"] == CHECKLIST_SCHEMA


def test_the_documented_example_is_valid() -> None:
    example = doc_json_blocks()["Worked example"]
    assert validate_definition(example) == []
    assert SCHEMA_VALIDATOR.is_valid(example)


def test_the_documented_tables_list_every_type_and_channel() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert ", ".join(f"`{channel}`" for channel in CHANNELS) in text
    assert ", ".join(f"`{item_type}`" for item_type in ITEM_TYPES) in text
