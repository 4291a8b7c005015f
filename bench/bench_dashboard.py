"""Benchmark the owners' dashboard at two sizes: 5,000 and 20,000 submitted audits (80 answers each, 4 actions each).

    python bench/bench_dashboard.py        (some minutes on 2 cores; PostgreSQL too when it answers)
    BENCH_SMOKE=1 python bench/bench_dashboard.py    (200 and 800 audits, 3 runs: proves the script works)

Two fresh databases (SQLite files, or two PostgreSQL schemas) are migrated to the head revision (so they have
exactly the indexes the migrations make) and filled with bulk Core inserts: five organizations, a checklist of 10
touchpoints x 8 items in two versions (a touchpoint swapped for another halfway through two years of walks), audits
scored by the real scoring code (their stored results and findings are what a submission writes), wrap-ups, actions
on findings, and the measures a submission writes (measures_of), tallied by tallies.rebuild as submissions would
have. The measured organization holds 60% of the audits. A render is a whole GET of the dashboard through the app
(sign-in check, filters, every figure, the SVG charts, the template), timed as the median of RUNS, the two sizes
taking turns so that the machine's load weighs on both alike; the default view covers the last twelve months, the
wide one all two years. CPU time is this process's (on PostgreSQL the server's work is not in it).

When PostgreSQL answers at SHOPPER_BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432/test), the same runs
again in two schemas of their own, created and dropped here.

Targets (issue 15): the default view's median <= 150 ms at 5,000 audits, 4x the audits <= 1.3x the time, and the
same number of queries at both sizes.
"""

from __future__ import annotations

import random
import shutil
import sys
import time
from datetime import UTC, date, datetime, timedelta

import _measure  # puts the repository root on sys.path, so it comes before the project's imports

SIZES = (200, 800) if _measure.smoke() else (5000, 20000)  # audits in the smaller and the bigger database
ANSWERS_PER_AUDIT, ACTIONS_PER_AUDIT = 80, 4
MEASURED_SHARE = 0.6  # of the audits, in the organization whose dashboard is measured
ORGS, SITES_PER_ORG, MEMBERS_PER_ORG = 5, 8, 12
RUNS = 3 if _measure.smoke() else 15
TARGET_MS, GROWTH = 150, 1.3
SCHEMA = "shopper_bench_dashboard"
BIG_SCHEMA = f"{SCHEMA}_big"
NOW = datetime.now(UTC).replace(microsecond=0)

KINDS = (
    {"type": "check"},
    {"type": "check"},
    {"type": "timer", "target_max_s": 60},
    {"type": "counter", "target_max": 1},
    {"type": "rating", "scale": 5, "target_min": 4},
    {"type": "check", "critical": True},
    {
        "type": "choice",
        "options": [
            {"value": "a", "label": "Answered", "score": 100},
            {"value": "b", "label": "Sent elsewhere", "score": 0, "flag": True},
        ],
    },
    {"type": "text"},
)


def definition(version: int) -> dict:
    """10 touchpoints x 8 items; version 2 swaps the last touchpoint for a new one (keys stay stable otherwise)."""
    touchpoints = []
    for t in range(10):
        key = f"tp{t}" if not (version == 2 and t == 9) else "tp-new"
        touchpoints.append(
            {
                "key": key,
                "title": f"Touchpoint {t + 1}" if key != "tp-new" else "The new touchpoint",
                "channel": "phone",
                "promise": f"Promise {t + 1}",
                "items": [
                    {"key": f"{key}-i{i}", "prompt": f"Question {i + 1} at {key}", **kind}
                    for i, kind in enumerate(KINDS)
                ],
            }
        )
    return {"title": "Bench journey", "touchpoints": touchpoints}


def value_for(item: dict, rng: random.Random, quality: float):
    """A plausible answer; `quality` (0..1) is how often the walk meets the target."""
    good = rng.random() < quality
    kind = item["type"]
    if kind == "check":
        return "yes" if good else "no"
    if kind == "timer":
        return rng.randint(10, 60) if good else rng.randint(61, 600)
    if kind == "counter":
        return rng.randint(0, 1) if good else rng.randint(2, 5)
    if kind == "rating":
        return rng.randint(4, 5) if good else rng.randint(1, 3)
    if kind == "choice":
        return "a" if good else "b"
    return "Noted on the walk"


