"""Text from outside, cleaned once at the edge: query strings, form fields, JSON bodies, URL segments, imported files.

Nothing that cannot be stored or shown gets in:
- NUL: PostgreSQL refuses it in text, so a name with one was a 500;
- lone surrogates (a JSON "\\ud800"): they have no UTF-8 form, so storing one failed on both databases, and a text
  answer that held one made the walk page fail for good; each becomes U+FFFD, the replacement character;
- other control characters: removed from multi-line text (tab and line breaks stay, CR/LF become LF); in one-line
  text (names, titles, emails) every control character, line breaks included, becomes a space, so a title can
  never split a mail header;
- and everything is NFC, so the same word typed on two phones compares equal.

`init_app` installs the cleaning for every request: the query string and form fields (a `MultiDict` that cleans
what it is given, and drops a multipart part that has no name), JSON bodies (the app's JSON provider, which
refuses nesting deeper than MAX_JSON_DEPTH), and URL segments (the default route converter refuses control
characters, and the `int` converter ids no id column can hold, so such a URL is a 404). Imports call
`clean_value` on what they parse. Length limits stay with each form field and service rule, which know the right
number and say it in their message.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from flask import Flask, Request
from flask.json.provider import DefaultJSONProvider
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.routing import IntegerConverter, UnicodeConverter

_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # everything but tab, LF and CR
_CONTROL_IN_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_NEEDS_WORK = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
#: the largest id a URL or a form may name: PostgreSQL's `integer`, the type of every id column (a larger one was a
#: 500 there, and past 2**63 on SQLite too, whose driver cannot bind it)
MAX_ID = 2**31 - 1
#: how deep lists and objects may nest in a JSON body (the phone's deepest is 3)
MAX_JSON_DEPTH = 32


def clean_text(value: str, *, single_line: bool = False) -> str:
    """`value` with nothing unstorable or unrenderable left in it (see the module's docstring)."""
    if _NEEDS_WORK.search(value):
        value = _SURROGATE.sub("\ufffd", value)
        if single_line:
            value = _CONTROL_IN_LINE.sub(" ", value)
        else:
            value = _CONTROL_IN_TEXT.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    return value if value.isascii() else unicodedata.normalize("NFC", value)


def clean_line(value: Any) -> Any:
    """A WTForms filter for one-line fields: cleaned as one line and stripped; other values pass unchanged."""
    return clean_text(value, single_line=True).strip() if isinstance(value, str) else value


def clean_value(value: Any) -> Any:
    """Every string in a JSON-like value (keys included) cleaned as multi-line text; other values unchanged."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean_value(item) for item in value]
    if isinstance(value, dict):
        return {clean_value(key): clean_value(item) for key, item in value.items()}
    return value


class CleanMultiDict(ImmutableMultiDict):
    """The query string's and the form's values, cleaned as they are parsed. Files pass unchanged. A multipart
    part without a name (Werkzeug gives it the name None) is no field of any form: it is dropped."""

    def __init__(self, mapping=None):
        parsed = MultiDict(mapping)
        super().__init__(
            [(clean_text(key), clean_value(value)) for key, value in parsed.items(multi=True) if key is not None]
        )


class CleanRequest(Request):
    parameter_storage_class = CleanMultiDict


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether lists and objects nest more than `limit` levels deep (walked without recursion)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, list | dict):
            if depth > limit:
                return True
            pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


class CleanJSONProvider(DefaultJSONProvider):
    """Flask's JSON, with every string of a parsed body cleaned. A body nested deeper than any of ours is refused
    as malformed (a ValueError, as for any bad JSON): Python's parser, and the cleaning after it, recurse once per
    level and a few kilobytes of brackets ran out of stack, a 500."""

    def loads(self, s, **kwargs):
        try:
            value = super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("The JSON is nested too deeply.") from None
        if _deeper_than(value, MAX_JSON_DEPTH):
            raise ValueError("The JSON is nested too deeply.")
        return clean_value(value)


class SegmentConverter(UnicodeConverter):
    """The default URL converter (one path segment), refusing control characters: such a URL matches nothing."""

    def __init__(self, map, minlength: int = 1, maxlength: int | None = None, length: int | None = None) -> None:
        super().__init__(map, minlength, maxlength, length)
        self.regex = self.regex.replace("[^/]", r"[^/\x00-\x1f\x7f]")


class IdConverter(IntegerConverter):
    """`<int:...>`, refusing an id no database row can have: such a URL matches nothing."""

    def __init__(
        self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID, signed: bool = False
    ):
        super().__init__(map, fixed_digits, min, max, signed)


def init_app(app: Flask) -> None:
    """Install the cleaning. Call before any blueprint is registered: routes pick their converters when added."""
    app.request_class = CleanRequest
    app.json = CleanJSONProvider(app)
    app.url_map.converters["default"] = SegmentConverter
    app.url_map.converters["string"] = SegmentConverter
    app.url_map.converters["int"] = IdConverter
