"""Edits of a checklist draft, as pure functions: each takes a definition and returns a new one, never
changing its input.

A draft may be incomplete while it is written (a new touchpoint has no items yet), so an edit is checked only
where it lands: ``problems_for`` keeps the problems of the edited element and of the conditions that point at
it. Publishing checks the whole definition. An unknown touchpoint or item key raises KeyError.
"""

from __future__ import annotations

import contextlib
import copy
import re
import unicodedata
from collections.abc import Iterator
from typing import Any, NamedTuple

from shopper.checklists.items import known_type
from shopper.checklists.schema import (
    ITEM_FIELDS,
    TOUCHPOINT_FIELDS,
    Problem,
    describe,
    normalize,
    validate_definition,
)

_EMPTY_ITEMS = "must have at least 1 item"  # the validator's words for a touchpoint without items
_EMPTY_ITEMS_PATH = re.compile(r"touchpoints\[\d+\]\.items")
_INT_RE = re.compile(r"[+-]?\d+")
_FLOAT_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")
_OPTION_RE = re.compile(
    r"(?:(?P<value>[^=]*)=)?(?P<label>.*?)(?:\s*:\s*(?P<score>[+-]?\d+(?:[.,]\d+)?))?\s*(?P<flag>!)?\s*",
    re.DOTALL,
)
_SCORE_LIKE_END = re.compile(r"(:\s*[+-]?\d+(?:[.,]\d+)?|!)\s*$")


class Edit(NamedTuple):
    """The new definition, and the path of the element the edit added, changed or moved."""

    definition: dict[str, Any]
    path: str


class EditRefused(ValueError):
    """An edit that would break the checklist. ``field`` names the edited element's field at fault, if any."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# --- finding things ----------------------------------------------------------------------------------------


def _touchpoints(definition: dict[str, Any]) -> list[dict[str, Any]]:
    return [tp for tp in definition.get("touchpoints", []) if isinstance(tp, dict)]


def _walk(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(path, item)`` for every item of a draft, in walk order."""
    for t, touchpoint in enumerate(_touchpoints(definition)):
        for i, item in enumerate(touchpoint.get("items", [])):
            if isinstance(item, dict):
                yield f"touchpoints[{t}].items[{i}]", item


def find_touchpoint(definition: dict[str, Any], key: str) -> dict[str, Any] | None:
    return next((tp for tp in _touchpoints(definition) if tp.get("key") == key), None)


def find_item(definition: dict[str, Any], key: str) -> dict[str, Any] | None:
    return next((item for _, item in _walk(definition) if item.get("key") == key), None)


def touchpoint_of(definition: dict[str, Any], item_key: str) -> dict[str, Any] | None:
    return next(
        (tp for tp in _touchpoints(definition) if any(i.get("key") == item_key for i in tp.get("items", []))),
        None,
    )


def items_by_key(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["key"]: item for _, item in _walk(definition) if "key" in item}


def _touchpoint_index(definition: dict[str, Any], key: str) -> int:
    for index, touchpoint in enumerate(definition["touchpoints"]):
        if touchpoint.get("key") == key:
            return index
    raise KeyError(key)


def _item_position(definition: dict[str, Any], key: str) -> tuple[int, int]:
    for t, touchpoint in enumerate(definition["touchpoints"]):
        for i, item in enumerate(touchpoint["items"]):
            if item.get("key") == key:
                return t, i
    raise KeyError(key)


def dependents(definition: dict[str, Any], keys: set[str]) -> list[dict[str, Any]]:
    """The items whose ``show_if`` points at one of ``keys``."""
    return [
        item
        for _, item in _walk(definition)
        if isinstance(item.get("show_if"), dict) and item["show_if"].get("item") in keys
    ]


def condition_sources(
    definition: dict[str, Any], touchpoint_key: str, item_key: str | None = None
) -> list[dict[str, Any]]:
    """The items a condition of the item ``item_key`` (or of a new item at the end of the touchpoint) can use:
    those earlier in the walk, except photos, which have no answer."""
    sources = []
    for touchpoint in _touchpoints(definition):
        for item in touchpoint.get("items", []):
            if item_key is not None and item.get("key") == item_key:
                return sources
            kind = known_type(item.get("type"))
            if kind is None or not kind.photos_answer:
                sources.append(item)
        if item_key is None and touchpoint.get("key") == touchpoint_key:
            return sources
    return sources


# --- keys --------------------------------------------------------------------------------------------------