class Data:
    """Generates rows and inserts them with Core executemany, in batches."""

    def __init__(self, app, seed: int = 7):
        self.app = app
        self.rng = random.Random(seed)
        self.next_audit = self.next_finding = self.next_action = self.next_answer = 1

    def setup(self) -> dict:
        """Organizations, people, sites, and the checklist in two versions (through the app's own code)."""
        from shopper.accounts.models import User
        from shopper.accounts.passwords import hash_password
        from shopper.checklists import service as checklists
        from shopper.extensions import db
        from shopper.orgs.models import Membership, Organization, Site

        password = hash_password("a long benchmark password")
        world = {"orgs": []}
        with self.app.app_context():
            for o in range(ORGS):
                org = Organization(name=f"Bench {o}", slug=f"bench-{o}", kind="business")
                db.session.add(org)
                db.session.flush()
                users = []
                for m in range(MEMBERS_PER_ORG):
                    user = User(email=f"u{o}-{m}@bench.test", name=f"Person {o}-{m}", password_hash=password)
                    db.session.add(user)
                    db.session.flush()
                    role = "owner" if m == 0 else ("manager" if m < 3 else "auditor")
                    db.session.add(Membership(org_id=org.id, user_id=user.id, role=role))
                    users.append(user.id)
                sites = []
                for s in range(SITES_PER_ORG):
                    site = Site(org_id=org.id, name=f"Site {s + 1}")
                    db.session.add(site)
                    db.session.flush()
                    sites.append(site.id)
                checklist = checklists.create_checklist(org.id, users[0], title="Bench journey")
                checklists.save_draft(checklist, definition(1))
                first = checklists.publish(checklist, users[0], NOW - timedelta(days=730))
                checklists.save_draft(checklist, definition(2))
                second = checklists.publish(checklist, users[0], NOW - timedelta(days=365))
                world["orgs"].append(
                    {
                        "id": org.id,
                        "slug": org.slug,
                        "owner": users[0],
                        "users": users,
                        "sites": sites,
                        "checklist": checklist.id,
                        "versions": [(first.id, definition(1)), (second.id, definition(2))],
                    }
                )
            db.session.commit()
        return world

    def add(self, world: dict, audits: int, actions: int) -> None:
        """`audits` submitted audits spread over two years (MEASURED_SHARE of them in the first organization),
        their answers, wrap-ups and findings, and `actions` actions on those findings."""
        from sqlalchemy import insert

        from shopper.actions.models import Action, ActionEvent
        from shopper.audits import tallies
        from shopper.audits.measures import measures_of
        from shopper.audits.models import Answer, Audit, Finding, ItemMeasure, TouchpointMeasure, TouchpointVisit
        from shopper.audits.service import finding_columns, stored_result
        from shopper.checklists.scoring import AnswerData, score
        from shopper.extensions import db

        rng = self.rng
        rows: dict[str, list] = {
            key: [] for key in ("audit", "answer", "visit", "finding", "action", "event", "tp_measure", "item_measure")
        }
        findings_of: list[tuple[dict, int, list]] = []
        for _n in range(audits):
            org = world["orgs"][0] if rng.random() < MEASURED_SHARE else rng.choice(world["orgs"][1:])
            submitted = NOW - timedelta(days=rng.uniform(0, 729), minutes=rng.randint(0, 600))
            version_id, definition_ = org["versions"][0 if submitted < NOW - timedelta(days=365) else 1]
            quality = 0.55 + 0.35 * (1 - (NOW - submitted).days / 730)  # things get better over time
            answers = {}
            for touchpoint in definition_["touchpoints"]:
                for item in touchpoint["items"]:
                    answers[item["key"]] = (touchpoint["key"], value_for(item, rng, quality))
            result = score(definition_, {k: AnswerData(v) for k, (_, v) in answers.items()})
            audit_id = self.next_audit
            self.next_audit += 1
            auditor = rng.choice(org["users"])
            rows["audit"].append(
                dict(
                    id=audit_id,
                    org_id=org["id"],
                    site_id=rng.choice(org["sites"]),
                    checklist_id=org["checklist"],
                    checklist_version_id=version_id,
                    auditor_id=auditor,
                    created_by_id=auditor,
                    scenario="",
                    status="submitted",
                    created_at=submitted - timedelta(hours=1),
                    started_at=submitted - timedelta(hours=1),
                    submitted_at=submitted,
                    score=result.overall,
                    result=stored_result(result),
                    revision=ANSWERS_PER_AUDIT,
                )
            )
            for key, (tp_key, value) in answers.items():
                rows["answer"].append(
                    dict(
                        audit_id=audit_id,
                        touchpoint_key=tp_key,
                        item_key=key,
                        value=value,
                        note="",
                        flagged=False,
                        client_ts=1,
                        op_id=f"bench-{self.next_answer}",
                        updated_at=submitted,
                        updated_by_id=auditor,
                    )
                )
                self.next_answer += 1
            verdicts = {}
            for touchpoint in definition_["touchpoints"][::3]:
                effort, kept = rng.randint(1, 7), rng.random() < quality
                verdicts[touchpoint["key"]] = (effort, kept)
                rows["visit"].append(
                    dict(
                        audit_id=audit_id,
                        touchpoint_key=touchpoint["key"],
                        effort=effort,
                        promise_kept=kept,
                        note="",
                        finished_at=submitted,
                        client_ts=1,
                        op_id="",
                    )
                )
            measures = measures_of(
                stored_result(result),
                verdicts,
                [finding.touchpoint_key for finding in result.findings],
                {key: value for key, (_, value) in answers.items()},
            )
            rows["tp_measure"] += [
                dict(audit_id=audit_id, touchpoint_key=m.key, score=m.score, walked=m.walked, kept=m.kept)
                for m in measures.touchpoints
            ]
            rows["item_measure"] += [dict(audit_id=audit_id, item_key=k, value=v) for k, v in measures.items]
            keys = []
            for position, finding in enumerate(result.findings):
                rows["finding"].append(
                    dict(
                        id=self.next_finding, audit_id=audit_id, org_id=org["id"], **finding_columns(finding, position)
                    )
                )
                self.next_finding += 1
                keys.append((finding.touchpoint_key, finding.item_key, finding.prompt))
            findings_of.append((org, audit_id, keys, submitted))
        per_audit = max(1, round(actions / max(1, audits)))
        for org, audit_id, keys, submitted in findings_of:
            for tp_key, item_key, prompt in rng.sample(keys, min(per_audit, len(keys))):
                if len(rows["action"]) >= actions:
                    break
                action_id = self.next_action
                self.next_action += 1
                roll = rng.random()
                status = "done" if roll < 0.5 else "wont_fix" if roll < 0.55 else "doing" if roll < 0.7 else "open"
                closed = submitted + timedelta(days=rng.randint(1, 60)) if status in ("done", "wont_fix") else None
                rows["action"].append(
                    dict(
                        id=action_id,
                        org_id=org["id"],
                        audit_id=audit_id,
                        touchpoint_key=tp_key,
                        item_key=item_key,
                        title=f"Fix: {prompt}",
                        detail="",
                        assignee_id=rng.choice(org["users"]),
                        due_on=(submitted + timedelta(days=rng.randint(7, 90))).date(),
                        priority=rng.choice(["low", "normal", "high"]),
                        status=status,
                        resolution="Changed the way we work" if closed else "",
                        created_by_id=org["owner"],
                        created_at=submitted,
                        updated_at=closed or submitted,
                        closed_at=min(closed, NOW) if closed else None,
                    )
                )
                rows["event"].append(
                    dict(action_id=action_id, user_id=org["owner"], at=submitted, kind="created", summary="Created")
                )
        with self.app.app_context():
            for table, key in (
                (Audit.__table__, "audit"),
                (Answer.__table__, "answer"),
                (TouchpointVisit.__table__, "visit"),
                (Finding.__table__, "finding"),
                (Action.__table__, "action"),
                (ActionEvent.__table__, "event"),
                (TouchpointMeasure.__table__, "tp_measure"),
                (ItemMeasure.__table__, "item_measure"),
            ):
                batch = rows[key]
                for start in range(0, len(batch), 20000):
                    db.session.execute(insert(table), batch[start : start + 20000])
            for org in world["orgs"]:  # what submissions would have tallied, rebuilt from the measures just written
                tallies.rebuild(db.session.connection(), org["checklist"])
            db.session.commit()
            db.session.execute(db.text("ANALYZE"))  # fresh statistics, as a database in use would have
            db.session.commit()


