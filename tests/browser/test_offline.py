"""The phone without a signal, in Debian's Chromium with the service worker at work: the outbox keeps every change in
IndexedDB, the pages render from the offline cache, and once the network is back each change reaches the server
exactly once, whatever happens on the way (a browser restart, two tabs replaying at once, a server restart, a
session that ends, a change the server refuses, a new version of the app)."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from shopper.audits import service
from shopper.audits.models import Answer, Audit, Photo, SyncOp
from shopper.extensions import db
from shopper.timeutil import utcnow
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE, sign_in
from tests.images import encode, photo

pytestmark = pytest.mark.browser

SYNC_TIMEOUT_MS = 60_000

# Twenty answers over five touchpoints, each one tap: (touchpoint, item, value).
WALK = [
    ("website", "web-prices-found", "yes"),
    ("website", "web-contact-found", "no"),
    ("website", "web-hours-found", "yes"),
    ("website", "web-outdated", "no"),
    ("website", "web-mobile-ease", "4"),
    ("billing-line", "phone-number-found", "yes"),
    ("billing-line", "phone-repeat", "no"),
    ("billing-line", "phone-resolved", "no"),
    ("billing-line", "phone-next-steps", "yes"),
    ("billing-line", "phone-courtesy", "3"),
    ("email-enquiry", "email-auto-ack", "yes"),
    ("email-enquiry", "email-all-answered", "yes"),
    ("email-enquiry", "email-named-person", "no"),
    ("email-enquiry", "email-tone", "4"),
    ("chat-social", "chat-channel", "website-chat"),
    ("chat-social", "chat-bot-handover", "smooth"),
    ("chat-social", "chat-answered", "yes"),
    ("arrival-waiting", "visit-signage", "yes"),
    ("arrival-waiting", "visit-delay-explained", "no"),
    ("arrival-waiting", "visit-clean", "yes"),
]


def server_value(value: str):
    return int(value) if value.isdigit() else value


@pytest.fixture(scope="module")
def camera_jpeg(tmp_path_factory):
    path = tmp_path_factory.mktemp("camera") / "IMG_0002.jpg"
    path.write_bytes(encode(photo((2400, 1600)), "JPEG", quality=88))
    return path


# Helpers -----------------------------------------------------------------------------------------------------------


def item(page: Page, key: str):
    return page.locator(f"#item-{key}")


def tap(page: Page, key: str, value: str) -> None:
    item(page, key).locator(f"label:has(input[value='{value}'])").tap()


def indicator(page: Page):
    return page.locator("#sync .sync-text")


def waiting_to_sync(page: Page, count: int) -> None:
    expect(page.locator("#sync")).to_contain_text(f"{count} change{'' if count == 1 else 's'} waiting to sync")


def all_saved(page: Page, timeout: int = SYNC_TIMEOUT_MS) -> None:
    expect(indicator(page)).to_have_text("All changes saved", timeout=timeout)


def go_offline(page: Page, live) -> None:
    """No network for the phone. The server refuses writes meanwhile too: when Chromium starts the worker for a
    Background Sync, Playwright's offline emulation reaches it a moment late, a gap a phone without signal lacks."""
    live.wire.unavailable = True
    page.context.set_offline(True)


def go_online(page: Page, live, server_up: bool = True) -> None:
    live.wire.unavailable = not server_up
    page.context.set_offline(False)


def open_kept(page: Page, url: str) -> None:
    """Open an audit page online and wait until the service worker controls it and has kept the audit offline."""
    page.goto(url)
    # Not page.wait_for_function: it evaluates its predicate with eval(), which our CSP (script-src 'self') refuses.
    wait_until(lambda: page.evaluate("navigator.serviceWorker.controller !== null"))
    expect(page.locator("[data-keep-offline][data-kept=all]")).to_have_count(1, timeout=20_000)
    expect(page.locator(".live")).to_have_count(1)


def walk_to(page: Page, key: str) -> None:
    page.locator(f"[data-progress={key}] a").dispatch_event("click")  # the walk map's link, collapsed or not
    page.wait_for_url(re.compile(rf"/walk/{key}$"))
    expect(page.locator("#walk.live")).to_be_visible()


