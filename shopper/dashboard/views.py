"""The owners' dashboard and its CSV exports: owners and managers only."""

from __future__ import annotations

from flask import Response, flash, render_template, request, stream_with_context

from shopper.audits.queries import known_to
from shopper.checklists.models import Checklist
from shopper.clients.portfolio import comparisons_for_client
from shopper.dashboard import charts, exports
from shopper.dashboard.forms import DashboardFilterForm
from shopper.dashboard.queries import DashboardFilters, load_dashboard
from shopper.database import reads_first
from shopper.extensions import db
from shopper.orgs.access import current_access, current_org, org_blueprint, require_role, scoped
from shopper.orgs.models import Role, Site
from shopper.timeutil import utcnow

bp = org_blueprint("dashboard", __name__, "/dashboard")
bp.url_value_preprocessor(lambda endpoint, values: reads_first())  # read-only pages: no write lock


def _filters(flash_problems: bool = True) -> tuple[DashboardFilters, list[Site], list[Checklist]]:
    sites = db.session.scalars(scoped(Site).order_by(Site.name)).all()
    checklists = db.session.scalars(known_to(current_org().id).order_by(Checklist.title)).all()
    filters, problems = DashboardFilterForm(
        request.args,
        sites={s.id for s in sites},
        checklists={c.id for c in checklists},
        today=utcnow().date(),
    ).read()
    if flash_problems:
        for problem in problems:
            flash(problem, "error")
    return filters, sites, checklists


@bp.get("/")
@require_role(Role.MANAGER)
def index():
    filters, sites, checklists = _filters()
    dashboard = load_dashboard(current_org().id, filters, utcnow().date())
    periods = dashboard.periods
    unit = filters.unit

    def chart(points, title: str, **options) -> str:
        return charts.line_chart(periods, charts.aligned(periods, points), title=title, unit=unit, **options)

    return render_template(
        "dashboard/index.html",
        dashboard=dashboard,
        filters=filters,
        sites=sites,
        checklists=checklists,
        chart=chart,
        today=utcnow().date(),
        comparisons=comparisons_for_client(current_org().id, through=current_access().consultancy),
    )


def _csv(name: str, header: list[str], rows) -> Response:
    filename = f"{current_org().slug}-{name}-{utcnow():%Y-%m-%d}.csv"
    return Response(
        stream_with_context(exports.csv_stream(header, rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "private, no-store"},
    )


@bp.get("/answers.csv")
@require_role(Role.MANAGER)
def answers_csv():
    filters, _, _ = _filters(flash_problems=False)
    return _csv("answers", exports.ANSWER_HEADER, exports.answer_rows(current_org().id, filters))


@bp.get("/actions.csv")
@require_role(Role.MANAGER)
def actions_csv():
    filters, _, _ = _filters(flash_problems=False)
    return _csv("actions", exports.ACTION_HEADER, exports.action_rows(current_org().id, filters, utcnow().date()))


@bp.get("/figures.csv")
@require_role(Role.MANAGER)
def figures_csv():
    filters, _, _ = _filters(flash_problems=False)
    dashboard = load_dashboard(current_org().id, filters, utcnow().date())
    return _csv("figures", exports.FIGURE_HEADER, exports.figure_rows(dashboard))
