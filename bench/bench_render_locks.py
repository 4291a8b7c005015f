"""While a 50-photo report renders, /healthz and the phones' autosaves answer as fast as with no render.

    python bench/bench_render_locks.py [--seconds 8] [--rounds 3] [--database both|sqlite|postgres]

On a fresh instance folder and database (SQLite, then PostgreSQL when it answers at SHOPPER_BENCH_PG_URL), the
large audit of bench_report.py is built with its own helpers (8 touchpoints, 80 items, 50 photos made as 12 MP
phone JPEGs and ingested through the real pipeline) and submitted, and an owner gets an audit in progress to
autosave into. Then the two processes of a deployment run: gunicorn with two sync workers and the job consumer.

Two clients take turns all along, each on its own connection with 50 ms between requests: one asks GET /healthz,
the other sends an autosave (PUT of an answer, a new Idempotency-Key each time). The run alternates quiet
windows, where nothing renders, and render windows, where the report's PDF is made over and over exactly as a
person asking for it makes it: its cached PDF is forgotten (the row removed), GET .../report.pdf answers 202 and
enqueues the render job, and the status is asked every 0.2 s until the consumer has written the new PDF. Samples
taken while a render was under way (from that 202 to the status saying ready) are compared with the quiet ones.

Each round also has a busy-loop window: a process that only keeps one core busy, as the render process does,
holding no lock. Latency there against the quiet windows is what the render's CPU alone costs; if renders held
a lock the phones wait for, the render windows would be slower than the busy-loop ones.

Targets (issue: the report renders off the request): median latency during a render <= 1.2x the quiet median,
for /healthz and for autosaves, and no error. The p95s, their ratios and the busy loop's ratio are printed.
Exits 1 when a request or a render fails; a ratio over its target is printed as MISS, as the other timing benches
do, so that `make bench` goes on.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid

import _measure  # puts the repository root on sys.path, so it comes before the project's imports
import _phones
import bench_report

SCHEMA = "shopper_bench_render_locks"
TARGET_RATIO = 1.2
PAUSE_S = 0.05
STATUS_POLL_S = 0.2
AUTOSAVE_ITEM = "t0-i1"  # a counter of bench_report's large definition


def seed(app) -> tuple[str, int, int, str]:
    """The large audit, submitted, and an owner with an audit in progress on the same checklist.
    (org slug, large audit id, audit in progress id, owner's email)"""
    from shopper.accounts.models import User
    from shopper.accounts.passwords import hash_password
    from shopper.audits import service as audits
    from shopper.audits.models import Audit
    from shopper.checklists.models import Checklist
    from shopper.extensions import db
    from shopper.orgs.models import Membership, Organization, Role, Site
    from shopper.timeutil import utcnow

    photos = bench_report.phone_photos(50)
    large = bench_report.make_audit(app, bench_report.large_definition(), photos)
    with app.app_context():
        audit = db.session.get(Audit, large)
        org = db.session.get(Organization, audit.org_id)
        owner = User(email="locks-owner@example.com", name="Owen Owner", password_hash=hash_password(_phones.PASSWORD))
        db.session.add(owner)
        db.session.flush()
        db.session.add(Membership(org_id=org.id, user_id=owner.id, role=Role.OWNER))
        db.session.commit()
        walking = audits.start_audit(
            org_id=org.id,
            checklist=db.session.get(Checklist, audit.checklist_id),
            site=db.session.get(Site, audit.site_id),
            auditor_id=owner.id,
            created_by_id=owner.id,
            scenario="Autosaving while the report renders",
            due_on=None,
            now=utcnow(),
        )
        db.session.commit()  # services flush; the caller commits
        seeded = (org.slug, large, walking.id, owner.email)
        db.session.remove()
        db.engine.dispose()
    return seeded


class Sampler(threading.Thread):
    """Sends one kind of request again and again; records (start, seconds, ok) of each."""

    def __init__(self, port: int, make_request):
        super().__init__(daemon=True)
        self.client = _phones.Client(port, timeout=30)
        self.make_request = make_request
        self.samples: list[tuple[float, float, bool]] = []
        self.failures: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            method, path, body, headers = self.make_request()
            started = time.monotonic()
            try:
                response = self.client.request(method, path, body=body, headers=headers)
                ok = response.status == 200
                if not ok:
                    self.failures.append(f"{response.status} {method} {path}: {response.body[:200]!r}")
            except _phones.NetworkError as e:
                ok = False
                self.failures.append(f"{method} {path}: {e}")
            self.samples.append((started, time.monotonic() - started, ok))
            self.stop.wait(PAUSE_S)


class Renders:
    """Makes the report's PDF again and again, as asking for it does, and records when each render was under way."""

    def __init__(self, app, port: int, cookie: str, slug: str, audit_id: int):
        self.app = app
        self.client = _phones.Client(port, timeout=60)
        self.headers = {"Cookie": cookie, "Accept": "application/json"}
        self.path = f"/o/{slug}/audits/{audit_id}/report.pdf"
        self.audit_id = audit_id
        self.windows: list[tuple[float, float]] = []
        self.failures: list[str] = []

    def forget(self) -> None:
        from sqlalchemy import delete

        from shopper.extensions import db
        from shopper.reports.models import ReportPdf

        with self.app.app_context():
            db.session.execute(delete(ReportPdf).where(ReportPdf.audit_id == self.audit_id))
            db.session.commit()
            db.session.remove()

    def once(self, forget: bool = True) -> None:
        """One render: forget the cached PDF, ask for it (202), wait until the status says ready."""
        if forget:
            self.forget()
        response = self.client.request("GET", self.path, headers=self.headers)
        if response.status != 202:
            self.failures.append(f"asking for the PDF answered {response.status}, not 202")
            return
        started = time.monotonic()
        deadline = started + 180
        while time.monotonic() < deadline:
            time.sleep(STATUS_POLL_S)
            status = self.client.request("GET", f"{self.path}/status", headers=self.headers)
            state = json.loads(status.body).get("state") if status.status == 200 else None
            if state == "ready":
                self.windows.append((started, time.monotonic()))
                return
            if state != "preparing":
                self.failures.append(f"the PDF's status answered {status.status} {status.body[:200]!r}")
                return
        self.failures.append("the PDF was not ready after 180 s")

    def keep_rendering(self, until: float) -> None:
        while time.monotonic() < until and not self.failures:
            self.once()

    def pdf_pages(self) -> tuple[int | None, int | None]:
        from shopper.extensions import db
        from shopper.reports.models import ReportPdf

        with self.app.app_context():
            record = db.session.get(ReportPdf, self.audit_id)
            pages = (record.pages, record.render_ms) if record is not None else (None, None)
            db.session.remove()
        return pages


def spin(seconds: float) -> tuple[float, float]:
    """A process that keeps one core busy for `seconds`, holding nothing: what the render's CPU alone costs the
    other requests. Its window."""
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-c", f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass"],
        check=True,
    )
    return started, time.monotonic()


