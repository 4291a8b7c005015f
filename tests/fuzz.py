"""What an attacker sends, as hypothesis strategies, and the forms a page really offers, read from its HTML.

Every request is encoded here byte by byte rather than by the test client, so it can carry what a browser never
sends: lone surrogates (as their UTF-8-like bytes), invalid UTF-8, repeated fields, a multipart body that breaks
off, a declared length far beyond the limit. `Case.describe()` is the reproduction printed when a case fails.
"""

from __future__ import annotations

import functools
import io
import json
import math
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import quote, quote_plus, urljoin, urlsplit

from hypothesis import strategies as st

# Values ---------------------------------------------------------------------------------------------------------

#: Strings that have broken web apps before: control characters, NUL, lone surrogates, bidi and other invisible
#: controls, digits that are not ASCII (`"²".isdigit()` is True, `int("²")` fails), numbers past every integer
#: type, floats a parser should refuse, dates no calendar has, markup, traversal, template syntax, and lengths
#: past every field limit.
NASTY = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "\u202eevil\u202c",
    "\u2066\u2067\u2068\u2069\u200e\u200f",
    "\ufeff",
    "\u200b",
    "\u2028\u2029",
    "\r\n\r\n",
    "\x1b[31m",
    "\x7f\x85\x9f",
    "²",
    "١٢٣",
    "𝟗",
    "½",
    "0",
    "-1",
    "-0",
    "+5",
    " 7 ",
    "1_000",
    "00000000000000000007",
    "9" * 30,
    "-" + "9" * 30,
    str(2**31),
    str(2**63),
    str(-(2**63) - 1),
    "1e309",
    "-1e309",
    "1e-400",
    "NaN",
    "Infinity",
    "-Infinity",
    "0x1F",
    "5.",
    ".5",
    "1,5",
    "true",
    "null",
    "[]",
    "{}",
    '{"a": 1}',
    "9999-12-31",
    "0001-01-01",
    "0000-00-00",
    "2026-02-30",
    "2026-13-01",
    "99999-01-01",
    "2026-1-1",
    "<script>alert(1)</script>",
    "\"'><img src=x onerror=alert(1)>",
    "' OR '1'='1' --",
    "%00%ff",
    "../../../etc/passwd",
    "{{ 7 * 7 }}{% raw %}",
    "\\",
    "e\u0301" * 300,
    "ﬁİß",
    "😀" * 1200,
    "a" * 2100,
    "é" * 5100,
    "x" * 70_000,
]

#: The few that break parsers most often, drawn far more often than the rest.
SHARP = [
    "²",
    "9" * 30,
    str(2**31),
    "-1",
    "0",
    "9999-12-31",
    "0001-01-01",
    "\x00",
    "\ud800",
    "NaN",
    "1e309",
    "a" * 2100,
    " ",
]
_CHARACTERS = st.characters(exclude_categories=())  # every code point, surrogates and controls included
# Strategies are built once: hypothesis validates each new strategy object on its first draw, which for the
# recursive JSON one costs more than the request it fills.
_TEXTS = st.one_of(
    st.sampled_from(SHARP),
    st.sampled_from(NASTY),
    st.text(_CHARACTERS, max_size=30),
    st.builds(
        lambda unit, n: unit * n,
        st.sampled_from(["a", "\x00", "\ud83d", "\u202e", "9", "\n", "é"]),
        st.sampled_from([121, 201, 301, 2001, 5001]),
    ),
)
_INTS = st.one_of(
    st.integers(-3, 12),
    st.sampled_from([2**31, 2**53 + 1, 2**63, -(2**63) - 1, 10**40, -(10**40)]),
    st.integers(),
)
_FLOATS = st.one_of(st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0, 0.5]), st.floats())
_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), _INTS, _FLOATS, _TEXTS),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_TEXTS, children, max_size=3),
    max_leaves=6,
)
_NAMES = st.one_of(st.sampled_from(["", "x", "csrf_token", "submit", "id", "a[]", "__proto__", "n" * 300]), _TEXTS)