def add_photo(picker, path) -> None:
    before = picker.locator("[data-photo]").count()
    picker.locator("[data-photo-input=gallery]").set_input_files(path)
    tile = picker.locator("[data-photo]").nth(before)
    expect(tile.locator("[data-photo-state]")).to_have_text("Kept on this phone, waiting to upload")


def queued_entries(page: Page) -> int:
    return page.evaluate("ShopperOutbox.entries().then((entries) => entries.length)")


def db_state(live, audit_id: int) -> dict:
    with live.app.app_context():
        answers = db.session.scalars(select(Answer).where(Answer.audit_id == audit_id)).all()
        ops = db.session.scalars(select(SyncOp).where(SyncOp.audit_id == audit_id)).all()
        photos = db.session.scalars(select(Photo).where(Photo.audit_id == audit_id)).all()
        return {
            "answers": {a.item_key: a.value for a in answers},
            "ops": [op.op_id for op in ops],
            "photos": sorted((p.touchpoint_key, p.item_key or "") for p in photos),
        }


def answer_ops(live, audit_id: int) -> int:
    with live.app.app_context():
        return db.session.scalar(
            select(func.count()).select_from(SyncOp).where(SyncOp.audit_id == audit_id, SyncOp.kind == "answer")
        )


def answer_offline(page: Page, answers) -> None:
    """Answer, touchpoint by touchpoint, moving on with the walk map (offline, pages come from the cache)."""
    for touchpoint, key, value in answers:
        if not page.url.endswith(f"/walk/{touchpoint}"):
            walk_to(page, touchpoint)
        tap(page, key, value)
        expect(item(page, key).locator(f"input[value='{value}']")).to_be_checked()


# The offline walk ---------------------------------------------------------------------------------------------------


def test_an_offline_walk_is_kept_on_the_phone_survives_a_reload_and_reaches_the_server_once(
    live, pwa_phone, camera_jpeg
):
    page = pwa_phone
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.type))
    audit_id = live.new_audit()
    open_kept(page, live.walk_url(audit_id, "website"))
    all_saved(page)

    go_offline(page, live)
    expect(indicator(page)).to_have_text("Offline: changes are kept on this phone")
    answer_offline(page, WALK[:5])
    add_photo(item(page, "web-screenshot"), camera_jpeg)
    add_photo(page.locator("#wrapup"), camera_jpeg)
    answer_offline(page, WALK[5:])
    add_photo(item(page, "visit-photo"), camera_jpeg)
    waiting_to_sync(page, 23)
    expect(page.locator("#save-status")).to_have_text("Offline: 23 changes kept on this phone")
    storage = page.locator("#sync [data-sync-storage]")
    if page.evaluate("navigator.storage.persisted()"):
        expect(storage).to_be_hidden()
    else:  # the browser did not promise to keep the data: say so
        expect(storage).to_contain_text("This browser has not promised to keep Shopper's data")
    assert dialogs == []  # moving between the audit's pages asks nothing

    # A reload with no network: the page comes from the offline cache, the answers from the outbox.
    page.reload()
    assert dialogs == ["beforeunload"]  # leaving the audit's page while changes wait asks first
    expect(page.locator("#walk.live")).to_be_visible()
    for _, key, value in WALK[17:]:
        expect(item(page, key).locator(f"input[value='{value}']")).to_be_checked()
    expect(item(page, "visit-photo").locator("[data-photo] img")).to_have_attribute("src", re.compile(r"^blob:"))
    expect(page.locator("[data-progress=website] [data-progress-text]")).to_have_text(
        "6 of 7 answered · 1 required left"  # the photo item counts; the counter is still to answer
    )
    waiting_to_sync(page, 23)
    walk_to(page, "website")
    for _, key, value in WALK[:5]:
        expect(item(page, key).locator(f"input[value='{value}']")).to_be_checked()
    expect(page.locator("#walk [data-photo] img")).to_have_count(2)
    page.locator(".walk-map-foot a").dispatch_event("click")  # the audit's overview, from the cache too
    page.wait_for_url(re.compile(rf"/audits/{audit_id}$"))
    expect(page.locator("[data-audit-pending]")).to_have_text("23 changes to this audit wait on this phone to be sent.")
    page.go_back()
    expect(page.locator("#walk.live")).to_be_visible()
    assert db_state(live, audit_id) == {"answers": {}, "ops": [], "photos": []}

    # Back online: everything goes, each change once.
    go_online(page, live)
    all_saved(page)
    state = db_state(live, audit_id)
    assert state["answers"] == {key: server_value(value) for _, key, value in WALK}
    assert len(state["ops"]) == 23 and len(set(state["ops"])) == 23  # 20 answers and 3 photos, each recorded once
    assert state["photos"] == [("arrival-waiting", "visit-photo"), ("website", ""), ("website", "web-screenshot")]
    keys = [key for _, _, key in live.wire.writes]
    assert len(keys) == 23 and len(set(keys)) == 23  # nothing was even sent twice
    expect(page.locator("#walk [data-photo] img").first).to_have_attribute("src", re.compile(r"/thumb\.jpg$"))
    assert queued_entries(page) == 0
    assert errors == []


