"""Reports of consultancies' checklists: co-branding, white label, brand assets per report, revocation, and the ZIP
of each client's latest report. Real database, real PDFs read back (a handful of renders in all)."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta
from types import SimpleNamespace

import pytest

from shopper.audits.models import Audit
from shopper.extensions import db
from shopper.jobs import run_pending
from shopper.media.storage import LocalStorage
from shopper.orgs.models import ClientLink, LinkRole, Organization, OrgKind, Role
from shopper.reports import pdf, rendering, service
from shopper.reports.brand import CONSULTANCY, Credit, credit_of, logo_key, store_logo
from shopper.reports.models import ReportPdf
from shopper.timeutil import utcnow
from tests.conftest import download
from tests.test_reports_context import build
from tests.test_reports_support import image_count, pdf_text, read_pdf
from tests.test_reports_views import png

ANSWERS = {"answer-time": 240, "transfers": 0, "resolved": ("yes", "They sorted the bill")}
PREPARED = "Prepared for Harbour Physio by Northwind"


# The cover line: pure ---------------------------------------------------------------------------------------------


def org(id, kind="business", name="Org", display_name=None, white_label=False):
    return SimpleNamespace(id=id, kind=kind, name=name, display_name=display_name, white_label=white_label)


def test_a_client_report_on_a_consultancy_checklist_is_prepared_by_the_consultancy_under_display_names():
    client = org(1, name="Harbour Physio Ltd", display_name="Harbour Physio")
    consultancy = org(2, CONSULTANCY, "Northwind Advisory LLP", display_name="  Northwind ")
    credit = credit_of(client, consultancy)
    assert credit == Credit("Harbour Physio", "Northwind", white_label=False)
    assert credit.line == PREPARED
    blank = credit_of(org(1, name="Harbour Physio Ltd", display_name="   "), org(2, CONSULTANCY, "Northwind Advisory"))
    assert blank.line == "Prepared for Harbour Physio Ltd by Northwind Advisory"


def test_a_business_own_report_and_a_consultancy_own_report_name_no_one_else():
    business = org(1, name="Harbour Physio")
    assert credit_of(business, business) == Credit("Harbour Physio") and credit_of(business, business).line is None
    consultancy = org(2, CONSULTANCY, "Northwind")
    assert credit_of(consultancy, consultancy).line is None
    # a checklist owned by another business (not a consultancy) brands the report but credits no one
    assert credit_of(business, org(3, name="Elsewhere")).line is None


def test_white_label_is_a_consultancy_setting():
    client = org(1, name="Harbour Physio")
    assert credit_of(client, org(2, CONSULTANCY, white_label=True)).white_label
    assert credit_of(org(2, CONSULTANCY, white_label=True), org(2, CONSULTANCY, white_label=True)).white_label
    assert not credit_of(client, org(2, CONSULTANCY)).white_label
    flagged_business = org(1, name="Harbour Physio", white_label=True)
    assert not credit_of(flagged_business, flagged_business).white_label
    assert CONSULTANCY == OrgKind.CONSULTANCY


def test_the_method_section_says_who_made_the_report():
    assert build().made_by_line == "Made with Shopper."
    cobranded = build(credit=Credit("Harbour Physio", "Northwind"))
    assert cobranded.made_by_line == f"{PREPARED}. Made with Shopper."
    assert build(credit=Credit("Harbour Physio", "Northwind", white_label=True)).made_by_line == f"{PREPARED}."
    assert build(credit=Credit("Harbour Physio", white_label=True)).made_by_line == ""


# A consultancy, its client, and reports of both checklists -------------------------------------------------------


def set_org(app, org_id, **values):
    with app.app_context():
        row = db.session.get(Organization, org_id)
        for name, value in values.items():
            setattr(row, name, value)
        db.session.commit()


def give_logo(app, org_id, colour):
    with app.app_context():
        logo_id = store_logo(org_id, png(colour=colour), LocalStorage(app.config["MEDIA_ROOT"]))
    set_org(app, org_id, logo_media_id=logo_id)
    return logo_id


@pytest.fixture
def world(app, make):
    consultancy = make.consultancy("Northwind Advisory")
    client_org = make.org("Harbour Physio Ltd")
    c_owner = make.member(consultancy, Role.OWNER)
    c_manager = make.member(consultancy, Role.MANAGER)
    owner = make.member(client_org, Role.OWNER)
    make.client_link(consultancy, client_org)
    checklist = make.checklist(consultancy, by=c_owner)
    make.share(checklist, "all")
    site = make.site(client_org, "Harbour Street")
    set_org(
        app,
        consultancy.id,
        display_name="Northwind",
        primary_color="#3b1f5e",
        accent_color="#f2a541",
        report_footer="Northwind: confidential",
        contact_line="Ask Nia at nia@northwind.test",
    )
    set_org(
        app,
        client_org.id,
        display_name="Harbour Physio",
        primary_color="#0f5c63",
        report_footer="Harbour's own footer",
        contact_line="Ask Olivia at Harbour",
    )
    cobranded = make.submitted_audit(client_org, c_manager, ANSWERS, checklist=checklist, site=site)
    own_checklist = make.checklist(client_org, by=owner)
    own = make.submitted_audit(client_org, owner, ANSWERS, checklist=own_checklist, site=site)
    base = f"/o/{client_org.slug}"
    return SimpleNamespace(
        consultancy=consultancy,
        client=client_org,
        c_owner=c_owner,
        c_manager=c_manager,
        c_auditor=make.member(consultancy, Role.AUDITOR),
        owner=owner,
        checklist=checklist,
        site=site,
        cobranded=cobranded,
        own=own,
        base=base,
        report=f"{base}/audits/{cobranded.id}/report",
        own_report=f"{base}/audits/{own.id}/report",
    )


fetch = download


def html_of(client, url) -> str:
    status, _, body = fetch(client, url)
    assert status == 200, url
    return body.decode()


def linked(html: str, pattern: str) -> str:
    return re.search(pattern, html).group(1).replace("&amp;", "&")


def post_brand(client, org_slug, **fields):
    data = {"display_name": "", "primary_color": "", "accent_color": "", "report_footer": "", "contact_line": ""}
    data.update(fields)
    return client.post(f"/o/{org_slug}/brand", data=data, content_type="multipart/form-data")


def test_a_client_report_on_a_consultancy_checklist_wears_the_consultancy_brand(app, client, login, world):
    logo_id = give_logo(app, world.consultancy.id, (60, 30, 90))
    give_logo(app, world.client.id, (15, 92, 99))
    login(world.owner)
    html = html_of(client, world.report)
    assert html.count(PREPARED) == 2  # the cover, and the method section's closing line
    assert "Northwind: confidential" in html and "Ask Nia at nia@northwind.test" in html
    assert "Harbour&#39;s own footer" not in html and "Ask Olivia" not in html
    assert '<meta name="author" content="Northwind">' in html

    css_url = linked(html, r'href="([^"]*/report/brand\.css[^"]*)"')
    assert css_url.startswith(f"{world.report}/brand.css?v=")
    status, headers, css = fetch(client, css_url)
    assert status == 200 and headers["Content-Type"].startswith("text/css")
    assert "--brand-primary: #3b1f5e" in css.decode() and "#0f5c63" not in css.decode()
    logo_url = linked(html, r'<img class="logo" src="([^"]+)"')
    assert logo_url.startswith(f"{world.report}/logo.jpg")
    status, _, logo = fetch(client, logo_url)
    with app.app_context():
        stored = LocalStorage(app.config["MEDIA_ROOT"]).read(logo_key(world.consultancy.id, logo_id, "thumb"))
    assert status == 200 and logo == stored
    assert "/brand/logo.jpg" not in html and "/reports/brand.css" not in html  # never the viewer's own brand

    status, headers, data = fetch(client, f"{world.report}.pdf")
    assert status == 200 and "shopper" not in headers["Content-Disposition"].lower()
    reader = read_pdf(data)
    text = pdf_text(reader)
    assert text.count(PREPARED) == 2 and "Made with Shopper." in text
    assert "Northwind: confidential" in text and "Ask Nia at nia@northwind.test" in text
    assert "Harbour's own footer" not in text and "Ask Olivia" not in text
    assert reader.metadata.author == "Northwind" and reader.metadata.creator == "Shopper"
    assert image_count(reader) == 1  # the consultancy's logo (this audit has no photos)


def test_a_client_report_on_its_own_checklist_keeps_its_own_brand(app, client, login, world):
    logo_id = give_logo(app, world.client.id, (15, 92, 99))
    give_logo(app, world.consultancy.id, (60, 30, 90))
    login(world.owner)
    html = html_of(client, world.own_report)
    assert "Prepared for" not in html and "Northwind" not in html
    assert "Harbour&#39;s own footer" in html and "Ask Olivia at Harbour" in html
    css = fetch(client, linked(html, r'href="([^"]*/report/brand\.css[^"]*)"'))[2].decode()
    assert "--brand-primary: #0f5c63" in css and "#3b1f5e" not in css
    with app.app_context():
        stored = LocalStorage(app.config["MEDIA_ROOT"]).read(logo_key(world.client.id, logo_id, "thumb"))
    assert fetch(client, linked(html, r'<img class="logo" src="([^"]+)"'))[2] == stored


def test_report_brand_assets_are_for_those_who_may_see_the_audit(app, client, login, make, world):
    give_logo(app, world.consultancy.id, (60, 30, 90))
    client_auditor = make.member(world.client, Role.AUDITOR)
    stranger = make.member(make.org(), Role.OWNER)
    for who, expected in ((world.owner, 200), (world.c_manager, 200), (client_auditor, 404), (stranger, 404)):
        login(who)
        for url in (f"{world.report}/brand.css", f"{world.report}/logo.jpg"):
            assert fetch(client, url)[0] == expected, (who.name, url)
    login(client_auditor)  # the organization's own brand files serve its Brand page only: managers and owners
    assert fetch(client, f"{world.base}/reports/brand.css")[0] == 403
    assert fetch(client, f"{world.base}/brand/logo.jpg")[0] == 403


# White label -------------------------------------------------------------------------------------------------------


def test_the_white_label_setting_is_a_consultancy_setting(app, client, login, make, world):
    login(world.owner)
    page = html_of(client, f"{world.base}/brand")
    assert "white_label" not in page and "Leave Shopper" not in page
    assert post_brand(client, world.client.slug, white_label="y").status_code == 302
    assert make.get(Organization, world.client.id).white_label is False
    with app.app_context():
        business = db.session.get(Organization, world.client.id)
        service.save_brand(business, service.BrandInput("", "", "", "", "", None, white_label=True))
        assert db.session.get(Organization, world.client.id).white_label is False

    login(world.c_owner)
    page = html_of(client, f"/o/{world.consultancy.slug}/brand")
    assert 'name="white_label"' in page and "Leave Shopper&#39;s name off our reports" in page
    assert "Prepared for <em>client</em> by Northwind" in page
    assert post_brand(client, world.consultancy.slug, white_label="y").status_code == 302
    assert make.get(Organization, world.consultancy.id).white_label is True
    assert re.search(r'<input [^>]*checked id="white_label"', html_of(client, f"/o/{world.consultancy.slug}/brand"))
    post_brand(client, world.consultancy.slug)  # unticked
    assert make.get(Organization, world.consultancy.id).white_label is False


def test_a_white_labelled_report_never_says_shopper(app, client, login, make, world):
    login(world.owner)
    assert "Shopper" in html_of(client, world.report)  # the generator and "Made with Shopper"
    login(world.c_owner)
    post_brand(client, world.consultancy.slug, display_name="Northwind", white_label="y")

    login(world.owner)
    html = html_of(client, world.report)
    assert PREPARED in html and "shopper" not in html.lower()
    status, headers, data = fetch(client, f"{world.report}.pdf")
    assert status == 200 and "shopper" not in headers["Content-Disposition"].lower()
    reader = read_pdf(data)
    text = pdf_text(reader)
    assert PREPARED in text and "shopper" not in text.lower()
    metadata = {key: str(value) for key, value in reader.metadata.items()}
    assert metadata["/Author"] == "Northwind" and "/Creator" not in metadata
    assert not [value for value in metadata.values() if "shopper" in value.lower()], metadata
    assert b"shopper" not in data.lower()  # nor anywhere in the file's bytes

    response = client.post(f"{world.report}/shares")
    assert response.status_code == 201
    url = re.search(r'value="http://shopper\.test(/r/[A-Za-z0-9_-]+)"', response.get_data(as_text=True)).group(1)
    visitor = app.test_client()
    status, headers, shared = fetch(visitor, url)
    assert status == 200 and PREPARED in shared.decode() and b"shopper" not in shared.lower()
    status, headers, shared_pdf = fetch(visitor, f"{url}/report.pdf")
    assert shared_pdf == data and "shopper" not in headers["Content-Disposition"].lower()


# The PDF cache -----------------------------------------------------------------------------------------------------


def fingerprint(app, audit_id) -> str:
    """The PDF's cache key as the next download computes it (no render)."""
    with app.app_context():
        audit = db.session.get(Audit, audit_id)
        return service.pdf_job(audit, service.load_report(audit))[1]


