"""Autosave against a bare insert endpoint, on the same gunicorn settings and the same database.

    python bench/bench_autosave.py [--seconds 30] [--rounds 3] [--database both|sqlite|postgres]

On a fresh instance folder and database (SQLite, then PostgreSQL when it answers at SHOPPER_BENCH_PG_URL), an org,
an auditor and an audit of the walk-through checklist are made. Two servers run side by side, with the same gunicorn
settings: the app, and bench/bare_app.py, a bare Flask endpoint that inserts one row into the same database. Eight
connections send answer writes (PUT .../answers/<item>, the signed-in auditor's cookies, 20% of them replaying an
earlier Idempotency-Key) to the app, and distinct inserts to the bare endpoint; the two take turns, round by round,
so that a change in the machine's load weighs on both alike.

Figures: requests/s, p50/p99 and the CPU time the server's workers spent per request (utime+stime from /proc: the
fairest figure on a loaded machine), for each; their ratio; errors. Then exactly once: every distinct key answered
200 is stored once as an applied write, nothing else is stored, and every replay of a key was answered exactly as
its first send; the bare table holds one row per insert answered 200.

Targets (issue 15): autosave >= 0.5x the bare insert's throughput on SQLite, >= 0.4x on PostgreSQL; p99 <= 30 ms
at 8 connections; no error; exactly once. Exits 1 only on an error answer, a lost or duplicated write, or a replay
answered differently; a figure over its target is a MISS.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import threading
import time
import uuid
from pathlib import Path

import _measure  # puts the repository root on sys.path, so it comes before the project's imports
import _phones

SCHEMA = "shopper_bench_autosave"
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
GUNICORN = os.environ.get("BENCH_GUNICORN", "--workers 2 --threads 4 --worker-class gthread").split()
REPLAY_SHARE = 0.2
TARGET_RATIO = {"sqlite": 0.5, "postgresql": 0.4}
TARGET_P99_MS = 30
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def seed(app) -> tuple[str, int, list[str]]:
    """An org, its owner (who walks the audit) and an audit of the walk-through checklist; (slug, audit id, the
    keys of its counter items)."""
    from shopper.audits.service import start_audit
    from shopper.checklists.schema import iter_items
    from shopper.checklists.service import copy_from_library
    from shopper.extensions import db
    from shopper.orgs.service import add_site, sign_up
    from shopper.timeutil import utcnow

    with app.app_context():
        user, org = sign_up(
            name="Bench",
            email="bench@example.com",
            password=_phones.PASSWORD,
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
        found = org.slug, audit.id, counters
        db.session.remove()
    return found


class Server:
    """gunicorn with the bench's settings, serving `app_spec` on one instance folder and database."""

    def __init__(self, name: str, app_spec: str, instance: Path, database_url: str):
        self.port = _phones.free_port()
        self.log = instance / f"{name}.log"
        env = {
            **os.environ,
            "SHOPPER_INSTANCE_PATH": str(instance),
            "DATABASE_URL": database_url,
            "PYTHONPATH": os.pathsep.join([str(_phones.REPO), str(_phones.REPO / "bench")]),
            "SHOPPER_RATE_LIMIT_SIGN_IN": _phones.SIGN_IN_ALLOWANCE,
            # one person sends a thousand writes a second here: the per-person API allowance would refuse most
            "SHOPPER_RATE_LIMIT_API": "1000000 per minute",
        }
        env.pop("SHOPPER_DATABASE_URL", None)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [_phones.BIN / "gunicorn", *GUNICORN, "--log-level", "warning", "--bind", f"127.0.0.1:{self.port}"]
                + [app_spec],
                env=env,
                cwd=_phones.REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait(self, path: str, method: str) -> None:
        client = _phones.Client(self.port, timeout=2)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if client.request(method, path).status < 500:
                    return
            except _phones.NetworkError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise SystemExit(f"gunicorn on port {self.port} did not start; see {self.log}")

    def cpu_seconds(self) -> float:
        """utime + stime of the master and its workers so far."""
        master = self.process.pid
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        ticks = 0
        for pid in [master, *map(int, children)]:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        return ticks / CLOCK_TICKS

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