def test_changes_kept_offline_survive_a_browser_restart(live, browser, tmp_path):
    profile = tmp_path / "profile"
    options = {**PHONE, "service_workers": "allow", "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}
    audit_id = live.new_audit()
    walk = live.walk_url(audit_id, "website")

    context = browser.browser_type.launch_persistent_context(profile, **options)
    page = context.pages[0] if context.pages else context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, live, remember=True)
    open_kept(page, walk)
    go_offline(page, live)
    answer_offline(page, WALK[:3])
    waiting_to_sync(page, 3)
    context.close()  # the browser is closed, or the phone restarts, with three changes waiting

    context = browser.browser_type.launch_persistent_context(profile, offline=True, **options)
    try:
        page = context.pages[0] if context.pages else context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(walk)
        expect(page.locator("#walk.live")).to_be_visible()
        for _, key, value in WALK[:3]:
            expect(item(page, key).locator(f"input[value='{value}']")).to_be_checked()
        expect(indicator(page)).to_have_text("Offline: changes are kept on this phone")
        waiting_to_sync(page, 3)
        assert db_state(live, audit_id)["answers"] == {}

        go_online(page, live)
        all_saved(page)
        state = db_state(live, audit_id)
        assert state["answers"] == {key: server_value(value) for _, key, value in WALK[:3]}
        assert len(state["ops"]) == 3
    finally:
        live.wire.unavailable = False
        context.close()


def test_a_change_made_the_moment_before_leaving_the_page_is_not_lost(live, pwa_phone):
    page = pwa_phone
    audit_id = live.new_audit()
    open_kept(page, live.walk_url(audit_id, "website"))
    go_offline(page, live)
    for n in range(4):  # tap, and leave at once by the address bar: the page goes before IndexedDB has written
        tap(page, WALK[n][1], WALK[n][2])
        page.goto(live.walk_url(audit_id, "billing-line"))
        tap(page, WALK[5 + n][1], WALK[5 + n][2])
        page.goto(live.walk_url(audit_id, "website"))
    expect(page.locator("#walk.live")).to_be_visible()
    assert queued_entries(page) == 8
    for _, key, value in WALK[:4]:
        expect(item(page, key).locator(f"input[value='{value}']")).to_be_checked()

    go_online(page, live)
    all_saved(page)
    expected = {key: server_value(value) for _, key, value in WALK[:4] + WALK[5:9]}
    assert db_state(live, audit_id)["answers"] == expected and answer_ops(live, audit_id) == 8


