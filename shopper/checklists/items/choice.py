"""choice: one option, or several when ``multiple``; options may score (0 to 100) and may flag a finding."""

from __future__ import annotations

from typing import Any

from shopper.checklists.items.base import (
    AnswerError,
    Item,
    ItemChecks,
    ItemType,
    describe,
    not_an_option,
)

OPTION_FIELDS = ("value", "label", "score", "flag")


def _chosen(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


class Choice(ItemType):
    name = "choice"
    label = "Choice: pick from a list"
    fields = ("multiple", "options")
    properties = {
        "multiple": {"type": "boolean"},
        "options": {"type": "array", "minItems": 2, "maxItems": 20, "items": {"$ref": "#/$defs/option"}},
    }
    required = ("options",)
    walk = {"control": "choose", "value": "option", "list_if": "multiple", "breach": "flagged-options"}

    def check_item(self, checks: ItemChecks, path: str, item: Item) -> None:
        """Option values are unique within their item."""
        options = item.get("options")
        seen: dict[str, int] = {}
        for index, option in enumerate(options if isinstance(options, list) else []):
            value: Any = option.get("value") if isinstance(option, dict) else None
            if not checks.is_key(value):
                continue
            if value in seen:
                where = f"{path}.options[{index}].value"
                checks.add(where, f"duplicate option value {describe(value)} (also options[{seen[value]}])")
            else:
                seen[value] = index

    def condition_problem(self, item: Item, value: Any) -> str | None:
        values = [option["value"] for option in item["options"]]
        if value in values:
            return None
        return f"{describe(value)} is not an option of {describe(item['key'])} ({', '.join(values)})"

    def read_answer(self, item: Item, text: str) -> Any:
        """An option's value, or its label in any case."""
        options = item.get("options", [])
        if text in {option.get("value") for option in options}:
            return text
        by_label = {option.get("label", "").lower(): option.get("value") for option in options}
        return by_label.get(text.lower(), text)

    def clean(self, item: Item, value: Any) -> Any:
        values = [option["value"] for option in item["options"]]
        if not item.get("multiple", False):
            if isinstance(value, str) and value in values:
                return value
            raise not_an_option(value, values)
        if not isinstance(value, list | tuple):
            raise AnswerError(f"choose a list of options from: {', '.join(values)}")
        chosen: list[str] = []
        for part in value:
            if not (isinstance(part, str) and part in values):
                raise not_an_option(part, values)
            if part not in chosen:
                chosen.append(part)
        return chosen

    def fraction(self, item: Item, value: Any) -> float | None:
        scores = {option["value"]: option.get("score", 0) for option in item["options"]}
        if not any(scores.values()):
            return None  # no option scores: an informational question
        chosen = _chosen(value)
        if not chosen:
            return None
        return float(sum(scores[part] for part in chosen) / len(chosen) / 100)

    def breach(self, item: Item, value: Any) -> str | None:
        chosen = _chosen(value)
        flagged = [
            f'"{option["label"]}"'
            for option in item["options"]
            if option.get("flag", False) and option["value"] in chosen
        ]
        return "chose " + ", ".join(flagged) if flagged else None

    def value_text(self, item: Item, value: Any) -> str:
        names = {option["value"]: option["label"] for option in item["options"]}
        return ", ".join(names.get(part, str(part)) for part in _chosen(value)) or "Nothing chosen"
