"""The S3-compatible artifact backend (AWS S3, MinIO, moto's server): boto3, selected by URL.

``s3://BUCKET/PREFIX?endpoint_url=http://127.0.0.1:9000`` (``core.store.artifacts.open_store``).
Keys are ``PREFIX/ab/cd/<sha256>``: the bucket and prefix are server configuration and the rest is
the content hash, so nothing a client sends reaches a key. Credentials come from boto3's own chain
(``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, a profile, an instance role), never from the
URL: a query parameter that is not one of ``URL_OPTIONS`` is refused.

Uploads stream into a spool file under the data directory while they are hashed and counted (and
stop at the limit), then go up in one PUT, or in parts past ``MULTIPART_THRESHOLD``; bytes already
stored under that hash are not sent again. Parsers that need a local file (npz, safetensors) read
the spool (``put_spooled``).
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qsl, urlsplit

from core.errors import InvalidInput, NotFound, ReassemblyError, StorageFull, Unavailable
from core.store.artifacts import StoredBlob, spooled

CHUNK = 1024 * 1024
MULTIPART_THRESHOLD = 16 * 1024 * 1024
MULTIPART_CHUNK = 16 * 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX = re.compile(r"^[A-Za-z0-9._/-]{0,512}$")
# Non-secret client settings a URL may carry; anything else (keys, tokens) is refused.
URL_OPTIONS = {"endpoint_url", "region", "addressing_style"}
_MISSING = {"404", "NoSuchKey", "NotFound"}
# What MinIO answers when its disks are full (AWS has no such state): StorageFull, as a full local disk.
_FULL = {"XMinioStorageFull", "XMinioDiskFull"}


def parse_s3_url(url: str) -> tuple[str, str, dict[str, str]]:
    """(bucket, prefix, options) of ``s3://bucket/prefix?option=value``; InvalidInput when malformed."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise InvalidInput(f"artifact URL {url!r} is not s3://BUCKET[/PREFIX][?endpoint_url=...]")
    if "@" in parts.netloc:
        raise InvalidInput(
            "the artifact URL must not carry credentials: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or a profile or role) instead"
        )
    bucket = parts.netloc
    if not _BUCKET.match(bucket):
        raise InvalidInput(f"{bucket!r} is not a valid S3 bucket name")
    prefix = parts.path.strip("/")
    if not _PREFIX.match(prefix) or any(p in ("", ".", "..") for p in prefix.split("/") if prefix):
        raise InvalidInput(f"{prefix!r} is not a usable key prefix (letters, digits, . _ - and /)")
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(options) - URL_OPTIONS)
    if unknown:
        raise InvalidInput(
            f"artifact URL options {unknown} are not allowed; only {sorted(URL_OPTIONS)}. "
            "Credentials come from the AWS_* environment variables or boto3's configuration."
        )
    return bucket, prefix, options