class Load:
    """CONNECTIONS threads sending `make_request(rng)` for a while; latencies, CPU of the server and answers."""

    def __init__(self, server: Server, make_request):
        self.server = server
        self.make_request = make_request
        self.latencies: list[float] = []
        self.elapsed = 0.0
        self.cpu = 0.0
        self.errors: list[str] = []
        #: Idempotency-Key -> the bodies of every 200 answer to it
        self.answers: dict[str, list[bytes]] = {}
        self.lock = threading.Lock()

    def worker(self, stop_at: float, rng: random.Random) -> None:
        client = _phones.Client(self.server.port, timeout=30)
        latencies, errors, answers = [], [], []
        while time.monotonic() < stop_at:
            method, path, body, headers = self.make_request(rng)
            started = time.perf_counter()
            try:
                response = client.request(method, path, body=body, headers=headers)
            except _phones.NetworkError as e:
                errors.append(str(e))
                continue
            latencies.append(time.perf_counter() - started)
            if response.status == 200:
                answers.append((headers["Idempotency-Key"], response.body))
            else:
                errors.append(f"{response.status} {response.body[:200]!r}")
        client.close()
        with self.lock:
            self.latencies += latencies
            self.errors += errors
            for key, answer in answers:
                self.answers.setdefault(key, []).append(answer)

    def run(self, seconds: float) -> None:
        stop_at = time.monotonic() + seconds
        threads = [threading.Thread(target=self.worker, args=(stop_at, random.Random(n))) for n in range(CONNECTIONS)]
        cpu, started = self.server.cpu_seconds(), time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.elapsed += time.monotonic() - started
        self.cpu += self.server.cpu_seconds() - cpu

    def forget_timings(self) -> None:
        self.latencies, self.elapsed, self.cpu = [], 0.0, 0.0

    def figures(self, label: str) -> dict[str, float]:
        requests = len(self.latencies)
        p50 = statistics.median(self.latencies) * 1000 if requests else float("nan")
        p99 = _phones.percentile(self.latencies, 0.99) * 1000
        found = {
            "rps": requests / self.elapsed,
            "p50": p50,
            "p99": p99,
            "cpu": self.cpu * 1000 / max(requests, 1),
            "requests": requests,
        }
        print(
            f"  {label}: {requests} requests in {self.elapsed:.0f} s, {found['rps']:.0f} req/s, "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, CPU {found['cpu']:.2f} ms/request, {len(self.errors)} errors",
            flush=True,
        )
        return found


