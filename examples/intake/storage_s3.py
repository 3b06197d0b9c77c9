"""The S3 store: a multipart upload while the body streams in, then a copy to its address.

The upload goes to `<prefix>incoming/<random>` one part at a time (`part_size` bytes held at
most), and on commit is copied server-side to `<prefix>objects/<sha256>` unless that object
exists, then the temporary object is removed. boto3 is synchronous: each call runs in a thread.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from examples.intake.config import StorageSettings
from examples.intake.storage import READ_CHUNK


class S3Upload:
    def __init__(self, storage: S3Storage, key: str, upload_id: str) -> None:
        self._s3 = storage
        self._key = key
        self._upload_id = upload_id
        self._buffer = bytearray()
        self._parts: list[dict[str, Any]] = []

    async def write(self, chunk: bytes) -> None:
        self._buffer += chunk
        if len(self._buffer) >= self._s3.part_size:
            await self._send_part()

    async def _send_part(self) -> None:
        body = bytes(self._buffer)
        self._buffer.clear()
        number = len(self._parts) + 1
        answer = await asyncio.to_thread(
            self._s3.client.upload_part,
            Bucket=self._s3.bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=body,
        )
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    async def commit(self, sha256: str) -> None:
        if self._buffer or not self._parts:
            await self._send_part()
        await asyncio.to_thread(
            self._s3.client.complete_multipart_upload,
            Bucket=self._s3.bucket,
            Key=self._key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )
        try:
            if not await self._s3.exists(sha256):
                source = {"Bucket": self._s3.bucket, "Key": self._key}
                await asyncio.to_thread(
                    self._s3.client.copy, source, self._s3.bucket, self._s3.key_of(sha256)
                )
        finally:
            await asyncio.to_thread(
                self._s3.client.delete_object, Bucket=self._s3.bucket, Key=self._key
            )

    async def abort(self) -> None:
        self._buffer.clear()
        await asyncio.to_thread(
            self._s3.client.abort_multipart_upload,
            Bucket=self._s3.bucket,
            Key=self._key,
            UploadId=self._upload_id,
        )


class S3Storage:
    def __init__(self, settings: StorageSettings) -> None:
        assert settings.bucket is not None
        self.bucket = settings.bucket
        self.prefix = settings.prefix
        self.part_size = settings.part_size
        self.client = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.endpoint_url,
            region_name=settings.region,
            aws_access_key_id=settings.access_key_id,
            aws_secret_access_key=settings.secret_access_key,
            config=Config(retries={"max_attempts": 3}),
        )

    def key_of(self, sha256: str) -> str:
        return f"{self.prefix}objects/{sha256}"

    async def begin(self) -> S3Upload:
        key = f"{self.prefix}incoming/{secrets.token_hex(16)}"
        started = await asyncio.to_thread(
            self.client.create_multipart_upload, Bucket=self.bucket, Key=key
        )
        return S3Upload(self, key, str(started["UploadId"]))

    async def open(self, sha256: str) -> AsyncIterator[bytes]:
        answer = await asyncio.to_thread(
            self.client.get_object, Bucket=self.bucket, Key=self.key_of(sha256)
        )
        body = answer["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, READ_CHUNK):
                yield chunk
        finally:
            body.close()

    async def delete(self, sha256: str) -> None:
        await asyncio.to_thread(
            self.client.delete_object, Bucket=self.bucket, Key=self.key_of(sha256)
        )

    async def exists(self, sha256: str) -> bool:
        try:
            await asyncio.to_thread(
                self.client.head_object, Bucket=self.bucket, Key=self.key_of(sha256)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True
