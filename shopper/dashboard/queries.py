"""The dashboard's figures, aggregated in SQL: a fixed number of queries whatever the number of audits.

Every figure starts from the organization's submitted audits in the chosen date range (by submission date), site
and checklist. Touchpoints and items are grouped by their stable keys, so walks of different checklist versions add
up. Touchpoint scores and counts come from the result stored at submission (`audit.result`), read with the
database's own JSON functions (SQLite's json_each, PostgreSQL's json_to_recordset); a touchpoint's promise counts as
kept by the report's rule (the wrap-up's verdict, else no finding in that touchpoint), among the walked touchpoints.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    Select,
    Text,
    and_,
    case,
    cast,
    column,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.orm import aliased

from shopper.accounts.models import User
from shopper.actions.models import Action, ActionStatus
from shopper.audits.models import Answer, Audit, AuditStatus, Finding, TouchpointVisit
from shopper.checklists.items import item_type
from shopper.checklists.models import Checklist, ChecklistVersion
from shopper.checklists.schema import iter_items
from shopper.extensions import db
from shopper.orgs.models import Site

DEFAULT_DAYS = 365
WEEKLY_UP_TO_DAYS = 120
RECURRING_LIMIT = 10
LIST_LIMIT = 8
ACTIVE = [ActionStatus.OPEN.value, ActionStatus.DOING.value]


# Filters --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardFilters:
    """The dashboard's range, site and checklist (read from the query string by forms.DashboardFilterForm)."""

    date_from: date
    date_to: date
    site_id: int | None = None
    checklist_id: int | None = None

    @property
    def unit(self) -> str:
        """Weeks for a range of up to four months, else months."""
        return "week" if (self.date_to - self.date_from).days <= WEEKLY_UP_TO_DAYS else "month"

    @property
    def start(self) -> datetime:
        return datetime.combine(self.date_from, time(), UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.date_to + timedelta(days=1), time(), UTC)

    def as_args(self) -> dict[str, str]:
        args = {"from": self.date_from.isoformat(), "to": self.date_to.isoformat()}
        if self.site_id:
            args["site"] = str(self.site_id)
        if self.checklist_id:
            args["checklist"] = str(self.checklist_id)
        return args


def default_filters(today: date) -> DashboardFilters:
    return DashboardFilters(today - timedelta(days=DEFAULT_DAYS - 1), today)


# Dialect helpers ------------------------------------------------------------------------------------------------


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def bucket(column, unit: str, dialect: str):
    """The first day of the week (Monday) or month a timestamp falls in, as 'YYYY-MM-DD' text."""
    if dialect == "postgresql":
        return func.to_char(func.date_trunc(unit, column), "YYYY-MM-DD")
    if unit == "month":
        return func.strftime("%Y-%m-01", column)
    return func.date(column, "weekday 0", "-6 days")


def _touchpoint_rows(dialect: str):
    """The touchpoints of `audit.result` as rows: (from clause, key, score, answered)."""
    if dialect == "postgresql":
        # json_to_recordset parses each result once; ->> on a json value would parse it again for every field
        rows = (
            func.json_to_recordset(Audit.result["touchpoints"])
            .table_valued(column("key", Text), column("score", Float), column("answered", Integer))
            .render_derived(name="tp", with_types=True)
        )
        return rows, rows.c.key, rows.c.score, rows.c.answered
    rows = func.json_each(Audit.result, "$.touchpoints").table_valued("value").alias("tp")
    value = rows.c.value
    return (
        rows,
        func.json_extract(value, "$.key"),
        func.json_extract(value, "$.score"),
        func.json_extract(value, "$.answered"),
    )


def _number(column, dialect: str):
    """A JSON answer value as a number, or NULL when it is not a number."""
    if dialect == "postgresql":
        return case((func.json_typeof(column) == "number", cast(cast(column, Text), Float)))
    return case((func.json_type(column).in_(["integer", "real"]), func.json_extract(column, "$")))


def conditions(org_id: int, filters: DashboardFilters) -> list:
    """The WHERE clause on `audit` that picks the submitted audits the figures are made of."""
    where = [
        Audit.org_id == org_id,
        Audit.status == AuditStatus.SUBMITTED,
        Audit.submitted_at >= filters.start,
        Audit.submitted_at < filters.end,
    ]
    if filters.site_id:
        where.append(Audit.site_id == filters.site_id)
    if filters.checklist_id:
        where.append(Audit.checklist_id == filters.checklist_id)
    return where


