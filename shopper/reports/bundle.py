"""A consultancy's latest reports in one ZIP: the PDF of each active client's latest submitted audit, made by a job.

Who gets what: the consultancy's own managers and owners (the view checks that), and of its clients only those
with an active link in which the person's effective access (``access_for``) is manager or owner. For each of
those the latest submitted audit, on any checklist (by submission time, then id), goes in as
``<client-slug>/<the report's PDF file name>``, taken from the PDF cache or rendered once and cached there.
``README.txt`` lists every client: included, with no submitted audit yet, left out because the render failed (with
the reason) or because the person is not a manager there. One failed render never fails the whole ZIP.

Asking for a ZIP makes a `ReportBundle` row and queues `build_bundle`; the page shows it being prepared, then offers
it for download. The ZIP is written to a temporary file, never held in memory, then into media storage; bundles are
kept for BUNDLE_DAYS days.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from huey import crontab
from sqlalchemy import select

from shopper.audits.models import Audit, AuditStatus
from shopper.checklists.sharing import active_clients
from shopper.database import write_transaction
from shopper.extensions import db
from shopper.jobs import job
from shopper.media import get_storage
from shopper.media.keys import bundle_key
from shopper.orgs.access import access_for
from shopper.orgs.models import Organization, Role
from shopper.reports import pdf, rendering
from shopper.reports.brand import name_on_reports
from shopper.reports.models import BundleState, ReportBundle
from shopper.reports.service import ReportNotReady
from shopper.timeutil import utcnow

log = logging.getLogger(__name__)

README = "README.txt"
BUNDLE_DAYS = 7
SHOWN = 5


@dataclass
class Contents:
    """What went into the ZIP, client by client (as README.txt tells it)."""

    included: list[tuple[Organization, str, Audit]] = field(default_factory=list)  # (client, path in the ZIP, audit)
    no_audit: list[Organization] = field(default_factory=list)
    failed: list[tuple[Organization, str]] = field(default_factory=list)  # (client, why)
    not_manager: list[Organization] = field(default_factory=list)


def zip_filename(consultancy: Organization, made: datetime) -> str:
    return f"{consultancy.slug}-latest-reports-{made.strftime('%Y-%m-%d')}.zip"


def latest_submitted(client_id: int) -> Audit | None:
    """The client's latest submitted audit, on any checklist: by submission time, then id."""
    return db.session.scalar(
        select(Audit)
        .where(Audit.org_id == client_id, Audit.status == AuditStatus.SUBMITTED, Audit.submitted_at.is_not(None))
        .order_by(Audit.submitted_at.desc(), Audit.id.desc())
        .limit(1)
    )


def clients_for(consultancy: Organization, user_id: int) -> tuple[list[Organization], list[Organization]]:
    """The consultancy's active clients, split into those where the person is a manager or owner and the rest."""
    managed: list[Organization] = []
    others: list[Organization] = []
    for client in active_clients(consultancy.id):
        access = access_for(user_id, client.slug)
        if access is not None and access.role_enum.at_least(Role.MANAGER):
            managed.append(client)
        else:
            others.append(client)
    return managed, others


def _label(client: Organization) -> str:
    return f"{name_on_reports(client)} ({client.slug})"


def readme_text(consultancy: Organization, contents: Contents, now: datetime) -> str:
    lines = [
        f"Latest reports of {name_on_reports(consultancy)}'s clients",
        f"Made {now.strftime('%d %b %Y, %H:%M')} UTC.",
        "",
        "Each folder is one client and holds the PDF report of its latest submitted audit.",
    ]

    def section(title: str, rows: list[str]) -> None:
        if rows:
            lines.extend(["", title, *(f"- {row}" for row in rows)])

    section(
        "Included:",
        [
            f"{_label(client)}: {path}, audit submitted {audit.submitted_at.strftime('%d %b %Y')}"
            for client, path, audit in contents.included
        ],
    )
    section("No submitted audit yet:", [_label(client) for client in contents.no_audit])
    section("Could not be included:", [f"{_label(client)}: {why}" for client, why in contents.failed])
    section(
        "Left out because you are not a manager or owner there:", [_label(client) for client in contents.not_manager]
    )
    return "\n".join(lines) + "\n"


