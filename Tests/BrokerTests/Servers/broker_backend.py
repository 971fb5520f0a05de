"""A real model backend for the broker tests: it loads and unloads models, serves OpenAI-style
chat completions (JSON or an SSE stream), and counts everything it sees, so a test can check what
vramd did to it.

  GET  /health              503 until --ready-after seconds have passed (never with --never-ready)
  GET  /stats               counts: loads and unloads per model, requests in flight and the most
                            at once, the order requests started and finished in, hook calls;
                            its pid and --slot-save-path
  POST /load   {"model", "gate"}  waits on `gate` (if any), then loads a model (holds --load-mib MiB); 500 with --fail-load
  POST /unload {"model"}    unloads it
  POST /open   {"gate"}     lets every request waiting on that gate go on (and later ones pass)
  POST /hook                records the JSON body (stands in for an on_pressure receiver)
  POST /sick {"sick"}       with true, /health answers 503 from now on (a server that stopped
                            serving but still listens); with false, 200 again
  POST /v1/chat/completions {"model", "tag", "gate", "delay", "stream", "chunks", "chunk_delay", "cut",
                             "raw", "close"}
                            waits on `gate` (if any) and `delay` seconds, then answers (with
                            "cut", half an answer and a hang-up; with "raw", those bytes as they
                            are, then a hang-up if "close"); with
                            --check-loaded a model that is not loaded is answered 409, so a request
                            vramd sends to an unloaded model shows up as a failure

With --exit-after it dies on its own (status 3), e.g. while vramd waits for it to be ready.

It prints "listening <port>" once it accepts connections (--port 0 picks a free port), and
"start <tag>" / "done <tag>" around each chat request. With --pid-dir it writes its pid there.
"""
import argparse
import json
import os
import socket
import sys
import threading
import time
from http.server import ThreadingHTTPServer

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../Support"))
from json_handler import JSONHandler  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--name", default="backend")
parser.add_argument("--ready-after", type=float, default=0.0)
parser.add_argument("--never-ready", action="store_true")
parser.add_argument("--exit-after", type=float, help="exit with status 3 this many seconds after listening")
parser.add_argument("--fail-load", action="store_true")
parser.add_argument("--check-loaded", action="store_true")
parser.add_argument("--load-mib", type=int, default=0)
parser.add_argument("--pid-dir")
parser.add_argument("--drop-reused", action="store_true",
                    help="hang up, without an answer, on a chat request that arrives on a kept-alive connection")
parser.add_argument("--slot-save-path", help="taken as llama-server takes it (vramd's prompt cache adds it)")
parser.add_argument("--swa-full", action="store_true")
parser.add_argument("--silent-slots", action="store_true",
                    help="never answer GET /slots, as a hung server would (the prompt cache's save must not wait)")
args = parser.parse_args()

started = time.monotonic()
lock = threading.Lock()
gates = {}
state = {
    "loads": {}, "unloads": {}, "loaded": {}, "in_flight": 0, "max_in_flight": 0,
    "started": [], "finished": [], "hooks": [], "requests": 0, "max_loaded": 0, "sick": False,
}


output_lock = threading.Lock()


def say(*words):
    """Prints one line in one write: print() from several threads interleaves its pieces
    ("startstart r6"), and the tests wait for whole lines."""
    with output_lock:
        sys.stdout.write(" ".join(str(word) for word in words) + "\n")
        sys.stdout.flush()


def gate(name):
    with lock:
        if name not in gates:
            gates[name] = threading.Event()
        return gates[name]


