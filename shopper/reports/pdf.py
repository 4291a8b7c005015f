"""PDF rendering in a child process with a memory cap and a time limit, so a pathological report cannot take the
web worker down with it.

Each web worker process keeps one long-lived render process, started on first use with the ``spawn`` method (a
fresh interpreter: nothing of the threaded web worker is forked). It caps its own address space
(``RLIMIT_AS``), imports WeasyPrint once and warms it up with a one-line render, then renders one job at a time.
The parent waits for each answer at most ``timeout`` seconds; past that it kills the render process, which is
started afresh for the next job. A render that runs out of memory ends its process the same way. The web worker
itself never imports WeasyPrint (importing it sets ``ImageFile.LOAD_TRUNCATED_IMAGES`` for the whole process).

A job carries the HTML and the exact files the report may load (see ``fetcher.py``); the answer carries the PDF
bytes. Callers store them atomically: a failed or killed render leaves no file anywhere.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import logging
import multiprocessing
import os
import resource
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

START_TIMEOUT = 60.0
#: the render process's exit status when it ran out of memory (it exits at once, without allocating anything more)
OUT_OF_MEMORY_EXIT = 75
WARM_UP_HTML = '<html><head><title>.</title></head><body><p style="font-family: sans-serif">.</p></body></html>'


class RenderError(RuntimeError):
    """The PDF could not be made; ``str(error)`` says why in words for the person who asked for it."""


class RenderTimeout(RenderError):
    pass


class RenderOutOfMemory(RenderError):
    pass


@dataclass(frozen=True)
class RenderJob:
    html: str
    #: name -> file path or bytes, served as ``shopper-static:<name>``
    static: dict[str, str | bytes] = field(default_factory=dict)
    #: name -> file path or bytes, served as ``shopper-media:<name>``
    media: dict[str, str | bytes] = field(default_factory=dict)
    #: name -> media storage key, for the parent to read into ``media`` before the render
    #: (``reports.service.loadable``): the render process holds no storage client and no credentials
    stored: dict[str, str] = field(default_factory=dict)
    #: names in ``static`` applied to the document as its stylesheets, in order. The render process parses each
    #: distinct one once and keeps it (with the fonts its @font-face rules load): parsing them on every render
    #: cost a tenth of a second.
    stylesheets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rendered:
    pdf: bytes
    pages: int
    render_ms: int
    cpu_ms: int  # the render process's CPU time for this render (the wall clock swings with the machine's load)
    peak_rss_mb: float | None  # the render process's peak resident memory during this render
    refused: tuple[str, ...]  # URLs the fetcher turned down


# The render process --------------------------------------------------------------------------------------------


def _peak_rss_mb() -> float | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _reset_peak_rss() -> None:
    """Linux resets VmHWM when "5" is written to clear_refs; elsewhere the figure is the process's lifetime peak."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass


_parsed_stylesheets: dict[tuple[str, str], object] = {}
_font_config = None
MAX_PARSED_STYLESHEETS = 32


def _stylesheets(job: RenderJob, fetcher) -> list:
    """The job's stylesheets, parsed once per distinct content in this render process."""
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

    global _font_config
    if _font_config is None:
        _font_config = FontConfiguration()
    sheets = []
    for name in job.stylesheets:
        source = job.static[name]
        body = source if isinstance(source, bytes) else Path(source).read_bytes()
        key = (name, hashlib.sha256(body).hexdigest())
        if key not in _parsed_stylesheets:
            if len(_parsed_stylesheets) >= MAX_PARSED_STYLESHEETS:
                _parsed_stylesheets.clear()
            _parsed_stylesheets[key] = CSS(
                string=body.decode("utf-8"),
                base_url=f"shopper-static:{name}",
                url_fetcher=fetcher,
                font_config=_font_config,
            )
        sheets.append(_parsed_stylesheets[key])
    return sheets


def _render(job: RenderJob) -> Rendered:
    from weasyprint import HTML

    from shopper.reports.fetcher import ReportFetcher

    _reset_peak_rss()
    started, cpu_started = time.perf_counter(), time.process_time()
    fetcher = ReportFetcher(job.static, job.media)
    sheets = _stylesheets(job, fetcher)
    document = HTML(string=job.html, url_fetcher=fetcher).render(font_config=_font_config, stylesheets=sheets)
    pdf = document.write_pdf()
    elapsed = round((time.perf_counter() - started) * 1000)
    cpu = round((time.process_time() - cpu_started) * 1000)
    return Rendered(pdf, len(document.pages), elapsed, cpu, _peak_rss_mb(), tuple(fetcher.refused))


