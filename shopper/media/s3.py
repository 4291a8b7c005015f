"""Media in an S3-compatible bucket (AWS S3, MinIO, Ceph's RADOS Gateway, Garage, ...), for several app servers.

An object appears whole or not at all (a PUT, or a multipart upload, is committed by its last request), so no
temp name is needed: a failed write leaves nothing behind. A rename is a server-side copy, then a delete of the
source. Credentials come from boto3's usual places (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ~/.aws, an
instance role), never from Shopper's configuration.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from shopper.media.storage import Storage, StoredFile, validate_key, validate_prefix

_MISSING = {"404", "NoSuchKey", "NotFound"}


@contextmanager
def _not_found(key: str) -> Iterator[None]:
    """S3's answer for a missing object (404, NoSuchKey) as the FileNotFoundError every backend raises."""
    try:
        yield
    except ClientError as e:
        if str(e.response.get("Error", {}).get("Code")) in _MISSING:
            raise FileNotFoundError(key) from None
        raise


class S3Storage(Storage):
    """Objects in ``bucket``, keyed by the storage key itself. The client is thread-safe: one per app is enough."""

    def __init__(self, bucket: str, endpoint_url: str | None = None, region: str | None = None) -> None:
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or None,
            config=Config(signature_version="s3v4", retries={"mode": "standard", "max_attempts": 3}),
        )

    def save(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=validate_key(key), Body=data)

    def save_stream(self, key: str, stream: BinaryIO) -> None:
        self.client.upload_fileobj(stream, self.bucket, validate_key(key))

    def rename(self, source: str, target: str) -> None:
        with _not_found(source):
            self.client.copy_object(
                Bucket=self.bucket,
                Key=validate_key(target),
                CopySource={"Bucket": self.bucket, "Key": validate_key(source)},
            )
        self.delete(source)

    def open(self, key: str) -> BinaryIO:
        with _not_found(key):
            return self.client.get_object(Bucket=self.bucket, Key=validate_key(key))["Body"]

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except FileNotFoundError:
            return False
        return True

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=validate_key(key))

    def size(self, key: str) -> int:
        with _not_found(key):
            return self.client.head_object(Bucket=self.bucket, Key=validate_key(key))["ContentLength"]

    def list(self, prefix: str = "") -> Iterator[StoredFile]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=validate_prefix(prefix)
        )
        for page in pages:
            for item in page.get("Contents", []):
                yield StoredFile(item["Key"], item["Size"], item["LastModified"].timestamp())

    def discard(self, key: str) -> bool:
        self.client.delete_object(Bucket=self.bucket, Key=key)  # S3 answers the same whether it was there or not
        return True

    def fetchable(self, key: str) -> bytes:
        return self.read(key)

    def describe(self) -> str:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"S3 bucket {self.bucket}{where}"