def signed_in_client(app, user_id: int):
    from shopper.accounts import sessions
    from shopper.accounts.models import User
    from shopper.extensions import db
    from shopper.timeutil import utcnow

    with app.app_context():
        session_id = sessions.start(db.session.get(User, user_id), now=utcnow())
        db.session.commit()
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = session_id
        session["_fresh"] = True
    return client


def count_queries(app, call) -> int:
    from sqlalchemy import event

    from shopper.extensions import db

    with app.app_context():
        engine = db.engine
    seen = []

    def before(*_args, **_kwargs):
        seen.append(1)

    event.listen(engine, "before_cursor_execute", before)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return len(seen)


def build(database_url: str | None, audits: int):
    """A migrated app holding `audits` submitted audits (and ACTIONS_PER_AUDIT actions each) with their tallies:
    its signed-in owner's client, the default and two-year dashboard URLs, and its instance folder."""
    app, instance = _measure.migrated_app("bench-dashboard-", database_url)
    data = Data(app)
    world = data.setup()
    data.add(world, audits, audits * ACTIONS_PER_AUDIT)
    org = world["orgs"][0]
    default = f"/o/{org['slug']}/dashboard/"
    wide = f"{default}?from={(NOW - timedelta(days=730)).date().isoformat()}&to={date.today().isoformat()}"
    return app, signed_in_client(app, org["owner"]), default, wide, instance


