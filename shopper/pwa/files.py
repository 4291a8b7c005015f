"""Shell files (static/css, js, icons) asked for under the current version, served before Flask sees the request.

Under `?v=<current version>` a shell file never changes (the version is a hash of every shell file), so it is
prepared once per version and kept in memory: scripts and stylesheets without their comment lines, module imports
given the same `?v=` (so a browser caches the modules a page imports as it caches the page's own scripts, and asks
for none of them again), then compressed with brotli at 11 and gzip at 9. The answer carries only what a file
needs: a year of immutable caching, a strong ETag per encoding, nosniff, `Vary: Accept-Encoding`; no cookie, no
CSP (it concerns documents). Every other static request (no version, an older version, the report's fonts) goes to
Flask's static view, revalidated as before.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import re
import threading
from dataclasses import dataclass
from urllib.parse import parse_qsl

import brotli  # type: ignore[import-untyped]
from flask import Flask
from werkzeug.http import parse_accept_header, parse_etags

from shopper.pwa.shell import Shell, shell_of

MAX_AGE = 365 * 24 * 3600
CACHE_CONTROL = f"public, max-age={MAX_AGE}, immutable"
COMPRESSIBLE = {".css", ".js", ".svg", ".webmanifest", ".json"}
TYPES = {".js": "text/javascript", ".webmanifest": "application/manifest+json"}  # whatever the system's mimetypes say
#: `from "./x.js"`, `import "./x.js"` and `import("./x.js")`: relative module specifiers, which get the version
MODULE_SPECIFIER = re.compile(r"""(\bfrom\s*|\bimport\s*\(?\s*)(["'])(\.{1,2}/[^"'?#\s]+\.js)\2""")
CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)


@dataclass(frozen=True)
class Prepared:
    """One shell file as served under one version: its bytes in each encoding, and their ETags."""

    content_type: str
    bodies: dict[str, bytes]  # "identity", and "br" and "gzip" when they are smaller
    etags: dict[str, str]


def strip_js_comment_lines(source: str) -> str:
    """`source` without its blank lines and the lines that are only a comment (`// …`, or a `/* … */` that begins a
    line). Code is left as it is, comments after code too: this is no minifier, and needs no parser to be safe. A
    line inside a template literal that spans lines is kept whatever it holds."""
    kept: list[str] = []
    in_block = in_template = False
    for line in source.splitlines():
        text = line.strip()
        if in_block:
            if "*/" in text:
                in_block = False
                rest = text.split("*/", 1)[1].strip()
                if rest:
                    kept.append(rest)
            continue
        if not in_template:
            if not text or text.startswith("//"):
                continue
            if text.startswith("/*"):
                rest = text[2:]
                if "*/" in rest:
                    rest = rest.split("*/", 1)[1].strip()
                    if rest:
                        kept.append(rest)
                else:
                    in_block = True
                continue
        if line.count("`") % 2:
            in_template = not in_template
        kept.append(line)
    return "\n".join(kept) + "\n"


def prepare_text(relative: str, text: str, version: str) -> str:
    """A script or stylesheet as served under `version`: comment lines out, module imports versioned."""
    if relative.endswith(".js"):
        text = strip_js_comment_lines(text)
        return MODULE_SPECIFIER.sub(lambda m: f"{m[1]}{m[2]}{m[3]}?v={version}{m[2]}", text)
    if relative.endswith(".css"):
        return "\n".join(line for line in CSS_COMMENT.sub("", text).splitlines() if line.strip()) + "\n"
    return text


def prepare(shell: Shell, relative: str, version: str) -> Prepared:
    path = shell.path(relative)
    suffix = path.suffix.lower()
    content_type = TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    raw = path.read_bytes()
    if suffix in {".js", ".css"}:
        raw = prepare_text(relative, raw.decode("utf-8"), version).encode("utf-8")
    if suffix in COMPRESSIBLE and suffix != ".svg":
        content_type += "; charset=utf-8"
    bodies = {"identity": raw}
    if suffix in COMPRESSIBLE:
        for encoding, packed in (("br", brotli.compress(raw, quality=11)), ("gzip", gzip.compress(raw, 9, mtime=0))):
            if len(packed) < len(raw):
                bodies[encoding] = packed
    tag = hashlib.sha256(raw).hexdigest()[:16]
    etags = {encoding: f'"{tag}-{encoding}"' if encoding != "identity" else f'"{tag}"' for encoding in bodies}
    return Prepared(content_type, bodies, etags)


def choose_encoding(accept_encoding: str, available: dict[str, bytes]) -> str:
    """brotli if the browser takes it, else gzip, else the file as it is (Accept-Encoding's q=0 refuses one)."""
    accepted = parse_accept_header(accept_encoding)
    for encoding in ("br", "gzip"):
        if encoding in available and accepted[encoding] > 0:
            return encoding
    return "identity"


class ShellFiles:
    """WSGI middleware in front of the app: serves a shell file asked for under the current version, passes
    every other request on."""

    def __init__(self, app: Flask, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        self.prefix = f"{app.static_url_path}/"
        self._prepared: dict[tuple[str, str], Prepared] = {}
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        path = environ.get("PATH_INFO", "")
        if method in ("GET", "HEAD") and path.startswith(self.prefix):
            shell = shell_of(self.app)
            relative = path[len(self.prefix) :]
            query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
            if query == [("v", shell.version)] and relative in shell.files:
                return self._serve(shell, relative, environ, start_response, head=method == "HEAD")
        return self.wsgi_app(environ, start_response)

    def prepared(self, shell: Shell, relative: str) -> Prepared:
        version = shell.version
        key = (version, relative)
        found = self._prepared.get(key)
        if found is None:
            with self._lock:
                found = self._prepared.get(key)
                if found is None:
                    found = prepare(shell, relative, version)
                    stale = [k for k in self._prepared if k[0] != version]
                    for k in stale:
                        del self._prepared[k]
                    self._prepared[key] = found
        return found

    def _serve(self, shell: Shell, relative: str, environ, start_response, *, head: bool):
        file = self.prepared(shell, relative)
        encoding = choose_encoding(environ.get("HTTP_ACCEPT_ENCODING", ""), file.bodies)
        etag = file.etags[encoding]
        headers = [("Cache-Control", CACHE_CONTROL), ("ETag", etag)]
        if len(file.bodies) > 1:
            headers.append(("Vary", "Accept-Encoding"))
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if if_none_match and parse_etags(if_none_match).contains_weak(etag.strip('"')):
            start_response("304 Not Modified", headers)
            return [b""]
        body = file.bodies[encoding]
        headers += [
            ("Content-Type", file.content_type),
            ("Content-Length", str(len(body))),
            ("X-Content-Type-Options", "nosniff"),
        ]
        if encoding != "identity":
            headers.append(("Content-Encoding", encoding))
        start_response("200 OK", headers)
        return [b""] if head else [body]


def init_app(app: Flask) -> None:
    app.wsgi_app = ShellFiles(app, app.wsgi_app)  # type: ignore[method-assign]