def test_an_older_copy_of_a_page_never_hides_what_the_phone_knows_is_newer(live, phone):
    phone.goto(live.walk_url(live.new_audit(), "website"))
    expect(phone.locator("#walk.live")).to_be_visible()
    known = phone.evaluate(
        """async () => {
            const photo = (id) => ({ id, touchpoint_key: "website", item_key: null, caption: "" });
            const answer = (value, client_ts) => ({ item_key: "a", value, note: "", flagged: false, client_ts });
            const state = (revision, value, ts, photos) => ({
                id: 999999, revision, status: "in_progress", answers: { a: answer(value, ts) }, visits: {}, photos,
            });
            await ShopperOutbox.rememberAudit(state(5, "yes", 20, [photo("p1")]));
            const stale = await ShopperOutbox.rememberAudit(state(3, "no", 10, []));  // a page cached earlier
            const later = await ShopperOutbox.rememberAudit(state(6, "no", 30, [photo("p2")]));
            const fresh = await ShopperOutbox.rememberAudit(state(7, "no", 30, [photo("p2")]), { fresh: true });
            const names = (record) => record.state.photos.map((p) => p.id);
            return [
                [stale.state.answers.a.value, names(stale)],
                [later.state.answers.a.value, names(later)],
                [fresh.state.answers.a.value, names(fresh)],
            ];
        }"""
    )
    assert known == [["yes", ["p1"]], ["no", ["p2", "p1"]], ["no", ["p2"]]]


# Replay storms -------------------------------------------------------------------------------------------------------


def test_two_tabs_replaying_the_same_outbox_at_once_apply_each_change_once(live, pwa_phone):
    page = pwa_phone
    audit_id = live.new_audit()
    open_kept(page, live.walk_url(audit_id, "website"))
    other = page.context.new_page()  # a second tab, as in a browser without Web Locks: its replays overlap
    other.add_init_script("delete Navigator.prototype.locks;")
    other.goto(live.walk_url(audit_id, "billing-line"))
    expect(other.locator("#walk.live")).to_be_visible()
    assert other.evaluate("navigator.locks === undefined")
    page.bring_to_front()

    go_offline(page, live)
    answer_offline(page, WALK[:10])
    waiting_to_sync(other, 10)  # the other tab hears of them at once

    live.wire.delay = 0.05  # slow enough for the two replays to overlap
    go_online(page, live)
    page.evaluate("() => { ShopperOutbox.replay(); }")
    other.evaluate("() => { ShopperOutbox.replay(); }")
    all_saved(page)
    all_saved(other)
    state = db_state(live, audit_id)
    assert state["answers"] == {key: server_value(value) for _, key, value in WALK[:10]}
    assert len(state["ops"]) == 10 and len(set(state["ops"])) == 10
    sent = [key for _, _, key in live.wire.writes]
    assert set(sent) == set(state["ops"]) and len(sent) > 10  # sent more than once, applied once


def test_coming_back_online_while_an_offline_pass_is_finishing_still_sends_the_change(live, phone):
    """The "online" event can arrive while the pass that found the phone offline is still finishing; the replay it
    asks for joins that pass, which must then look once more instead of ending as "offline" with the change kept."""
    page = phone
    page.add_init_script(
        "window.__online = true;"
        "Object.defineProperty(Navigator.prototype, 'onLine', {get: () => window.__online, configurable: true});"
    )
    audit_id = live.new_audit()
    page.goto(live.walk_url(audit_id, "website"))
    expect(page.locator("#walk.live")).to_be_visible()
    page.evaluate(
        """() => {
          window.__online = false;
          const off = ShopperOutbox.listen((event) => {
            if (event.type === "status" && event.status.state === "offline") {
              off();
              window.__online = true;  // back online while that pass ends
              ShopperOutbox.replay();  // what the "online" event asks for
            }
          });
        }"""
    )
    tap(page, "web-prices-found", "yes")
    all_saved(page, timeout=15_000)
    assert db_state(live, audit_id)["answers"] == {"web-prices-found": "yes"}


