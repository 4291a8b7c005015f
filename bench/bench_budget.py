"""The walk page's weight on a phone, measured in Debian's Chromium through Playwright and the DevTools protocol.

The app serves itself (no proxy): it compresses its own answers and keeps shell files a year under their version.
For a phone with the service worker and for one without (a browser that blocks it), signed in with an empty cache:

1. First load: every request the page makes (Network.* events) and the sum of their encodedDataLength, headers
   included, as Chromium received them. The worker's own precache, fetched in the background on that first visit,
   is what reached the server besides the page's requests: it is printed, and no shell file may be sent twice (the
   worker precaches through the HTTP cache).
2. Repeat visit online: the page opened again; what reaches the server (only the HTML, the rest from the caches).
3. With the worker, a repeat visit offline: nothing reaches the network and nothing fails.

Targets (issue 15): first load <= 50 KB on the wire; a repeat online visit sends only the HTML, with and without the
service worker; offline, nothing; no third-party request ever. The browser's own update check of the worker
(/sw.js, a 304 while nothing changed) is printed apart. Under BENCH_SMOKE=1 only the phone with the worker runs.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from _measure import figure, load_average, smoke
from werkzeug.serving import make_server

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PASSWORD = "a long benchmark password"
FIRST_LOAD_KB = 50
WORKER_URL = "/sw.js"


class Served:
    """WSGI middleware: what reached the server, as (path, bytes of the body as the app answered it)."""

    def __init__(self, app):
        self.app = app
        self.log: list[tuple[str, int]] = []

    def __call__(self, environ, start_response):
        body = b"".join(self.app(environ, start_response))
        query = environ.get("QUERY_STRING")
        self.log.append((environ["PATH_INFO"] + (f"?{query}" if query else ""), len(body)))
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
        from shopper.extensions import db

        db.session.commit()
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
            encoding=(response.get("headers") or {}).get("content-encoding", ""),
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
    print(f"load average {load_average()} (byte counts do not depend on it)")
    with tempfile.TemporaryDirectory(prefix="shopper-budget-") as folder:
        measure(Path(folder))


def sign_in(browser, phone: dict, origin: str) -> list:
    signing = browser.new_context(**phone)
    page = signing.new_page()
    page.goto(f"{origin}/login")
    page.fill("input[name=email]", "bench@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    cookies = signing.cookies()
    signing.close()
    return cookies


def settle(served: Served, quiet: float = 1.5, longest: float = 15) -> None:
    """Wait until nothing has reached the server for `quiet` seconds: the browser's own requests after a visit (the
    worker's update check) belong to that visit, not to the next."""
    deadline = time.monotonic() + longest
    seen = -1
    while len(served.log) != seen and time.monotonic() < deadline:
        seen = len(served.log)
        time.sleep(quiet)


def visit(context, url: str, served: Served, *, worker: bool, first: bool) -> Recorder:
    """Open `url` in a new page of `context` and wait until the page is live and the network quiet (on a first
    visit with the worker, until the audit is kept offline)."""
    from playwright.sync_api import expect

    page = context.new_page()
    recorder = Recorder(context.new_cdp_session(page))
    page.goto(url)
    expect(page.locator("#walk.live")).to_be_visible()
    if worker and first:
        expect(page.locator("[data-keep-offline][data-kept=all]")).to_have_count(1, timeout=30_000)
    with contextlib.suppress(Exception):  # an offline page may never call the network idle: the second below waits
        page.wait_for_load_state("networkidle", timeout=10_000)
    settle(served)
    recorder.page = page
    return recorder


def print_requests(recorder: Recorder, origin: str) -> None:
    for request in recorder.requests.values():
        where = "worker" if request.get("from_worker") else "cache" if request.get("from_cache") else "net"
        url = request["url"].removeprefix(origin)
        print(
            f"    {request.get('encoded', 0):7d} B  {request.get('status', '-')!s:>4} {where:<6} "
            f"{request.get('encoding', ''):<4} {request.get('type', ''):<10} {url[:90]}"
        )


