"""Where an auditor stands in a walk: per touchpoint, what is answered and what is still required. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shopper.checklists.scoring import AnswerData, Missing, missing_for_submit, visible_item_keys


@dataclass(frozen=True)
class TouchpointProgress:
    key: str
    title: str
    channel: str
    promise: str
    visible: int
    answered: int
    required_left: int
    wrapped_up: bool

    @property
    def done(self) -> bool:
        return self.required_left == 0 and self.answered > 0


def walk_progress(
    definition: dict[str, Any],
    answers: Mapping[str, AnswerData],
    photo_counts: Mapping[str, int],
    wrapped_up: set[str],
) -> list[TouchpointProgress]:
    values = {key: answer.value for key, answer in answers.items()}
    visible = visible_item_keys(definition, values)
    missing: list[Missing] = missing_for_submit(definition, answers, photo_counts)
    left: dict[str, int] = {}
    for gap in missing:
        left[gap.touchpoint_key] = left.get(gap.touchpoint_key, 0) + 1
    result = []
    for tp in definition["touchpoints"]:
        keys = [item["key"] for item in tp["items"] if item["key"] in visible]
        answered = sum(
            1 for key in keys if (key in answers and answers[key].value is not None) or photo_counts.get(key, 0) > 0
        )
        result.append(
            TouchpointProgress(
                key=tp["key"],
                title=tp["title"],
                channel=tp["channel"],
                promise=tp.get("promise", ""),
                visible=len(keys),
                answered=answered,
                required_left=left.get(tp["key"], 0),
                wrapped_up=tp["key"] in wrapped_up,
            )
        )
    return result
