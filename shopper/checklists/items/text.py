"""text: a written answer, at most ``max_length`` characters; never scored."""

from __future__ import annotations

import re
from typing import Any

from shopper.checklists.items.base import (
    MAX_TEXT,
    NOT_BLANK,
    AnswerError,
    Item,
    ItemType,
    whole_schema,
)

_NOT_BLANK_RE = re.compile(NOT_BLANK)


class Text(ItemType):
    name = "text"
    label = "Text: a written answer"
    fields = ("max_length",)
    properties = {"max_length": whole_schema(1, MAX_TEXT)}
    walk = {"value": "text", "typing": True}

    def clean(self, item: Item, value: Any) -> Any:
        """A blank answer comes back as None, since it says nothing."""
        if not isinstance(value, str):
            raise AnswerError("text must be a string")
        max_length = item.get("max_length", MAX_TEXT)
        if len(value) > max_length:
            raise AnswerError(f"text must be at most {max_length} characters")
        return value if _NOT_BLANK_RE.search(value) else None
