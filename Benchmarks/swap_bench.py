"""Swaps between two real llama.cpp models where only one fits, vramd against llama.cpp's own
router mode (`llama-server --models-dir DIR --models-max 1`), side by side in the same run.
Run by scripts/bench; prints a Markdown report.

Usage: swap_bench.py VRAMD_BINARY LLAMA_SERVER GGUF WORK_DIR [REPEATS [ALTERNATIONS [SECONDS]]]

Both peers serve the same GGUF under two names (gemma-a, gemma-b: two symlinks in one folder)
with the same llama-server flags (-c, --parallel 1, -t). vramd declares 700 MiB a model on a
1 GiB simulated device, so a request for one model evicts the other, as the router's
`--models-max 1` does. The cases:

1. swap back: a ~2,000-token conversation on gemma-a, one short request to gemma-b (it evicts
   gemma-a), then gemma-a's next turn (the whole conversation and a short question), timed; vramd
   with `prompt_cache: true` on gemma-a, vramd without, the router. REPEATS times, a fresh
   conversation each time.
2. alternating: one client, ALTERNATIONS short requests A, B, A, B…, every one a swap; the
   peers take turns request by request.
3. contention: two clients for SECONDS on each peer, each asking its own model back to back.
4. cold page cache: vramd's `POST /v1/models/gemma-a/load` after the GGUF was dropped from the
   page cache, against the same after it was read into it.
"""
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

vramd, llama_server, gguf, work = sys.argv[1:5]
repeats = int(sys.argv[5]) if len(sys.argv) > 5 else 2
alternations = int(sys.argv[6]) if len(sys.argv) > 6 else 8
seconds = float(sys.argv[7]) if len(sys.argv) > 7 else 30
os.makedirs(work, exist_ok=True)
real_gguf = os.path.realpath(gguf)
MODELS = ("gemma-a", "gemma-b")
# The llama-server flags both peers give every model.
FLAGS = ["-c", "4096", "--parallel", "1", "-t", "2", "--no-repack"]
# policy.swap_quantum's default time (4 requests / 2 s): the longest a model keeps the device
# once a load for another waits on it.
QUANTUM_S = 2.0
# policy.min_residency's default: under contention a model just loaded stays this long.
MIN_RESIDENCY_S = 5.0
models_dir = os.path.join(work, "models")
os.makedirs(models_dir, exist_ok=True)
for name in MODELS:
    link = os.path.join(models_dir, f"{name}.gguf")
    if not os.path.islink(link):
        os.symlink(real_gguf, link)

processes = []  # every process started here, stopped at the end
stopped = []
report = []


def start(args, name):
    log = open(os.path.join(work, f"{name}.log"), "w")
    # A session of its own, so the process and whatever it spawned can be stopped together.
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)
    processes.append(process)
    return process


def stop(process):
    """SIGTERM, then the process group: vramd and the router stop their children themselves, and
    the group catches any they left. Once per process."""
    if process in stopped:
        return
    stopped.append(process)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def start_vramd(name, prompt_cache=False):
    def model(model_id):
        return {"kind": "llm", "memory": "700MiB", "prompt_cache": prompt_cache and model_id == "gemma-a",
                "backend": {"type": "process", "stop_timeout": "5s",
                            "command": [llama_server, "-m", os.path.join(models_dir, f"{model_id}.gguf"),
                                        "--host", "127.0.0.1", "--port", "${PORT}", *FLAGS, "--alias", "${MODEL_ID}"]}}
    directory = os.path.join(work, name)
    os.makedirs(directory, exist_ok=True)
    config = {"listen": "127.0.0.1:0", "state_dir": os.path.join(directory, "state"), "queue": {"max": 1000},
              "devices": [{"id": "gpu0", "kind": "simulated", "capacity": "1GiB"}],
              "models": {model_id: model(model_id) for model_id in MODELS}}
    path = os.path.join(directory, "vramd.yaml")
    with open(path, "w") as f:
        json.dump(config, f)  # JSON is YAML
    process = start([vramd, "serve", "--config", path], name)
    line = process.stdout.readline()
    assert "listening on" in line, f"{name}: vramd did not start: {line!r}"
    return process, line.strip().split()[-1]


def start_router():
    port = free_port()
    process = start([llama_server, "--models-dir", models_dir, "--models-max", "1", "--host", "127.0.0.1",
                     "--port", str(port), *FLAGS], "router")
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(base + "/health", timeout=2) as r:
                if r.status == 200:
                    return process, base
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the router did not start")
            time.sleep(0.05)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(base, path, body):
    """The answer's JSON and the seconds it took."""
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    t0 = time.monotonic()
    with urllib.request.urlopen(request, timeout=600) as r:
        answer = json.loads(r.read())
    return answer, time.monotonic() - t0


def chat(base, model, messages, max_tokens=2):
    return post(base, "/v1/chat/completions", {"model": model, "messages": messages, "max_tokens": max_tokens,
                                               "temperature": 0})


def short(base, model):
    return chat(base, model, [{"role": "user", "content": "Hi"}])