def texts() -> st.SearchStrategy[str]:
    """Any string a field might receive (shrinks towards the empty string)."""
    return _TEXTS


def ints() -> st.SearchStrategy[int]:
    return _INTS


def json_values() -> st.SearchStrategy:
    """Any JSON value, NaN and Infinity included (Python's json writes and reads them)."""
    return _JSON


def field_names() -> st.SearchStrategy[str]:
    return _NAMES


def idempotency_keys(valid: st.SearchStrategy[str], reused: list[str]) -> st.SearchStrategy[list[str] | None]:
    """The header's values: mostly one valid key (so the body is what is tested), else None (no header), a bad or
    reused key, or several values (a header sent twice)."""
    bad = st.sampled_from(["", "short", "k" * 65, "not a key!", "ключ-ключ-ключ", "abc\u00e9defgh", "a" * 8 + ";"])
    one = st.one_of(valid, bad, *([st.sampled_from(reused)] if reused else []))
    header = st.sampled_from(["valid"] * 6 + ["one", "none", "twice"])
    return header.flatmap(
        lambda how: {
            "valid": valid.map(lambda key: [key]),
            "one": one.map(lambda key: [key]),
            "none": st.none(),
            "twice": st.lists(one, min_size=2, max_size=3),
        }[how]
    )


#: Header values as a client may send them (WSGI headers are Latin-1; line breaks cannot be sent at all).
HEADER_VALUES = [
    "\x00",
    "Mozilla/5.0 (Linux; Android 14) Chrome/120.0\x00\x01",
    "A" * 9000,
    "\xff\xfe\xc3\x28",
    "Safari \x1b[2J\x7f",
    "",
    " ",
    "application/json",
]


def extra_headers(device_cookie: str) -> st.SearchStrategy:
    """(headers, cookies) added to a request: mostly none; else an Accept that asks for JSON, a nasty User-Agent,
    Accept-Language or X-Forwarded-For, or a nasty device cookie."""
    value = st.sampled_from(HEADER_VALUES)
    return st.one_of(
        *[st.just(([], []))] * 3,
        st.just(([("Accept", "application/json")], [])),
        value.map(lambda v: ([("User-Agent", v)], [])),
        value.map(lambda v: ([("Accept-Language", v), ("X-Forwarded-For", v)], [])),
        st.one_of(value, _TEXTS)
        .filter(lambda v: v.isascii() and len(v) < 900)  # a cookie (control characters sent escaped) under 4 KB
        .map(lambda v: ([], [(device_cookie, v)])),
    )


# Files ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


