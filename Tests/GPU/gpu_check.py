#!/usr/bin/env python3
"""The GPU path of vramd on a real NVIDIA card, run by scripts/gpu-check on a machine with a GPU,
PyTorch and a prebuilt vramd (CI has no GPU; the results go into the issue notes).

Backends are gpu_backend.py processes that hold real VRAM. It checks: the NVML reading against
nvidia-smi; a measured footprint larger than the declared one replacing it; an eviction that
really frees the card; memory held by a process vramd did not start (foreign) being noticed,
so vramd evicts or refuses instead of overcommitting; SIGTERM leaving no process on the card.
"""
import json, os, signal, socket, subprocess, sys, tempfile, time, urllib.request, urllib.error

HERE = os.path.dirname(os.path.abspath(__file__))
GIB = 1 << 30
failures = []


def check(condition, what, detail=""):
    print(("PASS " if condition else "FAIL ") + what + (f"  ({detail})" if detail else ""), flush=True)
    if not condition:
        failures.append(what)


def smi(query, kind="gpu"):
    flag = "--query-gpu" if kind == "gpu" else "--query-compute-apps"
    out = subprocess.run(["nvidia-smi", f"{flag}={query}", "--format=csv,noheader,nounits", "-i", "0"],
                         capture_output=True, text=True, check=True).stdout
    return [[field.strip() for field in line.split(",")] for line in out.strip().splitlines() if line.strip()]


def smi_memory():
    total, used, free = (int(v) << 20 for v in smi("memory.total,memory.used,memory.free")[0])
    return total, used, free


def compute_pids():
    return {int(row[0]): int(row[1]) << 20 for row in smi("pid,used_memory", "apps") if row[0].isdigit()}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, body=None, timeout=180):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as reply:
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def chat(port, model):
    return request(port, "POST", "/v1/chat/completions", {"model": model, "messages": [{"role": "user", "content": "hi"}]})


def status(port):
    code, body = request(port, "GET", "/v1/status")
    assert code == 200, body
    return body


def model_status(port, model):
    return next(m for m in status(port)["models"] if m["id"] == model)


