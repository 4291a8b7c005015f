"""The guided walk on a phone, in Debian's Chromium: the whole be-your-customer checklist from start to submit, and
what the save status says when the connection fails."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from shopper.audits.models import Answer, Audit, Photo, SyncOp, TouchpointVisit
from shopper.audits.service import RENDITIONS, photo_key
from shopper.extensions import db
from shopper.media.storage import LocalStorage
from tests.images import encode, photo

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def camera_jpeg(tmp_path_factory):
    """A real 12-megapixel-ish phone photo, bigger than the 2048 px the phone shrinks it to."""
    path = tmp_path_factory.mktemp("camera") / "IMG_0001.jpg"
    path.write_bytes(encode(photo((3000, 2000)), "JPEG", quality=90))
    return path


# Helpers: what a thumb does --------------------------------------------------------------------------------------


def status(page: Page):
    return page.locator("#save-status")


def saved(page: Page) -> None:
    expect(status(page)).to_have_attribute("data-state", "saved")
    expect(status(page)).to_have_text("Saved")


def item(page: Page, key: str):
    return page.locator(f"#item-{key}")


def answer_field(page: Page, key: str):
    """The input holding an item's answer (text, number, date, timer seconds, counter)."""
    return item(page, key).locator(f"[name='{key}']")


def tap(page: Page, key: str, value: str) -> None:
    """Tap one of the segmented buttons, rating buttons or options of an item."""
    item(page, key).locator(f"label:has(input[value='{value}'])").tap()


def counter(page: Page, key: str, steps: str) -> None:
    for step in steps:
        item(page, key).locator(f"[data-action={'increment' if step == '+' else 'decrement'}]").tap()


def typed(page: Page, key: str, text: str, *, leave: bool = True) -> None:
    """Type an answer; `leave` taps out of the field (saves at once), else the typing pause saves it."""
    field = answer_field(page, key)
    field.fill(text)
    if leave:
        field.blur()


def note(page: Page, key: str, text: str) -> None:
    box = item(page, key)
    more = box.locator("details.item-more")
    if more.count() and not more.get_attribute("open"):
        more.locator("summary").tap()
    field = box.locator("[data-field=note]")
    field.fill(text)
    field.blur()


def add_photo(page: Page, picker, path) -> None:
    before = picker.locator("[data-photo]").count()
    with page.expect_response(lambda r: r.url.endswith("/photos") and r.request.method == "POST") as upload:
        picker.locator("[data-photo-input=gallery]").set_input_files(path)
    assert upload.value.status == 201, upload.value.text()
    request = upload.value.request
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert int(request.all_headers()["content-length"]) < path.stat().st_size  # shrunk on the phone first
    tiles = picker.locator("[data-photo]")
    expect(tiles).to_have_count(before + 1)
    expect(tiles.last.locator("img")).to_have_attribute("src", re.compile(r"/photos/[0-9a-f-]{36}/thumb\.jpg$"))


def next_touchpoint(page: Page, key: str) -> None:
    saved(page)
    page.get_by_role("link", name="Next →").tap()
    page.wait_for_url(re.compile(rf"/walk/{key}$"))
    expect(page.locator("#walk.live")).to_be_visible()


def api_state(page: Page, live, audit_id: int) -> dict:
    response = page.request.get(f"{live.url}/o/{live.org_slug}/api/audits/{audit_id}")
    assert response.ok
    return response.json()


# The whole walk --------------------------------------------------------------------------------------------------