def _scope(query: Select, org_id: int, filters: DashboardFilters) -> Select:
    return query.where(*conditions(org_id, filters))


# Results --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteScore:
    site_id: int
    site: str
    checklist_id: int
    checklist: str
    score: float | None
    previous: float | None
    submitted_at: datetime
    walks: int

    @property
    def delta(self) -> float | None:
        if self.score is None or self.previous is None:
            return None
        return round(self.score - self.previous, 1)


@dataclass(frozen=True)
class Point:
    period: str  # first day of the week or month, 'YYYY-MM-DD'
    value: float | None
    count: int


@dataclass(frozen=True)
class TouchpointTrend:
    key: str
    title: str
    points: tuple[Point, ...]  # average touchpoint score per period
    walked: int
    kept: int


@dataclass(frozen=True)
class MeasureTrend:
    checklist_id: int
    checklist: str
    item_key: str
    prompt: str
    kind: str  # "timer" or "counter"
    target: float
    unit: str
    points: tuple[Point, ...]  # average measured value per period
    within: int  # answers within target, whole range
    count: int


@dataclass(frozen=True)
class Recurring:
    checklist_id: int
    checklist: str
    item_key: str
    prompt: str
    touchpoint: str
    audits: int  # walks that found it
    of_audits: int  # walks of that checklist in the range
    critical: bool
    last_seen: datetime


@dataclass(frozen=True)
class ActionLine:
    id: int
    title: str
    assignee: str
    site: str
    due_on: date | None
    closed_at: datetime | None
    resolution: str
    status: str


@dataclass(frozen=True)
class ActionCounts:
    open: int
    overdue: int
    done: int  # closed as done within the range
    wont_fix: int


@dataclass(frozen=True)
class Dashboard:
    filters: DashboardFilters
    audits: int
    overall: tuple[Point, ...]
    promises: tuple[Point, ...]  # share of walked touchpoints whose promise was kept, per period
    sites: tuple[SiteScore, ...]
    touchpoints: tuple[TouchpointTrend, ...]
    measures: tuple[MeasureTrend, ...]
    recurring: tuple[Recurring, ...]
    actions: ActionCounts
    overdue: tuple[ActionLine, ...]
    improved: tuple[ActionLine, ...]
    periods: tuple[str, ...] = field(default=())

    @property
    def promises_kept(self) -> tuple[int, int]:
        kept = sum(tp.kept for tp in self.touchpoints)
        walked = sum(tp.walked for tp in self.touchpoints)
        return kept, walked


# Queries --------------------------------------------------------------------------------------------------------


def site_scores(org_id: int, filters: DashboardFilters) -> list[SiteScore]:
    """The latest score per site and checklist, with the walk before it and the number of walks."""
    partition = (Audit.site_id, Audit.checklist_id)
    ranked = _scope(
        select(
            Audit.site_id,
            Audit.checklist_id,
            Audit.score,
            Audit.submitted_at,
            func.row_number()
            .over(partition_by=partition, order_by=(Audit.submitted_at.desc(), Audit.id.desc()))
            .label("rank"),
            func.lag(Audit.score).over(partition_by=partition, order_by=(Audit.submitted_at, Audit.id)).label("prev"),
            func.count().over(partition_by=partition).label("walks"),
        ),
        org_id,
        filters,
    ).subquery()
    rows = db.session.execute(
        select(ranked, Site.name.label("site"), Checklist.title.label("checklist"))
        .join(Site, Site.id == ranked.c.site_id)
        .join(Checklist, Checklist.id == ranked.c.checklist_id)
        .where(ranked.c.rank == 1)
        .order_by(Site.name, Checklist.title)
    )
    return [
        SiteScore(r.site_id, r.site, r.checklist_id, r.checklist, r.score, r.prev, r.submitted_at, r.walks)
        for r in rows
    ]


