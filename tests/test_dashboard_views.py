"""The dashboard page and its CSV exports: who sees them, bad filters, formula-safe cells, a fixed query count."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from shopper.actions.models import Action
from shopper.extensions import db
from shopper.orgs.models import Role
from shopper.timeutil import utcnow

BAD = {"answer-time": 240, "transfers": 3, "resolved": ("no", '=HYPERLINK("http://evil")')}
GOOD = {"answer-time": 30, "transfers": 0, "resolved": ("yes", "Sorted"), "tone": 4}


@pytest.fixture
def world(make):
    org = make.org()
    owner = make.member(org, Role.OWNER)
    auditor = make.member(org, Role.AUDITOR)
    checklist = make.checklist(org, by=owner)
    site = make.site(org, "Harbour Street")
    first = make.submitted_audit(
        org, auditor, BAD, checklist=checklist, site=site, submitted_at=utcnow() - timedelta(days=60)
    )
    make.submitted_audit(org, auditor, GOOD, checklist=checklist, site=site)
    return {
        "org": org,
        "owner": owner,
        "manager": make.member(org, Role.MANAGER),
        "auditor": auditor,
        "checklist": checklist,
        "site": site,
        "first": first,
        "stranger": make.member(make.org(), Role.OWNER),
        "base": f"/o/{org.slug}/dashboard",
    }


def rows(response) -> list[list[str]]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def close(app, action_id, resolution, status="done"):
    with app.app_context():
        action = db.session.get(Action, action_id)
        action.status, action.resolution, action.closed_at = status, resolution, datetime.now(UTC)
        db.session.commit()


def test_owners_and_managers_see_what_got_better(app, client, login, make, world):
    action = make.action(world["first"], "answer-time", by=world["owner"], title="Two people on the line from 8:30")
    close(app, action.id, "New rota since March")
    login(world["manager"])
    response = client.get(f"{world['base']}/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "What we improved" in page and "Two people on the line from 8:30" in page and "New rota since March" in page
    assert page.count("<svg") >= 5  # overall, promises, one touchpoint, two measures
    assert 'aria-label="Overall score: 0%' in page and "target 1 min" in page
    assert "Latest score per site" in page and "Harbour Street" in page and "+95 points" in page
    assert "Findings that keep coming back" in page
    assert 'href="/o/' in page and "/dashboard/answers.csv?from=" in page
    assert "style=" not in page and "<script>" not in page


def test_auditors_may_not_see_the_dashboard_and_do_not_get_the_link(client, login, world):
    login(world["auditor"])
    assert client.get(f"{world['base']}/").status_code == 403
    for export in ("answers", "actions", "figures"):
        assert client.get(f"{world['base']}/{export}.csv").status_code == 403
    home = client.get(f"/o/{world['org'].slug}/").get_data(as_text=True)
    assert f"{world['base']}/" not in home and "/actions/" in home


def test_with_nothing_improved_yet_the_page_says_how_to_get_there(client, login, world):
    login(world["owner"])
    page = client.get(f"{world['base']}/").get_data(as_text=True)
    assert "Nothing was closed as done in this range yet" in page


def test_nonsense_filters_fall_back_to_defaults_with_a_message(client, login, world):
    login(world["owner"])
    response = client.get(f"{world['base']}/?from=last+year&to=2026-02-31&site=x&checklist=-1")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert text.count("is not a date like") == 2 and "Unknown site" in text and "Unknown checklist" in text
    assert "2 submitted walks" in text
    for export in ("answers", "actions", "figures"):
        assert client.get(f"{world['base']}/{export}.csv?from=soon&site=banana").status_code == 200


def test_every_dashboard_route_is_404_for_another_organization(client, login, world):
    login(world["stranger"])
    for path in ("/", "/answers.csv", "/actions.csv", "/figures.csv"):
        assert client.get(world["base"] + path).status_code == 404, path


def test_answers_export_has_one_row_per_answer_with_its_score(client, login, world):
    login(world["owner"])
    response = client.get(f"{world['base']}/answers.csv")
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    assert response.is_streamed
    header, *lines = rows(response)
    assert header[:5] == ["audit", "submitted_at", "site", "checklist", "version"]
    assert len(lines) == 7  # 3 answers on the first walk, 4 on the second
    first = {line[7]: line for line in lines if line[0] == str(world["first"].id)}
    assert first["answer-time"][9:11] == ["240", "0.0"] and first["answer-time"][8] == "Time until a person answered"
    assert first["resolved"][11] == '\'=HYPERLINK("http://evil")'  # a formula is neutralised
    assert first["resolved"][12] == "no"


def test_exports_neutralise_every_formula_lead(app, client, login, make, world):
    for n, lead in enumerate(["=cmd", "+1 call", "-1 wait", "@SUM(A1)", "\tTabbed", "\rReturn"]):
        audit = make.submitted_audit(
            world["org"],
            world["auditor"],
            {"answer-time": 240, "resolved": ("no", lead)},
            checklist=world["checklist"],
            site=world["site"],
        )
        make.action(audit, "answer-time", by=world["owner"], title=f"{lead} title {n}")
    login(world["owner"])
    notes = [line[11] for line in rows(client.get(f"{world['base']}/answers.csv")) if line[7] == "resolved"]
    for lead in ["=cmd", "+1 call", "-1 wait", "@SUM(A1)", "\tTabbed", "\rReturn"]:
        assert "'" + lead in notes
    titles = [line[1] for line in rows(client.get(f"{world['base']}/actions.csv"))[1:]]
    assert titles[:4] == ["'=cmd title 0", "'+1 call title 1", "'-1 wait title 2", "'@SUM(A1) title 3"]
    assert titles[4:] == ["Tabbed title 4", "Return title 5"]  # titles are trimmed when saved


def test_actions_and_figures_exports(app, client, login, make, world):
    make.action(world["first"], "transfers", by=world["owner"], assignee=world["auditor"], title="One line")
    login(world["owner"])
    header, line = rows(client.get(f"{world['base']}/actions.csv"))
    assert header[:3] == ["action", "title", "status"] and line[1:3] == ["One line", "Open"]
    assert line[4] == world["auditor"].name and line[7] == "Harbour Street"
    figures = rows(client.get(f"{world['base']}/figures.csv"))
    kinds = {line[0] for line in figures[1:]}
    assert {"overall score %", "touchpoint score %", "average wait (seconds)", "latest score %", "actions"} <= kinds
    assert ["actions", "", "", "", "", "open", "1", "", ""] in figures


def add_walks(make, world, n):
    for i in range(n):
        make.submitted_audit(
            world["org"],
            world["auditor"],
            BAD if i % 2 else GOOD,
            checklist=world["checklist"],
            site=make.site(world["org"]) if i % 3 == 0 else world["site"],
            submitted_at=utcnow() - timedelta(days=7 * i),
        )


def test_the_dashboard_makes_the_same_number_of_queries_for_3_and_30_audits(client, login, make, world, count_queries):
    login(world["owner"])
    add_walks(make, world, 1)
    make.action(world["first"], "transfers", by=world["owner"], assignee=world["auditor"])
    counts = []
    for more in (0, 27):
        add_walks(make, world, more)
        with count_queries() as page:
            assert client.get(f"{world['base']}/").status_code == 200
        with count_queries() as figures:
            assert client.get(f"{world['base']}/figures.csv").status_code == 200
        with count_queries() as answers:
            assert client.get(f"{world['base']}/answers.csv").status_code == 200
        counts.append((page.count, figures.count, answers.count))
    assert counts[0] == counts[1]
    # signing in and the organization (3), the filter choices (2), the figures (9), the comparison with similar
    # businesses (1), the test's savepoint (2), and on PostgreSQL the statement that turns JIT off for the request
    assert counts[0][0] <= 18