def test_the_cache_key_follows_everything_the_cobranded_pdf_shows(app, world):
    audit_id = world.cobranded.id
    seen = {fingerprint(app, audit_id)}
    changes = [
        (world.consultancy.id, {"report_footer": "Northwind: for the board"}),
        (world.consultancy.id, {"contact_line": "Ask Nia"}),
        (world.consultancy.id, {"primary_color": "#222222"}),
        (world.consultancy.id, {"display_name": "Northwind Partners"}),
        (world.consultancy.id, {"name": "Northwind Holdings", "display_name": None}),
        (world.consultancy.id, {"white_label": True}),
        (world.client.id, {"display_name": "Harbour Clinic"}),
        (world.client.id, {"name": "Harbour Clinic Ltd", "display_name": None}),
    ]
    for org_id, values in changes:
        set_org(app, org_id, **values)
        key = fingerprint(app, audit_id)
        assert key not in seen, values
        seen.add(key)
    give_logo(app, world.consultancy.id, (60, 30, 90))
    assert fingerprint(app, audit_id) not in seen
    seen.add(with_logo := fingerprint(app, audit_id))
    give_logo(app, world.consultancy.id, (90, 30, 60))  # a new logo: a new storage key
    assert fingerprint(app, audit_id) not in seen
    with_new_logo = fingerprint(app, audit_id)
    # the client's own brand is not on this report
    set_org(app, world.client.id, report_footer="Harbour's new footer", primary_color="#000000")
    assert fingerprint(app, audit_id) == with_new_logo != with_logo