@functools.cache
def uploads(good: tuple[bytes, ...]) -> st.SearchStrategy[Upload]:
    """A file field's value: a good file, or one that is empty, truncated, not what it says, or garbage."""
    data = st.one_of(
        st.sampled_from(good),
        st.sampled_from(good).map(lambda b: b[: len(b) // 2]),
        st.sampled_from([b"", b"\x00" * 64, b"GIF89a" + b"\x00" * 40, b"%PDF-1.7\n", b"<svg onload=alert(1)>"]),
        st.binary(max_size=64),
    )
    names = st.one_of(
        st.sampled_from(["photo.jpg", "checklist.json", "checklist.csv", "", "../../etc/passwd", "a\x00.png"]),
        texts(),
    )
    types = st.sampled_from(["image/jpeg", "image/png", "application/json", "text/csv", "application/octet-stream"])
    return st.builds(Upload, names, types, data)


# Requests -------------------------------------------------------------------------------------------------------


def _bytes(text: str) -> bytes:
    """UTF-8, with a lone surrogate written as the three bytes a careless encoder makes of it."""
    return text.encode("utf-8", "surrogatepass")


def urlencode(pairs) -> str:
    return "&".join(f"{quote_plus(_bytes(k))}={quote_plus(_bytes(v))}" for k, v in pairs)


def path_segment(text: str) -> str:
    return quote(_bytes(text), safe="") or "%20"


def _disposition(name: str, filename: str | None) -> bytes:
    head = b'Content-Disposition: form-data; name="' + _bytes(name) + b'"'
    if filename is not None:
        head += b'; filename="' + _bytes(filename) + b'"'
    return head


def multipart(pairs, files=(), boundary: str = "fuzzboundary7MA4YWxkTrZu0gW") -> tuple[bytes, str]:
    """A multipart/form-data body of text fields and `Upload`s, and its Content-Type."""
    mark = b"--" + boundary.encode()
    out = io.BytesIO()
    for name, value in pairs:
        out.write(mark + b"\r\n" + _disposition(name, None) + b"\r\n\r\n" + _bytes(value) + b"\r\n")
    for name, upload in files:
        out.write(mark + b"\r\n" + _disposition(name, upload.filename) + b"\r\n")
        out.write(b"Content-Type: " + upload.content_type.encode() + b"\r\n\r\n" + upload.data + b"\r\n")
    out.write(mark + b"--\r\n")
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


#: Broken multipart bodies, each with the Content-Type sent with it.
MALFORMED_MULTIPART = [
    (b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nunterminated', "multipart/form-data; boundary=b"),
    (b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--b--\r\n', "multipart/form-data"),
    (b"--other\r\n\r\nx\r\n--other--\r\n", "multipart/form-data; boundary=b"),
    (b"--b\r\nno header line\r\n\r\nx\r\n--b--\r\n", "multipart/form-data; boundary=b"),
    (b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n", "multipart/form-data; boundary=b"),
    (b'--b\r\nContent-Disposition: form-data; name="a\r\n\r\n\r\n--b--\r\n', "multipart/form-data; boundary=b"),
    (b"--b\r\n" + b"X-Long: " + b"h" * 20_000 + b"\r\n\r\nx\r\n--b--\r\n", "multipart/form-data; boundary=b"),
    (b"\xff\xfe\x00garbage", "multipart/form-data; boundary=" + "q" * 200),
    (b"", "multipart/form-data; boundary=b"),
]
MALFORMED_JSON = [
    b"{",
    b'{"value": }',
    b"[" * 5000,
    b'{"a":' * 3000,
    b"\xef\xbb\xbf{}",
    b"\xff\xfe{\x00}\x00",
    b'{"value": NaN, "client_ts": Infinity}',
    b'{"value": 1, "value": 2}',
    b'{"\\ud800": "\\udfff"}',
    b"1e99999",
    b"null",
    b'"a string"',
    b"[]",
    b"",
]


@dataclass
class Case:
    """One request."""

    method: str
    path: str
    query: str = ""
    body: bytes | None = None
    content_type: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_length: int | None = None  # a declared length that differs from the body's
    label: str = ""
    over_limit: bool = False  # the body is over MAX_CONTENT_LENGTH or MAX_FORM_MEMORY_SIZE: it must not be read
    cookies: list[tuple[str, str]] = field(default_factory=list)

    def send(self, client):
        for name, value in self.cookies:
            client.set_cookie(name, value, domain="shopper.test")
        kwargs = {"method": self.method, "headers": self.headers, "query_string": self.query or None}
        if self.body is not None:
            kwargs["data"] = self.body
        if self.content_length is not None:  # the test client would write the body's own length
            kwargs["environ_overrides"] = {"CONTENT_LENGTH": str(self.content_length)}
        if self.content_type is not None:
            kwargs["content_type"] = self.content_type
        return client.open(self.path, **kwargs)

    def __repr__(self) -> str:
        return f"Case({self.describe()[:400]!r})"

    def _repr_pretty_(self, printer, cycle) -> None:  # how hypothesis shows a failing case: short
        printer.text(repr(self))

    def describe(self) -> str:
        body = self.body or b""
        shown = body[:300] + (f"... ({len(body)} bytes)".encode() if len(body) > 300 else b"")
        query = f"?{self.query[:300]}" if self.query else ""
        parts = [f"{self.method} {self.path}{query} [{self.label}]"]
        if self.content_type:
            parts.append(f"Content-Type: {self.content_type[:120]}")
        if self.content_length is not None:
            parts.append(f"Content-Length: {self.content_length}")
        parts += [f"{k}: {v[:80]!r}" for k, v in self.headers]
        parts += [f"cookie {k}={v[:80]!r}" for k, v in self.cookies]
        if body:
            parts.append(f"body: {shown!r}")
        return "\n    ".join(parts)


def json_body(value) -> bytes:
    return json.dumps(value, ensure_ascii=True, allow_nan=True).encode()


# Forms read from a page -----------------------------------------------------------------------------------------


@dataclass
class PageForm:
    """A form as a browser would submit it: the fields it sends by default, the other values its choices offer,
    and its file fields."""

    action: str  # the path it posts to (resolved against the page's)
    method: str
    multipart: bool
    fields: list[tuple[str, str]] = field(default_factory=list)
    choices: dict[str, list[str]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    page: str = ""

    def names(self) -> list[str]:
        return list(dict.fromkeys([name for name, _ in self.fields] + list(self.choices) + self.files))


class FormReader(HTMLParser):
    """Every <form> of a page, with the values its inputs, selects, textareas and named buttons carry."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.page = page
        self.forms: list[PageForm] = []
        self._form: PageForm | None = None
        self._select: tuple[str, bool] | None = None  # (name, multiple)
        self._select_values: list[tuple[str, bool]] = []
        self._option: dict | None = None
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            action = urljoin(self.page, a.get("action") or self.page)
            self._form = PageForm(
                action=urlsplit(action).path,
                method=(a.get("method") or "get").upper(),
                multipart=(a.get("enctype") or "").lower() == "multipart/form-data",
                page=self.page,
            )
            self.forms.append(self._form)
            return
        form = self._form
        if form is None or "disabled" in a and tag != "option":
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            value = a.get("value") or ""
            if kind == "file":
                form.files.append(name)
            elif kind in ("checkbox", "radio"):
                form.choices.setdefault(name, []).append(value or "on")
                if "checked" in a:
                    form.fields.append((name, value or "on"))
            elif kind in ("submit", "image", "button", "reset"):
                form.choices.setdefault(name, []).append(value)
            else:
                form.fields.append((name, value))
        elif tag == "button" and name:
            form.choices.setdefault(name, []).append(a.get("value") or "")
        elif tag == "select" and name:
            self._select = (name, "multiple" in a)
            self._select_values = []
        elif tag == "option" and self._select:
            self._option = {"value": a.get("value"), "selected": "selected" in a}
            self._text = ""
        elif tag == "textarea" and name:
            self._textarea = name
            self._text = ""

    def handle_data(self, data):
        if self._option is not None or self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag):
        form = self._form
        if tag == "form":
            self._form = None
        elif tag == "option" and self._option is not None:
            value = self._option["value"] if self._option["value"] is not None else self._text.strip()
            self._select_values.append((value, self._option["selected"]))
            self._option = None
        elif tag == "select" and self._select and form is not None:
            name, multiple = self._select
            values = [value for value, _ in self._select_values]
            form.choices[name] = values
            chosen = [value for value, selected in self._select_values if selected]
            if not chosen and values and not multiple:
                chosen = values[:1]
            form.fields += [(name, value) for value in chosen]
            self._select = None
        elif tag == "textarea" and self._textarea is not None and form is not None:
            form.fields.append((self._textarea, self._text.removeprefix("\n")))
            self._textarea = None


def forms_of(html: str, page: str) -> list[PageForm]:
    reader = FormReader(page)
    reader.feed(html)
    reader.close()
    return reader.forms


class LinkReader(HTMLParser):
    """The query strings of a page's links (the names and values a GET page is asked with)."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.page = page
        self.links: list[tuple[str, str]] = []  # (path, query)

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href") if tag == "a" else None
        if href and "?" in href:
            parts = urlsplit(urljoin(self.page, href))
            if parts.query and parts.netloc in ("", "shopper.test"):  # this site's links only
                self.links.append((parts.path, parts.query))


def links_of(html: str, page: str) -> list[tuple[str, str]]:
    reader = LinkReader(page)
    reader.feed(html)
    reader.close()
    return reader.links
