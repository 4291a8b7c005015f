"""timer: how long something took, in seconds (0 to a day), against the promised longest wait ``target_max_s``."""

from __future__ import annotations

from typing import Any

from shopper.checklists.items.base import (
    MAX_TIMER_S,
    AnswerError,
    Item,
    ItemType,
    Measure,
    format_number,
    format_seconds,
    is_finite,
    is_number,
    whole_schema,
)


class Timer(ItemType):
    name = "timer"
    label = "Timer: how long it took"
    fields = ("target_max_s",)
    properties = {"target_max_s": whole_schema(0, MAX_TIMER_S)}
    numeric = True
    trend_figure = "average wait (seconds)"
    trend_word = "wait"
    trend_chart = "seconds"
    walk = {
        "value": "number",
        "typing": True,
        "widget": "stopwatch",
        "hint": f"Type the seconds as a whole number, from 0 to {MAX_TIMER_S}.",
        "breach": "wait",
    }

    def clean(self, item: Item, value: Any) -> Any:
        if not is_finite(value) or not 0 <= value <= MAX_TIMER_S:
            raise AnswerError(f"time must be a number of seconds from 0 to {MAX_TIMER_S}")
        return value

    def limit(self, item: Item) -> float | None:
        target: float | None = item.get("target_max_s")
        return target

    def limit_text(self, item: Item) -> str:
        return format_seconds(item["target_max_s"])

    def fraction(self, item: Item, value: Any) -> float | None:
        target = self.limit(item)
        return None if target is None else float(value <= target)

    def breach(self, item: Item, value: Any) -> str | None:
        target = item.get("target_max_s")
        if target is None or value <= target:
            return None
        if value < 120:  # "61 s: the promise is 60 s" reads better than "1 min 1 s: the promise is 1 min"
            return f"{format_number(value)} s: the promise is {target} s"
        return f"{format_seconds(value)}: the promise is {format_seconds(target)}"

    def value_text(self, item: Item, value: Any) -> str:
        return format_seconds(value) if isinstance(value, int | float) else str(value)

    def measure(self, item: Item, value: Any) -> Measure | None:
        target = self.limit(item)
        if not is_number(value) or target is None:
            return None
        return Measure(item["prompt"], format_seconds(value), format_seconds(target), "promise", value <= target)
