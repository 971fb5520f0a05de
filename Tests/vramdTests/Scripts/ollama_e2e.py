"""vramd driven by Ollama's official Python client (`ollama` on PyPI), with real llama.cpp servers.

Usage: ollama_e2e.py VRAMD_BINARY LLAMA_SERVER MODEL_GGUF WORK_DIR

Two models, gemma-3-270m for chat and the same file as an embedding server, on a device where
only one fits, so every switch evicts. Runs list, show, chat (whole and streamed), generate,
embed, ps before and after, keep_alive 0, an unknown model, and the routes vramd refuses; checks
each raw answer's fields against Ollama's API documentation. Prints one JSON object of findings;
an empty "failures" list means every check held.
"""
import json
import math
import os
import signal
import sys
import time
import urllib.error
import urllib.request

import ollama

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../Support"))
sys.dont_write_bytecode = True  # nothing written into the source tree
from vramd_serve import serve  # noqa: E402

vramd, llama_server, gguf, work = sys.argv[1:5]
os.makedirs(work, exist_ok=True)
failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
    return condition


def server(*extra):
    return {"type": "process", "stop_timeout": "5s",
            "command": [llama_server, "-m", gguf, "--host", "127.0.0.1", "--port", "${PORT}", "-c", "512",
                        "--parallel", "1", "--no-repack", "-t", "1", "--alias", "${MODEL_ID}", *extra]}


config = {
    "listen": "127.0.0.1:0",
    "state_dir": os.path.join(work, "state"),
    "policy": {"min_residency": "0s"},
    "devices": [{"id": "gpu0", "kind": "simulated", "capacity": "1GiB"}],
    "models": {
        "gemma": {"kind": "llm", "memory": "700MiB", "aliases": ["gemma3:270m"], "backend": server()},
        "embed": {"kind": "embed", "memory": "700MiB", "backend": server("--embeddings", "--pooling", "mean")},
    },
}
proc, base = serve(vramd, config, work)
client = ollama.Client(host=base)


