"""An S3-compatible server on 127.0.0.1 for the tests, and a bucket of each test's own in it.

The server is moto's (ThreadedMotoServer, the S3 API over real HTTP): no real S3-compatible server can be
installed on this machine class (MinIO, Garage and SeaweedFS ship neither as a Debian package nor through PyPI or
npm; Ceph's RADOS Gateway is packaged but needs a whole Ceph cluster). So the S3 backend is held to the same
contract tests as the local folder, which is real.
"""

from __future__ import annotations

import os
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import boto3
from flask import Flask
from moto.server import ThreadedMotoServer

from shopper.media.s3 import S3Storage

#: what boto3 reads from the environment; moto accepts any credentials
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test-key",
    "AWS_SECRET_ACCESS_KEY": "test-secret",
    "AWS_DEFAULT_REGION": "eu-west-1",
}


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str

    def new_bucket(self) -> str:
        name = f"shopper-test-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", endpoint_url=self.endpoint_url, region_name=CREDENTIALS["AWS_DEFAULT_REGION"]).create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": CREDENTIALS["AWS_DEFAULT_REGION"]}
        )
        return name

    def storage(self) -> S3Storage:
        return S3Storage(self.new_bucket(), endpoint_url=self.endpoint_url, region=CREDENTIALS["AWS_DEFAULT_REGION"])


@contextmanager
def s3_server() -> Iterator[S3Server]:
    """The server, on a free port of 127.0.0.1, with the credentials in the environment while it runs."""
    saved = {name: os.environ.get(name) for name in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield S3Server(f"http://{host}:{port}")
    finally:
        # drop every bucket first: moto keeps big objects in temp files that only a reset closes
        urllib.request.urlopen(urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST")).close()
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def media_in_s3(app: Flask, server: S3Server) -> Iterator[str]:
    """The app keeps its media in a new bucket while the block runs; the bucket's name."""
    bucket = server.new_bucket()
    names = ("MEDIA_STORAGE", "S3_BUCKET", "S3_ENDPOINT_URL", "S3_REGION")
    saved = {name: app.config.get(name) for name in names}
    app.config.update(
        MEDIA_STORAGE="s3",
        S3_BUCKET=bucket,
        S3_ENDPOINT_URL=server.endpoint_url,
        S3_REGION=CREDENTIALS["AWS_DEFAULT_REGION"],
    )
    try:
        yield bucket
    finally:
        app.config.update(saved)
