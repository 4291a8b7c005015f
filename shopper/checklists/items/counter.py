"""counter: how many times (0 to 10000), with an optional unit, against the most that keeps the promise."""

from __future__ import annotations

from typing import Any

from shopper.checklists.items.base import (
    MAX_COUNT,
    UNIT_MAX,
    AnswerError,
    Item,
    ItemType,
    Measure,
    as_whole,
    format_number,
    is_number,
    string_schema,
    whole_schema,
)


class Counter(ItemType):
    name = "counter"
    label = "Counter: how many times"
    fields = ("target_max", "unit")
    properties = {"target_max": whole_schema(0, MAX_COUNT), "unit": string_schema(UNIT_MAX)}
    numeric = True
    trend_figure = "average count"
    trend_word = "count"
    trend_chart = "count"
    walk = {
        "value": "number",
        "typing": True,
        "widget": "stepper",
        "hint": f"Type a whole number from 0 to {MAX_COUNT}.",
        "breach": "at-most",
    }

    def clean(self, item: Item, value: Any) -> Any:
        """A count comes back as an int (3.0 -> 3)."""
        whole = as_whole(value)
        if whole is None or not 0 <= whole <= MAX_COUNT:
            raise AnswerError(f"count must be a whole number from 0 to {MAX_COUNT}")
        return whole

    def limit(self, item: Item) -> float | None:
        target: float | None = item.get("target_max")
        return target

    def limit_text(self, item: Item) -> str:
        return f"at most {format_number(item['target_max'], item.get('unit', ''))}"

    def fraction(self, item: Item, value: Any) -> float | None:
        target = self.limit(item)
        return None if target is None else float(value <= target)

    def breach(self, item: Item, value: Any) -> str | None:
        target = item.get("target_max")
        if target is not None and value > target:
            return f"{format_number(value, item.get('unit', ''))}: the target is at most {target}"
        return None

    def value_text(self, item: Item, value: Any) -> str:
        return format_number(value, item.get("unit", "")) if isinstance(value, int | float) else str(value)

    def measure(self, item: Item, value: Any) -> Measure | None:
        target = self.limit(item)
        if not is_number(value) or target is None:
            return None
        unit = item.get("unit", "")
        return Measure(
            item["prompt"], format_number(value, unit), f"at most {format_number(target)}", "target", value <= target
        )
