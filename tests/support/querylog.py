"""A stand-in for the review service's query endpoint: records what kernels POST to it.

Used where the review service is not part of the test; it answers 201 to a POST carrying an
``Authorization: token ...`` header and 401 otherwise, like the real endpoint.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QueryLogReceiver:
    def __init__(self):
        self.records: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if not self.headers.get("Authorization", "").startswith("token "):
                    self.send_response(401)
                else:
                    receiver.records.append(json.loads(body))
                    self.send_response(201)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/review/api/queries"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
