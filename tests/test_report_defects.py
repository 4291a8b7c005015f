"""Issue 16's defects of the PDF and web report, one test each, in the customer's terms. Real database, real
WeasyPrint read back with pypdf and poppler (pdftotext, pdffonts, pdftoppm), real Pillow on the stored logo.

Action titles built from the promise text are tested in test_actions_service.py
(test_suggested_titles_come_from_the_question_and_the_answer)."""

from __future__ import annotations

import html as html_lib
import io
import re
import shutil
import subprocess
import uuid
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from shopper.audits import service as audits
from shopper.audits.models import Audit
from shopper.extensions import db
from shopper.media.keys import logo_key
from shopper.media.storage import LocalStorage
from shopper.orgs.models import Role
from shopper.reports.brand import store_logo
from shopper.timeutil import utcnow
from tests.conftest import download
from tests.images import encode
from tests.test_reports_cobrand import ask_for_zip, give_logo, read_zip, set_org
from tests.test_reports_support import pdf_text, read_pdf, small_jpeg

needs_poppler = pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils is not installed")


def checklist(*touchpoints) -> dict:
    return {"title": "Defect walk", "touchpoints": list(touchpoints)}


def touchpoint(key, title, promise, *items) -> dict:
    return {"key": key, "title": title, "channel": "in-person", "promise": promise, "items": list(items)}


WAIT = {"key": "wait", "type": "timer", "prompt": "Time until someone served you", "target_max_s": 600}
GREETED = {"key": "greeted", "type": "check", "prompt": "Were you greeted at the door?"}


def walk(app, make, org, user, definition, answers, visits=None, photos=(), scenario=""):
    """An audit of `definition` answered with `answers` (key -> value or (value, note)), wrapped up with `visits`
    (touchpoint key -> save_visit payload), with `photos` ((touchpoint key, item key or None, caption)), submitted."""
    audit = make.audit(org, user, checklist=make.checklist(org, by=user, definition=definition), scenario=scenario)
    now = utcnow() - timedelta(minutes=30)
    storage = LocalStorage(app.config["MEDIA_ROOT"])
    with app.app_context():
        audit = db.session.get(Audit, audit.id)
        for n, (key, answer) in enumerate(answers.items(), start=1):
            value, note = answer if isinstance(answer, tuple) else (answer, "")
            payload = {"value": value, "note": note, "client_ts": n}
            assert audits.save_answer(audit, user.id, uuid.uuid4().hex, key, payload, now).status == 200
        for key, payload in (visits or {}).items():
            assert audits.save_visit(audit, user.id, uuid.uuid4().hex, key, {"client_ts": 1, **payload}, now).status
        for n, (tp_key, item_key, caption) in enumerate(photos):
            applied = audits.add_photo(
                audit,
                user.id,
                photo_id=str(uuid.uuid4()),
                touchpoint_key=tp_key,
                item_key=item_key,
                caption=caption,
                data=small_jpeg(n % 3),
                storage=storage,
                now=now,
            )
            assert applied.status in (200, 201), applied.body
        done = audits.submit(audit, user.id, uuid.uuid4().hex, now + timedelta(minutes=5))
        assert done.status == 200, done.body
        db.session.commit()
        return db.session.get(Audit, audit.id)


def report_of(client, org, audit) -> tuple[str, bytes]:
    """The web report's HTML and the PDF, as the signed-in viewer gets them."""
    base = f"/o/{org.slug}/audits/{audit.id}/report"
    status, _, page = download(client, base)
    assert status == 200
    status, _, data = download(client, f"{base}.pdf")
    assert status == 200, data[:300]
    return page.decode(), data


@pytest.fixture
def owner(make, login):
    org = make.org("Harbour Physio")
    user = login(make.member(org, Role.OWNER))
    return org, user


