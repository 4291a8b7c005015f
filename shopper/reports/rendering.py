"""Making report PDFs in the background, so that "Download PDF" is a file read.

A PDF is rendered by a job (`render_report`) when an audit is submitted, when its action plan changes, when the
brand it wears changes, and whenever someone asks for one that is not in the cache. A request never renders: it
finds the PDF in the cache (`pdf_state` says "ready"), or records what it asked for (a `ReportRequest`) and
enqueues the job, and the page shows "being prepared" until the job is done.

No lock is held across the render. The job reads what the PDF is made of (the HTML, the stylesheet, the paths of
the photos and logo: plain data) in a read transaction, ends it, renders in the render process, writes the file,
and then records it in the cache in one short write transaction.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from shopper.audits.models import Audit, AuditStatus
from shopper.database import reads_first, write_transaction
from shopper.events import report_changed
from shopper.extensions import db
from shopper.jobs import consumer_running, job
from shopper.media import get_storage
from shopper.media.keys import report_pdf_key
from shopper.reports import pdf
from shopper.reports.models import RenderState, ReportPdf, ReportRequest
from shopper.reports.service import PdfFile, ReportNotReady, load_report, loadable, pdf_filename, pdf_job
from shopper.timeutil import utcnow

#: a request still queued after this long is asked for again (the consumer may have been restarted meanwhile)
REQUEST_PATIENCE = timedelta(minutes=10)
#: when a brand changes, the reports submitted this recently that wear it are made again at once; older ones on
#: demand
REBRAND_DAYS = 90


class PdfState:
    READY = "ready"
    PREPARING = "preparing"
    FAILED = "failed"
    NO_WORKER = "no-worker"


@dataclass(frozen=True)
class Snapshot:
    """What the PDF of an audit is made of, as plain data read in one transaction."""

    audit_id: int
    org_id: int
    revision: int
    fingerprint: str
    filename: str
    job: pdf.RenderJob


@dataclass(frozen=True)
class PdfStatus:
    state: str
    file: PdfFile | None = None
    message: str = ""


def snapshot(audit: Audit) -> Snapshot:
    """Raises ReportNotReady when the audit has no report."""
    report = load_report(audit)
    render_job, fingerprint = pdf_job(audit, report)
    return Snapshot(
        audit_id=audit.id,
        org_id=audit.org_id,
        revision=audit.revision,
        fingerprint=fingerprint,
        filename=pdf_filename(report),
        job=render_job,
    )


def cached(shot: Snapshot) -> PdfFile | None:
    """The PDF of exactly this snapshot from the cache, or None."""
    record = db.session.get(ReportPdf, shot.audit_id)
    if record is None or record.fingerprint != shot.fingerprint:
        return None
    try:
        stream = get_storage().open(record.storage_key)
    except FileNotFoundError:
        return None
    return PdfFile(stream, shot.filename, record.bytes, cached=True, fingerprint=shot.fingerprint)


def pdf_state(audit: Audit, now: datetime) -> PdfStatus:
    """Where the audit's PDF stands for someone who wants it now: ready (with the file), being prepared (asked for
    if it was not), failed (with why), or waiting for a job consumer that is not running. Raises ReportNotReady."""
    shot = snapshot(audit)
    ready = cached(shot)
    if ready is not None:
        return PdfStatus(PdfState.READY, ready)
    request = db.session.get(ReportRequest, audit.id)
    if request is not None and request.fingerprint == shot.fingerprint:
        if request.state == RenderState.FAILED:
            return PdfStatus(PdfState.FAILED, message=request.error)
        if now - request.requested_at < REQUEST_PATIENCE:
            return _preparing()
    ask_for(audit.id, shot.fingerprint, now)
    return _preparing()


def _preparing() -> PdfStatus:
    if consumer_running():
        return PdfStatus(PdfState.PREPARING)
    return PdfStatus(
        PdfState.NO_WORKER,
        message="The PDF cannot be prepared right now: the part of Shopper that makes PDFs is not running. "
        "Your administrator starts it with `flask --app shopper jobs run` (make run does it too).",
    )


def ask_for(audit_id: int, fingerprint: str, now: datetime) -> None:
    """Record that this PDF is wanted and put its job on the queue (a short write of its own)."""
    values = dict(audit_id=audit_id, fingerprint=fingerprint, state=RenderState.QUEUED, error="", requested_at=now)
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(ReportRequest).values(**values)
    with write_transaction():
        db.session.execute(
            insert.on_conflict_do_update(
                index_elements=["audit_id"], set_={k: v for k, v in values.items() if k != "audit_id"}
            )
        )
    render_report(audit_id)


def ask_again_for_waiting() -> int:
    """Queue again every PDF someone is waiting for: a consumer stopped in the middle of a render (or a queue kept in
    memory) loses the job, while its request says "queued". Run when the consumer starts; how many were queued."""
    waiting = db.session.scalars(select(ReportRequest.audit_id).where(ReportRequest.state == RenderState.QUEUED)).all()
    render_soon(waiting)
    return len(waiting)


def render_soon(audit_ids) -> None:
    """Make these audits' PDFs in the background, because what they show changed."""
    for audit_id in dict.fromkeys(audit_ids):
        render_report(audit_id)