def slugify(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")[:40].rstrip("-")


def unique_key(text: str, taken: set[str], fallback: str) -> str:
    base = slugify(text) or fallback
    key, number = base, 2
    while key in taken:
        key = f"{base}-{number}"
        number += 1
    return key


def _item_keys(definition: dict[str, Any]) -> set[str]:
    return {item["key"] for _, item in _walk(definition) if "key" in item}


def _touchpoint_keys(definition: dict[str, Any]) -> set[str]:
    return {tp["key"] for tp in _touchpoints(definition) if "key" in tp}


def _check_free(key: str, taken: set[str], what: str) -> None:
    if key in taken:
        raise EditRefused(f'Another {what} already uses the key "{key}": choose another one.', "key")


# --- touchpoints -------------------------------------------------------------------------------------------


def add_touchpoint(definition: dict[str, Any], fields: dict[str, Any]) -> Edit:
    """Append a touchpoint with no items; a blank key is made from the title."""
    result = copy.deepcopy(definition)
    taken = _touchpoint_keys(result)
    touchpoint = {name: value for name, value in fields.items() if name != "items"}
    if touchpoint.get("key"):
        _check_free(touchpoint["key"], taken, "touchpoint")
    else:
        touchpoint["key"] = unique_key(touchpoint.get("title", ""), taken, "touchpoint")
    touchpoint["items"] = []
    result.setdefault("touchpoints", []).append(_ordered_touchpoint(touchpoint))
    return Edit(result, f"touchpoints[{len(result['touchpoints']) - 1}]")


def update_touchpoint(definition: dict[str, Any], key: str, fields: dict[str, Any]) -> Edit:
    """Replace a touchpoint's own fields (its items stay); a blank key keeps the current one."""
    result = copy.deepcopy(definition)
    index = _touchpoint_index(result, key)
    old = result["touchpoints"][index]
    new_key = fields.get("key") or key
    if new_key != key:
        _check_free(new_key, _touchpoint_keys(result) - {key}, "touchpoint")
    touchpoint = {**{name: value for name, value in fields.items() if name != "items"}, "key": new_key}
    touchpoint["items"] = old["items"]
    result["touchpoints"][index] = _ordered_touchpoint(touchpoint)
    return Edit(_unless_same(definition, result), f"touchpoints[{index}]")


def move_touchpoint(definition: dict[str, Any], key: str, direction: str) -> Edit:
    result = copy.deepcopy(definition)
    touchpoints = result["touchpoints"]
    index = _touchpoint_index(result, key)
    target = index - 1 if direction == "up" else index + 1
    if 0 <= target < len(touchpoints):
        touchpoints[index], touchpoints[target] = touchpoints[target], touchpoints[index]
        index = target
    _keep_conditions_after_sources(result, {item.get("key") for item in touchpoints[index]["items"]})
    return Edit(result, f"touchpoints[{index}]")


def remove_touchpoint(definition: dict[str, Any], key: str) -> dict[str, Any]:
    """Remove a touchpoint and its items; refused while items elsewhere are shown depending on them."""
    result = copy.deepcopy(definition)
    touchpoint = result["touchpoints"].pop(_touchpoint_index(result, key))
    inside = {item["key"] for item in touchpoint["items"]}
    depending = dependents(result, inside)
    if depending:
        raise EditRefused(
            f'"{touchpoint.get("title", key)}" cannot be removed: {_only_show(depending)} after an answer '
            "given here. Change or remove their conditions first."
        )
    return result


# --- items -------------------------------------------------------------------------------------------------


def add_item(definition: dict[str, Any], touchpoint_key: str, item: dict[str, Any]) -> Edit:
    """Append an item to a touchpoint; a blank key is made from the prompt."""
    result = copy.deepcopy(definition)
    index = _touchpoint_index(result, touchpoint_key)
    taken = _item_keys(result)
    item = dict(item)
    if item.get("key"):
        _check_free(item["key"], taken, "item")
    else:
        item["key"] = unique_key(item.get("prompt", ""), taken, "item")
    items = result["touchpoints"][index]["items"]
    items.append(_ordered_item(item))
    return Edit(result, f"touchpoints[{index}].items[{len(items) - 1}]")


def update_item(definition: dict[str, Any], key: str, item: dict[str, Any]) -> Edit:
    """Replace an item (a blank key keeps the current one); a new key is carried into conditions using it."""
    result = copy.deepcopy(definition)
    t, i = _item_position(result, key)
    new_key = item.get("key") or key
    if new_key != key:
        _check_free(new_key, _item_keys(result) - {key}, "item")
        for other in dependents(result, {key}):
            other["show_if"]["item"] = new_key
    result["touchpoints"][t]["items"][i] = _ordered_item({**item, "key": new_key})
    return Edit(_unless_same(definition, result), f"touchpoints[{t}].items[{i}]")


def move_item(definition: dict[str, Any], key: str, direction: str) -> Edit:
    """Move an item up or down in its touchpoint; from a touchpoint's edge it crosses into the next one."""
    result = copy.deepcopy(definition)
    touchpoints = result["touchpoints"]
    t, i = _item_position(result, key)
    items = touchpoints[t]["items"]
    if direction == "up" and i > 0:
        items[i - 1], items[i] = items[i], items[i - 1]
        i -= 1
    elif direction == "down" and i < len(items) - 1:
        items[i], items[i + 1] = items[i + 1], items[i]
        i += 1
    elif direction == "up" and t > 0:
        touchpoints[t - 1]["items"].append(items.pop(i))
        t, i = t - 1, len(touchpoints[t - 1]["items"]) - 1
    elif direction == "down" and t < len(touchpoints) - 1:
        touchpoints[t + 1]["items"].insert(0, items.pop(i))
        t, i = t + 1, 0
    _keep_conditions_after_sources(result, {key})
    return Edit(result, f"touchpoints[{t}].items[{i}]")


def _keep_conditions_after_sources(definition: dict[str, Any], moved: set[str]) -> None:
    """Refuse a move that puts an item before the item whose answer shows it."""
    items = [item for _, item in _walk(definition)]
    position = {item.get("key"): n for n, item in enumerate(items)}
    for n, item in enumerate(items):
        condition = item.get("show_if")
        source = condition.get("item") if isinstance(condition, dict) else None
        if source in position and position[source] > n and moved & {source, item.get("key")}:
            raise EditRefused(
                f'"{item.get("prompt")}" only shows after "{items[position[source]].get("prompt")}" is '
                "answered, so it has to stay after it."
            )


def remove_item(definition: dict[str, Any], key: str) -> dict[str, Any]:
    """Remove an item; refused while other items are shown depending on its answer."""
    result = copy.deepcopy(definition)
    t, i = _item_position(result, key)
    item = result["touchpoints"][t]["items"].pop(i)
    depending = dependents(result, {key})
    if depending:
        raise EditRefused(
            f'"{item.get("prompt", key)}" cannot be removed: {_only_show(depending)} after its answer. '
            "Change or remove their conditions first."
        )
    return result


def _only_show(items: list[dict[str, Any]]) -> str:
    names = [f'"{item.get("prompt", item.get("key"))}"' for item in items]
    if len(names) == 1:
        return f"{names[0]} only shows"
    return ", ".join(names[:-1]) + f" and {names[-1]} only show"


# --- settings ----------------------------------------------------------------------------------------------


def update_settings(
    definition: dict[str, Any], *, title: str, description: str = "", critical_cap: float | None = None
) -> Edit:
    """Set the title, description and critical cap; an empty description or cap means the default."""
    result = {"title": title}
    if description:
        result["description"] = description
    if critical_cap is not None:
        result["critical_cap"] = critical_cap
    result["touchpoints"] = copy.deepcopy(definition.get("touchpoints", []))
    return Edit(_unless_same(definition, result), "")


# --- checking an edit --------------------------------------------------------------------------------------


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((prefix + ".", prefix + "["))


def problems_for(definition: dict[str, Any], path_prefix: str) -> list[Problem]:
    """The problems of ``definition`` that concern the element at ``path_prefix``: its own, and those of the
    conditions elsewhere that point at its items. An empty prefix means the checklist's own fields.

    An empty touchpoint is not a problem here: a new one has no items yet, and publishing checks them all.
    """
    problems = validate_definition(definition)
    if not path_prefix:
        return [problem for problem in problems if not _under(problem.path, "touchpoints")]
    inside = {item["key"] for path, item in _walk(definition) if _under(path, path_prefix) and "key" in item}
    conditions = [
        f"{path}.show_if"
        for path, item in _walk(definition)
        if not _under(path, path_prefix)
        and isinstance(item.get("show_if"), dict)
        and item["show_if"].get("item") in inside
    ]
    return [
        problem
        for problem in problems
        if (_under(problem.path, path_prefix) or any(_under(problem.path, c) for c in conditions))
        and not (_EMPTY_ITEMS_PATH.fullmatch(problem.path) and problem.message == _EMPTY_ITEMS)
    ]


def element_at(definition: dict[str, Any], path: str) -> dict[str, Any]:
    """The touchpoint or item at a path like ``touchpoints[1]`` or ``touchpoints[1].items[3]``."""
    element: Any = definition
    for name, index in re.findall(r"(\w+)\[(\d+)\]", path):
        element = element[name][int(index)]
    return element


def where(definition: dict[str, Any], path: str) -> str:
    """The element a problem path points into, named for people: 'the item "Was the phone answered?"'."""
    match = re.match(r"touchpoints\[(\d+)\](?:\.items\[(\d+)\])?", path)
    if match is None:
        return "the checklist"
    touchpoints = _touchpoints(definition)
    t = int(match.group(1))
    if t >= len(touchpoints):
        return "the checklist"
    if match.group(2) is None:
        return f'the touchpoint "{touchpoints[t].get("title", "")}"'
    items = touchpoints[t].get("items", [])
    i = int(match.group(2))
    return f'the item "{items[i].get("prompt", "")}"' if i < len(items) else "the checklist"


def _unless_same(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``new``, or a copy of ``old`` when both mean the same: a save without changes keeps the draft."""
    return copy.deepcopy(old) if normalize(old) == normalize(new) else new


# --- field order -------------------------------------------------------------------------------------------


def _ordered(data: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    return {
        **{name: data[name] for name in order if name in data},
        **{n: v for n, v in data.items() if n not in order},
    }


def _ordered_touchpoint(touchpoint: dict[str, Any]) -> dict[str, Any]:
    return _ordered(touchpoint, TOUCHPOINT_FIELDS)


def _ordered_item(item: dict[str, Any]) -> dict[str, Any]:
    return _ordered(item, ITEM_FIELDS)


# --- text inputs: numbers, labels, options, conditions -----------------------------------------------------


def parse_number(text: str) -> int | float:
    """An int when the text is a whole number (the format wants 60, not 60.0); a decimal comma is accepted."""
    cleaned = text.strip()
    if _INT_RE.fullmatch(cleaned):
        return int(cleaned)
    cleaned = cleaned.replace(",", ".") if cleaned.count(",") == 1 and "." not in cleaned else cleaned
    if _FLOAT_RE.fullmatch(cleaned):
        number = float(cleaned)
        return int(number) if number.is_integer() else number
    raise ValueError(f"{describe(text.strip())} is not a number")


def format_number(value: Any) -> str:
    return "" if value is None else str(value)


def parse_labels(text: str) -> list[str]:
    """One label per line; blank lines are skipped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def labels_text(labels: list[str]) -> str:
    return "\n".join(labels)


def parse_options(text: str) -> list[dict[str, Any]]:
    """One option per line, ``value = Label : score !``: the value (made from the label when left out), the
    label, an optional score from 0 to 100 and an optional ``!`` that flags the answer as a finding."""
    options = []
    for line in text.splitlines():
        if not line.strip():
            continue
        match = _OPTION_RE.fullmatch(line)
        label = match["label"].strip()
        option: dict[str, Any] = {"value": (match["value"] or "").strip() or slugify(label), "label": label}
        if match["score"] is not None:
            option["score"] = parse_number(match["score"])
        if match["flag"]:
            option["flag"] = True
        options.append(option)
    return options


def options_text(options: list[dict[str, Any]]) -> str:
    lines = []
    for option in options:
        line = f"{option['value']} = {option['label']}"
        if "score" in option or _SCORE_LIKE_END.search(option["label"]):
            line += f" : {format_number(option.get('score', 0))}"
        if option.get("flag"):
            line += " !"
        lines.append(line)
    return "\n".join(lines)


def parse_condition(definition: dict[str, Any], source_key: str, text: str) -> dict[str, Any]:
    """A ``show_if`` from the answers that show the item, separated by commas: numbers for a numeric source,
    option values (or labels) for a choice, yes/no/na for a check."""
    source = find_item(definition, source_key) or {}
    kind = known_type(source.get("type"))
    answers: list[Any] = []
    for part in text.split(","):
        answer = part.strip()
        if not answer:
            continue
        if kind is not None and kind.numeric:
            with contextlib.suppress(ValueError):  # else the validator explains which answers are possible
                answer = parse_number(answer)
        elif kind is not None:
            answer = kind.read_answer(source, answer)
        answers.append(answer)
    if len(answers) == 1:
        return {"item": source_key, "equals": answers[0]}
    return {"item": source_key, "in": answers}


def condition_text(condition: dict[str, Any] | None) -> str:
    if not condition:
        return ""
    answers = condition["in"] if "in" in condition else [condition.get("equals", "")]
    return ", ".join(format_number(answer) for answer in answers)
