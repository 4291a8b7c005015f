"""Benchmark the report PDF: its download (made ahead, so a file read), and its render in a warm render worker.

    python bench/bench_report.py        (about a minute on 2 cores, most of it making the 12 MP inputs)
    BENCH_SMOKE=1 python bench/bench_report.py   (4 small photos, one run: proves the script works)

The large audit has 8 touchpoints, 80 items and 50 photos, each made as a 12 MP phone JPEG (EXIF orientation and
GPS) and ingested through the real pipeline, so the PDF gets the real EXIF-free print copies. A render is the
whole path behind a download that misses the cache: load the audit, build the report data and HTML, and have the
warm render process lay it out and write the PDF. Peak memory is the render process's own high-water mark during
one render. The ratio compares the render process's CPU time drawing the report with its CPU time drawing a bare
page that holds the same 50 print copies (CPU time: the machine is shared, its wall clock swings with the load).
A download is a signed-in GET of the PDF already in the cache, as a browser asks for it the first time (200) and
again with the ETag it kept (304).

Targets (issue 15): download median <= 50 ms, revalidation (304) median <= 50 ms, render ratio to the bare page
<= 4x (CPU). Issue 13's: large audit median <= 1.5 s, peak <= 250 MB, PDF <= 15 MB, one-touchpoint audit <= 0.5 s.
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
DOWNLOADS = 40
TARGET_LARGE_S, TARGET_PEAK_MB, TARGET_PDF_MB, TARGET_RATIO, TARGET_SMALL_S = 1.5, 250, 15, 4.0, 0.5
TARGET_DOWNLOAD_MS = 50
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


def phone_photos(count: int, size: tuple[int, int] = (4000, 3000)) -> list[bytes]:
    """``count`` distinct camera-like JPEGs (12 MP unless told): one noisy picture, a different block painted on
    each."""
    from tests import images

    base = images.photo(size)
    exif = images.exif_bytes(6, gps=True)
    made = []
    for n in range(count):
        picture = base.copy()
        picture.paste((40 * n % 255, 90, 200 - 3 * n), (60 * n, 40 * n, 60 * n + 900, 40 * n + 700))
        made.append(images.encode(picture, "JPEG", quality=92, exif=exif))
    return made


def make_audit(app, definition: dict, photos: list[bytes]) -> tuple[int, str, int]:
    """A walked and submitted audit: (audit id, organization slug, owner's user id)."""
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
        return audit.id, org.slug, user.id


def signed_in_client(app, user_id: int):
    from shopper.accounts import sessions
    from shopper.accounts.models import User
    from shopper.extensions import db
    from shopper.timeutil import utcnow

    with app.app_context():
        session_id = sessions.start(db.session.get(User, user_id), now=utcnow())
        db.session.commit()
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = session_id
        session["_fresh"] = True
    return client


def downloads(app, audit_id: int, slug: str, user_id: int, runs: int) -> tuple[float, float]:
    """Median wall-clock ms of a download of the cached PDF (200), and of its revalidation with the ETag (304)."""
    from shopper.reports import rendering

    with app.app_context():
        rendering.render_now(audit_id).stream.close()  # what the job does when the audit is submitted
    client = signed_in_client(app, user_id)
    url = f"/o/{slug}/audits/{audit_id}/report.pdf"

    def get(headers: dict, status: int) -> str:
        with client.get(url, headers=headers) as response:
            if response.status_code != status:
                raise RuntimeError(f"download answered {response.status_code}, not {status}")
            return response.headers["ETag"]

    etag = get({}, 200)
    medians = _measure.median_ms(
        {"200": lambda: get({}, 200), "304": lambda: get({"If-None-Match": etag}, 304)}, runs=runs, warmups=1
    )
    return medians["200"], medians["304"]


def main() -> None:
    started = time.perf_counter()
    smoke = _measure.smoke()
    photo_count, runs = (4, 1) if smoke else (50, RUNS)
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
            f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {_measure.load_average()} at "
            f"the start; render process capped at {memory_mb} MB of address space"
        )
        inputs = phone_photos(photo_count, (800, 600) if smoke else (4000, 3000))
        with Image.open(io.BytesIO(inputs[0])) as first:
            size = f"{first.width}x{first.height}"
        print(
            f"inputs: {photo_count} phone JPEGs {size}, {sum(map(len, inputs)) / photo_count / 1e6:.1f} MB each on "
            f"average (made in {time.perf_counter() - started:.1f} s)"
        )
        ingest_started = time.perf_counter()
        large, large_slug, large_user = make_audit(app, large_definition(), inputs)
        small, _, _ = make_audit(app, small_definition(), inputs[:1])
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

        calls = {
            "large": lambda: full_render(large),
            "bare": lambda: pdf.render(bare, timeout=120, memory_mb=memory_mb),
            "small": lambda: full_render(small),
        }
        times: dict[str, list[float]] = {name: [] for name in calls}
        cpu: dict[str, list[int]] = {name: [] for name in calls}
        results = {name: call() for name, call in calls.items()}  # warm-up
        peaks = []
        for _ in range(runs):
            for name, call in calls.items():  # side by side, so a change in the load weighs on all alike
                begin = time.perf_counter()
                results[name] = call()
                times[name].append(time.perf_counter() - begin)
                cpu[name].append(results[name].cpu_ms)
                if name == "large" and results[name].peak_rss_mb is not None:
                    peaks.append(results[name].peak_rss_mb)
        render_load = _measure.load_average()
        download_ms, revalidate_ms = downloads(app, large, large_slug, large_user, 5 if smoke else DOWNLOADS)
        big = results["large"]
        print(f"large audit: {big.pages} pages, {len(photo_names)} photos; load average {render_load} while rendering")
        _measure.figure("download of the ready PDF, median", download_ms, "ms", TARGET_DOWNLOAD_MS)
        _measure.figure("revalidation (304), median", revalidate_ms, "ms", TARGET_DOWNLOAD_MS)
        _measure.figure("large audit render, median", statistics.median(times["large"]) * 1000, "ms", 1500)
        _measure.figure("large audit render CPU, median", statistics.median(cpu["large"]), "ms")
        _measure.figure("bare page of the print copies, CPU", statistics.median(cpu["bare"]), "ms")
        ratio = statistics.median(cpu["large"]) / statistics.median(cpu["bare"])
        _measure.figure("ratio report / bare page (CPU)", ratio, "x", TARGET_RATIO)
        if peaks:
            _measure.figure("render process peak memory", max(peaks), "MB", TARGET_PEAK_MB)
        _measure.figure("large audit PDF size", len(big.pdf) / 1e6, "MB", TARGET_PDF_MB)
        _measure.figure(
            "one-touchpoint audit render, median", statistics.median(times["small"]) * 1000, "ms", TARGET_SMALL_S * 1000
        )
        worker.close()
    print(f"\n(done in {time.perf_counter() - started:.0f} s; load average {_measure.load_average()} at the end)")


if __name__ == "__main__":
    main()
