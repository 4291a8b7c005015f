"""The report of every built-in checklist, walked with generated answers and photos, read back from the PDF.

The audits are made and rendered once for the module (each in a rolled-back transaction of its own); page images
of the first pages are saved under pytest's tmp_path for a person to look at.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

import pytest

from shopper.accounts import sessions
from shopper.accounts.models import User
from shopper.audits.models import Audit
from shopper.checklists.builtin import BUILTIN_SLUGS
from shopper.checklists.service import copy_from_library
from shopper.extensions import db
from shopper.orgs.models import Membership, Organization, Role, Site
from shopper.reports import pdf, service
from shopper.timeutil import utcnow
from tests.conftest import download, rolled_back
from tests.factories import PASSWORD_HASH
from tests.test_reports_support import image_count, outline_titles, pdf_text, read_pdf, walk_and_submit


@dataclass
class Rendered:
    slug: str
    audit_id: int
    pdf: bytes
    html: str
    report: object  # the context the PDF was made from
    photos: int


@pytest.fixture(scope="module")
def world(app, tmp_path_factory):
    media = tmp_path_factory.mktemp("report-media")
    saved_media = app.config["MEDIA_ROOT"]
    app.config["MEDIA_ROOT"] = str(media)
    try:
        with rolled_back(app):
            with app.app_context():
                org = Organization(
                    slug="pdf-world",
                    name="Harbour Physio Ltd",
                    display_name="Harbour Physio",
                    primary_color="#0f5c63",
                    report_footer="Confidential: for the practice team",
                    contact_line="Questions: owner@example.com",
                )
                owner = User(email="pdf-owner@example.com", name="Olivia Owner", password_hash=PASSWORD_HASH)
                db.session.add_all([org, owner])
                db.session.flush()
                db.session.add(Membership(org_id=org.id, user_id=owner.id, role=Role.OWNER))
                site = Site(org_id=org.id, name="Riverside branch", address="3 Riverside Walk")
                db.session.add(site)
                db.session.commit()
                ids = {}
                for slug in BUILTIN_SLUGS:
                    checklist = copy_from_library(org.id, owner.id, slug, utcnow())
                    ids[slug] = walk_and_submit(org.id, owner.id, checklist.id, site.id, str(media))
                owner_id = sessions.start(owner, now=utcnow())
                db.session.commit()
            client = app.test_client()
            with client.session_transaction() as session:
                session["_user_id"] = owner_id
            results = {}
            for slug, audit_id in ids.items():
                status, _, data = download(client, f"/o/pdf-world/audits/{audit_id}/report.pdf")
                assert status == 200, data[:500]
                html = client.get(f"/o/pdf-world/audits/{audit_id}/report").get_data(as_text=True)
                with app.app_context():
                    audit = db.session.get(Audit, audit_id)
                    results[slug] = Rendered(slug, audit_id, data, html, service.load_report(audit), len(audit.photos))
            yield results
    finally:
        app.config["MEDIA_ROOT"] = saved_media


@pytest.mark.parametrize("slug", BUILTIN_SLUGS)
def test_every_builtin_checklist_makes_a_complete_pdf(world, slug, tmp_path):
    result = world[slug]
    report = result.report
    reader = read_pdf(result.pdf)
    text = pdf_text(reader)

    assert reader.metadata.title == "Be your customer: Harbour Physio, Riverside branch"
    assert reader.metadata.author == "Harbour Physio"
    assert f"{report.score_text}%" in text and report.band.label in text
    assert report.verdict in text
    assert "Confidential: for the practice team" in text and "Page 2 of" in text
    for touchpoint in report.touchpoints:
        assert touchpoint.title in text
        if touchpoint.promise:
            assert " ".join(touchpoint.promise.split()[:6]) in text
    assert report.findings, "generated answers always miss some targets"
    for finding in report.findings:
        assert finding.prompt in text
    for touchpoint in report.touchpoints:
        for photo in touchpoint.all_photos:
            assert photo.caption in text
    measures = [m for tp in report.touchpoints for m in tp.measures]
    for measure in measures:
        assert f"{measure.actual}; {measure.target_word}: {measure.target}" in text

    titles = outline_titles(reader)
    top = [title for depth, title in titles if depth == 1]
    assert top == ["Cover", "Journey map", "Promises", "Findings", "Touchpoint by touchpoint", "Action plan", "Method"]
    assert [title for depth, title in titles if depth == 2] == [f"{tp.number}. {tp.title}" for tp in report.touchpoints]
    # cover, journey, promises, findings, one page per touchpoint at least, action plan, method
    assert len(reader.pages) >= 6 + len(report.touchpoints)
    assert image_count(reader) == result.photos
    assert reader.attachments == {}

    if shutil.which("pdftoppm"):
        (tmp_path / "report.pdf").write_bytes(result.pdf)
        subprocess.run(
            ["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "3", str(tmp_path / "report.pdf"), str(tmp_path / slug)],
            check=True,
        )
        assert len(list(tmp_path.glob(f"{slug}-*.png"))) == 3


@pytest.mark.parametrize("slug", BUILTIN_SLUGS)
def test_the_web_page_shows_the_same_report(world, slug):
    result = world[slug]
    report = result.report
    html = result.html
    assert f'<span class="score-number">{report.score_text}</span>' in html
    assert report.verdict in html
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="journey-chart"' in html
    assert html.count('class="tp"') == len(report.touchpoints)
    assert "shopper-static:" not in html and "shopper-media:" not in html
    for touchpoint in report.touchpoints:
        for photo in touchpoint.all_photos:
            assert f"/audits/{result.audit_id}/photos/{photo.id}/thumb.jpg" in html


def test_the_font_is_embedded(world, tmp_path):
    if not shutil.which("pdffonts"):
        pytest.skip("poppler-utils is not installed")
    path = tmp_path / "report.pdf"
    path.write_bytes(world["be-your-customer"].pdf)
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    rows = [line for line in fonts.splitlines()[2:] if line.strip()]
    assert rows and all("Source-Sans-3" in row for row in rows)
    assert all(row.split()[-5] == "yes" for row in rows)  # the "emb" column


def test_the_same_chart_is_in_both_outputs(world, app):
    result = world["be-your-customer"]
    with app.app_context():
        chart = service.chart_for(result.report)
    assert chart in result.html
    assert "Worst moment" in pdf_text(read_pdf(result.pdf))


# The render process ----------------------------------------------------------------------------------------------

BIG_TABLE = "<table>" + "<tr><td>row</td><td>cell</td></tr>" * 40000 + "</table>"


def _png_bomb() -> bytes:
    """A small PNG that decodes to 200 MB of pixels."""
    from PIL import Image

    from tests.images import encode

    return encode(Image.new("RGB", (8200, 8200), (200, 30, 30)), "PNG", compress_level=1)


def test_a_render_that_runs_too_long_is_stopped_with_a_clear_message():
    worker = pdf.RenderWorker(memory_mb=1024)
    try:
        with pytest.raises(pdf.RenderTimeout, match="took longer than 0.3 seconds.*nothing was saved"):
            worker.render(pdf.RenderJob(html=BIG_TABLE), timeout=0.3)
        assert worker.pid is None  # killed; the next job gets a fresh process
        assert worker.render(pdf.RenderJob(html="<p>after</p>"), timeout=30).pages == 1
    finally:
        worker.close()


def test_a_render_that_needs_too_much_memory_is_stopped_with_a_clear_message():
    worker = pdf.RenderWorker(memory_mb=400)
    job = pdf.RenderJob(html='<img src="shopper-static:bomb.png">', static={"bomb.png": _png_bomb()})
    try:
        with pytest.raises(pdf.RenderOutOfMemory, match="more than the 400 MB.*nothing was saved"):
            worker.render(job, timeout=60)
        assert worker.render(pdf.RenderJob(html="<p>after</p>"), timeout=30).pages == 1
    finally:
        worker.close()


@pytest.mark.parametrize("slug", BUILTIN_SLUGS[:1])
def test_every_page_is_numbered_and_every_bookmark_opens_its_own_page(world, slug):
    reader = read_pdf(world[slug].pdf)
    pages = [" ".join((page.extract_text() or "").split()) for page in reader.pages]
    total = len(pages)
    assert "Page 1 of" not in pages[0]  # the cover carries no running header or footer
    for number, text in enumerate(pages[1:], start=2):
        assert f"Page {number} of {total}" in text, (number, text[-200:])

    def visit(entries):
        for entry in entries:
            if isinstance(entry, list):
                yield from visit(entry)
            else:
                yield entry

    bookmarks = list(visit(reader.outline))
    assert bookmarks
    for entry in bookmarks:
        page = reader.get_destination_page_number(entry)
        if entry.title == "Cover":
            assert page == 0
        else:
            assert entry.title in pages[page], (entry.title, page)
    numbers = [reader.get_destination_page_number(entry) for entry in bookmarks]
    assert numbers == sorted(numbers)  # in reading order
