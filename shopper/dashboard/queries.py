"""The dashboard's figures, read from the tallies written at submission: a fixed number of queries, and a fixed
amount of data read, whatever the number of audits.

Every figure is made of the organization's submitted walks in the chosen date range (by submission date, UTC), site
and checklist. Rather than every answer in the range, it reads the tallies of shopper.audits.tallies (per site,
checklist and day, week or month), picking the coarsest that tile the range: whole months (or weeks) inside it,
weeks and days at its edges, so a year is some twenty tally periods. Touchpoints and items are grouped by their
stable keys, so walks of different checklist versions add up; a touchpoint's promise counts as kept by the
report's rule (the wrap-up's verdict, else no finding in that touchpoint), among the walked touchpoints; a wait or
count is within target against the checklist's newest target.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    case,
    func,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import aliased

from shopper.accounts.models import User
from shopper.actions.models import Action, ActionStatus
from shopper.audits.models import Audit, AuditStatus, MeasureTally, TallyKind
from shopper.audits.tallies import period_end
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


def tiles(filters: DashboardFilters) -> dict[str, list[date]]:
    """Grain -> the starts of the tally periods that exactly tile the range, each inside one chart period: whole
    months (for a monthly chart), whole weeks within one chart period, and days at the edges."""
    found: dict[str, list[date]] = {"day": [], "week": [], "month": []}
    day = filters.date_from
    while day <= filters.date_to:
        month_end = period_end(day, "month") - timedelta(days=1)
        week_end = day + timedelta(days=6)
        if filters.unit == "month" and day.day == 1 and month_end <= filters.date_to:
            grain, last = "month", month_end
        elif (
            day.weekday() == 0
            and week_end <= filters.date_to
            and (filters.unit == "week" or week_end.month == day.month)
        ):
            grain, last = "week", week_end
        else:
            grain, last = "day", day
        found[grain].append(day)
        day = last + timedelta(days=1)
    return found


def _tallies(query: Select, org_id: int, filters: DashboardFilters, kind: TallyKind) -> Select:
    """`query` restricted to the organization's tallies of `kind` that tile the range, site and checklist."""
    tiled = [
        and_(MeasureTally.grain == grain, MeasureTally.period.in_(starts))
        for grain, starts in tiles(filters).items()
        if starts
    ]
    query = query.where(MeasureTally.org_id == org_id, MeasureTally.kind == kind.value, or_(*tiled))
    if filters.site_id:
        query = query.where(MeasureTally.site_id == filters.site_id)
    if filters.checklist_id:
        query = query.where(MeasureTally.checklist_id == filters.checklist_id)
    return query


def _nth_latest(pairs, org_id: int, filters: DashboardFilters, offset: int):
    """The id of a site's `offset`-th latest walk of a checklist in the range (0: the latest), by an index seek."""
    walk = aliased(Audit)
    return (
        select(walk.id)
        .where(
            walk.site_id == pairs.c.site_id,
            walk.checklist_id == pairs.c.checklist_id,
            walk.status == AuditStatus.SUBMITTED,
            walk.org_id == org_id,
            walk.submitted_at >= filters.start,
            walk.submitted_at < filters.end,
        )
        .order_by(walk.submitted_at.desc(), walk.id.desc())
        .limit(1)
        .offset(offset)
        .scalar_subquery()
    )


def site_scores(org_id: int, filters: DashboardFilters) -> list[SiteScore]:
    """The latest score per site and checklist, with the walk before it and the number of walks."""
    pairs = (
        _tallies(
            select(MeasureTally.site_id, MeasureTally.checklist_id, func.sum(MeasureTally.n).label("walks")),
            org_id,
            filters,
            TallyKind.WALKS,
        )
        .group_by(MeasureTally.site_id, MeasureTally.checklist_id)
        .subquery()
    )
    ranked = select(
        pairs,
        _nth_latest(pairs, org_id, filters, 0).label("latest_id"),
        _nth_latest(pairs, org_id, filters, 1).label("previous_id"),
    ).subquery()
    latest, previous = aliased(Audit), aliased(Audit)
    rows = db.session.execute(
        select(
            ranked.c.site_id,
            ranked.c.checklist_id,
            ranked.c.walks,
            latest.score,
            latest.submitted_at,
            previous.score.label("prev"),
            Site.name.label("site"),
            Checklist.title.label("checklist"),
        )
        .join(latest, latest.id == ranked.c.latest_id)
        .outerjoin(previous, previous.id == ranked.c.previous_id)
        .join(Site, Site.id == ranked.c.site_id)
        .join(Checklist, Checklist.id == ranked.c.checklist_id)
        .order_by(Site.name, Checklist.title)
    )
    return [
        SiteScore(r.site_id, r.site, r.checklist_id, r.checklist, r.score, r.prev, r.submitted_at, int(r.walks))
        for r in rows
    ]


def _period(filters: DashboardFilters, dialect: str):
    return bucket(MeasureTally.period, filters.unit, dialect).label("period")


def overall_trend(org_id: int, filters: DashboardFilters, dialect: str) -> list[Point]:
    """The average score and the number of walks per chart period."""
    period = _period(filters, dialect)
    t = MeasureTally
    query = select(period, func.sum(t.total), func.sum(t.scored), func.sum(t.n))
    rows = db.session.execute(_tallies(query, org_id, filters, TallyKind.WALKS).group_by(period).order_by(period))
    return [Point(r[0], _round(r[1] / r[2]) if r[2] else None, int(r[3])) for r in rows]


