"""What the example backends share: an OpenAI-shaped error, the request body read by length or
chunked, and a request handler that answers JSON. Standard library only."""
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class BadRequest(Exception):
    def __init__(self, message, param=None, status=400, code=None):
        super().__init__(message)
        self.param, self.status, self.code = param, status, code


def read_body(handler, limit):
    """The request body, by Content-Length or chunked (a proxy may stream it)."""
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        chunks, total = [], 0
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > limit:
                raise BadRequest("request body too large", status=413)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    if length > limit:
        raise BadRequest("request body too large", status=413)
    return handler.rfile.read(length)


class JSONHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so a proxy can reuse its connection
    timeout = 120  # drop idle keep-alive connections instead of holding a thread forever
    log_prefix = "backend"
    alias = None

    def log_message(self, format, *args):
        sys.stderr.write(f"{self.log_prefix}: " + (format % args) + "\n")

    def send(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_json(self, status, value):
        self.send(status, json.dumps(value))

    def send_error_json(self, status, message, type_="invalid_request_error", param=None, code=None):
        self.send_json(status, {"error": {"message": message, "type": type_, "param": param, "code": code}})

    def send_models(self):
        self.send_json(200, {"object": "list", "data": [
            {"id": self.alias, "object": "model", "created": 0, "owned_by": "vramd-example"}]})


def serve(handler, host, port, banner):
    """Serves until SIGTERM or SIGINT, then exits 0 at once. `banner` follows the address in the
    line that says the server listens."""
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True  # an in-flight request must not hold up exit

    def stop(signum, frame):
        # shutdown() waits for serve_forever() to return, so it cannot run on this thread.
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"{handler.log_prefix}_server: listening on http://{host}:{server.server_port} {banner}", flush=True)
    server.serve_forever(poll_interval=0.1)  # how soon a SIGTERM is noticed
    server.server_close()
    # Skip interpreter teardown: a request still running inside a model's native code
    # (CTranslate2, onnxruntime) would crash it (SIGSEGV) instead of letting the process exit 0.
    sys.stdout.flush(), sys.stderr.flush()
    os._exit(0)
