"""The walk page's weight on a phone, measured in Debian's Chromium through Playwright and the DevTools protocol.

1. First load: a signed-in phone with an empty cache opens an audit's walk page. Counts every request the page makes
   (Network.* events), sums their encodedDataLength, and gzips each HTML, CSS and JS body (the dev server does not
   compress; production puts Caddy or nginx with compression in front). The service worker's own precache, fetched
   in the background on that first visit, is counted apart, from the server's side.
2. Repeat visit offline: the same phone, with no network, opens the page again. Counts what the page asks for, what
   the service worker answers, and what reaches the server (must be nothing).
Targets (issue "Offline-first PWA"): first load <= 100 KB compressed for HTML, CSS and JS together (photos aside);
no third-party request; a repeat visit offline makes no network request at all.
"""

from __future__ import annotations

import base64
import gzip
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from _measure import report
from werkzeug.serving import make_server

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PASSWORD = "a long benchmark password"
BUDGET_KB = 100
TEXT_TYPES = {"Document": "HTML", "Stylesheet": "CSS", "Script": "JS"}


class Served:
    """WSGI middleware: what the server sent, as (path, bytes), while `recording`."""

    def __init__(self, app):
        self.app = app
        self.log: list[tuple[str, int]] = []

    def __call__(self, environ, start_response):
        body = b"".join(self.app(environ, start_response))
        self.log.append((environ["PATH_INFO"], len(body)))
        return [body]


def seed(instance: Path):
    """A migrated database with an auditor and an audit of the be-your-customer walk, a few answers and a photo."""
    env = {**os.environ, "SHOPPER_INSTANCE_PATH": str(instance)}
    subprocess.run([BIN / "flask", "--app", "shopper", "db", "upgrade"], env=env, check=True, capture_output=True)
    os.environ["SHOPPER_INSTANCE_PATH"] = str(instance)
    sys.path.insert(0, str(REPO))
    from shopper import create_app
    from shopper.audits import service
    from shopper.checklists.service import copy_from_library
    from shopper.media import get_storage
    from shopper.orgs.service import add_site, sign_up
    from shopper.timeutil import utcnow
    from tests.images import encode, photo

    app = create_app()
    with app.app_context():
        user, org = sign_up(
            name="Bench", email="bench@example.com", password=PASSWORD, org_name="Bench", org_kind="business",
            min_length=10,
        )  # fmt: skip
        checklist = copy_from_library(org.id, user.id, "be-your-customer", utcnow())
        site = add_site(org, name="Harbour Street clinic", address=None)
        audit = service.start_audit(
            org_id=org.id, checklist=checklist, site=site, auditor_id=user.id, created_by_id=user.id,
            scenario="A first-time customer with a billing question", due_on=None, now=utcnow(),
        )  # fmt: skip
        for n, (key, value) in enumerate([("web-prices-found", "yes"), ("web-contact-found", "no")]):
            body = {"value": value, "note": "", "client_ts": 1_700_000_000_000 + n}
            service.save_answer(audit, user.id, f"bench-answer-{n}", key, body, utcnow())
        service.add_photo(
            audit, user.id, photo_id="0b6c1d3e-1111-4222-8333-944455556666", touchpoint_key="website",
            item_key="web-screenshot", caption="", data=encode(photo((2000, 1500)), "JPEG"),
            storage=get_storage(), now=utcnow(),
        )  # fmt: skip
        walk = f"/o/{org.slug}/audits/{audit.id}/walk/website"
    return app, walk


class Recorder:
    """The page's requests as the DevTools protocol reports them."""

    def __init__(self, cdp):
        self.cdp = cdp
        self.requests: dict[str, dict] = {}
        cdp.send("Network.enable")
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.responseReceived", self._received)
        cdp.on("Network.loadingFinished", self._finished)
        cdp.on("Network.loadingFailed", self._failed)

    def _sent(self, event):
        self.requests[event["requestId"]] = {"url": event["request"]["url"], "type": event.get("type", "Other")}

    def _received(self, event):
        response = event["response"]
        entry = self.requests.setdefault(event["requestId"], {"url": response["url"], "type": event.get("type")})
        entry.update(
            status=response["status"],
            from_worker=response.get("fromServiceWorker", False),
            from_cache=response.get("fromDiskCache", False) or response.get("fromPrefetchCache", False),
        )

    def _finished(self, event):
        self.requests.get(event["requestId"], {})["encoded"] = event["encodedDataLength"]

    def _failed(self, event):
        self.requests.get(event["requestId"], {})["failed"] = event["errorText"]

    def body(self, request_id: str) -> bytes:
        answer = self.cdp.send("Network.getResponseBody", {"requestId": request_id})
        return base64.b64decode(answer["body"]) if answer["base64Encoded"] else answer["body"].encode()


