"""One change the server cannot take never holds the others hostage (static/js/outbox.js, "How an answer from the
server is treated"). A server that keeps failing on one change (the Wire answers 500 for it) gets five tries over
about two minutes while the later changes are saved, then the change is set aside where the auditor sees it, with
what they typed, "Copy my text", "Try again" and "Dismiss"; a server that is away (503, 429) makes the whole replay
wait, longer each time, and spends no change's budget. Time runs on Playwright's clock, paused, and moves on only
when a test says so: each wait of the outbox is checked to the millisecond, and nothing fires by itself meanwhile."""

from __future__ import annotations

import re
import time
from datetime import datetime

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from shopper.audits.models import Answer, Audit, Photo, SyncOp
from shopper.extensions import db
from tests.browser.test_offline import indicator, item, tap
from tests.images import encode, photo

pytestmark = pytest.mark.browser

TYPED = "The holiday hours page still shows last year's dates.\nThe contact page lists an old phone number."
OUTDATED_PROMPT = "What was out of date, and on which page?"
ENTRY_WAITS_MS = [5000, 15000, 30000, 60000]  # after a change's first, second, third and fourth failure
SLACK_MS = 500  # past a planned try: the outbox's timer fires 100 ms after it


@pytest.fixture(scope="module")
def camera_jpeg(tmp_path_factory):
    path = tmp_path_factory.mktemp("camera") / "IMG_0003.jpg"
    path.write_bytes(encode(photo((1600, 1200)), "JPEG", quality=88))
    return path


# Helpers -------------------------------------------------------------------------------------------------------------


def until(condition, timeout: float = 20.0, what: str = "the condition"):
    """Poll (a state, never a fixed sleep) until `condition()` is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


def open_walk(page: Page, url: str) -> None:
    """Open a walk page on a paused clock: timers fire only when the test moves time on."""
    page.clock.install()
    page.goto(url)
    expect(page.locator("#walk.live")).to_be_visible()
    now = page.evaluate("Date.now()")
    page.clock.pause_at(datetime.fromtimestamp(now / 1000 + 1))


def advance(page: Page, ms: int, condition, what: str):
    """Move the paused clock on by `ms`, then wait for `condition()`; return its value. A timer the page sets just
    after the jump (its replay was still finishing) is due at once, yet would never fire on a paused clock: while
    waiting, nudge the clock on by 200 ms each second, at most 4 s in all, less than any wait of the outbox."""
    page.clock.fast_forward(ms)
    deadline = time.monotonic() + 20
    nudged = time.monotonic()
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        if time.monotonic() - nudged >= 1:
            page.clock.fast_forward(200)
            nudged = time.monotonic()
        time.sleep(0.05)
    return value


def kept(page: Page) -> list[dict]:
    """The outbox's entries, oldest first, without their bodies."""
    return page.evaluate(
        """ShopperOutbox.entries().then((all) => all.map((e) => ({
            id: e.id, kind: e.kind, target: e.target, attempts: e.attempts || 0, nextTry: e.nextTry || 0,
            failure: e.failure || null, key: e.headers["Idempotency-Key"],
        })))"""
    )


def set_aside(page: Page) -> list[dict]:
    return page.evaluate(
        """ShopperOutbox.setAside().then((all) => all.map((e) => ({
            kind: e.kind, target: e.target, cause: e.cause, status: e.status, reason: e.reason,
            key: e.headers["Idempotency-Key"],
        })))"""
    )


def status(page: Page) -> dict:
    return page.evaluate("ShopperOutbox.summary().then((s) => s.status)")


def tried_kept(page: Page, attempts: int) -> dict | None:
    """The entry kept that has failed `attempts` times, if any."""
    return next((e for e in kept(page) if e["attempts"] == attempts), None)


def one_kept(page: Page, attempts: int) -> dict:
    return until(lambda: tried_kept(page, attempts), what=f"an entry tried {attempts} times")


def failed_on(live, path: str) -> list[str | None]:
    """The Idempotency-Keys of the writes the Wire answered with a failure, for paths ending with `path`."""
    return [key for _, where, key in live.wire.failed if where.endswith(path)]


def db_answers(live, audit_id: int) -> dict:
    with live.app.app_context():
        return {a.item_key: a.value for a in db.session.scalars(select(Answer).where(Answer.audit_id == audit_id))}


def ops(live, audit_id: int) -> list[SyncOp]:
    with live.app.app_context():
        return db.session.scalars(select(SyncOp).where(SyncOp.audit_id == audit_id).order_by(SyncOp.id)).all()