def within(samples, windows: list[tuple[float, float]]):
    """The samples that started inside one of the windows."""
    return [s for s in samples if any(start <= s[0] <= end for start, end in windows)]


def run(label: str, url: str | None, args) -> bool:
    """True unless something failed (a request, a render); a missed ratio is printed, as other timing figures."""
    started = time.monotonic()
    app, instance = _measure.migrated_app("shopper-locks-", url)
    niced = f", the consumer under nice -n {args.jobs_nice}" if args.jobs_nice else ""
    print(f"\n== {label} (load average {', '.join(f'{v:.1f}' for v in os.getloadavg())}{niced})", flush=True)
    slug, large, walking, email = seed(app)
    print(f"  the 50-photo audit built and submitted ({time.monotonic() - started:.0f} s)", flush=True)
    stack = _phones.Stack(instance, app.config["DATABASE_URL"])
    ok = met = True
    try:
        stack.start_jobs(nice=args.jobs_nice)
        stack.start_web()
        stack.wait_jobs(app)
        cookie = _phones.sign_in(stack.port, email)
        renders = Renders(app, stack.port, cookie, slug, large)
        renders.once(forget=False)  # the render process starts and imports WeasyPrint once
        renders.windows.clear()
        pages, render_ms = renders.pdf_pages()

        def healthz():
            return "GET", "/healthz", None, {}

        def autosave():
            body = {"value": time.time_ns() % 7, "client_ts": time.time_ns() // 1_000_000}
            headers = {"Cookie": cookie, "Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
            return "PUT", f"/o/{slug}/api/audits/{walking}/answers/{AUTOSAVE_ITEM}", json.dumps(body).encode(), headers

        samplers = {"/healthz": Sampler(stack.port, healthz), "autosave PUT": Sampler(stack.port, autosave)}
        for sampler in samplers.values():
            sampler.start()
        time.sleep(1)  # both connections open and warm
        quiet: list[tuple[float, float]] = []
        spinning: list[tuple[float, float]] = []
        for _ in range(args.rounds):
            begin = time.monotonic()
            time.sleep(args.seconds)
            quiet.append((begin, time.monotonic()))
            renders.keep_rendering(time.monotonic() + args.seconds)
            spinning.append(spin(args.seconds))
        for sampler in samplers.values():
            sampler.stop.set()
            sampler.join()
        print(
            f"  {len(renders.windows)} renders of the report ({pages} pages, WeasyPrint {render_ms} ms for the first), "
            f"{statistics.median(end - start for start, end in renders.windows):.2f} s each from the 202 to ready "
            f"(median); {args.rounds} rounds of a quiet, a render and a busy-loop window of {args.seconds:g} s"
            if renders.windows
            else "  no render finished"
        )
        errors = renders.failures[:]
        for name, sampler in samplers.items():
            calm, busy, hog = (within(sampler.samples, w) for w in (quiet, renders.windows, spinning))
            errors += sampler.failures
            if not calm or not busy or not hog:
                print(f"  {name}: not enough samples ({len(calm)} quiet, {len(busy)} rendering, {len(hog)} busy loop)")
                ok = False
                continue
            figures = {}
            for window, samples in (("no render", calm), ("during a render", busy), ("during a busy loop", hog)):
                times = [s[1] * 1000 for s in samples]
                figures[window] = (statistics.median(times), _phones.percentile(times, 0.95))
                print(
                    f"  {name:<13} {window + ':':<19} median {figures[window][0]:5.1f} ms, "
                    f"p95 {figures[window][1]:5.1f} ms, max {max(times):6.1f} ms ({len(samples)} requests)"
                )
            ratio = figures["during a render"][0] / figures["no render"][0]
            _measure.report(f"  {name} median ratio", ratio, "x", TARGET_RATIO)
            _measure.report(f"  {name} p95 ratio", figures["during a render"][1] / figures["no render"][1], "x")
            _measure.report(
                f"  {name} busy-loop ratio", figures["during a busy loop"][0] / figures["no render"][0], "x"
            )
            met = met and ratio <= TARGET_RATIO
        _measure.figure("  errors", len(errors), "", 0)
        for error in errors[:5]:
            print(f"      {error}")
        ok = ok and not errors
        print(f"  ({time.monotonic() - started:.0f} s for this database; the ratios {'met' if met else 'missed'})")
    finally:
        stack.stop()
        shutil.rmtree(instance, ignore_errors=True)
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds",
        type=float,
        default=2 if _measure.smoke() else 8,
        help="length of each quiet and each render window",
    )
    parser.add_argument("--rounds", type=int, default=1 if _measure.smoke() else 3)
    parser.add_argument("--jobs-nice", type=int, default=0, help="run the job consumer under `nice -n N`")
    parser.add_argument("--database", choices=("both", "sqlite", "postgres"), default="both")
    args = parser.parse_args()
    ok = _measure.on_sqlite_and_postgres(lambda label, url: run(label, url, args), SCHEMA, only=args.database)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
