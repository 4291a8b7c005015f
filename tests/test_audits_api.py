"""The phone's JSON API through the real app: authorization, idempotency, photos on real image bytes."""

import io
import json
import uuid
from pathlib import Path

import pytest

from shopper.audits.models import Answer, Audit, Photo, SyncOp
from shopper.media.ingest import decode_slot, set_decode_concurrency
from shopper.orgs.models import Role
from tests.conftest import make_app
from tests.images import encode, marked_image, oriented_jpeg, webp_lossless


@pytest.fixture
def world(make):
    org = make.org()
    other = make.org()
    auditor = make.member(org, Role.AUDITOR)
    audit = make.audit(org, auditor)
    return {
        "org": org,
        "auditor": auditor,
        "audit": audit,
        "manager": make.member(org, Role.MANAGER),
        "colleague": make.member(org, Role.AUDITOR),
        "stranger": make.member(other, Role.OWNER),
        "base": f"/o/{org.slug}/api/audits/{audit.id}",
    }


def put(client, url, body, key=None, **headers):
    return client.put(
        url,
        data=json.dumps(body),
        content_type="application/json",
        headers={"Idempotency-Key": key or uuid.uuid4().hex, **headers},
    )


def upload(client, url, data, photo_id=None, key=None, **fields):
    form = {
        "id": photo_id or str(uuid.uuid4()),
        "touchpoint_key": "billing-line",
        "file": (io.BytesIO(data), "p.jpg"),
        **fields,
    }
    return client.post(url, data=form, headers={"Idempotency-Key": key or uuid.uuid4().hex})


def test_state_has_everything_the_phone_needs(client, login, world):
    login(world["auditor"])
    state = client.get(world["base"]).get_json()
    assert state["status"] == "in_progress"
    assert state["definition"]["touchpoints"][0]["key"] == "billing-line"
    assert state["answers"] == {} and state["photos"] == []


def test_answer_then_replay_gets_the_same_response(client, login, make, world):
    login(world["auditor"])
    key = uuid.uuid4().hex
    first = put(client, f"{world['base']}/answers/transfers", {"value": 2, "client_ts": 1000}, key)
    assert first.status_code == 200 and first.get_json()["answer"]["value"] == 2
    replay = put(client, f"{world['base']}/answers/transfers", {"value": 2, "client_ts": 1000}, key)
    assert replay.get_json() == first.get_json()
    assert make.count(SyncOp, audit_id=world["audit"].id) == 1
    assert client.get(world["base"]).get_json()["answers"]["transfers"]["value"] == 2


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"key": "bad key!"}, 400, "Idempotency-Key"),
        ({"body": {"value": "lots", "client_ts": 1}}, 422, "whole number"),
        ({"body": [1, 2]}, 400, "JSON object"),
        ({"item": "no-such-item"}, 404, "no item"),
    ],
)
def test_bad_writes_get_a_json_error_and_write_nothing(client, login, make, world, kwargs, status, message):
    login(world["auditor"])
    item = kwargs.get("item", "transfers")
    response = put(
        client, f"{world['base']}/answers/{item}", kwargs.get("body", {"value": 1, "client_ts": 1}), kwargs.get("key")
    )
    assert response.status_code == status
    assert message in response.get_json()["error"]
    assert make.count(Answer, audit_id=world["audit"].id) == 0


def test_a_write_without_an_idempotency_key_is_refused(client, login, make, world):
    login(world["auditor"])
    response = client.put(
        f"{world['base']}/answers/transfers",
        data=json.dumps({"value": 1, "client_ts": 1}),
        content_type="application/json",
    )
    assert response.status_code == 400 and "Idempotency-Key" in response.get_json()["error"]
    assert make.count(Answer, audit_id=world["audit"].id) == 0


def test_an_oversized_body_is_413(client, login, world):
    login(world["auditor"])
    response = put(client, f"{world['base']}/answers/transfers", {"value": 1, "client_ts": 1, "note": "x" * 70000})
    assert response.status_code == 413


def test_signed_out_gets_401_json_not_a_redirect(client, world):
    response = put(client, f"{world['base']}/answers/transfers", {"value": 1, "client_ts": 1})
    assert response.status_code == 401
    assert "sign in" in response.get_json()["error"]


def test_other_organizations_and_other_auditors_get_404(client, login, make, world):
    for who in ("stranger", "colleague"):
        login(world[who])
        assert client.get(world["base"]).status_code == 404
        assert put(client, f"{world['base']}/answers/transfers", {"value": 1, "client_ts": 1}).status_code == 404
        assert upload(client, f"{world['base']}/photos", oriented_jpeg(1)).status_code == 404
        assert client.post(f"{world['base']}/submit", headers={"Idempotency-Key": uuid.uuid4().hex}).status_code == 404
    login(world["stranger"])
    foreign = f"/o/{make.org().slug}/api/audits/{world['audit'].id}"
    assert client.get(foreign).status_code == 404
    assert make.count(Answer, audit_id=world["audit"].id) == 0


def test_managers_see_and_may_change_any_audit_of_their_org(client, login, world):
    login(world["manager"])
    assert client.get(world["base"]).status_code == 200
    assert put(client, f"{world['base']}/answers/transfers", {"value": 0, "client_ts": 1}).status_code == 200


