"""rating: a whole number from 1 to the item's scale (3 to 10), with optional labels and a lowest acceptable score."""

from __future__ import annotations

from typing import Any

from shopper.checklists.items.base import (
    LABEL_MAX,
    AnswerError,
    Item,
    ItemType,
    as_whole,
    plural,
    string_schema,
    whole_schema,
)


def _scale(item: Item) -> int | None:
    scale = item.get("scale")
    return scale if isinstance(scale, int) and not isinstance(scale, bool) and 3 <= scale <= 10 else None


class Rating(ItemType):
    name = "rating"
    label = "Rating: 1 to a top score"
    fields = ("scale", "labels", "target_min")
    properties = {
        "scale": whole_schema(3, 10),
        "labels": {"type": "array", "minItems": 3, "maxItems": 10, "items": string_schema(LABEL_MAX)},
        "target_min": whole_schema(1, 10),
    }
    required = ("scale",)
    numeric = True
    walk = {"control": "choose", "value": "number", "breach": "at-least"}

    def schema(self) -> dict[str, Any]:
        """The labels and the target follow the scale: one label per point, a target on the scale."""
        per_scale = [
            {
                "if": {"properties": {"scale": {"const": n}}, "required": ["scale"]},
                "then": {"properties": {"labels": {"minItems": n, "maxItems": n}, "target_min": {"maximum": n}}},
            }
            for n in range(3, 11)
        ]
        return {**super().schema(), "allOf": per_scale}

    def bounds(self, item: Item, field: str) -> tuple[int, int] | None:
        return (1, _scale(item) or 10) if field == "target_min" else None

    def count_problem(self, item: Item, field: str, value: list[Any]) -> str:
        return f"has {plural(len(value), 'label')} but the scale has {item['scale']} points; give one label per point"

    def clean(self, item: Item, value: Any) -> Any:
        scale = item["scale"]
        whole = as_whole(value)
        if whole is None or not 1 <= whole <= scale:
            raise AnswerError(f"rating must be a whole number from 1 to {scale}")
        return whole

    def fraction(self, item: Item, value: Any) -> float | None:
        return float((value - 1) / (item["scale"] - 1))

    def breach(self, item: Item, value: Any) -> str | None:
        target = item.get("target_min")
        if target is not None and value < target:
            return f"{value} of {item['scale']}: the target is at least {target}"
        return None

    def value_text(self, item: Item, value: Any) -> str:
        labels = item.get("labels") or []
        label = f" ({labels[value - 1]})" if isinstance(value, int) and 0 < value <= len(labels) else ""
        return f"{value} of {item['scale']}{label}"