def overall_trend(org_id: int, filters: DashboardFilters, dialect: str) -> list[Point]:
    period = bucket(Audit.submitted_at, filters.unit, dialect).label("period")
    rows = db.session.execute(
        _scope(select(period, func.avg(Audit.score), func.count()), org_id, filters).group_by(period).order_by(period)
    )
    return [Point(r[0], _round(r[1]), r[2]) for r in rows]


def touchpoint_rows(org_id: int, filters: DashboardFilters, dialect: str) -> list[Any]:
    """(period, touchpoint key, average score, scored walks, walked, kept) per period and touchpoint."""
    rows, key, score, answered = _touchpoint_rows(dialect)
    period = bucket(Audit.submitted_at, filters.unit, dialect).label("period")
    visit = aliased(TouchpointVisit)
    walked = or_(answered > 0, visit.effort.is_not(None), visit.promise_kept.is_not(None))
    no_finding = ~exists().where(Finding.audit_id == Audit.id, Finding.touchpoint_key == key)
    kept = case((visit.promise_kept.is_not(None), visit.promise_kept), else_=no_finding)
    query = (
        select(
            period,
            key.label("key"),
            func.avg(score),
            func.count(score),
            func.sum(case((walked, 1), else_=0)),
            func.sum(case((and_(walked, kept), 1), else_=0)),
        )
        .select_from(Audit)
        .join(rows, true())
        .outerjoin(visit, and_(visit.audit_id == Audit.id, visit.touchpoint_key == key))
    )
    return list(db.session.execute(_scope(query, org_id, filters).group_by(period, key).order_by(period)))


def versions_in(org_id: int, filters: DashboardFilters) -> list[ChecklistVersion]:
    """The checklist versions walked in the range, newest first (their definitions name touchpoints and items)."""
    used = _scope(select(Audit.checklist_version_id), org_id, filters)
    return list(
        db.session.scalars(
            select(ChecklistVersion)
            .where(ChecklistVersion.id.in_(used))
            .order_by(ChecklistVersion.checklist_id, ChecklistVersion.number.desc())
        )
    )


@dataclass(frozen=True)
class _Measured:
    checklist: str
    prompt: str
    kind: str
    target: float
    unit: str


def measured_items(versions: Iterable[ChecklistVersion]) -> dict[tuple[int, str], _Measured]:
    """(checklist, item key) -> the timer or counter with a target, as its newest version describes it."""
    found: dict[tuple[int, str], _Measured] = {}
    for version in versions:  # newest first: the first description of a key wins
        for _, item in iter_items(version.definition):
            key = (version.checklist_id, item["key"])
            if key in found:
                continue
            target = item_type(item["type"]).limit(item)
            if target is not None:
                found[key] = _Measured(
                    version.definition["title"], item["prompt"], item["type"], float(target), item.get("unit", "")
                )
    return found


def measure_rows(org_id: int, filters: DashboardFilters, dialect: str, measured: dict) -> list[Any]:
    """(period, checklist, item key, sum of values, answers, answers within target) for the measured items' keys,
    each against its newest target; one query, also when there is nothing to measure."""
    period = bucket(Audit.submitted_at, filters.unit, dialect).label("period")
    value = _number(Answer.value, dialect)
    pairs = list(measured)
    if pairs:
        target = case(
            *(
                (and_(Audit.checklist_id == checklist_id, Answer.item_key == item_key), item.target)
                for (checklist_id, item_key), item in measured.items()
            )
        )
        # a plain IN on the key can use the answer index; pairs of other checklists are dropped by the caller
        wanted = Answer.item_key.in_(sorted({item_key for _, item_key in pairs}))
    else:
        target, wanted = literal(0.0), false()
    query = (
        select(
            period,
            Audit.checklist_id,
            Answer.item_key,
            func.sum(value),
            func.count(value),
            func.sum(case((value <= target, 1), else_=0)),
        )
        .select_from(Audit)
        .join(Answer, Answer.audit_id == Audit.id)
        .where(wanted)
    )
    query = _scope(query, org_id, filters).group_by(period, Audit.checklist_id, Answer.item_key).order_by(period)
    return list(db.session.execute(query))