def test_an_auditor_walks_the_whole_checklist_on_a_phone_and_submits(live, phone, camera_jpeg):
    page = phone
    audit_id = live.new_audit()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)

    # 1. Find us online: check, counter, text revealed by show_if, rating, photo, wrap-up; then a reload.
    page.goto(live.walk_url(audit_id, "website"))
    expect(page.locator("#walk.live")).to_be_visible()
    saved(page)
    expect(page.get_by_text("Step into your customer's shoes")).to_be_visible()
    expect(page.locator(".walk-map-left")).to_have_text("2 required left here")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sticks out sideways

    tap(page, "web-prices-found", "yes")
    note(page, "web-prices-found", "https://harbour.example/prices")
    counter(page, "web-clicks-to-price", "++++")
    expect(item(page, "web-clicks-to-price").locator("[data-breach]")).to_have_text("4 clicks: the target is at most 3")
    counter(page, "web-clicks-to-price", "-")
    expect(answer_field(page, "web-clicks-to-price")).to_have_value("3")
    expect(item(page, "web-clicks-to-price").locator("[data-breach]")).to_be_hidden()
    tap(page, "web-contact-found", "no")
    expect(item(page, "web-contact-found").locator("[data-breach]")).to_have_text("answered no")
    tap(page, "web-hours-found", "na")
    expect(item(page, "web-outdated-details")).to_be_hidden()
    tap(page, "web-outdated", "yes")
    expect(item(page, "web-outdated-details")).to_be_visible()
    typed(page, "web-outdated-details", "Holiday hours on the contact page are from last year.", leave=False)
    saved(page)  # the pause after typing saved it
    tap(page, "web-mobile-ease", "4")
    add_photo(page, item(page, "web-screenshot"), camera_jpeg)
    tile = item(page, "web-screenshot").locator("[data-photo]").first
    tile.locator("[data-field=caption]").fill("Price page, two taps from the search")
    tile.locator("[data-field=caption]").blur()
    wrapup = page.locator("#wrapup")
    wrapup.locator("label:has(input[name='wrapup.effort'][value='3'])").tap()
    wrapup.locator("label:has(input[name='wrapup.promise_kept'][value='no'])").tap()
    wrapup.locator("textarea").fill("The prices were easy; the hours were wrong.")
    expect(page.locator(".walk-map-left")).to_have_text("nothing required left here")
    saved(page)

    page.reload()
    expect(page.locator("#walk.live")).to_be_visible()
    saved(page)
    expect(item(page, "web-prices-found").locator("input[value=yes]")).to_be_checked()
    expect(item(page, "web-prices-found").locator("[data-field=note]")).to_have_value("https://harbour.example/prices")
    expect(answer_field(page, "web-clicks-to-price")).to_have_value("3")
    expect(item(page, "web-contact-found").locator("input[value=no]")).to_be_checked()
    expect(item(page, "web-hours-found").locator("input[value=na]")).to_be_checked()
    expect(item(page, "web-outdated-details")).to_be_visible()
    expect(answer_field(page, "web-outdated-details")).to_have_value(
        "Holiday hours on the contact page are from last year."
    )
    expect(item(page, "web-mobile-ease").locator("input[value='4']")).to_be_checked()
    expect(item(page, "web-screenshot").locator("[data-field=caption]")).to_have_value(
        "Price page, two taps from the search"
    )
    expect(wrapup.locator("input[name='wrapup.effort'][value='3']")).to_be_checked()
    expect(wrapup.locator("input[name='wrapup.promise_kept'][value='no']")).to_be_checked()
    expect(wrapup.locator("textarea")).to_have_value("The prices were easy; the hours were wrong.")
    state = api_state(page, live, audit_id)
    assert {key: a["value"] for key, a in state["answers"].items()} == {
        "web-prices-found": "yes",
        "web-clicks-to-price": 3,
        "web-contact-found": "no",
        "web-hours-found": "na",
        "web-outdated": "yes",
        "web-outdated-details": "Holiday hours on the contact page are from last year.",
        "web-mobile-ease": 4,
    }
    assert state["answers"]["web-prices-found"]["note"] == "https://harbour.example/prices"
    assert state["visits"]["website"] | {"client_ts": 0} == {
        "touchpoint_key": "website",
        "effort": 3,
        "promise_kept": False,
        "note": "The prices were easy; the hours were wrong.",
        "client_ts": 0,
    }
    assert [(p["item_key"], p["caption"]) for p in state["photos"]] == [
        ("web-screenshot", "Price page, two taps from the search")
    ]

    # 2. Call the billing line: the stopwatch, counters over their target, a revealed item, a required note.
    next_touchpoint(page, "billing-line")
    tap(page, "phone-number-found", "yes")
    stopwatch = item(page, "phone-time-to-human")
    stopwatch.get_by_role("button", name="Start").tap()
    expect(stopwatch.get_by_role("button", name="Stop")).to_be_visible()
    page.wait_for_timeout(1200)
    stopwatch.get_by_role("button", name="Stop").tap()
    saved(page)
    seconds = int(answer_field(page, "phone-time-to-human").input_value())
    assert 1 <= seconds <= 5
    expect(stopwatch.locator(".stopwatch-face")).to_have_text(f"00:{seconds:02d}")
    counter(page, "phone-menu-levels", "+++")
    expect(item(page, "phone-menu-levels").locator("[data-breach]")).to_have_text(
        "3 menu levels: the target is at most 2"
    )
    counter(page, "phone-transfers", "+")
    tap(page, "phone-repeat", "na")
    expect(item(page, "phone-next-steps")).to_be_hidden()
    tap(page, "phone-resolved", "no")
    expect(item(page, "phone-next-steps")).to_be_visible()
    expect(page.locator(".walk-map-left")).to_have_text("1 required left here")  # the note "prove it" asks for
    note(page, "phone-resolved", "They promised a credit on the next invoice, by Friday.")
    expect(page.locator(".walk-map-left")).to_have_text("nothing required left here")
    tap(page, "phone-next-steps", "yes")
    tap(page, "phone-courtesy", "3")

    # 3. Send an email enquiry: a date and a number over its target.
    next_touchpoint(page, "email-enquiry")
    typed(page, "email-sent-date", "2026-11-02")
    tap(page, "email-auto-ack", "yes")
    typed(page, "email-reply-hours", "30")
    expect(item(page, "email-reply-hours").locator("[data-breach]")).to_have_text(
        "30 hours: the target is 0 to 24 hours"
    )
    tap(page, "email-all-answered", "yes")
    tap(page, "email-named-person", "no")
    tap(page, "email-tone", "4")

    # 4. Chat: a choice decides which questions follow.
    next_touchpoint(page, "chat-social")
    for key in ("chat-time-to-person", "chat-public-reply-hours", "chat-bot-handover", "chat-answered"):
        expect(item(page, key)).to_be_hidden()
    tap(page, "chat-channel", "website-chat")
    expect(item(page, "chat-time-to-person")).to_be_visible()
    expect(item(page, "chat-public-reply-hours")).to_be_hidden()
    typed(page, "chat-time-to-person", "95")
    expect(item(page, "chat-time-to-person").locator(".stopwatch-face")).to_have_text("01:35")
    tap(page, "chat-bot-handover", "smooth")
    tap(page, "chat-answered", "yes")

    # 5. Arrive and wait: timers typed by hand, a required photo.
    next_touchpoint(page, "arrival-waiting")
    tap(page, "visit-signage", "yes")
    typed(page, "visit-time-to-greeting", "75")
    expect(item(page, "visit-time-to-greeting").locator("[data-breach]")).to_have_text("75 s: the promise is 60 s")
    typed(page, "visit-wait", "540")
    tap(page, "visit-delay-explained", "na")
    tap(page, "visit-comfort", "4")
    tap(page, "visit-clean", "yes")
    add_photo(page, item(page, "visit-photo"), camera_jpeg)

    # 6. Being served.
    next_touchpoint(page, "being-served")
    tap(page, "served-name", "yes")
    tap(page, "served-attention", "5")
    tap(page, "served-knowledge", "found-out")
    tap(page, "served-pushed", "no")
    tap(page, "served-next-steps", "yes")

    # 7. Printed material and the invoice: a photo as evidence, a photo item, a touchpoint photo.
    next_touchpoint(page, "printed-invoice")
    tap(page, "print-current", "yes")
    expect(page.locator(".walk-map-left")).to_have_text(
        "4 required left here"
    )  # 3 required items and the photo "prove it" asks for
    add_photo(page, item(page, "print-current").locator(".evidence"), camera_jpeg)
    tap(page, "invoice-understandable", "4")
    tap(page, "invoice-total-clear", "yes")
    tap(page, "invoice-jargon", "no")
    tap(page, "invoice-contact", "yes")
    add_photo(page, item(page, "invoice-photo"), camera_jpeg)
    add_photo(page, page.locator("#wrapup"), camera_jpeg)
    expect(page.locator(".walk-map-left")).to_have_text("nothing required left here")

    # 8. Renew or pay, then review and submit.
    next_touchpoint(page, "renew-pay")
    tap(page, "renew-reminder", "yes")
    counter(page, "renew-steps", "++++")
    tap(page, "renew-expired-card", "link-sent")
    tap(page, "renew-repeat-details", "no")
    tap(page, "renew-confirmation", "no")
    note(page, "renew-confirmation", "No receipt after two hours.")
    item(page, "renew-confirmation").locator(".flag-toggle").tap()
    tap(page, "renew-billing-reachable", "yes")
    note(page, "renew-billing-reachable", "Chat on the billing page; a person answered in two minutes.")
    page.locator("#wrapup label:has(input[name='wrapup.effort'][value='2'])").tap()
    saved(page)
    page.get_by_role("link", name="Review and submit").tap()
    page.wait_for_url(re.compile(r"/review$"))
    expect(page.get_by_text("Everything required is answered")).to_be_visible()
    page.get_by_role("button", name="Submit the audit").tap()
    page.wait_for_url(re.compile(rf"/audits/{audit_id}$"))
    expect(page.locator(".big-score")).to_have_text(re.compile(r"^\d+%$"))
    expect(page.get_by_text("3 menu levels: the target is at most 2")).to_be_visible()
    assert problems == []

    with live.app.app_context():
        audit = db.session.get(Audit, audit_id)
        assert audit.status == "submitted" and audit.score is not None
        answers = {a.item_key: a for a in db.session.scalars(select(Answer).where(Answer.audit_id == audit_id))}
        assert len(answers) == 47  # every item answered, except the photo items and renew-duration
        assert 1 <= answers["phone-time-to-human"].value <= 5
        assert answers["web-clicks-to-price"].value == 3 and answers["renew-steps"].value == 4
        assert answers["email-sent-date"].value == "2026-11-02" and answers["email-reply-hours"].value == 30
        assert answers["chat-channel"].value == "website-chat" and answers["served-attention"].value == 5
        assert (
            answers["renew-confirmation"].flagged
            and answers["renew-confirmation"].note == "No receipt after two hours."
        )
        assert answers["phone-resolved"].note.startswith("They promised a credit")
        visits = {
            v.touchpoint_key: v
            for v in db.session.scalars(select(TouchpointVisit).where(TouchpointVisit.audit_id == audit_id))
        }
        assert visits["website"].effort == 3 and visits["renew-pay"].effort == 2
        photos = db.session.scalars(select(Photo).where(Photo.audit_id == audit_id)).all()
        assert sorted((p.touchpoint_key, p.item_key or "") for p in photos) == [
            ("arrival-waiting", "visit-photo"),
            ("printed-invoice", ""),
            ("printed-invoice", "invoice-photo"),
            ("printed-invoice", "print-current"),
            ("website", "web-screenshot"),
        ]
        storage = LocalStorage(live.app.config["MEDIA_ROOT"])
        for stored in photos:
            assert all(storage.exists(photo_key(audit, stored.id, name)) for name in RENDITIONS)
            assert max(stored.width, stored.height) == 2000


