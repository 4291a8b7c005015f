"""Measures written at submission: the tallies the dashboard reads equal a recomputation from the answers, through
submits, reopens, a stricter target and the migration's backfill."""

import copy
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from flask_migrate import downgrade, upgrade
from sqlalchemy import select

from shopper.audits import service as audits
from shopper.audits import tallies
from shopper.audits.measures import measures_of
from shopper.audits.models import (
    Answer,
    Audit,
    AuditStatus,
    Finding,
    ItemMeasure,
    LatestWalks,
    MeasureTally,
    TouchpointMeasure,
    TouchpointVisit,
)
from shopper.checklists import service as checklists
from shopper.checklists.models import Checklist
from shopper.dashboard.queries import DashboardFilters, load_dashboard, tiles
from shopper.demo import load_demo
from shopper.extensions import db
from shopper.orgs.models import Role
from shopper.timeutil import utcnow
from tests import test_phone_races as races
from tests.conftest import make_app
from tests.factories import SMALL_CHECKLIST, Factories
from tests.test_migrations import database_url  # noqa: F401  (a fixture: a database of the test's own)

live_app, world = races.live_app, races.world  # fixtures: a committed database that threads share

BAD = {"answer-time": 240, "transfers": 3, "resolved": ("no", "Write in, they said")}
GOOD = {"answer-time": 30, "transfers": 0, "resolved": ("yes", "Sorted"), "tone": 5}


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def _starts(day: date) -> dict[str, date]:
    return {
        "day": day,
        "week": day - timedelta(days=day.weekday()),
        "month": day.replace(day=1),
    }


def expected_tallies() -> dict[tuple, tuple]:
    """Every tally row, recomputed in Python from the submitted audits' answers, wrap-ups and findings (the
    dashboard's rules as the old SQL over the answers applied them), with each checklist's newest targets."""
    limits: dict[int, dict[str, float]] = {}
    for checklist in db.session.scalars(select(Checklist)):
        limits[checklist.id] = {}
        for version in sorted(checklist.versions, key=lambda v: -v.number):
            for touchpoint in version.definition["touchpoints"]:
                for item in touchpoint["items"]:
                    target = item.get("target_max_s", item.get("target_max"))
                    if item["type"] in ("timer", "counter") and target is not None:
                        limits[checklist.id].setdefault(item["key"], float(target))
    rows: dict[tuple, list] = defaultdict(lambda: [0, 0, 0.0, 0, None])

    def add(audit, kind, key, n=0, scored=0, total=0.0, kept=0, last_at=None):
        for grain, start in _starts(audit.submitted_at.date()).items():
            row = rows[(audit.org_id, audit.site_id, audit.checklist_id, grain, start, kind, key)]
            row[0] += n
            row[1] += scored
            row[2] += total
            row[3] += kept
            if last_at is not None and (row[4] is None or last_at > row[4]):
                row[4] = last_at

    for audit in db.session.scalars(select(Audit).where(Audit.status == AuditStatus.SUBMITTED)):
        has_score = audit.score is not None
        add(audit, "walks", "", 1, int(has_score), audit.score or 0.0, 0, audit.submitted_at)
        visits = {v.touchpoint_key: v for v in db.session.scalars(select(TouchpointVisit).filter_by(audit_id=audit.id))}
        findings = list(db.session.scalars(select(Finding).filter_by(audit_id=audit.id)))
        for touchpoint in audit.result["touchpoints"]:
            visit = visits.get(touchpoint["key"])
            walked = touchpoint["answered"] > 0 or (
                visit is not None and (visit.effort is not None or visit.promise_kept is not None)
            )
            if visit is not None and visit.promise_kept is not None:
                kept = visit.promise_kept
            else:
                kept = not any(f.touchpoint_key == touchpoint["key"] for f in findings)
            score = touchpoint["score"]
            add(audit, "touchpoints", touchpoint["key"], int(walked), int(score is not None), score or 0.0,
                int(walked and kept))  # fmt: skip
        for answer in db.session.scalars(select(Answer).filter_by(audit_id=audit.id)):
            target = limits[audit.checklist_id].get(answer.item_key)
            if target is not None and isinstance(answer.value, int | float) and not isinstance(answer.value, bool):
                add(audit, "items", answer.item_key, 1, 1, float(answer.value), int(answer.value <= target))
        for finding in findings:
            add(audit, "findings", finding.item_key, 1, 0, 0.0, int(finding.critical), audit.submitted_at)
    return {key: (n, scored, round(total, 6), kept, last) for key, (n, scored, total, kept, last) in rows.items()}


