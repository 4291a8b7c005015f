import re

from shopper.orgs.models import Role
from shopper.pwa.shell import shell_version


def test_manifest_makes_the_app_installable(client):
    response = client.get("/manifest.webmanifest")
    assert response.mimetype == "application/manifest+json"
    manifest = response.get_json()
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/" and manifest["scope"] == "/"
    sizes = {(icon["sizes"], icon.get("purpose", "any")) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in manifest["icons"]:
        image = client.get(icon["src"])
        assert image.status_code == 200 and image.data[:8] == b"\x89PNG\r\n\x1a\n"
        image.close()


def test_service_worker_is_served_at_the_root_with_its_shell(client):
    response = client.get("/sw.js")
    assert response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert response.headers["Cache-Control"] == "no-cache"
    body = response.get_data(as_text=True)
    version = re.search(r'const VERSION = "([0-9a-f]{12})"', body).group(1)
    for path in ("/static/css/app.css", "/static/js/pwa.js", "/static/icons/icon-512.png", "/offline"):
        assert path in body
    assert f"?v={version}" in body
    page = client.get("/login").get_data(as_text=True)
    assert f"/static/css/app.css?v={version}" in page  # pages ask for the very files the worker keeps
    assert 'rel="manifest"' in page


def test_the_shell_version_changes_when_a_shell_file_changes(tmp_path):
    static, templates = tmp_path / "static", tmp_path / "templates"
    (static / "css").mkdir(parents=True)
    (templates / "pwa").mkdir(parents=True)
    for name in ("pwa/sw.js", "pwa/offline.html", "base.html"):
        (templates / name).write_text("x")
    (static / "css" / "app.css").write_text("body { color: black }")
    before = shell_version.__wrapped__(str(static), str(templates))
    (static / "css" / "app.css").write_text("body { color: navy }")
    assert shell_version.__wrapped__(str(static), str(templates)) != before


def test_offline_page_needs_no_account(client):
    page = client.get("/offline")
    assert page.status_code == 200 and b"No connection" in page.data


def test_an_audit_lists_what_to_keep_offline(client, login, make):
    org = make.org()
    auditor = make.member(org, Role.AUDITOR)
    audit = make.audit(org, auditor)
    login(auditor)
    listing = client.get(f"/o/{org.slug}/audits/{audit.id}/offline.json").get_json()
    assert f"/o/{org.slug}/audits/{audit.id}/walk/billing-line" in listing["urls"]
    assert f"/o/{org.slug}/api/audits/{audit.id}" in listing["urls"]
    login(make.member(make.org(), Role.OWNER))
    assert client.get(f"/o/{org.slug}/audits/{audit.id}/offline.json").status_code == 404
