"""date: a day, written YYYY-MM-DD; never scored."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from shopper.checklists.items.base import AnswerError, Item, ItemType

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Date(ItemType):
    name = "date"
    label = "Date"
    walk = {"value": "date"}

    def clean(self, item: Item, value: Any) -> Any:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value.isoformat()
        if isinstance(value, str) and _DATE_RE.match(value):
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                pass
            else:
                return value
        raise AnswerError("date must be a real date written YYYY-MM-DD")

    def value_text(self, item: Item, value: Any) -> str:
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value).strftime("%d %b %Y")
            except ValueError:
                return value
        return str(value)
