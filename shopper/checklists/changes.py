"""A short, human summary of what changed between two versions of a checklist, for the version history.

Touchpoints and items are matched by their stable keys, so a changed key reads as a removal plus an addition.
Fields equal to their defaults count as absent: writing out ``"weight": 1`` is not a change.
"""

from __future__ import annotations

from typing import Any

from shopper.checklists.schema import DEFAULT_CRITICAL_CAP, ITEM_FIELDS, normalize
from shopper.checklists.scoring import format_number

_TOUCHPOINT_FIELDS = ("title", "channel", "promise", "guidance")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _kept_in_order(before: list[str], after: list[str]) -> set[str]:
    """The keys of a longest common subsequence: everything else in ``after`` counts as moved."""
    lengths = [[0] * (len(after) + 1) for _ in range(len(before) + 1)]
    for i, first in enumerate(before):
        for j, second in enumerate(after):
            lengths[i + 1][j + 1] = lengths[i][j] + 1 if first == second else max(lengths[i][j + 1], lengths[i + 1][j])
    kept: set[str] = set()
    i, j = len(before), len(after)
    while i and j:
        if before[i - 1] == after[j - 1]:
            kept.add(before[i - 1])
            i, j = i - 1, j - 1
        elif lengths[i - 1][j] >= lengths[i][j - 1]:
            i -= 1
        else:
            j -= 1
    return kept


def _changed_fields(old: dict[str, Any], new: dict[str, Any], order: tuple[str, ...]) -> list[str]:
    names = [name for name in order if old.get(name) != new.get(name)]
    return names + sorted(name for name in {*old, *new} - set(order) if old.get(name) != new.get(name))


def summarize_changes(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """One line per change from ``old`` to ``new`` (both valid definitions); [] when nothing changed."""
    if old is None:
        items = sum(len(touchpoint["items"]) for touchpoint in new["touchpoints"])
        return [f"First version: {_plural(len(new['touchpoints']), 'touchpoint')}, {_plural(items, 'item')}"]
    old, new = normalize(old), normalize(new)
    lines: list[str] = []
    if old["title"] != new["title"]:
        lines.append(f'Changed title to "{new["title"]}"')
    if old.get("description", "") != new.get("description", ""):
        lines.append("Changed description" if new.get("description") else "Removed description")
    old_cap = old.get("critical_cap", DEFAULT_CRITICAL_CAP)
    new_cap = new.get("critical_cap", DEFAULT_CRITICAL_CAP)
    if old_cap != new_cap:
        lines.append(f"Changed critical cap from {format_number(old_cap)} to {format_number(new_cap)}")

    old_touchpoints = {touchpoint["key"]: touchpoint for touchpoint in old["touchpoints"]}
    new_touchpoints = {touchpoint["key"]: touchpoint for touchpoint in new["touchpoints"]}
    old_items = {item["key"]: (tp["key"], item) for tp in old["touchpoints"] for item in tp["items"]}
    new_items = {item["key"]: (tp["key"], item) for tp in new["touchpoints"] for item in tp["items"]}

    for key, touchpoint in old_touchpoints.items():
        if key not in new_touchpoints:
            lines.append(f'Removed touchpoint "{touchpoint["title"]}"')
    staying = [key for key in new_touchpoints if key in old_touchpoints]
    kept = _kept_in_order([key for key in old_touchpoints if key in new_touchpoints], staying)
    for key, touchpoint in new_touchpoints.items():
        title = touchpoint["title"]
        previous = old_touchpoints.get(key)
        if previous is None:
            lines.append(f'Added touchpoint "{title}"')
        else:
            if key not in kept:
                lines.append(f'Moved touchpoint "{title}"')
            fields = [name for name in _changed_fields(previous, touchpoint, _TOUCHPOINT_FIELDS) if name != "items"]
            if fields:
                lines.append(f'Changed touchpoint "{title}" ({", ".join(fields)})')
            lines.extend(
                f'Removed item "{item["key"]}" from "{title}"'
                for item in previous["items"]
                if item["key"] not in new_items
            )
        lines.extend(_item_lines(touchpoint, previous, old_touchpoints, old_items, new_items))
    return lines


def _item_lines(
    touchpoint: dict[str, Any],
    previous: dict[str, Any] | None,
    old_touchpoints: dict[str, dict[str, Any]],
    old_items: dict[str, tuple[str, dict[str, Any]]],
    new_items: dict[str, tuple[str, dict[str, Any]]],
) -> list[str]:
    """Added, moved and changed items of one touchpoint of the new version (``previous``: its old version)."""
    key, title = touchpoint["key"], touchpoint["title"]
    stayed: set[str] = set()
    if previous is not None:
        before = [item["key"] for item in previous["items"] if new_items.get(item["key"], ("",))[0] == key]
        after = [item["key"] for item in touchpoint["items"] if old_items.get(item["key"], ("",))[0] == key]
        stayed = _kept_in_order(before, after)
    lines = []
    for item in touchpoint["items"]:
        item_key = item["key"]
        source = old_items.get(item_key)
        if source is None:
            if previous is not None:
                lines.append(f'Added item "{item_key}" to "{title}"')
            continue
        if source[0] != key:
            lines.append(f'Moved item "{item_key}" from "{old_touchpoints[source[0]]["title"]}" to "{title}"')
        elif item_key not in stayed:
            lines.append(f'Moved item "{item_key}" within "{title}"')
        fields = _changed_fields(source[1], item, ITEM_FIELDS)
        if fields:
            lines.append(f'Changed item "{item_key}" ({", ".join(fields)})')
    return lines