def aside_panel(page: Page):
    return page.locator("#sync-aside")


def aside_item(page: Page, text: str):
    return aside_panel(page).locator("li").filter(has_text=text)


def save_status(page: Page):
    return page.locator("#save-status")


def check_buttons_are_big_enough(entry) -> None:
    for name in ("Try again", "Copy my text", "Dismiss"):
        box = entry.get_by_role("button", name=name).bounding_box()
        assert box["width"] >= 44 and box["height"] >= 44, (name, box)


# A server that keeps failing on one change ---------------------------------------------------------------------------


def test_a_change_the_server_keeps_failing_on_is_set_aside_visibly_and_the_later_ones_are_saved(live, phone):
    page = phone
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    audit_id = live.new_audit()
    open_walk(page, live.walk_url(audit_id, "website"))
    live.wire.failing["/answers/web-outdated-details"] = 500

    tap(page, "web-outdated", "yes")
    details = page.locator("#answer-web-outdated-details")
    details.fill(TYPED)
    details.evaluate("(field) => field.blur()")  # leaving the field saves what is typed at once
    tap(page, "web-prices-found", "yes")  # later changes: they must not wait behind the one that fails
    tap(page, "web-contact-found", "no")
    until(lambda: len(db_answers(live, audit_id)) == 3, what="the later answers on the server")
    assert db_answers(live, audit_id) == {"web-outdated": "yes", "web-prices-found": "yes", "web-contact-found": "no"}

    # The failing one spends its budget, waiting 5 s, 15 s, 30 s and 60 s between tries.
    entry = one_kept(page, 1)
    assert entry["target"] == "web-outdated-details" and entry["nextTry"] - entry["failure"]["at"] == 5000
    expect(save_status(page)).to_have_text("Not saved yet: 1 change waiting")
    expect(page.locator("#sync [data-sync-detail]")).to_contain_text(
        "The server could not save a change yet. Trying again in 5 s."
    )
    for tries, wait in enumerate(ENTRY_WAITS_MS[:-1], start=1):
        entry = advance(page, wait + SLACK_MS, lambda t=tries: tried_kept(page, t + 1), f"try {tries + 1}")
        assert entry["nextTry"] - entry["failure"]["at"] == ENTRY_WAITS_MS[tries]
    assert set_aside(page) == []
    advance(page, ENTRY_WAITS_MS[-1] + SLACK_MS, lambda: set_aside(page), "the change set aside")
    assert kept(page) == []
    keys = failed_on(live, "/answers/web-outdated-details")
    assert len(keys) == 5 and len(set(keys)) == 1  # five tries of one change, under its one key
    [aside] = set_aside(page)
    assert aside["cause"] == "failed" and aside["status"] == 500 and aside["key"] == keys[0]

    # Set aside where the auditor sees it, in words, with why; never called saved.
    panel = aside_panel(page)
    expect(panel.locator("[data-sync-refused-title]")).to_have_text("1 change could not be saved")
    entry = aside_item(page, OUTDATED_PROMPT)
    expect(entry).to_contain_text(f"Answer to “{OUTDATED_PROMPT}”")
    expect(entry).to_contain_text("The server failed on this change 5 times in a row (500)")
    expect(entry).to_contain_text("What you entered: The holiday hours page still shows last year's dates.")
    expect(indicator(page)).to_have_text("Everything else is saved")
    expect(save_status(page)).to_have_text("Not saved: see the message by the question")
    expect(item(page, "web-outdated-details").locator(":scope > .item-error")).to_contain_text("5 times in a row")
    check_buttons_are_big_enough(entry)
    page.get_by_role("button", name="See why").tap()  # from the bar at the bottom of the walk
    expect(page.locator("#sync-aside-title")).to_be_focused()

    # "Copy my text": what was typed, exactly, on the clipboard; from the keyboard too.
    entry.get_by_role("button", name="Copy my text").focus()
    page.keyboard.press("Enter")
    expect(entry.locator("[role=status]")).to_have_text("Copied. Paste it wherever you need it.")
    assert page.evaluate("navigator.clipboard.readText()") == TYPED
    # Where the browser gives no clipboard (a page without HTTPS), the text is shown selected, to copy by hand.
    page.evaluate("Object.defineProperty(navigator, 'clipboard', { value: undefined, configurable: true })")
    entry.get_by_role("button", name="Copy my text").tap()
    area = entry.get_by_role("textbox", name="The text you typed")
    expect(area).to_be_visible()
    assert area.evaluate("(a) => a.value.slice(a.selectionStart, a.selectionEnd)") == TYPED

    # The server is fixed: "Try again" saves it once, under the same key.
    live.wire.failing.clear()
    entry.get_by_role("button", name="Try again").tap()
    until(lambda: db_answers(live, audit_id).get("web-outdated-details") == TYPED, what="the change on the server")
    expect(panel).to_be_hidden()
    expect(indicator(page)).to_have_text("All changes saved")
    expect(save_status(page)).to_have_text("Saved")
    expect(item(page, "web-outdated-details").locator(":scope > .item-error")).to_be_hidden()
    assert [op.op_id for op in ops(live, audit_id)].count(keys[0]) == 1
    assert [key for _, _, key in live.wire.writes].count(keys[0]) == 1
    assert len(ops(live, audit_id)) == 4 and set_aside(page) == []


