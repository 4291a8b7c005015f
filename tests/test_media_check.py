"""`flask media check`: real files made by the real write paths, against real rows, with and without --fix."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from shopper.actions.models import Action
from shopper.actions.service import change_status, proof_key
from shopper.audits.models import Audit, Photo
from shopper.audits.service import photo_key
from shopper.extensions import db
from shopper.maintenance.media_check import KNOWN_NAMES, TEMP_NAME
from shopper.media.storage import LocalStorage
from shopper.orgs.access import access_for
from shopper.orgs.models import Organization, Role
from shopper.reports.brand import logo_key, store_logo
from shopper.reports.bundle import bundle_key
from shopper.reports.models import BundleState, ReportBundle, ReportPdf
from shopper.reports.rendering import render_now
from shopper.timeutil import utcnow
from tests.test_actions_views import WALK
from tests.test_reports_support import small_jpeg, walk_and_submit
from tests.test_reports_views import png

TWO_DAYS = 2 * 24 * 3600


@pytest.fixture
def stocked(app, make):
    """An organization with every kind of file Shopper stores: photos, a cached PDF, a logo and an after photo."""
    org = make.org()
    owner = make.member(org, Role.OWNER)
    checklist = make.checklist(org, by=owner)
    site = make.site(org)
    with_findings = make.submitted_audit(org, owner, WALK, checklist=checklist, site=site)
    action = make.action(with_findings, "transfers", by=owner)
    root = Path(app.config["MEDIA_ROOT"])
    storage = LocalStorage(root)
    with app.app_context():
        audit_id = walk_and_submit(org.id, owner.id, checklist.id, site.id, str(root))
        audit = db.session.get(Audit, audit_id)
        render_now(audit.id).stream.close()
        db.session.get(Organization, org.id).logo_media_id = store_logo(org.id, png(), storage)
        db.session.commit()
        change_status(
            db.session.get(Action, action.id),
            access_for(owner.id, org.slug),
            "done",
            "New rota on the phones",
            utcnow(),
            photo=small_jpeg(),
            storage=storage,
        )
        made = ReportBundle(org_id=org.id, user_id=owner.id, state=BundleState.READY, bytes=2)
        db.session.add(made)
        db.session.flush()
        made.storage_key = bundle_key(made)
        storage.save(made.storage_key, b"PK")
        db.session.commit()
        photo = db.session.query(Photo).filter_by(audit_id=audit_id).first()
        return {
            "root": root,
            "org": org,
            "audit": audit,
            "photo": photo_key(audit, photo.id, "print"),
            "pdf": db.session.get(ReportPdf, audit_id).storage_key,
            "action": db.session.get(Action, action.id),
        }


def check(app, *options):
    return app.test_cli_runner().invoke(args=["media", "check", *options])


def files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def put(root: Path, key: str, data: bytes = b"\xff\xd8\xff", age: float = 0) -> str:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    then = time.time() - age
    os.utime(path, (then, then))
    return key


def test_every_file_the_write_paths_store_is_known_and_wanted(app, stocked):
    stored = files(stocked["root"])
    kinds = {"/actions/": 2, "/brand/logo-": 2, "/report-": 1, "/bundles/bundle-": 1}
    for marker, count in kinds.items():
        assert sum(marker in key for key in stored) == count, marker
    assert all(KNOWN_NAMES.fullmatch(key) for key in stored)
    result = check(app)
    assert result.exit_code == 0, result.output
    assert f"{len(stored)} files." in result.output and "No problems found." in result.output


def test_orphans_temp_files_and_missing_files_are_reported_then_fixed(app, make, stocked):
    root, audit, action, org = stocked["root"], stocked["audit"], stocked["action"], stocked["org"]
    pdf = stocked["pdf"]
    orphans = {
        put(root, photo_key(audit, str(uuid.uuid4()), "display"), age=TWO_DAYS),
        put(root, proof_key(action, str(uuid.uuid4()), "thumb"), age=TWO_DAYS),
        put(root, logo_key(org.id, str(uuid.uuid4()), "print"), age=TWO_DAYS),
        put(root, pdf.replace(pdf.rsplit("-", 1)[1], "0" * 32 + ".pdf"), age=TWO_DAYS),
    }
    recent = put(root, photo_key(audit, str(uuid.uuid4()), "thumb"))  # an upload whose row is not committed yet
    stale_temp = put(root, f"{org.id}/{audit.id}/.abc-display.jpg.k2j4h5.tmp", age=2 * 3600)
    fresh_temp = put(root, f"{org.id}/{audit.id}/.abc-print.jpg.q8w7e6.tmp")
    killed_upload = put(root, photo_key(audit, str(uuid.uuid4()), "print") + ".0123456789abcdef.part", age=2 * 3600)
    assert TEMP_NAME.fullmatch(stale_temp.rsplit("/", 1)[1]) and TEMP_NAME.fullmatch(killed_upload.rsplit("/", 1)[1])
    unknown = put(root, "README.txt", b"notes", age=TWO_DAYS)
    photo_bytes = (root / stocked["photo"]).read_bytes()
    (root / stocked["photo"]).unlink()
    (root / pdf).unlink()

    found = check(app)
    assert found.exit_code == 1
    out = found.output
    assert "Files no row refers to: 4" in out and all(key in out for key in orphans)
    assert "Temp files left by interrupted writes: 2" in out and stale_temp in out and fresh_temp not in out
    assert killed_upload in out
    assert (
        "Rows whose file is missing: 2" in out and stocked["photo"] in out and f"cached PDF of audit {audit.id}" in out
    )
    assert "younger than 60 minutes (left alone: an upload may be under way): 1" in out and recent in out
    assert "Files Shopper does not write (left alone): 1" in out and unknown in out
    assert "8 problems" in out
    assert files(root) >= orphans  # looking removes nothing

    fixed = check(app, "--fix")
    assert fixed.exit_code == 1  # the photo's file cannot be made up
    assert "[removed]" in fixed.output and "Forgot 1 cached PDF records" in fixed.output
    assert "1 problem: rows without their files need the files restored from a backup." in fixed.output
    left = files(root)
    assert not left & orphans and stale_temp not in left and killed_upload not in left
    assert {recent, fresh_temp, unknown} <= left
    assert make.get(ReportPdf, audit.id) is None
    assert make.get(Photo, stocked["photo"].rsplit("/", 1)[1][:36]) is not None  # rows are never deleted

    put(root, stocked["photo"], photo_bytes)
    assert check(app).exit_code == 0
    assert check(app, "--grace-minutes", "0", "--fix").exit_code == 0
    assert not {recent, fresh_temp} & files(root) and unknown in files(root)