def recurring_findings(org_id: int, filters: DashboardFilters) -> list[Any]:
    """The items found wanting in most walks, by checklist and item key (a walk has at most one finding per item)."""
    query = (
        select(
            Audit.checklist_id,
            Finding.item_key,
            func.count().label("audits"),
            func.max(case((Finding.critical, 1), else_=0)).label("critical"),
            func.max(Audit.submitted_at).label("last_seen"),
        )
        .select_from(Finding)
        .join(Audit, Audit.id == Finding.audit_id)
    )
    query = _scope(query, org_id, filters).group_by(Audit.checklist_id, Finding.item_key)
    return list(db.session.execute(query.order_by(func.count().desc(), Finding.item_key).limit(RECURRING_LIMIT)))


def _actions_scope(query: Select, org_id: int, filters: DashboardFilters) -> Select:
    query = query.where(Action.org_id == org_id)
    if filters.site_id:
        query = query.where(Audit.site_id == filters.site_id)
    if filters.checklist_id:
        query = query.where(Audit.checklist_id == filters.checklist_id)
    return query


def action_counts(org_id: int, filters: DashboardFilters, today: date) -> ActionCounts:
    """Open and overdue now; done and won't fix closed within the range."""
    active = Action.status.in_(ACTIVE)
    in_range = and_(Action.closed_at >= filters.start, Action.closed_at < filters.end)
    query = select(
        func.sum(case((active, 1), else_=0)),
        func.sum(case((and_(active, Action.due_on < today), 1), else_=0)),
        func.sum(case((and_(Action.status == ActionStatus.DONE, in_range), 1), else_=0)),
        func.sum(case((and_(Action.status == ActionStatus.WONT_FIX, in_range), 1), else_=0)),
    ).join(Audit, Audit.id == Action.audit_id)
    row = db.session.execute(_actions_scope(query, org_id, filters)).one()
    return ActionCounts(*(int(value or 0) for value in row))


def _action_lines(query: Select) -> list[ActionLine]:
    return [
        ActionLine(r.id, r.title, r.assignee or "", r.site, r.due_on, r.closed_at, r.resolution or "", r.status)
        for r in db.session.execute(query)
    ]


def _action_columns() -> Select:
    return (
        select(
            Action.id,
            Action.title,
            User.name.label("assignee"),
            Site.name.label("site"),
            Action.due_on,
            Action.closed_at,
            Action.resolution,
            Action.status,
        )
        .join(Audit, Audit.id == Action.audit_id)
        .join(Site, Site.id == Audit.site_id)
        .outerjoin(User, User.id == Action.assignee_id)
    )


def overdue_actions(org_id: int, filters: DashboardFilters, today: date) -> list[ActionLine]:
    query = _action_columns().where(Action.status.in_(ACTIVE), Action.due_on < today)
    return _action_lines(_actions_scope(query, org_id, filters).order_by(Action.due_on, Action.id).limit(LIST_LIMIT))


def improved(org_id: int, filters: DashboardFilters) -> list[ActionLine]:
    """ "What we improved": actions closed as done within the range, the latest first."""
    query = _action_columns().where(
        Action.status == ActionStatus.DONE, Action.closed_at >= filters.start, Action.closed_at < filters.end
    )
    return _action_lines(
        _actions_scope(query, org_id, filters).order_by(Action.closed_at.desc(), Action.id.desc()).limit(LIST_LIMIT)
    )


# Putting it together --------------------------------------------------------------------------------------------


def _round(value) -> float | None:
    return None if value is None else round(float(value), 1)


