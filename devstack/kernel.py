"""Run code in a real kernel of a running single-user server, over its REST API and websocket."""

import json
import os
import uuid

import requests
import websocket


class KernelError(AssertionError):
    pass


class Kernel:
    """A kernel started through ``{server_url}/api/kernels`` with a hub API token.

    ``execute(code)`` returns ``{"stdout": str, "stderr": str, "result": str|None,
    "error": (ename, evalue)|None}``. Call ``shutdown()`` when done.
    """

    def __init__(self, server_url: str, token: str, kernel_name: str | None = None):
        self.server_url = server_url.rstrip("/")
        self.headers = {"Authorization": f"token {token}"}
        body = {"name": kernel_name} if kernel_name else {}
        response = requests.post(
            f"{self.server_url}/api/kernels", json=body, headers=self.headers, timeout=60
        )
        if response.status_code != 201:
            raise KernelError(f"kernel start: HTTP {response.status_code} {response.text[:300]}")
        self.id = response.json()["id"]
        ws_url = self.server_url.replace("http", "ws", 1) + f"/api/kernels/{self.id}/channels"
        # wss: the certificate requests trusts (a hub on TLS in the tests), as for HTTP
        ca = os.environ.get("REQUESTS_CA_BUNDLE")
        self.ws = websocket.create_connection(
            ws_url,
            header=[f"Authorization: token {token}"],
            timeout=120,
            sslopt={"ca_certs": ca} if ca else None,
        )

    def execute(self, code: str, timeout: float = 120) -> dict:
        msg_id = uuid.uuid4().hex
        self.ws.settimeout(timeout)
        self.ws.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "username": "test",
                        "session": uuid.uuid4().hex,
                        "msg_type": "execute_request",
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "channel": "shell",
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": False,
                        "user_expressions": {},
                        "allow_stdin": False,
                    },
                }
            )
        )
        out = {"stdout": "", "stderr": "", "result": None, "error": None}
        replied = idle = False
        while not (replied and idle):
            msg = json.loads(self.ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out[content["name"]] += content["text"]
            elif kind in ("execute_result", "display_data"):
                out["result"] = content["data"].get("text/plain")
            elif kind == "error":
                out["error"] = (content["ename"], content["evalue"])
            elif kind == "execute_reply":
                replied = True
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
        return out

    def shutdown(self) -> None:
        try:
            self.ws.close()
        finally:
            requests.delete(
                f"{self.server_url}/api/kernels/{self.id}", headers=self.headers, timeout=30
            )


def run(kernel: Kernel, code: str) -> str:
    """Execute ``code`` that must not fail; its stripped stdout."""
    out = kernel.execute(code)
    assert out["error"] is None, out
    return out["stdout"].strip()
