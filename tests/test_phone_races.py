"""Phone writes racing each other, for real: threads, each with its own session, on committed rows.

The usual fixtures run every test inside one rolled-back transaction, which no second thread can see, so these
tests get a database of their own (a fresh SQLite file, or a dedicated schema when SHOPPER_TEST_DATABASE_URL points
at PostgreSQL) whose rows are really committed. Each race starts its requests from several threads at once, through
`app.test_client()`, and is run many times: an interleaving that goes wrong once in a few trials shows up. With
TESTING on, Flask raises a request's exception in the test client instead of answering 500; `race` records it as
the 500 it would have been.
"""

from __future__ import annotations

import copy
import io
import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from shopper.accounts import sessions
from shopper.accounts.models import User
from shopper.audits.models import Answer, Audit, AuditEvent, Photo, SyncOp
from shopper.audits.service import start_audit
from shopper.checklists import service as checklists
from shopper.checklists.models import Checklist
from shopper.extensions import db
from shopper.orgs.models import Membership, Organization, OrgKind, Role, Site
from shopper.timeutil import utcnow
from tests.committed import committed_database
from tests.factories import PASSWORD_HASH, SMALL_CHECKLIST
from tests.images import oriented_jpeg

TRIALS = 20
RENDITIONS = ("display", "print", "thumb")

EVIDENCE_CHECKLIST = {
    "title": "Waiting room check",
    "touchpoints": [
        {
            "key": "waiting-room",
            "title": "The waiting room",
            "channel": "in-person",
            "promise": "A seat within five minutes",
            "items": [
                {"key": "seated", "type": "check", "prompt": "Did you get a seat?", "required": True},
                {"key": "queue-photo", "type": "photo", "prompt": "Photo of the queue", "required": True},
            ],
        }
    ],
}


@pytest.fixture(scope="module")
def live_app(tmp_path_factory):
    """An app whose commits are real, on the module's own database and media folder."""
    with committed_database(tmp_path_factory.mktemp("races-instance")) as app:
        yield app


@dataclass
class World:
    """An organization with an auditor and two checklists, on the committed database; rows are known by id."""

    app: object
    org_id: int
    org_slug: str
    auditor_id: int
    auditor_session: str
    site_id: int
    checklist_id: int
    evidence_checklist_id: int

    def audit(self, evidence: bool = False) -> int:
        """A new audit in progress by the auditor; its id."""
        with self.app.app_context():
            result = start_audit(
                org_id=self.org_id,
                checklist=db.session.get(Checklist, self.evidence_checklist_id if evidence else self.checklist_id),
                site=db.session.get(Site, self.site_id),
                auditor_id=self.auditor_id,
                created_by_id=self.auditor_id,
                scenario="",
                due_on=None,
                now=utcnow(),
            ).id
            db.session.commit()
            return result

    def base(self, audit_id: int) -> str:
        return f"/o/{self.org_slug}/api/audits/{audit_id}"

    def client(self):
        client = self.app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = self.auditor_session
            session["_fresh"] = True
        return client

    def media(self, audit_id: int) -> Path:
        return Path(self.app.config["MEDIA_ROOT"]) / str(self.org_id) / str(audit_id)

    def photo(self, photo_id: str) -> dict | None:
        with self.app.app_context():
            photo = db.session.get(Photo, photo_id)
            return None if photo is None else {"caption": photo.caption, "audit_id": photo.audit_id}

    def status(self, audit_id: int) -> str:
        with self.app.app_context():
            return db.session.get(Audit, audit_id).status


@pytest.fixture(scope="module")
def world(live_app) -> World:
    with live_app.app_context():
        org = Organization(name="Harbour Dental", slug="harbour-dental", kind=OrgKind.BUSINESS)
        auditor = User(email="sam@harbour.example", name="Sam Auditor", password_hash=PASSWORD_HASH)
        db.session.add_all([org, auditor])
        db.session.flush()
        site = Site(org_id=org.id, name="Harbour Street clinic")
        db.session.add_all([site, Membership(org_id=org.id, user_id=auditor.id, role=Role.AUDITOR)])
        db.session.flush()
        ids = dict(app=live_app, org_id=org.id, org_slug=org.slug, auditor_id=auditor.id, site_id=site.id)
        ids["auditor_session"] = sessions.start(auditor, now=utcnow())
        db.session.commit()
        for name, definition in (("checklist_id", SMALL_CHECKLIST), ("evidence_checklist_id", EVIDENCE_CHECKLIST)):
            checklist = checklists.create_checklist(ids["org_id"], ids["auditor_id"], title=definition["title"])
            checklists.save_draft(checklist, copy.deepcopy(definition))
            checklists.publish(checklist, ids["auditor_id"], utcnow())
            ids[name] = checklist.id
        db.session.commit()
    return World(**ids)


@dataclass(frozen=True)
class Answered:
    status: int
    body: object
    error: str = ""


def _answered(response) -> Answered:
    body = response.get_json(silent=True) if response.data else None
    return Answered(response.status_code, body)


