"""The audit state machine: start, answer, wrap up touchpoints, add photos, submit, reopen.

Every write from a phone carries a client-generated id (the Idempotency-Key; a photo also has its own uuid) and,
for answers, wrap-ups and captions, the phone's timestamp. The key is recorded with a hash of what the write asked
for, in the same transaction as the change (INSERT ... ON CONFLICT DO NOTHING on both SQLite and PostgreSQL), so a
replay, even a concurrent one, returns the first response and never applies twice, and the same key sent with a
different body is refused (422) instead of silently answered as the first. Per item (and per photo caption) the
write with the latest client timestamp wins (ties broken by the key), decided inside the write statement itself, so
two phones converge on the same state whatever order their writes arrive in. Every phone write to an audit first
bumps its revision, which is also its lock (see `_idempotent`): checks and writes of one audit never interleave. A
deleted photo leaves a tombstone that no late upload or caption can undo.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from shopper.accounts.models import User
from shopper.audits import tallies
from shopper.audits.models import (
    Answer,
    Audit,
    AuditEvent,
    AuditStatus,
    Finding,
    Photo,
    PhotoTombstone,
    SyncOp,
    TouchpointVisit,
)
from shopper.checklists import versions
from shopper.checklists.models import Checklist
from shopper.checklists.schema import AnswerError, check_answer
from shopper.checklists.scoring import AnswerData, ScoreResult, missing_for_submit, score
from shopper.checklists.scoring import Finding as ScoredFinding
from shopper.checklists.sharing import may_run
from shopper.database import end_reading, write_transaction
from shopper.extensions import db
from shopper.media import remove, store
from shopper.media.ingest import IngestedImage, ingest_image
from shopper.media.keys import PHOTO_RENDITIONS as RENDITIONS
from shopper.media.keys import photo_key, upload_key
from shopper.media.storage import Storage
from shopper.orgs.access import people
from shopper.orgs.models import Site

MAX_NOTE = 5000
MAX_CAPTION = 300
MAX_SCENARIO = 2000
OP_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
UUID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class AuditError(ValueError):
    """A refused change. `status` is the HTTP status the API answers with; nothing has been written."""

    def __init__(self, message: str, status: int = 422, **details: Any):
        super().__init__(message)
        self.status = status
        self.details = details


@dataclass(frozen=True)
class Applied:
    """The result of a phone write: the HTTP status and JSON body to send, the same on every replay."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)


def _insert(table):
    """The dialect's INSERT, which knows ON CONFLICT. Callers use RETURNING to learn whether a row was written:
    psycopg reports no rowcount for these statements."""
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


_statements: dict[tuple[str, str], Any] = {}


def _run(name: str, build, params: dict[str, Any]):
    """Run a statement of the autosave hot path: Core on the tables, built once per dialect with bind parameters.

    Building an ON CONFLICT statement costs more than running it, and the ORM layer around a plain INSERT costs
    more again; this path takes hundreds of writes a second, so it skips both.
    """
    connection = db.session.connection()
    key = (connection.dialect.name, name)
    if key not in _statements:
        _statements[key] = build()
    return connection.execute(_statements[key], params)


# Starting ------------------------------------------------------------------------------------------------------


def start_audit(**audit: Any) -> Audit:
    """A new audit pinned to the checklist's current version (see `new_audit`)."""
    return new_audit(**audit)


