"""The checklist format of docs/checklist-format.md: constants, the published JSON Schema, the validator.

The validator checks the structure with ``jsonschema`` against ``CHECKLIST_SCHEMA`` itself, in words a person
understands, and by hand only what JSON Schema cannot express (unique keys, ``show_if`` references, target
ranges...). What differs between item types is asked of the registry in ``shopper.checklists.items``.
"""

from __future__ import annotations

import copy
import difflib
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator, TypeChecker, ValidationError, validators

from shopper.checklists.items import ITEM_TYPES, REGISTRY, UnknownItemType, item_type, known_type
from shopper.checklists.items.base import (
    MAX_TEXT,
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
# The structure is checked by ``jsonschema`` against CHECKLIST_SCHEMA itself; each error is put in words by
# ``_say``. By hand remain only what JSON Schema cannot say: whole numbers written 5.0, finite numbers, keys
# ending in a newline (Python's ``re`` lets "$" match before it), and the cross-references (``_CrossChecks``).

KEY_RULE = "is not a valid key: use up to 63 lowercase letters, digits and hyphens, starting with a letter or a digit"

#: kind of object -> (how messages name it, its fields in the order problems are reported)
_OBJECTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "": ("a checklist", TOP_FIELDS),
    "touchpoint": ("a touchpoint", TOUCHPOINT_FIELDS),
    "item": ("an item", ITEM_FIELDS),
    "option": ("an option", OPTION_FIELDS),
    "evidence": ("evidence", EVIDENCE_FIELDS),
    "show_if": ("show_if", SHOW_IF_FIELDS),
}
_OBJECT_WORDS = {
    "touchpoint": "a touchpoint",
    "item": "an item",
    "option": "an option",
    "evidence": "the evidence follow-up",
    "show_if": "a condition",
}
_ELEMENTS = {"touchpoints": "touchpoint", "items": "item", "labels": "label", "options": "option", "in": "answer"}
_ENUMS = {
    "channel": "channel",
    "type": "item type",
    "require": "evidence requirement",
    "flag_if": "flag_if value",
    "expect": "expected answer",
}

Segments = tuple[str | int, ...]


def _types() -> TypeChecker:
    """JSON Schema's integer takes 5.0 and its number takes NaN and infinity; the format takes neither."""
    base = Draft202012Validator.TYPE_CHECKER
    return base.redefine_many(
        {
            "integer": lambda _, value: isinstance(value, int) and not isinstance(value, bool),
            "number": lambda _, value: is_finite(value),
        }
    )


@functools.cache
def _structure() -> Draft202012Validator:
    """The published schema, compiled once."""
    strict = validators.extend(Draft202012Validator, type_checker=_types())
    validator: Draft202012Validator = strict(CHECKLIST_SCHEMA)
    return validator


def _path(segments: Segments) -> str:
    path = ""
    for segment in segments:
        path = f"{path}[{segment}]" if isinstance(segment, int) else _join(path, str(segment))
    return path


def _kind(segments: Segments) -> str:
    """Which part of the format the value at ``segments`` is: "", "touchpoint", "item", "option", ... or "value"."""
    if not segments:
        return ""
    last, parent = segments[-1], segments[-2] if len(segments) > 1 else None
    if isinstance(last, int):
        return {"touchpoints": "touchpoint", "items": "item", "options": "option"}.get(str(parent), "value")
    return last if last in ("evidence", "show_if") and parent != "show_if" else "value"


def _at(data: Any, segments: Segments) -> Any:
    for segment in segments:
        data = data[segment]
    return data


def _unknown(name: Any, kind: str) -> str:
    what, allowed = _OBJECTS[kind]
    close = difflib.get_close_matches(str(name), allowed, n=1)
    hint = f'; did you mean "{close[0]}"?' if close else f" (allowed: {', '.join(allowed)})"
    return f"is not a field of {what}{hint}"


def _whole_range(error: ValidationError, data: Any) -> tuple[Any, Any]:
    """The bounds of a whole-number field, as its item type has them (a rating's target follows its scale)."""
    segments = tuple(error.absolute_path)
    item = _at(data, segments[:-1]) if len(segments) > 1 else None
    kind = known_type(item.get("type")) if isinstance(item, dict) else None
    bounds = kind.bounds(item, str(segments[-1])) if kind is not None and item is not None else None
    return bounds or (error.schema.get("minimum"), error.schema.get("maximum"))


@dataclass(frozen=True)
class _Said:
    """A problem with where it sorts: the path's segments, and whether it is about a field's name (reported
    before the fields' values, in the object's own order)."""

    segments: Segments
    message: str
    by_name: bool = False
    rank: int = 1  # of two problems at one place, the lower rank is said


