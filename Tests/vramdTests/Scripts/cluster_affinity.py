"""Two `vramd serve` nodes on loopback, each with real llama.cpp servers, behind a picker.

Usage: cluster_affinity.py VRAMD_BINARY LLAMA_SERVER MODEL_GGUF WORK_DIR

The picker is test code standing in for the Gateway API Inference Extension's endpoint picker:
it reads each node's /metrics with prometheus_client's parser and scores it as the EPP's
lora-affinity scorer does (1.0 when the requested model is running there, 0.8 when the node has
room to load it, 0.6 when it is waiting there, else 0), the first node winning ties. The same
mixed sequence of requests then runs through a round-robin picker on two fresh nodes. Prints one
JSON object with what it saw; the Swift test asserts on it.
"""
import json
import os
import signal
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../Support"))
sys.dont_write_bytecode = True  # nothing written into the source tree
from vramd_serve import serve  # noqa: E402

vramd, llama_server, gguf, work = sys.argv[1:5]
os.makedirs(work, exist_ok=True)
SEQUENCE = ["gemma-a", "gemma-a", "gemma-b", "gemma-b", "gemma-a", "gemma-b", "gemma-a", "gemma-a", "gemma-b", "gemma-b"]


def config(name):
    def backend():
        return {"type": "process", "stop_timeout": "5s",
                "command": [llama_server, "-m", gguf, "--host", "127.0.0.1", "--port", "${PORT}", "-c", "512",
                            "--parallel", "1", "--no-repack", "-t", "1", "--alias", "${MODEL_ID}"]}
    return {
        "listen": "127.0.0.1:0",
        "state_dir": os.path.join(work, name, "state"),
        "policy": {"min_residency": "0s"},
        # Declared sizes on a simulated device: one model fits a node, never two.
        "devices": [{"id": "gpu0", "kind": "simulated", "capacity": "1GiB"}],
        "models": {
            "gemma-a": {"kind": "llm", "memory": "700MiB", "backend": backend()},
            "gemma-b": {"kind": "llm", "memory": "700MiB", "backend": backend()},
        },
    }


def start(name):
    return serve(vramd, config(name), os.path.join(work, name), name)


def get(url):
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read().decode()


def chat(base, model):
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}).encode()
    request = urllib.request.Request(base + "/v1/chat/completions", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.status, json.loads(response.read())


def residency(base):
    series = []
    for family in text_string_to_metric_families(get(base + "/metrics")):
        series += [s for s in family.samples if s.name == "vramd_model_residency"]
    assert len(series) == 1, f"{base}: {len(series)} residency series"
    labels = series[0].labels
    split = lambda key: [n.strip() for n in labels[key].split(",") if n.strip()]
    return split("running_lora_adapters"), split("waiting_lora_adapters"), int(labels["max_lora"])


def lora_affinity(base, model):
    running, waiting, max_lora = residency(base)
    if model in running:
        return 1.0
    if len(running) + len(waiting) < max_lora:
        return 0.8
    if model in waiting:
        return 0.6
    return 0.0


def loads(base):
    return json.loads(get(base + "/v1/status"))["scheduler"]["loads"]


def resident_on(base):
    return [m["id"] for m in json.loads(get(base + "/v1/status"))["models"] if m["state"] == "ready"]


def run(picker):
    nodes = [start(f"{picker}-0"), start(f"{picker}-1")]
    bases = [base for _, base in nodes]
    routed, statuses, hits = [], [], 0
    try:
        for index, model in enumerate(SEQUENCE):
            if picker == "affinity":
                scores = [lora_affinity(base, model) for base in bases]
                choice = scores.index(max(scores))
            else:
                choice = index % 2
            if model in resident_on(bases[choice]):
                hits += 1
            status, answer = chat(bases[choice], model)
            statuses.append(status)
            assert answer.get("model") == model, f"answered as {answer.get('model')!r}"
            routed.append(choice)
        total = sum(loads(base) for base in bases)
        residents = [resident_on(base) for base in bases]
    finally:
        for proc, _ in nodes:
            proc.send_signal(signal.SIGTERM)
        for proc, _ in nodes:
            proc.wait(timeout=60)
    return {"loads": total, "routed": routed, "statuses": statuses, "hits": hits, "residents": residents}


print(json.dumps({"affinity": run("affinity"), "round_robin": run("round_robin")}))
