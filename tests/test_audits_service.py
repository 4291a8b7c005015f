"""The audit state machine, called without a request, on a real database."""

import uuid

import pytest

from shopper.audits import service
from shopper.audits.models import Answer, Audit, AuditEvent, AuditStatus, Finding, SyncOp, TouchpointVisit
from shopper.extensions import db
from shopper.orgs.models import Role
from shopper.timeutil import utcnow


@pytest.fixture
def setup(ctx, make):
    org = make.org()
    auditor = make.member(org, Role.AUDITOR)
    manager = make.member(org, Role.MANAGER)
    audit = make.audit(org, auditor)
    return org, auditor, manager, db.session.get(Audit, audit.id)


def op() -> str:
    return uuid.uuid4().hex


def answer(audit, user, item, value, ts, op_id=None, **extra):
    return service.save_answer(
        audit, user.id, op_id or op(), item, {"value": value, "client_ts": ts, **extra}, utcnow()
    )


def stored(audit, item):
    return db.session.scalar(
        db.select(Answer).filter_by(audit_id=audit.id, item_key=item).execution_options(populate_existing=True)
    )


def test_an_answer_is_saved_and_its_state_returned(setup):
    _, auditor, _, audit = setup
    result = answer(audit, auditor, "answer-time", 75, 1000, note="Music on hold, no queue position")
    assert result.status == 200
    assert result.body["applied"] is True
    assert result.body["answer"] == {
        "item_key": "answer-time",
        "value": 75,
        "note": "Music on hold, no queue position",
        "flagged": False,
        "client_ts": 1000,
    }
    assert stored(audit, "answer-time").touchpoint_key == "billing-line"


def test_a_replay_returns_the_first_response_and_applies_nothing(setup):
    _, auditor, _, audit = setup
    key = op()
    first = answer(audit, auditor, "transfers", 2, 1000, op_id=key)
    answer(audit, auditor, "transfers", 3, 2000)
    replay = answer(audit, auditor, "transfers", 2, 1000, op_id=key)
    assert replay == first
    assert stored(audit, "transfers").value == 3
    assert db.session.query(SyncOp).filter_by(audit_id=audit.id).count() == 2


def test_the_latest_client_timestamp_wins_whatever_the_arrival_order(setup):
    _, auditor, _, audit = setup
    answer(audit, auditor, "transfers", 5, 3000)
    late_arrival = answer(audit, auditor, "transfers", 1, 2000)
    assert late_arrival.body["applied"] is False
    assert late_arrival.body["answer"]["value"] == 5  # the response carries the saved state
    assert stored(audit, "transfers").value == 5


def test_equal_timestamps_are_broken_deterministically_by_the_key(setup):
    _, auditor, _, audit = setup
    answer(audit, auditor, "transfers", 1, 5000, op_id="bbbbbbbbbb")
    answer(audit, auditor, "transfers", 2, 5000, op_id="aaaaaaaaaa")
    assert stored(audit, "transfers").value == 1
    answer(audit, auditor, "transfers", 3, 5000, op_id="cccccccccc")
    assert stored(audit, "transfers").value == 3


@pytest.mark.parametrize(
    ("item", "payload", "status", "message"),
    [
        ("tone", {"value": 9, "client_ts": 1}, 422, "rating"),
        ("resolved", {"value": "maybe", "client_ts": 1}, 422, "maybe"),
        ("nowhere", {"value": 1, "client_ts": 1}, 404, "no item"),
        ("transfers", {"value": 1}, 422, "client_ts"),
        ("transfers", {"value": 1, "client_ts": 1, "colour": "red"}, 422, "Unknown field"),
        ("transfers", {"value": 1, "client_ts": 1, "note": "x" * 5001}, 422, "5000"),
        ("transfers", {"value": 1, "client_ts": 1, "flagged": "yes"}, 422, "flagged"),
    ],
)
def test_bad_answers_are_refused_and_nothing_is_written(setup, item, payload, status, message):
    _, auditor, _, audit = setup
    with pytest.raises(service.AuditError, match=message) as refused:
        service.save_answer(audit, auditor.id, op(), item, payload, utcnow())
    assert refused.value.status == status
    assert db.session.query(Answer).filter_by(audit_id=audit.id).count() == 0
    assert db.session.query(SyncOp).filter_by(audit_id=audit.id).count() == 0


