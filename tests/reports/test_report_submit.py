"""`--submit` files a run, or a whole batch as one request, through the review service client.

The review service's own tests cover what it does with a submission; here a loopback endpoint
receives exactly what the client sends, so the test sees the request a report produces.
"""

import email.parser
import email.policy
import http.server
import json
import threading
import urllib.parse

import nbformat
import pytest

from enclave.cli import main


def form_parts(content_type: str, body: bytes) -> dict[str, bytes]:
    """The parts of a multipart/form-data body, by name (the standard library's MIME parser)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    return {
        part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
        for part in message.iter_parts()
    }


class _ReviewService(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        parts = form_parts(
            self.headers["Content-Type"], self.rfile.read(int(self.headers["Content-Length"]))
        )
        metadata = json.loads(parts["metadata"])
        self.received.append((url.path, self.headers["Authorization"], metadata, parts["notebook"]))
        answer = {
            "id": f"r{len(self.received)}",
            "round": 1,
            "verdict": "pass",
            "findings": 0,
            "institutions": ["CC-101"],
        }
        payload = json.dumps(answer).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def review_service(session_env, monkeypatch):
    _ReviewService.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ReviewService)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("ENCLAVE_REVIEW_URL", f"http://127.0.0.1:{server.server_port}/review/")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "session-token")
    monkeypatch.setenv("ENCLAVE_NOTEBOOK_ROOT", str(session_env["output"]))
    yield _ReviewService.received
    server.shutdown()
    server.server_close()


def test_submit_needs_a_purpose(capsys, session_env, review_service):
    assert main(["report", "run", "pipeline", "--submit"]) == 2
    assert "--purpose" in capsys.readouterr().err
    assert review_service == []


def test_run_submits_its_notebook_with_template_hash_and_parameters(
    capsys, session_env, review_service, make_template
):
    template = make_template("small", "k: int = 10", "print(k * 2)")
    argv = ["report", "run", str(template), "-p", "k", "12", "--submit", "--purpose", "board"]
    assert main(argv) == 0
    assert "as review request r1" in capsys.readouterr().out
    ((path, auth, query, body),) = review_service
    assert path == "/review/api/submit" and auth == "token session-token"
    assert query["project"] == "study" and query["purpose"] == "board"
    nb = nbformat.reads(body.decode(), as_version=4)
    report = nb.metadata.enclave.report
    assert report.parameters == {"k": 12}
    assert report.template_sha256 in query["summary"] and '{"k":12}' in query["summary"]
    assert query["notebook"].endswith(".ipynb") and query["notebook"].startswith("reports/small/")


def test_batch_is_submitted_as_one_request(
    capsys, session_env, review_service, make_template, tmp_path
):
    template = make_template(
        "small",
        "k: int = 10",
        "n = warehouse.query('SELECT COUNT(*) AS n FROM institutions')",
        "print(k * 2)",
    )
    grid = tmp_path / "grid.yaml"
    grid.write_text("k: [11, 12]\n")
    argv = ["report", "batch", str(template), "--grid", str(grid), "--submit", "--purpose", "x"]
    assert main(argv) == 0
    ((_, _, query, body),) = review_service
    bundle = nbformat.reads(body.decode(), as_version=4)
    nbformat.validate(bundle)
    runs = bundle.metadata.enclave.batch.runs
    assert [r["parameters"] for r in runs] == [{"k": 11}, {"k": 12}]
    assert bundle.metadata.enclave.batch.template == "small"
    headings = [c.source for c in bundle.cells if c.source.startswith("# Run ")]
    assert headings == ["# Run 1: k = 11", "# Run 2: k = 12"]
    printed = [o["text"] for c in bundle.cells for o in c.get("outputs", []) if "text" in o]
    assert printed == ["22\n", "24\n"]
    assert "batch-of-2" in query["notebook"]
    # each worker's kernel read through the session's query process, which recorded it
    recorded = [q["sql"] for q in session_env["queries"]()]
    assert recorded == ["SELECT COUNT(*) AS n FROM institutions"] * len(runs)
