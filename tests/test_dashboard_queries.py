"""The dashboard's figures, aggregated in SQL, on real walks across two checklist versions and two sites."""

import copy
from datetime import UTC, date, datetime

import pytest
from werkzeug.datastructures import MultiDict

from shopper.actions.models import Action
from shopper.checklists import service as checklists
from shopper.checklists.models import Checklist
from shopper.dashboard.forms import DashboardFilterForm
from shopper.dashboard.queries import DashboardFilters, default_filters, load_dashboard, periods_between
from shopper.extensions import db
from shopper.orgs.models import Role
from tests.factories import SMALL_CHECKLIST

TODAY = date(2026, 6, 15)


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=10, tzinfo=UTC)


def read_filters(args: dict, sites: set[int], checklists: set[int]):
    return DashboardFilterForm(MultiDict(args), sites=sites, checklists=checklists, today=TODAY).read()


def test_nonsense_filters_fall_back_to_the_defaults_with_a_message(app):
    with app.app_context():
        filters, problems = read_filters(
            {"from": "yesterday", "to": "2026-13-45", "site": "banana", "checklist": "7"}, sites={1, 2}, checklists={3}
        )
        assert filters == default_filters(TODAY)
        assert len(problems) == 4 and "not a date like 2026-06-15" in problems[0] and "Unknown site" in problems[2]
        backwards, problems = read_filters({"from": "2026-05-01", "to": "2026-01-01"}, sites=set(), checklists=set())
        assert backwards == default_filters(TODAY) and "ends before it starts" in problems[0]
        chosen, problems = read_filters(
            {"from": "2026-01-01", "to": "2026-03-31", "site": "2", "checklist": "3"}, sites={2}, checklists={3}
        )
    assert problems == [] and (chosen.site_id, chosen.checklist_id, chosen.unit) == (2, 3, "week")
    assert default_filters(TODAY).unit == "month" and (TODAY - default_filters(TODAY).date_from).days == 364


def test_periods_cover_the_whole_range():
    weeks = periods_between(DashboardFilters(date(2026, 1, 7), date(2026, 2, 3)))
    assert weeks == ["2026-01-05", "2026-01-12", "2026-01-19", "2026-01-26", "2026-02-02"]
    months = periods_between(DashboardFilters(date(2025, 11, 20), date(2026, 6, 3)))
    assert months[:3] == ["2025-11-01", "2025-12-01", "2026-01-01"] and months[-1] == "2026-06-01" and len(months) == 8


@pytest.fixture
def walks(app, make):
    """Four walks: v1 in January and February at Harbour Street, v2 (an email touchpoint added) in March at both
    sites, and one walk of another organization that must never count."""
    org = make.org()
    owner = make.member(org, Role.OWNER)
    auditor = make.member(org, Role.AUDITOR)
    checklist = make.checklist(org, by=owner)
    harbour, river = make.site(org, "Harbour Street"), make.site(org, "Riverside")
    bad = {"answer-time": 240, "transfers": 3, "resolved": ("no", "Write in, they said")}
    good = {"answer-time": 30, "transfers": 0, "resolved": ("yes", "Sorted"), "tone": 5}
    january = make.submitted_audit(org, auditor, bad, checklist=checklist, site=harbour, submitted_at=at("2026-01-10"))
    february = make.submitted_audit(
        org, auditor, {**bad, "answer-time": 120}, checklist=checklist, site=harbour, submitted_at=at("2026-02-10")
    )
    v2 = copy.deepcopy(SMALL_CHECKLIST)
    v2["touchpoints"].append(
        {
            "key": "email",
            "title": "Write to support",
            "channel": "email",
            "items": [{"key": "reply-time", "type": "timer", "prompt": "Time to a reply", "target_max_s": 3600}],
        }
    )
    with app.app_context():
        row = db.session.get(Checklist, checklist.id)
        checklists.save_draft(row, v2)
        checklists.publish(row, owner.id, at("2026-02-20"))
        db.session.commit()
    march = make.submitted_audit(
        org,
        auditor,
        {**good, "reply-time": 7200},
        checklist=checklist,
        site=harbour,
        submitted_at=at("2026-03-10"),
        verdicts={"email": True},
    )
    make.submitted_audit(org, auditor, good, checklist=checklist, site=river, submitted_at=at("2026-03-12"))
    stranger = make.org()
    make.submitted_audit(stranger, make.member(stranger, Role.OWNER), bad, submitted_at=at("2026-03-01"))
    # actions: one overdue, one done in range, one won't fix
    late = make.action(january, "transfers", by=owner, assignee=auditor, due_on=date(2026, 2, 1), title="One line")
    done = make.action(february, "answer-time", by=owner, title="Rota before 9")
    shelved = make.action(february, "resolved", by=owner, title="Call backs")
    with app.app_context():
        db.session.get(Action, done.id).status = "done"
        db.session.get(Action, done.id).closed_at = at("2026-03-01")
        db.session.get(Action, done.id).resolution = "Two people on the line from 8:30"
        db.session.get(Action, shelved.id).status = "wont_fix"
        db.session.get(Action, shelved.id).closed_at = at("2026-03-02")
        db.session.commit()
    return {
        "org": org,
        "checklist": checklist,
        "harbour": harbour,
        "river": river,
        "late": late,
        "done": done,
        "march": march,
    }


