"""The checklist format of docs/checklist-format.md: constants, the published JSON Schema, the validator.

The validator is hand-written so the runtime does not depend on ``jsonschema``; it checks everything
``CHECKLIST_SCHEMA`` checks, plus the rules JSON Schema cannot express (unique keys, ``show_if`` references,
label counts...). The tests keep the two in agreement. What differs between item types is asked of the
registry in ``shopper.checklists.items``.
"""

from __future__ import annotations

import copy
import difflib
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from shopper.checklists.items import ITEM_TYPES, REGISTRY, UnknownItemType, item_type
from shopper.checklists.items.base import (
    MAX_TEXT,
    NOT_BLANK,
    is_finite,
    is_number,
    plural,
    string_schema,
)
from shopper.checklists.items.base import AnswerError as AnswerError
from shopper.checklists.items.base import describe as describe
from shopper.checklists.items.choice import OPTION_FIELDS as OPTION_FIELDS

CHANNELS = (
    "website",
    "phone",
    "email",
    "chat",
    "social",
    "in-person",
    "printed",
    "billing",
    "delivery",
    "other",
)
KEY_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"

EVIDENCE_REQUIRE = ("none", "note", "photo")
FLAG_IF = ("breach", "never")
DEFAULT_CRITICAL_CAP = 50

TOP_FIELDS = ("title", "description", "critical_cap", "touchpoints")
TOUCHPOINT_FIELDS = ("key", "title", "channel", "promise", "guidance", "items")
COMMON_ITEM_FIELDS = (
    "key",
    "type",
    "prompt",
    "help",
    "weight",
    "required",
    "critical",
    "evidence",
    "flag_if",
    "show_if",
)
TYPE_FIELDS: dict[str, tuple[str, ...]] = {name: kind.fields for name, kind in REGISTRY.items()}
#: Every item field, in the order the JSON export writes them.
ITEM_FIELDS = (
    "key",
    "type",
    "prompt",
    "help",
    "expect",
    "scale",
    "labels",
    "target_min",
    "target_max",
    "target_max_s",
    "unit",
    "multiple",
    "max_length",
    "options",
    "weight",
    "required",
    "critical",
    "evidence",
    "flag_if",
    "show_if",
)
EVIDENCE_FIELDS = ("prompt", "require")
SHOW_IF_FIELDS = ("item", "equals", "in")

TOP_DEFAULTS: dict[str, Any] = {"description": "", "critical_cap": DEFAULT_CRITICAL_CAP}
TOUCHPOINT_DEFAULTS: dict[str, Any] = {"promise": "", "guidance": ""}
ITEM_DEFAULTS: dict[str, Any] = {
    "help": "",
    "weight": 1,
    "required": False,
    "critical": False,
    "flag_if": "breach",
    "expect": "yes",
    "multiple": False,
    "max_length": MAX_TEXT,
    "unit": "",
}
EVIDENCE_DEFAULTS: dict[str, Any] = {"prompt": "", "require": "none"}
OPTION_DEFAULTS: dict[str, Any] = {"score": 0, "flag": False}

_KEY_RE = re.compile(KEY_PATTERN)
_NOT_BLANK_RE = re.compile(NOT_BLANK)

# Length limits shared by the schema and the validator.
_TITLE_MAX = 200
_DESCRIPTION_MAX = 2000
_PROMISE_MAX = 500
_GUIDANCE_MAX = 2000
_PROMPT_MAX = 500
_HELP_MAX = 1000
_OPTION_LABEL_MAX = 200


# --- the published JSON Schema ---------------------------------------------------------------------------


def _type_rule(name: str) -> dict[str, Any]:
    """An item of type ``name`` has that type's fields in that type's shape, and no other type's fields."""
    rule = item_type(name).schema()
    then = {
        "properties": rule.pop("properties"),
        "propertyNames": {"enum": [*COMMON_ITEM_FIELDS, *TYPE_FIELDS[name]]},
        **rule,
    }
    return {"if": {"properties": {"type": {"const": name}}, "required": ["type"]}, "then": then}


