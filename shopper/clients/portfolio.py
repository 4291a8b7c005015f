"""A consultancy's portfolio of clients, its benchmark per checklist, and the client's anonymised side of it.

Plain functions over the database; no request objects. Every page is a fixed number of queries, however many
clients there are.

Who is counted where:

- A consultant sees figures of a client (scores, actions, its column in a benchmark) only where their effective role
  there is at least manager: the role `access_for` gives them, computed for every client at once by
  `orgs.access.roles_in`.
- A client's comparison ("Compared with similar businesses") averages the latest audit of each business the
  consultancy serves today with a consultant-manager link, the client included. A revoked link drops the client out
  of everyone's averages and takes its own comparison away; a consultant-auditor link does too, because the
  consultancy may not see that client's results and must not be able to work them out from another client's
  average.
- An average is shown only when at least `MIN_CLIENTS` clients have a score for that touchpoint. What a client gets
  carries no name, no other client's number, no minimum or maximum and no count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape
from typing import Any

from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.orm import aliased

from shopper.actions.models import Action, ActionStatus
from shopper.audits.models import Audit, LatestWalks
from shopper.audits.tallies import RECENT_WALKS
from shopper.checklists.models import Checklist, ChecklistVersion, SharedWith
from shopper.extensions import db
from shopper.orgs.access import roles_in
from shopper.orgs.models import ClientLink, LinkRole, Organization, Role
from shopper.palette import LINE, MUTED

#: an average needs this many clients with a score for the touchpoint
MIN_CLIENTS = 3
#: a client this many points or more under the average is highlighted
GAP = 10
#: the portfolio's trend line: this many latest submitted audits
TREND_LENGTH = RECENT_WALKS
ACTIVE_ACTIONS = (ActionStatus.OPEN.value, ActionStatus.DOING.value)


# The averaging rule (pure) --------------------------------------------------------------------------------------


def touchpoint_scores(result: Mapping[str, Any] | None) -> dict[str, float]:
    """Touchpoint key -> score of an audit's stored result; touchpoints with nothing scored (all n/a) are left out."""
    if not result:
        return {}
    return {tp["key"]: float(tp["score"]) for tp in result.get("touchpoints", ()) if tp.get("score") is not None}


def average(scores: Iterable[float | None], min_clients: int = MIN_CLIENTS) -> float | None:
    """The mean of the known scores, one decimal; None when fewer than `min_clients` are known."""
    known = [score for score in scores if score is not None]
    if len(known) < min_clients:
        return None
    return round(sum(known) / len(known), 1)


@dataclass(frozen=True)
class BenchmarkRow:
    """One touchpoint: each client's score on its latest audit, and the average of those that have one."""

    key: str
    title: str
    #: False for a touchpoint the checklist's current version no longer has (older audits still score it)
    current: bool
    scores: Mapping[int, float]  # client id -> score; a client without a score for it is absent
    average: float | None  # None while fewer than MIN_CLIENTS clients have a score

    @property
    def contributors(self) -> int:
        return len(self.scores)

    def gap(self, client_id: int) -> float | None:
        """The client's score minus the average, when both are known."""
        score = self.scores.get(client_id)
        if score is None or self.average is None:
            return None
        return round(score - self.average, 1)

    def below(self, client_id: int) -> bool:
        """At least GAP points under the average."""
        gap = self.gap(client_id)
        return gap is not None and gap <= -GAP


def benchmark_rows(
    touchpoints: Sequence[tuple[str, str]],
    results: Mapping[int, Mapping[str, Any] | None],
    min_clients: int = MIN_CLIENTS,
) -> list[BenchmarkRow]:
    """Rows for the touchpoints of the current version ((key, title) in walk order), then for any other key the
    results score (a touchpoint since removed, titled as its latest audit had it). `results` maps client id to the
    stored result of that client's latest audit; each client counts once, with equal weight."""
    scores = {client_id: touchpoint_scores(result) for client_id, result in results.items()}
    titles = dict(touchpoints)
    in_current = set(titles)
    order = list(titles)
    for result in results.values():
        for tp in (result or {}).get("touchpoints", ()):
            if tp["key"] not in titles:
                titles[tp["key"]] = tp.get("title") or tp["key"]
                order.append(tp["key"])
    rows = []
    for key in order:
        by_client = {client_id: found[key] for client_id, found in scores.items() if key in found}
        if not by_client and key not in in_current:
            continue  # a removed touchpoint that nobody scored
        rows.append(
            BenchmarkRow(
                key=key,
                title=titles[key],
                current=key in in_current,
                scores=by_client,
                average=average(by_client.values(), min_clients),
            )
        )
    return rows