def test_the_phone_shrinks_photos_and_sends_what_it_cannot_read_as_it_is(live, phone):
    phone.goto(live.walk_url(live.new_audit(), "website"))
    expect(phone.locator("#walk.live")).to_be_visible()
    result = phone.evaluate(
        """async () => {
            const { downscale } = await import("/static/js/photos.js");
            const canvas = new OffscreenCanvas(3000, 1000);
            canvas.getContext("2d").fillRect(0, 0, 10, 10);
            const big = new File([await canvas.convertToBlob({ type: "image/png" })], "big.png", { type: "image/png" });
            const shrunk = await downscale(big);
            const bitmap = await createImageBitmap(shrunk);
            const bytes = new Uint8Array([0, 0, 0, 24, 102, 116, 121, 112]); // a HEIC header and nothing else
            const heic = new File([bytes], "IMG.HEIC", { type: "image/heic" });
            const kept = (await downscale(heic)) === heic;
            return { type: shrunk.type, width: bitmap.width, height: bitmap.height, heicKept: kept };
        }"""
    )
    assert result == {"type": "image/jpeg", "width": 2048, "height": 683, "heicKept": True}


def test_a_running_stopwatch_survives_a_reload(live, phone):
    page = phone
    audit_id = live.new_audit()
    page.goto(live.walk_url(audit_id, "billing-line"))
    stopwatch = item(page, "phone-time-to-human")
    stopwatch.get_by_role("button", name="Start").tap()
    page.wait_for_timeout(1100)
    page.reload()  # as when the phone kills the page in the background
    expect(page.locator("#walk.live")).to_be_visible()
    expect(stopwatch.get_by_role("button", name="Stop")).to_have_attribute("aria-pressed", "true")
    expect(stopwatch.locator(".stopwatch-face")).to_have_text(re.compile(r"^00:0[1-9]$"))
    stopwatch.get_by_role("button", name="Stop").tap()
    saved(page)
    assert api_state(page, live, audit_id)["answers"]["phone-time-to-human"]["value"] >= 1
    stopwatch.get_by_role("button", name="Reset").tap()
    saved(page)
    expect(stopwatch.locator(".stopwatch-face")).to_have_text("00:00")
    assert api_state(page, live, audit_id)["answers"]["phone-time-to-human"]["value"] is None


