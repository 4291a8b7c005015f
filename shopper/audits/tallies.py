"""Measures written at submission, and the tallies the dashboard reads instead of every answer in its range.

On submit, an audit's measures (measures.py) are written, then every tally row of its site and checklist for the
day, week and month it falls in is recomputed exactly from the measures of all the submitted walks in that period;
a reopen deletes the measures and recomputes the same periods without it. Recomputing (rather than adding one
walk's figures) keeps maxima and removals exact; it runs under a lock on the site's row (PostgreSQL; SQLite's write
lock already serialises writers), so two walks of one site submitted at once cannot lose each other's counts.
Publishing a version that changes targets rebuilds the checklist's item tallies: within target is judged against
the newest target. Every function takes the connection to write on, so the migration's backfill can use them too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Date,
    DateTime,
    and_,
    case,
    cast,
    delete,
    false,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement

from shopper import events
from shopper.audits.measures import measures_of
from shopper.audits.models import (
    Answer,
    Audit,
    AuditStatus,
    Finding,
    ItemMeasure,
    LatestWalks,
    MeasureTally,
    TallyKind,
    TouchpointMeasure,
    TouchpointVisit,
)
from shopper.checklists.items import item_type
from shopper.checklists.models import ChecklistVersion
from shopper.checklists.schema import iter_items
from shopper.extensions import db
from shopper.orgs.models import Site

GRAINS = ("day", "week", "month")
BATCH = 500
RECENT_WALKS = 6  # kept per organization and checklist in latest_walks: the portfolio's trend

audit_t = Audit.__table__
tally_t = MeasureTally.__table__
tp_t = TouchpointMeasure.__table__
item_t = ItemMeasure.__table__


# Periods --------------------------------------------------------------------------------------------------------


def period_start(day: date, grain: str) -> date:
    """The first day of the day, week (Monday) or month that `day` falls in."""
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


def period_end(start: date, grain: str) -> date:
    """The first day after the period that starts on `start`."""
    if grain == "week":
        return start + timedelta(weeks=1)
    if grain == "month":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=1)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _period_sql(column, grain: str, dialect: str):
    """The first day of the period a timestamp falls in, as the database stores a date."""
    if dialect == "postgresql":
        return cast(func.date_trunc(grain, column), Date)
    if grain == "month":
        return func.strftime("%Y-%m-01", column)
    if grain == "week":
        return func.date(column, "weekday 0", "-6 days")
    return func.date(column)


# Targets --------------------------------------------------------------------------------------------------------


def newest_targets(definitions: Iterable[dict[str, Any]]) -> dict[str, float]:
    """Item key -> the most a wait or count may be, from the newest definition (given first) that sets one."""
    found: dict[str, float] = {}
    for definition in definitions:
        for _, item in iter_items(definition):
            target = item_type(item["type"]).limit(item)
            if target is not None:
                found.setdefault(item["key"], float(target))
    return found


def checklist_targets(conn: Connection, checklist_id: int) -> dict[str, float]:
    versions = ChecklistVersion.__table__.c
    definitions = conn.scalars(
        select(versions.definition).where(versions.checklist_id == checklist_id).order_by(versions.number.desc())
    )
    return newest_targets(definitions)


# Tallying -------------------------------------------------------------------------------------------------------


def _selects(grain: str, where: list, targets: Mapping[str, float], dialect: str, kinds: Iterable[str]) -> list:
    """One INSERT ... SELECT source per kind: the tally rows of `grain` for the submitted audits `where` picks."""
    a = audit_t.c
    period = _period_sql(a.submitted_at, grain, dialect)
    where = [a.status == AuditStatus.SUBMITTED.value, *where]
    head = (a.org_id, a.site_id, a.checklist_id, literal(grain), period)
    group = (a.org_id, a.site_id, a.checklist_id, period)
    none = cast(null(), DateTime)
    selects = []
    if TallyKind.WALKS in kinds:
        selects.append(
            select(
                *head,
                literal(TallyKind.WALKS.value),
                literal(""),
                func.count(),
                func.count(a.score),
                func.coalesce(func.sum(a.score), 0.0),
                literal(0),
                func.max(a.submitted_at),
            )
            .where(*where)
            .group_by(*group)
        )
    if TallyKind.TOUCHPOINTS in kinds:
        t = tp_t.c
        selects.append(
            select(
                *head,
                literal(TallyKind.TOUCHPOINTS.value),
                t.touchpoint_key,
                func.sum(case((t.walked, 1), else_=0)),
                func.count(t.score),
                func.coalesce(func.sum(t.score), 0.0),
                func.sum(case((t.kept, 1), else_=0)),
                none,
            )
            .select_from(audit_t.join(tp_t, t.audit_id == a.id))
            .where(*where)
            .group_by(*group, t.touchpoint_key)
        )
    if TallyKind.ITEMS in kinds:
        i = item_t.c
        target: ColumnElement[Any]
        if targets:
            target = case(*((i.item_key == key, value) for key, value in targets.items()))
            wanted: ColumnElement[bool] = i.item_key.in_(sorted(targets))
        else:
            target, wanted = literal(0.0), false()
        selects.append(
            select(
                *head,
                literal(TallyKind.ITEMS.value),
                i.item_key,
                func.count(),
                func.count(),
                func.sum(i.value),
                func.sum(case((i.value <= target, 1), else_=0)),
                none,
            )
            .select_from(audit_t.join(item_t, i.audit_id == a.id))
            .where(*where, wanted)
            .group_by(*group, i.item_key)
        )
    if TallyKind.FINDINGS in kinds:
        f = Finding.__table__.c
        selects.append(
            select(
                *head,
                literal(TallyKind.FINDINGS.value),
                f.item_key,
                func.count(),
                literal(0),
                literal(0.0),
                func.sum(case((f.critical, 1), else_=0)),
                func.max(a.submitted_at),
            )
            .select_from(audit_t.join(Finding.__table__, f.audit_id == a.id))
            .where(*where)
            .group_by(*group, f.item_key)
        )
    return selects


_COLUMNS = ("org_id", "site_id", "checklist_id", "grain", "period", "kind", "key", "n", "scored", "total", "kept")


def _insert(conn: Connection, selects: list) -> None:
    if selects:
        conn.execute(insert(tally_t).from_select([*_COLUMNS, "last_at"], union_all(*selects)))


def _lock_sites(conn: Connection, site_ids: Iterable[int]) -> None:
    """Lock the sites' rows until the commit, in id order (PostgreSQL; a no-op on SQLite, already serialised).

    FOR NO KEY UPDATE, which excludes itself but not the key-share locks foreign-key checks take: a submit has
    already written rows that refer to the site by then, and two submits each holding such a lock while asking
    for FOR UPDATE deadlocked."""
    ids = sorted(set(site_ids))
    if ids and conn.dialect.name == "postgresql":
        sites = Site.__table__.c
        locking = select(sites.id).where(sites.id.in_(ids)).order_by(sites.id).with_for_update(key_share=True)
        conn.execute(locking).all()


def _any_period(periods: list[tuple[str, date]]) -> ColumnElement[bool]:
    return or_(*(and_(tally_t.c.grain == grain, tally_t.c.period == start) for grain, start in periods))


def retally(conn: Connection, org_id: int, site_id: int, checklist_id: int, at: datetime) -> None:
    """Recompute every tally row of one site and checklist for the day, week and month containing `at`."""
    _lock_sites(conn, [site_id])
    a, t = audit_t.c, tally_t.c
    day = at.astimezone(UTC).date()
    periods = [(grain, period_start(day, grain)) for grain in GRAINS]
    conn.execute(
        delete(tally_t).where(
            t.org_id == org_id, t.site_id == site_id, t.checklist_id == checklist_id, _any_period(periods)
        )
    )
    targets = checklist_targets(conn, checklist_id)
    selects = []
    for grain, start in periods:
        where = [
            a.org_id == org_id,
            a.site_id == site_id,
            a.checklist_id == checklist_id,
            a.submitted_at >= _midnight(start),
            a.submitted_at < _midnight(period_end(start, grain)),
        ]
        selects += _selects(grain, where, targets, conn.dialect.name, list(TallyKind))
    _insert(conn, selects)


def rebuild(conn: Connection, checklist_id: int, kinds: Iterable[str] = tuple(TallyKind)) -> None:
    """Recompute the checklist's tallies of `kinds` from scratch, at every site of every organization that walks
    it (a consultancy's checklist is walked by its clients)."""
    kinds = list(kinds)
    a, t = audit_t.c, tally_t.c
    _lock_sites(conn, conn.scalars(select(a.site_id).distinct().where(a.checklist_id == checklist_id)))
    conn.execute(delete(tally_t).where(t.checklist_id == checklist_id, t.kind.in_(kinds)))
    targets = checklist_targets(conn, checklist_id)
    where = [a.checklist_id == checklist_id]
    _insert(conn, [s for grain in GRAINS for s in _selects(grain, where, targets, conn.dialect.name, kinds)])


def refresh_latest(conn: Connection, org_id: int, checklist_id: int) -> None:
    """Rewrite the organization's latest walks of the checklist (none left: no row)."""
    a, latest = audit_t.c, LatestWalks.__table__
    walks = conn.execute(
        select(a.id, a.submitted_at, a.score)
        .where(a.org_id == org_id, a.checklist_id == checklist_id, a.status == AuditStatus.SUBMITTED.value)
        .order_by(a.submitted_at.desc(), a.id.desc())
        .limit(RECENT_WALKS)
    ).all()
    conn.execute(delete(latest).where(latest.c.org_id == org_id, latest.c.checklist_id == checklist_id))
    if walks:
        conn.execute(
            insert(latest).values(
                org_id=org_id,
                checklist_id=checklist_id,
                audit_id=walks[0].id,
                submitted_at=walks[0].submitted_at,
                recent=[[w.id, w.submitted_at.isoformat(), w.score] for w in walks],
            )
        )


# Per-audit measures ---------------------------------------------------------------------------------------------


def _measure_rows(conn: Connection, audits: Mapping[int, Mapping[str, Any] | None]) -> tuple[list, list]:
    """The touchpoint and item measure rows of the audits given as id -> stored result, read in three queries."""
    ids = list(audits)
    verdicts: dict[int, dict[str, tuple[int | None, bool | None]]] = {i: {} for i in ids}
    v = TouchpointVisit.__table__.c
    for row in conn.execute(select(v.audit_id, v.touchpoint_key, v.effort, v.promise_kept).where(v.audit_id.in_(ids))):
        verdicts[row.audit_id][row.touchpoint_key] = (row.effort, row.promise_kept)
    found: dict[int, list[str]] = {i: [] for i in ids}
    f = Finding.__table__.c
    for row in conn.execute(select(f.audit_id, f.touchpoint_key).where(f.audit_id.in_(ids))):
        found[row.audit_id].append(row.touchpoint_key)
    answers: dict[int, dict[str, Any]] = {i: {} for i in ids}
    w = Answer.__table__.c
    for row in conn.execute(select(w.audit_id, w.item_key, w.value).where(w.audit_id.in_(ids))):
        answers[row.audit_id][row.item_key] = row.value
    touchpoints, items = [], []
    for audit_id, result in audits.items():
        measures = measures_of(result, verdicts[audit_id], found[audit_id], answers[audit_id])
        touchpoints += [
            dict(audit_id=audit_id, touchpoint_key=m.key, score=m.score, walked=m.walked, kept=m.kept)
            for m in measures.touchpoints
        ]
        items += [dict(audit_id=audit_id, item_key=key, value=value) for key, value in measures.items]
    return touchpoints, items


def _write_rows(conn: Connection, touchpoints: list, items: list) -> None:
    if touchpoints:
        conn.execute(insert(tp_t), touchpoints)
    if items:
        conn.execute(insert(item_t), items)


def _delete_measures(conn: Connection, audit_id: int) -> None:
    conn.execute(delete(tp_t).where(tp_t.c.audit_id == audit_id))
    conn.execute(delete(item_t).where(item_t.c.audit_id == audit_id))


def write_measures(audit: Audit) -> None:
    """Write a just-submitted audit's measures and recompute its periods' tallies (the audit row is flushed)."""
    db.session.flush()
    conn = db.session.connection()
    _delete_measures(conn, audit.id)
    _write_rows(conn, *_measure_rows(conn, {audit.id: audit.result}))
    assert audit.submitted_at is not None
    retally(conn, audit.org_id, audit.site_id, audit.checklist_id, audit.submitted_at)
    refresh_latest(conn, audit.org_id, audit.checklist_id)


def clear_measures(audit: Audit, submitted_at: datetime) -> None:
    """Delete a reopened audit's measures and recompute the tallies of the periods it was submitted in."""
    db.session.flush()
    conn = db.session.connection()
    _delete_measures(conn, audit.id)
    retally(conn, audit.org_id, audit.site_id, audit.checklist_id, submitted_at)
    refresh_latest(conn, audit.org_id, audit.checklist_id)


def backfill(conn: Connection) -> None:
    """Write the measures of every submitted audit, rebuild every tally and every organization's latest walks (the
    migration that adds them; benches after a bulk load)."""
    a = audit_t.c
    conn.execute(delete(tp_t))
    conn.execute(delete(item_t))
    conn.execute(delete(tally_t))
    conn.execute(delete(LatestWalks.__table__))
    last = 0
    while True:
        batch = conn.execute(
            select(a.id, a.result)
            .where(a.status == AuditStatus.SUBMITTED.value, a.id > last)
            .order_by(a.id)
            .limit(BATCH)
        ).all()
        if not batch:
            break
        _write_rows(conn, *_measure_rows(conn, {row.id: row.result for row in batch}))
        last = batch[-1].id
    walked = conn.execute(
        select(a.org_id, a.checklist_id).distinct().where(a.status == AuditStatus.SUBMITTED.value)
    ).all()
    for checklist_id in sorted({row.checklist_id for row in walked}):
        rebuild(conn, checklist_id)
    for row in walked:
        refresh_latest(conn, row.org_id, row.checklist_id)


@events.checklist_published.connect
def _on_published(_sender, *, checklist_id: int, previous: dict[str, Any] | None, definition: dict[str, Any]):
    """A version that changes a target changes which past answers were within it."""
    if previous is not None and newest_targets([previous]) != newest_targets([definition]):
        db.session.flush()
        rebuild(db.session.connection(), checklist_id, [TallyKind.ITEMS])
