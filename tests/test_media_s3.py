"""The whole photo path with MEDIA_STORAGE = "s3": uploaded through the phone's API, served to a member, printed
in the report's PDF, checked by `media check`; nothing of it touches the media folder."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from PIL import Image

from shopper.checklists.schema import iter_items
from shopper.media.keys import PHOTO_RENDITIONS, photo_key
from shopper.orgs.models import Role
from tests.conftest import download
from tests.factories import SMALL_CHECKLIST
from tests.images import encode, photo
from tests.s3 import CREDENTIALS, S3Server, media_in_s3, s3_server
from tests.test_reports_support import generated_value, read_pdf


@pytest.fixture(scope="module")
def server() -> Iterator[S3Server]:
    with s3_server() as running:
        yield running


def bucket_objects(server: S3Server, bucket: str) -> dict[str, bytes]:
    client = boto3.client("s3", endpoint_url=server.endpoint_url, region_name=CREDENTIALS["AWS_DEFAULT_REGION"])
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read() for item in listed}


def test_a_photo_in_s3_is_uploaded_served_and_printed(app, client, login, make, server) -> None:
    org = make.org()
    auditor = make.member(org, Role.AUDITOR)
    owner = make.member(org, Role.OWNER)
    audit = make.audit(org, auditor)
    api = f"/o/{org.slug}/api/audits/{audit.id}"
    photo_id = str(uuid.uuid4())
    with media_in_s3(app, server) as bucket:
        login(auditor)
        uploaded = client.post(
            f"{api}/photos",
            data={
                "id": photo_id,
                "touchpoint_key": "billing-line",
                "caption": "The queue at the desk",
                "file": (io.BytesIO(encode(photo((1600, 1200)), "JPEG", quality=75)), "p.jpg"),
            },
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert uploaded.status_code == 201, uploaded.get_json()
        stored = bucket_objects(server, bucket)
        assert sorted(stored) == sorted(photo_key(audit, photo_id, name) for name in PHOTO_RENDITIONS)
        assert not Path(app.config["MEDIA_ROOT"]).exists() or not any(Path(app.config["MEDIA_ROOT"]).rglob("*.jpg"))

        served = client.get(f"/o/{org.slug}/audits/{audit.id}/photos/{photo_id}/display.jpg")
        assert served.status_code == 200 and served.mimetype == "image/jpeg"
        assert served.data == stored[photo_key(audit, photo_id, "display")]
        assert "private" in served.headers["Cache-Control"]

        for index, (_, item) in enumerate(iter_items(SMALL_CHECKLIST)):
            value = generated_value(item, index)
            if value is None:
                continue
            body = {"value": value, "note": f"What happened at {item['key']}.", "client_ts": index + 1}
            answered = client.put(
                f"{api}/answers/{item['key']}",
                data=json.dumps(body),
                content_type="application/json",
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            assert answered.status_code == 200, answered.get_json()
        submitted = client.post(f"{api}/submit", headers={"Idempotency-Key": uuid.uuid4().hex})
        assert submitted.status_code == 200, submitted.get_json()

        login(owner)
        status, headers, data = download(client, f"/o/{org.slug}/audits/{audit.id}/report.pdf")
        assert status == 200 and headers["Content-Type"] == "application/pdf"
        printed = Image.open(io.BytesIO(stored[photo_key(audit, photo_id, "print")]))
        embedded = [image.image.size for page in read_pdf(data).pages for image in page.images]
        assert printed.size in embedded  # the print copy, read from the bucket, is in the PDF
        pdfs = [key for key in bucket_objects(server, bucket) if key.endswith(".pdf")]
        assert len(pdfs) == 1 and pdfs[0].startswith(f"{org.id}/{audit.id}/report-")

        check = app.test_cli_runner().invoke(args=["media", "check"])
        assert check.exit_code == 0, check.output
        assert f"S3 bucket {bucket} at {server.endpoint_url}: 4 files." in check.output
