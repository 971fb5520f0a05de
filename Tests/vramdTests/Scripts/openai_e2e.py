"""End-to-end check of `vramd serve` with the real openai client and llama.cpp's server.

Usage: openai_e2e.py VRAMD_BINARY LLAMA_SERVER MODEL_GGUF WORK_DIR

Starts vramd with two models (the same GGUF under two ids with different contexts) on a host
device whose capacity lets only one be resident, runs the scenarios of issue 5 and prints one
JSON object with what it observed. The Swift test asserts on that object.
"""
import json
import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import urllib.error
import urllib.request

import openai

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../Support"))
sys.dont_write_bytecode = True  # nothing written into the source tree
from vramd_serve import serve  # noqa: E402

vramd, llama_server, gguf, work = sys.argv[1:5]
os.makedirs(work, exist_ok=True)
token = "e2e-token-0123456789abcdef"
config_path = os.path.join(work, "vramd.yaml")


def backend(context):
    return {
        "type": "process",
        "command": [llama_server, "-m", gguf, "--host", "127.0.0.1", "--port", "${PORT}", "-c", str(context),
                    "--parallel", "1", "--kv-unified", "--no-repack", "-t", "1"],
        "stop_timeout": "5s",
    }


config = {
    "listen": "127.0.0.1:0",
    "auth": {"token": token},
    "queue": {"max": 8, "timeout": "120s"},
    "state_dir": os.path.join(work, "state"),
    "policy": {"min_residency": "0s", "swap_quantum": {"requests": 4, "time": "30s"}},
    # ~340 MiB each once measured; 600 MiB holds one.
    "devices": [{"id": "host", "kind": "host", "capacity": "600MiB", "cushion": "0B"}],
    "models": {
        "gemma-a": {"kind": "llm", "memory": {"gguf": gguf, "context": 2048}, "aliases": ["gpt-4o-mini"],
                    "max_concurrency": 1, "backend": backend(2048)},
        "gemma-b": {"kind": "llm", "memory": {"gguf": gguf, "context": 4096}, "max_concurrency": 1,
                    "backend": backend(4096)},
    },
}
result = {}
proc, base = serve(vramd, config, work)
client = openai.OpenAI(base_url=base + "/v1", api_key=token, max_retries=0, timeout=120)


def raw(method, path, body=None, auth=True, content_type="application/json"):
    """One plain HTTP request; returns (status, headers, parsed JSON body)."""
    request = urllib.request.Request(base + path, data=body, method=method)
    if auth:
        request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"null")


def status():
    return raw("GET", "/v1/status")[2]


answered_as = []


def chat(model, content="Say hello.", max_tokens=8):
    r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": content}],
                                       max_tokens=max_tokens)
    answered_as.append(r.model)
    return r.choices[0].message.content


# A chat completion (through an alias), then a streamed one whose chunks arrive before the end.
# The servers are started without --alias: vramd adds one, or answers would name the GGUF path.
result["chat"] = chat("gpt-4o-mini")
result["answered_as"] = answered_as[-1]
arrivals = []
start = time.monotonic()
stream = client.chat.completions.create(model="gemma-a", stream=True, max_tokens=24,
                                        messages=[{"role": "user", "content": "Count from one to ten."}])
text = ""
for chunk in stream:
    arrivals.append(time.monotonic() - start)
    if chunk.choices and chunk.choices[0].delta.content:
        text += chunk.choices[0].delta.content
    result["streamed_as"] = chunk.model
result["stream_chunks"] = len(arrivals)
result["stream_first_chunk_s"] = arrivals[0]
result["stream_last_chunk_s"] = arrivals[-1]
result["stream_text"] = text

# A client that goes away cancels the upstream: cut a 2,000-token stream after two chunks; the
# backend's only slot is free again at once, so the next request does not wait for the rest.
cut = client.chat.completions.create(model="gemma-a", stream=True, max_tokens=2000,
                                     extra_body={"ignore_eos": True},
                                     messages=[{"role": "user", "content": "Write a very long story."}])
for i, _ in enumerate(cut):
    if i == 1:
        break
cut.close()
start = time.monotonic()
chat("gemma-a", max_tokens=4)
result["after_disconnect_s"] = time.monotonic() - start