def test_the_dashboard_adds_up_walks_across_versions_sites_and_months(app, walks):
    with app.app_context():
        board = load_dashboard(walks["org"].id, DashboardFilters(date(2026, 1, 1), TODAY), TODAY)
    assert board.audits == 4
    assert [(p.period, p.value, p.count) for p in board.overall] == [
        ("2026-01-01", 0.0, 1),
        ("2026-02-01", 0.0, 1),
        ("2026-03-01", 91.7, 2),  # 100 at Riverside, 83.3 at Harbour Street (the email reply was late)
    ]
    billing, email = board.touchpoints
    assert billing.key == "billing-line" and [p.value for p in billing.points] == [0.0, 0.0, 100.0]
    assert (email.title, [(p.period, p.value) for p in email.points]) == ("Write to support", [("2026-03-01", 0.0)])
    # promises: billing kept in March at both sites (no finding); email kept by the auditor's word despite its finding
    assert (billing.walked, billing.kept, email.walked, email.kept) == (4, 2, 1, 1)
    assert [(p.period, p.value) for p in board.promises] == [
        ("2026-01-01", 0.0),
        ("2026-02-01", 0.0),
        ("2026-03-01", 100.0),
    ]
    assert board.promises_kept == (3, 5)
    waits = {m.item_key: m for m in board.measures}
    assert [(p.period, p.value) for p in waits["answer-time"].points] == [
        ("2026-01-01", 240.0),
        ("2026-02-01", 120.0),
        ("2026-03-01", 30.0),
    ]
    assert (waits["answer-time"].target, waits["answer-time"].within, waits["answer-time"].count) == (60.0, 2, 4)
    assert (waits["transfers"].kind, waits["transfers"].within) == ("counter", 2)
    assert (waits["reply-time"].within, waits["reply-time"].count) == (0, 1)
    sites = {(s.site, s.score, s.previous, s.walks) for s in board.sites}
    assert sites == {("Harbour Street", 83.3, 0.0, 3), ("Riverside", 100.0, None, 1)}
    top = board.recurring[0]
    assert (top.item_key, top.audits, top.of_audits) in {("answer-time", 2, 4), ("transfers", 2, 4), ("resolved", 2, 4)}
    assert {r.item_key for r in board.recurring} == {"answer-time", "transfers", "resolved", "reply-time"}
    assert (board.actions.open, board.actions.overdue, board.actions.done, board.actions.wont_fix) == (1, 1, 1, 1)
    assert [a.title for a in board.overdue] == ["One line"]
    assert [(a.title, a.resolution) for a in board.improved] == [("Rota before 9", "Two people on the line from 8:30")]


def test_filters_narrow_every_figure(app, walks):
    with app.app_context():
        river = load_dashboard(
            walks["org"].id, DashboardFilters(date(2026, 1, 1), TODAY, site_id=walks["river"].id), TODAY
        )
        march = load_dashboard(walks["org"].id, DashboardFilters(date(2026, 3, 1), date(2026, 3, 31)), TODAY)
        nothing = load_dashboard(walks["org"].id, DashboardFilters(date(2025, 1, 1), date(2025, 3, 1)), TODAY)
    assert river.audits == 1 and [s.site for s in river.sites] == ["Riverside"]
    assert river.actions.open == 0 and river.improved == ()  # the actions belong to Harbour Street's walks
    assert march.audits == 2 and march.filters.unit == "week"
    assert [p.period for p in march.overall] == ["2026-03-09"]  # the Monday of that week
    assert nothing.audits == 0 and nothing.touchpoints == () and nothing.measures == () and nothing.recurring == ()
    assert nothing.actions.open == 1  # open and overdue are "now", whatever the dates