def _serve(conn, memory_mb: int) -> None:
    """The render process: cap memory, import WeasyPrint once, then answer jobs until the pipe closes. (Its CPU
    priority is the job consumer's, which it inherits: JOBS_NICE.)"""
    if memory_mb:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        from weasyprint import HTML

        logging.getLogger("weasyprint").setLevel(logging.ERROR)
        logging.getLogger("fontTools").setLevel(logging.ERROR)
        HTML(string=WARM_UP_HTML).write_pdf()
    except BaseException as e:  # an import that fails under the cap must still answer
        conn.send(("failed", f"{type(e).__name__}: {e}"))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            result = _render(job)
        except MemoryError:
            os._exit(OUT_OF_MEMORY_EXIT)  # sending a message could fail for want of memory: the exit status says it
        except Exception as e:
            conn.send(("error", f"{type(e).__name__}: {e}"))
        else:
            conn.send(("ok", result))


# The parent's side ---------------------------------------------------------------------------------------------


class RenderWorker:
    """One render process, used by one thread at a time. Restarted after a timeout, a crash or running out of
    memory."""

    def __init__(self, memory_mb: int, start_timeout: float = START_TIMEOUT):
        self.memory_mb = memory_mb
        self.start_timeout = start_timeout
        self._lock = threading.Lock()
        self._process = None
        self._conn = None
        self._owner = os.getpid()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None and self._process.is_alive() else None

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")
        parent_conn, child_conn = context.Pipe()
        process = context.Process(target=_serve, args=(child_conn, self.memory_mb), name="shopper-pdf", daemon=True)
        process.start()
        child_conn.close()
        self._process, self._conn, self._owner = process, parent_conn, os.getpid()
        if not parent_conn.poll(self.start_timeout):
            self._stop(kill=True)
            raise RenderError("The PDF renderer did not start in time. Please try again in a minute.")
        try:
            status, detail = parent_conn.recv()
        except (EOFError, OSError):
            status, detail = "failed", "it exited while starting"
        if status != "ready":
            self._stop(kill=True)
            log.error("PDF renderer failed to start: %s", detail)
            raise RenderError(
                f"The PDF renderer could not start within its memory limit ({self.memory_mb} MB). "
                "Ask your administrator to raise REPORT_RENDER_MEMORY_MB."
            )

    def _stop(self, kill: bool) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            if not kill:
                with contextlib.suppress(OSError, ValueError):
                    conn.send(None)
            conn.close()
        if process is not None:
            if kill:
                process.kill()
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join(5)

    def close(self) -> None:
        with self._lock:
            if self._owner == os.getpid():
                self._stop(kill=False)

    def ensure_started(self) -> None:
        with self._lock:
            self._ensure_started()

    def _ensure_started(self) -> None:
        if self._owner != os.getpid():  # forked after the render process started: that one belongs to the parent
            self._process = self._conn = None
        if self._process is None or not self._process.is_alive():
            if self._process is not None:
                self._stop(kill=True)
            self._start()

    def render(self, job: RenderJob, timeout: float) -> Rendered:
        """Render ``job``; raises RenderTimeout, RenderOutOfMemory or RenderError with a message for people."""
        with self._lock:
            self._ensure_started()
            conn = self._conn
            try:
                conn.send(job)
                if not conn.poll(timeout):
                    self._stop(kill=True)
                    raise RenderTimeout(
                        f"Making the PDF took longer than {timeout:g} seconds, so it was stopped and nothing was "
                        "saved. A report with hundreds of photos may need a higher REPORT_RENDER_TIMEOUT."
                    )
                status, payload = conn.recv()
            except (EOFError, OSError):
                status, payload = "crashed", ""
            if status == "ok":
                return payload
            process = self._process
            if status == "crashed" and process is not None:
                process.join(5)
                if process.exitcode == OUT_OF_MEMORY_EXIT:
                    status = "memory"
            self._stop(kill=True)
            if status == "memory":
                raise RenderOutOfMemory(
                    f"Making the PDF needed more than the {self.memory_mb} MB it may use, so it was stopped and "
                    "nothing was saved. Ask your administrator to raise REPORT_RENDER_MEMORY_MB."
                )
            if status == "crashed":
                raise RenderOutOfMemory(
                    f"The PDF renderer stopped in the middle of the report (most likely it ran out of the "
                    f"{self.memory_mb} MB it may use). Nothing was saved; ask your administrator to raise "
                    "REPORT_RENDER_MEMORY_MB."
                )
            log.error("PDF render failed: %s", payload)
            raise RenderError("The PDF could not be made because of an error on our side. Nothing was saved.")


_worker: RenderWorker | None = None
_worker_lock = threading.Lock()


def worker(memory_mb: int) -> RenderWorker:
    """This process's render worker (made on first use; made again when the memory setting changes)."""
    global _worker
    with _worker_lock:
        if _worker is None or _worker.memory_mb != memory_mb or _worker._owner != os.getpid():
            if _worker is not None and _worker._owner == os.getpid():
                _worker.close()
            _worker = RenderWorker(memory_mb)
        return _worker


@atexit.register
def _close_at_exit() -> None:
    """Let the render process finish its loop and exit on its own, before multiprocessing terminates it."""
    if _worker is not None:
        _worker.close()


def render(job: RenderJob, *, timeout: float, memory_mb: int) -> Rendered:
    return worker(memory_mb).render(job, timeout)
