"""The app shell the service worker precaches, and its version: a hash of the files themselves.

A deploy that changes any shell file, the worker's own code (static/sw.js) or any template changes the version, so
the worker installs a fresh cache, fetches the audit pages it kept again, and deletes the old caches; the `v` query
on static URLs (added to every url_for('static')) keeps the HTTP cache from mixing versions. The SHELL_VERSION_SALT
setting goes into the hash too: changing it makes every phone take a fresh copy without any file changing.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

SHELL_FOLDERS = ("css", "js", "icons")  # not fonts: only the report uses them, and phones need not carry 375 KB
WORKER = "sw.js"  # in the static folder; served at /sw.js (pwa/views.py), not kept in the shell


@cache
def shell_files(static_folder: str) -> tuple[str, ...]:
    root = Path(static_folder)
    files = [p for folder in SHELL_FOLDERS for p in sorted((root / folder).rglob("*")) if p.is_file()]
    return tuple(p.relative_to(root).as_posix() for p in files if not p.name.startswith("."))


def _template_files(template_folder: str) -> list[Path]:
    root = Path(template_folder)
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


@cache
def shell_version(static_folder: str, template_folder: str, salt: str = "") -> str:
    digest = hashlib.sha256(salt.encode())
    for relative in (*shell_files(static_folder), WORKER):
        path = Path(static_folder) / relative
        if path.is_file():
            digest.update(relative.encode())
            digest.update(path.read_bytes())
    for template in _template_files(template_folder):
        digest.update(template.relative_to(template_folder).as_posix().encode())
        digest.update(template.read_bytes())
    return digest.hexdigest()[:12]


@cache
def worker_script(static_folder: str) -> str:
    """The service worker's own code, static/sw.js, read once per process like the shell's file list."""
    return (Path(static_folder) / WORKER).read_text(encoding="utf-8")
