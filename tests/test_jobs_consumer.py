"""The job consumer as it runs in production (`flask --app shopper jobs run`, a process of its own on a queue in the
instance folder): stopped with SIGTERM in the middle of the renders, as systemd stops it, it loses nothing."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shopper.extensions import db
from shopper.jobs import HEARTBEAT, huey, run_pending
from shopper.reports import rendering
from shopper.reports.models import ReportPdf, ReportRequest
from tests.conftest import TEST_DATABASE_URL

REPO = Path(__file__).resolve().parent.parent


def environment(instance: Path) -> dict[str, str]:
    env = {**os.environ, "SHOPPER_INSTANCE_PATH": str(instance), "SHOPPER_JOBS_BACKEND": "sqlite"}
    env.pop("SHOPPER_TEST_DATABASE_URL", None)
    return env


def flask(instance: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "shopper", *args],
        cwd=REPO,
        env=environment(instance),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="runs the installation's default: SQLite and a SQLite queue")
def test_a_consumer_stopped_with_sigterm_mid_render_loses_no_pdf(tmp_path):
    for command in (("db", "upgrade"), ("demo",)):  # the demo queues the PDFs of its submitted audits
        done = flask(tmp_path, *command)
        assert done.returncode == 0, done.stderr
    database = tmp_path / "shopper.sqlite3"
    with subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "shopper", "jobs", "run", "--workers", "1"],
        cwd=REPO,
        env=environment(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as consumer:
        try:
            deadline = time.monotonic() + 120
            while _pdfs(database) == 0 and time.monotonic() < deadline:  # the first PDF is made: renders go on
                time.sleep(0.2)
            consumer.send_signal(signal.SIGTERM)
            _, err = consumer.communicate(timeout=150)
        finally:
            if consumer.poll() is None:
                consumer.kill()
    assert consumer.returncode == 0, err[-2000:]
    made, submitted = _pdfs(database), _submitted(database)
    assert made >= 1 and submitted >= 4, (made, submitted, err[-2000:])
    again = flask(tmp_path, "jobs", "run", "--once")
    assert again.returncode == 0, again.stderr
    assert _pdfs(database) == submitted  # every PDF the demo queued was made, by the first consumer or the second


def _pdfs(database: Path) -> int:
    return _count(database, "SELECT count(*) FROM report_pdf")


def _submitted(database: Path) -> int:
    return _count(database, "SELECT count(*) FROM audit WHERE status = 'submitted'")


def _count(database: Path, sql: str) -> int:
    with sqlite3.connect(database, timeout=10) as connection:
        return connection.execute(sql).fetchone()[0]


def test_a_pdf_whose_job_was_lost_is_asked_for_again_when_the_consumer_starts(app, client, login, make):
    org = make.org()
    owner = login(make.member(org, "owner"))
    audit = make.submitted_audit(org, owner, {"answer-time": 30, "transfers": 0, "resolved": ("yes", "Sorted")})
    assert client.get(f"/o/{org.slug}/audits/{audit.id}/report.pdf").status_code == 202
    huey.flush()  # the job is lost (a consumer killed mid-render, a queue kept in memory)
    with app.app_context():
        assert rendering.ask_again_for_waiting() == 1
        run_pending()
        assert db.session.get(ReportPdf, audit.id) is not None
        assert db.session.get(ReportRequest, audit.id) is None


def test_every_job_beats_the_heart_first(app, make):
    huey.storage.delete_data(HEARTBEAT)
    with app.app_context():
        rendering.render_soon([123456])  # no such audit: the job has nothing to do
        before = time.time()
        run_pending()
    assert huey.get(HEARTBEAT, peek=True) >= before
