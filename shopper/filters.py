"""Query-string values (list filters, page numbers, preselections), read through WTForms forms.

A value from a link can be anything: `²` and `٣` pass `str.isdigit()` (one of them then fails `int()`), `int()`
reads fullwidth and Arabic-Indic digits, a twenty-digit page overflows the database's offset and `9999-12-31` plus
one day overflows `date`. So here a number is ASCII digits only and bounded, a day is `YYYY-MM-DD` within the years
2000 to 2100, and a value the page cannot use, or a parameter given twice with different values, is an error message
on its field, never an exception. A missing or empty value means "not chosen" (None), as a filter form's "All sites"
option sends it.

Fields parse when the form validates, so a form can set what a field accepts (the ids of the organization's sites,
the fallback named in a message) after it is built. `FilterForm.problems()` validates and returns the messages.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import date
from typing import NoReturn

from wtforms import Field
from wtforms.validators import ValidationError

from shopper.forms import Form
from shopper.text import MAX_ID

FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
#: the largest number a link may carry: ids and version numbers are INTEGER columns (see shopper/text.py)
MAX_NUMBER = MAX_ID
_NUMBER = re.compile(r"[0-9]{1,10}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SHOWN = 24


def shown(raw: str) -> str:
    """A value as a message quotes it: in quotes, and cut short (flashed messages travel in the session cookie)."""
    return f"“{raw if len(raw) <= _SHOWN else raw[: _SHOWN - 1] + '…'}”"


def number(raw: str, low: int = 1, high: int = MAX_NUMBER) -> int | None:
    """`raw` as a whole number from `low` to `high` when it is written in ASCII digits, else None."""
    if not _NUMBER.fullmatch(raw):
        return None
    value = int(raw)
    return value if low <= value <= high else None


def day(raw: str) -> date | None:
    """`raw` as a date when it is `YYYY-MM-DD` (ASCII digits) between FIRST_DAY and LAST_DAY, else None."""
    if not _DAY.fullmatch(raw):
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        return None
    return value if FIRST_DAY <= value <= LAST_DAY else None


class QueryValue(Field):
    """One query-string parameter. `data` is the parsed value, or None when it is missing, empty or refused.

    A refusal says what was wrong and what the page does instead: "<problem>: <fallback>." (`fallback` may be set by
    the form after it is built, e.g. "showing 16 Jun 2025")."""

    def __init__(self, label: str, *, fallback: str, **kwargs):
        super().__init__(label, **kwargs)
        self.fallback = fallback

    def process_formdata(self, valuelist) -> None:
        self.data = None

    def pre_validate(self, form) -> None:
        values = list(dict.fromkeys(value.strip() for value in self.raw_data or () if value.strip()))
        self.data = None
        if len(values) > 1:
            self.refuse(self.twice())
        if values:
            self.data = self.parse(values[0])

    def parse(self, raw: str):
        """The value of `raw`, or `refuse()`."""
        raise NotImplementedError

    def twice(self) -> str:
        return f"Choose one {self.label.text.lower()} at a time"

    def refuse(self, problem: str) -> NoReturn:
        raise ValidationError(f"{problem}: {self.fallback}.")


class IdValue(QueryValue):
    """The id of one of `allowed` (the form sets them); anything else is `unknown`, e.g. "Unknown site in the
    filter"."""

    def __init__(self, label: str, *, unknown: str, fallback: str, **kwargs):
        super().__init__(label, fallback=fallback, **kwargs)
        self.unknown = unknown
        self.allowed: Collection[int] = ()

    def parse(self, raw: str) -> int:
        value = number(raw)
        if value is None or value not in self.allowed:
            self.refuse(self.unknown)
        return value


class ChoiceValue(QueryValue):
    """One of `choices`; anything else is `unknown`, with `{value}` for the value given."""

    def __init__(self, label: str, *, choices: Collection[str], unknown: str, fallback: str, **kwargs):
        super().__init__(label, fallback=fallback, **kwargs)
        self.choices = choices
        self.unknown = unknown

    def parse(self, raw: str) -> str:
        if raw not in self.choices:
            self.refuse(self.unknown.format(value=shown(raw)))
        return raw


class DayValue(QueryValue):
    """A day like 2026-03-31 from FIRST_DAY to LAST_DAY; `example` is the date a message shows as the model."""

    def __init__(self, label: str, *, fallback: str, example: str = "2026-03-31", **kwargs):
        super().__init__(label, fallback=fallback, **kwargs)
        self.example = example

    def parse(self, raw: str) -> date:
        value = day(raw)
        if value is not None:
            return value
        if _DAY.fullmatch(raw) and day(raw[:4] + "-01-01") is None:
            self.refuse(f"{self.label.text} {shown(raw)} is outside the years {FIRST_DAY.year} to {LAST_DAY.year}")
        self.refuse(f"{self.label.text} {shown(raw)} is not a date like {self.example}")

    def twice(self) -> str:
        return f"Choose one “{self.label.text}” date at a time"


class NumberValue(QueryValue):
    """A whole number from `low` to `high`; anything else is `invalid`, with `{value}` for the value given."""

    def __init__(self, label: str, *, invalid: str, fallback: str, low: int = 1, high: int = MAX_NUMBER, **kwargs):
        super().__init__(label, fallback=fallback, **kwargs)
        self.invalid = invalid
        self.low, self.high = low, high

    def parse(self, raw: str) -> int:
        value = number(raw, self.low, self.high)
        if value is None:
            self.refuse(self.invalid.format(value=shown(raw)))
        return value


class FilterForm(Form):
    """A form over the query string (pass `request.args`): no CSRF token, since reading a list changes nothing."""

    class Meta:
        csrf = False

    def __init__(self, args):
        super().__init__(formdata=args)

    def problems(self) -> list[str]:
        """Validate; the message of every value that was refused, in the fields' order."""
        self.validate()
        return [message for field in self for message in field.errors]