def stored_tallies() -> dict[tuple, tuple]:
    return {
        (t.org_id, t.site_id, t.checklist_id, t.grain, t.period, t.kind, t.key): (
            t.n,
            t.scored,
            round(t.total, 6),
            t.kept,
            t.last_at,
        )
        for t in db.session.scalars(select(MeasureTally))
    }


def latest_walks_match() -> bool:
    """Every organization's latest walks per checklist are its newest submitted audits of it, by a plain sort."""
    newest: dict[tuple, list] = defaultdict(list)
    for audit in db.session.scalars(select(Audit).where(Audit.status == AuditStatus.SUBMITTED)):
        newest[(audit.org_id, audit.checklist_id)].append(audit)
    expected = {
        key: [[a.id, a.submitted_at.isoformat(), a.score] for a in sorted(walks, key=lambda a: (a.submitted_at, a.id),
                                                                         reverse=True)][: tallies.RECENT_WALKS]
        for key, walks in newest.items()
    }  # fmt: skip
    stored = {(w.org_id, w.checklist_id): w.recent for w in db.session.scalars(select(LatestWalks))}
    return stored == expected and all(w.audit_id == w.recent[0][0] for w in db.session.scalars(select(LatestWalks)))


def _walks(make: Factories):
    org = make.org()
    owner = make.member(org, Role.OWNER)
    auditor = make.member(org, Role.AUDITOR)
    checklist = make.checklist(org, by=owner)
    harbour, river = make.site(org, "Harbour Street"), make.site(org, "Riverside")
    walks = [
        make.submitted_audit(org, auditor, BAD, checklist=checklist, site=harbour, submitted_at=at("2026-01-30")),
        make.submitted_audit(org, auditor, GOOD, checklist=checklist, site=harbour, submitted_at=at("2026-02-02")),
        make.submitted_audit(
            org,
            auditor,
            {**BAD, "answer-time": 50},
            checklist=checklist,
            site=harbour,
            submitted_at=at("2026-02-02", 16),
            verdicts={"billing-line": True},
        ),
        make.submitted_audit(org, auditor, GOOD, checklist=checklist, site=river, submitted_at=at("2026-02-03")),
    ]
    return {"org": org, "owner": owner, "auditor": auditor, "checklist": checklist, "walks": walks}


def test_measures_of_follows_the_reports_rule_for_kept_promises():
    result = {
        "touchpoints": [
            {"key": "a", "score": 50.0, "answered": 2},
            {"key": "b", "score": None, "answered": 0},
            {"key": "c", "score": 100.0, "answered": 1},
            {"key": "d", "score": None, "answered": 0},
        ]
    }
    measures = measures_of(
        result,
        {"a": (None, True), "d": (3, None)},
        ["a", "c"],
        {"wait": 75, "count": 2.5, "ok": "yes", "flag": True, "none": None},
    )
    assert [(m.key, m.walked, m.kept) for m in measures.touchpoints] == [
        ("a", True, True),  # the verdict wins over the finding
        ("b", False, False),  # not walked: never kept
        ("c", True, False),  # a finding and no verdict
        ("d", True, True),  # walked by its wrap-up alone, no finding
    ]
    assert measures.items == (("count", 2.5), ("wait", 75.0))  # numbers only: no text, no boolean


def test_tallies_equal_a_recomputation_from_the_answers(app, make):
    harbour = _walks(make)["walks"][0].site_id
    with app.app_context():
        expected = expected_tallies()
        assert stored_tallies() == expected
        assert latest_walks_match()
        # the three walks at the Harbour at the turn of the month: two days, two weeks, two months
        walks = {(k[3], k[4].isoformat(), v[0]) for k, v in expected.items() if k[5] == "walks" and k[1] == harbour}
        assert sorted(walks) == [
            ("day", "2026-01-30", 1),
            ("day", "2026-02-02", 2),
            ("month", "2026-01-01", 1),
            ("month", "2026-02-01", 2),
            ("week", "2026-01-26", 1),
            ("week", "2026-02-02", 2),
        ]


