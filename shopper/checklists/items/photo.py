"""photo: answered by taking photos, not by a value; never scored."""

from __future__ import annotations

from typing import Any

from shopper.checklists.items.base import AnswerError, Item, ItemType, describe


class Photo(ItemType):
    name = "photo"
    label = "Photo"
    photos_answer = True
    walk = {"control": "photos", "value": None}

    def condition_problem(self, item: Item, value: Any) -> str | None:
        return f"{describe(item['key'])} is a photo item, which has no answer to compare"

    def clean(self, item: Item, value: Any) -> Any:
        raise AnswerError("a photo item takes photos, not an answer value")

    def answer_text(self, item: Item, value: Any, photos: int) -> str:
        return "1 photo" if photos == 1 else f"{photos} photos"
