"""A conversation's prompt cache kept across a swap, with real llama.cpp servers.

Usage: prompt_cache.py VRAMD_BINARY LLAMA_SERVER MODEL_GGUF WORK_DIR

Two gemma models that do not fit together. A conversation on `chat`, a request to `other` that
evicts it, then the conversation's next turn: with `prompt_cache: true` the turn finds its
prefix (llama.cpp's `timings.cache_n`); without, it reads the whole prompt again. Then a saved
file corrupted and a file of other settings beside it (skipped, the request still answers), and
`prompt_cache_disk` keeping the files under its bound. Prints one JSON object of findings; an
empty "failures" list means every check held.
"""
import json
import os
import signal
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../Support"))
sys.dont_write_bytecode = True  # nothing written into the source tree
from vramd_serve import serve  # noqa: E402

vramd, llama_server, gguf, work = sys.argv[1:5]
failures, seen = [], {}
FACTS = " ".join(f"Fact {i}: the river number {i} flows into lake number {i * 7 % 31} near town {i * 3}." for i in range(30))


def check(condition, what):
    if not condition:
        failures.append(what)
    return condition


def start(name, prompt_cache, disk="4GiB"):
    def model(cache):
        return {"kind": "llm", "memory": "700MiB", "prompt_cache": cache,
                "backend": {"type": "process", "stop_timeout": "5s",
                            "command": [llama_server, "-m", gguf, "--host", "127.0.0.1", "--port", "${PORT}", "-c", "2048",
                                        "--parallel", "1", "--no-repack", "-t", "2", "--alias", "${MODEL_ID}"]}}
    directory = os.path.join(work, name)
    config = {"listen": "127.0.0.1:0", "state_dir": os.path.join(directory, "state"),
              "policy": {"min_residency": "0s", "prompt_cache_disk": disk},
              "devices": [{"id": "gpu0", "kind": "simulated", "capacity": "1GiB"}],
              "models": {"chat": model(prompt_cache), "other": model(False)}}
    proc, base = serve(vramd, config, directory, name)
    return proc, base, os.path.join(directory, "state", "prompt-cache", "chat")


def post(base, body):
    request = urllib.request.Request(base + "/v1/chat/completions", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.loads(response.read())


def status(base):
    with urllib.request.urlopen(base + "/v1/status", timeout=30) as response:
        return json.loads(response.read())


def conversation(base, between=None):
    """Turn one on `chat`, then `between()` (a swap), then turn two; returns turn two's timings."""
    messages = [{"role": "user", "content": FACTS + " Which lake does river 3 flow into?"}]
    first = post(base, {"model": "chat", "messages": messages, "max_tokens": 4, "temperature": 0})
    messages += [first["choices"][0]["message"], {"role": "user", "content": "And river 4?"}]
    post(base, {"model": "other", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2})
    if between:
        between()
    return post(base, {"model": "chat", "messages": messages, "max_tokens": 4, "temperature": 0})["timings"]


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=120)


# With the prompt cache: the next turn after a swap finds its prefix.
proc, base, cache = start("cached", True)
try:
    timings = conversation(base)
    seen["cached"] = timings
    covered = timings["cache_n"] / max(1, timings["cache_n"] + timings["prompt_n"])
    check(covered >= 0.8, f"with prompt_cache the turn after a swap found {covered:.0%} of its prompt: {timings}")
    stats = status(base)["scheduler"]["prompt_cache"]
    seen["stats"] = stats
    check(stats["saves"] >= 1 and stats["restores"] >= 1 and stats["bytes_saved"] > 0 and stats["failures"] == 0, f"stats {stats}")

    # A corrupted file and one of other settings: the first fails, the second is left alone,
    # and the request still gets its answer (with the prompt read again).
    def spoil():
        names = [n for n in os.listdir(cache) if n.endswith(".bin")]
        check(len(names) == 1, f"saved files {names}")
        with open(os.path.join(cache, names[0]), "wb") as f:
            f.write(b"not a slot")
        with open(os.path.join(cache, "0000000000000000-slot0.bin"), "wb") as f:
            f.write(b"other settings")
    timings = conversation(base, between=spoil)
    seen["spoiled"] = timings
    stats = status(base)["scheduler"]["prompt_cache"]
    check(stats["failures"] >= 1 and stats["skipped"] >= 1, f"after a corrupt file: {stats}")
finally:
    seen["cached_exit"] = stop(proc)
log = open(os.path.join(work, "cached", "vramd.log")).read()
check("restore failed" in log and "made for another model file" in log, "the reasons are logged")

# Without: the whole prompt is read again.
proc, base, _ = start("uncached", False)
try:
    timings = conversation(base)
    seen["uncached"] = timings
    check(timings["cache_n"] == 0, f"without prompt_cache: {timings}")
finally:
    stop(proc)

# The disk bound: a file larger than the bound is removed once saved.
proc, base, cache = start("bounded", True, disk="1KB")
try:
    post(base, {"model": "chat", "messages": [{"role": "user", "content": FACTS}], "max_tokens": 2})
    post(base, {"model": "other", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2})
    stats = status(base)["scheduler"]["prompt_cache"]
    check(stats["saves"] == 1, f"bounded: {stats}")
    check([n for n in os.listdir(cache) if n.endswith(".bin")] == [], f"kept over the bound: {os.listdir(cache)}")
finally:
    stop(proc)

seen["failures"] = failures
print(json.dumps(seen))