@dataclass(frozen=True)
class ComparedTouchpoint:
    """What a client may see of one touchpoint: its own score and the anonymised average, nothing else."""

    key: str
    title: str
    own: float | None
    average: float | None  # None while fewer than MIN_CLIENTS businesses (the client included) have a score

    @property
    def difference(self) -> int | None:
        """Whole points over (positive) or under (negative) the average."""
        if self.own is None or self.average is None:
            return None
        return round(self.own - self.average)

    @property
    def below(self) -> bool:
        return self.difference is not None and self.difference <= -GAP

    @property
    def phrase(self) -> str:
        difference = self.difference
        if difference is None:
            return ""
        if difference == 0:
            return "level with similar businesses"
        points = "point" if abs(difference) == 1 else "points"
        return f"{abs(difference)} {points} {'under' if difference < 0 else 'over'} similar businesses"


def anonymised(rows: Iterable[BenchmarkRow], client_id: int) -> list[ComparedTouchpoint]:
    """The client's own side of a benchmark: the touchpoints its latest audit scored, beside the average."""
    return [
        ComparedTouchpoint(row.key, row.title, row.scores.get(client_id), row.average)
        for row in rows
        if client_id in row.scores
    ]


@dataclass(frozen=True)
class Comparison:
    """One consultancy checklist the client audited, compared with the consultancy's other clients."""

    checklist_id: int
    checklist: str
    consultancy: str
    audited_on: datetime  # the client's latest submitted audit of it
    touchpoints: tuple[ComparedTouchpoint, ...]

    @property
    def min_clients(self) -> int:
        return MIN_CLIENTS

    @property
    def comparable(self) -> bool:
        return any(tp.average is not None for tp in self.touchpoints)

    @property
    def headline(self) -> str:
        """One sentence: the touchpoint furthest under similar businesses, else how the client stands."""
        known = [tp for tp in self.touchpoints if tp.difference is not None]
        if not known:
            return ""
        worst = min(known, key=lambda tp: tp.difference)
        if worst.below:
            return f"Your “{worst.title}” touchpoint scores {worst.phrase}."
        if all(tp.difference >= 0 for tp in known):
            return "Every touchpoint you can compare scores level with or over similar businesses."
        return f"Every touchpoint you can compare is within {GAP} points of similar businesses or over them."


# Trend line (pure) ----------------------------------------------------------------------------------------------


def sparkline(scores: Sequence[float | None], width: int = 96, height: int = 28) -> str:
    """A small SVG line of scores (oldest first, percentages on 0 to 100), its last point marked. Presentation
    attributes only, so the strict CSP allows it inline; the label says the scores in words."""
    known = [(i, s) for i, s in enumerate(scores) if s is not None]
    if not known:
        return ""
    pad = 3
    n = len(scores)

    def x(i: int) -> float:
        return width / 2 if n == 1 else pad + i * (width - 2 * pad) / (n - 1)

    def y(score: float) -> float:
        return pad + (100 - max(0.0, min(score, 100.0))) / 100 * (height - 2 * pad)

    label = "Latest scores, oldest first: " + ", ".join("–" if s is None else f"{s:.0f}%" for s in scores)
    parts = [
        f'<svg class="sparkline" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="0" x2="{width}" y1="{y(50):.1f}" y2="{y(50):.1f}" stroke="{MUTED}" stroke-width="0.5" '
        f'stroke-dasharray="2 2"/>',
    ]
    if len(known) > 1:
        points = " ".join(f"{x(i):.1f},{y(s):.1f}" for i, s in known)
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{LINE}" stroke-width="2" stroke-linejoin="round" '
            f'stroke-linecap="round"/>'
        )
    last_i, last_s = known[-1]
    parts.append(f'<circle cx="{x(last_i):.1f}" cy="{y(last_s):.1f}" r="2.5" fill="{LINE}"/>')
    parts.append("</svg>")
    return "".join(parts)


# Access for many clients at once --------------------------------------------------------------------------------


def _active_links(consultancy_id: int) -> list[tuple[Organization, LinkRole]]:
    rows = db.session.execute(
        select(Organization, ClientLink.role)
        .join(ClientLink, ClientLink.client_id == Organization.id)
        .where(ClientLink.consultancy_id == consultancy_id, ClientLink.revoked_at.is_(None))
        .order_by(Organization.name, Organization.id)
    )
    return [(org, LinkRole(role)) for org, role in rows]


# The portfolio --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientFigures:
    scores: tuple[float | None, ...]  # the latest submitted audits' scores, oldest first (at most TREND_LENGTH)
    last_audit: datetime | None
    open_actions: int
    overdue_actions: int

    @property
    def latest(self) -> float | None:
        return self.scores[-1] if self.scores else None

    @property
    def change(self) -> float | None:
        """Points since the audit before the latest one, when both were scored."""
        if len(self.scores) < 2 or self.scores[-1] is None or self.scores[-2] is None:
            return None
        return round(self.scores[-1] - self.scores[-2], 1)

    @property
    def trend(self) -> str:
        return sparkline(self.scores) if len(self.scores) > 1 else ""


