"""Where uploaded files and generated documents live: local disk or S3-compatible storage.

The rest of the application only sees the :class:`Storage` interface and opaque keys:

* ``new_key(prefix)`` makes a random key (``attachments/2026/11/<uuid4 hex>``), never
  derived from what the user typed; the cleaned original name lives in the database.
* ``put(key, data)`` stores bytes or a binary stream; ``open(key)`` gives a binary stream
  to read (close it, or use it in ``with``); ``read(key)`` the whole content;
  ``iter_chunks(key)`` a streaming iterator for downloads; ``delete(key)`` (no error when
  the key is absent) and ``exists(key)``. A missing key raises :class:`StoredFileNotFound`
  (a ``FileNotFoundError``); a malformed key raises :class:`InvalidKey` (a ``ValueError``).
* ``get_storage()`` returns the configured backend of the current Flask app (cached in
  ``app.extensions``): ``STORAGE_BACKEND=local`` (default, files under ``STORAGE_PATH``,
  outside ``static/``) or ``STORAGE_BACKEND=s3`` (``S3_BUCKET``, ``S3_ENDPOINT_URL``,
  ``S3_REGION``, ``S3_ACCESS_KEY_ID``, ``S3_SECRET_ACCESS_KEY``).

Keys are checked by both backends with the same rule (:func:`check_key`), so a key that
works on the laptop works in production, and no key can leave the local root.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from grants.core.db import utcnow

#: chunk size of streaming reads and copies
CHUNK_SIZE = 64 * 1024
#: the database columns holding keys are VARCHAR(200)
MAX_KEY_LENGTH = 200
_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*"
_KEY_RE = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")
_EXTENSION_KEY = "grants_storage"


class InvalidKey(ValueError):
    """A key that is not of the form ``segment/segment/...`` of safe characters."""


class StoredFileNotFound(FileNotFoundError):
    """No object under this key."""


def check_key(key: str) -> str:
    """``key`` if it is safe on every backend: ASCII segments separated by ``/``, each
    starting with a letter or digit (so no ``..``, no absolute path, no hidden file)."""
    if not isinstance(key, str) or len(key) > MAX_KEY_LENGTH or not _KEY_RE.fullmatch(key):
        raise InvalidKey(f"invalid storage key: {key!r}")
    return key


def new_key(prefix: str) -> str:
    """A fresh random key under ``prefix``: ``<prefix>/<yyyy>/<mm>/<uuid4 hex>``.

    The year and month only spread the files over folders; nothing in the key comes from
    the user, so it can be neither guessed nor used to reach another file.
    """
    check_key(prefix)
    now = utcnow()
    return check_key(f"{prefix}/{now:%Y}/{now:%m}/{uuid.uuid4().hex}")


class Storage(ABC):
    """Binary objects under opaque keys."""

    @abstractmethod
    def put(self, key: str, data: bytes | BinaryIO) -> None:
        """Store ``data`` (bytes or a binary stream read to its end) under ``key``,
        replacing any previous object; readers never see a partial object."""

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A binary stream of the object; the caller closes it."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; a missing key is not an error (deleting twice is safe)."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    def read(self, key: str) -> bytes:
        with self.open(key) as fh:
            return fh.read()

    def iter_chunks(self, key: str, chunk_size: int = CHUNK_SIZE) -> ChunkIterator:
        """Stream the object; opened at once so that a missing key fails before the
        response starts, closed when exhausted or when ``close()`` is called (WSGI servers
        close a response's iterable, even one never iterated)."""
        return ChunkIterator(self.open(key), chunk_size)


class ChunkIterator:
    """The chunks of an open stream; closes it at the end or on ``close()``."""

    def __init__(self, stream: BinaryIO, chunk_size: int = CHUNK_SIZE):
        self._stream = stream
        self._chunk_size = chunk_size
        self._done = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._done:
            raise StopIteration
        chunk = self._stream.read(self._chunk_size)
        if not chunk:
            self.close()
            raise StopIteration
        return chunk

    def close(self) -> None:
        if not self._done:
            self._done = True
            self._stream.close()


class LocalStorage(Storage):
    """Files under ``root`` (``STORAGE_PATH``, by default ``instance/uploads``)."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root).resolve()

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def path(self, key: str) -> Path:
        """The file of ``key``; refuses anything that would resolve outside the root."""
        check_key(key)
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise InvalidKey(f"storage key escapes the storage root: {key!r}")
        return path

    def put(self, key: str, data: bytes | BinaryIO) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        # Write a temporary file in the same folder, then rename it over the target: the
        # rename is atomic, so a reader sees the old object or the new one, never half.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                if isinstance(data, bytes | bytearray | memoryview):
                    fh.write(data)
                else:
                    shutil.copyfileobj(data, fh, CHUNK_SIZE)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o640)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise

    def open(self, key: str) -> BinaryIO:
        try:
            return self.path(key).open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise StoredFileNotFound(key) from exc

    def delete(self, key: str) -> None:
        try:
            self.path(key).unlink()
        except FileNotFoundError:
            pass

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()


class S3Storage(Storage):
    """Objects in an S3-compatible bucket (AWS, MinIO, Garage, OVH, Scaleway…).

    ``credentials`` is ``(access_key_id, secret_access_key)``, or ``None`` to let boto3
    find them (environment, instance role). With an ``endpoint_url`` (anything but AWS)
    path-style addressing is used, which every S3-compatible server understands.
    """

    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        credentials: tuple[str, str] | None = None,
    ):
        import boto3
        from botocore.config import Config

        if not bucket:
            raise ValueError("S3Storage needs a bucket (S3_BUCKET)")
        self.bucket = bucket
        self.endpoint_url = endpoint_url or None
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if self.endpoint_url else "auto"},
            retries={"max_attempts": 5, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
        )
        access_key, secret_key = credentials if credentials else (None, None)
        self.client = boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=region or None,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=config,
        )

    def __repr__(self) -> str:
        return f"S3Storage(bucket={self.bucket!r}, endpoint_url={self.endpoint_url!r})"

    @staticmethod
    def _missing(exc: Exception) -> bool:
        error = getattr(exc, "response", {}).get("Error", {})
        return str(error.get("Code")) in {"404", "NoSuchKey", "NotFound"}

    def put(self, key: str, data: bytes | BinaryIO) -> None:
        check_key(key)
        if isinstance(data, bytes | bytearray | memoryview):
            # One PUT: S3 makes the object visible only once it is complete.
            self.client.put_object(Bucket=self.bucket, Key=key, Body=bytes(data))
        else:
            # Multipart for large streams; completed atomically as well.
            self.client.upload_fileobj(data, self.bucket, key)

    def open(self, key: str) -> BinaryIO:
        from botocore.exceptions import ClientError

        check_key(key)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if self._missing(exc):
                raise StoredFileNotFound(key) from exc
            raise
        return response["Body"]

    def delete(self, key: str) -> None:
        check_key(key)
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        check_key(key)
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if self._missing(exc):
                return False
            raise
        return True


def storage_from_config(config) -> Storage:
    """Build the backend named by ``STORAGE_BACKEND`` from a Flask config mapping."""
    backend = (config.get("STORAGE_BACKEND") or "local").strip().lower()
    if backend == "local":
        return LocalStorage(config["STORAGE_PATH"])
    if backend == "s3":
        access_key = config.get("S3_ACCESS_KEY_ID")
        secret_key = config.get("S3_SECRET_ACCESS_KEY")
        return S3Storage(
            config.get("S3_BUCKET") or "",
            endpoint_url=config.get("S3_ENDPOINT_URL"),
            region=config.get("S3_REGION"),
            credentials=(access_key, secret_key) if access_key and secret_key else None,
        )
    raise ValueError(f"unknown STORAGE_BACKEND {backend!r} (expected 'local' or 's3')")


def get_storage(app=None) -> Storage:
    """The storage of ``app`` (default: the current app), built once and cached."""
    if app is None:
        from flask import current_app

        app = current_app._get_current_object()
    storage = app.extensions.get(_EXTENSION_KEY)
    if storage is None:
        storage = app.extensions[_EXTENSION_KEY] = storage_from_config(app.config)
    return storage
