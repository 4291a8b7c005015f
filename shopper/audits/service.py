"""The audit state machine: start, answer, wrap up touchpoints, add photos, submit, reopen.

Every write from a phone carries a client-generated id (the Idempotency-Key; a photo's own uuid) and the phone's
timestamp. The id is claimed in the same transaction as the change (INSERT ... ON CONFLICT DO NOTHING on both
SQLite and PostgreSQL), so a replay, even a concurrent one, returns the first response and never applies twice.
Per item, the write with the latest client timestamp wins (ties broken by the id), decided inside the upsert
itself, so two phones saving the same item converge on the same answer whatever order their writes arrive in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from shopper.accounts.models import User
from shopper.audits.models import (
    Answer,
    Audit,
    AuditEvent,
    AuditStatus,
    Finding,
    Photo,
    SyncOp,
    TouchpointVisit,
)
from shopper.checklists.models import Checklist
from shopper.checklists.schema import AnswerError, check_answer, item_index
from shopper.checklists.scoring import AnswerData, ScoreResult, missing_for_submit, score
from shopper.checklists.scoring import Finding as ScoredFinding
from shopper.checklists.sharing import may_run
from shopper.database import write_transaction
from shopper.extensions import db
from shopper.media.ingest import IngestedImage, ingest_image
from shopper.media.storage import Storage
from shopper.orgs.access import people
from shopper.orgs.models import Site

MAX_NOTE = 5000
MAX_CAPTION = 300
MAX_SCENARIO = 2000
OP_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
UUID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
RENDITIONS = ("display", "print", "thumb")


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
    """A new audit pinned to the checklist's current version (see `new_audit`). Commits."""
    started = new_audit(**audit)
    db.session.commit()
    return started


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
        db.session.commit()


def remember_position(audit: Audit, touchpoint_key: str) -> None:
    if audit.last_touchpoint_key != touchpoint_key and not audit.is_submitted:
        audit.last_touchpoint_key = touchpoint_key
        db.session.commit()


# Idempotent writes ---------------------------------------------------------------------------------------------


def check_op_id(op_id: str | None) -> str:
    if not op_id:
        raise AuditError("Every change needs an Idempotency-Key header (a random id made by the phone).", 400)
    if not OP_ID_PATTERN.match(op_id):
        raise AuditError("The Idempotency-Key must be 8 to 64 letters, digits, '-' or '_'.", 400)
    return op_id


def _replayed(op_id: str, audit_id: int, user_id: int) -> Applied | None:
    ops = SyncOp.__table__.c
    op = _run(
        "find-op",
        lambda: select(ops.audit_id, ops.user_id, ops.status_code, ops.response).where(ops.op_id == bindparam("op_id")),
        {"op_id": op_id},
    ).first()
    if op is None:
        return None
    if op.audit_id != audit_id or op.user_id != user_id:
        raise AuditError("This Idempotency-Key was already used for a different change.", 422)
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
    names = ("op_id", "audit_id", "user_id", "kind", "status_code", "response", "applied_at")
    return (
        _insert(SyncOp.__table__)
        .values({name: bindparam(name) for name in names})
        .on_conflict_do_nothing(index_elements=["op_id"])
        .returning(SyncOp.__table__.c.id)
    )


class _Replay(Exception):
    """Another transaction recorded the same op first: undo this one and answer as that one did."""


def _idempotent(op_id: str, audit: Audit, user_id: int, kind: str, now: datetime, apply) -> Applied:
    """Run `apply()` once per op_id; every later call with the same id gets the first result back.

    A replay is answered from a plain read, without waiting for the write lock. The write itself is three
    statements: bump the audit's revision (which also checks, under the lock, that it is not submitted), apply the
    change, and record the op with its response. If a concurrent replay recorded the op first, the unique key
    refuses the record and the whole transaction is undone.
    """
    op_id = check_op_id(op_id)
    audit_id = audit.id
    replay = _replayed(op_id, audit_id, user_id)
    if replay is not None:
        return replay
    try:
        with write_transaction():
            bumped = _run("bump-revision", _bump_revision, {"audit_id": audit_id}).first()
            if bumped is None:
                raise AuditError("This audit has been submitted: it can no longer be changed.", 409)
            result = apply()
            recorded = _run(
                "record-op",
                _record_op,
                dict(
                    op_id=op_id,
                    audit_id=audit_id,
                    user_id=user_id,
                    kind=kind,
                    status_code=result.status,
                    response=result.body,
                    applied_at=now,
                ),
            ).first()
            if recorded is None:
                raise _Replay
    except _Replay:
        return _replayed(op_id, audit_id, user_id)
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
    index = item_index(audit.definition)
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

    return _idempotent(op_id, audit, user_id, "answer", now, apply)


def save_visit(
    audit: Audit, user_id: int, op_id: str, touchpoint_key: str, payload: dict[str, Any], now: datetime
) -> Applied:
    """Apply a touchpoint wrap-up: effort 1-7, promise kept yes/no, note. Latest client timestamp wins."""
    if touchpoint_key not in {tp["key"] for tp in audit.definition["touchpoints"]}:
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

    return _idempotent(op_id, audit, user_id, "visit", now, apply)


# Photos --------------------------------------------------------------------------------------------------------


def photo_key(audit: Audit, photo_id: str, rendition: str) -> str:
    return f"{audit.org_id}/{audit.id}/{photo_id}-{rendition}.jpg"


