"""The frozen store: content-addressed, private, tamper-evident."""

import hashlib
import os
import stat

import pytest

from enclave.review_service.store import FrozenStore, StoreError


def test_uploads_are_content_addressed_private_and_deduplicated(tmp_path):
    store = FrozenStore(tmp_path / "store")
    sha, created = store.put_bytes(b"notebook bytes")
    assert sha == hashlib.sha256(b"notebook bytes").hexdigest() and created
    assert stat.S_IMODE(os.stat(tmp_path / "store").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store.path(sha)).st_mode) == 0o400
    assert store.put_bytes(b"notebook bytes") == (sha, False)
    assert os.listdir(tmp_path / "store" / "tmp") == []


def test_an_aborted_upload_leaves_nothing(tmp_path):
    store = FrozenStore(tmp_path)
    upload = store.open_upload()
    upload.write(b"partial")
    upload.abort()
    assert os.listdir(tmp_path / "tmp") == [] and os.listdir(tmp_path / "objects") == []


def test_a_changed_file_fails_verification(tmp_path):
    store = FrozenStore(tmp_path)
    sha, _ = store.put_bytes(b"original")
    store.verify(sha)
    path = store.path(sha)
    os.chmod(path, 0o600)
    path.write_bytes(b"tampered")
    with pytest.raises(StoreError, match="no longer matches its SHA-256"):
        store.verify(sha)
    path.unlink()
    with pytest.raises(StoreError, match="missing"):
        store.verify(sha)


def test_names_that_are_not_digests_are_refused(tmp_path):
    with pytest.raises(StoreError, match="not a SHA-256"):
        FrozenStore(tmp_path).path("../../etc/passwd")
