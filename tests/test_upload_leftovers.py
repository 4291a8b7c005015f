"""What an upload whose process dies before its commit leaves in the media folder, and `flask media check`.

An upload writes its three renditions under temporary names of its own (`<key>.<16 hex>.part`) before the
transaction that records the photo, and renames them into place inside it (audits/service.py `add_photo`). A
worker killed in between (bench/bench_phones.py kills one with SIGKILL while phones upload; on SQLite the window
includes the wait for the write lock) cannot remove them, so they stay. The media check sweeps them after its grace
period, as it sweeps LocalStorage's `.<name>.<random>.tmp` files; before it knew their names it called them
"files Shopper does not write", said "No problems found" and kept them. The files here are made by the upload
itself, so a change to its temporary names that the check does not follow fails this test.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from shopper.audits import service
from shopper.audits.models import Audit, Photo
from shopper.extensions import db
from shopper.media.storage import LocalStorage
from shopper.orgs.models import Role
from shopper.timeutil import utcnow
from tests.test_reports_support import small_jpeg


class Died(Exception):
    """The worker's process ends here."""


class DiesBeforeCommit(LocalStorage):
    """The process dies as the upload moves its files in, before the commit; a dead process removes nothing."""

    def rename(self, source: str, target: str) -> None:
        raise Died

    def delete(self, key: str) -> None:
        pass


@pytest.fixture
def killed_upload(app, make) -> list[Path]:
    """The files an upload leaves when its process dies just before its commit, two hours old."""
    org = make.org()
    auditor = make.member(org, Role.AUDITOR)
    started = make.audit(org, auditor)
    root = Path(app.config["MEDIA_ROOT"])
    with app.app_context():
        audit = db.session.get(Audit, started.id)
        with pytest.raises(Died):
            service.add_photo(
                audit,
                auditor.id,
                photo_id=str(uuid.uuid4()),
                touchpoint_key=audit.definition["touchpoints"][0]["key"],
                item_key=None,
                caption="",
                data=small_jpeg(),
                storage=DiesBeforeCommit(root),
                now=utcnow(),
                op_id=uuid.uuid4().hex,
            )
        assert db.session.query(Photo).filter_by(audit_id=audit.id).count() == 0
    left = sorted(root.rglob("*"))
    left = [path for path in left if path.is_file()]
    assert len(left) == 3 and all(path.name.endswith(".part") for path in left)
    then = time.time() - 2 * 3600
    for path in left:
        os.utime(path, (then, then))
    return left


def test_the_part_files_of_an_upload_killed_before_its_commit_are_listed_and_swept(app, killed_upload):
    found = app.test_cli_runner().invoke(args=["media", "check"])
    assert found.exit_code == 1, found.output
    assert "Temp files left by interrupted writes: 3" in found.output
    fixed = app.test_cli_runner().invoke(args=["media", "check", "--fix"])
    assert fixed.exit_code == 0, fixed.output
    assert not any(path.exists() for path in killed_upload)
