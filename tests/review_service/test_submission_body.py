"""A submission as one multipart/form-data body: what the session's client sends
(kernels/submit.py) is what the review service's streaming parser reads back, whatever the
chunking; a malformed, incomplete or oversized body is refused with one line."""

import hashlib
import json
import os

import pytest

from enclave.errors import EnclaveError
from enclave.kernels.submit import multipart_body
from enclave.review_service.api import (
    METADATA_LIMIT,
    SubmissionParts,
    multipart_boundary,
)
from enclave.review_service.errors import BadSubmission, ReviewError, TooLarge
from enclave.review_service.store import FrozenStore

NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()
# the longest texts a submission may carry (4,000 + 8,000 + 8,000 characters), not ASCII
METADATA = {
    "notebook": "study/by term.ipynb",
    "project": "demo",
    "purpose": "é" * 4000,
    "summary": "Σ\n" * 4000,
    "exception_note": "\"quoted\" & 'escaped' \\ ✓" * 320,
    "resubmit": "r-0123456789",
    "release_use": "internal",
    "recipients": ["CC-101", "UNI-201"],
}


def body_of(metadata=METADATA, notebook=NOTEBOOK, tmp_path=None):
    path = tmp_path / "n.ipynb"
    path.write_bytes(notebook)
    with open(path, "rb") as f:
        content_type, length, chunks = multipart_body(metadata, f)
        data = b"".join(chunks)
    assert len(data) == length
    return content_type, data


@pytest.fixture
def store(tmp_path):
    return FrozenStore(tmp_path / "store")


def parse(content_type, data, store, chunk=65536, limit=1024 * 1024):
    upload = store.open_upload()
    try:
        parts = SubmissionParts(multipart_boundary(content_type), upload, limit)
        for i in range(0, len(data), chunk):
            parts.write(data[i : i + chunk])
        return parts.finish(), upload
    except Exception:
        upload.abort()
        raise


@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 20])
def test_what_the_client_sends_the_service_reads(tmp_path, store, chunk):
    content_type, data = body_of(tmp_path=tmp_path)
    metadata, upload = parse(content_type, data, store, chunk=chunk)
    assert metadata.model_dump() == METADATA
    assert upload.size == len(NOTEBOOK)
    assert upload.finish() == hashlib.sha256(NOTEBOOK).hexdigest()
    assert upload.tmp_path.read_bytes() == NOTEBOOK
    upload.abort()


def test_a_notebook_holding_most_of_the_boundary_still_parses(tmp_path, store, monkeypatch):
    from enclave.kernels import submit

    monkeypatch.setattr(submit.secrets, "token_hex", lambda n: "f" * 2 * n)
    tricky = NOTEBOOK + b"\r\n--" + b"f" * 31 + b" --" + b"f" * 32  # not after a CRLF
    content_type, data = body_of(notebook=tricky, tmp_path=tmp_path)
    _, upload = parse(content_type, data, store, chunk=3)
    upload.finish()
    assert upload.tmp_path.read_bytes() == tricky
    upload.abort()


@pytest.mark.parametrize(
    "content_type",
    ["application/x-ipynb+json", "multipart/form-data", "text/plain; boundary=x", ""],
)
def test_a_body_that_is_not_multipart_is_refused(content_type):
    with pytest.raises(ReviewError) as refused:
        multipart_boundary(content_type)
    assert refused.value.status == 415 and "multipart/form-data" in str(refused.value)


def part(boundary, name, payload):
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + payload
        + b"\r\n"
    )


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ([("notebook", NOTEBOOK)], "metadata: required"),
        ([("metadata", json.dumps(METADATA).encode())], "notebook: required"),
        ([("metadata", b"{}"), ("notebook", NOTEBOOK)], "notebook: required."),
        (
            [("metadata", b'{"notebook": "a.ipynb", "project": 3}'), ("notebook", NOTEBOOK)],
            "project",
        ),
        ([("metadata", b"{}"), ("metadata", b"{}")], "metadata: sent twice"),
        ([("evil", b"x")], "parts must be named 'metadata' (JSON) and 'notebook'"),
    ],
)
def test_an_incomplete_or_odd_body_is_refused_with_one_line(store, parts, message):
    boundary = "b0undary"
    data = b"".join(part(boundary, n, p) for n, p in parts) + f"--{boundary}--\r\n".encode()
    with pytest.raises(BadSubmission) as refused:
        parse(f"multipart/form-data; boundary={boundary}", data, store)
    assert message in str(refused.value) and "\n" not in str(refused.value)


def test_garbage_is_refused(store):
    with pytest.raises(BadSubmission, match="not valid multipart/form-data"):
        parse("multipart/form-data; boundary=b0undary", b"--b0undary\r\nno colon\r\n\r\n", store)


def test_oversized_metadata_is_refused(tmp_path, store):
    big = {**METADATA, "summary": "x" * (METADATA_LIMIT + 1)}
    content_type, data = body_of(metadata=big, tmp_path=tmp_path)
    with pytest.raises(TooLarge, match="metadata: larger than"):
        parse(content_type, data, store)


def test_a_notebook_over_the_limit_is_refused(tmp_path, store):
    content_type, data = body_of(tmp_path=tmp_path)
    with pytest.raises(TooLarge, match="the notebook is larger than the limit of 10 bytes"):
        parse(content_type, data, store, limit=10)


def test_the_client_refuses_a_file_that_shrinks_while_it_is_sent(tmp_path):
    path = tmp_path / "n.ipynb"
    path.write_bytes(NOTEBOOK)
    with open(path, "rb") as f:
        _, _, chunks = multipart_body(METADATA, f)
        os.truncate(path, 10)
        with pytest.raises(EnclaveError, match="shrank"):
            b"".join(chunks)