def test_a_stale_pdf_is_never_served_after_the_consultancy_changes_its_footer(app, client, login, make, world):
    login(world.owner)
    first = fetch(client, f"{world.report}.pdf")[2]
    record = make.get(ReportPdf, world.cobranded.id)
    assert fetch(client, f"{world.report}.pdf")[2] == first  # from the cache
    login(world.c_owner)
    post_brand(client, world.consultancy.slug, display_name="Northwind", report_footer="Northwind: for the board")
    login(world.owner)
    text = pdf_text(read_pdf(fetch(client, f"{world.report}.pdf")[2]))
    assert "Northwind: for the board" in text and "Northwind: confidential" not in text
    assert make.get(ReportPdf, world.cobranded.id).fingerprint != record.fingerprint
    assert "Northwind: confidential" in pdf_text(read_pdf(first))


# After the consultancy's link is revoked ----------------------------------------------------------------------------


def revoke(app, consultancy, client_org):
    with app.app_context():
        link = db.session.query(ClientLink).filter_by(consultancy_id=consultancy.id, client_id=client_org.id).one()
        link.revoked_at = utcnow()
        db.session.commit()


def test_after_revocation_the_client_keeps_its_cobranded_reports_and_the_consultancy_loses_them(
    app, client, login, world
):
    give_logo(app, world.consultancy.id, (60, 30, 90))
    urls = (world.report, f"{world.report}.pdf", f"{world.report}/brand.css", f"{world.report}/logo.jpg")
    login(world.c_manager)
    assert fetch(client, world.report)[0] == 200
    revoke(app, world.consultancy, world.client)
    for who in (world.c_manager, world.c_owner):
        login(who)
        for url in urls:
            assert fetch(client, url)[0] == 404, url

    login(world.owner)
    html = html_of(client, world.report)
    assert PREPARED in html and "Northwind: confidential" in html
    css = fetch(client, f"{world.report}/brand.css")[2].decode()
    assert "--brand-primary: #3b1f5e" in css and fetch(client, f"{world.report}/logo.jpg")[0] == 200
    status, _, data = fetch(client, f"{world.report}.pdf")
    assert status == 200
    text = pdf_text(read_pdf(data))
    assert PREPARED in text and "Northwind: confidential" in text