def periods_between(filters: DashboardFilters) -> list[str]:
    """Every period of the range, so charts leave gaps where nobody walked."""
    if filters.unit == "week":
        start = filters.date_from - timedelta(days=filters.date_from.weekday())
        step = [start + timedelta(weeks=n) for n in range((filters.date_to - start).days // 7 + 1)]
        return [d.isoformat() for d in step]
    months, year, month = [], filters.date_from.year, filters.date_from.month
    while (year, month) <= (filters.date_to.year, filters.date_to.month):
        months.append(date(year, month, 1).isoformat())
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def load_dashboard(org_id: int, filters: DashboardFilters, today: date) -> Dashboard:
    """Every figure of the dashboard in nine queries, however many audits, answers and actions there are."""
    dialect = _dialect()
    if dialect == "postgresql":
        # The JSON table functions are estimated at 100 rows per audit, which makes PostgreSQL compile these queries
        # with JIT: ~250 ms of compiling for a few tens of milliseconds of work. Off for this transaction only.
        db.session.execute(text("SET LOCAL jit = off"))
    overall = overall_trend(org_id, filters, dialect)
    versions = versions_in(org_id, filters)
    titles: dict[str, str] = {}  # touchpoint key -> title
    order: dict[str, int] = {}  # touchpoint key -> position
    checklist_titles: dict[int, str] = {}
    items: dict[tuple[int, str], tuple[str, str]] = {}  # (checklist, item key) -> (prompt, touchpoint title)
    for version in versions:  # newest first: the newest wording and order of a key win
        checklist_titles.setdefault(version.checklist_id, version.definition["title"])
        for position, touchpoint in enumerate(version.definition["touchpoints"]):
            titles.setdefault(touchpoint["key"], touchpoint["title"])
            order.setdefault(touchpoint["key"], position)
            for item in touchpoint["items"]:
                items.setdefault((version.checklist_id, item["key"]), (item["prompt"], touchpoint["title"]))

    by_touchpoint: dict[str, list] = {}
    promise_totals: dict[str, list[int]] = {}
    for period, key, avg, scored, walked, kept in touchpoint_rows(org_id, filters, dialect):
        by_touchpoint.setdefault(key, []).append((period, avg, scored, int(walked or 0), int(kept or 0)))
        totals = promise_totals.setdefault(period, [0, 0])
        totals[0] += int(kept or 0)
        totals[1] += int(walked or 0)
    touchpoints = tuple(
        TouchpointTrend(
            key=key,
            title=titles.get(key, key),
            points=tuple(Point(period, _round(avg), scored) for period, avg, scored, _, _ in rows),
            walked=sum(r[3] for r in rows),
            kept=sum(r[4] for r in rows),
        )
        for key, rows in sorted(by_touchpoint.items(), key=lambda kv: (order.get(kv[0], 999), kv[0]))
    )
    promises = tuple(
        Point(period, _round(100 * kept / walked) if walked else None, walked)
        for period, (kept, walked) in sorted(promise_totals.items())
    )

    measured = measured_items(versions)
    series: dict[tuple[int, str], list[Point]] = {}
    within: dict[tuple[int, str], int] = {}
    for period, checklist_id, item_key, total, count, met in measure_rows(org_id, filters, dialect, measured):
        if (checklist_id, item_key) not in measured:
            continue
        average = _round(float(total) / count) if count else None
        series.setdefault((checklist_id, item_key), []).append(Point(period, average, count))
        within[(checklist_id, item_key)] = within.get((checklist_id, item_key), 0) + int(met or 0)
    measures = tuple(
        MeasureTrend(
            checklist_id=key[0],
            checklist=item.checklist,
            item_key=key[1],
            prompt=item.prompt,
            kind=item.kind,
            target=item.target,
            unit=item.unit,
            points=tuple(series[key]),
            within=within.get(key, 0),
            count=sum(point.count for point in series[key]),
        )
        for key, item in measured.items()
        if key in series
    )

    sites = site_scores(org_id, filters)
    walks: dict[int, int] = {}
    for site in sites:
        walks[site.checklist_id] = walks.get(site.checklist_id, 0) + site.walks
    recurring = tuple(
        Recurring(
            checklist_id=r.checklist_id,
            checklist=checklist_titles.get(r.checklist_id, ""),
            item_key=r.item_key,
            prompt=items.get((r.checklist_id, r.item_key), (r.item_key, ""))[0],
            touchpoint=items.get((r.checklist_id, r.item_key), (r.item_key, ""))[1],
            audits=r.audits,
            of_audits=walks.get(r.checklist_id, r.audits),
            critical=bool(r.critical),
            last_seen=r.last_seen,
        )
        for r in recurring_findings(org_id, filters)
    )
    return Dashboard(
        filters=filters,
        audits=sum(walks.values()),
        overall=tuple(overall),
        promises=promises,
        sites=tuple(sites),
        touchpoints=touchpoints,
        measures=measures,
        recurring=recurring,
        actions=action_counts(org_id, filters, today),
        overdue=tuple(overdue_actions(org_id, filters, today)),
        improved=tuple(improved(org_id, filters)),
        periods=tuple(periods_between(filters)),
    )
