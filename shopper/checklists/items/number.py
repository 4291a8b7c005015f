"""number: a measurement with an optional unit and an optional target range (target_min to target_max)."""

from __future__ import annotations

from typing import Any

from shopper.checklists.items.base import (
    UNIT_MAX,
    AnswerError,
    Item,
    ItemChecks,
    ItemType,
    Measure,
    at,
    describe,
    format_number,
    is_finite,
    is_number,
    number_target,
    string_schema,
)


def _kept(item: Item, value: Any) -> bool:
    low, high = item.get("target_min"), item.get("target_max")
    return (low is None or value >= low) and (high is None or value <= high)


def _has_target(item: Item) -> bool:
    return item.get("target_min") is not None or item.get("target_max") is not None


class Number(ItemType):
    name = "number"
    label = "Number: a measurement"
    fields = ("unit", "target_min", "target_max")
    properties = {"unit": string_schema(UNIT_MAX), "target_min": {"type": "number"}, "target_max": {"type": "number"}}
    numeric = True
    walk = {"value": "number", "typing": True, "hint": "Type a number, like 12 or 2.5.", "breach": "range"}

    def check_item(self, checks: ItemChecks, path: str, item: Item) -> None:
        """The target range is not upside down."""
        low: Any = item.get("target_min")
        high: Any = item.get("target_max")
        if is_finite(low) and is_finite(high) and low > high:
            checks.add(at(path, "target_min"), f"must not be more than target_max ({describe(low)} > {describe(high)})")

    def clean(self, item: Item, value: Any) -> Any:
        if not is_finite(value):
            raise AnswerError("the answer must be a finite number")
        return value

    def fraction(self, item: Item, value: Any) -> float | None:
        return float(_kept(item, value)) if _has_target(item) else None

    def breach(self, item: Item, value: Any) -> str | None:
        if _kept(item, value):
            return None
        unit = item.get("unit", "")
        target = number_target(item.get("target_min"), item.get("target_max"), unit)
        return f"{format_number(value, unit)}: the target is {target}"

    def value_text(self, item: Item, value: Any) -> str:
        return format_number(value, item.get("unit", "")) if isinstance(value, int | float) else str(value)

    def measure(self, item: Item, value: Any) -> Measure | None:
        if not is_number(value) or not _has_target(item):
            return None
        unit = item.get("unit", "")
        low, high = item.get("target_min"), item.get("target_max")
        if low is not None and high is not None:
            target = f"{format_number(low)} to {format_number(high, unit)}"
        else:
            target = number_target(low, high, unit)
        return Measure(item["prompt"], format_number(value, unit), target, "target", _kept(item, value))