@pytest.mark.parametrize("key", [None, "", "short", "has spaces in it", "x" * 65])
def test_a_missing_or_malformed_idempotency_key_is_refused(setup, key):
    _, auditor, _, audit = setup
    with pytest.raises(service.AuditError) as refused:
        service.save_answer(audit, auditor.id, key, "transfers", {"value": 1, "client_ts": 1}, utcnow())
    assert refused.value.status == 400
    assert db.session.query(Answer).filter_by(audit_id=audit.id).count() == 0


def test_a_key_used_for_another_audit_is_refused(setup, make):
    org, auditor, _, audit = setup
    other = db.session.get(Audit, make.audit(org, auditor).id)
    key = op()
    answer(audit, auditor, "transfers", 1, 1, op_id=key)
    with pytest.raises(service.AuditError, match="already used"):
        answer(other, auditor, "transfers", 1, 1, op_id=key)


def test_wrap_up_of_a_touchpoint(setup):
    _, auditor, _, audit = setup
    result = service.save_visit(
        audit,
        auditor.id,
        op(),
        "billing-line",
        {"effort": 6, "promise_kept": False, "note": "Passed on twice", "client_ts": 10},
        utcnow(),
    )
    assert result.body["visit"]["effort"] == 6
    older = service.save_visit(audit, auditor.id, op(), "billing-line", {"effort": 2, "client_ts": 5}, utcnow())
    assert older.body["applied"] is False
    visit = db.session.query(TouchpointVisit).filter_by(audit_id=audit.id).one()
    assert (visit.effort, visit.promise_kept) == (6, False)
    for bad in (
        {"effort": 8, "client_ts": 1},
        {"effort": True, "client_ts": 1},
        {"promise_kept": "no", "client_ts": 1},
    ):
        with pytest.raises(service.AuditError):
            service.save_visit(audit, auditor.id, op(), "billing-line", bad, utcnow())
    with pytest.raises(service.AuditError) as unknown:
        service.save_visit(audit, auditor.id, op(), "nowhere", {"client_ts": 1}, utcnow())
    assert unknown.value.status == 404


def test_submit_lists_what_is_missing_then_scores_and_freezes(setup):
    _, auditor, _, audit = setup
    answer(audit, auditor, "resolved", "no", 1)
    with pytest.raises(service.AuditError) as incomplete:
        service.submit(audit, auditor.id, op(), utcnow())
    missing = {(m["item_key"], m["what"]) for m in incomplete.value.details["missing"]}
    assert missing == {("answer-time", "answer"), ("resolved", "note")}
    assert db.session.get(Audit, audit.id).status == AuditStatus.IN_PROGRESS

    answer(audit, auditor, "answer-time", 250, 2)
    answer(audit, auditor, "resolved", "no", 3, note="Told to email instead")
    answer(audit, auditor, "transfers", 3, 4)
    db.session.expire_all()
    audit = db.session.get(Audit, audit.id)
    key = op()
    result = service.submit(audit, auditor.id, key, utcnow())
    assert result.status == 200 and result.body["status"] == "submitted"
    audit = db.session.get(Audit, audit.id)
    assert audit.status == AuditStatus.SUBMITTED and audit.score == 0.0
    reasons = [f.reason for f in db.session.query(Finding).filter_by(audit_id=audit.id).order_by(Finding.position)]
    assert reasons[0] == "answered no"  # the critical finding comes first
    assert "4 min 10 s: the promise is 1 min" in reasons
    assert service.submit(audit, auditor.id, key, utcnow()) == result  # a replayed submit is harmless
    with pytest.raises(service.AuditError) as frozen:
        answer(audit, auditor, "transfers", 0, 99)
    assert frozen.value.status == 409
    assert stored(audit, "transfers").value == 3


def test_reopen_needs_a_reason_and_is_recorded(setup):
    _, auditor, manager, audit = setup
    answer(audit, auditor, "answer-time", 30, 1)
    answer(audit, auditor, "resolved", "yes", 2, note="Sorted at once")
    db.session.expire_all()
    audit = db.session.get(Audit, audit.id)
    service.submit(audit, auditor.id, op(), utcnow())
    with pytest.raises(service.AuditError, match="why"):
        service.reopen(audit, manager.id, "  ", utcnow())
    service.reopen(audit, manager.id, "The photo of the queue is missing", utcnow())
    assert audit.status == AuditStatus.IN_PROGRESS
    event = db.session.query(AuditEvent).filter_by(audit_id=audit.id, kind="reopened").one()
    assert event.reason == "The photo of the queue is missing"
    assert answer(audit, auditor, "transfers", 0, 3).body["applied"] is True