def test_a_server_restart_in_the_middle_of_a_replay_loses_nothing_and_applies_nothing_twice(
    live, pwa_phone, camera_jpeg
):
    page = pwa_phone
    audit_id = live.new_audit()
    open_kept(page, live.walk_url(audit_id, "website"))
    go_offline(page, live)
    answer_offline(page, WALK[:5])
    add_photo(item(page, "web-screenshot"), camera_jpeg)
    answer_offline(page, WALK[5:10])
    waiting_to_sync(page, 11)

    live.wire.cut_after = 7  # the seventh write is committed, then the server dies before answering it
    go_online(page, live)
    assert live.wire.cut.wait(30)
    live.restart()  # a new process on the same port and database
    # The outbox now waits out its back-off (15 s, then longer) before trying again. Coming back online is one of
    # its triggers (harmless when nothing waits), so the test does not race the timer on a loaded machine.
    page.evaluate("window.dispatchEvent(new Event('online'))")
    all_saved(page)

    state = db_state(live, audit_id)
    assert state["answers"] == {key: server_value(value) for _, key, value in WALK[:10]}
    assert len(state["ops"]) == 11 and len(set(state["ops"])) == 11  # 10 answers and a photo, each recorded once
    assert state["photos"] == [("website", "web-screenshot")]
    sent = [key for _, _, key in live.wire.writes]
    cut = sent[6]
    assert sent.count(cut) == 2 and len(sent) == 12  # the one cut off was sent again, and applied once


# When the server says no ---------------------------------------------------------------------------------------------


def test_signed_out_while_changes_wait_keeps_them_until_signing_in_again(live, pwa_phone):
    page = pwa_phone
    audit_id = live.new_audit()
    open_kept(page, live.walk_url(audit_id, "website"))
    go_offline(page, live)
    answer_offline(page, WALK[:3])

    # Signing out while changes wait says what happens to them.
    page.locator(".account-menu summary").tap()
    page.get_by_role("button", name="Sign out").tap()
    expect(page.locator("[data-sync-leave]")).to_contain_text("3 changes on this phone have not reached the server")
    page.get_by_role("button", name="Stay signed in").tap()
    expect(page.locator("[data-sync-leave]")).to_be_hidden()

    page.context.clear_cookies()  # the session ends (it expired, or another tab signed out)
    go_online(page, live)
    expect(indicator(page)).to_have_text("Signed out: 3 changes waiting on this phone")
    expect(page.locator("#save-status")).to_have_text("Signed out: sign in again to save")
    assert queued_entries(page) == 3 and db_state(live, audit_id)["answers"] == {}

    with page.context.expect_page() as opened:
        page.locator("#sync [data-sync-signin]").tap()
    tab = opened.value
    tab.fill("input[name=email]", live.auditor_email)
    tab.fill("input[name=password]", "correct horse battery staple")
    tab.click("button[type=submit]")
    tab.wait_for_url(re.compile(rf"/audits/{audit_id}/walk/website$"))  # back where they were
    all_saved(tab)
    all_saved(page)
    state = db_state(live, audit_id)
    assert state["answers"] == {key: server_value(value) for _, key, value in WALK[:3]}
    assert len(state["ops"]) == 3


def test_signing_out_while_changes_wait_asks_first_and_keeps_them_for_the_next_sign_in(live, pwa_phone):
    page = pwa_phone
    audit_id = live.new_audit()
    open_kept(page, live.walk_url(audit_id, "website"))
    go_offline(page, live)
    answer_offline(page, WALK[:2])
    go_online(page, live, server_up=False)  # the server is out of reach a while longer
    expect(page.locator("#save-status")).to_contain_text("Not saved yet: 2 changes waiting")

    page.locator(".account-menu summary").tap()
    page.get_by_role("button", name="Sign out").tap()
    page.get_by_role("button", name="Sign out anyway").tap()
    page.wait_for_url(re.compile(r"/login$"))
    expect(indicator(page)).to_have_text("Signed out: 2 changes waiting on this phone")
    wait_until(lambda: not any(name.startswith("shopper-pages-") for name in cache_names(page)))  # pages forgotten

    live.wire.unavailable = False
    page.fill("input[name=email]", live.auditor_email)
    page.fill("input[name=password]", "correct horse battery staple")
    page.click("button[type=submit]")
    all_saved(page)
    assert db_state(live, audit_id)["answers"] == {key: server_value(value) for _, key, value in WALK[:2]}