def measure(instance: Path) -> None:
    from playwright.sync_api import sync_playwright

    from tests.browser.phone import CHROMIUM, CHROMIUM_ARGS, PHONE

    app, walk = seed(instance)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    served = Served(app)
    server = make_server("127.0.0.1", 0, served, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_port}"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        cookies = sign_in(browser, PHONE, origin)
        modes = [True] if smoke() else [True, False]
        for worker in modes:
            with_worker = "with the service worker" if worker else "without the service worker"
            context = browser.new_context(**{**PHONE, "service_workers": "allow" if worker else "block"})
            context.add_cookies(cookies)

            served.log.clear()
            first = visit(context, f"{origin}{walk}", served, worker=worker, first=True)
            asked = {urlsplit(r["url"]).path for r in first.requests.values()}
            background = [(path, size) for path, size in served.log if urlsplit(path).path not in asked]
            print(f"== first load of {walk}, {with_worker} (phone, empty cache)")
            print_requests(first, origin)
            encoded = sum(r.get("encoded", 0) for r in first.requests.values())
            third_party = [
                r["url"] for r in first.requests.values() if not r["url"].startswith((origin, "data:", "blob:"))
            ]
            print(f"  {len(first.requests)} requests")
            if worker:
                print(
                    f"  in the background the worker fetched {len(background)} more files, "
                    f"{kb(sum(size for _, size in background)):.1f} KB of bodies as the app sent them:"
                )
                for path, size in background:
                    print(f"    {size:7d} B  {path[:100]}")
                # The page the auditor is on comes twice by design (the worker keeps it with the audit's other
                # pages); a 304 (no body: the worker's importScripts() revalidates the outbox) is no download.
                paths = [path for path, size in served.log if path.startswith(("/static/", WORKER_URL)) and size]
                twice = sorted({path for path in paths if paths.count(path) > 1})
                revalidated = sorted({path for path, size in served.log if not size})
                figure("first load, SW: shell files sent twice", len(twice), "", 0)
                for path in revalidated:
                    print(f"    revalidated (304): {path}")
                for path in twice:
                    print(f"    twice: {path}")
            figure(f"first load, {'SW' if worker else 'no SW'} (KB on the wire)", kb(encoded), "KB", FIRST_LOAD_KB)
            figure(f"third-party requests, {'SW' if worker else 'no SW'}", len(third_party), "", 0)
            first.page.close()

            served.log.clear()
            repeat = visit(context, f"{origin}{walk}", served, worker=worker, first=False)
            print(f"== repeat visit online, {with_worker}")
            print_requests(repeat, origin)
            for path, size in served.log:
                print(f"    reached the server: {path} ({size} B)")
            page_requests = [path for path, _ in served.log if path != WORKER_URL]
            figure(f"repeat online, {'SW' if worker else 'no SW'}: requests", len(page_requests), "", 1)
            if worker:
                checks = [size for path, size in served.log if path == WORKER_URL]
                print(f"  and the browser's update check of the worker: {len(checks)}, bodies {checks} B (0: a 304)")
            repeat.page.close()

            if worker:
                context.set_offline(True)
                served.log.clear()
                offline = visit(context, f"{origin}{walk}", served, worker=worker, first=False)
                failed = [r["url"] for r in offline.requests.values() if r.get("failed")]
                print("== repeat visit offline, with the service worker")
                print_requests(offline, origin)
                for path, size in served.log:
                    print(f"    reached the server: {path} ({size} B)")
                # Playwright's offline switch does not cover the browser's own update check of the worker, which on
                # a phone without a signal fails quietly: it is printed above, not counted
                page_requests = [path for path, _ in served.log if path != WORKER_URL]
                figure("repeat offline: requests reaching net", len(page_requests), "", 0)
                figure("repeat offline: requests failed", len(failed), "", 0)
                offline.page.close()
            context.close()
        browser.close()
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
