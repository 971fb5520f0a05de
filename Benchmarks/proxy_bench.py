"""vramd's proxy, cold-load, swap and daemon benchmarks (issue 7), each against a baseline
measured in the same run. Run by scripts/bench; prints a Markdown report.

Usage: proxy_bench.py VRAMD_BINARY FAST_BACKEND_BINARY RELAY_BINARY WORK_DIR [SECONDS [ROUNDS]]

Each proxy figure is the median of ROUNDS runs of SECONDS, the targets taking turns.
"""
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from proxy_setup import (bodies as proxy_bodies, children, free_port, start, stop_children, vramd_config, wait_http,
                         write_nginx_conf)

vramd, backend_binary, relay_binary, work = sys.argv[1:5]
seconds = int(sys.argv[5]) if len(sys.argv) > 5 else 3
rounds = int(sys.argv[6]) if len(sys.argv) > 6 else 3
os.makedirs(work, exist_ok=True)


def start_vramd(config, name):
    path = os.path.join(work, f"{name}.yaml")
    with open(path, "w") as f:
        json.dump(config, f)
    t0 = time.monotonic()
    process = start([vramd, "serve", "--config", path, "--log-level", "warning"], stdout=subprocess.PIPE,
                    stderr=open(os.path.join(work, f"{name}.log"), "w"), text=True)
    line = process.stdout.readline()
    ready = time.monotonic() - t0
    assert "listening on" in line, line
    return process, line.strip().split()[-1], ready


def post(base, path, body, timeout=30):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as r:
        return r.read()


def status(base):
    with urllib.request.urlopen(base + "/v1/status") as r:
        return json.loads(r.read())