def test_changes_to_an_audit_submitted_meanwhile_are_set_aside_with_the_reason_and_the_rest_go_on(live, pwa_phone):
    page = pwa_phone
    submitted_id, other_id = live.new_audit(small=True), live.new_audit()
    open_kept(page, live.walk_url(submitted_id, "front-desk"))
    open_kept(page, live.walk_url(other_id, "website"))
    go_offline(page, live)
    answer_offline(page, WALK[:2])
    page.goto(live.walk_url(submitted_id, "front-desk"))
    expect(page.locator("#walk.live")).to_be_visible()
    tap(page, "greeted", "no")
    tap(page, "desk-tidy", "yes")
    waiting_to_sync(page, 4)

    with live.app.app_context():  # the manager submits it from the office
        service.submit(db.session.get(Audit, submitted_id), live.manager_id, uuid.uuid4().hex, utcnow())

    go_online(page, live)
    refused = page.locator("[data-sync-refused]")
    expect(refused.locator("[data-sync-refused-title]")).to_have_text("2 changes could not be saved", timeout=30_000)
    expect(refused.locator("li")).to_have_count(2)
    first = refused.locator("li").first
    expect(first).to_contain_text("Answer to “Were you greeted within a minute?”")
    expect(first).to_contain_text("This audit has been submitted: it can no longer be changed.")
    expect(first).to_contain_text("What you entered: no")
    expect(item(page, "greeted").locator(":scope > .item-error")).to_have_text(
        "This audit has been submitted: it can no longer be changed."
    )
    assert db_state(live, other_id)["answers"] == {"web-prices-found": "yes", "web-contact-found": "no"}
    assert db_state(live, submitted_id)["answers"] == {}
    assert queued_entries(page) == 0

    first.get_by_role("button", name="Dismiss").tap()
    first.get_by_role("button", name="Keep it").tap()  # dismissing asks first
    expect(refused.locator("li")).to_have_count(2)
    first.get_by_role("button", name="Dismiss").tap()
    first.get_by_role("button", name="Forget it").tap()
    expect(refused.locator("li")).to_have_count(1)
    refused.get_by_role("button", name="Dismiss").tap()
    refused.get_by_role("button", name="Forget it").tap()
    expect(refused).to_be_hidden()
    expect(indicator(page)).to_have_text("All changes saved")


def test_a_submit_made_offline_goes_after_the_answers_it_needs(live, pwa_phone):
    page = pwa_phone
    audit_id = live.new_audit(small=True)
    open_kept(page, live.walk_url(audit_id, "front-desk"))
    go_offline(page, live)
    tap(page, "greeted", "yes")
    tap(page, "name-badge", "no")
    page.get_by_role("link", name="Review and submit").tap()
    page.wait_for_url(re.compile(r"/review$"))
    expect(page.locator("#review.live")).to_be_visible()
    expect(page.locator("ol.touchpoints li").first).to_contain_text("2 of 3 answered")
    page.get_by_role("button", name="Submit the audit").tap()
    expect(page.locator("[data-submit-status]")).to_contain_text("Your submit is kept on this phone")
    waiting_to_sync(page, 3)

    go_online(page, live)
    page.wait_for_url(re.compile(rf"/audits/{audit_id}$"), timeout=SYNC_TIMEOUT_MS)
    with live.app.app_context():
        audit = db.session.get(Audit, audit_id)
        assert audit.status == "submitted"
        ops = db.session.scalars(select(SyncOp).where(SyncOp.audit_id == audit_id).order_by(SyncOp.id)).all()
        assert [op.kind for op in ops] == ["answer", "answer", "submit"]


# A new version -------------------------------------------------------------------------------------------------------


def cache_names(page: Page) -> list[str]:
    return page.evaluate("caches.keys()")