def raw(method, route, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + route, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def fields(obj, documented, what):
    """Every field Ollama's API documentation lists for this answer is there."""
    missing = [key for key in documented if key not in obj]
    check(not missing, f"{what}: missing {missing} in {sorted(obj)}")


DETAILS = ["parent_model", "format", "family", "families", "parameter_size", "quantization_level"]
FINAL = ["model", "created_at", "done", "done_reason", "total_duration", "load_duration", "prompt_eval_count",
         "prompt_eval_duration", "eval_count", "eval_duration"]
seen = {}
try:
    # list
    status, _, body = raw("GET", "/api/tags")
    tags = json.loads(body)
    check(status == 200 and [m["name"] for m in tags["models"]] == ["gemma", "embed"], f"tags: {tags}")
    for model in tags["models"]:
        fields(model, ["name", "model", "modified_at", "size", "digest", "details"], "tags model")
        fields(model["details"], DETAILS, "tags details")
    listed = client.list()
    gemma = next(m for m in listed.models if m.model == "gemma")
    check(gemma.details.family == "gemma3" and gemma.details.format == "gguf", f"details {gemma.details}")
    check(gemma.details.quantization_level == "Q4_K_M", f"quantization {gemma.details.quantization_level}")
    check(gemma.size == os.path.getsize(os.path.realpath(gguf)), f"size {gemma.size}")
    seen["parameter_size"] = gemma.details.parameter_size

    # show
    status, _, body = raw("POST", "/api/show", {"model": "gemma"})
    shown = json.loads(body)
    fields(shown, ["modelfile", "parameters", "template", "details", "model_info"], "show")
    info = client.show("gemma")
    check(info.modelinfo.get("general.architecture") == "gemma3", f"model_info {list(info.modelinfo)[:5]}")
    check(info.modelinfo.get("gemma3.context_length") == 32768, "context_length in model_info")
    check("num_ctx 512" in (info.parameters or ""), f"parameters {info.parameters!r}")

    # ps before anything ran
    check(client.ps().models == [], "ps before")

    # chat, whole
    reply = client.chat(model="gemma", messages=[{"role": "user", "content": "Name a colour."}], options={"num_predict": 8})
    check(isinstance(reply.message.content, str) and reply.message.role == "assistant", f"chat {reply}")
    check(reply.done and reply.done_reason in ("stop", "length") and reply.eval_count > 0 and reply.prompt_eval_count > 0, f"chat counts {reply}")
    check(reply.total_duration > 0 and reply.eval_duration > 0, f"chat durations {reply}")
    status, headers, body = raw("POST", "/api/chat", {"model": "gemma", "stream": False, "options": {"num_predict": 4},
                                                      "messages": [{"role": "user", "content": "Hi"}]})
    whole = json.loads(body)
    fields(whole, FINAL + ["message"], "chat")
    check(whole["model"] == "gemma", "answers name the model as asked")

    # chat, streamed (the client's default in raw form: NDJSON)
    chunks = list(client.chat(model="gemma3:270m", messages=[{"role": "user", "content": "Count: one, two,"}],
                              stream=True, options={"num_predict": 12}))
    check(len(chunks) >= 3 and all(not c.done for c in chunks[:-1]) and chunks[-1].done, f"{len(chunks)} chunks")
    check(chunks[-1].eval_count and chunks[-1].eval_count > 0, f"final chunk {chunks[-1]}")
    check(all(c.model == "gemma3:270m" for c in chunks), "streamed chunks name the model as asked")
    status, headers, body = raw("POST", "/api/chat", {"model": "gemma", "options": {"num_predict": 4},
                                                      "messages": [{"role": "user", "content": "Hi"}]})
    lines = [json.loads(l) for l in body.decode().splitlines() if l.strip()]
    check(headers.get("Content-Type", "").startswith("application/x-ndjson"), f"content type {headers.get('Content-Type')}")
    fields(lines[-1], FINAL + ["message"], "streamed chat's last line")
    for chunk in lines[:-1]:
        fields(chunk, ["model", "created_at", "message", "done"], "streamed chat chunk")

    # generate
    generated = client.generate(model="gemma", prompt="The capital of France is", options={"num_predict": 8, "temperature": 0})
    check(isinstance(generated.response, str) and len(generated.response) > 0 and generated.done, f"generate {generated}")
    status, _, body = raw("POST", "/api/generate", {"model": "gemma", "prompt": "Once upon", "stream": False, "options": {"num_predict": 4}})
    fields(json.loads(body), FINAL + ["response"], "generate")

    # ps after
    ps = client.ps().models
    check([m.model for m in ps] == ["gemma"], f"ps after {ps}")
    status, _, body = raw("GET", "/api/ps")
    for model in json.loads(body)["models"]:
        fields(model, ["name", "model", "size", "digest", "details", "expires_at", "size_vram"], "ps model")
        check(model["size_vram"] == 0 and model["context_length"] == 512, f"ps model {model}")

    # embed: only one model fits, so this evicts gemma first
    before = json.loads(raw("GET", "/v1/status")[2])["scheduler"]
    sentences = ["a cat sat on the mat", "a kitten sat on a rug", "stock prices fell sharply"]
    embedded = client.embed(model="embed", input=sentences)
    vectors = embedded.embeddings

    def cosine(a, b):
        return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))

    check(len(vectors) == 3 and len(vectors[0]) == 640, f"{len(vectors)} vectors")
    seen["cosine_similar"], seen["cosine_dissimilar"] = cosine(vectors[0], vectors[1]), cosine(vectors[0], vectors[2])
    check(seen["cosine_similar"] > seen["cosine_dissimilar"], f"similarity {seen}")
    after = json.loads(raw("GET", "/v1/status")[2])["scheduler"]
    check(after["swaps"] > before["swaps"], "the embedding evicted the chat model")
    check([m.model for m in client.ps().models] == ["embed"], "ps after the eviction")
    status, _, body = raw("POST", "/api/embed", {"model": "embed", "input": "hello"})
    fields(json.loads(body), ["model", "embeddings", "total_duration", "load_duration", "prompt_eval_count"], "embed")
    legacy = client.embeddings(model="embed", prompt="hello")
    check(len(legacy.embedding) == 640, "legacy /api/embeddings")

    # keep_alive: an empty prompt loads, keep_alive 0 unloads
    loaded = client.generate(model="gemma", prompt="")
    check(loaded.done and loaded.done_reason == "load", f"load {loaded}")
    check("gemma" in [m.model for m in client.ps().models], "loaded by an empty prompt")
    unloaded = client.generate(model="gemma", prompt="", keep_alive=0)
    check(unloaded.done_reason == "unload" and "gemma" not in [m.model for m in client.ps().models], f"unload {unloaded}")
    client.chat(model="gemma", messages=[{"role": "user", "content": "Hi"}], options={"num_predict": 2}, keep_alive=0)
    deadline = time.time() + 15
    while "gemma" in [m.model for m in client.ps().models] and time.time() < deadline:
        time.sleep(0.2)
    check("gemma" not in [m.model for m in client.ps().models], "keep_alive 0 on a chat unloads once idle")

    # errors
    try:
        client.chat(model="no-such-model", messages=[{"role": "user", "content": "Hi"}])
        check(False, "unknown model answered")
    except ollama.ResponseError as error:
        check(error.status_code == 404 and "no-such-model" in error.error, f"unknown model: {error.status_code} {error.error}")
    status, _, body = raw("POST", "/api/chat", {"model": "gemma", "options": {"num_ctx": 8192}, "messages": []})
    check(status == 200, "num_ctx within the config passes (an empty chat only loads)")
    status, _, body = raw("POST", "/api/chat", {"model": "gemma", "options": {"num_ctx": 8192},
                                                "messages": [{"role": "user", "content": "Hi"}]})
    check(status == 400 and "num_ctx" in json.loads(body).get("error", ""), f"num_ctx: {status} {body[:200]}")
    try:
        client.pull("gemma")
        check(False, "pull answered")
    except ollama.ResponseError as error:
        check(error.status_code == 501 and "config" in error.error, f"pull: {error.status_code} {error.error}")

    # liveness and version, beside the page
    status, _, body = raw("GET", "/api/version")
    check(status == 200 and "version" in json.loads(body), "version")
    check(raw("HEAD", "/")[0] == 200, "HEAD /")
    status, _, body = raw("GET", "/")
    check(body == b"Ollama is running", f"GET / {body[:60]}")
    status, _, body = raw("GET", "/", headers={"Accept": "text/html"})
    check(b"<html" in body.lower(), "the page for a browser")

    # counted like every other request
    scheduler = json.loads(raw("GET", "/v1/status")[2])["scheduler"]
    seen["requests"] = scheduler["requests"]
    metrics = raw("GET", "/metrics")[2].decode()
    check('http_route="/api/chat"' in metrics, "/metrics counts /api/chat")
finally:
    proc.send_signal(signal.SIGTERM)
    seen["vramd_exit"] = proc.wait(timeout=60)

seen["failures"] = failures
print(json.dumps(seen))
