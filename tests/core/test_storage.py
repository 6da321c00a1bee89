"""The storage interface: local disk and a real S3 server (moto's server mode), same contract."""

from __future__ import annotations

import io
import os
import re
import uuid
from pathlib import Path

import pytest

from grants.core.storage import (
    InvalidKey,
    LocalStorage,
    S3Storage,
    StoredFileNotFound,
    get_storage,
    new_key,
    storage_from_config,
)
from tests.fixtures.services import free_port

CREDENTIALS = ("test-access-key", "test-secret-key")
REGION = "eu-west-3"


@pytest.fixture(scope="module")
def s3_server():
    """A real S3 endpoint on 127.0.0.1 (moto's threaded server)."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server):
    """A fresh bucket for each test, created through the S3 API."""
    bucket = f"grants-test-{uuid.uuid4().hex[:16]}"
    storage = S3Storage(bucket, endpoint_url=s3_server, region=REGION, credentials=CREDENTIALS)
    storage.client.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    return bucket


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "uploads")
    bucket = request.getfixturevalue("s3_bucket")
    endpoint = request.getfixturevalue("s3_server")
    return S3Storage(bucket, endpoint_url=endpoint, region=REGION, credentials=CREDENTIALS)


# --- the contract, on both backends ------------------------------------------------------


def test_put_then_read_gives_the_same_bytes(storage):
    key = new_key("attachments")
    data = b"%PDF-1.4 \x00\xff contenu binaire"
    assert not storage.exists(key)
    storage.put(key, data)
    assert storage.exists(key)
    assert storage.read(key) == data
    with storage.open(key) as fh:
        assert fh.read() == data


def test_a_stream_is_stored_and_streamed_back_in_chunks(storage):
    key = new_key("attachments")
    data = os.urandom(300 * 1024)
    storage.put(key, io.BytesIO(data))
    chunks = list(storage.iter_chunks(key, chunk_size=64 * 1024))
    assert len(chunks) >= 2
    assert b"".join(chunks) == data


def test_a_large_stream_goes_through_multipart_on_s3_and_whole_on_disk(storage):
    key = new_key("attachments")
    data = os.urandom(9 * 1024 * 1024)  # above boto3's 8 MB multipart threshold
    storage.put(key, io.BytesIO(data))
    assert storage.read(key) == data


def test_put_replaces_the_previous_object(storage):
    key = new_key("receipts")
    storage.put(key, b"first")
    storage.put(key, b"second")
    assert storage.read(key) == b"second"


def test_a_missing_key_raises_file_not_found(storage):
    key = new_key("attachments")
    with pytest.raises(StoredFileNotFound):
        storage.open(key)
    with pytest.raises(FileNotFoundError):
        storage.read(key)
    # before the first chunk, so that a download route can answer 404
    with pytest.raises(StoredFileNotFound):
        storage.iter_chunks(key)


def test_delete_removes_and_is_safe_twice(storage):
    key = new_key("attachments")
    storage.put(key, b"x")
    storage.delete(key)
    assert not storage.exists(key)
    storage.delete(key)  # a redelivered task deleting again is not an error
    with pytest.raises(StoredFileNotFound):
        storage.read(key)


BAD_KEYS = [
    "",
    "../outside",
    "attachments/../../etc/passwd",
    "/etc/passwd",
    "attachments//x",
    ".hidden",
    "attachments/.hidden",
    "attachments/x/",
    "attachments\\x",
    "attachments/a b",
    "attachments/é",
    "attachments/x\x00",
    "a/" + "x" * 200,
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_malformed_keys_are_refused_by_every_operation(storage, key):
    for operation in (
        lambda: storage.put(key, b"x"),
        lambda: storage.open(key),
        lambda: storage.exists(key),
        lambda: storage.delete(key),
    ):
        with pytest.raises(InvalidKey):
            operation()


# --- keys --------------------------------------------------------------------------------


def test_new_keys_are_random_and_carry_no_user_input():
    keys = {new_key("attachments") for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert re.fullmatch(r"attachments/\d{4}/\d{2}/[0-9a-f]{32}", key)


@pytest.mark.parametrize("prefix", ["", "../x", "a b", "/abs"])
def test_new_key_refuses_a_bad_prefix(prefix):
    with pytest.raises(InvalidKey):
        new_key(prefix)


# --- local disk specifics ----------------------------------------------------------------


def test_local_files_live_under_the_root_and_no_temporary_file_is_left(tmp_path):
    storage = LocalStorage(tmp_path / "uploads")
    key = new_key("attachments")
    storage.put(key, b"hello")
    files = [p for p in (tmp_path / "uploads").rglob("*") if p.is_file()]
    assert files == [tmp_path / "uploads" / key]


class _BrokenStream(io.RawIOBase):
    """Gives some bytes, then fails: an upload cut in the middle."""

    def __init__(self):
        self.sent = False

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.sent:
            raise OSError("connection reset")
        self.sent = True
        buffer[:4] = b"part"
        return 4


def test_a_failed_write_leaves_neither_a_partial_file_nor_a_temporary_one(tmp_path):
    storage = LocalStorage(tmp_path / "uploads")
    key = new_key("attachments")
    storage.put(key, b"old content")
    with pytest.raises(OSError, match="connection reset"):
        storage.put(key, _BrokenStream())
    assert storage.read(key) == b"old content"
    files = [p for p in (tmp_path / "uploads").rglob("*") if p.is_file()]
    assert files == [tmp_path / "uploads" / key]


def test_a_symlink_leading_out_of_the_root_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    root = tmp_path / "uploads"
    root.mkdir()
    (root / "attachments").symlink_to(outside)
    storage = LocalStorage(root)
    with pytest.raises(InvalidKey):
        storage.read("attachments/secret")
    with pytest.raises(InvalidKey):
        storage.put("attachments/new", b"x")
    assert not (outside / "new").exists()


# --- configuration -----------------------------------------------------------------------


def test_the_default_storage_is_local_under_the_instance_folder_outside_static(app):
    with app.app_context():
        storage = get_storage()
        assert get_storage() is storage  # built once per app
    assert isinstance(storage, LocalStorage)
    assert storage.root == Path(app.config["INSTANCE_PATH"]).resolve() / "uploads"
    static = Path(app.static_folder).resolve()
    assert not storage.root.is_relative_to(static)


def test_s3_by_configuration(s3_server, s3_bucket):
    from flask import Flask

    other = Flask("storage-config-test")
    other.config.update(
        STORAGE_BACKEND="s3",
        S3_BUCKET=s3_bucket,
        S3_ENDPOINT_URL=s3_server,
        S3_REGION=REGION,
        S3_ACCESS_KEY_ID=CREDENTIALS[0],
        S3_SECRET_ACCESS_KEY=CREDENTIALS[1],
    )
    with other.app_context():
        storage = get_storage()
        key = new_key("attachments")
        storage.put(key, b"dans le seau")
    assert isinstance(storage, S3Storage)
    # read back with a separate client: the object really is in the bucket
    direct = S3Storage(s3_bucket, endpoint_url=s3_server, region=REGION, credentials=CREDENTIALS)
    body = direct.client.get_object(Bucket=s3_bucket, Key=key)["Body"].read()
    assert body == b"dans le seau"


def test_s3_secrets_come_only_from_the_environment(monkeypatch):
    from grants.config import build_config

    for name in ("STORAGE_BACKEND", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "S3_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    config = build_config()
    assert config["STORAGE_BACKEND"] == "local"
    assert config["S3_ACCESS_KEY_ID"] is None and config["S3_SECRET_ACCESS_KEY"] is None
    monkeypatch.setenv("S3_SECRET_ACCESS_KEY", "from-env")
    assert build_config()["S3_SECRET_ACCESS_KEY"] == "from-env"


@pytest.mark.parametrize(
    "config, error",
    [
        ({"STORAGE_BACKEND": "ftp"}, "unknown STORAGE_BACKEND"),
        ({"STORAGE_BACKEND": "s3", "S3_BUCKET": None}, "needs a bucket"),
    ],
)
def test_bad_storage_configuration_fails_loudly(config, error):
    with pytest.raises(ValueError, match=error):
        storage_from_config(config)
