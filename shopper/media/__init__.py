"""Media: photos of evidence, after photos, logos, cached PDFs and ZIPs, behind one storage seam.

``get_storage()`` is the only way to the files: a folder (``MEDIA_STORAGE = "local"``, the default, at
``MEDIA_ROOT``) or an S3-compatible bucket (``"s3"``: ``S3_BUCKET``, ``S3_ENDPOINT_URL``, ``S3_REGION``).
``store()`` writes a set of files all or nothing, and ``serve()`` answers with a private JPEG. Key formats are in
``keys.py``, the image pipeline in ``ingest.py``.
"""

from __future__ import annotations

from io import BytesIO

from flask import Flask, Response, abort, current_app, send_file

from shopper.media.storage import LocalStorage, Storage, remove, store

__all__ = ["check_config", "get_storage", "remove", "serve", "store"]

BACKENDS = ("local", "s3")
_S3_CLIENTS = "shopper.media.s3"


def check_config(app: Flask) -> None:
    """Refuse a storage setting that cannot work, when the app starts rather than at the first upload."""
    kind = app.config["MEDIA_STORAGE"]
    if kind not in BACKENDS:
        raise ValueError(f"MEDIA_STORAGE must be one of {', '.join(BACKENDS)}, not {kind!r}")
    if kind == "s3" and not app.config.get("S3_BUCKET"):
        raise ValueError('MEDIA_STORAGE = "s3" needs S3_BUCKET, the name of the bucket to keep media in')


def get_storage() -> Storage:
    """The app's media storage, as configured. An S3 client is made once per app and settings, then shared."""
    config = current_app.config
    if config["MEDIA_STORAGE"] != "s3":
        return LocalStorage(config["MEDIA_ROOT"])
    from shopper.media.s3 import S3Storage  # boto3 is imported only where S3 is used

    settings = (config["S3_BUCKET"], config.get("S3_ENDPOINT_URL"), config.get("S3_REGION"))
    made = current_app.extensions.get(_S3_CLIENTS)
    if made is None or made[0] != settings:
        made = current_app.extensions[_S3_CLIENTS] = (settings, S3Storage(*settings))
    return made[1]


def serve(key: str, etag: str) -> Response:
    """A stored JPEG for the person allowed to see it: cached an hour by that browser only, never by a proxy.
    404 when the file is gone."""
    try:
        data = get_storage().read(key)  # a few hundred KB at most: simpler than streaming, and any backend can
    except (FileNotFoundError, ValueError):
        abort(404)
    response = send_file(BytesIO(data), mimetype="image/jpeg", max_age=3600, etag=etag)
    response.cache_control.private = True
    response.cache_control.public = False
    return response
