"""Issue 8's whole story through the web: a consultant sets up three clients, publishes a branded checklist to them,
has the audits walked, hands each client a co-branded PDF and compares the clients on the portfolio."""

import io
import json
import re
import uuid
import zipfile

from shopper.audits.models import Audit
from shopper.jobs import run_pending
from shopper.orgs.models import ClientLink, Organization, Role
from tests.test_reports_support import pdf_text, read_pdf

CLIENTS = ("Harbour Physio", "Seaview Dental", "Town Garage")
#: per client: answers to SMALL_CHECKLIST's billing line; Harbour Physio's is the poor one
ANSWERS = {
    "Harbour Physio": {"answer-time": 300, "transfers": 4, "resolved": "no"},
    "Seaview Dental": {"answer-time": 30, "transfers": 0, "resolved": "yes", "tone": 5},
    "Town Garage": {"answer-time": 45, "transfers": 1, "resolved": "yes", "tone": 4},
}


def _api(client, method, url, body=None):
    return client.open(
        url,
        method=method,
        data=json.dumps(body or {}),
        content_type="application/json",
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )


def test_three_clients_one_branded_checklist_co_branded_reports_and_the_portfolio(app, client, login, make):
    consultancy = make.consultancy("Clear Line Consulting")
    consultant = make.member(consultancy, Role.OWNER)
    login(consultant)
    home = f"/o/{consultancy.slug}"

    # Three clients, each with a site.
    for name in CLIENTS:
        assert client.post(f"{home}/clients/", data={"name": name, "site_name": "Main street"}).status_code == 302
    clients = {name: make.find(Organization, name=name) for name in CLIENTS}
    assert make.count(ClientLink, consultancy_id=consultancy.id) == 3

    # The consultancy's brand and its checklist, shared with every client.
    brand = {
        "display_name": "Clear Line",
        "primary_color": "#3b2f7a",
        "accent_color": "#e0a030",
        "report_footer": "Clear Line: for your management team",
        "contact_line": "Cora, cora@clearline.example",
    }
    assert client.post(f"{home}/brand", data=brand).status_code == 302
    checklist = make.checklist(consultancy, by=consultant)
    assert client.post(f"{home}/checklists/{checklist.id}/sharing", data={"shared_with": "all"}).status_code == 302

    # One prepared audit per client, walked by the consultant through the phone's API and submitted.
    response = client.post(
        f"{home}/clients/audits",
        data={
            "checklist_id": checklist.id,
            "client_ids": [org.id for org in clients.values()],
            "auditor_id": consultant.id,
            "scenario": "A customer with a billing question",
        },
    )
    assert response.status_code == 201
    audits = {}
    for name, org in clients.items():
        audit = make.find(Audit, org_id=org.id)
        base = f"/o/{org.slug}/api/audits/{audit.id}"
        for n, (key, value) in enumerate(ANSWERS[name].items(), start=1):
            note = "They said they would call back." if key == "resolved" else ""
            put = _api(client, "PUT", f"{base}/answers/{key}", {"value": value, "note": note, "client_ts": n})
            assert put.status_code == 200, put.get_data(as_text=True)
        assert _api(client, "POST", f"{base}/submit").status_code == 200
        audits[name] = audit

    # Each client's co-branded PDF, made in the background as soon as the audit was submitted.
    with app.app_context():
        assert run_pending() >= len(clients)
    for name, org in clients.items():
        pdf = client.get(f"/o/{org.slug}/audits/{audits[name].id}/report.pdf")
        assert pdf.status_code == 200
        text = pdf_text(read_pdf(pdf.data))
        pdf.close()
        assert f"Prepared for {name} by Clear Line" in text
        assert "Clear Line: for your management team" in text and "cora@clearline.example" in text
        assert not {other for other in CLIENTS if other != name} & set(re.findall("|".join(CLIENTS), text))

    # The same PDFs in one ZIP, prepared by a job, from the PDFs already made.
    assert client.post(f"{home}/reports/bundles").status_code == 303
    with app.app_context():
        assert run_pending() == 1
    page = client.get(f"{home}/reports/bundles").get_data(as_text=True)
    bundle = client.get(re.search(r'href="([^"]+\.zip)"', page).group(1))
    assert bundle.status_code == 200
    with zipfile.ZipFile(io.BytesIO(bundle.data)) as archive:
        pdfs = [name for name in archive.namelist() if name.endswith(".pdf")]
    bundle.close()
    assert sorted(path.split("/")[0] for path in pdfs) == sorted(org.slug for org in clients.values())

    # The portfolio: every client with its score; the benchmark sets each beside the average of the three.
    portfolio = client.get(f"{home}/portfolio/").get_data(as_text=True)
    assert all(name in portfolio for name in CLIENTS)
    assert portfolio.index("Harbour Physio") < portfolio.index("Seaview Dental")  # lowest score first
    benchmark = client.get(f"{home}/portfolio/checklists/{checklist.id}").get_data(as_text=True)
    assert all(name in benchmark for name in CLIENTS) and "Average" in benchmark

    # The client's owner sees their own scores beside the anonymised average, and no other client.
    owner = make.member(clients["Harbour Physio"], Role.OWNER)
    login(owner)
    dashboard = client.get(f"/o/{clients['Harbour Physio'].slug}/dashboard/").get_data(as_text=True)
    assert "Compared with similar businesses" in dashboard and "points under" in dashboard
    assert "Seaview Dental" not in dashboard and "Town Garage" not in dashboard