def test_a_reload_keeps_each_changes_tries_and_waits(live, phone, camera_jpeg):
    page = phone
    audit_id = live.new_audit()
    open_walk(page, live.walk_url(audit_id, "website"))
    live.wire.failing.update({"/answers/web-hours-found": 500, "/photos": 507})

    tap(page, "web-hours-found", "yes")
    picker = item(page, "web-screenshot")
    picker.locator("[data-photo-input=gallery]").set_input_files(camera_jpeg)

    def tried(times: int) -> bool:
        """Both changes have failed `times` times, on the wire and in the outbox (or are set aside, after five)."""
        on_wire = len(failed_on(live, "/answers/web-hours-found")) == len(failed_on(live, "/photos")) == times
        entries = kept(page)
        return on_wire and (
            len(set_aside(page)) == 2
            if times == 5
            else len(entries) == 2 and all(e["attempts"] == times for e in entries)
        )

    until(lambda: tried(1), what="the first failures")
    advance(page, ENTRY_WAITS_MS[0] + SLACK_MS, lambda: tried(2), "the second failures")
    before = kept(page)

    page.reload()  # in the middle of the waits: nothing is forgotten, and nothing is tried before its time
    expect(page.locator("#walk.live")).to_be_visible()
    expect(save_status(page)).to_have_text("Not saved yet: 2 changes waiting")
    assert kept(page) == before and tried(2)

    for times, wait in enumerate(ENTRY_WAITS_MS[1:], start=3):
        advance(page, wait + SLACK_MS, lambda t=times: tried(t), f"try {times}")
    assert tried(5)  # five in all, across the reload: the budget was not started over

    tile = picker.locator("[data-photo]")
    expect(tile.locator("[data-photo-state]")).to_have_text("Not uploaded")
    photo = aside_item(page, "Photo for")
    expect(photo).to_contain_text(
        "Photo for “Screenshot of the page where you found the answer, or where you gave up.”"
    )
    expect(photo).to_contain_text("(507)")
    expect(photo.get_by_role("button", name="Copy my text")).to_have_count(0)  # no text typed with it
    live.wire.failing.clear()
    photo.get_by_role("button", name="Try again").tap()
    expect(tile.locator("[data-photo-state]")).to_be_hidden(timeout=20_000)  # uploaded: the tile says so
    expect(tile.locator("img")).to_have_attribute("src", re.compile(r"/thumb\.jpg$"))
    with live.app.app_context():
        assert len(db.session.scalars(select(Photo).where(Photo.audit_id == audit_id)).all()) == 1

    answer = aside_item(page, "opening hours")
    answer.get_by_role("button", name="Dismiss").tap()
    expect(answer).to_contain_text("Forget this change?")
    answer.get_by_role("button", name="Forget it").tap()
    expect(aside_panel(page)).to_be_hidden()
    expect(indicator(page)).to_have_text("All changes saved")
    assert "web-hours-found" not in db_answers(live, audit_id)


# A server that is away ---------------------------------------------------------------------------------------------


