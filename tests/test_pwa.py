import json
import re
from html.parser import HTMLParser

from flask import url_for

from shopper.audits.models import Audit
from shopper.orgs.models import Role
from shopper.pwa.files import prepare_text
from shopper.pwa.shell import Shell, shell_version


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


def test_the_shell_version_changes_when_a_shell_file_a_template_or_the_salt_changes(tmp_path):
    static, templates = tmp_path / "static", tmp_path / "templates"
    (static / "css").mkdir(parents=True)
    (templates / "pwa").mkdir(parents=True)
    (templates / "audits").mkdir(parents=True)
    for name in ("pwa/sw.js", "pwa/offline.html", "base.html", "audits/walk.html"):
        (templates / name).write_text("x")
    (static / "css" / "app.css").write_text("body { color: black }")

    def version(salt=""):
        return shell_version.__wrapped__(str(static), str(templates), salt)

    first = version()
    (static / "css" / "app.css").write_text("body { color: navy }")
    second = version()
    (templates / "audits" / "walk.html").write_text("y")  # a page kept offline changes: phones fetch it again
    third = version()
    assert len({first, second, third, version("deploy 2")}) == 4
    assert version() == third


def test_a_deploy_can_make_every_phone_take_a_fresh_copy_by_configuration(client, app, monkeypatch):
    def served_version():
        return re.search(r'const VERSION = "([0-9a-f]{12})"', client.get("/sw.js").get_data(as_text=True)).group(1)

    before = served_version()
    monkeypatch.setitem(app.config, "SHELL_VERSION_SALT", "second deploy")
    after = served_version()
    assert after != before
    assert f"/static/css/app.css?v={after}" in client.get("/login").get_data(as_text=True)


def test_the_worker_loads_the_outbox_code_the_pages_run(client):
    body = client.get("/sw.js").get_data(as_text=True)
    version = re.search(r'const VERSION = "([0-9a-f]{12})"', body).group(1)
    assert f'importScripts("/static/js/outbox.js?v={version}");' in body
    assert 'self.addEventListener("sync"' in body
    outbox = client.get(f"/static/js/outbox.js?v={version}")
    assert outbox.status_code == 200 and "scope.ShopperOutbox = " in outbox.get_data(as_text=True)
    outbox.close()


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


def test_a_walk_page_fetched_to_keep_offline_is_not_a_visit(client, login, make):
    org = make.org()
    auditor = make.member(org, Role.AUDITOR)
    audit = make.audit(org, auditor)
    login(auditor)
    walk = f"/o/{org.slug}/audits/{audit.id}/walk/billing-line"
    assert client.get(walk, headers={"Purpose": "prefetch"}).status_code == 200
    assert make.get(Audit, audit.id).last_touchpoint_key is None
    assert client.get(walk).status_code == 200
    assert make.get(Audit, audit.id).last_touchpoint_key == "billing-line"


class _Elements(HTMLParser):
    def __init__(self, html: str):
        super().__init__()
        self.found: list[tuple[str, dict]] = []
        self.text: dict[str, str] = {}
        self._open: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = {name: value or "" for name, value in attrs}  # a bare attribute reads as ""
        self.found.append((tag, attrs))
        self._open = attrs.get("id")

    def handle_data(self, data):
        if self._open:
            self.text[self._open] = self.text.get(self._open, "") + data

    def one(self, **wanted) -> dict:
        wanted = {name.replace("_", "-"): value for name, value in wanted.items()}
        matches = [attrs for _, attrs in self.found if all(attrs.get(k) == v for k, v in wanted.items())]
        assert len(matches) == 1, (wanted, matches)
        return matches[0]


def test_every_page_carries_the_sync_indicator_for_the_person_signed_in(client, login, make):
    anonymous = _Elements(client.get("/login").get_data(as_text=True))
    assert anonymous.one(id="sync")["data-user"] == ""
    org = make.org()
    auditor = make.member(org, Role.AUDITOR)
    audit = make.audit(org, auditor)
    login(auditor)
    walk = f"/o/{org.slug}/audits/{audit.id}/walk/billing-line"
    page = _Elements(client.get(walk).get_data(as_text=True))
    assert page.one(id="sync")["data-user"] == str(auditor.id)
    assert page.one(data_sync_signin="")["href"] == f"/login?next={walk}"  # back here once signed in
    assert page.one(id="walk")["data-audit-home"] == f"/o/{org.slug}/audits/{audit.id}"
    assert page.one(data_keep_offline=f"/o/{org.slug}/audits/{audit.id}/offline.json")
    scripts = [attrs["src"].partition("?")[0] for tag, attrs in page.found if tag == "script" and "src" in attrs]
    assert {"/static/js/pwa.js", "/static/js/sync-status.js", "/static/js/walk.js"} <= set(scripts)