def run(label: str, database_url: str | None, args) -> bool:
    print(f"\n== {label}: {CONNECTIONS} connections, {args.rounds} rounds of {args.seconds:.0f} s each side")
    app, instance = _measure.migrated_app("shopper-bench-autosave-", database_url)
    url = database_url or app.config["SQLALCHEMY_DATABASE_URI"]
    slug, audit_id, counters = seed(app)
    dialect = "sqlite" if url.startswith("sqlite") else "postgresql"

    import bare_app
    from sqlalchemy import create_engine, func, select

    from shopper.audits.models import SyncOp
    from shopper.database import normalize_database_url
    from shopper.extensions import db

    engine = create_engine(normalize_database_url(url))
    bare_app.metadata.create_all(engine)

    shopper = Server("shopper", "shopper:create_app()", instance, url)
    bare = Server("bare", "bare_app:make_app()", instance, url)
    try:
        shopper.wait("/healthz", "GET")
        bare.wait("/bare/insert", "GET")
        cookie = _phones.sign_in(shopper.port, "bench@example.com")
        sent: list[tuple[str, str, bytes]] = []  # (key, path, body) of first sends
        sent_lock = threading.Lock()

        def answer(rng: random.Random):
            with sent_lock:
                if sent and rng.random() < REPLAY_SHARE:
                    key, path, body = rng.choice(sent)
                else:
                    key = uuid.uuid4().hex
                    path = f"/o/{slug}/api/audits/{audit_id}/answers/{rng.choice(counters)}"
                    body = json.dumps({"value": rng.randint(0, 9), "client_ts": time.time_ns() // 1000}).encode()
                    sent.append((key, path, body))
            return "PUT", path, body, {"Cookie": cookie, "Content-Type": "application/json", "Idempotency-Key": key}

        def insert(rng: random.Random):
            body = json.dumps({"value": rng.randint(0, 9)}).encode()
            return (
                "PUT",
                "/bare/insert",
                body,
                {"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex},
            )

        autosave, baseline = Load(shopper, answer), Load(bare, insert)
        for load in (baseline, autosave):  # every worker's first requests (imports, connections) are not measured
            load.run(1)
            load.forget_timings()
        for _ in range(args.rounds):
            baseline.run(args.seconds)
            autosave.run(args.seconds)
    finally:
        shopper.stop()
        bare.stop()
    print(f"  load average {_measure.load_average()}")
    mine = autosave.figures("autosave")
    theirs = baseline.figures("bare insert")

    with app.app_context():
        stored = [row[0] for row in db.session.execute(select(SyncOp.op_id).where(SyncOp.audit_id == audit_id))]
        db.session.remove()
    with engine.connect() as connection:
        bare_rows = connection.scalar(select(func.count()).select_from(bare_app.bare_write))
    engine.dispose()

    answered = set(autosave.answers)
    lost = answered - set(stored)
    duplicated = len(stored) - len(set(stored))
    unknown = set(stored) - {key for key, _, _ in sent}
    differing = [key for key, bodies in autosave.answers.items() if len(set(bodies)) > 1]
    replays = sum(len(bodies) - 1 for bodies in autosave.answers.values())
    bare_answered = len(baseline.answers)

    _measure.figure("autosave throughput", mine["rps"], "/s")
    _measure.figure("autosave CPU per request", mine["cpu"], "ms")
    _measure.figure("bare insert throughput", theirs["rps"], "/s")
    _measure.figure("bare insert CPU per request", theirs["cpu"], "ms")
    _measure.figure(
        "autosave / bare, throughput", mine["rps"] / theirs["rps"], "x", TARGET_RATIO[dialect], at_least=True
    )
    _measure.figure("autosave / bare, CPU per request", theirs["cpu"] / mine["cpu"], "x")
    _measure.figure("autosave p99 latency", mine["p99"], "ms", TARGET_P99_MS)
    _measure.figure("bare insert p99 latency", theirs["p99"], "ms")
    print(
        f"  exactly once: {len(sent)} distinct keys sent, {len(answered)} answered 200, {replays} replays answered, "
        f"{len(stored)} applied writes stored; bare: {bare_answered} answered 200, {bare_rows} rows"
    )
    failures = {
        "error answers": len(autosave.errors) + len(baseline.errors),
        "writes answered, not stored": len(lost),
        "writes stored twice": duplicated,
        "writes stored, never sent": len(unknown),
        "replays answered differently": len(differing),
        "bare inserts lost or doubled": abs(bare_rows - bare_answered),
    }
    for what, count in failures.items():
        _measure.figure(what, count, "", 0)
    for error in (autosave.errors + baseline.errors)[:5]:
        print(f"    {error}")
    return not any(failures.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2 if _measure.smoke() else 10, help="per round and side")
    parser.add_argument("--rounds", type=int, default=1 if _measure.smoke() else 3)
    parser.add_argument("--database", choices=("both", "sqlite", "postgres"), default="both")
    args = parser.parse_args()
    ok = _measure.on_sqlite_and_postgres(lambda label, url: run(label, url, args), SCHEMA, only=args.database)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