def touchpoint_rows(org_id: int, filters: DashboardFilters, dialect: str) -> list[Any]:
    """(period, touchpoint key, average score, scored walks, walked, kept) per chart period and touchpoint."""
    period = _period(filters, dialect)
    t = MeasureTally
    query = select(
        period,
        t.key,
        case((func.sum(t.scored) > 0, func.sum(t.total) / func.sum(t.scored))),
        func.sum(t.scored),
        func.sum(t.n),
        func.sum(t.kept),
    )
    query = _tallies(query, org_id, filters, TallyKind.TOUCHPOINTS).group_by(period, t.key).order_by(period)
    return list(db.session.execute(query))


def checklist_versions(org_id: int, filters: DashboardFilters) -> list[ChecklistVersion]:
    """Every version of the checklists walked in the range, newest first: the newest wording of a key wins, and
    a wait is judged against the newest target, as the tallies are."""
    walked = _tallies(select(MeasureTally.checklist_id), org_id, filters, TallyKind.WALKS)
    return list(
        db.session.scalars(
            select(ChecklistVersion)
            .where(ChecklistVersion.checklist_id.in_(walked))
            .order_by(ChecklistVersion.checklist_id, ChecklistVersion.number.desc())
        )
    )


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


def measure_rows(org_id: int, filters: DashboardFilters, dialect: str) -> list[Any]:
    """(period, checklist, item key, sum of values, answers, answers within target) for the measured items."""
    period = _period(filters, dialect)
    t = MeasureTally
    query = select(period, t.checklist_id, t.key, func.sum(t.total), func.sum(t.n), func.sum(t.kept))
    query = _tallies(query, org_id, filters, TallyKind.ITEMS).group_by(period, t.checklist_id, t.key)
    return list(db.session.execute(query.order_by(period)))


def recurring_findings(org_id: int, filters: DashboardFilters) -> list[Any]:
    """The items found wanting in most walks, by checklist and item key (a walk has at most one finding per item)."""
    t = MeasureTally
    audits = func.sum(t.n)
    query = select(
        t.checklist_id,
        t.key.label("item_key"),
        audits.label("audits"),
        func.max(t.kept).label("critical"),
        func.max(t.last_at).label("last_seen"),
    )
    query = _tallies(query, org_id, filters, TallyKind.FINDINGS).group_by(t.checklist_id, t.key)
    return list(db.session.execute(query.order_by(audits.desc(), t.key).limit(RECURRING_LIMIT)))


def _actions_scope(query: Select, org_id: int, filters: DashboardFilters) -> Select:
    """`query` on the organization's actions; joined to their audits only to narrow by site or checklist."""
    query = query.where(Action.org_id == org_id)
    if filters.site_id or filters.checklist_id:
        query = query.join(Audit, Audit.id == Action.audit_id)
    if filters.site_id:
        query = query.where(Audit.site_id == filters.site_id)
    if filters.checklist_id:
        query = query.where(Audit.checklist_id == filters.checklist_id)
    return query


def action_counts(org_id: int, filters: DashboardFilters, today: date) -> ActionCounts:
    """Open and overdue now; done and won't fix closed within the range. Each count is a range of an index on
    (organization, status, due date or closing date), read without the table when no site or checklist narrows it."""
    in_range = and_(Action.closed_at >= filters.start, Action.closed_at < filters.end)

    def count(*where) -> Any:
        return _actions_scope(select(func.count()).select_from(Action).where(*where), org_id, filters).scalar_subquery()

    row = db.session.execute(
        select(
            count(Action.status.in_(ACTIVE)),
            count(Action.status.in_(ACTIVE), Action.due_on < today),
            count(Action.status == ActionStatus.DONE, in_range),
            count(Action.status == ActionStatus.WONT_FIX, in_range),
        )
    ).one()
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
    """The longest overdue open or in-progress actions: the first few of each status, read in the order of the
    (organization, status, due date) index, then merged; never a sort of every overdue action."""
    firsts = []
    for status in ACTIVE:
        first = _actions_scope(
            select(Action.id).where(Action.status == status, Action.due_on < today), org_id, filters
        ).order_by(Action.due_on, Action.id)
        firsts.append(select(first.limit(LIST_LIMIT).subquery().c.id))
    query = _action_columns().where(Action.id.in_(union_all(*firsts)))
    return _action_lines(query.order_by(Action.due_on, Action.id).limit(LIST_LIMIT))


def improved(org_id: int, filters: DashboardFilters) -> list[ActionLine]:
    """ "What we improved": actions closed as done within the range, the latest first."""
    latest = _actions_scope(
        select(Action.id).where(
            Action.status == ActionStatus.DONE, Action.closed_at >= filters.start, Action.closed_at < filters.end
        ),
        org_id,
        filters,
    ).order_by(Action.closed_at.desc(), Action.id.desc())
    query = _action_columns().where(Action.id.in_(select(latest.limit(LIST_LIMIT).subquery().c.id)))
    return _action_lines(query.order_by(Action.closed_at.desc(), Action.id.desc()))


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
    overall = overall_trend(org_id, filters, dialect)
    versions = checklist_versions(org_id, filters)
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
    for period, checklist_id, item_key, total, count, met in measure_rows(org_id, filters, dialect):
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