def kb(n: float) -> float:
    return n / 1024


def main() -> None:
    from tests.browser.phone import CHROMIUM

    if not Path(CHROMIUM).exists():
        raise SystemExit(f"Debian's Chromium is needed at {CHROMIUM} (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="shopper-budget-") as folder:
        measure(Path(folder))


def measure(instance: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    from tests.browser.phone import CHROMIUM, CHROMIUM_ARGS, PHONE

    phone = {**PHONE, "service_workers": "allow"}

    app, walk = seed(instance)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    served = Served(app)
    server = make_server("127.0.0.1", 0, served, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_port}"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        signing = browser.new_context(**phone)
        page = signing.new_page()
        page.goto(f"{origin}/login")
        page.fill("input[name=email]", "bench@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
        cookies = signing.cookies()
        signing.close()

        # 1. First load: an empty cache, no service worker yet.
        context = browser.new_context(**phone)
        context.add_cookies(cookies)
        page = context.new_page()
        first = Recorder(context.new_cdp_session(page))
        served.log.clear()
        page.goto(f"{origin}{walk}")
        expect(page.locator("#walk.live")).to_be_visible()
        expect(page.locator("[data-keep-offline][data-kept=all]")).to_have_count(1, timeout=30_000)
        page.wait_for_load_state("networkidle")
        asked = {urlsplit(request["url"]).path for request in first.requests.values()}
        worker_log = [(path, size) for path, size in served.log if path not in asked]

        print(f"== first load of {walk} (phone, empty cache)")
        third_party = [r["url"] for r in first.requests.values() if not r["url"].startswith((origin, "data:", "blob:"))]
        totals = {"HTML": [0, 0, 0], "CSS": [0, 0, 0], "JS": [0, 0, 0]}  # count, raw, gzip
        other = [0, 0]
        for request_id, request in first.requests.items():
            kind = TEXT_TYPES.get(request["type"])
            if kind is None:
                other[0] += 1
                other[1] += request.get("encoded", 0)
                continue
            body = first.body(request_id)
            totals[kind][0] += 1
            totals[kind][1] += len(body)
            totals[kind][2] += len(gzip.compress(body, compresslevel=6))
        for kind, (count, raw, packed) in totals.items():
            print(f"  {kind:<5} {count:2d} requests  {kb(raw):7.1f} KB raw  {kb(packed):6.1f} KB gzip")
        print(f"  other {other[0]:2d} requests  {kb(other[1]):7.1f} KB (photos, icons, the offline list, JSON)")
        encoded = sum(r.get("encoded", 0) for r in first.requests.values())
        print(f"  all   {len(first.requests):2d} requests  {kb(encoded):7.1f} KB on the wire (encodedDataLength)")
        worker_bytes = sum(size for _, size in worker_log)
        print(
            f"  in the background, the service worker fetched {len(worker_log)} files, {kb(worker_bytes):.1f} KB "
            "uncompressed (the shell, fonts and icons included, and the audit's pages kept offline)"
        )
        html_css_js = sum(packed for _, _, packed in totals.values())
        report("first load HTML+CSS+JS, gzip", kb(html_css_js), "KB", BUDGET_KB)
        report("third-party requests", len(third_party), "", 0)

        # 2. The same phone, no network, opens the page again.
        context.set_offline(True)
        page.close()
        page = context.new_page()
        repeat = Recorder(context.new_cdp_session(page))
        served.log.clear()
        page.goto(f"{origin}{walk}")
        expect(page.locator("#walk.live")).to_be_visible()
        time.sleep(1)
        requests = list(repeat.requests.values())
        by_worker = sum(1 for r in requests if r.get("from_worker"))
        failed = [r["url"] for r in requests if r.get("failed")]
        print("== repeat visit, offline")
        print(
            f"  the page asked for {len(requests)} resources: {by_worker} answered by the service worker, "
            f"{len(requests) - by_worker - len(failed)} from the browser's caches, {len(failed)} failed"
        )
        report("requests reaching the network", len(served.log), "", 0)
        report("requests failed offline", len(failed), "", 0)
        for url in failed:
            print(f"    failed: {url}")
        browser.close()
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
