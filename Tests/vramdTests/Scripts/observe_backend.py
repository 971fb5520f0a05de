"""A small real backend for the observability tests: an OpenAI-style chat server that can also
load and unload on request (vramd's `http` backend) or run as a `process` backend.

  GET  /health                  200
  POST /load                    200; with --gated, only once POST /gate has been called
  POST /gate                    opens the gate (a test lets a load finish when it chooses)
  POST /unload                  200
  POST /v1/chat/completions     a short answer; with "stream": true, three SSE chunks and [DONE]

Every request is printed on stdout (a process backend's log), and "listening <port>" first.
"""
import argparse
import json
import os
import signal
import sys
import threading
from http.server import ThreadingHTTPServer

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../Support"))
from json_handler import JSONHandler  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--gated", action="store_true")
parser.add_argument("--name", default="backend")
args = parser.parse_args()
# A test runner's threads block SIGTERM and children inherit the mask: unblock it, so that
# terminating this process (the test, or vramd for a process backend) ends it.
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
gate = threading.Event()
if not args.gated:
    gate.set()


class Handler(JSONHandler):
    def log_message(self, fmt, *values):
        print(f"{args.name} request {self.command} {self.path}", flush=True)



    def do_GET(self):
        if self.path == "/health":
            return self.reply(200, {"status": "ok"})
        self.reply(404, {"error": "no route " + self.path})

    def do_POST(self):
        body = self.body()
        if self.path == "/gate":
            gate.set()
            return self.reply(200, {"gate": "open"})
        if self.path == "/load":
            gate.wait(120)
            return self.reply(200, {"loaded": True})
        if self.path == "/unload":
            return self.reply(200, {"unloaded": True})
        if self.path == "/v1/chat/completions":
            model = body.get("model", "?")
            if not body.get("stream"):
                return self.reply(200, {"object": "chat.completion", "model": model,
                                        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                                                     "finish_reason": "stop"}]})
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for word in ["one", "two", "three"]:
                chunk = {"object": "chat.completion.chunk", "model": model,
                         "choices": [{"index": 0, "delta": {"content": word}}]}
                self.chunk("data: " + json.dumps(chunk) + "\n\n")
            self.chunk("data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        self.reply(404, {"error": "no route " + self.path})

    def chunk(self, text):
        data = text.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()


server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
print(f"{args.name} listening {server.server_address[1]}", flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    pass
sys.exit(0)
