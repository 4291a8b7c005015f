"""Report pages through the app: who sees what, share links, brand settings, the PDF cache, the CLI and the demo."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image

from shopper.audits.models import Audit
from shopper.demo import DEMO_REPORT_SCENARIO
from shopper.extensions import db
from shopper.media.storage import LocalStorage
from shopper.orgs.models import Organization, Role
from shopper.reports.brand import BrandError, store_logo
from shopper.reports.models import ReportPdf, ShareLink
from shopper.timeutil import utcnow
from tests.conftest import download
from tests.images import encode
from tests.test_reports_support import read_pdf, reopen_and_resubmit, walk_and_submit


@pytest.fixture
def world(app, make):
    org = make.org("Harbour Physio")
    owner = make.member(org, Role.OWNER)
    auditor = make.member(org, Role.AUDITOR)
    checklist = make.checklist(org, by=owner)
    site = make.site(org, "Harbour Street")
    with app.app_context():
        audit_id = walk_and_submit(org.id, auditor.id, checklist.id, site.id, app.config["MEDIA_ROOT"])
    return {
        "org": org,
        "owner": owner,
        "manager": make.member(org, Role.MANAGER),
        "auditor": auditor,
        "colleague": make.member(org, Role.AUDITOR),
        "checklist": checklist,
        "site": site,
        "audit_id": audit_id,
        "stranger": make.member(make.org(), Role.OWNER),
        "base": f"/o/{org.slug}",
        "report": f"/o/{org.slug}/audits/{audit_id}/report",
    }


get_pdf = download


def share(client, world, days=None) -> str:
    data = {} if days is None else {"days": days}
    response = client.post(f"{world['report']}/shares", data=data)
    assert response.status_code == 201
    link = re.search(r'value="(http://shopper\.test/r/[A-Za-z0-9_-]+)"', response.get_data(as_text=True)).group(1)
    return link.removeprefix("http://shopper.test")


# Who sees what --------------------------------------------------------------------------------------------------


def test_owners_managers_and_the_audits_auditor_read_the_report_and_download_the_pdf(client, login, world):
    for who in ("owner", "manager", "auditor"):
        login(world[who])
        page = client.get(world["report"])
        assert page.status_code == 200, who
        html = page.get_data(as_text=True)
        assert "Be your customer" in html and "Promises kept: " in html and "Harbour Street" in html
        assert "style=" not in html and "<style" not in html  # the CSP allows stylesheets only
        status, headers, data = get_pdf(client, f"{world['report']}.pdf")
        assert status == 200 and headers["Content-Type"] == "application/pdf"
        assert re.match(
            r"attachment; filename=harbour-physio-harbour-street-\d{4}-\d\d-\d\d\.pdf$", headers["Content-Disposition"]
        )
        assert data.startswith(b"%PDF")


def test_another_auditor_and_other_organizations_get_404_on_every_report_route(client, login, world):
    login(world["colleague"])
    assert client.get(world["report"]).status_code == 404
    assert get_pdf(client, f"{world['report']}.pdf")[0] == 404
    login(world["stranger"])
    base, report = world["base"], world["report"]
    for url in (report, f"{report}.pdf", f"{base}/reports/brand.css", f"{base}/brand/logo.jpg", f"{base}/brand"):
        assert get_pdf(client, url)[0] == 404, url
    assert client.post(f"{report}/shares").status_code == 404
    assert client.post(f"{report}/shares/1/revoke").status_code == 404
    assert client.post(f"{base}/brand", data={"primary_color": "#000000"}).status_code == 404


def test_a_share_link_of_another_organization_cannot_be_revoked_from_here(client, login, make, app, world):
    login(world["owner"])
    share(client, world)
    link = make.find(ShareLink, audit_id=world["audit_id"])
    other = make.org()
    other_owner = make.member(other, Role.OWNER)
    login(other_owner)
    assert client.post(f"/o/{other.slug}/audits/{world['audit_id']}/report/shares/{link.id}/revoke").status_code == 404
    assert make.get(ShareLink, link.id).revoked_at is None


def test_a_report_waits_for_the_audit_to_be_submitted(app, client, login, make, world):
    audit = make.audit(world["org"], world["owner"], checklist=world["checklist"], site=world["site"])
    login(world["owner"])
    page = client.get(f"{world['base']}/audits/{audit.id}/report")
    assert page.status_code == 409 and "once the audit is submitted" in page.get_data(as_text=True)
    assert get_pdf(client, f"{world['base']}/audits/{audit.id}/report.pdf")[0] == 409


def test_the_overview_links_to_the_report_and_lists_share_links(client, login, world):
    login(world["owner"])
    share(client, world)
    overview = client.get(f"{world['base']}/audits/{world['audit_id']}").get_data(as_text=True)
    assert f'href="{world["report"]}"' in overview and f'href="{world["report"]}.pdf"' in overview
    assert "Share the report" in overview and "Link …" in overview and "works until" in overview
    login(world["auditor"])
    overview = client.get(f"{world['base']}/audits/{world['audit_id']}").get_data(as_text=True)
    assert "Share the report" not in overview and f'href="{world["report"]}"' in overview


# Share links ----------------------------------------------------------------------------------------------------


def test_a_share_link_opens_the_report_and_nothing_else_until_it_is_revoked(app, client, login, make, world):
    login(world["auditor"])
    assert client.post(f"{world['report']}/shares").status_code == 403
    login(world["owner"])
    url = share(client, world)
    stored = make.find(ShareLink, audit_id=world["audit_id"])
    token = url.rsplit("/", 1)[1]
    assert stored.token_hash != token and len(stored.token_hash) == 64 and token not in stored.token_hash
    assert stored.expires_at - stored.created_at == timedelta(days=30)

    visitor = app.test_client()
    page = visitor.get(url)
    assert page.status_code == 200
    assert "noindex" in page.headers["X-Robots-Tag"] and page.headers["Referrer-Policy"] == "no-referrer"
    html = page.get_data(as_text=True)
    assert '<meta name="robots" content="noindex, nofollow">' in html
    assert "Back to the audit" not in html and 'href="/o/' not in html and 'src="/o/' not in html
    assert "/login" not in html and "orgnav" not in html
    photos = re.findall(r'src="(/r/[^"]+/photos/[^"]+\.jpg)"', html)
    assert photos and all(visitor.get(src).status_code == 200 for src in photos)
    assert (
        visitor.get(re.search(r'href="(/r/[^"]+/brand\.css[^"]*)"', html).group(1).replace("&amp;", "&")).status_code
        == 200
    )
    status, headers, data = get_pdf(visitor, f"{url}/report.pdf")
    assert status == 200 and data.startswith(b"%PDF") and "noindex" in headers["X-Robots-Tag"]

    client.post(f"{world['report']}/shares/{stored.id}/revoke")
    assert make.get(ShareLink, stored.id).revoked_at is not None
    for target in (url, f"{url}/report.pdf", photos[0]):
        response = visitor.get(target)
        assert response.status_code == 404 and "noindex" in response.headers["X-Robots-Tag"]
        assert "<a " not in response.get_data(as_text=True)  # a dead link leads nowhere else either


def test_expired_forged_and_malformed_tokens_are_404(app, client, login, make, world):
    login(world["owner"])
    url = share(client, world, days=1)
    visitor = app.test_client()
    assert visitor.get(url).status_code == 200
    with app.app_context():
        link = db.session.scalar(db.select(ShareLink).where(ShareLink.audit_id == world["audit_id"]))
        link.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert visitor.get(url).status_code == 404
    assert visitor.get("/r/" + "A" * 43).status_code == 404
    assert visitor.get("/r/short").status_code == 404
    assert visitor.get(url + "x").status_code == 404


def test_a_share_link_shows_only_its_own_audits_photos(app, client, login, make, world):
    with app.app_context():
        other_id = walk_and_submit(
            world["org"].id, world["owner"].id, world["checklist"].id, world["site"].id, app.config["MEDIA_ROOT"]
        )
        other_photo = db.session.get(Audit, other_id).photos[0].id
    login(world["owner"])
    url = share(client, world)
    assert app.test_client().get(f"{url}/photos/{other_photo}/thumb.jpg").status_code == 404


def test_share_link_lifetimes_are_checked(client, login, make, world):
    login(world["owner"])
    client.post(f"{world['report']}/shares", data={"days": "0"})
    client.post(f"{world['report']}/shares", data={"days": "1000"})
    assert make.count(ShareLink, audit_id=world["audit_id"]) == 0


# Brand settings -------------------------------------------------------------------------------------------------


def png(size=(300, 100), colour=(15, 92, 99)) -> bytes:
    return encode(Image.new("RGB", size, colour), "PNG")


def post_brand(client, world, logo=None, **fields):
    data = {"display_name": "", "primary_color": "", "accent_color": "", "report_footer": "", "contact_line": ""}
    data.update(fields)
    if logo is not None:
        data["logo"] = (io.BytesIO(logo[1]), logo[0])
    return client.post(f"{world['base']}/brand", data=data, content_type="multipart/form-data")


def test_a_manager_sets_the_brand_and_every_report_wears_it(app, client, login, make, world):
    login(world["auditor"])
    assert client.get(f"{world['base']}/brand").status_code == 403
    login(world["manager"])
    assert "Brand" in client.get(f"{world['base']}/").get_data(as_text=True)
    response = post_brand(
        client,
        world,
        logo=("logo.png", png()),
        display_name="Harbour Physio & Co",
        primary_color="#0F5C63",
        accent_color="#ffff00",
        report_footer="Confidential <b>footer</b>",
        contact_line="Ask Olivia",
    )
    assert response.status_code == 302
    page = client.get(f"{world['base']}/brand").get_data(as_text=True)
    assert "dark text on it instead" in page  # the accent is accepted with a warning
    org = make.get(Organization, world["org"].id)
    assert (org.primary_color, org.accent_color, org.display_name) == ("#0f5c63", "#ffff00", "Harbour Physio & Co")
    css = client.get(f"{world['base']}/reports/brand.css")
    assert css.mimetype == "text/css" and "--brand-primary: #0f5c63" in css.get_data(as_text=True)
    assert "Confidential" not in css.get_data(as_text=True)
    logo = client.get(f"{world['base']}/brand/logo.jpg")
    assert logo.status_code == 200 and logo.mimetype == "image/jpeg"
    media = Path(app.config["MEDIA_ROOT"], str(org.id), "brand")
    assert sorted(p.name for p in media.iterdir()) == sorted(
        f"logo-{org.logo_media_id}-{r}.jpg" for r in ("print", "thumb")
    )
    html = client.get(world["report"]).get_data(as_text=True)
    assert "Harbour Physio &amp; Co" in html and "Confidential &lt;b&gt;footer&lt;/b&gt;" in html
    assert f"/audits/{world['audit_id']}/report/logo.jpg" in html
    status, _, data = get_pdf(client, f"{world['report']}.pdf")
    reader = read_pdf(data)
    assert (
        reader.metadata.author == "Harbour Physio & Co"
        and "Confidential <b>footer</b>" in reader.pages[1].extract_text()
    )

    old_logo = org.logo_media_id
    post_brand(client, world, remove_logo="y", primary_color="#0f5c63")
    assert make.get(Organization, org.id).logo_media_id is None and not any(media.iterdir())
    assert old_logo


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"primary_color": "red"}, "six hexadecimal digits"),
        ({"primary_color": "#12345"}, "six hexadecimal digits"),
        ({"accent_color": "#12345"}, "six hexadecimal digits"),
        ({"primary_color": "#ffffff"}, "contrast of only 1.0:1"),
        ({"primary_color": "#f2a541"}, "Choose a darker colour"),
        (
            {"logo": ("logo.svg", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>')},
            "SVG logos can&#39;t be used",
        ),
        ({"logo": ("logo.gif", encode(Image.new("RGB", (10, 10)), "GIF"))}, "A GIF file can&#39;t be used"),
        ({"logo": ("logo.webp", encode(Image.new("RGB", (10, 10)), "WEBP"))}, "Upload the logo as PNG or JPEG"),
        ({"logo": ("huge.png", encode(Image.new("L", (6000, 10)), "PNG"))}, "6000 x 10 pixels"),
        ({"logo": ("broken.png", png()[:200])}, "damaged or incomplete"),
        ({"logo": ("text.png", b"just some text")}, "Upload the logo as PNG or JPEG"),
    ],
)
def test_bad_brand_input_is_refused_with_a_message_and_nothing_changes(
    app, client, login, make, world, fields, message
):
    login(world["owner"])
    logo = fields.pop("logo", None)
    response = post_brand(client, world, logo=logo, display_name="Should not stick", **fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    org = make.get(Organization, world["org"].id)
    assert org.display_name is None and org.primary_color is None and org.logo_media_id is None
    assert not Path(app.config["MEDIA_ROOT"], str(org.id), "brand").exists()


def test_a_logo_over_5_mb_is_refused_before_it_is_decoded(app, make, world):
    # Checked below the view: the test client spools a body this large to a temporary file it never closes.
    big = b"\x89PNG\r\n\x1a\n" + bytes(6 * 1024 * 1024)
    with app.app_context(), pytest.raises(BrandError, match="larger than 5 MB"):
        store_logo(world["org"].id, big, LocalStorage(app.config["MEDIA_ROOT"]))
    assert not Path(app.config["MEDIA_ROOT"]).exists() or not any(Path(app.config["MEDIA_ROOT"]).rglob("logo-*"))


def test_the_report_page_makes_the_same_few_queries_however_many_photos(app, client, login, make, world, count_queries):
    with app.app_context():
        many = walk_and_submit(
            world["org"].id,
            world["owner"].id,
            world["checklist"].id,
            world["site"].id,
            app.config["MEDIA_ROOT"],
            photos_per_touchpoint=4,
        )
    login(world["owner"])
    client.get(world["report"])
    with count_queries() as few_photos:
        client.get(world["report"])
    with count_queries() as more_photos:
        client.get(f"{world['base']}/audits/{many}/report")
    assert more_photos.count == few_photos.count <= 16


# The PDF cache, page size, failures -------------------------------------------------------------------------------


def test_the_pdf_is_rendered_once_per_revision_and_brand(app, client, login, make, world):
    login(world["owner"])
    first = get_pdf(client, f"{world['report']}.pdf")[2]
    record = make.get(ReportPdf, world["audit_id"])
    media = Path(app.config["MEDIA_ROOT"], str(world["org"].id), str(world["audit_id"]))
    assert [p.name for p in media.glob("report-*.pdf")] == [Path(record.storage_key).name]
    assert get_pdf(client, f"{world['report']}.pdf")[2] == first
    assert make.get(ReportPdf, world["audit_id"]).rendered_at == record.rendered_at

    post_brand(client, world, primary_color="#000000")
    get_pdf(client, f"{world['report']}.pdf")
    rebranded = make.get(ReportPdf, world["audit_id"])
    assert rebranded.fingerprint != record.fingerprint
    assert [p.name for p in media.glob("report-*.pdf")] == [Path(rebranded.storage_key).name]

    with app.app_context():
        reopen_and_resubmit(world["audit_id"], world["owner"].id)
    get_pdf(client, f"{world['report']}.pdf")
    resubmitted = make.get(ReportPdf, world["audit_id"])
    assert resubmitted.revision > rebranded.revision and resubmitted.fingerprint != rebranded.fingerprint
    assert len(list(media.glob("report-*.pdf"))) == 1 and not list(media.glob(".*"))


def test_us_letter_by_setting(app, client, login, world):
    login(world["owner"])
    app.config["REPORT_PAGE_SIZE"] = "letter"
    try:
        data = get_pdf(client, f"{world['report']}.pdf")[2]
    finally:
        app.config["REPORT_PAGE_SIZE"] = "A4"
    box = read_pdf(data).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)
    box = read_pdf(get_pdf(client, f"{world['report']}.pdf")[2]).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)


def test_a_render_past_its_time_limit_fails_clearly_and_leaves_no_file(app, client, login, make, world):
    login(world["owner"])
    saved = app.config["REPORT_RENDER_TIMEOUT"]
    app.config["REPORT_RENDER_TIMEOUT"] = 0.001
    try:
        status, _, body = get_pdf(client, f"{world['report']}.pdf")
    finally:
        app.config["REPORT_RENDER_TIMEOUT"] = saved
    assert status == 202 and b"could not be made" in body
    assert b"took longer than 0.001 seconds" in body and b"nothing was saved" in body and b"Try again" in body
    assert make.get(ReportPdf, world["audit_id"]) is None
    media = Path(app.config["MEDIA_ROOT"], str(world["org"].id), str(world["audit_id"]))
    assert not list(media.glob("*.pdf")) and not list(media.glob(".*"))


# CLI and demo -----------------------------------------------------------------------------------------------------


def test_report_render_writes_the_pdf(app, make, world, tmp_path):
    target = tmp_path / "out" / "report.pdf"
    target.parent.mkdir()
    result = app.test_cli_runner().invoke(args=["report", "render", str(world["audit_id"]), "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert "rendered now" in result.output and read_pdf(target.read_bytes()).metadata.title.startswith("Be your")
    again = app.test_cli_runner().invoke(args=["report", "render", str(world["audit_id"]), "-o", str(target)])
    assert "unchanged since the last render" in again.output
    assert [p.name for p in target.parent.iterdir()] == ["report.pdf"]
    missing = app.test_cli_runner().invoke(args=["report", "render", "999999", "-o", str(target)])
    assert missing.exit_code != 0 and "No audit 999999" in missing.output
    unsubmitted = make.audit(world["org"], world["owner"], checklist=world["checklist"], site=world["site"])
    refused = app.test_cli_runner().invoke(args=["report", "render", str(unsubmitted.id)])
    assert refused.exit_code != 0 and "once the audit is submitted" in refused.output


def test_the_demo_has_a_submitted_audit_with_a_full_report(app, client, make):
    app.test_cli_runner().invoke(args=["demo"])
    app.test_cli_runner().invoke(args=["demo"])
    audit = make.find(Audit, scenario=DEMO_REPORT_SCENARIO)  # once, however often the demo is loaded
    assert audit is not None and audit.status == "submitted"
    client.post("/login", data={"email": "owner@demo.shopper.test", "password": "demo-owner-walks-the-line"})
    html = client.get(f"/o/demo/audits/{audit.id}/report").get_data(as_text=True)
    assert "Promises kept: 3 of 8" in html and "4 min 10 s" in html and "Worst moment" in html
    assert html.count("/photos/") >= 5 and f"/audits/{audit.id}/report/logo.jpg" in html