# When saving fails ---------------------------------------------------------------------------------------------


def sync_ops(live, audit_id: int) -> list[SyncOp]:
    with live.app.app_context():
        return db.session.scalars(select(SyncOp).where(SyncOp.audit_id == audit_id).order_by(SyncOp.id)).all()


def test_unsaved_changes_are_kept_and_retried_in_order_and_saved_exactly_once(live, phone):
    page = phone
    audit_id = live.new_audit()
    page.goto(live.walk_url(audit_id, "website"))
    expect(page.locator("#walk.live")).to_be_visible()
    saved(page)
    retry = page.get_by_role("button", name="Retry")

    # The server cannot be reached: nothing is claimed saved, and the changes wait in order.
    page.route("**/api/audits/**", lambda route: route.abort("connectionrefused"))
    tap(page, "web-prices-found", "no")
    expect(status(page)).to_have_attribute("data-state", "failed")
    expect(status(page)).to_contain_text("Not saved yet")
    expect(retry).to_be_visible()
    tap(page, "web-prices-found", "yes")
    expect(status(page)).to_contain_text("2 changes waiting")
    page.get_by_role("link", name="Next →").tap()  # moving on keeps them on this phone, and says so
    page.wait_for_url(re.compile(r"/walk/billing-line$"))
    expect(status(page)).to_have_text("Not saved yet: 2 changes waiting")
    expect(page.locator("#sync")).to_contain_text("2 changes waiting to sync")
    assert sync_ops(live, audit_id) == []
    page.unroute("**/api/audits/**")
    retry.tap()
    saved(page)
    expect(retry).to_be_hidden()
    expect(page.locator("#sync .sync-text")).to_have_text("All changes saved")
    ops = sync_ops(live, audit_id)
    assert len(ops) == 2 and len({op.op_id for op in ops}) == 2
    assert api_state(page, live, audit_id)["answers"]["web-prices-found"]["value"] == "yes"
    page.get_by_role("link", name="← Previous").tap()
    page.wait_for_url(re.compile(r"/walk/website$"))
    expect(item(page, "web-prices-found").locator("input[value=yes]")).to_be_checked()

    # The server saved it but the reply was lost: the retry carries the same key and is not applied twice.
    def lose_the_reply(route):
        route.fetch()
        route.abort("connectionreset")

    page.route("**/answers/web-contact-found", lose_the_reply, times=1)
    tap(page, "web-contact-found", "no")
    expect(status(page)).to_contain_text("Not saved yet")
    assert len(sync_ops(live, audit_id)) == 3  # it did arrive
    retry.tap()
    saved(page)
    ops = sync_ops(live, audit_id)
    assert len(ops) == 3 and len({op.op_id for op in ops}) == 3
    with live.app.app_context():
        answer = db.session.scalar(
            select(Answer).where(Answer.audit_id == audit_id, Answer.item_key == "web-contact-found")
        )
        assert answer.value == "no" and answer.op_id == ops[-1].op_id

    # Offline: kept on this phone, and the changes go by themselves once the phone is back online.
    page.context.set_offline(True)
    tap(page, "web-hours-found", "yes")
    expect(status(page)).to_have_text("Offline: 1 change kept on this phone")
    expect(page.locator("#sync .sync-text")).to_have_text("Offline: changes are kept on this phone")
    expect(page.locator("#sync [data-sync-detail]")).to_have_text(re.compile(r"^1 change waiting to sync, oldest"))
    page.context.set_offline(False)
    saved(page)
    assert api_state(page, live, audit_id)["answers"]["web-hours-found"]["value"] == "yes"
    assert len(sync_ops(live, audit_id)) == 4