def test_a_server_away_for_a_while_sets_nothing_aside_and_gets_everything_once_it_is_back(live, phone):
    page = phone
    audit_id = live.new_audit()
    open_walk(page, live.walk_url(audit_id, "website"))
    live.wire.unavailable = True  # 503, without Retry-After

    answers = [("web-prices-found", "yes"), ("web-contact-found", "no"), ("web-hours-found", "yes")]
    for key, value in answers:
        tap(page, key, value)
    expect(save_status(page)).to_have_text("Not saved yet: 3 changes waiting")
    assert len(live.wire.turned_away) == 1  # the later saves wait out the server's absence: no request each
    away = status(page)
    assert (away["cause"], away["away"], away["retryAt"] - away["at"]) == ("away", 1, 5000)
    expect(page.locator("#sync [data-sync-detail]")).to_contain_text(
        "The server is out of reach or busy. Trying again in 5 s."
    )

    # Longer and longer waits, at most two minutes; more tries than any change's budget, and none spent.
    waits = [5000, 10000, 20000, 40000, 80000, 120000, 120000]
    for count in range(2, len(waits) + 1):
        advance(page, waits[count - 2] + SLACK_MS, lambda c=count: status(page).get("away") == c, f"pass {count}")
        away = status(page)
        assert away["retryAt"] - away["at"] == waits[count - 1]
    assert len(live.wire.turned_away) == len(waits)
    assert [e["attempts"] for e in kept(page)] == [0, 0, 0] and set_aside(page) == []

    # "Sync now" tries at once, whatever the wait; a 429 with Retry-After is waited for as asked.
    live.wire.unavailable_status, live.wire.retry_after = 429, 45
    page.locator("#sync [data-sync-now]").tap()
    until(lambda: len(live.wire.turned_away) == len(waits) + 1, what="the asked-for try")
    until(lambda: status(page).get("away") == len(waits) + 1, what="the 429")
    away = status(page)
    assert away["retryAt"] - away["at"] == 45000
    expect(page.locator("#sync [data-sync-detail]")).to_contain_text("Trying again in 45 s.")

    live.wire.unavailable = False  # back
    advance(page, 45000 + SLACK_MS, lambda: db_answers(live, audit_id) == dict(answers), "everything saved")
    expect(indicator(page)).to_have_text("All changes saved")
    sent = [key for _, _, key in live.wire.writes]
    assert len(sent) == 3 and len(set(sent)) == 3 and len(ops(live, audit_id)) == 3
    assert set_aside(page) == [] and kept(page) == []


# A submit behind a change that could not be saved --------------------------------------------------------------------


def test_a_submit_is_held_while_an_earlier_change_of_its_audit_is_set_aside(live, phone):
    page = phone
    audit_id = live.new_audit(small=True)
    open_walk(page, live.walk_url(audit_id, "front-desk"))
    live.wire.failing["/answers/greeted"] = 500
    tap(page, "greeted", "no")
    tap(page, "name-badge", "yes")
    page.get_by_role("link", name="Review and submit").tap()
    page.wait_for_url(re.compile(r"/review$"))
    expect(page.locator("#review.live")).to_be_visible()
    page.get_by_role("button", name="Submit the audit").tap()
    expect(page.locator("[data-submit-status]")).to_contain_text("Your submit is kept on this phone")
    until(lambda: db_answers(live, audit_id) == {"name-badge": "yes"}, what="the answer that can go")

    one_kept(page, 1)
    for tries, wait in enumerate(ENTRY_WAITS_MS, start=1):  # the submit waits behind the failing answer
        assert [(e["kind"], e["attempts"]) for e in kept(page)] == [("answer", tries), ("submit", 0)]
        if tries < len(ENTRY_WAITS_MS):
            advance(page, wait + SLACK_MS, lambda t=tries: tried_kept(page, t + 1), f"try {tries + 1}")
        else:
            advance(page, wait + SLACK_MS, lambda: len(set_aside(page)) == 2, "the answer and the submit set aside")
    assert sorted(e["cause"] for e in set_aside(page)) == ["failed", "held"]
    with live.app.app_context():
        assert db.session.get(Audit, audit_id).status == "in_progress"  # not frozen without the answer
    expect(page.locator("[data-submit-status]")).to_contain_text(
        "Not submitted: An earlier change to this audit could not be saved"
    )
    held = aside_item(page, "Submitting the audit")
    expect(held).to_contain_text("An earlier change to this audit could not be saved")

    live.wire.failing.clear()
    aside_item(page, "Were you greeted").get_by_role("button", name="Try again").tap()
    until(lambda: db_answers(live, audit_id).get("greeted") == "no", what="the answer on the server")
    held.get_by_role("button", name="Try again").tap()
    page.wait_for_url(re.compile(rf"/audits/{audit_id}$"), timeout=20_000)  # submitted: off to the overview
    with live.app.app_context():
        assert db.session.get(Audit, audit_id).status == "submitted"
    assert [op.kind for op in ops(live, audit_id)] == ["answer", "answer", "submit"]