def _build_schema() -> dict[str, Any]:
    item_rules = [_type_rule(name) for name in ITEM_TYPES]
    answer = {"type": ["string", "number"], "maxLength": MAX_TEXT}
    item_properties: dict[str, Any] = {
        "key": {"$ref": "#/$defs/key"},
        "type": {"enum": list(ITEM_TYPES)},
        "prompt": string_schema(_PROMPT_MAX, not_blank=True),
        "help": string_schema(_HELP_MAX),
        "weight": {"type": "number", "minimum": 0, "maximum": 10},
        "required": {"type": "boolean"},
        "critical": {"type": "boolean"},
        "evidence": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"prompt": string_schema(_PROMPT_MAX), "require": {"enum": list(EVIDENCE_REQUIRE)}},
        },
        "flag_if": {"enum": list(FLAG_IF)},
        "show_if": {"$ref": "#/$defs/show_if"},
    }
    # Type-specific fields are listed here so additionalProperties accepts them; each type's rule above
    # gives their real shape and refuses the fields of other types.
    item_properties.update({name: True for name in ITEM_FIELDS if name not in item_properties})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Shopper checklist",
        "type": "object",
        "required": ["title", "touchpoints"],
        "additionalProperties": False,
        "properties": {
            "title": string_schema(_TITLE_MAX, not_blank=True),
            "description": string_schema(_DESCRIPTION_MAX),
            "critical_cap": {"type": "number", "minimum": 0, "maximum": 100},
            "touchpoints": {
                "type": "array",
                "minItems": 1,
                "maxItems": 30,
                "items": {"$ref": "#/$defs/touchpoint"},
            },
        },
        "$defs": {
            "key": {"type": "string", "pattern": KEY_PATTERN},
            "touchpoint": {
                "type": "object",
                "required": ["key", "title", "channel", "items"],
                "additionalProperties": False,
                "properties": {
                    "key": {"$ref": "#/$defs/key"},
                    "title": string_schema(_TITLE_MAX, not_blank=True),
                    "channel": {"enum": list(CHANNELS)},
                    "promise": string_schema(_PROMISE_MAX),
                    "guidance": string_schema(_GUIDANCE_MAX),
                    "items": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 60,
                        "items": {"$ref": "#/$defs/item"},
                    },
                },
            },
            "item": {
                "type": "object",
                "required": ["key", "type", "prompt"],
                "additionalProperties": False,
                "properties": item_properties,
                "allOf": item_rules,
            },
            "option": {
                "type": "object",
                "required": ["value", "label"],
                "additionalProperties": False,
                "properties": {
                    "value": {"$ref": "#/$defs/key"},
                    "label": string_schema(_OPTION_LABEL_MAX, not_blank=True),
                    "score": {"type": "number", "minimum": 0, "maximum": 100},
                    "flag": {"type": "boolean"},
                },
            },
            "show_if": {
                "type": "object",
                "required": ["item"],
                "additionalProperties": False,
                "properties": {
                    "item": {"$ref": "#/$defs/key"},
                    "equals": answer,
                    "in": {"type": "array", "minItems": 1, "maxItems": 20, "items": answer},
                },
                "oneOf": [{"required": ["equals"]}, {"required": ["in"]}],
            },
        },
    }


CHECKLIST_SCHEMA: dict[str, Any] = _build_schema()


