"""Issue 16's defects of the PDF and web report, one test each, in the customer's terms. Real database, real
WeasyPrint read back with pypdf and poppler (pdftotext, pdffonts, pdftoppm), real Pillow on the stored logo.

Action titles built from the promise text are tested in test_actions_service.py
(test_suggested_titles_come_from_the_question_and_the_answer)."""

from __future__ import annotations

import html as html_lib
import re
import shutil
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from shopper.audits import service as audits
from shopper.audits.models import Audit
from shopper.extensions import db
from shopper.media.storage import LocalStorage
from shopper.orgs.models import Role
from shopper.timeutil import utcnow
from tests.conftest import download
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
