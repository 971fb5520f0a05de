#!/usr/bin/env python3
"""A model server that holds real VRAM: it allocates --gib GiB on a CUDA device with PyTorch,
then answers /health and a fixed OpenAI chat completion. vramd starts and stops it as a
process backend in scripts/gpu-check; what it holds is what NVML reports for its pid."""
import argparse, os, signal, sys
from http.server import ThreadingHTTPServer

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../Support"))
from json_handler import JSONHandler  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--gib", type=float, required=True)
parser.add_argument("--name", default="gpu-model")
args = parser.parse_args()

import torch  # after argument parsing: a usage error should not wait for CUDA

held = torch.empty(int(args.gib * (1 << 30)), dtype=torch.uint8, device="cuda")
held.fill_(1)  # touch it, so the driver has really committed the memory
torch.cuda.synchronize()


class Handler(JSONHandler):
    def do_GET(self):
        self.reply(200, {"status": "ok", "held_bytes": held.numel()} if self.path == "/health" else {"error": "no route"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        self.reply(200, {"id": "x", "object": "chat.completion", "model": args.name,
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": f"{args.name} holds {args.gib} GiB"},
                                      "finish_reason": "stop"}]})


signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print(f"{args.name}: holding {args.gib} GiB on cuda, listening on {args.port}", flush=True)
ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()