@report_changed.connect
def _on_report_changed(sender, audit_ids) -> None:
    render_soon(audit_ids)


def render_soon_for_brand(org_id: int, now: datetime) -> None:
    """The brand of `org_id` changed: make again the recent reports that wear it (its own audits' on its own
    checklists, and its clients' on its checklists)."""
    from shopper.checklists.models import Checklist

    audit_ids = db.session.scalars(
        select(Audit.id)
        .join(Checklist, Checklist.id == Audit.checklist_id)
        .where(
            Checklist.org_id == org_id,
            Audit.status == AuditStatus.SUBMITTED,
            Audit.submitted_at >= now - timedelta(days=REBRAND_DAYS),
        )
    ).all()
    render_soon(audit_ids)


def render_recent(now: datetime, days: int) -> int:
    """Queue the PDF of every audit submitted in the last `days` days (after a deploy that changed the report, so
    that their downloads stay file reads); how many were queued. One that is already cached costs a fingerprint."""
    audit_ids = db.session.scalars(
        select(Audit.id).where(Audit.status == AuditStatus.SUBMITTED, Audit.submitted_at >= now - timedelta(days=days))
    ).all()
    render_soon(audit_ids)
    return len(audit_ids)


@job()
def render_report(audit_id: int) -> None:
    # A failure is recorded on the audit's request, where the person waiting sees why; nothing to make is no error.
    with contextlib.suppress(pdf.RenderError, ReportNotReady):
        render_now(audit_id).stream.close()


def render_now(audit_id: int) -> PdfFile:
    """Make the audit's PDF unless the cache has it; the PDF file. Raises ReportNotReady, or pdf.RenderError after
    recording why on the audit's request. Reads, then renders holding no transaction, then writes briefly."""
    reads_first()
    audit = db.session.get(Audit, audit_id)
    if audit is None:
        raise ReportNotReady(f"No audit {audit_id}.")
    try:
        shot = snapshot(audit)
    except ReportNotReady:
        with write_transaction():
            db.session.execute(delete(ReportRequest).where(ReportRequest.audit_id == audit_id))
        raise
    ready = cached(shot)
    if ready is not None:
        _done(shot)
        return ready
    db.session.rollback()  # end the reading transaction: nothing is held while the PDF renders
    config = current_app.config
    files = get_storage()
    try:
        rendered = pdf.render(
            loadable(shot.job, files),
            timeout=float(config["REPORT_RENDER_TIMEOUT"]),
            memory_mb=int(config["REPORT_RENDER_MEMORY_MB"]),
        )
    except pdf.RenderError as e:
        current_app.logger.warning("report PDF of audit %s failed: %s", audit_id, e)
        _failed(shot, str(e))
        raise
    key = report_pdf_key(shot.org_id, shot.audit_id, shot.fingerprint)
    files.save(key, rendered.pdf)
    with write_transaction():
        previous = db.session.scalar(select(ReportPdf.storage_key).where(ReportPdf.audit_id == audit_id))
        _upsert_pdf(
            dict(
                audit_id=audit_id,
                fingerprint=shot.fingerprint,
                revision=shot.revision,
                storage_key=key,
                bytes=len(rendered.pdf),
                pages=rendered.pages,
                render_ms=rendered.render_ms,
                rendered_at=utcnow(),
            )
        )
        _clear_request(shot)
    if previous and previous != key:
        files.delete(previous)
    return PdfFile(files.open(key), shot.filename, len(rendered.pdf), cached=False, fingerprint=shot.fingerprint)


def _upsert_pdf(values: dict) -> None:
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(ReportPdf).values(**values)
    db.session.execute(
        insert.on_conflict_do_update(
            index_elements=["audit_id"], set_={k: v for k, v in values.items() if k != "audit_id"}
        )
    )


def _clear_request(shot: Snapshot) -> None:
    db.session.execute(
        delete(ReportRequest).where(
            ReportRequest.audit_id == shot.audit_id, ReportRequest.fingerprint == shot.fingerprint
        )
    )


def _done(shot: Snapshot) -> None:
    if db.session.get(ReportRequest, shot.audit_id) is not None:
        with write_transaction():
            _clear_request(shot)


def _failed(shot: Snapshot, why: str) -> None:
    with write_transaction():
        db.session.execute(
            ReportRequest.__table__.update()
            .where(ReportRequest.audit_id == shot.audit_id, ReportRequest.fingerprint == shot.fingerprint)
            .values(state=RenderState.FAILED, error=why)
        )