def new_audit(
    *,
    org_id: int,
    checklist: Checklist,
    site: Site,
    auditor_id: int,
    created_by_id: int,
    scenario: str,
    due_on: date | None,
    now: datetime,
) -> Audit:
    """A new audit pinned to the checklist's current version, not yet committed. Prepared for someone else, it waits
    as 'assigned'. Raises AuditError before adding anything."""
    if site.org_id != org_id or not may_run(checklist, org_id):
        raise AuditError("That checklist or site is not part of this organization.", 404)
    if checklist.current_version_id is None:
        raise AuditError("This checklist has no published version yet: publish it first.", 409)
    if checklist.archived_at is not None:
        raise AuditError("This checklist is archived.", 409)
    if site.archived_at is not None:
        raise AuditError("This site is archived.", 409)
    if db.session.execute(people(org_id).where(User.id == auditor_id)).first() is None:
        raise AuditError("The auditor must be a member of this organization or one of its consultants.", 422)
    if len(scenario) > MAX_SCENARIO:
        raise AuditError(f"Keep the scenario under {MAX_SCENARIO} characters.", 422)
    for_self = auditor_id == created_by_id
    audit = Audit(
        org_id=org_id,
        site_id=site.id,
        checklist_id=checklist.id,
        checklist_version_id=checklist.current_version_id,
        auditor_id=auditor_id,
        created_by_id=created_by_id,
        scenario=scenario.strip(),
        due_on=due_on,
        status=AuditStatus.IN_PROGRESS if for_self else AuditStatus.ASSIGNED,
        started_at=now if for_self else None,
        created_at=now,
    )
    db.session.add(audit)
    db.session.flush()
    db.session.add(
        AuditEvent(audit_id=audit.id, kind="started" if for_self else "assigned", user_id=created_by_id, at=now)
    )
    return audit


def open_audit(audit: Audit, user_id: int, now: datetime) -> None:
    """The assigned auditor opens a prepared audit: the walk begins."""
    if audit.status == AuditStatus.ASSIGNED and audit.auditor_id == user_id:
        audit.status = AuditStatus.IN_PROGRESS
        audit.started_at = now
        db.session.add(AuditEvent(audit_id=audit.id, kind="started", user_id=user_id, at=now))


def remember_position(audit: Audit, touchpoint_key: str) -> None:
    if audit.last_touchpoint_key != touchpoint_key and not audit.is_submitted:
        audit.last_touchpoint_key = touchpoint_key


# Idempotent writes ---------------------------------------------------------------------------------------------


def check_op_id(op_id: str | None) -> str:
    if not op_id:
        raise AuditError("Every change needs an Idempotency-Key header (a random id made by the phone).", 400)
    if not OP_ID_PATTERN.match(op_id):
        raise AuditError("The Idempotency-Key must be 8 to 64 letters, digits, '-' or '_'.", 400)
    return op_id


REUSED_KEY = (
    "This Idempotency-Key was already used for a different change, so this one was not saved. "
    "Every change needs a key of its own."
)
SUBMITTED = "This audit has been submitted: it can no longer be changed."


def body_hash(kind: str, target: str, *parts: bytes) -> str:
    """What a write asks for, as SHA-256: its kind, its target (item, touchpoint or photo id) and its body."""
    digest = hashlib.sha256(f"{kind}\0{target}\0".encode())
    for part in parts:
        digest.update(part)
    return digest.hexdigest()


def json_hash(kind: str, target: str, payload: Any) -> str:
    """The body hash of a JSON write, from the parsed body: the same change hashes the same whatever the key
    order or spacing it was sent with."""
    return body_hash(kind, target, json.dumps(payload, sort_keys=True, separators=(",", ":")).encode())


def _replayed(op_id: str, audit_id: int, user_id: int, digest: str) -> Applied | None:
    """The first response to this key, or None if it is new. Raises AuditError (422) when the key was used for a
    different change: another audit, another person, or another body."""
    ops = SyncOp.__table__.c
    op = _run(
        "find-op",
        lambda: select(ops.audit_id, ops.user_id, ops.body_hash, ops.status_code, ops.response).where(
            ops.op_id == bindparam("op_id")
        ),
        {"op_id": op_id},
    ).first()
    if op is None:
        return None
    if op.audit_id != audit_id or op.user_id != user_id or op.body_hash not in (None, digest):
        raise AuditError(REUSED_KEY, 422)
    return Applied(op.status_code, op.response)


