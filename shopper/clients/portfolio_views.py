"""The consultancy's home: its clients at a glance, and how its clients compare on each of its checklists.

Only a consultancy's own members see these pages; for a business, or for someone who reaches a consultancy only
through a client link, they do not exist (404).
"""

from __future__ import annotations

from flask import abort, render_template

from shopper.checklists.models import Checklist
from shopper.clients import portfolio as queries
from shopper.database import reads_first
from shopper.orgs.access import current_access, current_org, get_or_404, org_blueprint
from shopper.timeutil import utcnow

portfolio = org_blueprint("portfolio", __name__, "/portfolio")
portfolio.url_value_preprocessor(lambda endpoint, values: reads_first())  # read-only pages: no write lock


@portfolio.before_request
def _consultancies_only():
    if not current_org().is_consultancy or current_access().is_consultant:
        abort(404)


@portfolio.get("/")
def index():
    consultancy = current_org()
    return render_template(
        "clients/portfolio.html",
        clients=queries.portfolio_clients(consultancy.id, current_access().user_id, utcnow().date()),
        checklists=queries.shared_checklists(consultancy.id),
    )


@portfolio.get("/checklists/<int:checklist_id>")
def checklist(checklist_id: int):
    row = get_or_404(Checklist, checklist_id)
    return render_template(
        "clients/portfolio_checklist.html",
        benchmark=queries.checklist_benchmark(row, current_access().user_id),
        gap=queries.GAP,
    )