def test_signed_out_keeps_the_change_and_asks_to_sign_in(live, phone):
    page = phone
    audit_id = live.new_audit()
    walk = live.walk_url(audit_id, "website")
    page.goto(walk)
    expect(page.locator("#walk.live")).to_be_visible()
    cookies = page.context.cookies()
    page.context.clear_cookies()
    tap(page, "web-prices-found", "yes")
    expect(status(page)).to_have_text("Signed out: sign in again to save")
    sign_in = page.locator("[data-signin]")
    expect(sign_in).to_be_visible()
    assert sign_in.get_attribute("href").endswith(f"/login?next=/o/{live.org_slug}/audits/{audit_id}/walk/website")
    page.context.add_cookies(cookies)  # signed in again, in another tab
    page.get_by_role("button", name="Retry").tap()
    saved(page)
    assert api_state(page, live, audit_id)["answers"]["web-prices-found"]["value"] == "yes"


def test_a_refused_change_shows_the_servers_reason_by_the_question(live, phone):
    page = phone
    audit_id = live.new_audit()
    page.goto(live.walk_url(audit_id, "website"))
    expect(page.locator("#walk.live")).to_be_visible()
    with live.app.app_context():  # submitted meanwhile, on another device
        db.session.get(Audit, audit_id).status = "submitted"
        db.session.commit()
    tap(page, "web-hours-found", "yes")
    error = item(page, "web-hours-found").locator(":scope > .item-error")
    expect(error).to_have_text("This audit has been submitted: it can no longer be changed.")
    expect(status(page)).to_have_attribute("data-state", "refused")