def poppler(tool, data: bytes, tmp_path, *args) -> str:
    path = tmp_path / f"report-{uuid.uuid4().hex}.pdf"
    path.write_bytes(data)
    out = ["-"] if tool == "pdftotext" else []
    return subprocess.run([tool, *args, str(path), *out], capture_output=True, text=True, check=True).stdout


def page_texts(data: bytes) -> list[str]:
    return [" ".join((page.extract_text() or "").split()) for page in read_pdf(data).pages]


def page_fill(data: bytes, tmp_path) -> list[float]:
    """The share of each page's pixel rows (within the page) that carry anything but white."""
    path = tmp_path / f"fill-{uuid.uuid4().hex}.pdf"
    path.write_bytes(data)
    subprocess.run(["pdftoppm", "-gray", "-r", "40", "-png", str(path), str(tmp_path / path.stem)], check=True)
    fills = []
    for png in sorted(tmp_path.glob(f"{path.stem}-*.png")):
        with Image.open(png) as im:
            gray = im.convert("L")
            width, height = gray.size
            pixels = gray.load()
            rows = sum(1 for y in range(height) if any(pixels[x, y] < 235 for x in range(width)))
        fills.append(rows / height)
    return fills


# Wrong or broken ---------------------------------------------------------------------------------------------------


def test_the_cover_does_not_count_a_promise_kept_when_its_measured_wait_broke_it(app, client, make, owner):
    org, user = owner
    definition = checklist(touchpoint("desk", "Front desk", "Served within 10 minutes", WAIT, GREETED))
    reason = "The queue was long, but they apologised"
    audit = walk(
        app,
        make,
        org,
        user,
        definition,
        {"wait": 900, "greeted": "yes"},
        visits={"desk": {"promise_kept": True, "effort": 3, "note": reason}},
    )
    page, data = report_of(client, org, audit)
    text = pdf_text(read_pdf(data))
    assert "15 min; promise: 10 min" in text
    for shown in (text, html_lib.unescape(page)):
        assert "Promises kept: 0 of 1" in shown and "Promises kept: 1 of 1" not in shown
        override = re.search(r"auditor's override[^“]*“([^”]*)”", shown, re.IGNORECASE)
        assert override, "the auditor's 'kept' is shown as an override"
        assert override.group(1) == reason


def test_a_measured_breach_wins_over_the_wrap_up_and_only_over_a_kept():
    from tests.test_reports_context import build, visit

    kept = build(visits=[visit("phone", 6, True, "They apologised"), visit("desk", 2, True)])
    phone, desk, _ = kept.touchpoints
    assert (phone.kept, phone.kept_by, phone.overridden) == (False, "measure", True)  # 4 min 10 s against 1 min
    assert (desk.kept, desk.kept_by, desk.overridden) == (True, "auditor", False)  # nothing measured broke
    assert kept.verdict == "Promises kept: 1 of 2"
    broken = build(visits=[visit("phone", 6, False)]).touchpoints[0]
    assert (broken.kept, broken.kept_by, broken.overridden) == (False, "auditor", False)


def test_a_cobranded_cover_shows_the_client_logo_and_name(app, client, make, login):
    consultancy = make.consultancy("Northwind Advisory")
    client_org = make.org("Harbour Physio Ltd")
    consultant = make.member(consultancy, Role.MANAGER)
    make.client_link(consultancy, client_org)
    shared = make.checklist(consultancy, by=make.member(consultancy, Role.OWNER))
    make.share(shared, "all")
    set_org(app, consultancy.id, display_name="Northwind")
    set_org(app, client_org.id, display_name="Harbour Physio")
    give_logo(app, consultancy.id, (60, 30, 90))
    give_logo(app, client_org.id, (15, 92, 99))
    audit = make.submitted_audit(
        client_org, consultant, {"answer-time": 30, "transfers": 0, "resolved": ("yes", "ok")}, checklist=shared
    )
    login(make.member(client_org, Role.OWNER))
    page, data = report_of(client, client_org, audit)
    cover = read_pdf(data).pages[0]
    assert "Harbour Physio" in (cover.extract_text() or "")
    assert len(cover.images) == 2, "the cover shows the consultancy's logo and the client's logo"
    cover_html = page[page.index('<section class="cover"') : page.index("</section>")]
    assert len(re.findall(r"<img\b", cover_html)) == 2