class S3ArtifactStore:
    """Blobs in an S3 bucket under ``prefix``; same contract as ``LocalArtifactStore``."""

    def __init__(
        self,
        bucket: str,
        prefix: str,
        *,
        spool_dir: Path,
        endpoint_url: str | None = None,
        region: str | None = None,
        addressing_style: str | None = None,
        presign_seconds: int | None = None,
    ):
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.spool_dir = Path(spool_dir)  # created on the first upload, not here
        self.presign_seconds = presign_seconds
        style = addressing_style or ("path" if endpoint_url else "auto")
        config = Config(
            s3={"addressing_style": style},
            retries={"max_attempts": 4, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
            max_pool_connections=32,
        )
        # A session of its own: boto3's default session is not thread-safe; a client is.
        self.client: Any = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url or None, region_name=region or None, config=config
        )

    @classmethod
    def from_url(cls, url: str, *, spool_dir: Path, presign_seconds: int | None = None) -> S3ArtifactStore:
        bucket, prefix, options = parse_s3_url(url)
        return cls(
            bucket,
            prefix,
            spool_dir=spool_dir,
            endpoint_url=options.get("endpoint_url"),
            region=options.get("region"),
            addressing_style=options.get("addressing_style"),
            presign_seconds=presign_seconds,
        )

    def __repr__(self) -> str:
        return f"S3ArtifactStore(bucket={self.bucket!r}, prefix={self.prefix!r})"

    # -- keys and errors --------------------------------------------------------------------------

    def key_for(self, sha256: str) -> str:
        if not _SHA256.match(sha256):
            raise NotFound(f"no artifact with sha256 {sha256!r}")
        tail = f"{sha256[:2]}/{sha256[2:4]}/{sha256}"
        return f"{self.prefix}/{tail}" if self.prefix else tail

    def _fail(self, exc: Exception, sha256: str) -> Exception:
        """A ReassemblyError for a boto3 failure: NotFound for a missing key, Unavailable otherwise."""
        from botocore.exceptions import ClientError

        if isinstance(exc, ReassemblyError):  # ours, e.g. NotFound for a malformed sha256
            return exc
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _MISSING:
                return NotFound(f"no artifact with sha256 {sha256!r}")
            if code in _FULL:
                return StorageFull(
                    "the server's artifact storage (S3) is full, so nothing was stored; try again later, "
                    "or ask the operator to free space (reassembly gc) or enlarge the store",
                    details={"s3_error": code},
                )
            return Unavailable(f"the artifact store refused the request ({code or 'error'}); try again")
        return Unavailable(f"the artifact store cannot be reached ({type(exc).__name__}); try again")

    # -- writing ----------------------------------------------------------------------------------

    def _spool(
        self, stream: BinaryIO, max_bytes: int | None
    ) -> AbstractContextManager[tuple[str, int, Path]]:
        """The upload in a spool file under the data dir (hashed and size-limited), removed afterwards."""
        return spooled(stream, self.spool_dir, max_bytes)

    def _upload_file(self, sha256: str, path: Path, size: int) -> None:
        if self.exists(sha256):
            return  # content-addressed: the same bytes are already there
        from boto3.s3.transfer import TransferConfig

        config = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_CHUNK)
        try:
            if size < MULTIPART_THRESHOLD:
                with open(path, "rb") as f:
                    self.client.put_object(Bucket=self.bucket, Key=self.key_for(sha256), Body=f)
            else:
                self.client.upload_file(str(path), self.bucket, self.key_for(sha256), Config=config)
        except Exception as exc:
            raise self._fail(exc, sha256) from exc

    def put_stream(self, stream: BinaryIO, *, max_bytes: int | None = None) -> tuple[str, int]:
        """Copy ``stream`` into the store; returns (sha256, size)."""
        with self.put_spooled(stream, max_bytes=max_bytes) as (sha, size, _):
            return sha, size

    @contextmanager
    def put_spooled(
        self, stream: BinaryIO, *, max_bytes: int | None = None
    ) -> Iterator[tuple[str, int, Path]]:
        """Store ``stream`` and yield (sha256, size, a local file with the bytes) for parsers that need
        a path; the spool file is removed when the block ends."""
        with self._spool(stream, max_bytes) as (sha, size, path):
            self._upload_file(sha, path, size)
            yield sha, size, path

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        sha = hashlib.sha256(data).hexdigest()
        if len(data) >= MULTIPART_THRESHOLD:
            return self.put_stream(io.BytesIO(data))
        if not self.exists(sha):
            try:
                self.client.put_object(Bucket=self.bucket, Key=self.key_for(sha), Body=data)
            except Exception as exc:
                raise self._fail(exc, sha) from exc
        return sha, len(data)

    # -- reading ----------------------------------------------------------------------------------

    def read_bytes(self, sha256: str) -> bytes:
        key = self.key_for(sha256)
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            try:
                return bytes(body.read())
            finally:
                body.close()
        except Exception as exc:
            raise self._fail(exc, sha256) from exc

    def iter_range(self, sha256: str, start: int, end: int) -> Iterator[bytes]:
        """Yield bytes start..end inclusive, streamed from one ranged GET."""
        key = self.key_for(sha256)
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end}")["Body"]
        except Exception as exc:
            raise self._fail(exc, sha256) from exc
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def exists(self, sha256: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key_for(sha256))
            return True
        except Exception as exc:
            err = self._fail(exc, sha256)
            if isinstance(err, NotFound):
                return False
            raise err from exc

    def size(self, sha256: str) -> int:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.key_for(sha256))
        except Exception as exc:
            raise self._fail(exc, sha256) from exc
        return int(head["ContentLength"])

    def delete(self, sha256: str) -> None:
        """Remove a blob; removing one that is not there is not an error (S3 says the same)."""
        key = self.key_for(sha256)  # NotFound for a malformed sha256, as the local store
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            err = self._fail(exc, sha256)
            if not isinstance(err, NotFound):
                raise err from exc

    def iter_shas(self) -> Iterator[str]:
        """Every stored blob's sha256 (for garbage collection); other keys under the prefix are skipped."""
        return (blob.sha256 for blob in self.iter_blobs())

    def iter_blobs(self) -> Iterator[StoredBlob]:
        """Every stored blob with its size and LastModified, from a paginated listing of the prefix."""
        paginator = self.client.get_paginator("list_objects_v2")
        start = f"{self.prefix}/" if self.prefix else ""
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=start):
                for obj in page.get("Contents", []):
                    sha = obj["Key"].rsplit("/", 1)[-1]
                    if _SHA256.match(sha) and obj["Key"] == self.key_for(sha):
                        yield StoredBlob(sha, int(obj["Size"]), obj["LastModified"].timestamp())
        except Exception as exc:
            raise self._fail(exc, "") from exc

    def download_url(self, sha256: str, *, filename: str, media_type: str) -> str | None:
        """A presigned GET URL when redirects are configured (``presign_seconds``), else None."""
        if not self.presign_seconds:
            return None
        params = {
            "Bucket": self.bucket,
            "Key": self.key_for(sha256),
            "ResponseContentDisposition": f'attachment; filename="{filename}"',
            "ResponseContentType": media_type,
        }
        return str(
            self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=self.presign_seconds)
        )