@contextmanager
def commits(app) -> Iterator[list[str]]:
    """The names of the threads whose transactions wrote something, in the order those transactions committed."""
    order: list[str] = []
    writing: set[int] = set()

    def before(connection, _cursor, statement, *_args):
        if statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
            writing.add(id(connection))

    def committed(connection):
        if id(connection) in writing:
            writing.discard(id(connection))
            order.append(threading.current_thread().name)

    def rolled_back(connection):
        writing.discard(id(connection))

    with app.app_context():
        engine = db.engine
    listeners = (("before_cursor_execute", before), ("commit", committed), ("rollback", rolled_back))
    for name, listener in listeners:
        event.listen(engine, name, listener)
    try:
        yield order
    finally:
        for name, listener in listeners:
            event.remove(engine, name, listener)


def race(world: World, *calls: Callable) -> list[Answered]:
    """Start every call (a function of a signed-in client) at the same moment, each in its own thread."""
    clients = [world.client() for _ in calls]
    barrier = threading.Barrier(len(calls))
    results: list[Answered | None] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = _answered(calls[index](clients[index]))
        except Exception as error:  # the 500 a server would have answered
            results[index] = Answered(500, None, f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=run, args=(index,), name=f"call-{index}") for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def key() -> str:
    return uuid.uuid4().hex


def upload(base: str, photo_id: str, op_id: str | None = None, item_key: str = "", touchpoint: str = "billing-line"):
    data = oriented_jpeg(1)

    def call(client):
        form = {"id": photo_id, "touchpoint_key": touchpoint, "file": (io.BytesIO(data), "p.jpg")}
        if item_key:
            form["item_key"] = item_key
        return client.post(f"{base}/photos", data=form, headers={"Idempotency-Key": op_id or key()})

    return call


def caption(base: str, photo_id: str, text_: str, client_ts: int):
    def call(client):
        return client.patch(
            f"{base}/photos/{photo_id}",
            data=json.dumps({"caption": text_, "client_ts": client_ts}),
            content_type="application/json",
            headers={"Idempotency-Key": key()},
        )

    return call


def delete(base: str, photo_id: str):
    return lambda client: client.delete(f"{base}/photos/{photo_id}", headers={"Idempotency-Key": key()})


def submit(base: str, op_id: str | None = None):
    return lambda client: client.post(f"{base}/submit", headers={"Idempotency-Key": op_id or key()})


def answer(base: str, item_key: str, value, client_ts: int = 1):
    def call(client):
        return client.put(
            f"{base}/answers/{item_key}",
            data=json.dumps({"value": value, "client_ts": client_ts}),
            content_type="application/json",
            headers={"Idempotency-Key": key()},
        )

    return call


def no_server_error(results: list[Answered]) -> None:
    failures = [r for r in results if r.status >= 500]
    assert not failures, failures


def files_of(world: World, audit_id: int, photo_id: str) -> list[str]:
    media = world.media(audit_id)
    return sorted(p.name for p in media.iterdir() if photo_id in p.name) if media.exists() else []


def uploaded(world: World, audit_id: int, **fields) -> str:
    photo_id = str(uuid.uuid4())
    response = upload(world.base(audit_id), photo_id, **fields)(world.client())
    assert response.status_code == 201, response.get_json()
    return photo_id


def trials(check: Callable[[int], None], count: int = TRIALS) -> None:
    """Run `check(trial)` `count` times; fail with how many trials went wrong, and how."""
    wrong = []
    for trial in range(count):
        try:
            check(trial)
        except AssertionError as error:
            wrong.append(f"trial {trial}: {error}".splitlines()[0])
    assert not wrong, f"{len(wrong)} of {count} trials went wrong:\n" + "\n".join(wrong)


def later(trial: int, call: Callable) -> Callable:
    """The call, started a little later on each trial (0 to 27 ms), so the trials sweep the interleavings."""

    def delayed(client):
        time.sleep((trial % 10) * 0.003)
        return call(client)

    return delayed


def test_a_caption_racing_the_deletion_of_its_photo(world):
    audit_id = world.audit()
    base = world.base(audit_id)

    def check(trial):
        photo_id = uploaded(world, audit_id)
        captioned, deleted = race(
            world, later(trial, caption(base, photo_id, f"Trial {trial}", 1000 + trial)), delete(base, photo_id)
        )
        no_server_error([captioned, deleted])
        assert deleted.status == 204, deleted
        assert captioned.status in (200, 410), captioned  # before the delete, or after it: Gone
        assert world.photo(photo_id) is None
        assert files_of(world, audit_id, photo_id) == []

    trials(check)


def test_the_same_photo_uploaded_twice_at_once(world):
    """A retry (same key) or a second tab (another key) while the first upload is still being stored."""
    audit_id = world.audit()
    base = world.base(audit_id)

    def check(trial):
        photo_id = str(uuid.uuid4())
        same_key = key() if trial % 2 else None
        results = race(world, upload(base, photo_id, same_key), upload(base, photo_id, same_key))
        no_server_error(results)
        assert world.photo(photo_id) is not None
        assert files_of(world, audit_id, photo_id) == sorted(f"{photo_id}-{r}.jpg" for r in RENDITIONS)
        if same_key:
            assert [r.status for r in results] == [201, 201], results  # the second is a replay of the first
            assert results[0].body == results[1].body
        else:
            assert sorted(r.status for r in results) == [200, 201], results

    trials(check)
    assert not [p.name for p in world.media(audit_id).iterdir() if not p.name.endswith(".jpg")]  # no temp file left