def white_on_transparent() -> bytes:
    logo = Image.new("RGBA", (300, 100), (0, 0, 0, 0))
    for x in range(40, 260):
        for y in range(30, 70):
            logo.putpixel((x, y), (255, 255, 255, 255))
    return encode(logo, "PNG")


def test_a_white_logo_on_a_transparent_background_stays_visible(app, client, make, owner):
    org, _ = owner
    storage = LocalStorage(app.config["MEDIA_ROOT"])
    with app.app_context():
        logo_id = store_logo(org.id, white_on_transparent(), storage)
    set_org(app, org.id, logo_media_id=logo_id)
    with Image.open(io.BytesIO(storage.read(logo_key(org.id, logo_id, "print")))) as stored:
        assert stored.mode in ("RGBA", "LA") or "transparency" in stored.info, (
            f"the stored logo was flattened to {stored.mode}: its transparency is lost"
        )
    audit = walk(app, make, org, owner[1], checklist(touchpoint("desk", "Front desk", "Greeted", GREETED)), {})
    _, data = report_of(client, org, audit)
    (logo,) = read_pdf(data).pages[0].images
    assert logo.image.mode in ("RGBA", "LA"), f"the PDF's logo is opaque ({logo.image.mode}): white on white"


def test_the_consultancy_zip_holds_the_latest_audit_on_the_consultancy_checklist(app, client, make, login):
    consultancy = make.consultancy("Northwind Advisory")
    client_org = make.org("Harbour Physio")
    manager = make.member(consultancy, Role.MANAGER)
    client_owner = make.member(client_org, Role.OWNER)
    make.client_link(consultancy, client_org)
    shared = make.checklist(consultancy, by=make.member(consultancy, Role.OWNER))
    make.share(shared, "all")
    set_org(app, consultancy.id, display_name="Northwind")
    answers = {"answer-time": 30, "transfers": 0, "resolved": ("yes", "ok")}
    ours = make.submitted_audit(
        client_org, manager, answers, checklist=shared, submitted_at=utcnow() - timedelta(days=2)
    )
    make.submitted_audit(client_org, client_owner, answers, checklist=make.checklist(client_org, by=client_owner))
    login(manager)
    _, _, data = ask_for_zip(app, client, f"/o/{consultancy.slug}")
    files = read_zip(data)
    (name,) = [name for name in files if name.endswith(".pdf")]
    text = pdf_text(read_pdf(files[name]))
    assert "Prepared for Harbour Physio by Northwind" in text, (
        f"{name} is the client's own-checklist audit, not audit {ours.id} on Northwind's checklist"
    )


CHINESE = "收银台排队等了十五分钟"
EMOJI = "😡"


@needs_poppler
def test_chinese_and_emoji_print_as_glyphs_not_empty_boxes(app, client, make, owner, tmp_path):
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert "fonts-noto-cjk" in ci and "fonts-noto-color-emoji" in ci, ".ci/run does not install the fallback fonts"
    org, user = owner
    definition = checklist(touchpoint("desk", "Front desk", "Greeted", GREETED))
    audit = walk(app, make, org, user, definition, {"greeted": ("no", f"{CHINESE} {EMOJI}")})
    _, data = report_of(client, org, audit)
    fonts = poppler("pdffonts", data, tmp_path).splitlines()[2:]
    names = [row.split()[0] for row in fonts if row.strip()]
    assert all(row.split()[-5] == "yes" for row in fonts if row.strip()), fonts  # every font embedded
    assert any("CJK" in name for name in names), f"no CJK fallback font embedded: {names}"
    assert any("Emoji" in name for name in names), f"no emoji font embedded: {names}"
    assert CHINESE in poppler("pdftotext", data, tmp_path).replace("\n", "")