# The ZIP of each client's latest report ----------------------------------------------------------------------------


def read_zip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.fixture
def clients(app, make, world):
    """Besides Harbour Physio: Quay Dental (two audits), Mill Bakery (none yet), Fox Garage (its render fails),
    Old Oak (revoked), Elm Vets (the link lets consultants audit only) and a business of no one's."""
    orgs = {}
    for name, role in (
        ("Quay Dental", LinkRole.CONSULTANT_MANAGER),
        ("Mill Bakery", LinkRole.CONSULTANT_MANAGER),
        ("Fox Garage", LinkRole.CONSULTANT_MANAGER),
        ("Old Oak", LinkRole.CONSULTANT_MANAGER),
        ("Elm Vets", LinkRole.CONSULTANT_AUDITOR),
    ):
        orgs[name] = make.org(name)
        make.client_link(world.consultancy, orgs[name], role=role)
    owner = make.member(orgs["Quay Dental"], Role.OWNER)
    earlier = utcnow() - timedelta(days=3)
    own = make.checklist(orgs["Quay Dental"], by=owner)
    make.submitted_audit(orgs["Quay Dental"], owner, ANSWERS, checklist=own, submitted_at=earlier)
    latest = make.submitted_audit(orgs["Quay Dental"], world.c_manager, ANSWERS, checklist=world.checklist)
    failing = make.submitted_audit(orgs["Fox Garage"], world.c_manager, ANSWERS, checklist=world.checklist)
    make.submitted_audit(orgs["Old Oak"], world.c_manager, ANSWERS, checklist=world.checklist)
    make.submitted_audit(orgs["Elm Vets"], world.c_manager, ANSWERS, checklist=world.checklist)
    revoke(app, world.consultancy, orgs["Old Oak"])
    orgs["business"] = make.org("Corner Shop")
    return SimpleNamespace(orgs=orgs, quay_latest=latest, failing=failing, business_owner=make.member(orgs["business"]))