def stat_fields(pid):
    """The fields of /proc/PID/stat after the command name, from the state on."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def cpu_seconds(pids):
    """User and system CPU time the processes have used so far."""
    user = system = 0
    for pid in pids:
        fields = stat_fields(pid)
        user += int(fields[11])
        system += int(fields[12])
    return user / os.sysconf("SC_CLK_TCK"), system / os.sysconf("SC_CLK_TCK")


def children_of(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(stat_fields(entry)[1]) == pid:  # the parent's pid
                    found.append(int(entry))
            except OSError:
                pass
    return found


def pin(pids, cpus):
    """Every thread of the processes onto `cpus`."""
    for pid in pids:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                os.sched_setaffinity(int(task), cpus)
            except ProcessLookupError:
                pass  # a thread that ended after the listing


def wrk(url, body, connections, proxy_pids=(), cpus=None):
    """One wrk run; with `proxy_pids`, also the CPU the proxy spent per request."""
    script = os.path.join(work, "post.lua")
    with open(script, "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                f"wrk.body = {json.dumps(json.dumps(body))}\n")
    cpu_before = cpu_seconds(proxy_pids)
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, url],
                         capture_output=True, text=True, check=True,
                         preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None).stdout
    user, system = (after - before for after, before in zip(cpu_seconds(proxy_pids), cpu_before))
    def ms(label):
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    per_request = lambda cpu: cpu / (rps * seconds) * 1e6 if proxy_pids else None  # µs
    return {"rps": rps, "p50_ms": ms("50%"), "p99_ms": ms("99%"), "errors": int(errors.group(1)) if errors else 0,
            "cpu_us": per_request(user + system), "user_us": per_request(user)}


def measure(targets, body, connections, cpus=None):
    """Each target's median over `rounds` runs, the targets taking turns: the host's noise comes
    and goes over seconds, and a target measured in one stretch can get all of it."""
    runs = {name: [] for name, _, _ in targets}
    for _ in range(rounds):
        for name, url, pids in targets:
            runs[name].append(wrk(url + "/v1/chat/completions", body, connections, pids, cpus))
    def median(results):
        merged = {key: statistics.median(r[key] for r in results) if results[0][key] is not None else None
                  for key in results[0] if key != "errors"}
        merged["errors"] = sum(r["errors"] for r in results)
        return merged
    return {name: median(results) for name, results in runs.items()}


report = []
try:
    # --- Proxy overhead: direct, through vramd, through nginx, through a byte relay ---------
    backend_port = free_port()
    backend_process = start([backend_binary, str(backend_port)])
    direct = f"http://127.0.0.1:{backend_port}"
    wait_http(direct + "/health")
    config = vramd_config(direct)
    # Start to ready: the first start after a build reads the binary from disk (70-500 ms here),
    # which says more about the disk than about vramd, so it is timed apart from the median.
    starts = []
    for i in range(6):
        process, _, ready = start_vramd(config, f"start{i}")
        process.terminate()
        process.wait(timeout=30)
        starts.append(ready)
    vramd_process, broker, _ = start_vramd(config, "proxy")
    post(broker, "/v1/chat/completions", {"model": "fast"})
    with open(f"/proc/{vramd_process.pid}/status") as f:
        idle_rss_kib = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

    nginx_port = free_port()
    nginx_conf = write_nginx_conf(os.path.join(work, "nginx"), nginx_port, backend_port)
    nginx_process = start(["nginx", "-c", nginx_conf], stderr=subprocess.DEVNULL)
    nginx = f"http://127.0.0.1:{nginx_port}"
    wait_http(nginx + "/health")
    nginx_workers = children_of(nginx_process.pid)
    # The floor: the cheapest proxy NIO can make (Benchmarks/Relay), which reads no HTTP at all.
    relay_port = free_port()
    relay_process = start([relay_binary, str(relay_port), str(backend_port)], stdout=subprocess.DEVNULL)
    relay = f"http://127.0.0.1:{relay_port}"
    wait_http(relay + "/health")
    targets = [("direct", direct, ()), ("vramd", broker, (vramd_process.pid,)), ("nginx", nginx, nginx_workers),
               ("relay", relay, (relay_process.pid,))]
    names = [name for name, _, _ in targets]

    rows = []
    bodies = proxy_bodies()
    for label, body in bodies:
        for connections in (1, 16):
            rows.append((label, connections, measure(targets, body, connections)))

    # The same on one CPU: in a VM, a request that wakes a process on another idle vCPU waits for
    # the host to run that vCPU (tens of µs each time here), and a proxy adds two such hand-offs
    # per request. With everything on one CPU nothing waits for a wake-up, and what a proxy adds
    # is its own work.
    one_cpu = {min(os.sched_getaffinity(0))}
    servers = [backend_process.pid, vramd_process.pid, nginx_process.pid, *nginx_workers, relay_process.pid]
    pin(servers, one_cpu)
    pinned_rows = []
    for label, body in bodies:
        pinned_rows.append((label, 1, measure(targets, body, 1, one_cpu)))
    pin(servers, os.sched_getaffinity(0))

    def proxy_table(rows):
        report.append("| body | conns | target | req/s | p50 ms | p99 ms | non-2xx | vs direct: req/s | added p50 ms | "
                      "added p99 ms | proxy CPU µs/req | of it user µs/req |")
        report.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for label, connections, results in rows:
            base = results["direct"]
            for name in names:
                r = results[name]
                cpu, user = (f"{r[key]:.0f}" if r[key] is not None else "–" for key in ("cpu_us", "user_us"))
                report.append(f"| {label} | {connections} | {name} | {r['rps']:.0f} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} | "
                              f"{r['errors']} | {r['rps'] / base['rps']:.2f}× | {r['p50_ms'] - base['p50_ms']:+.3f} | "
                              f"{r['p99_ms'] - base['p99_ms']:+.3f} | {cpu} | {user} |")

    report.append("## Proxy overhead\n")
    report.append(f"wrk, 1 thread; each figure is the median of {rounds} runs of {seconds} s, the targets taking turns "
                  "(non-2xx: the runs' sum); the backend is `Benchmarks/backend/fast-backend.c`; nginx is a "
                  "plain reverse proxy with upstream keep-alive, buffering off, and request bodies up to 1 MiB kept in "
                  "memory (with its 16 KB default, it spooled the 34 KB request to a file and sent it upstream in "
                  "pieces that met Nagle and delayed ACKs: 44 ms a request). relay is `Benchmarks/Relay`, a "
                  "byte relay on NIO that reads no HTTP: no HTTP proxy can cost less, so it is the floor for one "
                  "built on NIO. Everything shares the "
                  f"{len(os.sched_getaffinity(0))} CPUs. Proxy CPU is user plus system time of the proxy's process "
                  "(nginx: its worker) over the run, per request.\n")
    proxy_table(rows)
    report.append("\n## Proxy overhead on one CPU\n")
    report.append("The same backend and proxies, with them and wrk pinned to one CPU: no request waits for another "
                  "CPU to wake up, so what a proxy adds is its own work.\n")
    proxy_table(pinned_rows)

    # --- What a microsecond of CPU costs in latency: relays that spin on every read ----------
    # The relay again, spinning SPIN µs on each read (two reads a request: the request and its
    # answer), so all it adds is CPU on the request's path. Measured beside vramd in the same
    # turns, they turn vramd's added p50 into CPU: how much a proxy may spend per request here and
    # stay within 0.1 ms, and how far vramd is from that.
    spins = (5, 10, 20, 30)
    spin_targets = [("direct", direct, ()), ("vramd", broker, (vramd_process.pid,)), ("relay", relay, (relay_process.pid,))]
    for spin in spins:
        port = free_port()
        process = start([relay_binary, str(port), str(backend_port), str(spin * 1000)], stdout=subprocess.DEVNULL)
        wait_http(f"http://127.0.0.1:{port}/health")
        spin_targets.append((f"relay, {spin} µs spin per read", f"http://127.0.0.1:{port}", (process.pid,)))
    calibration = measure(spin_targets, bodies[0][1], 1)
    for name, _, (pid,) in spin_targets[3:]:
        for child in children:
            if child.pid == pid:
                child.terminate()
                child.wait(timeout=30)
    base = calibration["direct"]
    added = {name: r["p50_ms"] - base["p50_ms"] for name, r in calibration.items()}
    # The relays' user CPU against their added p50, read where it crosses 0.1 ms.
    curve = sorted((calibration[name]["user_us"], added[name]) for name, _, _ in spin_targets[2:])
    budget = next((u0 + (0.1 - a0) * (u1 - u0) / (a1 - a0) for (u0, a0), (u1, a1) in zip(curve, curve[1:])
                   if a0 <= 0.1 <= a1 and a1 > a0), None)
    report.append("\n## What a microsecond of CPU costs in latency\n")
    report.append("Small JSON at 1 connection, on all CPUs, the same median of turns as above, with the relay also run "
                  "spinning on every read (twice a request): its spin is CPU on the request's path and nothing else. "
                  "How its added p50 grows with its user CPU says what a proxy may spend per request on this machine "
                  "and still add at most 0.1 ms.\n")
    report.append("| target | user µs/req | added p50 ms |")
    report.append("|---|---|---|")
    for name, _, _ in spin_targets[1:]:
        report.append(f"| {name} | {calibration[name]['user_us']:.0f} | {added[name]:+.3f} |")
    if budget is not None:
        vramd_user = calibration["vramd"]["user_us"]
        report.append(f"\nThe relays cross +0.1 ms at about {budget:.0f} µs of user CPU per request; vramd spent "
                      f"{vramd_user:.0f} µs ({vramd_user / budget:.2f}× that) and added {added['vramd']:+.3f} ms.")
    else:
        report.append("\nThe relays' added p50 did not cross +0.1 ms between two of them in this run.")

    # --- Cold load: request to first byte minus the backend's own spawn-to-ready -------------
    def backend_spawn_to_ready():
        port = free_port()
        t0 = time.monotonic()
        process = subprocess.Popen([backend_binary, str(port)])
        wait_http(f"http://127.0.0.1:{port}/health")
        elapsed = time.monotonic() - t0
        process.kill()
        process.wait()
        return elapsed

    def first_byte(base, body):
        host, port = base.removeprefix("http://").split(":")
        data = json.dumps(body).encode()
        t0 = time.monotonic()
        with socket.create_connection((host, int(port))) as s:
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      + f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)
            s.recv(1)
            return time.monotonic() - t0

    cold_config = {
        "listen": "127.0.0.1:0",
        "devices": [{"id": "sim", "kind": "simulated", "capacity": "16GiB"}],
        "policy": {"min_residency": "0s"},
        "models": {"cold": {"memory": "1MiB", "backend": {"type": "process", "command": [backend_binary, "${PORT}"]}}},
    }
    cold_process, cold, _ = start_vramd(cold_config, "cold")
    direct_times, vramd_times = [], []
    for _ in range(15):
        direct_times.append(backend_spawn_to_ready())
        post(cold, "/v1/models/cold/unload", {})
        vramd_times.append(first_byte(cold, {"model": "cold"}))
    cold_overhead = (statistics.median(vramd_times) - statistics.median(direct_times)) * 1000
    report.append("\n## Cold load\n")
    report.append("A `process` backend (the fast backend: it is ready as soon as it listens), 15 loads each way.\n")
    report.append("| measure | median ms | max ms |")
    report.append("|---|---|---|")
    report.append(f"| backend alone: spawn to first 200 on /health (polled every 1 ms) | {statistics.median(direct_times) * 1000:.2f} | {max(direct_times) * 1000:.2f} |")
    report.append(f"| through vramd: request to first byte, model unloaded | {statistics.median(vramd_times) * 1000:.2f} | {max(vramd_times) * 1000:.2f} |")
    report.append(f"| **vramd's cold-load overhead** (target ≤ 50 ms) | **{cold_overhead:.2f}** | |")

    # --- Swap: two models alternating where only one fits, quantum on and off ---------------
    def swap_run(requests_quantum):
        config = {
            "listen": "127.0.0.1:0",
            "queue": {"max": 1000},
            "devices": [{"id": "sim", "kind": "simulated", "capacity": "1GiB"}],
            "policy": {"min_residency": "0s", "swap_quantum": {"requests": requests_quantum, "time": "2s"}},
            "models": {name: {"memory": "600MiB", "max_concurrency": 1,
                              "backend": {"type": "process", "command": [backend_binary, "${PORT}"]}}
                       for name in ("left", "right")},
        }
        process, base, _ = start_vramd(config, f"swap{requests_quantum}")
        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda i: post(base, "/v1/chat/completions", {"model": "left" if i % 2 else "right"}), range(200)))
        elapsed = time.monotonic() - t0
        swaps = status(base)["scheduler"]["swaps"]
        process.terminate()
        process.wait(timeout=30)
        return elapsed, swaps

    on_time, on_swaps = swap_run(4)
    off_time, off_swaps = swap_run(0)
    report.append("\n## Swap\n")
    report.append("Two `process` models of 600 MiB on a 1 GiB simulated device, 200 requests alternating between them "
                  "from 8 concurrent clients.\n")
    report.append("| swap quantum | total s | swaps |")
    report.append("|---|---|---|")
    report.append(f"| 4 requests / 2 s | {on_time:.2f} | {on_swaps} |")
    report.append(f"| off | {off_time:.2f} | {off_swaps} |")
    report.append(f"| ratio on/off | {on_time / off_time:.2f}× | {on_swaps / max(1, off_swaps):.2f}× |")

    report.append("\n## Daemon\n")
    report.append("| measure | value |")
    report.append("|---|---|")
    report.append(f"| start to ready (exec to listening), median of 5 starts | {statistics.median(starts[1:]) * 1000:.0f} ms "
                  f"(range {min(starts[1:]) * 1000:.0f}–{max(starts[1:]) * 1000:.0f} ms; the first start before them "
                  f"{starts[0] * 1000:.0f} ms) |")
    report.append(f"| idle RSS after one request | {idle_rss_kib / 1024:.1f} MiB |")
finally:
    stop_children()

print("\n".join(report))