def hold_foreign(gib):
    """A process vramd knows nothing about that holds `gib` GiB, as another user's job would."""
    holder = subprocess.Popen([sys.executable, "-c", (
        "import torch,sys,time\n"
        f"x=torch.empty({int(gib * GIB)},dtype=torch.uint8,device='cuda'); x.fill_(1); torch.cuda.synchronize()\n"
        "print('held',flush=True); sys.stdin.read()")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def main():
    vramd = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp()
    total, used_before, _ = smi_memory()
    print(f"GPU: {smi('name')[0][0]}, {total / GIB:.1f} GiB, {used_before / GIB:.2f} GiB used before", flush=True)
    port = free_port()

    def model(name, declared, holds):
        command = [sys.executable, f"{HERE}/gpu_backend.py", "--port", "${PORT}", "--gib", str(holds), "--name", name]
        return f"  {name}: {{kind: llm, memory: {declared}GiB, keep_alive: forever, backend: {{type: process, command: {json.dumps(command)}, load_timeout: 120s}}}}\n"

    config = os.path.join(out, "gpu.yaml")
    with open(config, "w") as f:
        f.write(f"listen: 127.0.0.1:{port}\nstate_dir: {out}/state\npolicy: {{min_residency: 0s}}\n"
                "devices: [{id: gpu0, kind: nvidia, index: 0, cushion: 1GiB}]\nmodels:\n")
        # a declares less than it holds: the measured footprint must replace the declaration.
        f.write(model("a", 20, 30) + model("b", 24, 24) + model("c", 24, 24))
    log = open(os.path.join(out, "vramd.log"), "w")
    server = subprocess.Popen([vramd, "serve", "--config", config],
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if request(port, "GET", "/healthz", timeout=1)[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        device = status(port)["devices"][0]
        print("status device:", json.dumps(device), flush=True)
        check(abs(device["capacity"] - total) <= total // 100, "device capacity is the card's total (NVML)",
              f"{device['capacity'] / GIB:.2f} vs nvidia-smi {total / GIB:.2f} GiB")
        # NVML counts the driver's reserved memory as used; nvidia-smi's `used` leaves it out, its `free` does not.
        _, _, free_before = smi_memory()
        check(abs(device["foreign"] - (total - free_before)) <= 256 << 20, "idle card: foreign is total − free as nvidia-smi reports them",
              f"{device['foreign'] / GIB:.2f} vs {(total - free_before) / GIB:.2f} GiB")

        code, body = chat(port, "a")
        check(code == 200, "a loads and answers", f"{code} {body}")
        a = model_status(port, "a")
        apps = compute_pids()
        print("a:", json.dumps(a), "apps:", apps, flush=True)
        check(a["footprint_source"] == "measured" and a["footprint"] >= 30 * GIB,
              "a's measured footprint (30 GiB held + CUDA context) replaces its declared 20 GiB",
              f"{a['footprint'] / GIB:.2f} GiB, {a['footprint_source']}")
        check(len(apps) == 1 and abs(sum(apps.values()) - a["footprint"]) <= 64 << 20,
              "measured footprint matches nvidia-smi's per-process figure", f"{apps}")

        check(chat(port, "b")[0] == 200, "b loads beside a (30.5 + 24.5 GiB fit)")
        used_two = smi_memory()[1]
        code, _ = chat(port, "c")
        check(code == 200, "c loads")
        states = {m["id"]: m["state"] for m in status(port)["models"]}
        check(states == {"a": "unloaded", "b": "ready", "c": "ready"}, "c evicted a, the least recently used", f"{states}")
        apps = compute_pids()
        check(len(apps) == 2, "a's process is gone from the card", f"{apps}")
        used_now = smi_memory()[1]
        print(f"used with a+b: {used_two / GIB:.2f} GiB; with b+c: {used_now / GIB:.2f} GiB", flush=True)
        check(used_now < used_two, "the card really has a's memory back", f"{used_two / GIB:.2f} -> {used_now / GIB:.2f} GiB")

        # b and c (49.2 GiB) are resident; a stranger takes 20 GiB, so a (30.6 GiB measured) fits only
        # if one of them goes: without noticing the stranger, vramd would load a beside both.
        holder = hold_foreign(20)
        try:
            code, body = chat(port, "a")
            states = {m["id"]: m["state"] for m in status(port)["models"]}
            device = status(port)["devices"][0]
            print("with 20 GiB foreign:", code, json.dumps(device), states, flush=True)
            check(code == 200 and states == {"a": "ready", "b": "unloaded", "c": "ready"},
                  "20 GiB held by a stranger: vramd evicts b (LRU) for a instead of overcommitting", f"{code} {states}")
            check(device["foreign"] >= 20 * GIB, "the stranger's memory is counted as foreign", f"{device['foreign'] / GIB:.2f} GiB")
        finally:
            holder.kill(); holder.wait()
        for name in ("a", "c"):
            request(port, "POST", f"/v1/models/{name}/unload", {})
        holder = hold_foreign(56)
        try:
            code, body = chat(port, "b")
            print("with 56 GiB foreign:", code, json.dumps(body), flush=True)
            check(code in (503, 507) and body["error"]["code"] == "insufficient_memory",
                  "56 GiB held by a stranger: b (24.6 GiB) is refused with a structured error", f"{code} {body}")
            check(len(compute_pids()) == 1, "and no backend was started to find that out", f"{compute_pids()}")
        finally:
            holder.kill(); holder.wait()
    finally:
        children = set(compute_pids())
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            check(False, "vramd stops within 60 s of SIGTERM")
        log.close()
    left = compute_pids()
    check(not left, "after SIGTERM no process is left on the card", f"before {children}, after {left}")
    text = open(os.path.join(out, "vramd.log")).read()
    check("NVML unavailable" not in text, "vramd read the card through NVML, not nvidia-smi")
    print(f"{len(failures)} failed" if failures else "all passed", flush=True)
    sys.exit(1 if failures else 0)


main()