# --- problems ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a definition; ``path`` is like ``touchpoints[2].items[4].type``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class DefinitionError(ValueError):
    """A checklist definition (or an import) was refused; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        head = "the checklist has 1 problem" if count == 1 else f"the checklist has {count} problems"
        super().__init__("\n".join([head + ":", *(f"- {problem}" for problem in self.problems)]))


def _join(path: str, field: str) -> str:
    return f"{path}.{field}" if path else field


# --- the validator -----------------------------------------------------------------------------------------


@dataclass
class _Entry:
    """An item seen by the validator, for the checks that span the whole checklist."""

    path: str
    position: int
    item: dict[str, Any]


class _Validator:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.touchpoints: list[tuple[str, dict[str, Any]]] = []
        self.items: list[_Entry] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path or "(document)", message))

    # generic checks; each returns whether the value is usable for further checks

    def fields(self, path: str, value: dict[Any, Any], allowed: tuple[str, ...], what: str) -> None:
        for name in value:
            if name not in allowed:
                self.unknown(path, name, allowed, what)

    def unknown(self, path: str, name: Any, allowed: tuple[str, ...], what: str) -> None:
        text = str(name)
        close = difflib.get_close_matches(text, allowed, n=1)
        hint = f'; did you mean "{close[0]}"?' if close else f" (allowed: {', '.join(allowed)})"
        self.add(_join(path, text), f"is not a field of {what}{hint}")

    def has(self, path: str, value: dict[Any, Any], name: str, *, required: bool = False) -> bool:
        """Whether ``value`` has the field; a missing required field is reported."""
        if name in value:
            return True
        if required:
            self.add(_join(path, name), "is required")
        return False

    def object(self, path: str, value: Any, what: str) -> bool:
        if isinstance(value, dict):
            return True
        self.add(path, f"must be an object ({what}), not {describe(value)}")
        return False

    def text(self, path: str, value: Any, max_length: int, *, not_blank: bool = False) -> bool:
        if not isinstance(value, str):
            self.add(path, f"must be a string, not {describe(value)}")
            return False
        if not_blank and not _NOT_BLANK_RE.search(value):
            self.add(path, "must not be empty")
            return False
        if len(value) > max_length:
            self.add(path, f"must be at most {max_length} characters (it has {len(value)})")
            return False
        return True

    def boolean(self, path: str, value: Any) -> None:
        if not isinstance(value, bool):
            self.add(path, f"must be true or false, not {describe(value)}")

    def number(self, path: str, value: Any, low: float | None = None, high: float | None = None) -> bool:
        if not is_number(value):
            self.add(path, f"must be a number, not {describe(value)}")
            return False
        if not is_finite(value):
            self.add(path, "must be a finite number")
            return False
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
            self.add(path, f"must be a number {bounds}, not {describe(value)}")
            return False
        return True

    def whole(self, path: str, value: Any, low: int, high: int) -> bool:
        if not (is_finite(value) and isinstance(value, int)) or not low <= value <= high:
            self.add(path, f"must be a whole number from {low} to {high}, not {describe(value)}")
            return False
        return True

    def choice(self, path: str, value: Any, allowed: tuple[str, ...], what: str) -> bool:
        if isinstance(value, str) and value in allowed:
            return True
        self.add(path, f"{describe(value)} is not a known {what} ({', '.join(allowed)})")
        return False

    def key(self, path: str, value: Any) -> bool:
        if isinstance(value, str) and _KEY_RE.fullmatch(value):
            return True
        if not isinstance(value, str):
            self.add(path, f"must be a string, not {describe(value)}")
        else:
            self.add(
                path,
                f"{describe(value)} is not a valid key: use up to 63 lowercase letters, digits and hyphens, "
                "starting with a letter or a digit",
            )
        return False

    def array(self, path: str, value: Any, low: int, high: int, noun: str) -> bool:
        if not isinstance(value, list):
            self.add(path, f"must be a list of {noun}s, not {describe(value)}")
            return False
        if len(value) < low:
            self.add(path, f"must have at least {plural(low, noun)}")
        elif len(value) > high:
            self.add(path, f"must have at most {plural(high, noun)} (it has {len(value)})")
        return True

    # the format

    def definition(self, data: Any) -> None:
        if not isinstance(data, dict):
            self.add("", f"must be a JSON object with a title and touchpoints, not {describe(data)}")
            return
        self.fields("", data, TOP_FIELDS, "a checklist")
        if self.has("", data, "title", required=True):
            self.text("title", data["title"], _TITLE_MAX, not_blank=True)
        if "description" in data:
            self.text("description", data["description"], _DESCRIPTION_MAX)
        if "critical_cap" in data:
            self.number("critical_cap", data["critical_cap"], 0, 100)
        if self.has("", data, "touchpoints", required=True) and self.array(
            "touchpoints", data["touchpoints"], 1, 30, "touchpoint"
        ):
            for index, touchpoint in enumerate(data["touchpoints"]):
                self.touchpoint(f"touchpoints[{index}]", touchpoint)
        self.unique_keys()
        self.conditions()

    def touchpoint(self, path: str, touchpoint: Any) -> None:
        if not self.object(path, touchpoint, "a touchpoint"):
            return
        self.touchpoints.append((path, touchpoint))
        self.fields(path, touchpoint, TOUCHPOINT_FIELDS, "a touchpoint")
        if self.has(path, touchpoint, "key", required=True):
            self.key(_join(path, "key"), touchpoint["key"])
        if self.has(path, touchpoint, "title", required=True):
            self.text(_join(path, "title"), touchpoint["title"], _TITLE_MAX, not_blank=True)
        if self.has(path, touchpoint, "channel", required=True):
            self.choice(_join(path, "channel"), touchpoint["channel"], CHANNELS, "channel")
        if "promise" in touchpoint:
            self.text(_join(path, "promise"), touchpoint["promise"], _PROMISE_MAX)
        if "guidance" in touchpoint:
            self.text(_join(path, "guidance"), touchpoint["guidance"], _GUIDANCE_MAX)
        items = touchpoint.get("items")
        if self.has(path, touchpoint, "items", required=True) and self.array(
            _join(path, "items"), items, 1, 60, "item"
        ):
            for index, item in enumerate(items):
                self.item(f"{path}.items[{index}]", item)

    def item(self, path: str, item: Any) -> None:
        if not self.object(path, item, "an item"):
            return
        self.items.append(_Entry(path, len(self.items), item))
        kind = item.get("type")
        known = isinstance(kind, str) and kind in TYPE_FIELDS
        for name in item:
            if name in COMMON_ITEM_FIELDS or (known and name in TYPE_FIELDS[kind]):
                continue
            if name in ITEM_FIELDS:
                if known:
                    owners = [t for t, names in TYPE_FIELDS.items() if name in names]
                    self.add(_join(path, name), f"is not used by {kind} items (only by {', '.join(owners)})")
            else:
                self.unknown(path, name, ITEM_FIELDS, "an item")
        at = functools.partial(_join, path)
        if self.has(path, item, "key", required=True):
            self.key(at("key"), item["key"])
        if self.has(path, item, "type", required=True):
            self.choice(at("type"), kind, ITEM_TYPES, "item type")
        if self.has(path, item, "prompt", required=True):
            self.text(at("prompt"), item["prompt"], _PROMPT_MAX, not_blank=True)
        if "help" in item:
            self.text(at("help"), item["help"], _HELP_MAX)
        if "weight" in item:
            self.number(at("weight"), item["weight"], 0, 10)
        for name in ("required", "critical"):
            if name in item:
                self.boolean(at(name), item[name])
        if "evidence" in item and self.object(at("evidence"), item["evidence"], "the evidence follow-up"):
            evidence = item["evidence"]
            self.fields(at("evidence"), evidence, EVIDENCE_FIELDS, "evidence")
            if "prompt" in evidence:
                self.text(at("evidence.prompt"), evidence["prompt"], _PROMPT_MAX)
            if "require" in evidence:
                self.choice(at("evidence.require"), evidence["require"], EVIDENCE_REQUIRE, "evidence requirement")
        if "flag_if" in item:
            self.choice(at("flag_if"), item["flag_if"], FLAG_IF, "flag_if value")
        if "show_if" in item:
            self.show_if(at("show_if"), item["show_if"])
        if known:
            item_type(kind).check_item(self, path, item)

    def show_if(self, path: str, condition: Any) -> None:
        if not self.object(path, condition, "a condition"):
            return
        self.fields(path, condition, SHOW_IF_FIELDS, "show_if")
        if self.has(path, condition, "item", required=True):
            self.key(_join(path, "item"), condition["item"])
        if "equals" in condition and "in" in condition:
            self.add(path, "use either equals or in, not both")
        elif "equals" not in condition and "in" not in condition:
            self.add(path, 'needs "equals" (one answer) or "in" (a list of answers)')
        if "equals" in condition:
            self.answer_value(_join(path, "equals"), condition["equals"])
        if "in" in condition and self.array(_join(path, "in"), condition["in"], 1, 20, "answer"):
            for index, value in enumerate(condition["in"]):
                self.answer_value(f"{path}.in[{index}]", value)

    def answer_value(self, path: str, value: Any) -> None:
        if isinstance(value, str):
            self.text(path, value, MAX_TEXT)
        elif not is_finite(value):
            self.add(path, f"must be a string or a finite number, not {describe(value)}")

    # checks across the whole checklist

    def unique_keys(self) -> None:
        seen: dict[str, str] = {}
        for path, touchpoint in self.touchpoints:
            key = touchpoint.get("key")
            if isinstance(key, str) and _KEY_RE.fullmatch(key):
                if key in seen:
                    self.add(_join(path, "key"), f"duplicate touchpoint key {describe(key)} (also {seen[key]})")
                else:
                    seen[key] = path
        seen = {}
        for entry in self.items:
            key = entry.item.get("key")
            if isinstance(key, str) and _KEY_RE.fullmatch(key):
                if key in seen:
                    self.add(_join(entry.path, "key"), f"duplicate item key {describe(key)} (also {seen[key]})")
                else:
                    seen[key] = entry.path

    def conditions(self) -> None:
        by_key: dict[str, _Entry] = {}
        for entry in self.items:
            key = entry.item.get("key")
            if isinstance(key, str):
                by_key.setdefault(key, entry)
        faulty = {problem.path for problem in self.problems}
        for entry in self.items:
            condition = entry.item.get("show_if")
            if not isinstance(condition, dict) or not isinstance(condition.get("item"), str):
                continue
            at = _join(entry.path, "show_if")
            ref = condition["item"]
            source = by_key.get(ref)
            if source is None:
                self.add(_join(at, "item"), f"there is no item {describe(ref)} in this checklist")
                continue
            if source.position == entry.position:
                self.add(_join(at, "item"), "an item cannot depend on itself")
                continue
            if source.position > entry.position:
                self.add(
                    _join(at, "item"),
                    f"{describe(ref)} comes later in the walk; show_if can only point at an earlier item",
                )
                continue
            if any(_concerns_answers(path, source.path) for path in faulty):
                continue  # the source item has its own problems, so its possible answers are unknown
            if "equals" in condition:
                self.possible_answer(_join(at, "equals"), source.item, condition["equals"])
            if isinstance(condition.get("in"), list):
                for index, value in enumerate(condition["in"]):
                    self.possible_answer(f"{at}.in[{index}]", source.item, value)

    def possible_answer(self, path: str, source: dict[str, Any], value: Any) -> None:
        if not (isinstance(value, str) or is_finite(value)):
            return  # already reported as a bad value
        problem = item_type(source["type"]).condition_problem(source, value)
        if problem is not None:
            self.add(path, problem)


def _concerns_answers(problem_path: str, item_path: str) -> bool:
    """Whether a problem at ``problem_path`` makes the answers of the item at ``item_path`` unknowable."""
    if problem_path == item_path:
        return True
    return problem_path.startswith(item_path + ".") and not problem_path.startswith(item_path + ".show_if")


def validate_definition(data: Any) -> list[Problem]:
    """Every problem with a checklist definition, in document order (then the cross-checks); [] if valid.

    Never raises, whatever ``data`` is.
    """
    validator = _Validator()
    validator.definition(data)
    return validator.problems


def check_definition(data: Any) -> dict[str, Any]:
    """Return ``data`` unchanged if it is a valid definition; raise DefinitionError otherwise."""
    problems = validate_definition(data)
    if problems:
        raise DefinitionError(problems)
    definition: dict[str, Any] = data
    return definition


# --- answers -----------------------------------------------------------------------------------------------


def check_answer(item: dict[str, Any], value: Any) -> Any:
    """Validate an answer for a (valid) item and return it normalised; None (cleared) is always accepted.

    Rating and counter answers come back as int (3.0 -> 3); a multiple choice comes back as a list without
    repeats; a blank text answer comes back as None, since it says nothing.
    """
    if value is None:
        return None
    try:
        kind = item_type(item.get("type"))
    except UnknownItemType:
        raise AnswerError(f"{describe(item.get('type'))} is not a known item type") from None
    return kind.clean(item, value)


# --- walking a definition ----------------------------------------------------------------------------------


def iter_items(definition: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Yield ``(touchpoint, item)`` for every item of a valid definition, in walk order."""
    for touchpoint in definition["touchpoints"]:
        for item in touchpoint["items"]:
            yield touchpoint, item


