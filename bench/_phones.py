"""Helpers for the benches that drive the real thing over HTTP: gunicorn and the job consumer as subprocesses on one
instance folder and database, sign-in through /login, multipart bodies, and the media folder against its rows.

Importing this module puts the repository root on sys.path (through _measure).
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import quote_plus

import _measure

REPO = _measure.REPO_ROOT
BIN = Path(sys.executable).parent
PASSWORD = "a long benchmark password"
#: the README's production command: two sync workers
GUNICORN = ["--workers", "2", "--log-level", "warning"]
#: every simulated device signs in from 127.0.0.1, where real phones come from addresses of their own
SIGN_IN_ALLOWANCE = "1000 per minute"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NetworkError(Exception):
    """No HTTP answer: refused, reset, timed out, or cut off in the middle."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def retry_after(self) -> float | None:
        value = self.headers.get("retry-after")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None


class Client:
    """One device's HTTP connection to 127.0.0.1, opened again after any network error."""

    def __init__(self, port: int, timeout: float = 30.0):
        self.port = port
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Response:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            answer = self.conn.getresponse()
            data = answer.read()
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise NetworkError(f"{type(e).__name__}: {e}") from e
        response = Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, data)
        response.headers["set-cookie"] = "\n".join(answer.msg.get_all("Set-Cookie") or [])
        if answer.will_close:
            self.close()
        return response

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _cookies(header: str, jar: dict[str, str]) -> dict[str, str]:
    for line in filter(None, header.split("\n")):
        parsed = SimpleCookie()
        parsed.load(line)
        for name, morsel in parsed.items():
            jar[name] = morsel.value
    return jar


