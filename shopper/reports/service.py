"""Reading an audit into its report, rendering the report's HTML, and what its PDF is made of; saving a brand.

The PDF of an audit is cached in media storage under a fingerprint: the SHA-256 of the exact HTML and theme
stylesheet it is rendered from, the storage keys of the photos and logo it embeds, plus the report stylesheet and
font files. The HTML carries the audit's revision and everything else the report shows (the brand, the names of
the client and the consultancy, white label), so the PDF is rendered again only after the audit, its brand, the
page size or the stylesheet changed. Rendering and caching run as jobs: see reports/rendering.py.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask import current_app, render_template
from sqlalchemy import select

from shopper.accounts.models import User
from shopper.actions.service import action_plan
from shopper.audits.models import Answer, Audit, Finding, Photo, TouchpointVisit
from shopper.database import write_transaction
from shopper.extensions import db
from shopper.media import get_storage
from shopper.media.keys import audit_folder, logo_key, photo_key
from shopper.media.storage import Storage
from shopper.orgs.models import Organization
from shopper.reports import pdf
from shopper.reports.brand import (
    BrandError,
    accent_warning,
    brand_of,
    check_primary,
    credit_of,
    delete_logo,
    parse_color,
    store_logo,
    theme_css,
)
from shopper.reports.charts import JourneyPoint, journey_svg
from shopper.reports.context import AuditFacts, Report, build_report
from shopper.timeutil import utcnow

#: bump when the report's HTML changes meaning without its text changing, to refresh every cached PDF
FORMAT_VERSION = "1"
STATIC_FOR_PDF = ("css/report.css", "fonts/SourceSans3-Regular.woff", "fonts/SourceSans3-Semibold.woff")
THEME_FOR_PDF = "css/report-theme.css"


class ReportNotReady(ValueError):
    """The audit has no report (yet): it is not submitted, or was reopened."""


def brand_org_of(audit: Audit) -> Organization:
    """The organization whose brand the report wears: the one that owns the checklist. That is the audit's own
    organization, or the consultancy whose shared checklist a client walked (the report is then co-branded, and
    stays so after the consultancy's link to the client is revoked)."""
    return db.session.get(Organization, audit.checklist.org_id)


def load_report(audit: Audit) -> Report:
    """The report data of a submitted audit, in six queries whatever its size. Raises ReportNotReady."""
    if not audit.is_submitted:
        raise ReportNotReady("The report is ready once the audit is submitted.")
    audited = db.session.get(Organization, audit.org_id)
    brand_org = brand_org_of(audit)
    brand = brand_of(brand_org)
    answers = db.session.scalars(select(Answer).where(Answer.audit_id == audit.id)).all()
    visits = db.session.scalars(select(TouchpointVisit).where(TouchpointVisit.audit_id == audit.id)).all()
    photos = db.session.scalars(
        select(Photo).where(Photo.audit_id == audit.id).order_by(Photo.created_at, Photo.id)
    ).all()
    findings = db.session.scalars(select(Finding).where(Finding.audit_id == audit.id)).all()
    people_ids = {a.updated_by_id for a in answers if a.updated_by_id is not None}
    if audit.auditor_id is not None:
        people_ids.add(audit.auditor_id)
    people = {row.id: row.name for row in db.session.execute(select(User.id, User.name).where(User.id.in_(people_ids)))}
    facts = AuditFacts(
        definition=audit.version.definition,
        business=(audited.display_name or audited.name).strip(),
        site=audit.site.name,
        site_address=audit.site.address or "",
        checklist_title=audit.version.definition.get("title") or audit.checklist.title,
        version_number=audit.version.number,
        scenario=audit.scenario or "",
        auditor=people.get(audit.auditor_id, "") if audit.auditor_id is not None else "",
        started_at=audit.started_at,
        submitted_at=audit.submitted_at,
        score=audit.score,
        result=audit.result,
        revision=audit.revision,
    )
    return build_report(
        facts=facts,
        brand=brand,
        answers=answers,
        visits=visits,
        photos=photos,
        findings=findings,
        people=people,
        actions=action_plan(audit.id, utcnow().date()),
        credit=credit_of(audited, brand_org),
    )


def chart_for(report: Report) -> str:
    points = [JourneyPoint(tp.number, tp.title, tp.score, tp.effort, tp.kept, tp.worst) for tp in report.touchpoints]
    return journey_svg(points, primary=report.brand.primary, accent=report.brand.accent)


@dataclass(frozen=True)
class Links:
    """Where the report's resources live for one way of showing it (member page, share link or PDF)."""

    stylesheets: tuple[str, ...]  # the PDF has none here: the render process applies them itself
    photo: Callable[[str, str], str]  # (photo id, rendition) -> URL
    logo: str | None
    pdf: str | None = None
    back: str | None = None


PDF_LINKS = Links(
    stylesheets=(),
    photo=lambda photo_id, rendition: f"shopper-media:photo/{photo_id}.jpg",
    logo="shopper-media:logo.jpg",
)


def render_html(report: Report, links: Links, mode: str) -> str:
    """The report page; ``mode`` is "member" (signed in), "share" (through a share link) or "pdf"."""
    return render_template(
        "reports/report.html",
        report=report,
        links=links,
        mode=mode,
        chart=chart_for(report),
    )


def page_size() -> str:
    return current_app.config["REPORT_PAGE_SIZE"]


# The PDF ------------------------------------------------------------------------------------------------------


@functools.cache
def _static_digest(static_folder: str) -> str:
    digest = hashlib.sha256(FORMAT_VERSION.encode())
    for name in STATIC_FOR_PDF:
        digest.update(name.encode() + b"\0" + Path(static_folder, name).read_bytes())
    return digest.hexdigest()


#: white space between a block-level tag and the next one: the template's indentation, which WeasyPrint would turn
#: into text boxes and lay out only to find them empty (a few percent of a large report's render). Never inside
#: text: people's text cannot hold a tag, and the space between inline tags stays.
_BLOCK_TAGS = (
    "html|head|body|main|section|div|article|ul|ol|li|p|h1|h2|h3|table|thead|tbody|tr|th|td|figure|figcaption|dl|dt|"
    "dd|meta|title|link"
)
_between_blocks = re.compile(rf"(</?(?:{_BLOCK_TAGS})\b[^>]*>)\s+(?=</?(?:{_BLOCK_TAGS})\b)")


def pdf_job(audit: Audit, report: Report) -> tuple[pdf.RenderJob, str]:
    """The render job for the audit's PDF and its fingerprint. Its photos and logo are named by storage key
    (``stored``), which ``loadable`` reads when the PDF is rendered: working out the fingerprint reads no photo."""
    static_folder = current_app.static_folder
    html = _between_blocks.sub(r"\1", render_html(report, PDF_LINKS, "pdf"))
    theme = theme_css(report.brand, lambda name: f"shopper-static:fonts/{name}", page_size())
    files = get_storage()
    static: dict[str, str | bytes] = {name: str(Path(static_folder, name)) for name in STATIC_FOR_PDF}
    static[THEME_FOR_PDF] = theme.encode()
    stored: dict[str, str] = {}  # the storage keys embedded: a new logo has a new key, so a new fingerprint
    present = {file.key for file in files.list(audit_folder(audit.org_id, audit.id))}  # one listing for all
    for tp in report.touchpoints:
        for photo in tp.all_photos:
            key = photo_key(audit, photo.id, "print")
            if key in present:
                stored[f"photo/{photo.id}.jpg"] = key
    if report.brand.logo_id:
        key = logo_key(audit.checklist.org_id, report.brand.logo_id, "print")
        if files.exists(key):
            stored["logo.jpg"] = key
    fingerprint = hashlib.sha256(
        "\0".join((_static_digest(static_folder), html, theme, *sorted(stored.values()))).encode()
    ).hexdigest()
    job = pdf.RenderJob(html=html, static=static, stored=stored, stylesheets=("css/report.css", THEME_FOR_PDF))
    return job, fingerprint


def loadable(job: pdf.RenderJob, files: Storage) -> pdf.RenderJob:
    """The job with its stored photos and logo read for the render process: a local file's path, or the bytes
    from a bucket. A file removed since the job was made is left out: the report renders without it."""
    media = dict(job.media)
    for name, key in job.stored.items():
        try:
            media[name] = files.fetchable(key)
        except FileNotFoundError:
            continue
    return dataclasses.replace(job, media=media, stored={})


def _ascii_slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def pdf_filename(report: Report) -> str:
    """An ASCII file name from the business, the site and the date: harbour-physio-riverside-2026-03-02.pdf."""
    parts = [_ascii_slug(report.business)[:50], _ascii_slug(report.site)[:50]]
    if report.submitted_at is not None:
        parts.append(report.submitted_at.strftime("%Y-%m-%d"))
    name = "-".join(part for part in parts if part) or "report"
    return f"{name}.pdf"


@dataclass
class PdfFile:
    stream: BinaryIO
    filename: str
    size: int
    cached: bool
    #: what the PDF was made from (see ``pdf_job``): its ETag, so a browser revalidates and gets 304 until the
    #: report changes
    fingerprint: str


# The brand ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BrandInput:
    display_name: str
    primary_color: str
    accent_color: str
    report_footer: str
    contact_line: str
    logo: bytes | None  # None: keep the current logo
    remove_logo: bool = False
    white_label: bool | None = None  # None: keep the current setting; only a consultancy's is ever changed


def _color(value: str, label: str, field: str) -> str | None:
    try:
        return parse_color(value, label)
    except BrandError as e:
        raise BrandError(str(e), field) from None


def save_brand(org: Organization, values: BrandInput) -> list[str]:
    """Check and save an organization's brand; returns warnings to show. Raises BrandError (naming the field) and
    then changes nothing: a new logo is stored only once everything else is valid."""
    primary = _color(values.primary_color, "primary colour", "primary_color")
    if primary is not None:
        try:
            check_primary(primary)
        except BrandError as e:
            raise BrandError(str(e), "primary_color") from None
    accent = _color(values.accent_color, "accent colour", "accent_color")
    warning = accent_warning(accent) if accent else None
    files = get_storage()
    old_logo = org.logo_media_id
    new_logo = None
    if values.logo:
        try:
            new_logo = store_logo(org.id, values.logo, files)
        except BrandError as e:
            raise BrandError(str(e), "logo") from None
    try:
        with write_transaction():  # the logo is decoded and stored: the write lock is held for the write only
            org.display_name = values.display_name.strip() or None
            org.primary_color = primary
            org.accent_color = accent
            org.report_footer = values.report_footer.strip() or None
            org.contact_line = values.contact_line.strip() or None
            if new_logo is not None or values.remove_logo:
                org.logo_media_id = new_logo
            if values.white_label is not None and org.is_consultancy:
                org.white_label = values.white_label
    except BaseException:
        if new_logo is not None:
            delete_logo(org.id, new_logo, files)
        raise
    if old_logo and old_logo != org.logo_media_id:
        delete_logo(org.id, old_logo, files)
    return [warning] if warning else []