class Handler(JSONHandler):
    def do_GET(self):
        if self.path == "/health":
            if state["sick"]:
                return self.reply(503, {"status": "sick"})
            if args.never_ready or time.monotonic() - started < args.ready_after:
                return self.reply(503, {"status": "loading"})
            return self.reply(200, {"status": "ok"})
        if self.path == "/slots" and args.silent_slots:
            say("slots asked")
            time.sleep(3600)
            return
        if self.path == "/stats":
            with lock:
                snapshot = {key: value for key, value in state.items() if key != "loaded"}
                snapshot["loaded"] = sorted(state["loaded"])
                snapshot["pid"] = os.getpid()
                snapshot["slot_save_path"] = args.slot_save_path
            return self.reply(200, snapshot)
        self.reply(404, {"error": "no route " + self.path})

    def do_POST(self):
        body = self.body()
        if self.path == "/load":
            model = body.get("model", args.name)
            with lock:
                state["loads"][model] = state["loads"].get(model, 0) + 1
            say("load", model)
            if body.get("gate"):
                gate(body["gate"]).wait()
            if args.fail_load:
                return self.reply(500, {"error": "cannot load " + model})
            with lock:
                state["loaded"][model] = b"\x01" * (args.load_mib << 20)
                state["max_loaded"] = max(state["max_loaded"], len(state["loaded"]))
            return self.reply(200, {"loaded": model})
        if self.path == "/unload":
            model = body.get("model", args.name)
            with lock:
                state["unloads"][model] = state["unloads"].get(model, 0) + 1
                state["loaded"].pop(model, None)
            say("unload", model)
            return self.reply(200, {"unloaded": model})
        if self.path == "/open":
            gate(body["gate"]).set()
            return self.reply(200, {"opened": body["gate"]})
        if self.path == "/sick":
            with lock:
                state["sick"] = bool(body.get("sick"))
            return self.reply(200, {"sick": state["sick"]})
        if self.path == "/hook":
            with lock:
                state["hooks"].append(body)
            say("hook", json.dumps(body))
            return self.reply(200, {})
        if self.path == "/v1/chat/completions":
            return self.chat(body)
        self.reply(404, {"error": "no route " + self.path})

    def chat(self, body):
        model = body.get("model")
        tag = str(body.get("tag", ""))
        self.chats = getattr(self, "chats", 0) + 1
        if args.drop_reused and self.chats > 1:
            # As a backend does that closes an idle connection just as the next request arrives.
            say("dropped", tag)
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        with lock:
            if args.check_loaded and model not in state["loaded"]:
                loaded = sorted(state["loaded"])
                return self.reply(409, {"error": {"message": "%s is not loaded (loaded: %s)" % (model, loaded)}})
            state["requests"] += 1
            state["in_flight"] += 1
            state["max_in_flight"] = max(state["max_in_flight"], state["in_flight"])
            state["started"].append(tag)
        say("start", tag)
        try:
            if body.get("gate"):
                gate(body["gate"]).wait()
            time.sleep(float(body.get("delay", 0)))
            if body.get("stream"):
                self.stream(model, tag, int(body.get("chunks", 5)), float(body.get("chunk_delay", 0.01)))
            elif body.get("cut"):
                self.cut(tag)
            elif "raw" in body:
                self.raw(body["raw"], body.get("close", False))
            else:
                self.reply(200, {
                    "id": "chatcmpl-" + tag, "object": "chat.completion", "model": model, "served_by": args.name,
                    "pid": os.getpid(), "port": server.server_address[1], "tag": tag,
                    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok " + tag}}],
                    "headers": {name.lower(): value for name, value in self.headers.items()},
                })
        finally:
            with lock:
                state["in_flight"] -= 1
                state["finished"].append(tag)
            say("done", tag)

    def cut(self, tag):
        """Announces a whole JSON answer, sends half of it and hangs up, as a backend that
        crashes while writing its answer would."""
        data = json.dumps({"id": "chatcmpl-" + tag, "object": "chat.completion", "padding": "x" * 4096}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    def raw(self, text, close):
        """Writes `text` as the whole answer, byte for byte: framings, interim answers and
        malformed answers that http.server would not write by itself. With `close` it hangs up
        after, which ends an answer framed by the connection."""
        self.wfile.write(text.encode("latin-1"))
        self.wfile.flush()
        if close:
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True

    def stream(self, model, tag, chunks, chunk_delay):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def send(text):
            data = text.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        for index in range(chunks):
            event = {"object": "chat.completion.chunk", "model": model, "pid": os.getpid(), "index": index,
                     "choices": [{"index": 0, "delta": {"content": "%s-%d " % (tag, index)}}]}
            send("data: " + json.dumps(event) + "\n\n")
            time.sleep(chunk_delay)
        send("data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


if args.pid_dir:
    with open(os.path.join(args.pid_dir, str(os.getpid())), "w") as f:
        f.write(args.name)

# socketserver's listen backlog is 5: a burst of connections (vramd proxying a dozen requests at
# once) would overflow it, which a real server's larger backlog does not.
ThreadingHTTPServer.request_queue_size = 256
server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
server.daemon_threads = True
say("listening", server.server_address[1])
if args.exit_after is not None:
    def crash():
        say("crashing")
        os._exit(3)
    threading.Timer(args.exit_after, crash).start()
try:
    server.serve_forever()
except KeyboardInterrupt:
    pass
sys.exit(0)