def test_a_late_upload_racing_the_deletion_of_its_photo(world):
    """A second tab sends the photo again just as the auditor deletes it: deleted stays deleted."""
    audit_id = world.audit()
    base = world.base(audit_id)

    def check(trial):
        photo_id = uploaded(world, audit_id)
        uploaded_again, deleted = race(world, later(trial, upload(base, photo_id)), delete(base, photo_id))
        no_server_error([uploaded_again, deleted])
        assert deleted.status == 204, deleted
        assert uploaded_again.status in (200, 410), uploaded_again  # before the delete, or after it: Gone
        assert world.photo(photo_id) is None, "the deleted photo came back"
        assert files_of(world, audit_id, photo_id) == []

    trials(check)


def test_a_submit_racing_the_deletion_of_its_evidence(world):
    def check(trial):
        audit_id = world.audit(evidence=True)
        base = world.base(audit_id)
        assert answer(base, "seated", "yes")(world.client()).status_code == 200
        photo_id = uploaded(world, audit_id, item_key="queue-photo", touchpoint="waiting-room")
        submitted, deleted = race(world, submit(base), later(trial, delete(base, photo_id)))
        no_server_error([submitted, deleted])
        status = world.status(audit_id)
        if submitted.status == 200:
            assert world.photo(photo_id) is not None, "submitted without its required photo"
            assert deleted.status == 409 and status == "submitted"
        else:
            assert (submitted.status, deleted.status) == (422, 204)
            assert submitted.body["missing"][0]["what"] == "answer"
            assert status == "in_progress" and world.photo(photo_id) is None

    trials(check)


def test_a_submit_racing_a_caption_edit(world):
    """A caption is either saved before the audit is frozen, or refused after: never changed once submitted."""

    def check(trial):
        audit_id = world.audit(evidence=True)
        base = world.base(audit_id)
        assert answer(base, "seated", "yes")(world.client()).status_code == 200
        photo_id = uploaded(world, audit_id, item_key="queue-photo", touchpoint="waiting-room")
        with commits(world.app) as order:
            submitted, captioned = race(
                world, submit(base), later(trial, caption(base, photo_id, f"Queue {trial}", 5000))
            )
        no_server_error([submitted, captioned])
        assert submitted.status == 200
        assert captioned.status in (200, 409), captioned
        saved = world.photo(photo_id)["caption"]
        if captioned.status == 200:
            assert order == ["call-1", "call-0"], "the caption was saved after the audit was submitted"
            assert saved == f"Queue {trial}"
        else:
            assert order == ["call-0"] and saved == ""

    trials(check)


def test_the_same_submit_sent_twice_at_once(world):
    """Two tabs replay the same queued submit together: it is applied once, and both hear its answer."""

    def check(trial):
        audit_id = world.audit(evidence=True)
        base = world.base(audit_id)
        assert answer(base, "seated", "yes")(world.client()).status_code == 200
        uploaded(world, audit_id, item_key="queue-photo", touchpoint="waiting-room")
        op_id = key()
        results = race(world, submit(base, op_id), later(trial, submit(base, op_id)))
        no_server_error(results)
        assert [r.status for r in results] == [200, 200], results
        assert results[0].body == results[1].body
        with world.app.app_context():
            events = select(func.count()).where(AuditEvent.audit_id == audit_id, AuditEvent.kind == "submitted")
            assert db.session.scalar(events) == 1

    trials(check)


def test_concurrent_captions_end_with_the_latest_timestamp(world):
    """Edits from two phones (or a replayed older edit) arrive in any order: the latest typed one stands."""
    audit_id = world.audit()
    base = world.base(audit_id)
    shuffle = random.Random(13)

    def check(trial):
        photo_id = uploaded(world, audit_id)
        stamps = shuffle.sample(range(1000, 9000), 4)
        results = race(world, *(caption(base, photo_id, f"Typed at {ts}", ts) for ts in stamps))
        no_server_error(results)
        assert world.photo(photo_id)["caption"] == f"Typed at {max(stamps)}"

    trials(check)


def test_answers_from_many_phones_at_once_are_each_saved_once(world):
    """The hot path keeps its guarantee next to the photo writes: every answer lands, the latest stamp wins."""
    audit_id = world.audit()
    base = world.base(audit_id)
    results = race(world, *(answer(base, "transfers", n, 100 + n) for n in range(8)))
    no_server_error(results)
    assert all(r.status == 200 for r in results)
    with world.app.app_context():
        assert db.session.scalar(select(Answer.value).where(Answer.audit_id == audit_id)) == 7
        assert len(db.session.scalars(select(SyncOp.id).where(SyncOp.audit_id == audit_id)).all()) == 8