def _type_problem(error: ValidationError, data: Any, segments: Segments) -> list[_Said]:
    expected, value = error.validator_value, error.instance
    if expected == "object" and not segments:
        return [_Said((), f"must be a JSON object with a title and touchpoints, not {describe(value)}")]
    if expected == "object":
        return [_Said(segments, f"must be an object ({_OBJECT_WORDS[_kind(segments)]}), not {describe(value)}")]
    if expected == "array":
        return [_Said(segments, f"must be a list of {_ELEMENTS[str(segments[-1])]}s, not {describe(value)}")]
    if expected == "integer":
        return _range_problem(error, data, segments)
    if expected == "number" and is_number(value):
        return [_Said(segments, "must be a finite number")]
    words = {"string": "a string", "boolean": "true or false", "number": "a number"}
    wanted = words[expected] if isinstance(expected, str) else "a string or a finite number"
    return [_Said(segments, f"must be {wanted}, not {describe(value)}")]


def _enum_problem(error: ValidationError, data: Any, segments: Segments) -> list[_Said]:
    value = error.instance
    if "propertyNames" in error.schema_path:  # a field of another item type
        owners = [name for name, fields in TYPE_FIELDS.items() if value in fields]
        message = f"is not used by {_at(data, segments)['type']} items (only by {', '.join(owners)})"
        return [_Said((*segments, value), message, by_name=True)]
    allowed = ", ".join(error.schema["enum"])
    return [_Said(segments, f"{describe(value)} is not a known {_ENUMS[str(segments[-1])]} ({allowed})")]


def _text_problem(error: ValidationError, data: Any, segments: Segments) -> list[_Said]:
    if error.validator == "maxLength":
        return [_Said(segments, f"must be at most {error.validator_value} characters (it has {len(error.instance)})")]
    if error.validator == "pattern" and error.validator_value == KEY_PATTERN:
        return [_Said(segments, f"{describe(error.instance)} {KEY_RULE}")]
    return [_Said(segments, "must not be empty")]


def _range_problem(error: ValidationError, data: Any, segments: Segments) -> list[_Said]:
    node, shown = error.schema, describe(error.instance)
    if node.get("type", "integer") == "integer":  # a rule without a type is a rating's target following its scale
        low, high = _whole_range(error, data)
        return [_Said(segments, f"must be a whole number from {low} to {high}, not {shown}")]
    return [_Said(segments, f"must be a number from {node['minimum']} to {node['maximum']}, not {shown}")]


def _count_problem(error: ValidationError, data: Any, segments: Segments) -> list[_Said]:
    node, value, noun = error.schema, error.instance, _ELEMENTS[str(segments[-1])]
    if "type" not in node:  # a count that follows another field (a rating's labels, its scale)
        item = _at(data, segments[:-1])
        return [_Said(segments, item_type(item["type"]).count_problem(item, str(segments[-1]), value), rank=2)]
    if error.validator == "minItems":
        return [_Said(segments, f"must have at least {plural(node['minItems'], noun)}")]
    return [_Said(segments, f"must have at most {plural(node['maxItems'], noun)} (it has {len(value)})")]


def _required_problem(error: ValidationError, data: Any, segments: Segments) -> list[_Said]:
    value = error.instance
    of_type = _kind(segments) == "item" and "then" in error.schema_path
    suffix = f" for {value.get('type')} items" if of_type else ""
    return [_Said((*segments, name), f"is required{suffix}") for name in error.validator_value if name not in value]


def _unknown_problem(error: ValidationError, data: Any, segments: Segments) -> list[_Said]:
    kind, known = _kind(segments), error.schema["properties"]
    return [
        _Said((*segments, name), _unknown(name, kind), by_name=True, rank=0)
        for name in error.instance
        if name not in known
    ]


def _condition_problem(error: ValidationError, data: Any, segments: Segments) -> list[_Said]:
    value = error.instance
    if not isinstance(value, dict):
        return []  # not an object: said once, by its type
    if "equals" in value and "in" in value:
        message = "use either equals or in, not both"
    else:
        message = 'needs "equals" (one answer) or "in" (a list of answers)'
    return [_Said((*segments, ""), message)]  # said after the condition's item, before its answers


_SAY = {
    "type": _type_problem,
    "enum": _enum_problem,
    "pattern": _text_problem,
    "minLength": _text_problem,
    "maxLength": _text_problem,
    "minimum": _range_problem,
    "maximum": _range_problem,
    "minItems": _count_problem,
    "maxItems": _count_problem,
    "required": _required_problem,
    "additionalProperties": _unknown_problem,
    "oneOf": _condition_problem,
}


def _say(error: ValidationError, data: Any) -> list[_Said]:
    """A schema error in words, at its place in the document."""
    segments: Segments = tuple(error.absolute_path)
    say = _SAY.get(error.validator)
    return say(error, data, segments) if say is not None else [_Said(segments, error.message)]


def _child(container: Any, segment: str | int) -> Any:
    try:
        return container[segment]
    except (KeyError, IndexError, TypeError):
        return None


