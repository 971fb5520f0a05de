"""The quickstart's four-model box through vramd, driven by the openai SDK with real models.

Usage: voice_box.py VRAMD_BINARY QUICKSTART_YAML WORK_DIR

Serves examples/quickstart.yaml (listening on a free port, with its state in WORK_DIR) and runs:
speech from a known sentence, transcribed back; chat; embeddings; the facade's /v1/tts, /v1/stt
and /v1/llm and the audio proxy with real audio; the capacity forcing evictions in tier order;
measured footprints against each backend's process tree; SIGTERM. Prints one JSON object with
what it saw; an empty "failures" list means every check held.
"""
import json
import math
import os
import re
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import openai

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../Support"))
sys.dont_write_bytecode = True  # nothing written into the source tree
from vramd_serve import quickstart_config, serve  # noqa: E402

vramd, quickstart, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
failures, seen = [], {}
SENTENCE = "The quick brown fox jumps over the lazy dog."


def check(condition, what):
    if not condition:
        failures.append(what)
    return condition


def words(text):
    return re.findall(r"[a-z]+", text.lower())


# The quickstart as it is, but on a free port and with its state here.
config = quickstart_config(quickstart, os.path.join(work, "state"))
proc, base = serve(vramd, config, work)
client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=300)


def raw(method, route, body=None, headers=None):
    request = urllib.request.Request(base + route, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def status():
    return json.loads(raw("GET", "/v1/status")[2])


def resident():
    return sorted(m["id"] for m in status()["models"] if m["state"] == "ready")


def tree_rss(root):
    """Resident bytes of a process and its descendants at their peaks (VmHWM), from /proc: a
    footprint is what a model needs at its peak, which Python servers give back after a request."""
    children = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(pid))
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        stack += children.get(pid, [])
        try:
            with open(f"/proc/{pid}/status") as f:
                total += next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM:"))
        except (OSError, StopIteration):
            pass
    return total