def status(base):
    with urllib.request.urlopen(base + "/v1/status", timeout=30) as r:
        return json.loads(r.read())


def page_cache_share(path):
    """The share of the file's pages in the page cache, by fincore."""
    out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES,SIZE", path],
                         capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]) / max(1, int(out[1]))


def mapped_by_others(path):
    """Processes not started here that map the file: their pages stay in the page cache."""
    ours = {p.pid for p in processes}
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/maps") as f:
                    if path in f.read():
                        found.append(int(entry))
            except OSError:
                pass
    def group(pid):
        try:
            return os.getpgid(pid)
        except OSError:
            return None
    return [pid for pid in found if pid not in ours and group(pid) not in ours]


def drop_from_page_cache(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def read_into_page_cache(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
        while os.read(fd, 1 << 22):
            pass
    finally:
        os.close(fd)


def median(values):
    return statistics.median(values) if values else float("nan")


def cold_page_cache():
    """Case 4; also what a warm load and a resident short request take, for case 3's bound."""
    process, base = start_vramd("load")
    cold, warm, cold_share, warm_share, others = [], [], [], [], set()
    try:
        for _ in range(3):
            for kind in ("cold", "warm"):
                post(base, "/v1/models/gemma-a/unload", {})
                if kind == "cold":
                    others.update(mapped_by_others(real_gguf))
                    drop_from_page_cache(real_gguf)
                    cold_share.append(page_cache_share(real_gguf))
                else:
                    read_into_page_cache(real_gguf)
                    warm_share.append(page_cache_share(real_gguf))
                (cold if kind == "cold" else warm).append(post(base, "/v1/models/gemma-a/load", {})[1])
        short(base, "gemma-a")
        service = median([short(base, "gemma-a")[1] for _ in range(3)])
    finally:
        stop(process)
    return {"cold": cold, "warm": warm, "cold_share": max(cold_share), "warm_share": min(warm_share),
            "service": service, "others": len(others)}


FACT = "Fact {i}: the river number {i} flows into lake number {j} near town {k}, which has {m} bridges."


def swap_back():
    """Case 1: the measured turn's seconds and timings, per peer."""
    peers = {"vramd, prompt_cache": start_vramd("swap-back-cached", prompt_cache=True),
             "vramd, no prompt_cache": start_vramd("swap-back-uncached"),
             "llama.cpp router": start_router()}
    results = {label: [] for label in peers}
    try:
        for repeat in range(repeats):
            for label, (_, base) in peers.items():
                # A conversation no server has seen: no earlier cache helps its first turn.
                salt = repeat * 10 + list(peers).index(label)
                facts = " ".join(FACT.format(i=i, j=(i * 7 + salt) % 31, k=i * 3 + salt, m=(i + salt) % 9)
                                 for i in range(75))
                messages = [{"role": "user", "content": facts + " Which lake does river 3 flow into?"}]
                first, _ = chat(base, "gemma-a", messages, max_tokens=4)
                messages += [first["choices"][0]["message"], {"role": "user", "content": "And river 4?"}]
                short(base, "gemma-b")  # evicts gemma-a
                answer, elapsed = chat(base, "gemma-a", messages, max_tokens=4)
                results[label].append((elapsed, answer["timings"]))
        saved = status(peers["vramd, prompt_cache"][1])["scheduler"].get("prompt_cache", {})
    finally:
        for process, _ in peers.values():
            stop(process)
    return results, saved


def alternating():
    """Case 2: every request's seconds, per peer, the peers taking turns request by request."""
    peers = {"vramd": start_vramd("alternating"), "llama.cpp router": start_router()}
    results = {label: [] for label in peers}
    try:
        for i in range(alternations):
            for label, (_, base) in peers.items():
                results[label].append(short(base, MODELS[i % 2])[1])
        swaps = status(peers["vramd"][1])["scheduler"].get("swaps")
    finally:
        for process, _ in peers.values():
            stop(process)
    return results, swaps


def contention(label, start_peer):
    """Case 3 on one peer: two clients, each its own model back to back, for `seconds`."""
    process, base = start_peer()
    latencies, finished, answered, failed = [], [], [0], [0]
    lock = threading.Lock()
    try:
        deadline = time.monotonic() + seconds

        def client(model):
            while time.monotonic() < deadline:
                try:
                    _, elapsed = short(base, model)
                except (urllib.error.URLError, OSError):
                    with lock:
                        failed[0] += 1
                    continue
                with lock:
                    latencies.append(elapsed)
                    finished.append((time.monotonic(), model))
                    if time.monotonic() <= deadline:
                        answered[0] += 1
        threads = [threading.Thread(target=client, args=(model,)) for model in MODELS]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        swaps = status(base)["scheduler"].get("swaps") if label == "vramd" else None
    finally:
        stop(process)
    # Runs of answers for one model, in the order they finished: how many each residency served.
    runs = [1 for i, (_, model) in enumerate(finished) if i == 0 or finished[i - 1][1] != model]
    return {"answered": answered[0], "failed": failed[0], "p50": median(latencies), "runs": len(runs),
            "worst": max(latencies, default=float("nan")), "latencies": latencies, "swaps": swaps}


try:
    load = cold_page_cache()
    back, saved = swap_back()
    alternate, vramd_swaps = alternating()
    contended = {"vramd": contention("vramd", lambda: start_vramd("contention")),
                 "llama.cpp router": contention("router", start_router)}
finally:
    for p in processes:
        stop(p)

# The report.
router_back = median([elapsed for elapsed, _ in back["llama.cpp router"]])
report.append("## Swaps against llama.cpp's router\n")
report.append(f"gemma-a and gemma-b: one GGUF (`{os.path.basename(real_gguf)}`) under two names; llama-server flags "
              f"`{' '.join(FLAGS)}` on both peers. vramd: 700 MiB a model on a 1 GiB simulated device, default "
              "policy; the router: `--models-dir DIR --models-max 1`.\n")
report.append("| case | vramd | router | vramd ÷ router | goal |")
report.append("|---|---|---|---|---|")
for label in ("vramd, prompt_cache", "vramd, no prompt_cache"):
    ours = median([elapsed for elapsed, _ in back[label]])
    goal = "≤ 0.2×" + (" " + ("met" if ours / router_back <= 0.2 else "**not met**") if "prompt_cache" in label
                       and "no" not in label else "")
    report.append(f"| 1. swap-back turn, {label} (median of {repeats}) | {ours:.2f} s | {router_back:.2f} s | "
                  f"{ours / router_back:.2f}× | {goal} |")
ours, theirs = median(alternate["vramd"]), median(alternate["llama.cpp router"])
report.append(f"| 2. alternating A,B,… one client, median of {alternations} | {ours:.2f} s | {theirs:.2f} s | "
              f"{ours / theirs:.2f}× | ≤ 1.0× {'met' if ours / theirs <= 1.0 else '**not met**'} |")
ours, theirs = contended["vramd"], contended["llama.cpp router"]
ratio = ours["answered"] / max(1, theirs["answered"])
report.append(f"| 3. two clients, {seconds:.0f} s: answered | {ours['answered']} | {theirs['answered']} | {ratio:.1f}× | "
              f"≥ 5× {'met' if ratio >= 5 else '**not met**'} |")
report.append(f"| 3. p50 latency | {ours['p50']:.2f} s | {theirs['p50']:.2f} s | {ours['p50'] / theirs['p50']:.2f}× | – |")
report.append(f"| 3. worst latency | {ours['worst']:.2f} s | {theirs['worst']:.2f} s | "
              f"{ours['worst'] / theirs['worst']:.2f}× | – |")
cold, warm = median(load["cold"]), median(load["warm"])
report.append(f"| 4. vramd load, cold page cache ÷ warm (median of {len(load['cold'])}) | {cold:.2f} s cold | "
              f"{warm:.2f} s warm | {cold / warm:.2f}× | – |")
report.append("")
report.append("Case 1, the measured turn's `timings` (`cache_n` / `prompt_n`, each repetition): " + "; ".join(
    f"{label}: " + ", ".join(f"{t['cache_n']}/{t['prompt_n']} (prompt {t['prompt_ms'] / 1000:.2f} s) in {elapsed:.2f} s" for elapsed, t in runs)
    for label, runs in back.items()) + f". vramd's prompt cache: {json.dumps(saved)}.")
report.append(f"Case 2, every request: vramd {', '.join(f'{s:.2f}' for s in alternate['vramd'])} s; router "
              f"{', '.join(f'{s:.2f}' for s in alternate['llama.cpp router'])} s; vramd swaps: {vramd_swaps}.")
bound = QUANTUM_S + 2 * warm + load["service"]
over = [s for s in ours["latencies"] if s > bound]
residency_bound = MIN_RESIDENCY_S + 2 * warm + load["service"]
over_residency = [s for s in ours["latencies"] if s > residency_bound]
report.append(f"Case 3: vramd swapped {ours['swaps']} times, {len(ours['latencies']) / max(1, ours['runs']):.1f} answers "
              f"a residency (router {len(theirs['latencies']) / max(1, theirs['runs']):.1f}); failed requests vramd {ours['failed']}, router "
              f"{theirs['failed']}. One quantum ({QUANTUM_S:.0f} s) plus two warm loads (2 × {warm:.2f} s) plus a "
              f"resident request ({load['service']:.2f} s) is {bound:.2f} s: {len(over)} of "
              f"{len(ours['latencies'])} vramd requests took longer"
              + (f" (the longest {max(over):.2f} s)" if over else "")
              + f"; with min_residency ({MIN_RESIDENCY_S:.0f} s) in place of the quantum, {residency_bound:.2f} s: "
              f"{len(over_residency)} took longer.")
report.append(f"Case 4: the GGUF's share in the page cache before the load: cold {load['cold_share']:.0%} (at most), "
              f"warm {load['warm_share']:.0%} (at least); loads cold {', '.join(f'{s:.2f}' for s in load['cold'])} s, "
              f"warm {', '.join(f'{s:.2f}' for s in load['warm'])} s"
              + (f"; {load['others']} other processes mapped the file meanwhile." if load["others"] else "."))
print("\n".join(report))