def _big_url(database_url: str | None) -> str | None:
    """The bigger database: a second SQLite file, or a second PostgreSQL schema (made here)."""
    if database_url is None:
        return None
    _measure._drop_and_create(BIG_SCHEMA, create=True)
    return database_url.replace(f"%3D{SCHEMA}", f"%3D{BIG_SCHEMA}")


def run(label: str, database_url: str | None) -> bool:
    """Both sizes built side by side, then their renders timed taking turns, so the load weighs on both alike."""
    from shopper.extensions import db

    small, big = SIZES
    print(f"\n== {label}", flush=True)
    started = time.perf_counter()
    apps = {}
    try:
        for size, url in ((small, database_url), (big, _big_url(database_url))):
            apps[size] = build(url, size)
        print(f"data: {small:,} and {big:,} audits, generated in {time.perf_counter() - started:.0f} s", flush=True)

        def get(size: int, wide: bool):
            _, client, default, two_years, _ = apps[size]
            response = client.get(two_years if wide else default)
            assert response.status_code == 200, response.status_code

        calls = {(size, wide): (lambda s=size, w=wide: get(s, w)) for size in SIZES for wide in (False, True)}
        counts = {key: count_queries(apps[key[0]][0], call) for key, call in calls.items()}
        load = _measure.load_average()
        wall = _measure.median_ms(calls, runs=RUNS)
        cpu = _measure.median_ms(calls, runs=RUNS, clock=time.process_time)
        print(f"load average {load} (1 min) during the wall-clock runs", flush=True)
        for size in SIZES:
            target = TARGET_MS if size == small else None
            _measure.figure(f"12 months, {size:,} audits (median)", wall[(size, False)], "ms", target)
            _measure.figure("  CPU time of this process", cpu[(size, False)], "ms")
            _measure.figure(f"two years, {size:,} audits (median)", wall[(size, True)], "ms")
            _measure.figure("  CPU time of this process", cpu[(size, True)], "ms")
        _measure.figure("12 months: 4x the audits costs", wall[(big, False)] / wall[(small, False)], "x", GROWTH)
        _measure.figure("  in CPU time of this process", cpu[(big, False)] / cpu[(small, False)], "x")
        _measure.figure("two years: 4x the audits costs", wall[(big, True)] / wall[(small, True)], "x", GROWTH)
        _measure.figure("  in CPU time of this process", cpu[(big, True)] / cpu[(small, True)], "x")
        for wide in (False, True):
            name = "two years" if wide else "12 months"
            _measure.figure(
                f"queries, {name} ({counts[(small, wide)]} at {small:,})",
                counts[(big, wide)],
                "q",
                counts[(small, wide)],
            )
        return True  # a MISS is a figure, not a failure: errors raise
    finally:
        for app, *_, instance in apps.values():
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
            shutil.rmtree(instance, ignore_errors=True)  # the 20,000-audit SQLite file is about 500 MB
        if database_url is not None:
            _measure._drop_and_create(BIG_SCHEMA, create=False)


def main() -> int:
    _measure.on_sqlite_and_postgres(run, SCHEMA)
    print(
        f"\nmedian of {RUNS} renders each; targets <= {TARGET_MS} ms at {SIZES[0]:,} audits (last 12 months),"
        f" <= {GROWTH}x for {SIZES[1] // SIZES[0]}x the audits, and a fixed query count",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
