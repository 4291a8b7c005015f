"""Benchmark the consultancy portfolio (issue 8): a consultancy with 200 clients, its benchmark, a client's comparison.

    python bench/bench_portfolio.py             (a minute or two on 2 cores; PostgreSQL too when it answers)
    python bench/bench_portfolio.py --profile   (also prints where one request of each page spends its time)

A fresh SQLite database is migrated to the head revision and filled with bulk Core inserts, as bench_dashboard.py
does: one consultancy whose owner is signed in, its copy of the built-in "be-your-customer" checklist (8 touchpoints,
54 items) shared with all clients, and 240 client businesses, each with an owner, two sites, 25 submitted audits of
that checklist spread over two years and about 100 actions on their findings. 200 clients have an active
consultant-manager link; 20 have a revoked link and 20 a consultant-auditor one, so that the portfolio's filters have
rows to leave out. The audits are scored by the real scoring code and store what a submission stores (`score`, the
`result` JSON of `audits.service.stored_result`, the findings of `finding_columns`), with their answers and
wrap-ups; photo items count as photographed, without photo rows (no measured page reads them).

Measured through the Flask test client, each as the median of RUNS whole GETs taking turns:

- the portfolio (GET /o/<consultancy>/portfolio/), signed in as the consultancy's owner;
- the benchmark of the shared checklist (GET /o/<consultancy>/portfolio/checklists/<id>), the same person;
- one client's dashboard (GET /o/<client>/dashboard/, default view), signed in as that client's owner: it includes
  "Compared with similar businesses" (`portfolio.comparisons_for_client`), averaged over all 200 clients.

The number of SQL queries of each request is taken with 20 clients (and 2 + 2 left out) and again with 200.

When PostgreSQL answers at SHOPPER_BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432/test), the same runs
again in a schema of its own, created and dropped here.

Targets (issue 8): portfolio <= 300 ms, benchmark <= 300 ms, client dashboard <= 400 ms, and the same number of
queries per request with 20 clients as with 200.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import random
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta

import _measure  # puts the repository root on sys.path, so it comes before the project's imports
from bench_dashboard import count_queries, signed_in_client

CLIENTS, REVOKED, AUDITOR_LINKS = (20, 10, 10) if _measure.smoke() else (200, 20, 20)
SMALL = 10  # the query count is taken first with CLIENTS // SMALL clients (and as few left out), then with all
AUDITS_PER_CLIENT, ACTIONS_PER_AUDIT = 25, 4  # about 100 actions per client
SITES_PER_CLIENT = 2
RUNS = 3 if _measure.smoke() else 15
TARGETS = {"portfolio": 300, "benchmark": 300, "client dashboard": 400}
LIBRARY_SLUG = "be-your-customer"
SCHEMA = "shopper_bench_portfolio"
NOW = datetime.now(UTC).replace(microsecond=0)
PROFILE = "--profile" in sys.argv[1:]


def good_value(item: dict, rng: random.Random, good: bool, submitted: datetime):
    """A plausible answer to one item of any type; `good` says whether it meets the item's target."""
    kind = item["type"]
    if kind == "check":
        if rng.random() < 0.03:
            return "na"
        expected = item.get("expect", "yes")
        return expected if good else ("no" if expected == "yes" else "yes")
    if kind == "counter":
        target = item.get("target_max", 2)
        return rng.randint(0, target) if good else rng.randint(target + 1, target + 4)
    if kind == "timer":
        target = item.get("target_max_s", 60)
        return rng.randint(max(1, target // 6), target) if good else rng.randint(target + 1, target * 4)
    if kind == "rating":
        low = item.get("target_min", 3)
        return rng.randint(low, item["scale"]) if good else rng.randint(1, low - 1)
    if kind == "choice":
        options = item["options"]
        best = max(option.get("score", 0) for option in options)
        if item.get("weight", 1) == 0:  # an informational question (which channel): mostly a usable one
            usable = [o["value"] for o in options if o.get("score", 0) == best]
            return rng.choice(usable) if rng.random() < 0.9 else options[-1]["value"]
        pool = [o["value"] for o in options if (o.get("score", 0) >= 80) == good] or [options[0]["value"]]
        return rng.choice(pool)
    if kind == "number":
        low, high = item.get("target_min", 0), item.get("target_max", 24)
        return round(rng.uniform(low, high), 1) if good else round(rng.uniform(high + 1, high * 3), 1)
    if kind == "date":
        return (submitted - timedelta(days=rng.randint(1, 4))).date().isoformat()
    if kind == "text":
        return "Noted on the walk"
    return None  # photo: photos, not a value


class Data:
    """A consultancy and its clients; rows generated here and inserted with Core executemany, in batches."""

    def __init__(self, app, seed: int = 8):
        self.app = app
        self.rng = random.Random(seed)
        self.made = 0  # clients so far (their numbers name them)

    def setup(self) -> dict:
        """The consultancy, its owner and its shared copy of the library checklist (through the app's own code)."""
        from shopper.accounts.models import User
        from shopper.accounts.passwords import hash_password
        from shopper.checklists import service as checklists
        from shopper.checklists.models import ChecklistVersion, SharedWith
        from shopper.extensions import db
        from shopper.orgs.models import Membership, Organization, OrgKind

        self.password = hash_password("a long benchmark password")
        with self.app.app_context():
            consultancy = Organization(name="Northwind Advisory", slug="northwind", kind=OrgKind.CONSULTANCY)
            owner = User(email="owner@northwind.test", name="Nora Northwind", password_hash=self.password)
            db.session.add_all([consultancy, owner])
            db.session.flush()
            db.session.add(Membership(org_id=consultancy.id, user_id=owner.id, role="owner"))
            checklist = checklists.copy_from_library(consultancy.id, owner.id, LIBRARY_SLUG, NOW - timedelta(days=740))
            checklist.shared_with = SharedWith.ALL
            db.session.commit()
            version = db.session.get(ChecklistVersion, checklist.current_version_id)
            return {
                "consultancy": consultancy.id,
                "slug": consultancy.slug,
                "owner": owner.id,
                "checklist": checklist.id,
                "version": version.id,
                "definition": version.definition,
                "clients": [],  # (org id, slug, owner id, link role, revoked)
            }

    def _next_ids(self) -> dict[str, int]:
        from shopper.extensions import db

        tables = ("organization", "user", "site", "client_link", "audit", "finding", "action")
        return {
            table: (db.session.execute(db.text(f'SELECT max(id) FROM "{table}"')).scalar() or 0) + 1 for table in tables
        }

    def add(self, world: dict, managers: int, revoked: int, auditors: int) -> None:
        """That many clients of each kind of link, each with its people, sites, audits, findings and actions."""
        from sqlalchemy import insert

        from shopper.accounts.models import User
        from shopper.actions.models import Action, ActionEvent
        from shopper.audits import tallies
        from shopper.audits.models import Answer, Audit, Finding, TouchpointVisit
        from shopper.audits.service import finding_columns, stored_result
        from shopper.checklists.schema import check_answer, iter_items
        from shopper.checklists.scoring import AnswerData, score, visible_item_keys
        from shopper.extensions import db
        from shopper.orgs.models import ClientLink, LinkRole, Membership, Organization, Site

        rng = self.rng
        definition = world["definition"]
        items = [(touchpoint["key"], item) for touchpoint, item in iter_items(definition)]
        rows: dict[str, list[dict]] = {
            k: [] for k in ("org", "user", "member", "site", "link", "audit", "answer", "visit", "finding", "action")
        }
        kinds = (
            [(LinkRole.CONSULTANT_MANAGER, False)] * managers
            + [(LinkRole.CONSULTANT_MANAGER, True)] * revoked
            + [(LinkRole.CONSULTANT_AUDITOR, False)] * auditors
        )
        rng.shuffle(kinds)
        with self.app.app_context():
            ids = self._next_ids()
        for link_role, is_revoked in kinds:
            self.made += 1
            n = self.made
            org_id, owner_id = ids["organization"], ids["user"]
            ids["organization"] += 1
            ids["user"] += 1
            slug = f"client-{n:03d}"
            rows["org"].append(dict(id=org_id, name=f"Client {n:03d} Dental", slug=slug, kind="business"))
            rows["user"].append(
                dict(id=owner_id, email=f"owner@{slug}.test", name=f"Owner {n}", password_hash=self.password)
            )
            rows["member"].append(dict(org_id=org_id, user_id=owner_id, role="owner"))
            sites = []
            for s in range(SITES_PER_CLIENT):
                rows["site"].append(dict(id=ids["site"], org_id=org_id, name=f"Site {s + 1}"))
                sites.append(ids["site"])
                ids["site"] += 1
            linked_at = NOW - timedelta(days=735)
            rows["link"].append(
                dict(
                    id=ids["client_link"],
                    consultancy_id=world["consultancy"],
                    client_id=org_id,
                    role=link_role.value,
                    created_client=True,
                    created_by_id=world["owner"],
                    created_at=linked_at,
                    revoked_at=NOW - timedelta(days=rng.randint(1, 300)) if is_revoked else None,
                    revoked_by_id=world["owner"] if is_revoked else None,
                )
            )
            ids["client_link"] += 1
            world["clients"].append((org_id, slug, owner_id, link_role, is_revoked))
            base = rng.uniform(0.45, 0.85)  # how good this business is; it gets a little better over time
            dates = sorted(
                NOW - timedelta(days=rng.uniform(0, 729), minutes=rng.randint(0, 600)) for _ in range(AUDITS_PER_CLIENT)
            )
            for submitted in dates:
                quality = min(0.97, base + 0.12 * (1 - (NOW - submitted).days / 730))
                values = {item["key"]: good_value(item, rng, rng.random() < quality, submitted) for _, item in items}
                shown = visible_item_keys(definition, values)
                answers = {
                    item["key"]: (tp_key, check_answer(item, values[item["key"]]))
                    for tp_key, item in items
                    if item["key"] in shown and values[item["key"]] is not None
                }
                photos = {item["key"]: 1 for _, item in items if item["type"] == "photo" and item["key"] in shown}
                result = score(definition, {k: AnswerData(v) for k, (_, v) in answers.items()}, photos)
                audit_id = ids["audit"]
                ids["audit"] += 1
                rows["audit"].append(
                    dict(
                        id=audit_id,
                        org_id=org_id,
                        site_id=rng.choice(sites),
                        checklist_id=world["checklist"],
                        checklist_version_id=world["version"],
                        auditor_id=owner_id,
                        created_by_id=owner_id,
                        scenario="",
                        status="submitted",
                        created_at=submitted - timedelta(hours=2),
                        started_at=submitted - timedelta(hours=1),
                        submitted_at=submitted,
                        score=result.overall,
                        result=stored_result(result),
                        revision=len(answers),
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
                            op_id=f"bench-{audit_id}-{key}",
                            updated_at=submitted,
                            updated_by_id=owner_id,
                        )
                    )
                for touchpoint in definition["touchpoints"][::2]:
                    rows["visit"].append(
                        dict(
                            audit_id=audit_id,
                            touchpoint_key=touchpoint["key"],
                            effort=rng.randint(1, 7),
                            promise_kept=rng.random() < quality,
                            note="",
                            finished_at=submitted,
                            client_ts=1,
                            op_id="",
                        )
                    )
                for position, finding in enumerate(result.findings):
                    rows["finding"].append(
                        dict(id=ids["finding"], audit_id=audit_id, org_id=org_id, **finding_columns(finding, position))
                    )
                    ids["finding"] += 1
                # open, in progress, done, won't fix: older audits' actions are mostly closed
                weights = (10, 10, 70, 10) if (NOW - submitted).days > 180 else (40, 25, 30, 5)
                for finding in rng.sample(result.findings, min(ACTIONS_PER_AUDIT, len(result.findings))):
                    status = rng.choices(("open", "doing", "done", "wont_fix"), weights)[0]
                    closed = submitted + timedelta(days=rng.randint(1, 60)) if status in ("done", "wont_fix") else None
                    rows["action"].append(
                        dict(
                            id=ids["action"],
                            org_id=org_id,
                            audit_id=audit_id,
                            touchpoint_key=finding.touchpoint_key,
                            item_key=finding.item_key,
                            title=f"Fix: {finding.prompt}"[:200],
                            detail="",
                            assignee_id=owner_id,
                            due_on=(submitted + timedelta(days=rng.randint(7, 90))).date(),
                            priority=rng.choice(["low", "normal", "high"]),
                            status=status,
                            resolution="Changed the way we work" if closed else "",
                            created_by_id=owner_id,
                            created_at=submitted,
                            updated_at=closed or submitted,
                            closed_at=min(closed, NOW) if closed else None,
                        )
                    )
                    ids["action"] += 1
        events = [
            dict(action_id=a["id"], user_id=a["created_by_id"], at=a["created_at"], kind="created", summary="Created")
            for a in rows["action"]
        ]
        with self.app.app_context():
            for table, batch in (
                (Organization.__table__, rows["org"]),
                (User.__table__, rows["user"]),
                (Membership.__table__, rows["member"]),
                (Site.__table__, rows["site"]),
                (ClientLink.__table__, rows["link"]),
                (Audit.__table__, rows["audit"]),
                (Answer.__table__, rows["answer"]),
                (TouchpointVisit.__table__, rows["visit"]),
                (Finding.__table__, rows["finding"]),
                (Action.__table__, rows["action"]),
                (ActionEvent.__table__, events),
            ):
                for start in range(0, len(batch), 20000):
                    db.session.execute(insert(table), batch[start : start + 20000])
            tallies.backfill(db.session.connection())  # the measures, tallies and latest walks submissions write
            db.session.commit()
            db.session.execute(db.text("ANALYZE"))  # fresh statistics, as a database in use would have
            db.session.commit()


def data_parts(app, world: dict, client_id: int) -> dict[str, dict[str, object]]:
    """Per page, the functions that load its figures (queries and the Python that shapes their rows), each called
    in an app context of its own, as a request would: what the median request spends outside them is sign-in,
    the template and the framework."""
    from shopper.checklists.models import Checklist
    from shopper.clients import portfolio
    from shopper.dashboard.queries import default_filters, load_dashboard
    from shopper.extensions import db

    today = NOW.date()

    def within(func):
        def call():
            with app.app_context():
                func()

        return call

    return {
        "portfolio": {
            "portfolio_clients": within(
                lambda: portfolio.portfolio_clients(world["consultancy"], world["owner"], today)
            ),
            "shared_checklists": within(lambda: portfolio.shared_checklists(world["consultancy"])),
        },
        "benchmark": {
            "checklist_benchmark": within(
                lambda: portfolio.checklist_benchmark(db.session.get(Checklist, world["checklist"]), world["owner"])
            ),
        },
        "client dashboard": {
            "load_dashboard": within(lambda: load_dashboard(client_id, default_filters(today), today)),
            "comparisons_for_client": within(lambda: portfolio.comparisons_for_client(client_id)),
        },
    }


def profile(label: str, call) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    call()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(15)
    print(f"\n-- profile: {label}\n{out.getvalue()}", flush=True)


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def run(label: str, database_url: str | None) -> bool:
    from shopper.extensions import db
    from shopper.orgs.models import LinkRole

    app, instance = _measure.migrated_app("bench-portfolio-", database_url)
    data = Data(app)
    world = data.setup()
    consultant = signed_in_client(app, world["owner"])
    base = f"/o/{world['slug']}/portfolio"
    urls = {"portfolio": f"{base}/", "benchmark": f"{base}/checklists/{world['checklist']}"}

    def get(client, url):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return response

    print(f"\n== {label}", flush=True)
    started = time.perf_counter()
    data.add(world, CLIENTS // SMALL, REVOKED // SMALL, AUDITOR_LINKS // SMALL)
    # the measured client: the first one with an active consultant-manager link; the same at both sizes
    client_id, client_slug, client_owner, _, _ = next(
        c for c in world["clients"] if c[3] == LinkRole.CONSULTANT_MANAGER and not c[4]
    )
    owner = signed_in_client(app, client_owner)
    urls["client dashboard"] = f"/o/{client_slug}/dashboard/"
    callers = {
        "portfolio": lambda: get(consultant, urls["portfolio"]),
        "benchmark": lambda: get(consultant, urls["benchmark"]),
        "client dashboard": lambda: get(owner, urls["client dashboard"]),
    }
    small_counts = {name: count_queries(app, call) for name, call in callers.items()}
    data.add(world, CLIENTS - CLIENTS // SMALL, REVOKED - REVOKED // SMALL, AUDITOR_LINKS - AUDITOR_LINKS // SMALL)
    generated = time.perf_counter() - started
    big_counts = {name: count_queries(app, call) for name, call in callers.items()}
    with app.app_context():
        totals = {
            name: db.session.execute(db.text(f"SELECT count(*) FROM {name}")).scalar()
            for name in ("organization", "client_link", "audit", "answer", "finding", "action")
        }
    print(
        f"data: {totals['client_link']} client links (of which {REVOKED} revoked, {AUDITOR_LINKS} consultant-auditor),"
        f" {totals['audit']:,} audits, {totals['answer']:,} answers, {totals['finding']:,} findings,"
        f" {totals['action']:,} actions; generated and inserted in {generated:.0f} s",
        flush=True,
    )

    # what the pages show, so that a fast page is not a page that left the work out
    portfolio_html = get(consultant, urls["portfolio"]).get_data(as_text=True)
    benchmark_html = get(consultant, urls["benchmark"]).get_data(as_text=True)
    dashboard_html = get(owner, urls["client dashboard"]).get_data(as_text=True)
    assert portfolio_html.count('<th scope="row">') == CLIENTS + AUDITOR_LINKS, "portfolio rows"
    assert portfolio_html.count("auditor access: no figures") == AUDITOR_LINKS
    assert benchmark_html.count('<th scope="col"><a href=') == CLIENTS, "benchmark columns"
    assert f"{AUDITOR_LINKS} clients where you have auditor access are left out" in benchmark_html
    assert "Compared with similar businesses" in dashboard_html and "not enough businesses" not in dashboard_html
    print(
        f"pages: portfolio {len(portfolio_html) / 1024:.0f} KB ({CLIENTS + AUDITOR_LINKS} clients listed),"
        f" benchmark {len(benchmark_html) / 1024:.0f} KB ({CLIENTS} client columns),"
        f" client dashboard {len(dashboard_html) / 1024:.0f} KB (with its comparison)",
        flush=True,
    )

    load_before = load()
    timings = _measure.median_ms(callers, runs=RUNS)
    load_after = load()
    for name, target in TARGETS.items():
        _measure.report(f"{name} (median)", timings[name], "ms", target)
    for name in TARGETS:
        label = f"queries {name} ({small_counts[name]} at {CLIENTS // SMALL})"
        _measure.figure(label, big_counts[name], "q", small_counts[name])
    parts = data_parts(app, world, client_id)
    part_ms = _measure.median_ms({part: func for funcs in parts.values() for part, func in funcs.items()}, runs=RUNS)
    for name, funcs in parts.items():
        inside = sum(part_ms[part] for part in funcs)
        split = " + ".join(f"{part} {part_ms[part]:.0f}" for part in funcs)
        print(f"  {name}: {split} ms; the rest (sign-in, template, framework) ~{timings[name] - inside:.0f} ms")
    print(f"load average (1/5/15 min) before the timed runs: {load_before}; after: {load_after}", flush=True)
    if PROFILE:
        for name, call in callers.items():
            profile(name, call)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    shutil.rmtree(instance, ignore_errors=True)  # the SQLite file is about 85 MB
    return True  # a MISS is a figure, not a failure: errors raise


def main() -> int:
    _measure.on_sqlite_and_postgres(run, SCHEMA)
    targets = ", ".join(f"{name} <= {ms} ms" for name, ms in TARGETS.items())
    print(f"\nmedian of {RUNS} requests each; targets: {targets}, and a fixed query count", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
