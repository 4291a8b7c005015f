"""Benchmark the report PDF: a large audit and a one-touchpoint audit, rendered in a warm render worker.

    python bench/bench_report.py        (about a minute on 2 cores, most of it making the 12 MP inputs)

The large audit has 8 touchpoints, 80 items and 50 photos, each made as a 12 MP phone JPEG (EXIF orientation and
GPS) and ingested through the real pipeline, so the PDF gets the real EXIF-free print copies. A render is the
whole path behind a download that misses the cache: load the audit, build the report data and HTML, and have the
warm render process lay it out and write the PDF. Peak memory is the render process's own high-water mark during
one render. The ratio compares the render process drawing the report with it drawing a bare page that holds the
same 50 print copies.

Targets (issue: the report): large audit median <= 1.5 s, peak <= 250 MB, PDF <= 15 MB, ratio to the bare page
<= 2x (goal); one-touchpoint audit median <= 0.5 s.
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta

import _measure  # puts the repository root on sys.path, so it comes before the project's imports
from PIL import Image

RUNS = 5
TARGET_LARGE_S, TARGET_PEAK_MB, TARGET_PDF_MB, GOAL_RATIO, TARGET_SMALL_S = 1.5, 250, 15, 2.0, 0.5
ITEM_KINDS = (
    {"type": "timer", "target_max_s": 60},
    {"type": "counter", "target_max": 1, "unit": "transfers"},
    {"type": "check"},
    {"type": "rating", "scale": 5, "target_min": 4},
    {
        "type": "choice",
        "options": [
            {"value": "a", "label": "Answered", "score": 100},
            {"value": "b", "label": "Sent elsewhere", "score": 0, "flag": True},
        ],
    },
    {"type": "number", "unit": "hours", "target_min": 0, "target_max": 24},
    {"type": "text"},
    {"type": "photo"},
    {"type": "date"},
    {"type": "check", "critical": True, "evidence": {"prompt": "What happened?", "require": "note"}},
)


def large_definition() -> dict:
    touchpoints = []
    for t in range(8):
        items = [
            {
                "key": f"t{t}-i{i}",
                "prompt": f"Question {i + 1} about touchpoint {t + 1}: did it keep its promise?",
                **kind,
            }
            for i, kind in enumerate(ITEM_KINDS)
        ]
        touchpoints.append(
            {
                "key": f"t{t}",
                "title": f"Touchpoint {t + 1} of the journey",
                "channel": "phone",
                "promise": "A person answers within a minute and sorts the question out on the first call.",
                "items": items,
            }
        )
    return {"title": "Benchmark walk", "touchpoints": touchpoints}


def small_definition() -> dict:
    from tests.factories import SMALL_CHECKLIST

    return SMALL_CHECKLIST


def phone_photos(count: int) -> list[bytes]:
    """``count`` distinct 12 MP camera-like JPEGs: one noisy picture, a different block painted on each."""
    from tests import images

    base = images.photo((4000, 3000))
    exif = images.exif_bytes(6, gps=True)
    made = []
    for n in range(count):
        picture = base.copy()
        picture.paste((40 * n % 255, 90, 200 - 3 * n), (60 * n, 40 * n, 60 * n + 900, 40 * n + 700))
        made.append(images.encode(picture, "JPEG", quality=92, exif=exif))
    return made


def make_audit(app, definition: dict, photos: list[bytes]) -> int:
    from shopper.accounts.models import User
    from shopper.audits import service as audits
    from shopper.checklists import service as checklists
    from shopper.checklists.schema import iter_items
    from shopper.extensions import db
    from shopper.media import get_storage
    from shopper.orgs.models import Membership, Organization, Role, Site
    from shopper.timeutil import utcnow
    from tests.test_reports_support import generated_value

    with app.app_context():
        n = uuid.uuid4().hex[:8]
        org = Organization(slug=f"bench-{n}", name="Harbour Physio", primary_color="#0f5c63")
        user = User(email=f"bench-{n}@example.com", name="Olivia Owner", password_hash="x")
        db.session.add_all([org, user])
        db.session.flush()
        db.session.add(Membership(org_id=org.id, user_id=user.id, role=Role.OWNER))
        site = Site(org_id=org.id, name="Riverside branch")
        db.session.add(site)
        db.session.commit()
        checklist = checklists.create_checklist(org.id, user.id, title=definition["title"])
        checklists.save_draft(checklist, definition)
        checklists.publish(checklist, user.id, utcnow())
        moment = utcnow() - timedelta(hours=3)
        audit = audits.start_audit(
            org_id=org.id,
            checklist=checklist,
            site=site,
            auditor_id=user.id,
            created_by_id=user.id,
            scenario="Renewing with an expired card",
            due_on=None,
            now=moment,
        )
        storage = get_storage()
        photo_items = [item["key"] for _, item in iter_items(definition) if item["type"] == "photo"]
        for index, (_, item) in enumerate(iter_items(definition)):
            value = generated_value(item, index)
            if value is not None:
                payload = {"value": value, "note": f"What happened at {item['key']}.", "client_ts": 1}
                audits.save_answer(audit, user.id, uuid.uuid4().hex, item["key"], payload, moment)
        for index, data in enumerate(photos):
            item_key = photo_items[index % len(photo_items)] if photo_items else None
            touchpoint_key = (
                next(tp["key"] for tp, item in iter_items(definition) if item["key"] == item_key)
                if item_key
                else definition["touchpoints"][0]["key"]
            )
            audits.add_photo(
                audit,
                user.id,
                photo_id=str(uuid.uuid4()),
                touchpoint_key=touchpoint_key,
                item_key=item_key,
                caption=f"Photo {index + 1}: the waiting area at opening time",
                data=data,
                storage=storage,
                now=moment,
            )
        for number, touchpoint in enumerate(definition["touchpoints"]):
            payload = {"effort": number % 7 + 1, "promise_kept": number % 2 == 0, "note": "Wrapped up.", "client_ts": 1}
            audits.save_visit(audit, user.id, uuid.uuid4().hex, touchpoint["key"], payload, moment)
        done = audits.submit(audit, user.id, uuid.uuid4().hex, utcnow())
        assert done.status == 200, done.body
        return audit.id


def main() -> None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SHOPPER_INSTANCE_PATH"] = tmp
        from shopper import create_app
        from shopper.audits.models import Audit
        from shopper.extensions import db
        from shopper.media import get_storage
        from shopper.reports import pdf, service

        app = create_app({"SECRET_KEY": "bench", "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3"})
        with app.app_context():
            db.create_all()
        memory_mb = int(app.config["REPORT_RENDER_MEMORY_MB"])
        print(
            f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at "
            f"the start; render process capped at {memory_mb} MB of address space"
        )
        inputs = phone_photos(50)
        with Image.open(io.BytesIO(inputs[0])) as first:
            size = f"{first.width}x{first.height}"
        print(
            f"inputs: 50 phone JPEGs {size}, {sum(map(len, inputs)) / 50e6:.1f} MB each on average "
            f"(made in {time.perf_counter() - started:.1f} s)"
        )
        ingest_started = time.perf_counter()
        large = make_audit(app, large_definition(), inputs)
        small = make_audit(app, small_definition(), inputs[:1])
        print(f"audits walked, photos ingested in {time.perf_counter() - ingest_started:.1f} s\n")

        worker = pdf.worker(memory_mb)
        cold = time.perf_counter()
        worker.ensure_started()
        print(f"render process start (spawn, import WeasyPrint, warm up): {time.perf_counter() - cold:.2f} s\n")

        def full_render(audit_id: int) -> pdf.Rendered:
            with app.app_context():
                audit = db.session.get(Audit, audit_id)
                job, _ = service.pdf_job(audit, service.load_report(audit))
                return pdf.render(service.loadable(job, get_storage()), timeout=120, memory_mb=memory_mb)

        with app.app_context():
            audit = db.session.get(Audit, large)
            job = service.loadable(service.pdf_job(audit, service.load_report(audit))[0], get_storage())
        photo_names = [name for name in job.media if name.startswith("photo/")]
        bare = pdf.RenderJob(
            html="<html><body>"
            + "".join(f'<img src="shopper-media:{name}" alt="">' for name in photo_names)
            + "</body></html>",
            media=job.media,
        )

        times: dict[str, list[float]] = {"large": [], "bare": [], "small": []}
        results: dict[str, pdf.Rendered] = {}
        for name, call in (
            ("large", lambda: full_render(large)),
            ("bare", lambda: pdf.render(bare, timeout=120, memory_mb=memory_mb)),
            ("small", lambda: full_render(small)),
        ):
            results[name] = call()  # warm-up
        peaks = []
        for _ in range(RUNS):
            for name, call in (
                ("large", lambda: full_render(large)),
                ("bare", lambda: pdf.render(bare, timeout=120, memory_mb=memory_mb)),
                ("small", lambda: full_render(small)),
            ):
                begin = time.perf_counter()
                results[name] = call()
                times[name].append(time.perf_counter() - begin)
                if name == "large" and results[name].peak_rss_mb is not None:
                    peaks.append(results[name].peak_rss_mb)
        large_s = statistics.median(times["large"])
        bare_s = statistics.median(times["bare"])
        small_s = statistics.median(times["small"])
        big = results["large"]
        print(
            f"large audit: {big.pages} pages, {len(photo_names)} photos, "
            f"WeasyPrint itself {big.render_ms} ms of the last run"
        )
        _measure.report("large audit render, median", large_s * 1000, "ms", TARGET_LARGE_S * 1000)
        if peaks:
            _measure.report("render process peak memory", max(peaks), "MB", TARGET_PEAK_MB)
        _measure.report("large audit PDF size", len(big.pdf) / 1e6, "MB", TARGET_PDF_MB)
        _measure.report("bare page of the 50 print copies", bare_s * 1000, "ms")
        _measure.report("ratio report / bare page", large_s / bare_s, "x", GOAL_RATIO, word="goal")
        _measure.report("one-touchpoint audit render, median", small_s * 1000, "ms", TARGET_SMALL_S * 1000)
        worker.close()
    print(f"\n(done in {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
