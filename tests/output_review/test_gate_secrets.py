"""Credentials in a notebook are blocked wherever they sit, and the finding never quotes them."""

import os
import pydoc
import uuid

import pytest
from gate_helpers import notebook, result, stream
from nbformat.v4 import new_markdown_cell, new_output

from enclave.output_review.gate import Gate

TOKEN = uuid.uuid4().hex  # what JupyterHub's tokens are
PASSWORD = "Xq3_vT9-pLm2sR8kYw0eZa1b"  # secrets.token_urlsafe(18), as the session's role has
PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END"


def screen(*cells):
    return Gate().screen(notebook(*cells))


def secret_findings(report):
    return [f for f in report.findings if f.rule == "secret"]


@pytest.mark.parametrize(
    ("what", "text"),
    [
        ("a hub API token", f"session token {TOKEN}\n"),
        ("a hub API token", f"environ({{'JUPYTERHUB_API_TOKEN': '{TOKEN}'}})"),
        ("a password inside a URL", f"postgresql+psycopg://db_sess_ada:{PASSWORD}@127.0.0.1/w"),
        ("a password inside a URL", f"see https://ada:{PASSWORD}@files.example.org/x"),
        ("a private key", PRIVATE_KEY),
        ("a private key", "-----BEGIN RSA PRIVATE KEY-----"),
        ("an Authorization header", f"Authorization: token {PASSWORD}"),
        ("an Authorization header", f"{{'Authorization': 'Bearer {PASSWORD}'}}"),
        ("a value labelled as a secret", f"PGPASSWORD={PASSWORD}"),
        ("a value labelled as a secret", f"client_secret: '{PASSWORD}'"),
    ],
)
def test_each_kind_of_secret_in_an_output_is_blocked(what, text):
    report = screen(("x", [stream(text)]))
    assert report.verdict == "block"
    [finding] = [f for f in secret_findings(report) if what in f.message]
    assert finding.severity == "block" and finding.output == 0
    for value in (TOKEN, PASSWORD, "b3BlbnNzaC1rZXktdjEAAAAA"):
        assert value not in finding.message


@pytest.mark.parametrize(
    "place",
    ["source", "markdown", "html", "traceback", "output metadata", "notebook metadata"],
)
def test_a_token_is_found_in_every_place_a_notebook_holds_text(place):
    text = f"token {TOKEN}"
    nb = notebook(("x", []))
    if place == "source":
        nb.cells[0].source = f"requests.get(url, params={{'token': '{TOKEN}'}})"
    elif place == "markdown":
        nb.cells.append(new_markdown_cell(text))
    elif place == "html":
        nb.cells[0].outputs = [result({"text/html": f"<td>{TOKEN}</td>"})]
    elif place == "traceback":
        nb.cells[0].outputs = [new_output("error", ename="E", evalue=text, traceback=[])]
    elif place == "output metadata":
        nb.cells[0].outputs = [result({"text/plain": "1"}, note=text)]
    else:
        nb.metadata["enclave"] = {"note": text}
    report = Gate().screen(nb)
    assert report.verdict == "block" and secret_findings(report)


def test_help_of_an_object_holding_the_environment_is_blocked(monkeypatch):
    """What ``help()`` printed before the kernel's defaults stopped holding ``os.environ``."""
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", TOKEN)

    def from_environment(environ=os.environ):
        return environ

    report = screen(("help(warehouse)", [stream(pydoc.render_doc(from_environment))]))
    assert report.verdict == "block" and secret_findings(report)


@pytest.mark.parametrize(
    "text",
    [
        "sha256 " + "0123456789abcdef" * 4,  # 64 hex digits, no token
        "run 3f2b8c1d9e7a4b6c",  # 16 hex digits
        str(uuid.uuid4()),  # a uuid with dashes (session ids, message ids)
        "postgresql+psycopg://db_sess_ada:***@127.0.0.1/warehouse",  # SQLAlchemy's masked URL
        "postgresql://{user}:{password}@{host}/db",
        "https://user:${PASSWORD}@host/x",
        "the password field is required; token counts: 12",
        "headers = {'Authorization': f'token {token}'}",
        "password = getpass()",
        "api_key = os.environ['KEY']",
        "-----BEGIN PUBLIC KEY-----",
    ],
)
def test_lookalikes_are_not_secrets(text):
    assert secret_findings(screen(("x", [stream(text)]))) == []


def test_a_widget_model_id_is_not_a_token():
    view = {"model_id": uuid.uuid4().hex, "version_major": 2, "version_minor": 0}
    report = screen(("x", [result({"application/vnd.jupyter.widget-view+json": view})]))
    assert secret_findings(report) == []