def test_starting_needs_a_published_checklist_a_live_site_and_a_member(ctx, make):
    from shopper.checklists.models import Checklist
    from shopper.orgs.models import Site

    org = make.org()
    owner = make.member(org, Role.OWNER)
    outsider = make.user()
    draft = db.session.get(Checklist, make.checklist(org, publish=False).id)
    published = db.session.get(Checklist, make.checklist(org).id)
    site = db.session.get(Site, make.site(org).id)
    common = dict(org_id=org.id, site=site, created_by_id=owner.id, scenario="", due_on=None, now=utcnow())
    with pytest.raises(service.AuditError, match="publish"):
        service.start_audit(checklist=draft, auditor_id=owner.id, **common)
    with pytest.raises(service.AuditError, match="member"):
        service.start_audit(checklist=published, auditor_id=outsider.id, **common)
    assigned = service.start_audit(checklist=published, auditor_id=make.member(org, Role.AUDITOR).id, **common)
    assert assigned.status == AuditStatus.ASSIGNED and assigned.started_at is None
    assert assigned.checklist_version_id == published.current_version_id


def test_the_same_change_sent_with_its_fields_in_another_order_is_a_replay(setup):
    _, auditor, _, audit = setup
    key = op()
    first = service.save_answer(
        audit, auditor.id, key, "transfers", {"value": 2, "note": "x", "client_ts": 9}, utcnow()
    )
    again = service.save_answer(
        audit, auditor.id, key, "transfers", {"client_ts": 9, "note": "x", "value": 2}, utcnow()
    )
    assert again == first
    assert db.session.query(SyncOp).filter_by(audit_id=audit.id).count() == 1


def test_a_key_reused_with_another_body_is_refused_before_anything_is_written(setup):
    _, auditor, _, audit = setup
    key = op()
    answer(audit, auditor, "transfers", 2, 9, op_id=key)
    db.session.expire_all()
    revision = db.session.get(Audit, audit.id).revision
    with pytest.raises(service.AuditError, match="already used for a different change") as refused:
        answer(audit, auditor, "transfers", 3, 10, op_id=key)
    assert refused.value.status == 422
    assert stored(audit, "transfers").value == 2
    db.session.expire_all()
    assert db.session.get(Audit, audit.id).revision == revision


def test_writes_recorded_before_body_hashes_were_kept_still_replay(setup):
    _, auditor, _, audit = setup
    key = op()
    first = answer(audit, auditor, "transfers", 2, 9, op_id=key)
    db.session.execute(db.update(SyncOp).where(SyncOp.op_id == key).values(body_hash=None))
    db.session.commit()
    assert answer(audit, auditor, "transfers", 2, 9, op_id=key) == first


def test_every_phone_write_records_its_key_and_body_hash(setup, tmp_path):
    from shopper.media.storage import LocalStorage
    from tests.images import oriented_jpeg

    _, auditor, _, audit = setup
    storage = LocalStorage(tmp_path)
    photo_id = str(uuid.uuid4())
    keys = {kind: op() for kind in ("answer", "visit", "photo", "caption", "delete-photo")}
    answer(audit, auditor, "transfers", 1, 1, op_id=keys["answer"])
    service.save_visit(audit, auditor.id, keys["visit"], "billing-line", {"effort": 2, "client_ts": 1}, utcnow())
    common = dict(touchpoint_key="billing-line", item_key=None, caption="", storage=storage, now=utcnow())
    service.add_photo(audit, auditor.id, photo_id=photo_id, data=oriented_jpeg(1), op_id=keys["photo"], **common)
    service.caption_photo(audit, auditor.id, keys["caption"], photo_id, {"caption": "Hi", "client_ts": 3}, utcnow())
    service.delete_photo(audit, auditor.id, keys["delete-photo"], photo_id, storage, utcnow())
    ops = {o.op_id: o for o in db.session.query(SyncOp).filter_by(audit_id=audit.id)}
    for kind, key in keys.items():
        assert ops[key].kind == kind
        assert len(ops[key].body_hash) == 64
    assert len({o.body_hash for o in ops.values()}) == len(keys)
