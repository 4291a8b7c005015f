"""The JSON API the phone uses to autosave and to replay its offline queue. Documented in docs/api.md.

Writes are not protected by the CSRF form token, because the phone replays them later, possibly after signing in
again. They are protected instead by requiring an `Idempotency-Key` header (and JSON bodies): a page on another
site cannot send a custom header to us without a CORS preflight, which we never allow.
"""

from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user

from shopper.audits import service
from shopper.audits.models import Audit
from shopper.audits.state import audit_state
from shopper.checklists import versions
from shopper.database import reads_first
from shopper.events import report_changed
from shopper.extensions import csrf
from shopper.media import get_storage
from shopper.media.ingest import MAX_UPLOAD_BYTES, ImageRejected
from shopper.orgs.access import get_or_404, org_blueprint
from shopper.security import rate_limit
from shopper.timeutil import utcnow

MAX_JSON_BYTES = 64 * 1024

bp = org_blueprint("audits_api", __name__, "/api/audits")
bp.url_value_preprocessor(lambda endpoint, values: reads_first())
csrf.exempt(bp)
rate_limit("RATE_LIMIT_API", per_person=True)(bp)


@bp.errorhandler(service.AuditError)
def _refused(error: service.AuditError):
    response = jsonify(error=str(error), status=error.status, **error.details)
    response.status_code = error.status
    return response


@bp.errorhandler(ImageRejected)
def _image_refused(error: ImageRejected):
    """422 for an image we will not take; 503 with Retry-After when only a decode slot was short (ImageBusy), which
    the phone's outbox retries. ``reason`` is ImageRejected's code, for programs."""
    response = jsonify(error=str(error), status=error.status, reason=error.reason)
    response.status_code = error.status
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def _json_body() -> dict:
    if request.content_length and request.content_length > MAX_JSON_BYTES:
        raise service.AuditError("That change is too large.", 413)
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise service.AuditError("Send a JSON object with Content-Type: application/json.", 400)
    return payload


def _key() -> str:
    return service.check_op_id(request.headers.get("Idempotency-Key"))


def _reply(applied: service.Applied):
    if applied.status == 204:
        return "", 204
    response = jsonify(applied.body)
    response.status_code = applied.status
    return response


@bp.get("/<int:audit_id>")
def state(audit_id: int):
    return jsonify(audit_state(get_or_404(Audit, audit_id)))


#: the audit with its version's key only: the writes read the parsed definition from `versions`' cache
_TO_WRITE = (versions.key_only(Audit.version),)


def _audit_to_write(audit_id: int) -> Audit:
    return get_or_404(Audit, audit_id, options=_TO_WRITE)


@bp.put("/<int:audit_id>/answers/<item_key>")
def put_answer(audit_id: int, item_key: str):
    key = _key()
    audit = _audit_to_write(audit_id)
    return _reply(service.save_answer(audit, current_user.id, key, item_key, _json_body(), utcnow()))


@bp.put("/<int:audit_id>/touchpoints/<touchpoint_key>")
def put_visit(audit_id: int, touchpoint_key: str):
    key = _key()
    audit = _audit_to_write(audit_id)
    return _reply(service.save_visit(audit, current_user.id, key, touchpoint_key, _json_body(), utcnow()))


@bp.post("/<int:audit_id>/photos")
def post_photo(audit_id: int):
    key = _key()
    audit = get_or_404(Audit, audit_id)
    upload = request.files.get("file")
    if upload is None:
        raise service.AuditError("Attach the photo as the multipart field 'file'.", 400)
    data = upload.stream.read(MAX_UPLOAD_BYTES + 1)
    applied = service.add_photo(
        audit,
        current_user.id,
        photo_id=request.form.get("id", ""),
        touchpoint_key=request.form.get("touchpoint_key", ""),
        item_key=request.form.get("item_key") or None,
        caption=request.form.get("caption", ""),
        data=data,
        storage=get_storage(),
        now=utcnow(),
        op_id=key,
    )
    return _reply(applied)


@bp.patch("/<int:audit_id>/photos/<photo_id>")
def patch_photo(audit_id: int, photo_id: str):
    key = _key()
    audit = get_or_404(Audit, audit_id)
    return _reply(service.caption_photo(audit, current_user.id, key, photo_id, _json_body(), utcnow()))


@bp.delete("/<int:audit_id>/photos/<photo_id>")
def delete_photo(audit_id: int, photo_id: str):
    key = _key()
    audit = get_or_404(Audit, audit_id)
    return _reply(service.delete_photo(audit, current_user.id, key, photo_id, get_storage(), utcnow()))


@bp.post("/<int:audit_id>/submit")
def submit(audit_id: int):
    key = _key()
    audit = get_or_404(Audit, audit_id)
    applied = service.submit(audit, current_user.id, key, utcnow())
    report_changed.send(audit_ids=[audit.id])  # the report's PDF is ready by the time anyone asks for it
    return _reply(applied)
