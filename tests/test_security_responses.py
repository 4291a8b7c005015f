"""What every response promises (issue 12): security headers everywhere, cookie flags, download names that carry
no path or control character, and an Idempotency-Key that never hands one person another person's result."""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from copy import deepcopy
from types import SimpleNamespace

import pytest

from shopper.extensions import db
from shopper.jobs import run_pending
from shopper.media import get_storage
from shopper.orgs.models import Organization, Role
from shopper.reports import bundle
from shopper.reports.service import pdf_filename
from shopper.timeutil import utcnow
from tests.conftest import download, make_app
from tests.factories import PASSWORD, SMALL_CHECKLIST
from tests.test_reports_support import walk_and_submit

HEADERS = {
    "Content-Security-Policy": ("default-src 'self'", "frame-ancestors 'none'", "object-src 'none'"),
    "X-Content-Type-Options": ("nosniff",),
    "Referrer-Policy": ("",),
    "Permissions-Policy": ("camera=(self)", "geolocation=()", "microphone=()"),
    "X-Frame-Options": ("DENY",),
}


def check_headers(response, where: str) -> None:
    for name, parts in HEADERS.items():
        assert name in response.headers, f"{name} missing on {where}"
        for part in parts:
            assert part in response.headers[name], f"{name} of {where}: {response.headers[name]!r}"


def test_every_kind_of_response_carries_the_security_headers(app, client, make, login):
    org = make.org()
    owner = make.member(org, Role.OWNER)
    anonymous = app.test_client()
    for where in (
        "/login",
        "/",
        "/healthz",
        "/sw.js",
        "/manifest.webmanifest",
        "/static/css/app.css",
        "/nowhere",
        "/r/" + "A" * 43,
        "/o/nowhere/",
    ):
        with anonymous.get(where) as response:
            check_headers(response, where)
    check_headers(anonymous.post("/login", data={"email": "x"}), "a refused sign-in")
    login(owner)
    for where in (f"/o/{org.slug}/", f"/o/{org.slug}/api/audits/999999", f"/o/{org.slug}/security"):
        check_headers(client.get(where), where)
    check_headers(client.put(f"/o/{org.slug}/api/audits/1/answers/x", data="{"), "a refused API write")


def test_share_pages_tell_nobody_where_they_came_from(app, client, make, login):
    org = make.org()
    owner = login(make.member(org, Role.OWNER))
    checklist = make.checklist(org, by=owner)
    site = make.site(org)
    with app.app_context():
        audit_id = walk_and_submit(org.id, owner.id, checklist.id, site.id, app.config["MEDIA_ROOT"])
    created = client.post(f"/o/{org.slug}/audits/{audit_id}/report/shares").get_data(as_text=True)
    link = re.search(r"http://shopper\.test(/r/[A-Za-z0-9_-]+)", created).group(1)
    page = app.test_client().get(link)
    assert page.headers["Referrer-Policy"] == "no-referrer" and "noindex" in page.headers["X-Robots-Tag"]


@pytest.fixture
def https_app(tmp_path, app):
    return make_app(
        tmp_path, DATABASE_URL=app.config["DATABASE_URL"], SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True
    )


def test_over_https_every_cookie_is_secure_http_only_and_same_site(https_app, database, make):
    user = make.user()
    browser = https_app.test_client()
    response = browser.post(
        "/login", data={"email": user.email, "password": PASSWORD, "remember": "y"}, base_url="https://shopper.test"
    )
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    assert set(cookies) == {"session", "remember_token", "shopper_device"}
    for name, cookie in cookies.items():
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie, name
    assert "Strict-Transport-Security" in response.headers


def test_download_names_carry_no_path_quote_or_control_character(app, client, make, login):
    org = make.org('../../etc/"passwd"\r\nX-Evil: 1')
    owner = login(make.member(org, Role.OWNER))
    checklist = make.checklist(org, by=owner, definition=hostile_checklist())
    exported = client.get(f"/o/{org.slug}/checklists/{checklist.id}/versions/1.csv")
    assert exported.status_code == 200
    for response in (exported, client.get(f"/o/{org.slug}/dashboard/answers.csv")):
        name = re.fullmatch(r'attachment; filename="?([^"]+)"?', response.headers["Content-Disposition"]).group(1)
        assert re.fullmatch(r"[A-Za-z0-9._-]+", name), name
    site = make.site(org, 'Quay\\Side/../"2"')
    with app.app_context():
        audit_id = walk_and_submit(org.id, owner.id, checklist.id, site.id, app.config["MEDIA_ROOT"])
    status, headers, _ = download(client, f"/o/{org.slug}/audits/{audit_id}/report.pdf")
    assert status == 200
    name = re.fullmatch(r"attachment; filename=([^;]+)", headers["Content-Disposition"]).group(1)
    assert re.fullmatch(r"[a-z0-9.-]+\.pdf", name), name


def hostile_checklist():
    definition = deepcopy(SMALL_CHECKLIST)
    definition["title"] = '../"Billing"\\check'
    return definition


def test_a_pdf_name_is_ascii_letters_digits_and_dashes_whatever_the_names():
    report = SimpleNamespace(business="Ça & Co /../", site='Quay\\"Side"\r\n', submitted_at=None)
    assert re.fullmatch(r"[a-z0-9-]+\.pdf", pdf_filename(report))


def test_zip_entries_are_client_slug_and_pdf_name_only(app, client, make, login):
    firm = make.consultancy('Firm "/../"')
    manager = login(make.member(firm, Role.OWNER))
    business = make.org('Shop\\"/../\r\n')
    owner = make.member(business, Role.OWNER)
    make.client_link(firm, business)
    checklist = make.checklist(business, by=owner)
    site = make.site(business, "../side")
    with app.app_context():
        walk_and_submit(business.id, owner.id, checklist.id, site.id, app.config["MEDIA_ROOT"])
        made = bundle.request_bundle(db.session.get(Organization, firm.id), manager.id, utcnow())
        run_pending()
        db.session.refresh(made)
        data = get_storage().read(made.storage_key)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            assert name == "README.txt" or re.fullmatch(r"[a-z0-9-]+/[a-z0-9-]+\.pdf", name), name


def test_an_idempotency_key_never_returns_another_persons_or_audits_result(client, make, login):
    org = make.org()
    first, second = make.member(org, Role.AUDITOR), make.member(org, Role.AUDITOR)
    audit_one, audit_two = make.audit(org, first), make.audit(org, second)
    key = uuid.uuid4().hex
    login(first)
    body = {"value": 30, "client_ts": 1}
    assert (
        client.put(
            f"/o/{org.slug}/api/audits/{audit_one.id}/answers/answer-time", json=body, headers={"Idempotency-Key": key}
        ).status_code
        == 200
    )
    login(second)
    reused = client.put(
        f"/o/{org.slug}/api/audits/{audit_two.id}/answers/answer-time", json=body, headers={"Idempotency-Key": key}
    )
    assert reused.status_code == 422 and "already used" in reused.get_json()["error"]
    assert "answer" not in reused.get_json()