def request_bundle(consultancy: Organization, user_id: int, now: datetime) -> ReportBundle | None:
    """Queue a new ZIP for this person; None when there is no active client they manage (nothing to put in it)."""
    managed, _ = clients_for(consultancy, user_id)
    if not managed:
        return None
    bundle = ReportBundle(org_id=consultancy.id, user_id=user_id, state=BundleState.QUEUED, created_at=now)
    db.session.add(bundle)
    db.session.flush()
    build_bundle(bundle.id)  # queued once the request has committed the bundle
    return bundle


def bundles_of(org_id: int, user_id: int) -> list[ReportBundle]:
    """The person's latest ZIPs of this consultancy, newest first."""
    return list(
        db.session.scalars(
            select(ReportBundle)
            .where(ReportBundle.org_id == org_id, ReportBundle.user_id == user_id)
            .order_by(ReportBundle.created_at.desc(), ReportBundle.id.desc())
            .limit(SHOWN)
        )
    )


@job()
def build_bundle(bundle_id: int) -> None:
    bundle = db.session.get(ReportBundle, bundle_id)
    if bundle is None or bundle.state != BundleState.QUEUED:
        return
    consultancy = db.session.get(Organization, bundle.org_id)
    try:
        size, summary = _write(bundle, consultancy)
    except Exception as e:
        log.exception("the ZIP of reports %s failed", bundle_id)
        with write_transaction():
            _finish(bundle_id, state=BundleState.FAILED, error=f"The ZIP could not be made ({type(e).__name__}).")
        return
    with write_transaction():
        _finish(bundle_id, state=BundleState.READY, storage_key=bundle_key(bundle), bytes=size, summary=summary)


def _finish(bundle_id: int, **values) -> None:
    db.session.execute(
        ReportBundle.__table__.update().where(ReportBundle.id == bundle_id).values(finished_at=utcnow(), **values)
    )


def _write(bundle: ReportBundle, consultancy: Organization) -> tuple[int, str]:
    """Write the ZIP into media storage; its size and its README."""
    now = utcnow()
    key = bundle_key(bundle)
    managed, others = clients_for(consultancy, bundle.user_id)
    contents = Contents(not_manager=others)
    stamp = now.timetuple()[:6]
    with tempfile.TemporaryFile(prefix="latest-reports-", suffix=".zip") as file:
        with zipfile.ZipFile(file, "w") as archive:
            for client in managed:
                audit = latest_submitted(client.id)
                if audit is None:
                    contents.no_audit.append(client)
                    continue
                try:
                    document = rendering.render_now(audit.id)
                except (pdf.RenderError, ReportNotReady, OSError) as e:
                    log.warning("latest reports of %s: the PDF of audit %s failed: %s", consultancy.slug, audit.id, e)
                    contents.failed.append((client, str(e) or type(e).__name__))
                    continue
                path = f"{client.slug}/{document.filename}"
                entry = zipfile.ZipInfo(path, date_time=stamp)
                entry.compress_type = zipfile.ZIP_STORED  # a PDF's streams are compressed already
                with document.stream, archive.open(entry, "w") as target:
                    shutil.copyfileobj(document.stream, target)
                contents.included.append((client, path, db.session.get(Audit, audit.id)))
            summary = readme_text(consultancy, contents, now)
            readme = zipfile.ZipInfo(README, date_time=stamp)
            readme.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(readme, summary)
        size = file.tell()
        file.seek(0)
        get_storage().save_stream(key, file)
    return size, summary


@job(periodic=crontab(hour="3", minute="30"))
def forget_old_bundles() -> None:
    """ZIPs are for downloading now: after BUNDLE_DAYS days they go, file and row."""
    old = db.session.scalars(
        select(ReportBundle).where(ReportBundle.created_at < utcnow() - timedelta(days=BUNDLE_DAYS))
    ).all()
    files = get_storage()
    for bundle in old:
        if bundle.storage_key:
            files.delete(bundle.storage_key)
    if old:
        with write_transaction():
            db.session.execute(
                ReportBundle.__table__.delete().where(ReportBundle.id.in_([bundle.id for bundle in old]))
            )