def test_the_latest_reports_zip_is_for_a_consultancy_managers_and_owners(client, login, world, clients):
    login(clients.business_owner)
    assert fetch(client, f"/o/{clients.orgs['business'].slug}/reports/bundles")[0] == 404
    login(world.owner)  # a client's owner: the client is a business
    assert fetch(client, f"{world.base}/reports/bundles")[0] == 404
    login(world.c_auditor)
    assert fetch(client, f"/o/{world.consultancy.slug}/reports/bundles")[0] == 403
    assert client.post(f"/o/{world.consultancy.slug}/reports/bundles").status_code == 403
    login(world.owner)  # not a member of the consultancy at all
    assert fetch(client, f"/o/{world.consultancy.slug}/reports/bundles")[0] == 404


def ask_for_zip(app, client, base) -> tuple[int, dict, bytes]:
    """Ask for a ZIP, watch it being prepared, let the job queue make it, and download it."""
    assert client.post(f"{base}/reports/bundles").status_code == 303
    page = client.get(f"{base}/reports/bundles").get_data(as_text=True)
    status_url = re.search(r'data-status-url="([^"]+)"', page).group(1)
    assert client.get(status_url).get_json()["state"] == "queued"
    with app.app_context():
        assert run_pending() == 1
    ready = client.get(status_url).get_json()
    assert ready["state"] == "ready", ready
    return fetch(client, ready["download_url"])