def _order(said: _Said, data: Any) -> tuple[Any, ...]:
    """Where a problem sorts: document order, the way the format's fields are listed."""
    key: list[Any] = []
    container = data
    for index, segment in enumerate(said.segments):
        final = index == len(said.segments) - 1
        if isinstance(segment, int) or not isinstance(container, dict):
            key.append((1, segment if isinstance(segment, int) else 0, 0))
        else:
            kind = _kind(said.segments[:index])
            fields = _OBJECTS.get(kind, ("", ()))[1]
            if kind == "item":
                item_kind = known_type(container.get("type"))
                fields = (*COMMON_ITEM_FIELDS, *(item_kind.fields if item_kind else ()))
            if final and said.by_name:
                key.append((0, list(container).index(segment), 0))
            elif segment == "":
                key.append((1, 0.5, 0))
            else:
                key.append((1, fields.index(segment) if segment in fields else len(fields), 0))
        if not final:
            container = _child(container, segment)
    return tuple(key)


def _keys(data: Any) -> Iterator[tuple[Segments, Any]]:
    """Every key of a definition that is structurally sound enough to hold one: touchpoint and item keys, option
    values and the items conditions point at."""
    touchpoints = data.get("touchpoints") if isinstance(data, dict) else None
    for t, touchpoint in enumerate(touchpoints if isinstance(touchpoints, list) else []):
        if not isinstance(touchpoint, dict):
            continue
        yield ("touchpoints", t, "key"), touchpoint.get("key")
        items = touchpoint.get("items")
        for i, item in enumerate(items if isinstance(items, list) else []):
            if not isinstance(item, dict):
                continue
            at: Segments = ("touchpoints", t, "items", i)
            yield (*at, "key"), item.get("key")
            if isinstance(item.get("show_if"), dict):
                yield (*at, "show_if", "item"), item["show_if"].get("item")
            kind = known_type(item.get("type"))
            options = item.get("options") if kind is not None and "options" in kind.fields else None
            for o, option in enumerate(options if isinstance(options, list) else []):
                if isinstance(option, dict):
                    yield (*at, "options", o, "value"), option.get("value")


def _segments(path: str) -> Segments:
    return tuple(int(part) if part.isdigit() else part for part in re.findall(r"[^.\[\]]+", path))


class _TypeRules:
    """What an item type checks by hand (ItemChecks), collected to sort with the schema's problems."""

    def __init__(self) -> None:
        self.said: list[_Said] = []

    def add(self, path: str, message: str) -> None:
        self.said.append(_Said(_segments(path), message))

    def is_key(self, value: Any) -> bool:
        return isinstance(value, str) and _KEY_RE.fullmatch(value) is not None


def _structure_problems(data: Any) -> list[Problem]:
    """The problems the schema finds, and the few value rules it cannot say, in document order."""
    said = [s for error in _structure().iter_errors(data) for s in _say(error, data)]
    for segments, key in _keys(data):
        if isinstance(key, str) and re.search(KEY_PATTERN, key) and not _KEY_RE.fullmatch(key):
            said.append(_Said(segments, f"{describe(key)} {KEY_RULE}"))
    rules = _TypeRules()
    for path, item in _items(data):
        kind = known_type(item.get("type"))
        if kind is not None:
            kind.check_item(rules, path, item)
    said += rules.said
    best: dict[str, _Said] = {}
    for one in said:
        path = _path(tuple(s for s in one.segments if s != ""))
        if path not in best or one.rank < best[path].rank:
            best[path] = one
    ordered = sorted(best.items(), key=lambda pair: _order(pair[1], data))
    return [Problem(path or "(document)", one.message) for path, one in ordered]


def _touchpoints(data: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    touchpoints = data.get("touchpoints") if isinstance(data, dict) else None
    for index, touchpoint in enumerate(touchpoints if isinstance(touchpoints, list) else []):
        if isinstance(touchpoint, dict):
            yield f"touchpoints[{index}]", touchpoint


def _items(data: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, touchpoint in _touchpoints(data):
        items = touchpoint.get("items")
        for index, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict):
                yield f"{path}.items[{index}]", item


@dataclass
class _Entry:
    """An item seen by the cross-checks."""

    path: str
    position: int
    item: dict[str, Any]


class _CrossChecks:
    """The rules that span the whole checklist: unique keys, and conditions that point at existing items."""

    def __init__(self, data: Any, problems: list[Problem]) -> None:
        self.problems = problems
        self.touchpoints = list(_touchpoints(data))
        self.items = [_Entry(path, position, item) for position, (path, item) in enumerate(_items(data))]

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def run(self) -> list[Problem]:
        self.unique_keys()
        self.conditions()
        return self.problems

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
    return _CrossChecks(data, _structure_problems(data)).run()


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