def photo_state(photo: Photo) -> dict[str, Any]:
    return {
        "id": photo.id,
        "touchpoint_key": photo.touchpoint_key,
        "item_key": photo.item_key,
        "caption": photo.caption,
        "width": photo.width,
        "height": photo.height,
    }


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
) -> Applied:
    """Ingest and store a photo under the phone's uuid. A retried upload returns the photo already stored.

    The image is decoded and its files written before the database transaction, so the write lock is never held
    while Pillow works.
    """
    photo_id = (photo_id or "").lower()
    if not UUID_PATTERN.match(photo_id):
        raise AuditError("A photo needs the uuid the phone gave it.", 400)
    existing = db.session.get(Photo, photo_id)
    if existing is not None:
        if existing.audit_id != audit.id:
            raise AuditError("This photo id belongs to another audit.", 409)
        return Applied(200, {"photo": photo_state(existing), "created": False})
    if audit.is_submitted:
        raise AuditError("This audit has been submitted: it can no longer be changed.", 409)
    touchpoints = {tp["key"] for tp in audit.definition["touchpoints"]}
    if touchpoint_key not in touchpoints:
        raise AuditError(f"This checklist has no touchpoint {touchpoint_key!r}.", 422)
    if item_key:
        index = item_index(audit.definition)
        if item_key not in index or index[item_key][0]["key"] != touchpoint_key:
            raise AuditError(f"Touchpoint {touchpoint_key!r} has no item {item_key!r}.", 422)
    if len(caption) > MAX_CAPTION:
        raise AuditError(f"Keep the caption under {MAX_CAPTION} characters.", 422)
    db.session.commit()  # no transaction stays open while the image is decoded
    image: IngestedImage = ingest_image(data)  # raises ImageRejected
    keys = [photo_key(audit, photo_id, name) for name in RENDITIONS]
    stored = False
    try:
        for key, name in zip(keys, RENDITIONS, strict=True):
            storage.save(key, image.renditions[name].data)
        with write_transaction():
            concurrent = db.session.get(Photo, photo_id)
            if concurrent is not None:  # a retry of this very upload finished first: same files, one photo
                stored = True
                return Applied(200, {"photo": photo_state(concurrent), "created": False})
            if audit.is_submitted:
                raise AuditError("This audit has been submitted: it can no longer be changed.", 409)
            photo = Photo(
                id=photo_id,
                audit_id=audit.id,
                touchpoint_key=touchpoint_key,
                item_key=item_key or None,
                caption=caption.strip(),
                width=image.width,
                height=image.height,
                bytes=sum(len(r.data) for r in image.renditions.values()),
                sha256=image.sha256,
                created_at=now,
                created_by_id=user_id,
            )
            db.session.add(photo)
            db.session.execute(update(Audit).where(Audit.id == audit.id).values(revision=Audit.revision + 1))
        stored = True
    finally:
        if not stored:
            for key in keys:
                storage.delete(key)
    return Applied(201, {"photo": photo_state(photo), "created": True})


def caption_photo(audit: Audit, photo: Photo, caption: str) -> None:
    if audit.is_submitted:
        raise AuditError("This audit has been submitted: it can no longer be changed.", 409)
    if not isinstance(caption, str) or len(caption) > MAX_CAPTION:
        raise AuditError(f"Keep the caption under {MAX_CAPTION} characters.", 422)
    with write_transaction():
        photo.caption = caption.strip()
        audit.revision += 1


def delete_photo(audit: Audit, photo: Photo, storage: Storage) -> None:
    if audit.is_submitted:
        raise AuditError("Photos of a submitted audit are kept as evidence.", 409)
    keys = [photo_key(audit, photo.id, name) for name in RENDITIONS]
    with write_transaction():
        db.session.delete(photo)
        audit.revision += 1
    for key in keys:
        storage.delete(key)


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


def submit(audit: Audit, user_id: int, op_id: str, now: datetime) -> Applied:
    """Freeze the audit: score it, store its findings. Refused (422, with what is missing) while incomplete."""
    gaps = missing(audit)
    if gaps and not audit.is_submitted:
        raise AuditError(
            "Some required answers or evidence are missing.",
            422,
            missing=[
                {"touchpoint_key": m.touchpoint_key, "item_key": m.item_key, "prompt": m.prompt, "what": m.what}
                for m in gaps
            ],
        )

    def apply() -> Applied:
        result = score(audit.definition, answer_data(audit), photo_counts(audit))
        db.session.execute(delete(Finding).where(Finding.audit_id == audit.id))
        for position, finding in enumerate(result.findings):
            db.session.add(Finding(audit_id=audit.id, org_id=audit.org_id, **finding_columns(finding, position)))
        audit.status = AuditStatus.SUBMITTED
        audit.submitted_at = now
        audit.score = result.overall
        audit.result = stored_result(result)
        db.session.add(AuditEvent(audit_id=audit.id, kind="submitted", user_id=user_id, at=now))
        return Applied(200, {"status": "submitted", "score": result.overall, "findings": len(result.findings)})

    return _idempotent(op_id, audit, user_id, "submit", now, apply)


def reopen(audit: Audit, user_id: int, reason: str, now: datetime) -> None:
    """A manager sends a submitted audit back for changes; the reason is kept in its history."""
    if not audit.is_submitted:
        raise AuditError("Only a submitted audit can be reopened.", 409)
    reason = (reason or "").strip()
    if not reason:
        raise AuditError("Say why the audit is reopened: the auditor and the history will show it.", 422)
    if len(reason) > MAX_NOTE:
        raise AuditError(f"Keep the reason under {MAX_NOTE} characters.", 422)
    audit.status = AuditStatus.IN_PROGRESS
    audit.submitted_at = None
    audit.revision += 1
    db.session.add(AuditEvent(audit_id=audit.id, kind="reopened", reason=reason, user_id=user_id, at=now))
    db.session.commit()