# Alternating requests: every switch evicts the other model; none fails.
before = status()["scheduler"]["swaps"]
alternating = [chat(m) is not None for m in ["gemma-b", "gemma-a", "gemma-b", "gemma-a"]]
result["alternating_ok"] = all(alternating)
result["alternating_swaps"] = status()["scheduler"]["swaps"] - before

# The quantum: 4 requests queued for the resident model and 4 for the other, at once. The
# resident one's queue is served before the swap, so there are 1 or 2 swaps, not 8.
before = status()["scheduler"]["swaps"]
resident = "gemma-a"
with ThreadPoolExecutor(max_workers=8) as pool:
    futures = [pool.submit(chat, resident if i % 2 == 0 else "gemma-b") for i in range(8)]
    result["quantum_ok"] = all(f.result() is not None for f in futures)
result["quantum_swaps"] = status()["scheduler"]["swaps"] - before

# The same with the quantum off (config reloaded through the admin route): nothing holds a
# swap back, so the two models trade places more often.
config["policy"]["swap_quantum"] = {"requests": 0, "time": "30s"}
with open(config_path, "w") as f:
    json.dump(config, f)
result["reload_status"] = raw("POST", "/v1/admin/reload", b"")[0]
before = status()["scheduler"]["swaps"]
with ThreadPoolExecutor(max_workers=8) as pool:
    futures = [pool.submit(chat, resident if i % 2 == 0 else "gemma-b") for i in range(8)]
    result["no_quantum_ok"] = all(f.result() is not None for f in futures)
result["no_quantum_swaps"] = status()["scheduler"]["swaps"] - before

# A burst of 50: each is answered or refused with the structured 429.
def burst_one(i):
    try:
        chat("gemma-a" if i % 2 else "gemma-b", max_tokens=2)
        return "ok"
    except openai.RateLimitError as e:
        body = e.response.json()
        assert body["error"]["code"] == "queue_full", body
        assert e.response.headers.get("retry-after"), "429 without Retry-After"
        return "429"
    except Exception as e:  # anything else is a lost request
        return f"error: {e!r}"

with ThreadPoolExecutor(max_workers=50) as pool:
    outcomes = list(pool.map(burst_one, range(50)))
result["burst_ok"] = outcomes.count("ok")
result["burst_429"] = outcomes.count("429")
result["burst_other"] = [o for o in outcomes if o not in ("ok", "429")]

# Errors through the SDK: model not found, malformed body, unauthorized.
try:
    chat("no-such-model")
    result["not_found"] = None
except openai.NotFoundError as e:
    result["not_found"] = e.response.json()["error"]
code, _, body = raw("POST", "/v1/chat/completions", b"{not json")
result["malformed"] = {"status": code, "error": body["error"]}
try:
    openai.OpenAI(base_url=base + "/v1", api_key="wrong", max_retries=0).models.list()
    result["unauthorized"] = None
except openai.AuthenticationError as e:
    result["unauthorized"] = {"status": e.status_code, "error": e.response.json()["error"]}
result["healthz_open"] = raw("GET", "/healthz", auth=False)[0]
result["models_listed"] = sorted(m.id for m in client.models.list().data)

# SIGTERM with a request in flight: it finishes, then every process vramd started is gone.
def long_stream():
    s = client.chat.completions.create(model="gemma-a", stream=True, max_tokens=40,
                                       messages=[{"role": "user", "content": "Tell me a story."}])
    finish = None
    for chunk in s:
        if chunk.choices and chunk.choices[0].finish_reason:
            finish = chunk.choices[0].finish_reason
        if not started.is_set():
            started.set()
    return finish

started = threading.Event()
with ThreadPoolExecutor(max_workers=1) as pool:
    future = pool.submit(long_stream)
    assert started.wait(120), "the long stream never started"
    proc.send_signal(signal.SIGTERM)
    result["in_flight_finish_reason"] = future.result(timeout=120)
result["vramd_exit"] = proc.wait(timeout=120)


def llama_processes():
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if gguf in cmd and "llama-server" in cmd and state != "Z" and "openai_e2e" not in cmd:
            found.append(int(pid))
    return found

result["llama_processes_left"] = llama_processes()
print(json.dumps(result))