def wait_until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_new_version_deployed_while_changes_wait_takes_over_cleanly_and_loses_nothing(live, pwa_phone):
    page = pwa_phone
    audit_id = live.new_audit()
    open_kept(page, live.walk_url(audit_id, "website"))
    before = sorted(cache_names(page))
    old = before[0].rpartition("-")[2]
    assert before == [f"shopper-pages-{old}", f"shopper-shell-{old}"]
    go_offline(page, live)
    answer_offline(page, WALK[:4])

    for app in live.apps:  # the deploy: the app is down a moment, then back as a new version
        app.config["SHELL_VERSION_SALT"] = f"deploy-{time.time()}"
    go_online(page, live, server_up=False)
    expect(page.locator("#save-status")).to_contain_text("Not saved yet: 4 changes waiting")
    page.reload()
    expect(page.locator("#walk.live")).to_be_visible()
    wait_until(lambda: len(names := cache_names(page)) == 2 and not any(name.endswith(old) for name in names))
    new = cache_names(page)[0].rpartition("-")[2]
    assert sorted(cache_names(page)) == [f"shopper-pages-{new}", f"shopper-shell-{new}"]  # the old ones are gone
    assert page.evaluate("navigator.serviceWorker.controller.scriptURL").endswith("/sw.js")
    assert queued_entries(page) == 4
    for _, key, value in WALK[:4]:
        expect(item(page, key).locator(f"input[value='{value}']")).to_be_checked()

    live.wire.unavailable = False
    page.locator("#sync [data-sync-now]").tap()
    all_saved(page)
    assert db_state(live, audit_id)["answers"] == {key: server_value(value) for _, key, value in WALK[:4]}
    assert answer_ops(live, audit_id) == 4


# Installable ---------------------------------------------------------------------------------------------------------


def test_the_app_passes_chromiums_installability_checks_and_its_worker_controls_the_page(live, browser, tmp_path):
    # A real profile: Chromium refuses to install from an incognito-like context, which new_context() makes.
    options = {**PHONE, "service_workers": "allow", "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}
    context = browser.browser_type.launch_persistent_context(tmp_path / "profile", **options)
    try:
        check_installable(live, context.pages[0] if context.pages else context.new_page())
    finally:
        context.close()


def check_installable(live, page: Page) -> None:
    sign_in(page, live)
    page.goto(f"{live.url}/o/{live.org_slug}/")
    # Not page.wait_for_function: it evaluates its predicate with eval(), which our CSP (script-src 'self') refuses.
    wait_until(lambda: page.evaluate("navigator.serviceWorker.controller !== null"))
    registration = page.evaluate(
        "navigator.serviceWorker.ready.then((r) => ({scope: r.scope, script: r.active.scriptURL}))"
    )
    assert registration == {"scope": f"{live.url}/", "script": f"{live.url}/sw.js"}
    cdp = page.context.new_cdp_session(page)
    assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["url"] == f"{live.url}/manifest.webmanifest" and manifest["errors"] == []

    # The browser's install offer becomes our "Add to home screen" button, which opens the browser's prompt.
    page.evaluate(
        """() => {
            const offer = new Event("beforeinstallprompt", { cancelable: true });
            offer.prompt = () => { window.prompted = true; };
            offer.userChoice = Promise.resolve({ outcome: "accepted" });
            window.dispatchEvent(offer);
        }"""
    )
    button = page.get_by_role("button", name="Add to home screen")
    expect(button).to_be_visible()
    expect(page.locator("#install-ios")).to_be_hidden()
    button.tap()
    expect(page.locator("#install-offer")).to_be_hidden()
    assert page.evaluate("window.prompted") is True


def test_iphones_get_the_steps_to_add_shopper_to_the_home_screen_and_are_told_to_keep_it_open(live, browser):
    iphone = {
        **PHONE,
        "user_agent": (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.5 Mobile/15E148 Safari/604.1"
        ),
    }
    context = browser.new_context(**iphone)
    context.add_init_script("delete window.SyncManager;")  # Safari has no Background Sync
    try:
        page = context.new_page()
        page.goto(f"{live.url}/login")
        expect(page.locator("#install-ios")).to_contain_text("Add to Home Screen")
        expect(page.get_by_role("button", name="Add to home screen")).to_be_hidden()
        page.get_by_role("button", name="Not now").tap()
        page.reload()
        expect(page.locator("#install-offer")).to_be_hidden()

        sign_in(page, live)
        page.goto(live.walk_url(live.new_audit(), "website"))
        expect(page.locator("#walk.live")).to_be_visible()
        context.set_offline(True)
        tap(page, "web-prices-found", "yes")
        expect(page.locator("#sync [data-sync-detail]")).to_contain_text(
            "This browser sends them only while Shopper is open"
        )
        context.set_offline(False)
        all_saved(page)
    finally:
        context.close()