@dataclass(frozen=True)
class ClientLine:
    id: int
    slug: str
    name: str
    link_role: LinkRole
    #: the viewer's role inside the client
    role: Role | None
    #: None when the viewer's role there is below manager
    figures: ClientFigures | None


def _sort_key(line: ClientLine):
    """Lowest latest score first; then clients with figures but no score yet; then auditor access; by name."""
    if line.figures is None:
        return (2, 0.0, line.name.lower(), line.id)
    if line.figures.latest is None:
        return (1, 0.0, line.name.lower(), line.id)
    return (0, line.figures.latest, line.name.lower(), line.id)


def _latest_scores(consultancy_id: int, client_ids: list[int]) -> dict[int, list[tuple[float | None, datetime]]]:
    """Client id -> (score, submitted at) of its TREND_LENGTH latest submitted audits on the consultancy's
    checklists, newest first, from each client's latest walks per checklist (one row per client and checklist). A
    client's audits on its own checklists stay out: a trend that went from one journey to another would compare
    unlike things."""
    rows = db.session.execute(
        select(LatestWalks.org_id, LatestWalks.recent).where(
            LatestWalks.org_id.in_(client_ids),
            LatestWalks.checklist_id.in_(select(Checklist.id).where(Checklist.org_id == consultancy_id)),
        )
    )
    walks: dict[int, list[tuple[datetime, int, float | None]]] = {}
    for org_id, recent in rows:
        walks.setdefault(org_id, []).extend(
            (datetime.fromisoformat(at), audit_id, score) for audit_id, at, score in recent
        )
    return {
        org_id: [(score, at) for at, _, score in sorted(found, reverse=True)[:TREND_LENGTH]]
        for org_id, found in walks.items()
    }


def _action_counts(client_ids: list[int], today: date) -> dict[int, tuple[int, int]]:
    """Client id -> (open or in progress, of those overdue)."""
    active = Action.status.in_(ACTIVE_ACTIONS)
    rows = db.session.execute(
        select(
            Action.org_id,
            func.count(),
            func.sum(case((Action.due_on < today, 1), else_=0)),
        )
        .where(Action.org_id.in_(client_ids), active)
        .group_by(Action.org_id)
    )
    return {org_id: (int(n), int(overdue or 0)) for org_id, n, overdue in rows}


def portfolio_clients(consultancy_id: int, user_id: int, today: date) -> list[ClientLine]:
    """The consultancy's active clients, with figures where the viewer is at least manager, lowest latest score
    first. Five queries, whatever the number of clients."""
    links = _active_links(consultancy_id)
    roles = roles_in(user_id, [org.id for org, _ in links])
    visible = sorted(org.id for org, _ in links if roles.get(org.id) and roles[org.id].at_least(Role.MANAGER))
    scores = _latest_scores(consultancy_id, visible) if visible else {}
    actions = _action_counts(visible, today) if visible else {}
    lines = []
    for org, link_role in links:
        figures = None
        if org.id in visible:
            walks = scores.get(org.id, [])
            open_actions, overdue = actions.get(org.id, (0, 0))
            figures = ClientFigures(
                scores=tuple(score for score, _ in reversed(walks)),
                last_audit=walks[0][1] if walks else None,
                open_actions=open_actions,
                overdue_actions=overdue,
            )
        lines.append(ClientLine(org.id, org.slug, org.name, link_role, roles.get(org.id), figures))
    return sorted(lines, key=_sort_key)


@dataclass(frozen=True)
class SharedChecklist:
    id: int
    title: str
    shared_with: str  # SharedWith.ALL or CHOSEN
    archived: bool


def shared_checklists(consultancy_id: int) -> list[SharedChecklist]:
    """The consultancy's published checklists shared with all or chosen clients, by title."""
    rows = db.session.execute(
        select(Checklist.id, Checklist.title, Checklist.shared_with, Checklist.archived_at)
        .where(
            Checklist.org_id == consultancy_id,
            Checklist.shared_with != SharedWith.NONE,
            Checklist.current_version_id.is_not(None),
        )
        .order_by(Checklist.title, Checklist.id)
    )
    return [SharedChecklist(r.id, r.title, r.shared_with, r.archived_at is not None) for r in rows]


# The benchmark of one checklist (consultant's view) -------------------------------------------------------------


def _latest_results(narrow, checklist_ids: list[int]) -> list[Any]:
    """(org id, checklist id, result, submitted at) of the latest submitted audit per organization and checklist,
    among the audits `narrow` (a function adding joins and conditions to the query) keeps: one row of latest_walks
    per organization and checklist, whatever the number of audits."""
    query = (
        select(Audit.org_id, Audit.checklist_id, Audit.result, Audit.submitted_at)
        .select_from(LatestWalks)
        .join(Audit, Audit.id == LatestWalks.audit_id)
        .where(LatestWalks.checklist_id.in_(checklist_ids))
    )
    return list(db.session.execute(narrow(query)))