class _Texts(HTMLParser):
    """Each run of text with the `dir` of the element that holds it."""

    VOID = {"meta", "link", "img", "br", "input", "hr", "source"}

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[str, str | None]] = []
        self.found: list[tuple[str, str, str | None]] = []  # (text, tag, dir of the innermost element)

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append((tag, dict(attrs).get("dir")))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if data.strip() and self.stack:
            self.found.append((data.strip(), *self.stack[-1]))


ARABIC_NOTE = "انتظرت عشرين دقيقة عند المكتب"
ARABIC_WRAP_UP = "لم يرحب بي أحد"
ARABIC_SCENARIO = "زبون جديد يسأل عن الفاتورة"


def test_arabic_text_reads_right_to_left_wherever_the_report_shows_it(app, client, make, owner):
    org, user = owner
    definition = checklist(touchpoint("desk", "Front desk", "Greeted", GREETED))
    audit = walk(
        app,
        make,
        org,
        user,
        definition,
        {"greeted": ("no", ARABIC_NOTE)},
        visits={"desk": {"note": ARABIC_WRAP_UP, "effort": 4}},
        scenario=ARABIC_SCENARIO,
    )
    page, _ = report_of(client, org, audit)
    parser = _Texts()
    parser.feed(page)
    shown = [(text, tag, direction) for text, tag, direction in parser.found if re.search("[\u0600-\u06ff]", text)]
    texts = {text for text, _, _ in shown}
    assert {ARABIC_NOTE, ARABIC_SCENARIO, f"“{ARABIC_WRAP_UP}”"} <= texts, texts
    without = [(text, tag) for text, tag, direction in shown if direction != "auto"]
    assert not without, f'user-written text without dir="auto": {without}'


LONG_NOTE = (
    "LONGNOTE The receptionist was on a personal call for the whole time I stood at the desk, then asked me to "
    "take a seat without looking up. " * 6
).strip()


def test_a_long_note_is_printed_once_and_referred_to_by_page(app, client, make, owner):
    org, user = owner
    definition = checklist(touchpoint("desk", "Front desk", "Greeted", GREETED))
    audit = walk(app, make, org, user, definition, {"greeted": ("no", LONG_NOTE)})
    page, data = report_of(client, org, audit)
    text = pdf_text(read_pdf(data))
    assert text.count("LONGNOTE The receptionist") == 6, f"printed {text.count('LONGNOTE') // 6} times"
    assert re.search(r"see page \d+", text)


def test_a_photo_without_a_caption_prints_no_placeholder(app, client, make, owner):
    org, user = owner
    definition = checklist(touchpoint("desk", "Front desk", "Greeted", GREETED))
    audit = walk(app, make, org, user, definition, {"greeted": "yes"}, photos=[("desk", None, "")])
    page, data = report_of(client, org, audit)
    assert "No caption" not in pdf_text(read_pdf(data))
    assert "No caption" not in page


@needs_poppler
def test_a_perfect_audit_gets_no_page_for_one_sentence(app, client, make, owner, tmp_path):
    org, user = owner
    definition = checklist(
        touchpoint("desk", "Front desk", "Greeted", GREETED), touchpoint("wait", "Waiting", "Served soon", WAIT)
    )
    audit = walk(app, make, org, user, definition, {"greeted": "yes", "wait": 60})
    _, data = report_of(client, org, audit)
    texts = page_texts(data)
    fills = page_fill(data, tmp_path)
    sparse = [(n + 1, round(fill, 2), texts[n][:80]) for n, fill in enumerate(fills) if n > 0 and fill < 0.15]
    assert not sparse, f"pages under 15% filled: {sparse}"


RATING = {"key": "tone", "type": "rating", "prompt": "How friendly was the welcome?", "scale": 5, "target_min": 4}


