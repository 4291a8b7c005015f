"""The media storage against the rows that refer to it: files no row wants, and rows whose files are gone.

Every file Shopper stores is named from a row (the key formats are in `shopper.media.keys`): a photo's renditions,
an action's after photo, an organization's logo, and an audit's cached PDF and a ZIP of reports (their rows keep
their `storage_key`). Writers store the file first and commit its row after, so a file without a row may
be an upload under way: files younger than the grace period are left alone. Files whose names Shopper never writes
are listed and never removed; nor is any directory (an upload may be about to write into it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import Connection, delete, select

from shopper.actions.models import Action
from shopper.audits.models import Audit, Photo
from shopper.media.keys import (
    KNOWN_NAMES,
    LOGO_RENDITIONS,
    PHOTO_RENDITIONS,
    PROOF_RENDITIONS,
    TEMP_NAME,
    logo_key,
    photo_key,
    proof_key,
)
from shopper.media.storage import Storage, StoredFile
from shopper.orgs.models import Organization
from shopper.reports.models import ReportBundle, ReportPdf

GRACE_SECONDS = 60 * 60


@dataclass(frozen=True)
class Reference:
    """A row that needs a file: what it is, for people, and the ReportPdf's audit when it is a cached PDF."""

    label: str
    report_pdf_of: int | None = None


@dataclass(frozen=True)
class MissingFile:
    key: str
    reference: Reference


@dataclass
class MediaReport:
    orphans: list[StoredFile] = field(default_factory=list)  # no row refers to them, older than the grace period
    temp_files: list[StoredFile] = field(default_factory=list)  # left by an interrupted write, older than the grace
    recent: list[StoredFile] = field(default_factory=list)  # no row (yet): perhaps an upload under way
    unknown: list[StoredFile] = field(default_factory=list)  # not a name Shopper writes
    missing: list[MissingFile] = field(default_factory=list)  # rows whose file is not there
    files: int = 0


def referenced_files(connection: Connection) -> dict[str, Reference]:
    """Every storage key a row refers to, in five queries."""
    wanted: dict[str, Reference] = {}
    photos = select(Photo.id.label("photo_id"), Audit.id, Audit.org_id).join(Audit, Audit.id == Photo.audit_id)
    for row in connection.execute(photos):
        for rendition in PHOTO_RENDITIONS:
            wanted[photo_key(row, row.photo_id, rendition)] = Reference(f"photo {row.photo_id} of audit {row.id}")
    proofs = select(Action.id, Action.org_id, Action.proof_photo_id).where(Action.proof_photo_id.is_not(None))
    for row in connection.execute(proofs):
        for rendition in PROOF_RENDITIONS:
            wanted[proof_key(row, row.proof_photo_id, rendition)] = Reference(f"after photo of action {row.id}")
    logos = select(Organization.id, Organization.logo_media_id).where(Organization.logo_media_id.is_not(None))
    for org_id, logo_id in connection.execute(logos):
        for rendition in LOGO_RENDITIONS:
            wanted[logo_key(org_id, logo_id, rendition)] = Reference(f"logo of organization {org_id}")
    for audit_id, key in connection.execute(select(ReportPdf.audit_id, ReportPdf.storage_key)):
        wanted[key] = Reference(f"cached PDF of audit {audit_id}", report_pdf_of=audit_id)
    bundles = select(ReportBundle.id, ReportBundle.storage_key).where(ReportBundle.storage_key.is_not(None))
    for bundle_id, key in connection.execute(bundles):
        wanted[key] = Reference(f"ZIP of reports {bundle_id}")
    return wanted


def check_media(
    media: Storage, connection: Connection, now: float | None = None, grace: float = GRACE_SECONDS
) -> MediaReport:
    """Compare the files in `media` with the rows `connection` sees. The files are listed before the rows are
    read, so a file whose row is committed meanwhile is not taken for an orphan."""
    now = time.time() if now is None else now
    stored = list(media.list())
    wanted = referenced_files(connection)
    report = MediaReport(files=len(stored))
    for file in stored:
        if file.key in wanted:
            continue
        old = now - file.modified > grace
        if TEMP_NAME.fullmatch(file.key.rsplit("/", 1)[-1]):
            if old:
                report.temp_files.append(file)
        elif not KNOWN_NAMES.fullmatch(file.key):
            report.unknown.append(file)
        elif old:
            report.orphans.append(file)
        else:
            report.recent.append(file)
    present = {file.key for file in stored}
    for key, reference in wanted.items():
        # a row committed after the listing may have files written after it too: look once more
        if key not in present and not _exists(media, key):
            report.missing.append(MissingFile(key, reference))
    return report


def _exists(media: Storage, key: str) -> bool:
    try:
        return media.exists(key)
    except ValueError:  # a row naming a key Shopper would never write has no file, by definition
        return False


def remove_files(media: Storage, files: list[StoredFile]) -> int:
    """Remove the given files (orphans and stale temp files); returns how many bytes were freed."""
    return sum(file.bytes for file in files if media.discard(file.key))


def forget_missing_pdfs(connection: Connection, missing: list[MissingFile]) -> int:
    """Drop the cache records of PDFs whose file is gone (the PDF is rendered again when next asked for). A record
    that meanwhile points at a new file is kept. Returns how many were dropped; the caller commits."""
    dropped = 0
    for item in missing:
        audit_id = item.reference.report_pdf_of
        if audit_id is not None:
            result = connection.execute(
                delete(ReportPdf).where(ReportPdf.audit_id == audit_id, ReportPdf.storage_key == item.key)
            )
            dropped += result.rowcount
    return dropped
