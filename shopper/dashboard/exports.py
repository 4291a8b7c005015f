"""CSV exports: every answer, every action, and the dashboard's figures. Streamed, so a big export never sits whole
in memory, and guarded against formula injection: a text cell that a spreadsheet would run (starting with =, +, -,
@, a tab or a carriage return) gets a leading apostrophe."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from shopper.accounts.models import User
from shopper.actions.models import Action, ActionStatus
from shopper.audits.models import Answer, Audit
from shopper.checklists.items import item_type
from shopper.checklists.models import Checklist, ChecklistVersion
from shopper.checklists.schema import item_index
from shopper.checklists.scoring import item_fraction
from shopper.dashboard.queries import Dashboard, DashboardFilters, conditions, versions_in
from shopper.extensions import db
from shopper.orgs.models import Site

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BATCH = 1000


def safe_cell(value: Any) -> Any:
    """A value as a CSV cell that no spreadsheet will take for a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        value = "; ".join(str(part) for part in value)
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_stream(header: list[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """CSV text in chunks of BATCH rows, starting with a byte-order mark so spreadsheets read it as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(header)
    for n, row in enumerate(rows, start=1):
        writer.writerow([safe_cell(value) for value in row])
        if n % BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


ANSWER_HEADER = [
    "audit",
    "submitted_at",
    "site",
    "checklist",
    "version",
    "touchpoint_key",
    "touchpoint",
    "item_key",
    "item",
    "value",
    "score",
    "note",
    "flagged",
]


def answer_rows(org_id: int, filters: DashboardFilters) -> Iterator[list[Any]]:
    """One row per answer of the submitted audits in the filters; `score` is the item's share of its points x 100
    (empty when the item is not scored). Rows are read from the database in batches."""
    indexes = {version.id: item_index(version.definition) for version in versions_in(org_id, filters)}
    query = (
        select(
            Audit.id,
            Audit.submitted_at,
            Site.name,
            Checklist.title,
            ChecklistVersion.number,
            Audit.checklist_version_id,
            Answer.touchpoint_key,
            Answer.item_key,
            Answer.value,
            Answer.note,
            Answer.flagged,
        )
        .join(Answer, Answer.audit_id == Audit.id)
        .join(Site, Site.id == Audit.site_id)
        .join(Checklist, Checklist.id == Audit.checklist_id)
        .join(ChecklistVersion, ChecklistVersion.id == Audit.checklist_version_id)
        .where(*conditions(org_id, filters))
        .order_by(Audit.submitted_at, Audit.id, Answer.id)
        .execution_options(yield_per=BATCH)
    )
    for row in db.session.execute(query):
        touchpoint, item = indexes.get(row.checklist_version_id, {}).get(row.item_key, (None, None))
        fraction = item_fraction(item, row.value) if item is not None else None
        yield [
            row.id,
            row.submitted_at,
            row.name,
            row.title,
            row.number,
            row.touchpoint_key,
            touchpoint["title"] if touchpoint else "",
            row.item_key,
            item["prompt"] if item else "",
            row.value,
            None if fraction is None else round(fraction * 100, 1),
            row.note,
            row.flagged,
        ]


ACTION_HEADER = [
    "action",
    "title",
    "status",
    "priority",
    "responsible",
    "due_on",
    "overdue",
    "site",
    "checklist",
    "audit",
    "audit_submitted_at",
    "touchpoint_key",
    "item_key",
    "created_at",
    "closed_at",
    "resolution",
    "detail",
]


def action_rows(org_id: int, filters: DashboardFilters, today: date) -> Iterator[list[Any]]:
    """Every action of the organization on audits of the chosen site and checklist (any date), oldest first."""
    query = (
        select(Action, User.name, Site.name.label("site"), Checklist.title, Audit.submitted_at)
        .join(Audit, Audit.id == Action.audit_id)
        .join(Site, Site.id == Audit.site_id)
        .join(Checklist, Checklist.id == Audit.checklist_id)
        .outerjoin(User, User.id == Action.assignee_id)
        .where(Action.org_id == org_id)
        .order_by(Action.id)
        .execution_options(yield_per=BATCH)
    )
    if filters.site_id:
        query = query.where(Audit.site_id == filters.site_id)
    if filters.checklist_id:
        query = query.where(Audit.checklist_id == filters.checklist_id)
    for action, assignee, site, checklist, submitted_at in db.session.execute(query):
        yield [
            action.id,
            action.title,
            ActionStatus(action.status).label,
            action.priority,
            assignee,
            action.due_on,
            action.is_overdue(today),
            site,
            checklist,
            action.audit_id,
            submitted_at,
            action.touchpoint_key,
            action.item_key,
            action.created_at,
            action.closed_at,
            action.resolution,
            action.detail,
        ]


FIGURE_HEADER = ["figure", "period", "site", "checklist", "key", "name", "value", "count", "target"]


def figure_rows(dashboard: Dashboard) -> Iterator[list[Any]]:
    """The dashboard's numbers, one figure per row, as the page shows them."""
    for point in dashboard.overall:
        yield ["overall score %", point.period, "", "", "", "Overall", point.value, point.count, ""]
    for point in dashboard.promises:
        yield ["promises kept %", point.period, "", "", "", "Promises kept", point.value, point.count, ""]
    for touchpoint in dashboard.touchpoints:
        for point in touchpoint.points:
            yield [
                "touchpoint score %",
                point.period,
                "",
                "",
                touchpoint.key,
                touchpoint.title,
                point.value,
                point.count,
                "",
            ]
    for measure in dashboard.measures:
        figure = item_type(measure.kind).trend_figure
        for point in measure.points:
            yield [
                figure,
                point.period,
                "",
                measure.checklist,
                measure.item_key,
                measure.prompt,
                point.value,
                point.count,
                measure.target,
            ]
    for site in dashboard.sites:
        yield [
            "latest score %",
            site.submitted_at.date(),
            site.site,
            site.checklist,
            "",
            "",
            site.score,
            site.walks,
            "",
        ]
    for finding in dashboard.recurring:
        yield [
            "recurring finding",
            "",
            "",
            finding.checklist,
            finding.item_key,
            finding.prompt,
            finding.audits,
            finding.of_audits,
            "",
        ]
    counts = dashboard.actions
    for name, value in (
        ("open", counts.open),
        ("overdue", counts.overdue),
        ("done", counts.done),
        ("won't fix", counts.wont_fix),
    ):
        yield ["actions", "", "", "", "", name, value, "", ""]