def test_an_answer_that_met_its_target_has_no_red_bar(app, client, make, owner):
    org, user = owner
    definition = checklist(touchpoint("desk", "Front desk", "A warm welcome", GREETED, RATING))
    audit = walk(app, make, org, user, definition, {"greeted": "yes", "tone": 4})
    page, _ = report_of(client, org, audit)
    items = re.findall(
        r'<li class="item item-(\w+)">\s*<div class="item-line">\s*<span class="item-prompt">([^<]+)', page
    )
    assert items, "the touchpoint's items are listed"
    assert [prompt for status, prompt in items if status == "missed"] == [], (
        "4 of 5 meets the target of 4, yet the answer is marked like a miss (red bar)"
    )


@needs_poppler
def test_a_photo_sits_with_its_question_not_at_the_end_of_the_touchpoint(app, client, make, owner, tmp_path):
    org, user = owner
    items = [
        {"key": "sign", "type": "check", "prompt": "Was the opening-hours sign readable?"},
        GREETED,
        {"key": "queue", "type": "check", "prompt": "Was the queue under five people?"},
    ]
    audit = walk(
        app,
        make,
        org,
        user,
        checklist(touchpoint("desk", "Front desk", "Greeted", *items)),
        {"sign": "no", "greeted": "yes", "queue": "yes"},
        photos=[("desk", "sign", "The faded sign by the door")],
    )
    page, data = report_of(client, org, audit)
    text = " ".join(poppler("pdftotext", data, tmp_path).split())
    section = text[text.rindex("Touchpoint by touchpoint") :]
    assert section.index("readable?") < section.index("The faded sign") < section.index("greeted at the door?"), (
        "the photo's caption comes after every question of the touchpoint, not with its own"
    )
    tp_html = page[page.index('<article class="tp"') :]
    thumb = tp_html.index("/thumb.jpg")
    assert tp_html.index("readable?") < thumb < tp_html.index("greeted at the door?")


FILLER = [{"key": f"q{n}", "type": "check", "prompt": f"Question {n} of the front desk"} for n in range(14)]
HUGE_NOTE = "HUGENOTE " + ("The desk was unattended and nobody came for a long while, so I waited on. " * 40)
HALF_PAGE_NOTE = "HUGENOTE " + ("The desk was unattended and nobody came for a long while, so I waited on. " * 30)


def test_an_item_with_a_long_note_starts_on_the_touchpoint_page_not_the_next(app, client, make, owner):
    org, user = owner
    definition = checklist(touchpoint("desk", "Front desk", "Greeted", *FILLER, GREETED))
    answers = {f"q{n}": "yes" for n in range(14)} | {"greeted": ("no", HALF_PAGE_NOTE)}
    audit = walk(app, make, org, user, definition, answers)
    _, data = report_of(client, org, audit)
    texts = page_texts(data)
    start = next(n for n, text in enumerate(texts) if "Question 13 of the front desk" in text)
    assert "HUGENOTE" in texts[start], (
        f"page {start + 1} ends after the short questions; the long note jumped whole to page {start + 2}"
    )


def test_a_table_row_with_a_long_wrap_up_breaks_across_pages_instead_of_jumping(app, client, make, owner):
    org, user = owner
    definition = checklist(
        touchpoint("desk", "Front desk", "Greeted", GREETED),
        touchpoint("wait", "Waiting room", "Served within 10 minutes", WAIT),
    )
    audit = walk(
        app,
        make,
        org,
        user,
        definition,
        {"greeted": "yes", "wait": 1200},
        visits={"wait": {"note": HUGE_NOTE, "effort": 6, "promise_kept": False}},
    )
    _, data = report_of(client, org, audit)
    texts = page_texts(data)
    promises = next(n for n, text in enumerate(texts) if "What each touchpoint promises the customer" in text)
    assert "HUGENOTE" in texts[promises], (
        f"the Promises table's row with the long wrap-up jumped whole from page {promises + 1} to the next"
    )
