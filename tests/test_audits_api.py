"""The phone's JSON API through the real app: authorization, idempotency, photos on real image bytes."""

import io
import itertools
import json
import uuid
from pathlib import Path

import pytest

from shopper.audits.models import Answer, Audit, Photo, PhotoTombstone, SyncOp
from shopper.extensions import db
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


def patch_caption(client, url, caption, client_ts, key=None, **extra):
    return client.patch(
        url,
        data=json.dumps({"caption": caption, "client_ts": client_ts, **extra}),
        content_type="application/json",
        headers={"Idempotency-Key": key or uuid.uuid4().hex},
    )


def delete(client, url, key=None):
    return client.delete(url, headers={"Idempotency-Key": key or uuid.uuid4().hex})


def media_files(app, world) -> list[str]:
    media = Path(app.config["MEDIA_ROOT"]) / str(world["org"].id) / str(world["audit"].id)
    return sorted(p.name for p in media.iterdir()) if media.exists() else []


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


def test_caption_and_delete_photo(app, client, login, make, world):
    login(world["auditor"])
    photo_id = str(uuid.uuid4())
    upload(client, f"{world['base']}/photos", oriented_jpeg(1), photo_id)
    patched = patch_caption(client, f"{world['base']}/photos/{photo_id}", "Leaflet rack, empty", 1000)
    assert patched.status_code == 200
    assert patched.get_json()["applied"] is True
    assert patched.get_json()["photo"]["caption"] == "Leaflet rack, empty"
    assert patched.get_json()["photo"]["caption_ts"] == 1000
    for _ in range(2):  # a second delete of the same photo succeeds too
        deleted = delete(client, f"{world['base']}/photos/{photo_id}")
        assert deleted.status_code == 204 and deleted.data == b""
    assert make.count(Photo, audit_id=world["audit"].id) == 0
    assert media_files(app, world) == []
    tombstone = make.get(PhotoTombstone, photo_id)
    assert (tombstone.audit_id, tombstone.deleted_by_id) == (world["audit"].id, world["auditor"].id)
    assert tombstone.deleted_at is not None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"caption": "No time"}, "client_ts"),
        ({"caption": "Late", "client_ts": "yesterday"}, "client_ts"),
        ({"caption": "x" * 301, "client_ts": 5}, "300"),
        ({"caption": 7, "client_ts": 5}, "300"),
        ({"caption": "Hi", "client_ts": 5, "colour": "red"}, "Unknown field"),
    ],
)
def test_bad_captions_are_refused_and_change_nothing(client, login, make, world, body, message):
    login(world["auditor"])
    photo_id = str(uuid.uuid4())
    upload(client, f"{world['base']}/photos", oriented_jpeg(1), photo_id, caption="As uploaded")
    response = client.patch(
        f"{world['base']}/photos/{photo_id}",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 422 and message in response.get_json()["error"]
    assert make.get(Photo, photo_id).caption == "As uploaded"


@pytest.mark.parametrize("order", list(itertools.permutations([1000, 2000, 3000])))
def test_the_latest_caption_wins_whatever_the_arrival_order(client, login, make, world, order):
    login(world["auditor"])
    photo_id = str(uuid.uuid4())
    url = f"{world['base']}/photos/{photo_id}"
    upload(client, f"{world['base']}/photos", oriented_jpeg(1), photo_id, caption="As uploaded")
    latest = 0
    for client_ts in order:
        body = patch_caption(client, url, f"Typed at {client_ts}", client_ts).get_json()
        assert body["applied"] is (client_ts > latest)
        latest = max(latest, client_ts)
        assert body["photo"]["caption"] == f"Typed at {latest}"  # a losing edit answers with what is saved
    assert make.get(Photo, photo_id).caption == "Typed at 3000"
    assert client.get(world["base"]).get_json()["photos"][0]["caption_ts"] == 3000


def test_equal_caption_timestamps_are_broken_by_the_key(client, login, make, world):
    login(world["auditor"])
    photo_id = str(uuid.uuid4())
    url = f"{world['base']}/photos/{photo_id}"
    upload(client, f"{world['base']}/photos", oriented_jpeg(1), photo_id)
    patch_caption(client, url, "From key b", 5000, key="bbbbbbbbbb")
    assert patch_caption(client, url, "From key a", 5000, key="aaaaaaaaaa").get_json()["applied"] is False
    assert patch_caption(client, url, "From key c", 5000, key="cccccccccc").get_json()["applied"] is True
    assert make.get(Photo, photo_id).caption == "From key c"


def test_a_deleted_photo_is_not_brought_back_by_a_late_upload_or_caption(app, client, login, make, world):
    login(world["auditor"])
    photo_id = str(uuid.uuid4())
    first_key = uuid.uuid4().hex
    first = upload(client, f"{world['base']}/photos", oriented_jpeg(1), photo_id, key=first_key)
    assert first.status_code == 201
    assert delete(client, f"{world['base']}/photos/{photo_id}").status_code == 204

    late = upload(client, f"{world['base']}/photos", oriented_jpeg(1), photo_id)  # from another tab: another key
    assert late.status_code == 410
    assert "deleted" in late.get_json()["error"]
    replay = upload(client, f"{world['base']}/photos", oriented_jpeg(1), photo_id, key=first_key)
    assert (replay.status_code, replay.get_json()) == (201, first.get_json())  # the first answer, nothing stored
    caption = patch_caption(client, f"{world['base']}/photos/{photo_id}", "Too late", 9_999_999)
    assert caption.status_code == 410 and "deleted" in caption.get_json()["error"]

    assert make.count(Photo, audit_id=world["audit"].id) == 0
    assert media_files(app, world) == []
    assert client.get(world["base"]).get_json()["photos"] == []


def test_a_delete_that_arrives_before_its_upload_still_wins(app, client, login, make, world):
    login(world["auditor"])
    photo_id = str(uuid.uuid4())
    assert delete(client, f"{world['base']}/photos/{photo_id}").status_code == 204
    assert upload(client, f"{world['base']}/photos", oriented_jpeg(1), photo_id).status_code == 410
    assert make.count(Photo, audit_id=world["audit"].id) == 0
    assert media_files(app, world) == []


def test_photo_writes_of_another_audit_are_404_and_change_nothing(client, login, make, world):
    login(world["auditor"])
    other = make.audit(world["org"], world["auditor"])
    other_base = f"/o/{world['org'].slug}/api/audits/{other.id}"
    photo_id = str(uuid.uuid4())
    upload(client, f"{other_base}/photos", oriented_jpeg(1), photo_id, caption="Theirs")
    assert patch_caption(client, f"{world['base']}/photos/{photo_id}", "Mine", 10).status_code == 404
    assert delete(client, f"{world['base']}/photos/{photo_id}").status_code == 404
    assert delete(client, f"{world['base']}/photos/not-a-photo").status_code == 404
    taken = upload(client, f"{world['base']}/photos", oriented_jpeg(1), photo_id)
    assert taken.status_code == 409 and "another audit" in taken.get_json()["error"]
    assert make.get(Photo, photo_id).caption == "Theirs"
    assert make.get(Photo, photo_id).audit_id == other.id


def test_photos_of_a_submitted_audit_stay_as_they_are(app, client, login, make, world):
    login(world["auditor"])
    photo_id = str(uuid.uuid4())
    upload(client, f"{world['base']}/photos", oriented_jpeg(1), photo_id, caption="Queue")
    put(client, f"{world['base']}/answers/answer-time", {"value": 45, "client_ts": 1})
    put(client, f"{world['base']}/answers/resolved", {"value": "yes", "note": "Sorted", "client_ts": 2})
    assert client.post(f"{world['base']}/submit", headers={"Idempotency-Key": uuid.uuid4().hex}).status_code == 200
    assert patch_caption(client, f"{world['base']}/photos/{photo_id}", "Changed", 10).status_code == 409
    deleted = delete(client, f"{world['base']}/photos/{photo_id}")
    assert deleted.status_code == 409 and "evidence" in deleted.get_json()["error"]
    assert upload(client, f"{world['base']}/photos", oriented_jpeg(2)).status_code == 409
    assert make.get(Photo, photo_id).caption == "Queue"
    assert len(media_files(app, world)) == 3


class Writes:
    """One write of each kind, through the API: `first` makes it, `other` sends a different change."""

    def __init__(self, client, world, make):
        self.client, self.world, self.make = client, world, make
        self.base = world["base"]
        self.photo_id = str(uuid.uuid4())
        self.other_photo_id = str(uuid.uuid4())

    def send(self, kind, key, variant):
        base, client = self.base, self.client
        if kind == "answer":
            item = "tone" if variant == "target" else "transfers"
            return put(client, f"{base}/answers/{item}", {"value": 2 if variant == "body" else 1, "client_ts": 5}, key)
        if kind == "visit":
            return put(client, f"{base}/touchpoints/billing-line", {"effort": 6 if variant else 3, "client_ts": 5}, key)
        if kind == "photo":
            photo_id = self.other_photo_id if variant == "target" else self.photo_id
            caption = "Other words" if variant == "field" else "Queue"
            data = oriented_jpeg(2 if variant == "body" else 1)
            return upload(client, f"{base}/photos", data, photo_id, key=key, caption=caption)
        if kind == "caption":
            photo_id = self.other_photo_id if variant == "target" else self.photo_id
            return patch_caption(client, f"{base}/photos/{photo_id}", "Second" if variant else "First", 7, key)
        if kind == "delete":
            return delete(client, f"{base}/photos/{self.other_photo_id if variant else self.photo_id}", key)
        assert kind == "submit"
        return client.post(f"{base}/submit", headers={"Idempotency-Key": key})

    def prepare(self, kind):
        """What must exist before the first write of this kind."""
        if kind in ("caption", "delete"):
            for photo_id in (self.photo_id, self.other_photo_id):
                assert upload(self.client, f"{self.base}/photos", oriented_jpeg(1), photo_id).status_code == 201
        if kind == "submit":
            put(self.client, f"{self.base}/answers/answer-time", {"value": 45, "client_ts": 1})
            put(self.client, f"{self.base}/answers/resolved", {"value": "yes", "note": "Sorted", "client_ts": 2})

    def saved(self):
        """Everything the writes could have changed."""
        audit_id = self.world["audit"].id
        with self.make.app.app_context():
            audit = db.session.get(Audit, audit_id)
            return {
                "status": audit.status,
                "revision": audit.revision,
                "answers": sorted((a.item_key, json.dumps(a.value), a.client_ts) for a in audit.answers),
                "visits": sorted((v.touchpoint_key, v.effort) for v in audit.visits),
                "photos": sorted((p.id, p.caption, p.sha256) for p in audit.photos),
                "ops": db.session.query(SyncOp).filter_by(audit_id=audit_id).count(),
            }


KEY_REUSES = [
    ("answer", "body"),
    ("answer", "target"),
    ("visit", "body"),
    ("photo", "body"),
    ("photo", "field"),
    ("photo", "target"),
    ("caption", "body"),
    ("caption", "target"),
    ("delete", "target"),
]


@pytest.mark.parametrize(("kind", "variant"), KEY_REUSES)
def test_a_key_reused_for_a_different_change_is_refused_and_changes_nothing(
    app, client, login, make, world, kind, variant
):
    login(world["auditor"])
    writes = Writes(client, world, make)
    writes.prepare(kind)
    key = uuid.uuid4().hex
    first = writes.send(kind, key, None)
    assert first.status_code in (200, 201, 204), first.get_json()
    before, files = writes.saved(), media_files(app, world)
    reused = writes.send(kind, key, variant)
    assert reused.status_code == 422
    assert "already used for a different change" in reused.get_json()["error"]
    assert writes.saved() == before
    assert media_files(app, world) == files
    again = writes.send(kind, key, None)  # the first change itself may still be resent
    assert (again.status_code, again.data) == (first.status_code, first.data)


def test_a_key_first_used_for_an_answer_cannot_submit(client, login, make, world):
    login(world["auditor"])
    writes = Writes(client, world, make)
    writes.prepare("submit")
    key = uuid.uuid4().hex
    assert put(client, f"{world['base']}/answers/transfers", {"value": 1, "client_ts": 5}, key).status_code == 200
    before = writes.saved()
    refused = client.post(f"{world['base']}/submit", headers={"Idempotency-Key": key})
    assert refused.status_code == 422 and "already used" in refused.get_json()["error"]
    assert writes.saved() == before and before["status"] == "in_progress"


@pytest.mark.parametrize("kind", ["answer", "visit", "photo", "caption", "delete", "submit"])
def test_the_same_key_and_body_replays_the_first_response(app, client, login, make, world, kind):
    login(world["auditor"])
    writes = Writes(client, world, make)
    writes.prepare(kind)
    key = uuid.uuid4().hex
    first = writes.send(kind, key, None)
    assert first.status_code in (200, 201, 204), first.get_json()
    before, files = writes.saved(), media_files(app, world)
    replay = writes.send(kind, key, None)
    assert (replay.status_code, replay.data) == (first.status_code, first.data)
    assert writes.saved() == before
    assert media_files(app, world) == files


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