def test_reopen_takes_a_walk_out_and_resubmitting_brings_it_back(app, make):
    walked = _walks(make)
    walk = walked["walks"][2]
    with app.app_context():
        before = stored_tallies()
        audit = db.session.get(Audit, walk.id)
        audits.reopen(audit, walked["owner"].id, "The wait was timed wrong", utcnow())
        db.session.commit()
        assert db.session.scalar(select(TouchpointMeasure).filter_by(audit_id=walk.id)) is None
        assert db.session.scalar(select(ItemMeasure).filter_by(audit_id=walk.id)) is None
        reopened = stored_tallies()
        assert reopened == expected_tallies() and reopened != before
        assert latest_walks_match()
        day = (walk.org_id, walk.site_id, walk.checklist_id, "day", date(2026, 2, 2), "walks", "")
        assert reopened[day][0] == 1 and before[day][0] == 2

        audit = db.session.get(Audit, walk.id)
        audits.save_answer(audit, walked["auditor"].id, uuid.uuid4().hex, "answer-time",
                           {"value": 20, "client_ts": 99}, utcnow())  # fmt: skip
        audits.submit(audit, walked["auditor"].id, uuid.uuid4().hex, utcnow())
        db.session.commit()
        assert stored_tallies() == expected_tallies()
        assert latest_walks_match()
        assert db.session.scalar(select(LatestWalks.audit_id).filter_by(org_id=walk.org_id)) == walk.id
        today = utcnow().date()
        key = (walk.org_id, walk.site_id, walk.checklist_id, "day", today, "items", "answer-time")
        assert stored_tallies()[key][:4] == (1, 1, 20.0, 1)


def test_a_stricter_target_after_publishing_rejudges_past_walks(app, make):
    walked = _walks(make)
    org, checklist = walked["org"], walked["checklist"]
    filters = DashboardFilters(date(2026, 1, 1), date(2026, 2, 28))
    with app.app_context():
        waits = {m.item_key: m for m in load_dashboard(org.id, filters, date(2026, 3, 1)).measures}
        assert (waits["answer-time"].within, waits["answer-time"].count) == (3, 4)  # 30, 50, 30 within 60 s
        stricter = copy.deepcopy(SMALL_CHECKLIST)
        stricter["touchpoints"][0]["items"][0]["target_max_s"] = 40
        row = db.session.get(Checklist, checklist.id)
        checklists.save_draft(row, stricter)
        checklists.publish(row, walked["owner"].id, utcnow())
        db.session.commit()
        assert stored_tallies() == expected_tallies()
        waits = {m.item_key: m for m in load_dashboard(org.id, filters, date(2026, 3, 1)).measures}
        assert (waits["answer-time"].target, waits["answer-time"].within) == (40.0, 2)


def test_tiles_cover_the_range_once_with_the_coarsest_periods():
    filters = DashboardFilters(date(2025, 12, 4), date(2026, 12, 3))  # the default year, a monthly chart
    found = tiles(filters)
    days = set()
    for grain, starts in found.items():
        for start in starts:
            end = tallies.period_end(start, grain)
            days |= {start + timedelta(days=n) for n in range((end - start).days)}
            assert start.month == (end - timedelta(days=1)).month  # inside one chart period
    assert sum((tallies.period_end(s, g) - s).days for g, ss in found.items() for s in ss) == len(days) == 365
    assert len(found["month"]) == 11 and sum(len(s) for s in found.values()) <= 25
    weekly = tiles(DashboardFilters(date(2026, 3, 4), date(2026, 4, 30)))
    edges = [date(2026, 3, d) for d in range(4, 9)] + [date(2026, 4, d) for d in range(27, 31)]
    assert weekly["month"] == [] and weekly["day"] == edges and len(weekly["week"]) == 7


def test_the_backfill_writes_what_submissions_wrote_and_the_downgrade_drops_it(tmp_path, database_url):  # noqa: F811
    app = make_app(tmp_path, DATABASE_URL=database_url)
    with app.app_context():
        upgrade()
        load_demo()
        db.session.remove()
        written = stored_tallies()
        assert written and written == expected_tallies()
        measures = {
            (m.audit_id, m.touchpoint_key, m.score, m.walked, m.kept)
            for m in db.session.scalars(select(TouchpointMeasure))
        }
        db.session.remove()
        downgrade(revision="0009_phone_writes")
        assert "measure_tally" not in db.inspect(db.engine).get_table_names()
        upgrade()
        assert stored_tallies() == written
        assert latest_walks_match()
        assert {
            (m.audit_id, m.touchpoint_key, m.score, m.walked, m.kept)
            for m in db.session.scalars(select(TouchpointMeasure))
        } == measures
        db.session.remove()
        db.engine.dispose()


def test_walks_of_one_site_submitted_at_once_are_all_counted(world):
    """Three phones submit walks of the same site at the same moment: each recomputation of the shared day, week
    and month waits for the one before (the site's lock), so none loses another's walk."""

    def check(trial):
        bases = []
        for _ in range(3):
            base = world.base(world.audit())
            assert races.answer(base, "answer-time", 30 + trial)(world.client()).status_code == 200
            bases.append(base)
        results = races.race(world, *(races.later(trial * n, races.submit(base)) for n, base in enumerate(bases)))
        assert [r.status for r in results] == [200, 200, 200], results
        with world.app.app_context():
            assert stored_tallies() == expected_tallies()
            assert latest_walks_match()

    races.trials(check, count=5)
