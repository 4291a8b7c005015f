"""What every item type has: the ``ItemType`` base class, the answer limits, and the words answers are shown in.

Pure: no Flask, no database. The type modules beside this one subclass ``ItemType``; the registry in
``__init__.py`` collects them.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

CHECK_ANSWERS = ("yes", "no", "na")
EXPECT = ("yes", "no")
MAX_TIMER_S = 86400
MAX_COUNT = 10000
MAX_TEXT = 5000
LABEL_MAX = 100
OPTION_LABEL_MAX = 200
UNIT_MAX = 20
NOT_BLANK = r"\S"

Item = dict[str, Any]


class AnswerError(ValueError):
    """An answer value does not fit its item; the message is meant for the auditor."""


# --- value helpers -----------------------------------------------------------------------------------------


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_finite(value: Any) -> bool:
    return is_number(value) and (isinstance(value, int) or math.isfinite(value))


def as_whole(value: Any) -> int | None:
    """The int a JSON number stands for (3 or 3.0), or None if it is not a whole number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def describe(value: Any) -> str:
    """A short, JSON-like rendering of a value for messages."""
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return '"' + shown.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if abs(value) < 10**15 else "a very large number"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def quote(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else describe(value)


def not_an_option(value: Any, allowed: list[str]) -> AnswerError:
    return AnswerError(f"{quote(value)} is not an option; choose one of: {', '.join(allowed)}")


def format_seconds(seconds: float) -> str:
    """A duration for people: "45 s", "1 min", "4 min 10 s", "1 h 2 min" (hours drop the seconds)."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"not a duration: {seconds!r}")
    whole = math.floor(seconds + 0.5)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod((whole + 30) // 60, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def format_number(value: float, unit: str = "") -> str:
    """A number as a person writes it (at most 3 decimals), with the unit after a space when there is one."""
    if isinstance(value, int) or (value.is_integer() and abs(value) < 1e15):
        text = str(int(value))
    elif abs(value) >= 1e15:
        text = f"{value:g}"
    else:
        text = f"{value:.3f}".rstrip("0").rstrip(".")
        if text == "-0":
            text = "0"
    return f"{text} {unit}" if unit else text


def number_target(low: float | None, high: float | None, unit: str) -> str:
    """A target range in words: "at most 5 kg", "at least 2", "exactly 3", "2 to 5 kg"."""
    if low is None:
        return f"at most {format_number(high, unit)}" if high is not None else ""
    if high is None:
        return f"at least {format_number(low, unit)}"
    if low == high:
        return f"exactly {format_number(high, unit)}"
    return f"{format_number(low)} to {format_number(high, unit)}"


def string_schema(max_length: int, *, not_blank: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "maxLength": max_length}
    if not_blank:
        schema.update(minLength=1, pattern=NOT_BLANK)
    return schema


def whole_schema(minimum: int, maximum: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": minimum, "maximum": maximum}


@dataclass(frozen=True)
class Measure:
    """A measured wait, count or number against its target: "4 min 10 s" against "1 min"."""

    prompt: str
    actual: str
    target: str
    target_word: str  # "promise" for waits, "target" for counts and numbers
    met: bool


class ItemChecks(Protocol):
    """What a type's own rules (``ItemType.check_item``) report to: the checklist validator in schema.py."""

    def add(self, path: str, message: str) -> None: ...

    def is_key(self, value: Any) -> bool: ...


class Settings(Protocol):
    """The editor's item form, as a type sees it: the value of one of its settings, parsed."""

    def setting(self, name: str) -> Any: ...


def at(path: str, field: str) -> str:
    return f"{path}.{field}" if path else field


class ItemType(ABC):
    """One kind of checklist item. Every method takes the item (a dict of a valid definition); the answer
    methods other than ``clean`` take a value ``clean`` returned, never None.

    Subclasses set the class attributes and override what differs from the defaults below.
    """

    #: the name in a definition's ``type`` field
    name: ClassVar[str]
    #: how the editor offers it
    label: ClassVar[str]
    #: the fields only this type uses, in the order the JSON export writes them
    fields: ClassVar[tuple[str, ...]] = ()
    #: JSON Schema of those fields (the published schema's per-type rule)
    properties: ClassVar[dict[str, Any]] = {}
    #: fields the published schema requires for this type
    required: ClassVar[tuple[str, ...]] = ()
    #: answers of this type are numbers, so condition answers typed in the editor or a sheet are read as numbers
    numeric: ClassVar[bool] = False
    #: answered by taking photos rather than by a value
    photos_answer: ClassVar[bool] = False
    #: answers that need no evidence even when the item asks for some
    no_evidence_for: ClassVar[tuple[Any, ...]] = ()
    #: a measured type's trend on the dashboard: its export's figure ("average wait (seconds)"), the word its
    #: average goes by ("wait") and the scale of its chart ("seconds")
    trend_figure: ClassVar[str] = ""
    trend_word: ClassVar[str] = ""
    trend_chart: ClassVar[str] = ""
    #: what the walk's script needs to know (static/js/walk.js, rules.js): see ``facts``
    walk: ClassVar[dict[str, Any]] = {}

    @property
    def template(self) -> str:
        """The walk control's template: macros ``control`` and, where the type has them, ``target_text`` and
        ``answer_label``."""
        return f"checklists/items/{self.name}.html"

    def facts(self) -> dict[str, Any]:
        """The per-type facts the page embeds as JSON for the walk's script."""
        return {
            "fields": list(self.fields),
            "photos_answer": self.photos_answer,
            "no_evidence_for": list(self.no_evidence_for),
            "control": "type",
            "value": "text",
            "list_if": None,
            "typing": False,
            "widget": None,
            "hint": None,
            "breach": None,
            **self.walk,
        }

    # the definition

    def schema(self) -> dict[str, Any]:
        """This type's rule in the published schema (schema.py adds which field names are allowed)."""
        rule: dict[str, Any] = {"properties": self.properties}
        if self.required:
            rule["required"] = list(self.required)
        return rule

    def check_item(self, checks: ItemChecks, path: str, item: Item) -> None:
        """Report what the schema cannot say about this type's fields of ``item`` (at ``path``): rules between
        two values. ``item`` may be faulty anywhere; a rule looks only at values of the right shape. Most types
        have no such rule."""
        return None

    def bounds(self, item: Item, field: str) -> tuple[int, int] | None:
        """The range of a whole-number field when it depends on another field (a rating's target), else None."""
        return None

    def count_problem(self, item: Item, field: str, value: list[Any]) -> str:
        """Why a list field has the wrong length for another field (the schema's conditional minItems)."""
        return f"has the wrong number of entries ({len(value)})"

    def condition_problem(self, item: Item, value: Any) -> str | None:
        """Why ``value`` (a string or a finite number) can never be this item's answer, for a show_if pointing
        at it; None when it can be."""
        try:
            if self.clean(item, value) is None:
                raise AnswerError("an empty answer cannot be compared")
        except AnswerError as error:
            return f"{describe(value)} is not a possible answer of {describe(item['key'])}: {error}"
        return None

    def read_answer(self, item: Item, text: str) -> Any:
        """An answer a person typed for a show_if pointing at this item (the editor's "Show it when that
        answer is"), as the definition stores it; a number when the type is numeric and ``text`` is one."""
        return text

    def settings(self, form: Settings) -> dict[str, Any]:
        """This type's fields as the editor's form sets them, without the empty ones."""
        item: dict[str, Any] = {}
        for name in self.fields:
            value = form.setting(name)
            if value is not None and value is not False and value != "" and value != []:
                item[name] = value
        return item

    # answers

    @abstractmethod
    def clean(self, item: Item, value: Any) -> Any:
        """Validate a (not None) answer and return it normalised; raise AnswerError with a message for the
        auditor when it does not fit."""

    def answered(self, value: Any, photos: int) -> bool:
        return photos >= 1 if self.photos_answer else value is not None

    def fraction(self, item: Item, value: Any) -> float | None:
        """The share of the item's points the answer earns (0..1), or None when it is not scored."""
        return None

    def breach(self, item: Item, value: Any) -> str | None:
        """A short reason when the answer breaks the item's own rule, else None."""
        return None

    def answer_text(self, item: Item, value: Any, photos: int) -> str:
        """An answer (possibly None, possibly not fitting the item) as the report prints it."""
        return "Not answered" if value is None else self.value_text(item, value)

    def value_text(self, item: Item, value: Any) -> str:
        return str(value)

    def measure(self, item: Item, value: Any) -> Measure | None:
        """What was measured against what was promised, for a type with a measured target."""
        return None

    def limit(self, item: Item) -> float | None:
        """The most a wait or a count may be (the target trends follow), or None."""
        return None

    def limit_text(self, item: Item) -> str:
        """The limit in words, for the comparison of two audits."""
        return ""