def test_a_file_that_is_not_a_photo_is_refused_with_the_servers_reason(live, phone, tmp_path):
    page = phone
    page.goto(live.walk_url(live.new_audit(), "website"))
    expect(page.locator("#walk.live")).to_be_visible()
    notes = tmp_path / "notes.jpg"
    notes.write_text("These are my notes, not a photo.")
    picker = item(page, "web-screenshot")
    picker.locator("[data-photo-input=gallery]").set_input_files(notes)
    tile = picker.locator("[data-photo]")
    expect(tile.locator(".item-error")).to_have_text("This file is not a photo we can read (JPEG, PNG, WebP or HEIC).")
    expect(status(page)).to_have_attribute("data-state", "refused")
    tile.get_by_role("button", name="Delete").tap()
    tile.get_by_role("button", name="Tap again to delete").tap()
    expect(tile).to_have_count(0)
    saved(page)


def test_a_later_change_from_another_device_wins_and_shows(live, phone):
    page = phone
    audit_id = live.new_audit()
    page.goto(live.walk_url(audit_id, "website"))
    expect(page.locator("#walk.live")).to_be_visible()
    later = page.request.put(  # the same auditor's tablet, whose clock says a minute from now
        f"{live.url}/o/{live.org_slug}/api/audits/{audit_id}/answers/web-hours-found",
        data={"value": "no", "note": "Checked on the tablet", "client_ts": int(time.time() * 1000) + 60_000},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert later.ok
    tap(page, "web-hours-found", "yes")
    saved(page)
    expect(answer_field(page, "web-hours-found").and_(page.locator("[value=no]"))).to_be_checked()
    expect(item(page, "web-hours-found").locator("[data-field=note]")).to_have_value("Checked on the tablet")
    assert api_state(page, live, audit_id)["answers"]["web-hours-found"]["value"] == "no"


# The phone's rules are the server's -----------------------------------------------------------------------------


def _candidates(entry: dict) -> list:
    kind = entry["type"]
    if kind == "check":
        return ["yes", "no", "na"]
    if kind == "rating":
        return list(range(1, entry["scale"] + 1))
    if kind == "choice":
        values = [option["value"] for option in entry["options"]]
        return [values[:1], values[-2:], []] if entry.get("multiple") else values
    if kind == "number":
        low, high = entry.get("target_min", 0), entry.get("target_max", 10)
        return [low - 1, low, high, high + 0.5, 2.25, 1e6, -0.0004]
    if kind == "timer":
        return [0, 59, 60, 61, 61.5, 119, 120, 250, 3599.6, 3600, 4000, 86400]
    if kind == "counter":
        return list(range(entry.get("target_max", 2) + 3))
    return []


def test_the_phone_words_breaches_and_hides_items_exactly_like_the_server(live, phone):
    import random

    from shopper.checklists.builtin import builtin_checklists
    from shopper.checklists.schema import iter_items
    from shopper.checklists.scoring import breach, visible_item_keys

    chance = random.Random(7)
    breaches, visibility = [], []
    for checklist in builtin_checklists():
        definition = checklist.definition
        entries = [entry for _, entry in iter_items(definition)]
        for entry in entries:
            for value in _candidates(entry):
                breaches.append([entry, value, breach(entry, value)])
        for _ in range(40):
            values = {
                e["key"]: chance.choice(_candidates(e)) for e in entries if _candidates(e) and chance.random() < 0.7
            }
            visibility.append([definition, values, sorted(visible_item_keys(definition, values))])
    phone.goto(live.walk_url(live.new_audit(), "website"))
    mismatches = phone.evaluate(
        """async ([breaches, visibility]) => {
            const rules = await import("/static/js/rules.js");
            const wrong = [];
            for (const [item, value, expected] of breaches) {
                const got = rules.breach(item, value);
                if (got !== expected) wrong.push([item.key, value, expected, got]);
            }
            for (const [definition, values, expected] of visibility) {
                const got = [...rules.visibleKeys(definition, values)].sort();
                if (JSON.stringify(got) !== JSON.stringify(expected)) wrong.push([values, expected, got]);
            }
            return wrong;
        }""",
        [breaches, visibility],
    )
    assert len(breaches) > 300 and len(visibility) == 160
    assert mismatches == []
