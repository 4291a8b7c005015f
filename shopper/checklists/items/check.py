"""check: yes, no or not applicable; it keeps the promise when the answer is the expected one (yes by default)."""

from __future__ import annotations

from typing import Any

from shopper.checklists.items.base import (
    CHECK_ANSWERS,
    EXPECT,
    Item,
    ItemType,
    Settings,
    describe,
    not_an_option,
)

LABELS = {"yes": "Yes", "no": "No", "na": "Not applicable"}
_SPELLINGS = {"n/a": "na", "n-a": "na", "not applicable": "na"}


class Check(ItemType):
    name = "check"
    label = "Check: yes or no"
    fields = ("expect",)
    properties = {"expect": {"enum": list(EXPECT)}}
    no_evidence_for = ("na",)
    walk = {"control": "choose", "value": "option", "breach": "expect"}

    def condition_problem(self, item: Item, value: Any) -> str | None:
        if value in CHECK_ANSWERS:
            return None
        return f"{describe(value)} is not a possible answer of {describe(item['key'])} ({', '.join(CHECK_ANSWERS)})"

    def read_answer(self, item: Item, text: str) -> Any:
        return _SPELLINGS.get(text.lower(), text.lower())

    def settings(self, form: Settings) -> dict[str, Any]:
        """Only an expected "no" is written: "yes" is the default."""
        return {"expect": "no"} if form.setting("expect") == "no" else {}

    def clean(self, item: Item, value: Any) -> Any:
        if isinstance(value, str) and value in CHECK_ANSWERS:
            return value
        raise not_an_option(value, list(CHECK_ANSWERS))

    def fraction(self, item: Item, value: Any) -> float | None:
        return None if value == "na" else float(value == item.get("expect", "yes"))

    def breach(self, item: Item, value: Any) -> str | None:
        if value != "na" and value != item.get("expect", "yes"):
            return f"answered {value}"
        return None

    def value_text(self, item: Item, value: Any) -> str:
        return LABELS.get(value, str(value))
