"""Autosave under load: gunicorn with the production settings on SQLite, a load generator on 127.0.0.1.

Sends distinct answer writes (20% of requests replay an earlier Idempotency-Key) for BENCH_SECONDS (default 30)
and prints requests/s, latency percentiles and errors; then checks that the database holds exactly one applied
write per distinct key, and prints the ratio to a bare Flask endpoint served the same way.
Targets (issue: the audit on a phone): >= 500 requests/s, p99 <= 50 ms, 0 errors.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import _phones  # its _measure puts the repository root on sys.path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SECONDS = float(os.environ.get("BENCH_SECONDS", "30"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
GUNICORN = os.environ.get("BENCH_GUNICORN", "--workers 2 --threads 4 --worker-class gthread").split() + [
    "--log-level",
    "warning",
]
PASSWORD = _phones.PASSWORD


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, path: str, method: str = "GET") -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request(method, path)
            if conn.getresponse().status < 500:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server on {port} did not start")


def seed(instance: Path) -> tuple[str, int, list[str]]:
    """A migrated database with an org, an auditor and an audit of the walk-through checklist."""
    env = {**os.environ, "SHOPPER_INSTANCE_PATH": str(instance)}
    subprocess.run([BIN / "flask", "--app", "shopper", "db", "upgrade"], env=env, check=True, capture_output=True)
    os.environ["SHOPPER_INSTANCE_PATH"] = str(instance)
    from shopper import create_app
    from shopper.audits.service import start_audit
    from shopper.checklists.schema import iter_items
    from shopper.checklists.service import copy_from_library
    from shopper.extensions import db
    from shopper.orgs.service import add_site, sign_up
    from shopper.timeutil import utcnow

    app = create_app()
    with app.app_context():
        user, org = sign_up(
            name="Bench",
            email="bench@example.com",
            password=PASSWORD,
            org_name="Bench",
            org_kind="business",
            min_length=10,
        )
        checklist = copy_from_library(org.id, user.id, "be-your-customer", utcnow())
        site = add_site(org, name="Bench site", address=None)
        audit = start_audit(
            org_id=org.id,
            checklist=checklist,
            site=site,
            auditor_id=user.id,
            created_by_id=user.id,
            scenario="",
            due_on=None,
            now=utcnow(),
        )
        db.session.commit()  # services flush; the caller commits
        counters = [item["key"] for _, item in iter_items(audit.definition) if item["type"] == "counter"]
        slug, audit_id = org.slug, audit.id
        db.engine.dispose()
    return slug, audit_id, counters


class Load:
    def __init__(self, port: int, make_request):
        self.port = port
        self.make_request = make_request
        self.latencies: list[float] = []
        self.errors = 0
        self.lock = threading.Lock()

    def worker(self, stop_at: float, rng: random.Random) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        latencies, errors = [], 0
        while time.monotonic() < stop_at:
            method, path, body, headers = self.make_request(rng)
            started = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except OSError:
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            latencies.append(time.perf_counter() - started)
            errors += not ok
        with self.lock:
            self.latencies += latencies
            self.errors += errors

    def run(self, seconds: float) -> dict:
        stop_at = time.monotonic() + seconds
        threads = [threading.Thread(target=self.worker, args=(stop_at, random.Random(n))) for n in range(CONNECTIONS)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        ordered = sorted(self.latencies)
        return {
            "requests": len(ordered),
            "rps": len(ordered) / elapsed,
            "p50_ms": statistics.median(ordered) * 1000,
            "p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000,
            "errors": self.errors,
        }


def serve(app_spec: str, instance: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {
        **os.environ,
        "SHOPPER_INSTANCE_PATH": str(instance),
        "PYTHONPATH": str(REPO / "bench"),
        # one person sends a thousand writes a second here: the per-person API allowance would refuse most of them
        "SHOPPER_RATE_LIMIT_API": "1000000 per minute",
    }
    process = subprocess.Popen(
        [BIN / "gunicorn", *GUNICORN, "--bind", f"127.0.0.1:{port}", app_spec], env=env, cwd=REPO
    )
    return process, port


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp)
        slug, audit_id, counters = seed(instance)
        process, port = serve("shopper:create_app()", instance)
        sent: list[tuple[str, str, bytes]] = []  # (key, path, body) of first sends
        sent_lock = threading.Lock()
        try:
            wait_for(port, "/healthz")
            cookie = _phones.sign_in(port, "bench@example.com")

            def answer(rng: random.Random):
                with sent_lock:
                    if sent and rng.random() < 0.2:
                        key, path, body = rng.choice(sent)
                    else:
                        key = uuid.uuid4().hex
                        item = rng.choice(counters)
                        path = f"/o/{slug}/api/audits/{audit_id}/answers/{item}"
                        body = json.dumps({"value": rng.randint(0, 9), "client_ts": time.time_ns() // 1000}).encode()
                        sent.append((key, path, body))
                headers = {"Cookie": cookie, "Content-Type": "application/json", "Idempotency-Key": key}
                return "PUT", path, body, headers

            result = Load(port, answer).run(SECONDS)
        finally:
            process.terminate()
            process.wait(timeout=30)

        bare, bare_port = serve("bare_app:app", instance)
        try:
            wait_for(bare_port, "/bare", "PUT")
            baseline = Load(bare_port, lambda rng: ("PUT", "/bare", b"{}", {"Content-Type": "application/json"})).run(
                min(SECONDS, 10)
            )
        finally:
            bare.terminate()
            bare.wait(timeout=30)

        from shopper import create_app
        from shopper.audits.models import SyncOp
        from shopper.extensions import db

        with create_app().app_context():
            stored = db.session.query(SyncOp).filter_by(audit_id=audit_id).count()
        distinct = len(sent)

    print(f"autosave  {result['requests']} requests over {SECONDS:.0f} s with {CONNECTIONS} connections")
    print(f"  throughput  {result['rps']:.0f} req/s   (target >= 500)  {'PASS' if result['rps'] >= 500 else 'MISS'}")
    print(
        f"  latency     p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms   (target p99 <= 50)  "
        f"{'PASS' if result['p99_ms'] <= 50 else 'MISS'}"
    )
    print(f"  errors      {result['errors']}   (target 0)  {'PASS' if result['errors'] == 0 else 'MISS'}")
    print(
        f"  exactly once: {distinct} distinct keys sent, {stored} applied writes stored  "
        f"{'PASS' if stored == distinct else 'MISS'}"
    )
    print(
        f"  bare Flask endpoint on the same server: {baseline['rps']:.0f} req/s, p99 {baseline['p99_ms']:.1f} ms; "
        f"autosave reaches {result['rps'] / baseline['rps']:.2f}x its throughput"
    )


if __name__ == "__main__":
    main()
