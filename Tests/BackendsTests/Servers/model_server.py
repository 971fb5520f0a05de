"""A small real model server for the backend tests: it holds memory when a model is loaded.

It answers the routes of the three kinds of server vramd drives over HTTP:

  GET  /health              503 until --ready-after seconds have passed, then 200
  GET  /stats               when it became ready and when the first 200 went out (its own clock)
  POST /load   {"mib": N}   allocates and writes N MiB (the `http` backend's load route)
  POST /unload              frees it
  POST /api/generate        Ollama's load ({"model", "keep_alive"}) and unload (keep_alive 0)
  GET  /api/ps              Ollama's list of loaded models with their sizes

It prints "listening <port>" once it accepts connections, so a test can wait for that line.
"""
import argparse
import os
import sys
import threading
import time
from http.server import ThreadingHTTPServer

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../Support"))
from json_handler import JSONHandler  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--ready-after", type=float, default=0.0)
parser.add_argument("--never-ready", action="store_true")
parser.add_argument("--ollama-mib", type=int, default=64)
args = parser.parse_args()

started = time.monotonic()
lock = threading.Lock()
state = {"held": [], "mib": 0, "first_ok": None, "ollama": {}}


def allocate(mib):
    # Multiplying writes every byte, so every page is resident at once.
    return b"\x01" * (mib * 1024 * 1024)


class Handler(JSONHandler):
    def log_message(self, fmt, *values):
        print("request", self.command, self.path, flush=True)



    def do_GET(self):
        if self.path == "/health":
            now = time.monotonic()
            if args.never_ready or now - started < args.ready_after:
                return self.reply(503, {"status": "loading"})
            with lock:
                if state["first_ok"] is None:
                    state["first_ok"] = now
            return self.reply(200, {"status": "ok", "loaded_mib": state["mib"]})
        if self.path == "/stats":
            first_ok = state["first_ok"]
            ready_at = started + args.ready_after
            notice = None if first_ok is None else (first_ok - ready_at) * 1000
            return self.reply(200, {"notice_ms": notice, "loaded_mib": state["mib"]})
        if self.path == "/api/ps":
            with lock:
                models = [{"name": name, "model": name, "size": size, "size_vram": 0}
                          for name, (size, _) in state["ollama"].items()]
            return self.reply(200, {"models": models})
        self.reply(404, {"error": "no route " + self.path})

    def do_POST(self):
        body = self.body()
        if self.path == "/load":
            mib = int(body.get("mib", 0))
            with lock:
                state["held"] = [allocate(mib)]
                state["mib"] = mib
            print("loaded", body.get("model"), mib, flush=True)
            return self.reply(200, {"loaded": body.get("model"), "mib": mib})
        if self.path == "/unload":
            with lock:
                state["held"] = []
                state["mib"] = 0
            print("unloaded", flush=True)
            return self.reply(200, {"unloaded": True})
        if self.path == "/api/generate":
            name = body["model"]
            keep_alive = body.get("keep_alive")
            with lock:
                if keep_alive in (0, "0", "0s"):
                    state["ollama"].pop(name, None)
                    reason = "unload"
                else:
                    size = args.ollama_mib * 1024 * 1024
                    state["ollama"][name] = (size, allocate(args.ollama_mib))
                    reason = "load"
            return self.reply(200, {"model": name, "response": "", "done": True, "done_reason": reason})
        self.reply(404, {"error": "no route " + self.path})


server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
print("listening", args.port, flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    pass
sys.exit(0)
