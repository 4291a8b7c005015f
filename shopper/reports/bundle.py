"""A consultancy's latest reports in one ZIP: the PDF of each active client's latest submitted audit.

Who gets what: the consultancy's own managers and owners (the view checks that), and of its clients only those
with an active link in which the person's effective access (``access_for``) is manager or owner. For each of
those the latest submitted audit, on any checklist (by submission time, then id), goes in as
``<client-slug>/<the report's PDF file name>``, taken from the PDF cache or rendered once and cached there
(``service.report_pdf``). ``README.txt`` lists every client: included, with no submitted audit yet, left out
because the render failed (with the reason) or because the person is not a manager there. One failed render
never fails the whole download.

The ZIP is written to an anonymous temporary file, never held in memory; closing the file deletes it.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO

from sqlalchemy import select

from shopper.audits.models import Audit, AuditStatus
from shopper.checklists.sharing import active_clients
from shopper.extensions import db
from shopper.orgs.access import access_for
from shopper.orgs.models import Organization, Role
from shopper.reports import pdf, service
from shopper.reports.brand import name_on_reports

log = logging.getLogger(__name__)

README = "README.txt"


@dataclass(frozen=True)
class Bundle:
    file: BinaryIO  # rewound; closing it deletes it
    size: int
    contents: Contents


@dataclass
class Contents:
    """What went into the ZIP, client by client (as README.txt tells it)."""

    included: list[tuple[Organization, str, Audit]] = field(default_factory=list)  # (client, path in the ZIP, audit)
    no_audit: list[Organization] = field(default_factory=list)
    failed: list[tuple[Organization, str]] = field(default_factory=list)  # (client, why)
    not_manager: list[Organization] = field(default_factory=list)


def zip_filename(consultancy: Organization, now: datetime) -> str:
    return f"{consultancy.slug}-latest-reports-{now.strftime('%Y-%m-%d')}.zip"


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


def latest_reports_zip(consultancy: Organization, user_id: int, now: datetime) -> Bundle | None:
    """The ZIP for this person, or None when there is no active client they manage (nothing to put in it)."""
    managed, others = clients_for(consultancy, user_id)
    if not managed:
        return None
    contents = Contents(not_manager=others)
    stamp = now.timetuple()[:6]
    file = tempfile.TemporaryFile(prefix="latest-reports-", suffix=".zip")  # noqa: SIM115 (the response closes it)
    try:
        with zipfile.ZipFile(file, "w") as archive:
            for client in managed:
                audit = latest_submitted(client.id)
                if audit is None:
                    contents.no_audit.append(client)
                    continue
                try:
                    document = service.report_pdf(audit)
                except (pdf.RenderError, service.ReportNotReady, OSError) as e:
                    log.warning("latest reports of %s: the PDF of audit %s failed: %s", consultancy.slug, audit.id, e)
                    contents.failed.append((client, str(e) or type(e).__name__))
                    continue
                path = f"{client.slug}/{document.filename}"
                entry = zipfile.ZipInfo(path, date_time=stamp)
                entry.compress_type = zipfile.ZIP_STORED  # a PDF's streams are compressed already
                with document.stream, archive.open(entry, "w") as target:
                    shutil.copyfileobj(document.stream, target)
                contents.included.append((client, path, audit))
            readme = zipfile.ZipInfo(README, date_time=stamp)
            readme.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(readme, readme_text(consultancy, contents, now))
        size = file.seek(0, os.SEEK_END)
        file.seek(0)
    except BaseException:
        file.close()
        raise
    return Bundle(file, size, contents)