def test_the_review_page_hands_its_state_to_the_phone_and_submits_through_the_api(client, login, make):
    org = make.org()
    auditor = make.member(org, Role.AUDITOR)
    audit = make.audit(org, auditor)
    login(auditor)
    page = _Elements(client.get(f"/o/{org.slug}/audits/{audit.id}/review").get_data(as_text=True))
    review = page.one(id="review")
    assert review["data-submit-url"] == f"/o/{org.slug}/api/audits/{audit.id}/submit"
    assert review["data-audit-home"] == f"/o/{org.slug}/audits/{audit.id}"
    state = json.loads(page.text["audit-state"])
    assert state["id"] == audit.id and state["definition"]["touchpoints"][0]["key"] == "billing-line"
    assert page.one(data_submit="")["action"] == f"/o/{org.slug}/audits/{audit.id}/submit"  # without JavaScript


def test_the_offline_page_lists_the_audits_kept_on_the_phone(client):
    page = _Elements(client.get("/offline").get_data(as_text=True))
    assert page.one(data_kept_audits="") is not None
    assert page.one(id="sync")["data-user"] == ""


def test_a_shell_file_under_the_current_version_is_kept_a_year_and_any_other_is_revalidated(client, app):
    with app.test_request_context():
        walk_url = url_for("static", filename="js/walk.js")
    assert re.search(r"\?v=[0-9a-f]{12}$", walk_url)
    with client.get(walk_url) as current:
        assert current.status_code == 200
        assert current.cache_control.max_age == 365 * 24 * 3600 and current.cache_control.immutable
    for other in ("/static/js/walk.js", "/static/js/walk.js?v=000000000000"):
        with client.get(other) as response:
            assert response.status_code == 200
            assert not response.cache_control.immutable and response.cache_control.max_age is None


def test_a_shell_file_is_revalidated_by_its_etag(client, app):
    with app.test_request_context():
        url = url_for("static", filename="js/rules.js")
    with client.get(url, headers={"Accept-Encoding": "br"}) as first:
        etag = first.headers["ETag"]
    with client.get(url, headers={"Accept-Encoding": "br", "If-None-Match": etag}) as again:
        assert again.status_code == 304 and again.get_data() == b""
        assert again.headers["ETag"] == etag and again.cache_control.immutable
    with client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": etag}) as other:
        assert other.status_code == 200  # the brotli copy's ETag is not the gzip copy's


def test_module_imports_carry_the_version_so_the_modules_are_cached_too(client, app):
    with app.test_request_context():
        walk_url = url_for("static", filename="js/walk.js")
    version = walk_url.rpartition("?v=")[2]
    with client.get(walk_url) as response:
        walk = response.get_data(as_text=True)
    specifiers = re.findall(r"""(?:\bfrom|\bimport)\s*\(?\s*["'](\.[^"']+)["']""", walk)
    assert "./autosave.js?v=" + version in specifiers and "./rules.js?v=" + version in specifiers
    assert all(s.endswith(f"?v={version}") for s in specifiers), specifiers
    for specifier in specifiers:
        with client.get(f"/static/js/{specifier.removeprefix('./')}") as module:
            assert module.status_code == 200 and module.cache_control.immutable
    with client.get("/static/js/walk.js?v=000000000000") as stale:
        assert "./autosave.js?v=" not in stale.get_data(as_text=True)  # another version: the file as it is


def test_comment_lines_go_and_code_stays(tmp_path):
    source = (
        '// a comment\nconst a = "// not a comment";\n/* a block\n   over lines */ const b = 1;\n'
        "const c = `\n// kept: inside a template\n`; // after code, kept\nimport { x } from './x.js';\n"
    )
    served = prepare_text("js/a.js", source, "abc")
    assert served == (
        'const a = "// not a comment";\nconst b = 1;\nconst c = `\n// kept: inside a template\n`; // after code, kept\n'
        "import { x } from './x.js?v=abc';\n"
    )


def test_in_debug_the_version_follows_an_edited_file_at_once(tmp_path, monkeypatch):
    static, templates = tmp_path / "static", tmp_path / "templates"
    (static / "js").mkdir(parents=True)
    templates.mkdir()
    script = static / "js" / "a.js"
    script.write_text("one")
    monkeypatch.setattr("shopper.pwa.shell.DEBUG_CHECK_SECONDS", 0)
    debug = Shell(str(static), str(templates), "", debug=True)
    production = Shell(str(static), str(templates), "", debug=False)
    before = debug.version
    assert production.version == before and debug.files == ("js/a.js",)
    script.write_text("two, longer")
    (static / "js" / "b.js").write_text("new")
    assert debug.version != before and debug.files == ("js/a.js", "js/b.js")
    assert production.version == before  # computed once per process


def test_the_browsers_update_check_of_the_worker_is_a_304_while_nothing_changed(client):
    first = client.get("/sw.js", headers={"Accept-Encoding": "br"})
    assert first.status_code == 200 and first.headers["ETag"]
    again = client.get("/sw.js", headers={"Accept-Encoding": "br", "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""
