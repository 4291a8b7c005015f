"""The parsed checklist versions the phone's writes read (checklists/versions.py): a new version is a new key, a
key is the version's whole identity, the cache stays bounded, and a hit never answers for another organization."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import event

from shopper.checklists import service as checklists
from shopper.checklists import versions
from shopper.checklists.models import Checklist, ChecklistVersion
from shopper.extensions import db
from shopper.orgs.models import Role
from shopper.timeutil import utcnow
from tests.factories import SMALL_CHECKLIST


def put_answer(client, org, audit, item_key: str, value=1):
    return client.put(
        f"/o/{org.slug}/api/audits/{audit.id}/answers/{item_key}",
        data=json.dumps({"value": value, "client_ts": 1000}),
        content_type="application/json",
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )


def with_counter(key: str) -> dict:
    definition = copy.deepcopy(SMALL_CHECKLIST)
    definition["touchpoints"][0]["items"].append({"key": key, "type": "counter", "prompt": f"How many {key}?"})
    return definition


@pytest.fixture
def definition_reads(app):
    """SELECTs of a version's definition sent while the test runs."""
    reads: list[str] = []

    def before(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT") and "checklist_version.definition" in statement:
            reads.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    yield reads
    event.remove(engine, "before_cursor_execute", before)


def test_a_new_version_is_a_new_key_and_the_old_one_keeps_its_items(client, login, make, app) -> None:
    org = make.org()
    auditor = make.member(org, Role.OWNER)
    checklist = make.checklist(org, by=auditor)
    first = make.audit(org, auditor, checklist=checklist)
    login(auditor)
    assert put_answer(client, org, first, "transfers").status_code == 200
    assert put_answer(client, org, first, "queue-length").status_code == 404

    with app.app_context():
        row = db.session.get(Checklist, checklist.id)
        checklists.save_draft(row, with_counter("queue-length"))
        checklists.publish(row, auditor.id, utcnow())
        db.session.commit()
    second = make.audit(org, auditor, checklist=checklist)
    assert second.checklist_version_id != first.checklist_version_id

    assert put_answer(client, org, second, "queue-length").status_code == 200
    assert put_answer(client, org, first, "queue-length").status_code == 404  # still version 1's items
    assert put_answer(client, org, first, "transfers", 2).status_code == 200


def test_the_definition_is_read_once_per_version(client, login, make, definition_reads) -> None:
    org = make.org()
    auditor = make.member(org, Role.OWNER)
    audit = make.audit(org, auditor, checklist=make.checklist(org, by=auditor, definition=with_counter("fresh-1")))
    login(auditor)
    assert put_answer(client, org, audit, "fresh-1").status_code == 200
    assert len(definition_reads) == 1
    for value in range(3):
        assert put_answer(client, org, audit, "transfers", value).status_code == 200
    assert len(definition_reads) == 1


def test_a_hit_never_answers_for_another_organization(client, login, make) -> None:
    mine, theirs = make.org(), make.org()
    me, them = make.member(mine, Role.OWNER), make.member(theirs, Role.OWNER)
    my_audit = make.audit(mine, me, checklist=make.checklist(mine, by=me, definition=with_counter("mine-only")))
    their_audit = make.audit(
        theirs, them, checklist=make.checklist(theirs, by=them, definition=with_counter("theirs-only"))
    )
    login(them)
    assert put_answer(client, theirs, their_audit, "theirs-only").status_code == 200  # their version is cached
    assert put_answer(client, theirs, my_audit, "theirs-only").status_code == 404  # my audit is not theirs
    assert put_answer(client, mine, my_audit, "mine-only").status_code == 404  # nor my organization

    login(me)
    assert put_answer(client, mine, my_audit, "theirs-only").status_code == 404  # their items are not in mine
    assert put_answer(client, mine, my_audit, "mine-only").status_code == 200
    assert put_answer(client, mine, their_audit, "mine-only").status_code == 404


def version(id_: int, created_at, key: str) -> ChecklistVersion:
    return ChecklistVersion(id=id_, checklist_id=7, number=1, created_at=created_at, definition=with_counter(key))


def test_the_key_is_the_whole_identity_and_the_cache_is_bounded(monkeypatch) -> None:
    """The same id from another database, or reused by SQLite after a delete, is another version."""
    monkeypatch.setattr(versions, "_cache", type(versions._cache)())
    monkeypatch.setattr(versions, "CACHE_SIZE", 2)
    now = utcnow()
    old = versions.parsed(version(1, now, "old-item"))
    new = versions.parsed(version(1, now + timedelta(microseconds=1), "new-item"))
    assert "old-item" in old.items and "new-item" not in old.items
    assert "new-item" in new.items and old.key != new.key
    assert versions.parsed(version(1, now, "ignored")) is old  # a hit: the definition is never parsed again

    versions.parsed(version(2, now, "third"))  # over the bound: the least recently used (new) goes
    assert list(versions._cache) == [old.key, (2, 7, 1, now)]


def test_a_write_reads_the_person_and_their_membership_in_one_query(client, login, make, app) -> None:
    org = make.org()
    auditor = make.member(org, Role.AUDITOR)
    audit = make.audit(org, auditor)
    login(auditor)
    selects: list[str] = []

    def before(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        assert put_answer(client, org, audit, "transfers").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", before)
    with_membership = [s for s in selects if " membership" in s.lower()]
    assert len(with_membership) == 1 and "device_session" in with_membership[0].lower()