def backends():
    """vramd's backend processes by model, read from their command lines (each has --alias)."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            if parent != proc.pid:
                continue
            with open(f"/proc/{pid}/cmdline") as f:
                argv = f.read().split("\0")
            found[argv[argv.index("--alias") + 1]] = int(pid)
        except (OSError, ValueError, IndexError):
            continue
    return found


def evictions(count):
    """The first `count` evictions the event stream recorded (a new subscriber gets the kept
    events first), read until they are there."""
    found = []
    with urllib.request.urlopen(urllib.request.Request(base + "/v1/events"), timeout=30) as response:
        buffer = ""
        while len(found) < count:
            chunk = response.read1(65536)
            if not chunk:
                break
            buffer += chunk.decode()
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                for part in block.split("\n"):
                    event = json.loads(part[6:]) if part.startswith("data: ") else {}
                    if event.get("kind") == "evicted":
                        found.append((event["model"], event["for"], event["rule"]))
    return found


try:
    # Text to speech, and back.
    speech = client.audio.speech.create(model="tts-1", voice="alloy", input=SENTENCE, response_format="wav").content
    check(speech[:4] == b"RIFF" and len(speech) > 40_000, f"speech: {len(speech)} bytes")
    heard = client.audio.transcriptions.create(model="whisper-1", file=("speech.wav", speech, "audio/wav")).text
    seen["transcribed"] = heard
    check(words(heard) == words(SENTENCE), f"transcribed {heard!r}")

    # Chat, with STT and TTS still resident: the three fit.
    chat = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Name a colour."}], max_tokens=8)
    # llama-server's --alias: the answer names the model, never its file.
    check(isinstance(chat.choices[0].message.content, str) and chat.model == "gemma", f"chat {chat}")
    check(resident() == ["gemma", "piper", "whisper"], f"three resident: {resident()}")

    # Embeddings: the fourth does not fit. The lowest tier goes first: the chat model.
    vectors = [d.embedding for d in client.embeddings.create(model="text-embedding-3-small", input=[
        "a cat sat on the mat", "a kitten sat on a rug", "stock prices fell sharply"]).data]

    def cosine(a, b):
        return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))

    seen["cosine"] = [cosine(vectors[0], vectors[1]), cosine(vectors[0], vectors[2])]
    check(len(vectors) == 3 and seen["cosine"][0] > seen["cosine"][1], f"embeddings {seen['cosine']}")
    check(resident() == ["embed", "piper", "whisper"], f"after embeddings: {resident()}")

    # The facade, with real audio both ways, and the chat model back (tiers above it must give way).
    status_code, headers, wav = raw("POST", "/v1/tts", json.dumps({"input": "Good morning everyone."}).encode(),
                                    {"Content-Type": "application/json"})
    check(status_code == 200 and wav[:4] == b"RIFF", f"/v1/tts {status_code}")
    boundary = "vramdboundary"
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
            f"Content-Type: audio/wav\r\n\r\n").encode() + wav + f"\r\n--{boundary}--\r\n".encode()
    status_code, _, body = raw("POST", "/v1/stt", form, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    check(status_code == 200 and "morning" in json.loads(body).get("text", "").lower(), f"/v1/stt {status_code} {body[:200]}")
    status_code, _, body = raw("POST", "/v1/llm", json.dumps({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}).encode(),
                               {"Content-Type": "application/json"})
    check(status_code == 200 and "choices" in json.loads(body), f"/v1/llm {status_code}")
    query = urllib.parse.urlencode({"input": SENTENCE, "voice": "alloy"})
    status_code, headers, proxied = raw("GET", "/audio/speech?" + query)
    check(status_code == 200 and proxied[:4] == b"RIFF", f"audio proxy {status_code}")
    heard = client.audio.transcriptions.create(model="whisper-1", file=("proxied.wav", proxied, "audio/wav")).text
    check(words(heard) == words(SENTENCE), f"audio proxy's speech transcribed {heard!r}")

    # Evictions in tier order, as the event stream recorded them.
    total = sum(status()["scheduler"]["evictions"].values())
    check(total >= 2, f"{total} evictions")
    seen["evictions"] = evicted = evictions(total)
    # The fourth model in evicts the lowest tier; the chat model back in must evict a tier above
    # its own (the just-loaded embeddings model may be kept by min_residency, then TTS goes).
    check(evicted[:1] == [("gemma", "embed", "lower_or_same_tier")], f"first eviction {evicted}")
    check(len(evicted) >= 2 and evicted[1][1] == "gemma" and evicted[1][2] == "upward_last_resort"
          and evicted[1][0] in ("embed", "piper"), f"second eviction {evicted}")
    tiers = {name: model["priority"] for name, model in config["models"].items()}
    for target in ("embed", "gemma"):
        victims = [tiers[victim] for victim, wanted, _ in evicted if wanted == target]
        check(victims == sorted(victims), f"victims for {target} out of tier order: {evicted}")

    # Measured footprints: what each backend's processes held at their peak, within 20 %.
    deadline, close = time.time() + 20, {}
    while time.time() < deadline:
        pids = backends()
        models = {m["id"]: m for m in status()["models"] if m["state"] == "ready"}
        close = {}
        for name, model in models.items():
            rss = tree_rss(pids[name]) if name in pids else 0
            close[name] = (model["footprint"], rss, model["footprint_source"])
        if close and all(source == "measured" and rss and abs(footprint - rss) <= 0.2 * rss
                         for footprint, rss, source in close.values()):
            break
        time.sleep(0.5)  # polled: the footprint follows the processes at vramd's own pace
    seen["footprints"] = close
    for name, (footprint, rss, source) in close.items():
        check(source == "measured" and rss and abs(footprint - rss) <= 0.2 * rss,
              f"{name}: footprint {footprint} ({source}) against {rss} resident")
    seen["backend_pids"] = list(backends().values())
finally:
    proc.send_signal(signal.SIGTERM)
    seen["vramd_exit"] = proc.wait(timeout=120)

alive = []
for pid in seen.get("backend_pids", []):
    try:
        os.kill(pid, 0)
        alive.append(pid)
    except ProcessLookupError:
        pass
check(not alive, f"left running after SIGTERM: {alive}")
seen["failures"] = failures
print(json.dumps(seen))
