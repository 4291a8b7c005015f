"""Helpers for the report tests (no tests here): walk any checklist with generated answers and photos, read PDFs
back, and listen on 127.0.0.1 for requests a render must never make."""

from __future__ import annotations

import http.server
import io
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from pypdf import PdfReader

from shopper.audits import service as audits
from shopper.audits.models import Audit
from shopper.checklists.models import Checklist
from shopper.checklists.schema import iter_items
from shopper.extensions import db
from shopper.media.storage import LocalStorage
from shopper.orgs.models import Site
from shopper.timeutil import utcnow
from tests.images import encode, photo

_JPEGS: dict[int, bytes] = {}


def small_jpeg(seed: int = 0) -> bytes:
    """A 640 x 480 photo-like JPEG (made once per seed)."""
    if seed not in _JPEGS:
        picture = photo((640, 480), noise=10 + seed)
        _JPEGS[seed] = encode(picture, "JPEG", quality=85)
    return _JPEGS[seed]


def generated_value(item: dict, index: int):
    """An answer for any item; every other scored answer misses its target, so there are findings."""
    kind = item["type"]
    miss = index % 2 == 1
    if kind == "check":
        expect = item.get("expect", "yes")
        return ("no" if expect == "yes" else "yes") if miss else expect
    if kind == "rating":
        return 1 if miss else item["scale"]
    if kind == "choice":
        options = [option["value"] for option in item["options"]]
        value = options[-1] if miss else options[0]
        return [value] if item.get("multiple") else value
    if kind == "text":
        return f"Written answer for {item['key']}"
    if kind == "number":
        high, low = item.get("target_max"), item.get("target_min")
        if miss and high is not None:
            return high + 5
        return low if low is not None else 3
    if kind == "timer":
        target = item.get("target_max_s")
        return target * 4 + 10 if (miss and target is not None) else 30
    if kind == "counter":
        target = item.get("target_max")
        return target + 2 if (miss and target is not None) else 0
    if kind == "date":
        return "2026-03-02"
    return None


def walk_and_submit(
    org_id: int,
    user_id: int,
    checklist_id: int,
    site_id: int,
    media_root: str,
    *,
    scenario: str = "A first-time customer with a question about the bill",
    note: str | None = None,
    caption: str | None = None,
    wrap_up_note: str | None = None,
    photos_per_touchpoint: int = 1,
) -> int:
    """Start, answer every item, add photos, wrap up all touchpoints but the last, and submit; in an app context.
    Returns the audit id. ``note``, ``caption`` and ``wrap_up_note`` replace the generated texts when given."""
    storage = LocalStorage(media_root)
    start = utcnow() - timedelta(hours=2)
    audit = audits.start_audit(
        org_id=org_id,
        checklist=db.session.get(Checklist, checklist_id),
        site=db.session.get(Site, site_id),
        auditor_id=user_id,
        created_by_id=user_id,
        scenario=scenario,
        due_on=None,
        now=start,
    )
    definition = audit.definition
    moment = start
    for index, (touchpoint, item) in enumerate(iter_items(definition)):
        moment += timedelta(seconds=40)
        value = generated_value(item, index)
        if value is not None:
            payload = {"value": value, "note": note or f"Note on {item['key']}", "client_ts": index + 1}
            applied = audits.save_answer(audit, user_id, uuid.uuid4().hex, item["key"], payload, moment)
            assert applied.status == 200, applied.body
        if item["type"] == "photo" or item.get("evidence", {}).get("require") == "photo":
            audits.add_photo(
                audit,
                user_id,
                photo_id=str(uuid.uuid4()),
                touchpoint_key=touchpoint["key"],
                item_key=item["key"],
                caption=caption or f"Evidence for {item['key']}",
                data=small_jpeg(index % 3),
                storage=storage,
                now=moment,
            )
    touchpoints = definition["touchpoints"]
    for number, touchpoint in enumerate(touchpoints):
        for extra in range(photos_per_touchpoint):
            audits.add_photo(
                audit,
                user_id,
                photo_id=str(uuid.uuid4()),
                touchpoint_key=touchpoint["key"],
                item_key=None,
                caption=caption or f"Caption {touchpoint['key']} {extra + 1}",
                data=small_jpeg(extra % 3),
                storage=storage,
                now=moment,
            )
        if number < len(touchpoints) - 1:
            payload = {
                "effort": number % 7 + 1,
                "promise_kept": number % 2 == 0,
                "note": wrap_up_note or f"Wrap-up of {touchpoint['key']}",
                "client_ts": 1,
            }
            audits.save_visit(audit, user_id, uuid.uuid4().hex, touchpoint["key"], payload, moment)
    done = audits.submit(audit, user_id, uuid.uuid4().hex, moment + timedelta(minutes=5))
    assert done.status == 200, done.body
    return audit.id


def reopen_and_resubmit(audit_id: int, user_id: int) -> None:
    audit = db.session.get(Audit, audit_id)
    audits.reopen(audit, user_id, "One more look", utcnow())
    audits.submit(audit, user_id, uuid.uuid4().hex, utcnow())


def read_pdf(data: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(data))


def pdf_text(reader: PdfReader) -> str:
    """All text of the PDF with runs of white space made single spaces."""
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def outline_titles(reader: PdfReader) -> list[tuple[int, str]]:
    """(depth, title) of every bookmark, in order."""
    found: list[tuple[int, str]] = []

    def visit(entries, depth):
        for entry in entries:
            if isinstance(entry, list):
                visit(entry, depth + 1)
            else:
                found.append((depth, entry.title))

    visit(reader.outline, 1)
    return found


def image_count(reader: PdfReader) -> int:
    """Distinct images in the PDF (WeasyPrint embeds each image once and shares it between pages)."""
    return len({image.name for page in reader.pages for image in page.images})


class Listener:
    """An HTTP server on 127.0.0.1 that records every request it gets (a render must send none)."""

    def __init__(self):
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the standard library's name)
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"leak")

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def listening() -> Iterator[Listener]:
    listener = Listener()
    listener.thread.start()
    try:
        yield listener
    finally:
        listener.server.shutdown()
        listener.server.server_close()
        listener.thread.join(5)