def sign_in(port: int, email: str, password: str = PASSWORD) -> str:
    """Sign in through the /login form as a browser would; the Cookie header of the signed-in device."""
    client = Client(port)
    page = client.request("GET", "/login")
    jar = _cookies(page.headers["set-cookie"], {})
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page.body).group(1).decode()
    form = f"csrf_token={quote_plus(token)}&email={quote_plus(email)}&password={quote_plus(password)}"
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    done = client.request(
        "POST",
        "/login",
        body=form.encode(),
        headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
    )
    client.close()
    if done.status != 302:
        raise RuntimeError(f"sign-in of {email} answered {done.status}: {done.body[:300]!r}")
    jar = _cookies(done.headers["set-cookie"], jar)
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def multipart(fields: dict[str, str], file_field: str, filename: str, data: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type, as a browser's FormData sends it."""
    boundary = f"----shopperbench{uuid.uuid4().hex}"
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{filename}"\r\n'
        f"Content-Type: image/jpeg\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Stack:
    """The two processes of a deployment (README, "Deployment"): gunicorn with two sync workers and
    `flask --app shopper jobs run`, on one instance folder and database, each logging to a file there."""

    def __init__(self, instance: Path, database_url: str, env: dict[str, str] | None = None):
        self.instance = instance
        self.port = free_port()
        self.env = {
            **os.environ,
            "SHOPPER_INSTANCE_PATH": str(instance),
            "DATABASE_URL": database_url,
            "SHOPPER_RATE_LIMIT_SIGN_IN": SIGN_IN_ALLOWANCE,
            "PYTHONPATH": str(REPO),
            **(env or {}),
        }
        self.env.pop("SHOPPER_DATABASE_URL", None)
        self.web: subprocess.Popen | None = None
        self.jobs: subprocess.Popen | None = None
        self.web_log = instance / "gunicorn.log"
        self.jobs_log = instance / "jobs.log"

    def start_web(self) -> float:
        """Start gunicorn on this stack's port; seconds until /healthz answered."""
        started = time.monotonic()
        with self.web_log.open("ab") as log:
            self.web = subprocess.Popen(
                [BIN / "gunicorn", *GUNICORN, "--bind", f"127.0.0.1:{self.port}", "shopper:create_app()"],
                env=self.env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.wait_healthy()
        return time.monotonic() - started

    def start_jobs(self, nice: int = 0) -> None:
        """Start the consumer, at a lower CPU priority (`nice`) if asked, as systemd's `Nice=` would."""
        prefix = ["nice", "-n", str(nice)] if nice else []
        with self.jobs_log.open("ab") as log:
            self.jobs = subprocess.Popen(
                [*prefix, BIN / "flask", "--app", "shopper", "jobs", "run"],
                env=self.env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_jobs(self, app, seconds: float = 60) -> float:
        """Wait until the consumer has written its first heartbeat (pages say "not running" until then), with
        `app` on the same instance folder; seconds waited."""
        from shopper import jobs

        started = time.monotonic()
        with app.app_context():
            while not jobs.consumer_running():
                if time.monotonic() - started > seconds or (self.jobs is not None and self.jobs.poll() is not None):
                    raise SystemExit(f"the job consumer did not start; see {self.jobs_log}")
                time.sleep(0.1)
        return time.monotonic() - started

    def wait_healthy(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        client = Client(self.port, timeout=2)
        while time.monotonic() < deadline:
            try:
                if client.request("GET", "/healthz").status == 200:
                    return
            except NetworkError:
                pass
            if self.web is not None and self.web.poll() is not None:
                break
            time.sleep(0.1)
        raise SystemExit(f"gunicorn on port {self.port} did not start; see {self.web_log}")

    def workers(self) -> list[int]:
        """The pids of gunicorn's workers (the master's children)."""
        assert self.web is not None
        master = self.web.pid
        try:
            children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
            return [int(pid) for pid in children]
        except OSError:
            found = []
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    fields = stat.read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == master:
                    found.append(int(stat.parent.name))
            return found

    def kill_worker(self) -> int:
        """SIGKILL one worker, as the kernel's OOM killer would; gunicorn starts another. Its pid."""
        pid = self.workers()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop_web(self) -> None:
        if self.web is not None and self.web.poll() is None:
            self.web.send_signal(signal.SIGTERM)
            self.web.wait(timeout=60)
        self.web = None

    def restart_web(self) -> tuple[float, float]:
        """SIGTERM the master (workers finish the request they are on), then a new master on the same port.
        Seconds until the old master was gone, and then until the new one answered /healthz."""
        started = time.monotonic()
        self.stop_web()
        stopped = time.monotonic() - started
        return stopped, self.start_web()

    def stop(self) -> None:
        self.stop_web()
        if self.jobs is not None and self.jobs.poll() is None:
            self.jobs.send_signal(signal.SIGINT)  # Huey's graceful stop: the running jobs finish first
            try:
                self.jobs.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.jobs.kill()
                self.jobs.wait()
        self.jobs = None

    def tracebacks(self) -> list[str]:
        """The tracebacks the processes logged (the first lines of each)."""
        found = []
        for log in (self.web_log, self.jobs_log):
            if not log.exists():
                continue
            text = log.read_text(errors="replace")
            for match in re.finditer(r"Traceback \(most recent call last\):\n(?:[ \t].*\n)*.*", text):
                found.append(f"{log.name}: {match.group(0)[-600:]}")
        return found


class HeartbeatWatch(threading.Thread):
    """Reads the job consumer's heartbeat every second, as a page waiting for a PDF does; the oldest it saw.
    A page says the consumer is not running once the heartbeat is `jobs.HEARTBEAT_STALE_SECONDS` old."""

    def __init__(self, app):
        super().__init__(daemon=True)
        self.app = app
        self.oldest = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        from shopper import jobs

        with self.app.app_context():
            while not self.stop.wait(1.0):
                last = jobs.huey.get(jobs.HEARTBEAT, peek=True)
                if last is not None:
                    self.oldest = max(self.oldest, time.time() - last)


#: LocalStorage writes `.<name>.<random>.tmp` and renames it; an upload writes `<key>.<random>.part` first
TEMP_NAME = re.compile(r"(?:\..+\.tmp|.+\.part)")


@dataclass
class MediaFigures:
    files: int = 0
    orphans: list[str] = field(default_factory=list)  # files no row refers to
    missing: list[str] = field(default_factory=list)  # rows whose file is not there
    temp: list[str] = field(default_factory=list)  # written under a temporary name and never moved in or removed


def media_against_rows(app) -> MediaFigures:
    """Every file under MEDIA_ROOT against the rows that name one, counted here (so that the media check is not
    its own judge): the renditions of each Photo row (`audits.service.photo_key`) and each cached report PDF
    (`ReportPdf.storage_key`)."""
    from sqlalchemy import select

    from shopper.audits.models import Audit, Photo
    from shopper.audits.service import RENDITIONS, photo_key
    from shopper.extensions import db
    from shopper.reports.models import ReportPdf

    root = Path(app.config["MEDIA_ROOT"])
    with app.app_context():
        wanted = set()
        for photo_id, audit in db.session.execute(select(Photo.id, Audit).join(Audit, Audit.id == Photo.audit_id)):
            wanted.update(photo_key(audit, photo_id, rendition) for rendition in RENDITIONS)
        wanted.update(db.session.scalars(select(ReportPdf.storage_key)))
        db.session.remove()
    figures = MediaFigures()
    present = set()
    for path in sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []:
        key = path.relative_to(root).as_posix()
        figures.files += 1
        if TEMP_NAME.fullmatch(path.name):
            figures.temp.append(key)
        elif key in wanted:
            present.add(key)
        else:
            figures.orphans.append(key)
    figures.missing = sorted(wanted - present)
    return figures


def media_check(app) -> tuple[int, str]:
    """What `flask --app shopper media check --grace-minutes 0` finds (its own function, in-process): how many
    files without rows and rows without files, and a line that says it all."""
    from shopper.extensions import db
    from shopper.maintenance.media_check import check_media
    from shopper.media import get_storage

    with app.app_context():
        report = check_media(get_storage(), db.session.connection(), grace=0)
        db.session.remove()
    return len(report.orphans) + len(report.missing), (
        f"{report.files} files: {len(report.orphans)} no row refers to, {len(report.missing)} rows without their "
        f"file, {len(report.temp_files)} temp files, {len(report.unknown)} it does not know"
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, int(round(share * len(ordered))) - 1))]