def test_photo_upload_is_ingested_and_a_retry_is_one_photo(app, client, login, make, world):
    login(world["auditor"])
    photo_id = str(uuid.uuid4())
    first = upload(
        client,
        f"{world['base']}/photos",
        oriented_jpeg(6, (400, 300)),
        photo_id,
        item_key="answer-time",
        caption="Queue of nine people",
    )
    assert first.status_code == 201
    body = first.get_json()["photo"]
    assert (body["width"], body["height"]) == (400, 300)  # stored turned on its side, shown upright
    retry = upload(client, f"{world['base']}/photos", oriented_jpeg(6, (400, 300)), photo_id, item_key="answer-time")
    assert retry.status_code == 200 and retry.get_json()["created"] is False
    assert make.count(Photo, audit_id=world["audit"].id) == 1
    media = Path(app.config["MEDIA_ROOT"]) / str(world["org"].id) / str(world["audit"].id)
    assert sorted(p.name for p in media.iterdir()) == sorted(
        f"{photo_id}-{r}.jpg" for r in ("display", "print", "thumb")
    )


@pytest.mark.parametrize(
    ("data", "fields", "status"),
    [
        (b"not an image at all", {}, 422),
        (b"", {}, 422),
        (encode(marked_image(), "GIF"), {}, 422),
        (oriented_jpeg(1)[:-400], {}, 422),
        (oriented_jpeg(1), {"touchpoint_key": "nowhere"}, 422),
        (oriented_jpeg(1), {"item_key": "nowhere"}, 422),
        (oriented_jpeg(1), {"id": "not-a-uuid"}, 400),
    ],
)
def test_refused_photos_leave_nothing_behind(app, client, login, make, world, data, fields, status):
    login(world["auditor"])
    form = {"id": str(uuid.uuid4()), "touchpoint_key": "billing-line", "file": (io.BytesIO(data), "p.jpg"), **fields}
    response = client.post(f"{world['base']}/photos", data=form, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]
    assert make.count(Photo, audit_id=world["audit"].id) == 0
    media = Path(app.config["MEDIA_ROOT"]) / str(world["org"].id) / str(world["audit"].id)
    assert not media.exists() or list(media.iterdir()) == []


def test_a_tiny_photo_that_decodes_huge_is_refused_and_nothing_is_stored(app, client, login, make, world):
    """Issue 12: a lossless WebP of 59.5 MP in one colour (32 bytes here, 2.5 KB from Pillow) was taken, for 1 GB."""
    login(world["auditor"])
    response = upload(client, f"{world['base']}/photos", webp_lossless(8900, 6690))
    assert response.status_code == 422
    assert response.get_json() == {
        "error": "This image is too large to process. Please choose a smaller photo, or a screenshot of the part "
        "you need.",
        "status": 422,
        "reason": "too_big_to_process",
    }
    assert make.count(Photo, audit_id=world["audit"].id) == 0
    media = Path(app.config["MEDIA_ROOT"]) / str(world["org"].id) / str(world["audit"].id)
    assert not media.exists() or list(media.iterdir()) == []


def test_a_photo_that_gets_no_decode_slot_is_503_and_its_retry_is_stored(app, client, login, make, world):
    """The phone's outbox retries a 5xx: the same upload, sent again once a slot is free, goes in once."""
    login(world["auditor"])
    photo_id = str(uuid.uuid4())
    set_decode_concurrency(1, wait_seconds=0.05)
    try:
        with decode_slot():  # another upload is being decoded
            busy = upload(client, f"{world['base']}/photos", oriented_jpeg(1), photo_id)
    finally:
        set_decode_concurrency(app.config["IMAGE_DECODE_CONCURRENCY"])
    assert busy.status_code == 503
    assert busy.headers["Retry-After"] == "5"
    assert busy.get_json()["reason"] == "busy"
    assert make.count(Photo, audit_id=world["audit"].id) == 0
    retry = upload(client, f"{world['base']}/photos", oriented_jpeg(1), photo_id)
    assert retry.status_code == 201
    assert make.count(Photo, audit_id=world["audit"].id) == 1


def test_a_decode_bound_that_is_not_a_whole_number_stops_the_app_at_start(tmp_path):
    with pytest.raises(ValueError, match="whole number"):
        make_app(tmp_path, IMAGE_DECODE_CONCURRENCY=0)


def test_caption_and_delete_photo(client, login, make, world):
    login(world["auditor"])
    photo_id = str(uuid.uuid4())
    upload(client, f"{world['base']}/photos", oriented_jpeg(1), photo_id)
    patched = client.patch(
        f"{world['base']}/photos/{photo_id}",
        data=json.dumps({"caption": "Leaflet rack, empty"}),
        content_type="application/json",
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert patched.get_json()["photo"]["caption"] == "Leaflet rack, empty"
    for _ in range(2):  # a replayed delete succeeds too
        deleted = client.delete(f"{world['base']}/photos/{photo_id}", headers={"Idempotency-Key": uuid.uuid4().hex})
        assert deleted.status_code == 204
    assert make.count(Photo, audit_id=world["audit"].id) == 0


def test_submit_through_the_api(client, login, make, world):
    login(world["auditor"])
    incomplete = client.post(f"{world['base']}/submit", headers={"Idempotency-Key": uuid.uuid4().hex})
    assert incomplete.status_code == 422
    assert {m["item_key"] for m in incomplete.get_json()["missing"]} == {"answer-time"}
    put(client, f"{world['base']}/answers/answer-time", {"value": 45, "client_ts": 1})
    put(client, f"{world['base']}/answers/resolved", {"value": "yes", "note": "Refund confirmed", "client_ts": 2})
    done = client.post(f"{world['base']}/submit", headers={"Idempotency-Key": uuid.uuid4().hex})
    assert done.status_code == 200 and done.get_json()["score"] == 100.0
    late = put(client, f"{world['base']}/answers/transfers", {"value": 4, "client_ts": 3})
    assert late.status_code == 409 and "submitted" in late.get_json()["error"]
    assert make.get(Audit, world["audit"].id).status == "submitted"
