"""The session's contents manager: notebooks and small text files open; no file leaves whole."""

import json

import pytest
from tornado import web

from enclave.kernels.server.contents import EnclaveContentsManager

NOTEBOOK = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


@pytest.fixture
def contents(tmp_path):
    (tmp_path / "notes.txt").write_text("a,b\n1,2\n")
    (tmp_path / "table.csv").write_text("a,b\n" + "1,2\n" * 40_000)  # 160 kB
    (tmp_path / "plot.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff" * 10)
    (tmp_path / "study.ipynb").write_text(json.dumps(NOTEBOOK))
    big_notebook = {**NOTEBOOK, "metadata": {"rows": ["stu_0123456789abcdefghjkmnpqrs"] * 8000}}
    (tmp_path / "rows.json").write_text(json.dumps(big_notebook))  # notebook-shaped, 300 kB
    return EnclaveContentsManager(root_dir=str(tmp_path))


async def refused(call) -> str:
    with pytest.raises(web.HTTPError) as caught:
        await call
    assert caught.value.status_code == 403
    return caught.value.log_message


@pytest.mark.parametrize(
    ("path", "kwargs", "why"),
    [
        ("notes.txt", {"format": "base64"}, "base64"),
        ("plot.png", {}, "only text files"),
        ("plot.png", {"type": "file"}, "only text files"),
        ("table.csv", {"format": "text"}, "over 131072 bytes"),
        ("study.ipynb", {"type": "file", "format": "base64"}, "base64"),
        ("rows.json", {"type": "notebook"}, "only .ipynb files"),
        ("notes.txt", {"type": "notebook"}, "only .ipynb files"),
    ],
)
async def test_file_content_that_would_be_a_download_is_refused(contents, path, kwargs, why):
    assert why in await refused(contents.get(path, **kwargs))


async def test_notebooks_small_text_and_metadata_are_served(contents):
    notebook = await contents.get("study.ipynb")
    assert notebook["type"] == "notebook" and notebook["content"]["nbformat"] == 4
    text = await contents.get("notes.txt", type="file", format="text")
    assert text["content"] == "a,b\n1,2\n"
    for path in ("plot.png", "table.csv"):
        model = await contents.get(path, content=False)
        assert model["content"] is None and model["size"] > 0
    listing = await contents.get("")
    assert {m["name"] for m in listing["content"]} == {
        "rows.json",
        "notes.txt",
        "table.csv",
        "plot.png",
        "study.ipynb",
    }


async def test_copies_inside_the_session_still_work(contents, tmp_path):
    copy = await contents.copy("plot.png", "")
    assert copy["content"] is None
    assert (tmp_path / copy["name"]).read_bytes() == (tmp_path / "plot.png").read_bytes()
    await refused(contents.get("plot.png"))  # the copy did not lift the check


async def test_size_limit_is_configurable(tmp_path):
    (tmp_path / "table.csv").write_text("x" * 2000)
    contents = EnclaveContentsManager(root_dir=str(tmp_path), max_file_size=1000)
    assert "over 1000 bytes" in await refused(contents.get("table.csv"))


async def test_a_file_that_grew_after_the_size_check_is_refused(contents, monkeypatch):
    # the size is checked before the read; a file growing in between must not slip through
    monkeypatch.setattr("enclave.kernels.server.contents.os.path.getsize", lambda path: 0)
    assert "over 131072 bytes" in await refused(contents.get("table.csv"))


async def test_errors_never_quote_the_file_content(tmp_path):
    (tmp_path / "broken.ipynb").write_text("stu_secretsecretsecretsecret01,1999,F\n")
    contents = EnclaveContentsManager(root_dir=str(tmp_path))
    with pytest.raises(web.HTTPError) as caught:
        await contents.get("broken.ipynb")
    assert caught.value.status_code == 400
    assert "secret" not in str(caught.value) and "secret" not in caught.value.log_message