def item_index(definition: dict[str, Any]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Map each item key to its ``(touchpoint, item)``."""
    return {item["key"]: (touchpoint, item) for touchpoint, item in iter_items(definition)}


def _is_default(value: Any, default: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return value is default
    return bool(value == default)


def _without_defaults(data: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    return {
        name: value for name, value in data.items() if not (name in defaults and _is_default(value, defaults[name]))
    }


def normalize(definition: dict[str, Any]) -> dict[str, Any]:
    """A copy of a valid definition without the fields that equal their defaults (and without empty evidence).

    Two definitions that mean the same thing normalise to equal dicts.
    """
    result = _without_defaults(copy.deepcopy(definition), TOP_DEFAULTS)
    touchpoints = []
    for touchpoint in result["touchpoints"]:
        touchpoint = _without_defaults(touchpoint, TOUCHPOINT_DEFAULTS)
        items = []
        for item in touchpoint["items"]:
            item = _without_defaults(item, ITEM_DEFAULTS)
            if "evidence" in item:
                evidence = _without_defaults(item["evidence"], EVIDENCE_DEFAULTS)
                if evidence:
                    item["evidence"] = evidence
                else:
                    del item["evidence"]
            if "options" in item:
                item["options"] = [_without_defaults(option, OPTION_DEFAULTS) for option in item["options"]]
            items.append(item)
        touchpoint["items"] = items
        touchpoints.append(touchpoint)
    result["touchpoints"] = touchpoints
    return result