def _bump_revision():
    audits = Audit.__table__.c
    return (
        update(Audit.__table__)
        .where(audits.id == bindparam("audit_id"), audits.status != AuditStatus.SUBMITTED.value)
        .values(revision=audits.revision + 1)
        .returning(audits.id)
    )


def _record_op():
    names = ("op_id", "audit_id", "user_id", "kind", "body_hash", "status_code", "response", "applied_at")
    return (
        _insert(SyncOp.__table__)
        .values({name: bindparam(name) for name in names})
        .on_conflict_do_nothing(index_elements=["op_id"])
        .returning(SyncOp.__table__.c.id)
    )


class _Replay(Exception):
    """Another transaction recorded the same op first: undo this one and answer as that one did."""


def _idempotent(
    op_id: str,
    digest: str,
    audit: Audit,
    user_id: int,
    kind: str,
    now: datetime,
    apply: Callable[[], Applied],
    *,
    submitted: str = SUBMITTED,
    finish: Callable[[Applied], None] | None = None,
    only_read_before: bool = False,
) -> Applied:
    """Run `apply()` once per op_id; every later call with the same id and body gets the first result back.

    A replay is answered from a plain read, without waiting for the write lock. The write itself is three
    statements: bump the audit's revision, apply the change, and record the op with its body hash and response.
    The bump is also the audit's lock: it takes SQLite's write lock, and on PostgreSQL it locks the audit's row
    until the commit, so every phone write to one audit (and the submit) checks and writes as if alone, and sees
    what the writes before it committed. It refuses a submitted audit (409, `submitted`). If a concurrent request
    with the same key recorded it first, the unique key refuses the record, the whole transaction is undone and
    the first response is answered; so is a refusal that only came about because that request got in first.
    `finish(result)` runs after the record, still inside the transaction (an upload moves its files in there).
    `only_read_before` (answers and wrap-ups, which read and then write at once) lets PostgreSQL write in the
    transaction that read (see `write_transaction`).
    """
    op_id = check_op_id(op_id)
    audit_id = audit.id
    replay = _replayed(op_id, audit_id, user_id, digest)
    if replay is not None:
        return replay
    try:
        with write_transaction(only_read_before=only_read_before):
            bumped = _run("bump-revision", _bump_revision, {"audit_id": audit_id}).first()
            if bumped is None:
                raise AuditError(submitted, 409)
            result = apply()
            recorded = _run(
                "record-op",
                _record_op,
                dict(
                    op_id=op_id,
                    audit_id=audit_id,
                    user_id=user_id,
                    kind=kind,
                    body_hash=digest,
                    status_code=result.status,
                    response=result.body,
                    applied_at=now,
                ),
            ).first()
            if recorded is None:
                raise _Replay
            if finish is not None:
                finish(result)
    except _Replay:
        return _replayed(op_id, audit_id, user_id, digest)
    except AuditError:
        replay = _replayed(op_id, audit_id, user_id, digest)
        if replay is None:
            raise
        return replay
    return result


