"""The HTTP side the test backends share: JSON in, JSON out, over HTTP/1.1 keep-alive.

broker_backend.py, model_server.py, observe_backend.py and the GPU check's gpu_backend.py are
standalone programs in their own test folders; each puts this folder on its import path.
"""

import json
from http.server import BaseHTTPRequestHandler


class JSONHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *values):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")
