"""The app shell the service worker precaches, and its version: a hash of the files themselves.

A deploy that changes any shell file changes the version, so the worker installs a fresh cache and deletes the old
one; the `v` query on static URLs (added to every url_for('static')) keeps the HTTP cache from mixing versions.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

SHELL_FOLDERS = ("css", "js", "icons", "fonts")


@cache
def shell_files(static_folder: str) -> tuple[str, ...]:
    root = Path(static_folder)
    files = [p for folder in SHELL_FOLDERS for p in sorted((root / folder).rglob("*")) if p.is_file()]
    return tuple(p.relative_to(root).as_posix() for p in files if not p.name.startswith("."))


@cache
def shell_version(static_folder: str, template_folder: str) -> str:
    digest = hashlib.sha256()
    for relative in shell_files(static_folder):
        digest.update(relative.encode())
        digest.update((Path(static_folder) / relative).read_bytes())
    for template in ("pwa/sw.js", "pwa/offline.html", "base.html"):
        digest.update((Path(template_folder) / template).read_bytes())
    return digest.hexdigest()[:12]
