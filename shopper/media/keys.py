"""Every storage key Shopper writes, named from the row that owns the file; the one place their formats live.

A key starts with its organization's id, so one organization's files never share a folder with another's:

    <org>/<audit>/<photo uuid>-<rendition>.jpg          the renditions of a photo of evidence
    <org>/actions/<action>/<uuid>-<rendition>.jpg       an action's after photo
    <org>/brand/logo-<uuid>-<rendition>.jpg             an organization's logo
    <org>/<audit>/report-<fingerprint[:32]>.pdf         an audit's cached report PDF
    <org>/bundles/bundle-<id>.zip                       a consultancy's ZIP of its clients' latest reports

`media check` knows every name by KNOWN_NAMES, and the names of writes under way by TEMP_NAME.
"""

from __future__ import annotations

import re
import secrets
from typing import Protocol

PHOTO_RENDITIONS = ("display", "print", "thumb")
PROOF_RENDITIONS = ("display", "thumb")
LOGO_RENDITIONS = ("print", "thumb")


class OrgRow(Protocol):
    """A row of an organization's (an Audit, an Action, a ReportBundle, or a result row with these columns)."""

    id: int
    org_id: int


def photo_key(audit: OrgRow, photo_id: str, rendition: str) -> str:
    return f"{audit.org_id}/{audit.id}/{photo_id}-{rendition}.jpg"


def proof_key(action: OrgRow, photo_id: str, rendition: str) -> str:
    return f"{action.org_id}/actions/{action.id}/{photo_id}-{rendition}.jpg"


def logo_key(org_id: int, logo_id: str, rendition: str) -> str:
    return f"{org_id}/brand/logo-{logo_id}-{rendition}.jpg"


def report_pdf_key(org_id: int, audit_id: int, fingerprint: str) -> str:
    return f"{org_id}/{audit_id}/report-{fingerprint[:32]}.pdf"


def bundle_key(bundle: OrgRow) -> str:
    return f"{bundle.org_id}/bundles/bundle-{bundle.id}.zip"


def upload_key(key: str) -> str:
    """A name of its own for one upload's copy of ``key``: it is renamed to ``key`` once the upload owns it."""
    return f"{key}.{secrets.token_hex(8)}.part"


def audit_folder(org_id: int, audit_id: int) -> str:
    """The prefix under which an audit's photos and PDFs are stored."""
    return f"{org_id}/{audit_id}/"


_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
#: the names the key functions above produce (tests check each against its function)
KNOWN_NAMES = re.compile(
    r"\d+/(?:"
    rf"\d+/{_UUID}-(?:{'|'.join(PHOTO_RENDITIONS)})\.jpg"
    rf"|actions/\d+/{_UUID}-(?:{'|'.join(PROOF_RENDITIONS)})\.jpg"
    rf"|brand/logo-{_UUID}-(?:{'|'.join(LOGO_RENDITIONS)})\.jpg"
    r"|\d+/report-[0-9a-f]{32}\.pdf"
    r"|bundles/bundle-\d+\.zip"
    r")"
)
#: LocalStorage.save writes `.<name>.<random>.tmp` beside the file, then renames it into place; a photo upload
#: saves `<name>.<random>.part` and renames it once it owns the photo (a killed worker can leave either behind)
TEMP_NAME = re.compile(r"\..+\.tmp|.+\.[0-9a-f]{16}\.part")