def test_the_latest_reports_zip_holds_each_managed_client_latest_pdf(
    app, client, login, make, world, clients, monkeypatch
):
    real_render_now = rendering.render_now
    renders = []

    def render_now(audit_id):
        if audit_id == clients.failing.id:
            raise pdf.RenderError("Making the PDF took longer than 60 seconds, so it was stopped.")
        document = real_render_now(audit_id)
        renders.append((audit_id, document.cached))
        return document

    monkeypatch.setattr(rendering, "render_now", render_now)
    login(world.c_manager)
    base = f"/o/{world.consultancy.slug}"
    status, headers, data = ask_for_zip(app, client, base)
    assert status == 200 and headers["Content-Type"] == "application/zip"
    today = utcnow().strftime("%Y-%m-%d")
    assert headers["Content-Disposition"] == f"attachment; filename={world.consultancy.slug}-latest-reports-{today}.zip"
    files = read_zip(data)
    quay, harbour = clients.orgs["Quay Dental"], world.client
    pdfs = sorted(name for name in files if name.endswith(".pdf"))
    assert [name.split("/")[0] for name in pdfs] == sorted([harbour.slug, quay.slug])
    assert set(files) == {*pdfs, "README.txt"}
    for name in pdfs:
        slug, filename = name.split("/")
        assert re.fullmatch(r"[a-z0-9-]+-\d{4}-\d\d-\d\d\.pdf", filename)
        text = pdf_text(read_pdf(files[name]))
        if slug == quay.slug:  # the latest audit, on Northwind's checklist, not the earlier one on Quay's own
            assert "Prepared for Quay Dental by Northwind" in text and filename.startswith("quay-dental-")
        else:  # Harbour's latest is the audit on its own checklist
            assert "Harbour Physio" in text and "Prepared for" not in text and "Harbour's own footer" in text
    readme = files["README.txt"].decode()
    assert "No submitted audit yet:\n- Mill Bakery" in readme
    assert "Could not be included:\n- Fox Garage" in readme and "took longer than 60 seconds" in readme
    assert "not a manager or owner there:\n- Elm Vets" in readme
    assert "Old Oak" not in readme and not any(clients.orgs["Old Oak"].slug in name for name in files)
    assert f"Quay Dental ({quay.slug}): {quay.slug}/" in readme
    assert sorted(renders) == sorted([(clients.quay_latest.id, False), (world.own.id, False)])

    rendered_at = make.get(ReportPdf, clients.quay_latest.id).rendered_at
    renders.clear()
    again = read_zip(ask_for_zip(app, client, base)[2])
    assert {name: again[name] for name in pdfs} == {name: files[name] for name in pdfs}
    assert all(cached for _, cached in renders) and len(renders) == 2  # what is cached is not rendered again
    assert make.get(ReportPdf, clients.quay_latest.id).rendered_at == rendered_at
    mine = re.search(r'href="([^"]+\.zip)"', client.get(f"{base}/reports/bundles").get_data(as_text=True)).group(1)
    login(world.c_owner)
    assert fetch(client, mine)[0] == 404  # a ZIP is for the person who asked for it


def test_a_consultancy_with_no_client_it_may_bundle_gets_a_message_not_an_empty_zip(app, client, login, make, world):
    alone = make.consultancy("Solo Advisory")
    manager = make.member(alone, Role.MANAGER)
    login(manager)
    response = client.post(f"/o/{alone.slug}/reports/bundles")
    assert response.status_code == 409 and response.headers["Content-Type"].startswith("text/html")
    assert b"nothing to download yet" in response.data
    revoke(app, world.consultancy, world.client)  # its only client
    login(world.c_manager)
    response = client.post(f"/o/{world.consultancy.slug}/reports/bundles")
    assert response.status_code == 409 and b"no active client" in response.data