def _titles(definition: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    return [(tp["key"], tp["title"]) for tp in (definition or {}).get("touchpoints", ())]


@dataclass(frozen=True)
class BenchmarkClient:
    id: int
    slug: str
    name: str
    audited_on: datetime


@dataclass(frozen=True)
class Benchmark:
    checklist_id: int
    title: str
    clients: tuple[BenchmarkClient, ...]  # with a submitted audit of the checklist, by name
    not_audited: tuple[str, ...]  # names of visible clients without one
    hidden: int  # active clients left out: the viewer's role there is below manager
    rows: tuple[BenchmarkRow, ...]

    @property
    def min_clients(self) -> int:
        return MIN_CLIENTS


def checklist_benchmark(checklist: Checklist, user_id: int) -> Benchmark:
    """Each visible client's touchpoint scores on its latest submitted audit of `checklist` (any version), beside
    the average of those clients. `checklist` is the consultancy's own (the caller checked). Five queries."""
    version = db.session.get(ChecklistVersion, checklist.current_version_id) if checklist.current_version_id else None
    links = _active_links(checklist.org_id)
    roles = roles_in(user_id, [org.id for org, _ in links])
    visible = [org for org, _ in links if roles.get(org.id) and roles[org.id].at_least(Role.MANAGER)]
    visible_ids = [org.id for org in visible]
    latest = (
        {row.org_id: row for row in _latest_results(lambda q: q.where(Audit.org_id.in_(visible_ids)), [checklist.id])}
        if visible_ids
        else {}
    )
    rows = benchmark_rows(_titles(version.definition if version else None), {k: r.result for k, r in latest.items()})
    return Benchmark(
        checklist_id=checklist.id,
        title=checklist.title,
        clients=tuple(
            BenchmarkClient(org.id, org.slug, org.name, latest[org.id].submitted_at)
            for org in visible
            if org.id in latest
        ),
        not_audited=tuple(org.name for org in visible if org.id not in latest),
        hidden=len(links) - len(visible),
        rows=tuple(rows),
    )


# The client's side ----------------------------------------------------------------------------------------------


def comparisons_for_client(client_id: int, through: Organization | None = None) -> list[Comparison]:
    """The dashboard's "Compared with similar businesses": per consultancy checklist the client has a submitted
    audit of, its own touchpoint scores beside the average of that consultancy's current consultant-manager clients
    (itself included). With `through` (the consultancy a consultant views the client through), only that
    consultancy's checklists: another consultancy's clients are none of its business. One query when there is
    nothing to compare, two otherwise."""
    current = aliased(ChecklistVersion)
    walked = exists().where(LatestWalks.org_id == client_id, LatestWalks.checklist_id == Checklist.id)
    query = (
        select(Checklist.id, Checklist.title, Organization.name, current.definition)
        .join(Organization, Organization.id == Checklist.org_id)
        .join(
            ClientLink,
            and_(
                ClientLink.consultancy_id == Checklist.org_id,
                ClientLink.client_id == client_id,
                ClientLink.revoked_at.is_(None),
                ClientLink.role == LinkRole.CONSULTANT_MANAGER,
            ),
        )
        .outerjoin(current, current.id == Checklist.current_version_id)
        .where(walked, Checklist.org_id != client_id)
        .order_by(Organization.name, Checklist.title, Checklist.id)
    )
    if through is not None:
        query = query.where(Checklist.org_id == through.id)
    checklists = list(db.session.execute(query))
    if not checklists:
        return []

    def among_current_clients(q):
        return q.join(Checklist, Checklist.id == Audit.checklist_id).join(
            ClientLink,
            and_(
                ClientLink.consultancy_id == Checklist.org_id,
                ClientLink.client_id == Audit.org_id,
                ClientLink.revoked_at.is_(None),
                ClientLink.role == LinkRole.CONSULTANT_MANAGER,
            ),
        )

    results: dict[int, dict[int, Any]] = {}
    for row in _latest_results(among_current_clients, [c.id for c in checklists]):
        results.setdefault(row.checklist_id, {})[row.org_id] = row
    comparisons = []
    for checklist_id, title, consultancy, definition in checklists:
        latest = results.get(checklist_id, {})
        if client_id not in latest:
            continue
        rows = benchmark_rows(_titles(definition), {org_id: row.result for org_id, row in latest.items()})
        comparisons.append(
            Comparison(
                checklist_id=checklist_id,
                checklist=title,
                consultancy=consultancy,
                audited_on=latest[client_id].submitted_at,
                touchpoints=tuple(anonymised(rows, client_id)),
            )
        )
    return comparisons