def _client_ts(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 2**53:
        raise AuditError("client_ts must be the phone's time in milliseconds since 1970.", 422)
    return value


ANSWER_STATE = ("item_key", "value", "note", "flagged", "client_ts")
VISIT_STATE = ("touchpoint_key", "effort", "promise_kept", "note", "client_ts")


def answer_state(answer: Answer) -> dict[str, Any]:
    return {name: getattr(answer, name) for name in ANSWER_STATE}


def visit_state(visit: TouchpointVisit) -> dict[str, Any]:
    return {name: getattr(visit, name) for name in VISIT_STATE}


def _upsert_latest(model, keys: tuple[str, str], values: dict[str, Any], state: tuple[str, ...]):
    """Write the row for `keys` unless the stored one comes from a later write. Returns (applied, saved state)."""
    table = model.__table__
    columns = [table.c[name] for name in state]

    def upsert():
        statement = _insert(table).values({name: bindparam(name) for name in values})
        return statement.on_conflict_do_update(
            index_elements=list(keys),
            set_={name: statement.excluded[name] for name in values if name not in keys},
            where=or_(
                table.c.client_ts < bindparam("client_ts"),
                and_(table.c.client_ts == bindparam("client_ts"), table.c.op_id < bindparam("op_id")),
            ),
        ).returning(*columns)

    def saved():
        return select(*columns).where(*(table.c[k] == bindparam(k) for k in keys))

    row = _run(f"upsert-{table.name}", upsert, values).first()
    applied = row is not None
    if row is None:  # a later write from elsewhere stands: answer with what is saved
        row = _run(f"saved-{table.name}", saved, {k: values[k] for k in keys}).one()
    return applied, dict(row._mapping)


def save_answer(
    audit: Audit, user_id: int, op_id: str, item_key: str, payload: dict[str, Any], now: datetime
) -> Applied:
    """Apply one answer write. payload: value, note, flagged, client_ts. Raises AuditError for bad input."""
    index = versions.parsed(audit.version).items
    if item_key not in index:
        raise AuditError(f"This checklist has no item {item_key!r}.", 404)
    touchpoint, item = index[item_key]
    unknown = set(payload) - {"value", "note", "flagged", "client_ts"}
    if unknown:
        raise AuditError(f"Unknown field(s): {', '.join(sorted(unknown))}.", 422)
    try:
        value = check_answer(item, payload.get("value"))
    except AnswerError as e:
        raise AuditError(str(e), 422, field="value") from e
    note = payload.get("note", "")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise AuditError(f"The note must be text of at most {MAX_NOTE} characters.", 422, field="note")
    flagged = payload.get("flagged", False)
    if not isinstance(flagged, bool):
        raise AuditError("flagged must be true or false.", 422, field="flagged")
    client_ts = _client_ts(payload.get("client_ts"))

    values = dict(
        audit_id=audit.id,
        touchpoint_key=touchpoint["key"],
        item_key=item_key,
        value=value,
        note=note,
        flagged=flagged,
        client_ts=client_ts,
        op_id=op_id,
        updated_at=now,
        updated_by_id=user_id,
    )

    def apply() -> Applied:
        applied, saved = _upsert_latest(Answer, ("audit_id", "item_key"), values, ANSWER_STATE)
        return Applied(200, {"applied": applied, "answer": saved})

    digest = json_hash("answer", item_key, payload)
    return _idempotent(op_id, digest, audit, user_id, "answer", now, apply, only_read_before=True)


def save_visit(
    audit: Audit, user_id: int, op_id: str, touchpoint_key: str, payload: dict[str, Any], now: datetime
) -> Applied:
    """Apply a touchpoint wrap-up: effort 1-7, promise kept yes/no, note. Latest client timestamp wins."""
    if touchpoint_key not in versions.parsed(audit.version).touchpoint_keys:
        raise AuditError(f"This checklist has no touchpoint {touchpoint_key!r}.", 404)
    unknown = set(payload) - {"effort", "promise_kept", "note", "client_ts"}
    if unknown:
        raise AuditError(f"Unknown field(s): {', '.join(sorted(unknown))}.", 422)
    effort = payload.get("effort")
    if effort is not None and (isinstance(effort, bool) or not isinstance(effort, int) or not 1 <= effort <= 7):
        raise AuditError("Effort is a whole number from 1 (effortless) to 7 (exhausting).", 422, field="effort")
    kept = payload.get("promise_kept")
    if kept is not None and not isinstance(kept, bool):
        raise AuditError("promise_kept must be true, false or null.", 422, field="promise_kept")
    note = payload.get("note", "")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise AuditError(f"The note must be text of at most {MAX_NOTE} characters.", 422, field="note")
    client_ts = _client_ts(payload.get("client_ts"))

    values = dict(
        audit_id=audit.id,
        touchpoint_key=touchpoint_key,
        effort=effort,
        promise_kept=kept,
        note=note,
        client_ts=client_ts,
        op_id=op_id,
        finished_at=now,
    )

    def apply() -> Applied:
        applied, saved = _upsert_latest(TouchpointVisit, ("audit_id", "touchpoint_key"), values, VISIT_STATE)
        return Applied(200, {"applied": applied, "visit": saved})

    digest = json_hash("visit", touchpoint_key, payload)
    return _idempotent(op_id, digest, audit, user_id, "visit", now, apply, only_read_before=True)


# Photos --------------------------------------------------------------------------------------------------------


PHOTO_STATE = ("id", "touchpoint_key", "item_key", "caption", "caption_ts", "width", "height")
GONE = "This photo was deleted from the audit, so it is not stored again and its caption cannot change."
NO_SUCH_PHOTO = "There is no such photo in this audit."


def photo_state(photo) -> dict[str, Any]:
    """A photo (a Photo, or a row of its columns) as the phone sees it."""
    return {name: getattr(photo, name) for name in PHOTO_STATE}


def _photo_columns():
    return [Photo.__table__.c[name] for name in PHOTO_STATE]


@dataclass(frozen=True)
class _Place:
    """Where a photo id stands: stored in an audit, or `deleted` from one (it has a tombstone there)."""

    audit_id: int
    deleted: bool


def _photo_place(photo_id: str) -> _Place | None:
    photo = db.session.execute(select(Photo.audit_id).where(Photo.id == photo_id)).first()
    if photo is not None:
        return _Place(photo.audit_id, deleted=False)
    tombstone = db.session.execute(select(PhotoTombstone.audit_id).where(PhotoTombstone.id == photo_id)).first()
    return None if tombstone is None else _Place(tombstone.audit_id, deleted=True)


def _stored_photo(photo_id: str) -> dict[str, Any]:
    return photo_state(db.session.execute(select(*_photo_columns()).where(Photo.id == photo_id)).one())


def _photo_id(photo_id: str | None) -> str:
    photo_id = (photo_id or "").lower()
    if not UUID_PATTERN.match(photo_id):
        raise AuditError(NO_SUCH_PHOTO, 404)
    return photo_id


def add_photo(
    audit: Audit,
    user_id: int,
    *,
    photo_id: str,
    touchpoint_key: str,
    item_key: str | None,
    caption: str,
    data: bytes,
    storage: Storage,
    now: datetime,
    op_id: str | None = None,
) -> Applied:
    """Ingest and store a photo under the phone's uuid: 201 once, then 200 with `created: false` for the same uuid
    under another key; the same key and body replays the first response. A uuid deleted from the audit is 410 Gone
    and stores nothing. `op_id` is the request's Idempotency-Key; writes made on the server (the demo) pass none
    and get a key of their own.

    The image is decoded and its files written, under names of this request's own, before the database
    transaction, so the write lock is never held while Pillow works. Inside it, the row's insert decides who owns
    the photo: the winner moves its files into the final keys before committing, and every other request deletes
    only its own files, so a concurrent upload of the same uuid can never remove the stored photo's files.
    """
    op_id = check_op_id(op_id or uuid.uuid4().hex)
    if not UUID_PATTERN.match((photo_id or "").lower()):
        raise AuditError("A photo needs the uuid the phone gave it.", 400)
    photo_id = photo_id.lower()
    pinned = versions.parsed(audit.version)
    if touchpoint_key not in pinned.touchpoint_keys:
        raise AuditError(f"This checklist has no touchpoint {touchpoint_key!r}.", 422)
    if item_key:
        index = pinned.items
        if item_key not in index or index[item_key][0]["key"] != touchpoint_key:
            raise AuditError(f"Touchpoint {touchpoint_key!r} has no item {item_key!r}.", 422)
    if len(caption) > MAX_CAPTION:
        raise AuditError(f"Keep the caption under {MAX_CAPTION} characters.", 422)
    fields = json.dumps([touchpoint_key, item_key or "", caption]).encode()
    digest = body_hash("photo", photo_id, fields, b"\0", data)
    replay = _replayed(op_id, audit.id, user_id, digest)
    if replay is not None:
        return replay
    if audit.is_submitted:
        raise AuditError(SUBMITTED, 409)
    known = _photo_place(photo_id)  # a retry of a stored photo, or a deleted one, needs no decoding
    end_reading()  # no transaction stays open while the image is decoded
    image: IngestedImage | None = ingest_image(data) if known is None else None  # raises ImageRejected
    final = {name: photo_key(audit, photo_id, name) for name in RENDITIONS}
    mine = {name: upload_key(key) for name, key in final.items()}

    def apply() -> Applied:
        place = _photo_place(photo_id)
        if place is None and image is not None:
            values = dict(
                id=photo_id,
                audit_id=audit.id,
                touchpoint_key=touchpoint_key,
                item_key=item_key or None,
                caption=caption.strip(),
                caption_ts=0,
                caption_op_id="",
                width=image.width,
                height=image.height,
                bytes=sum(len(r.data) for r in image.renditions.values()),
                sha256=image.sha256,
                created_at=now,
                created_by_id=user_id,
            )
            statement = (
                _insert(Photo.__table__)
                .values(values)
                .on_conflict_do_nothing(index_elements=["id"])
                .returning(*_photo_columns())
            )
            inserted = db.session.execute(statement).first()
            if inserted is not None:
                return Applied(201, {"photo": photo_state(inserted), "created": True})
            place = _photo_place(photo_id)  # an upload of the same uuid to another audit got in first
        if place is not None and place.audit_id != audit.id:
            raise AuditError("This photo id belongs to another audit.", 409)
        if place is None or place.deleted:
            raise AuditError(GONE, 410)
        return Applied(200, {"photo": _stored_photo(photo_id), "created": False})

    def move_in(result: Applied) -> None:
        if result.status == 201:
            for name in RENDITIONS:
                storage.rename(mine[name], final[name])

    saved = store(storage, {mine[name]: image.renditions[name].data for name in RENDITIONS} if image else {})
    try:
        return _idempotent(op_id, digest, audit, user_id, "photo", now, apply, finish=move_in)
    finally:
        remove(storage, saved)  # the winner's files have moved; anyone else's are deleted, and only theirs


def _set_caption():
    """Set the caption unless the stored one comes from a later edit. (An UPDATE's bind parameters may not be
    named like its columns.)"""
    photos = Photo.__table__.c
    return (
        update(Photo.__table__)
        .where(
            photos.id == bindparam("b_photo_id"),
            photos.audit_id == bindparam("b_audit_id"),
            or_(
                photos.caption_ts < bindparam("b_client_ts"),
                and_(photos.caption_ts == bindparam("b_client_ts"), photos.caption_op_id < bindparam("b_op_id")),
            ),
        )
        .values(caption=bindparam("b_caption"), caption_ts=bindparam("b_client_ts"), caption_op_id=bindparam("b_op_id"))
        .returning(*_photo_columns())
    )


def caption_photo(
    audit: Audit, user_id: int, op_id: str, photo_id: str, payload: dict[str, Any], now: datetime
) -> Applied:
    """Apply a caption edit. payload: caption, client_ts. As for answers, the edit with the latest client timestamp
    wins (ties broken by the key), whatever order edits arrive in; a losing edit answers 200 with `applied: false`
    and the saved state. A deleted photo's caption is 410 Gone."""
    photo_id = _photo_id(photo_id)
    place = _photo_place(photo_id)
    if place is None or place.audit_id != audit.id:  # before anything else: another audit's photo is just not here
        raise AuditError(NO_SUCH_PHOTO, 404)
    unknown = set(payload) - {"caption", "client_ts"}
    if unknown:
        raise AuditError(f"Unknown field(s): {', '.join(sorted(unknown))}.", 422)
    caption = payload.get("caption", "")
    if not isinstance(caption, str) or len(caption) > MAX_CAPTION:
        raise AuditError(f"Keep the caption under {MAX_CAPTION} characters.", 422, field="caption")
    values = dict(
        b_photo_id=photo_id,
        b_audit_id=audit.id,
        b_caption=caption.strip(),
        b_client_ts=_client_ts(payload.get("client_ts")),
        b_op_id=op_id,
    )

    def apply() -> Applied:
        row = _run("set-caption", _set_caption, values).first()
        if row is not None:
            return Applied(200, {"applied": True, "photo": photo_state(row)})
        place = _photo_place(photo_id)
        if place is None or place.audit_id != audit.id:
            raise AuditError(NO_SUCH_PHOTO, 404)
        if place.deleted:
            raise AuditError(GONE, 410)
        return Applied(200, {"applied": False, "photo": _stored_photo(photo_id)})  # a later edit stands

    return _idempotent(op_id, json_hash("caption", photo_id, payload), audit, user_id, "caption", now, apply)


def delete_photo(audit: Audit, user_id: int, op_id: str, photo_id: str, storage: Storage, now: datetime) -> Applied:
    """Delete a photo and leave its tombstone, so no late upload or caption brings it back. 204, also when it is
    already gone (a replayed delete must not fail) or was never uploaded (its upload, if it comes, is 410)."""
    photo_id = _photo_id(photo_id)
    place = _photo_place(photo_id)
    if place is not None and place.audit_id != audit.id:  # before anything else: another audit's photo is not here
        raise AuditError(NO_SUCH_PHOTO, 404)
    keys = [photo_key(audit, photo_id, name) for name in RENDITIONS]
    removed_row = False
    to_delete: list[str] = []  # the files, once this request's delete is recorded (and so will be committed)

    def apply() -> Applied:
        nonlocal removed_row
        photos = Photo.__table__.c
        removed_row = (
            db.session.execute(
                delete(Photo.__table__).where(photos.id == photo_id, photos.audit_id == audit.id).returning(photos.id)
            ).first()
            is not None
        )
        if not removed_row:
            place = _photo_place(photo_id)
            if place is not None and place.audit_id != audit.id:
                raise AuditError(NO_SUCH_PHOTO, 404)
        db.session.execute(
            _insert(PhotoTombstone.__table__)
            .values(id=photo_id, audit_id=audit.id, deleted_by_id=user_id, deleted_at=now)
            .on_conflict_do_nothing(index_elements=["id"])
        )
        return Applied(204, {})

    def finish(_result: Applied) -> None:
        if removed_row:
            to_delete.extend(keys)

    result = _idempotent(
        op_id,
        body_hash("delete-photo", photo_id),
        audit,
        user_id,
        "delete-photo",
        now,
        apply,
        submitted="Photos of a submitted audit are kept as evidence.",
        finish=finish,
    )
    remove(storage, to_delete)  # after the commit; the tombstone stops any upload from writing these keys again
    return result


# Submitting ----------------------------------------------------------------------------------------------------


def answer_data(audit: Audit) -> dict[str, AnswerData]:
    return {a.item_key: AnswerData(a.value, a.note, a.flagged) for a in audit.answers}


def photo_counts(audit: Audit) -> dict[str, int]:
    counts: dict[str, int] = {}
    for photo in audit.photos:
        if photo.item_key:
            counts[photo.item_key] = counts.get(photo.item_key, 0) + 1
    return counts


def missing(audit: Audit) -> list:
    return missing_for_submit(audit.definition, answer_data(audit), photo_counts(audit))


def stored_result(result: ScoreResult) -> dict[str, Any]:
    """What an audit keeps of its scoring at submission, so reports and the dashboard need not score again."""
    return {
        "overall": result.overall,
        "capped": result.capped,
        "critical_failures": list(result.critical_failures),
        "touchpoints": [
            {
                "key": t.key,
                "title": t.title,
                "score": t.score,
                "earned": t.earned,
                "possible": t.possible,
                "answered": t.answered,
                "visible": t.visible,
            }
            for t in result.touchpoints
        ],
    }


def finding_columns(finding: ScoredFinding, position: int) -> dict[str, Any]:
    """A scored finding as the columns of its Finding row."""
    return {
        "position": position,
        "touchpoint_key": finding.touchpoint_key,
        "touchpoint_title": finding.touchpoint_title,
        "promise": finding.promise,
        "item_key": finding.item_key,
        "prompt": finding.prompt,
        "value": finding.value,
        "reason": finding.reason,
        "critical": finding.critical,
        "manual": finding.manual,
        "note": finding.note,
    }


def _committed_answers(audit_id: int) -> dict[str, AnswerData]:
    """The audit's answers as committed, read afresh (not from the session's copies)."""
    rows = db.session.execute(
        select(Answer.item_key, Answer.value, Answer.note, Answer.flagged).where(Answer.audit_id == audit_id)
    )
    return {row.item_key: AnswerData(row.value, row.note, row.flagged) for row in rows}


def _committed_photo_counts(audit_id: int) -> dict[str, int]:
    rows = db.session.execute(
        select(Photo.item_key, func.count())
        .where(Photo.audit_id == audit_id, Photo.item_key.is_not(None))
        .group_by(Photo.item_key)
    )
    return {item_key: count for item_key, count in rows}


def submit(audit: Audit, user_id: int, op_id: str, now: datetime) -> Applied:
    """Freeze the audit: score it, store its findings. Refused (422, with what is missing) while incomplete.

    What is missing is checked inside the write, under the audit's lock (see `_idempotent`), on the answers and
    photos as committed: a photo deleted (or an answer cleared) at the same moment is either seen here, or its
    write waits and then finds the audit submitted."""

    def apply() -> Applied:
        answers = _committed_answers(audit.id)
        counts = _committed_photo_counts(audit.id)
        gaps = missing_for_submit(audit.definition, answers, counts)
        if gaps:
            raise AuditError(
                "Some required answers or evidence are missing.",
                422,
                missing=[
                    {"touchpoint_key": m.touchpoint_key, "item_key": m.item_key, "prompt": m.prompt, "what": m.what}
                    for m in gaps
                ],
            )
        result = score(audit.definition, answers, counts)
        db.session.execute(delete(Finding).where(Finding.audit_id == audit.id))
        for position, finding in enumerate(result.findings):
            db.session.add(Finding(audit_id=audit.id, org_id=audit.org_id, **finding_columns(finding, position)))
        audit.status = AuditStatus.SUBMITTED
        audit.submitted_at = now
        audit.score = result.overall
        audit.result = stored_result(result)
        db.session.add(AuditEvent(audit_id=audit.id, kind="submitted", user_id=user_id, at=now))
        tallies.write_measures(audit)
        return Applied(200, {"status": "submitted", "score": result.overall, "findings": len(result.findings)})

    return _idempotent(op_id, body_hash("submit", ""), audit, user_id, "submit", now, apply)


def reopen(audit: Audit, user_id: int, reason: str, now: datetime) -> None:
    """A manager sends a submitted audit back for changes; the reason is kept in its history."""
    if not audit.is_submitted:
        raise AuditError("Only a submitted audit can be reopened.", 409)
    reason = (reason or "").strip()
    if not reason:
        raise AuditError("Say why the audit is reopened: the auditor and the history will show it.", 422)
    if len(reason) > MAX_NOTE:
        raise AuditError(f"Keep the reason under {MAX_NOTE} characters.", 422)
    submitted_at = audit.submitted_at
    audit.status = AuditStatus.IN_PROGRESS
    audit.submitted_at = None
    audit.revision += 1
    db.session.add(AuditEvent(audit_id=audit.id, kind="reopened", reason=reason, user_id=user_id, at=now))
    if submitted_at is not None:
        tallies.clear_measures(audit, submitted_at)
