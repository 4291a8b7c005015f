"""The app shell the service worker precaches, and its version: a hash of the files themselves.

A deploy that changes any shell file, the worker's own code (static/sw.js) or any template changes the version, so
the worker installs a fresh cache, fetches the audit pages it kept again, and deletes the old caches; the `v` query
on static URLs (added to every url_for('static')) names the version, and a shell file asked for under the current
one is kept a year by the browser (files.py). The SHELL_VERSION_SALT setting goes into the hash too: changing it
makes every phone take a fresh copy without any file changing.
"""

from __future__ import annotations

import hashlib
import threading
import time
from functools import cache
from pathlib import Path
from typing import Any

SHELL_FOLDERS = ("css", "js", "icons")  # not fonts: only the report uses them, and phones need not carry 375 KB
WORKER = "sw.js"  # in the static folder; served at /sw.js (pwa/views.py), not kept in the shell
#: in debug, how often at most the files' modification times are looked at again
DEBUG_CHECK_SECONDS = 1.0


@cache
def shell_files(static_folder: str) -> tuple[str, ...]:
    return _list_shell_files(static_folder)


def _list_shell_files(static_folder: str) -> tuple[str, ...]:
    root = Path(static_folder)
    files = [p for folder in SHELL_FOLDERS for p in sorted((root / folder).rglob("*")) if p.is_file()]
    return tuple(p.relative_to(root).as_posix() for p in files if not p.name.startswith("."))


def _template_files(template_folder: str) -> list[Path]:
    root = Path(template_folder)
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def _hashed_paths(static_folder: str, template_folder: str) -> list[tuple[str, Path]]:
    static = [(name, Path(static_folder) / name) for name in (*_list_shell_files(static_folder), WORKER)]
    templates = [(p.relative_to(template_folder).as_posix(), p) for p in _template_files(template_folder)]
    return [*static, *templates]


@cache
def shell_version(static_folder: str, template_folder: str, salt: str = "") -> str:
    digest = hashlib.sha256(salt.encode())
    for relative, path in _hashed_paths(static_folder, template_folder):
        if path.is_file():
            digest.update(relative.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


class Shell:
    """The shell of one app: its files and their version.

    In production the version is computed once per process. In debug (`flask run --debug`) a template or a static
    file edited while the server runs must show at the next reload, so the files' modification times are looked
    at again, at most once a second, and the version computed afresh when one changed."""

    def __init__(self, static_folder: str, template_folder: str, salt: str, *, debug: bool):
        self.static_folder = static_folder
        self.template_folder = template_folder
        self.salt = salt
        self.debug = debug
        self._lock = threading.Lock()
        self._checked_at = 0.0
        self._stamp: tuple = ()
        self._version = ""
        self._files: tuple[str, ...] = ()

    def _stamp_now(self) -> tuple:
        stamps = []
        for relative, path in _hashed_paths(self.static_folder, self.template_folder):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            stamps.append((relative, stat.st_mtime_ns, stat.st_size))
        return tuple(stamps)

    def _refresh(self) -> None:
        if self._version and not self.debug:
            return
        with self._lock:
            if self._version and not self.debug:
                return
            now = time.monotonic()
            if self._version and now - self._checked_at < DEBUG_CHECK_SECONDS:
                return
            self._checked_at = now
            stamp = self._stamp_now() if self.debug else ()
            if self._version and stamp == self._stamp:
                return
            self._stamp = stamp
            compute = shell_version.__wrapped__ if self.debug else shell_version
            self._files = _list_shell_files(self.static_folder) if self.debug else shell_files(self.static_folder)
            self._version = compute(self.static_folder, self.template_folder, self.salt)

    @property
    def version(self) -> str:
        self._refresh()
        return self._version

    @property
    def files(self) -> tuple[str, ...]:
        """The shell's files, relative to the static folder (css/app.css, js/walk.js, icons/icon.svg…)."""
        self._refresh()
        return self._files

    def path(self, relative: str) -> Path:
        return Path(self.static_folder) / relative

    def worker(self) -> str:
        """The service worker's own code, static/sw.js: read once per process, or at each call in debug."""
        if self.debug:
            return (Path(self.static_folder) / WORKER).read_text(encoding="utf-8")
        return _worker_script(self.static_folder)


@cache
def _worker_script(static_folder: str) -> str:
    return (Path(static_folder) / WORKER).read_text(encoding="utf-8")


def make_shell(app: Any) -> Shell:
    """`app` is the Flask app (this module imports no Flask)."""
    shell = Shell(
        str(app.static_folder),
        str(app.template_folder),
        str(app.config["SHELL_VERSION_SALT"]),
        debug=bool(app.debug),
    )
    app.extensions["shopper_shell"] = shell
    return shell


def shell_of(app: Any) -> Shell:
    """The app's shell. SHELL_VERSION_SALT may change in a running app's configuration (the tests change it): a
    new salt makes a new Shell."""
    shell: Shell | None = app.extensions.get("shopper_shell")
    if shell is None or shell.salt != str(app.config["SHELL_VERSION_SALT"]):
        shell = make_shell(app)
    return shell
