"""vramd's proxy, cold-load, swap and daemon benchmarks, each against a baseline measured in the
same run. Run by scripts/bench; prints a Markdown report.

Usage: proxy_bench.py VRAMD_BINARY FAST_BACKEND_BINARY WORK_DIR [SECONDS [ROUNDS]]
                      [--before VRAMD_BINARY] [--proxy-only]

Each proxy figure is the median of ROUNDS runs of SECONDS, the targets taking turns.
--before adds a second vramd binary, labelled vramd-before, to the proxy and daemon figures.
--proxy-only leaves out cold load and swap.
"""
import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from proxy_setup import (bodies as proxy_bodies, children, free_port, start, stop_children, vramd_config, wait_http,
                         write_nginx_conf)

parser = argparse.ArgumentParser()
parser.add_argument("vramd")
parser.add_argument("backend_binary")
parser.add_argument("work")
parser.add_argument("seconds", nargs="?", type=int, default=3)
parser.add_argument("rounds", nargs="?", type=int, default=3)
parser.add_argument("--before", help="a second vramd binary, measured beside the first as vramd-before")
parser.add_argument("--proxy-only", action="store_true", help="leave out cold load and swap")
args = parser.parse_args()
backend_binary, work, seconds, rounds = args.backend_binary, args.work, args.seconds, args.rounds
os.makedirs(work, exist_ok=True)
# The vramd binaries under test, by label.
daemons = {"vramd": args.vramd, **({"vramd-before": args.before} if args.before else {})}
# The proxy bound kept in docs/benchmarks.md: what vramd may add to p50, small JSON, 1 connection.
P50_BOUND_MS = 0.5
# The Markdown printed at the end.
report = []


def start_vramd(config, name, binary=args.vramd):
    path = os.path.join(work, f"{name}.yaml")
    with open(path, "w") as f:
        json.dump(config, f)
    t0 = time.monotonic()
    process = start([binary, "serve", "--config", path, "--log-level", "warning"], stdout=subprocess.PIPE,
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
    """User and system CPU time the processes (all their threads) have used so far."""
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
            "cpu_us": per_request(user + system)}


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


def proxy_table(rows, names):
    """One row per body, connections and target: its figures, and what it adds to going direct."""
    report.append("| body | conns | target | req/s | p50 ms | p99 ms | non-2xx | req/s vs direct | added p50 ms | "
                  "added p99 ms | CPU µs/req | CPU vs nginx |")
    report.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for label, connections, results in rows:
        base, nginx_cpu = results["direct"], results["nginx"]["cpu_us"]
        for name in names:
            r = results[name]
            cpu = f"{r['cpu_us']:.0f}" if r["cpu_us"] is not None else "–"
            vs_nginx = f"{r['cpu_us'] / nginx_cpu:.2f}×" if r["cpu_us"] is not None and nginx_cpu else "–"
            report.append(f"| {label} | {connections} | {name} | {r['rps']:.0f} | {r['p50_ms']:.3f} | "
                          f"{r['p99_ms']:.3f} | {r['errors']} | {r['rps'] / base['rps']:.2f}× | "
                          f"{r['p50_ms'] - base['p50_ms']:+.3f} | {r['p99_ms'] - base['p99_ms']:+.3f} | {cpu} | "
                          f"{vs_nginx} |")


def proxy_overhead():
    """Direct, through vramd (and vramd-before) and through nginx; and each vramd's start and idle RSS."""
    backend_port = free_port()
    backend_process = start([backend_binary, str(backend_port)])
    direct = f"http://127.0.0.1:{backend_port}"
    wait_http(direct + "/health")
    config = vramd_config(direct)
    # Start to ready, per binary: the first start after a build reads the binary from disk,
    # which says more about the disk than about vramd, so it is reported apart from the median.
    starts = {label: [] for label in daemons}
    for i in range(6):
        for label, binary in daemons.items():
            process, _, ready = start_vramd(config, f"{label}-start{i}", binary)
            process.terminate()
            process.wait(timeout=30)
            starts[label].append(ready)
    proxies, idle_rss_kib = {}, {}
    for label, binary in daemons.items():
        process, url, _ = start_vramd(config, f"{label}-proxy", binary)
        post(url, "/v1/chat/completions", {"model": "fast"})
        with open(f"/proc/{process.pid}/status") as f:
            idle_rss_kib[label] = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
        proxies[label] = (process, url)

    nginx_port = free_port()
    nginx_conf = write_nginx_conf(os.path.join(work, "nginx"), nginx_port, backend_port)
    nginx_process = start(["nginx", "-c", nginx_conf], stderr=subprocess.DEVNULL)
    nginx = f"http://127.0.0.1:{nginx_port}"
    wait_http(nginx + "/health")
    nginx_workers = children_of(nginx_process.pid)
    targets = [("direct", direct, ()),
               *((label, url, (process.pid,)) for label, (process, url) in proxies.items()),
               ("nginx", nginx, nginx_workers)]
    names = [name for name, _, _ in targets]

    rows = []
    bodies = proxy_bodies()
    for label, body in bodies:
        for connections in (1, 16):
            rows.append((label, connections, measure(targets, body, connections)))

    # The same on one CPU: in a VM, a request that wakes a process on another idle vCPU waits for
    # the host to run that vCPU, and a proxy adds two such hand-offs per request. With everything
    # on one CPU nothing waits for a wake-up, and what a proxy adds is its own work.
    one_cpu = {min(os.sched_getaffinity(0))}
    servers = [backend_process.pid, *(process.pid for process, _ in proxies.values()), nginx_process.pid,
               *nginx_workers]
    pin(servers, one_cpu)
    pinned_rows = [(label, 1, measure(targets, body, 1, one_cpu)) for label, body in bodies]
    pin(servers, os.sched_getaffinity(0))

    small = rows[0][2]  # small JSON, 1 connection
    report.append("## Proxy overhead\n")
    report.append(f"wrk, 1 thread; each figure is the median of {rounds} runs of {seconds} s, the targets taking turns "
                  "(non-2xx: the runs' sum). The backend is `Benchmarks/backend/fast-backend.c`; nginx is a plain "
                  "reverse proxy with upstream keep-alive, buffering off and request bodies up to 1 MiB kept in "
                  f"memory. Everything shares the {len(os.sched_getaffinity(0))} CPUs. CPU is user plus system time "
                  "of the proxy's process (nginx: its worker) over the run, per request.\n")
    for label in daemons:
        added = small[label]["p50_ms"] - small["direct"]["p50_ms"]
        verdict = "within" if added <= P50_BOUND_MS else "**over**"
        report.append(f"- {label} adds {added:+.3f} ms to p50 (small JSON, 1 connection; nginx "
                      f"{small['nginx']['p50_ms'] - small['direct']['p50_ms']:+.3f} ms): {verdict} the "
                      f"+{P50_BOUND_MS} ms bound.")
    report.append("")
    proxy_table(rows, names)
    report.append("\n## Proxy overhead on one CPU\n")
    report.append("The same backend and proxies, with them and wrk pinned to one CPU: no request waits for another "
                  "CPU to wake up, so what a proxy adds is its own work.\n")
    proxy_table(pinned_rows, names)

    report.append("\n## Daemon\n")
    report.append("| binary | start to ready (exec to listening), median of 5 starts | first start | "
                  "idle RSS after one request |")
    report.append("|---|---|---|---|")
    for label in daemons:
        times = starts[label]
        report.append(f"| {label} | {statistics.median(times[1:]) * 1000:.0f} ms (range {min(times[1:]) * 1000:.0f}–"
                      f"{max(times[1:]) * 1000:.0f} ms) | {times[0] * 1000:.0f} ms | "
                      f"{idle_rss_kib[label] / 1024:.1f} MiB |")


def cold_load():
    """Request to first byte, model unloaded, minus the backend's own spawn-to-ready."""
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
    report.append(f"| backend alone: spawn to first 200 on /health (polled every 1 ms) | "
                  f"{statistics.median(direct_times) * 1000:.2f} | {max(direct_times) * 1000:.2f} |")
    report.append(f"| through vramd: request to first byte, model unloaded | "
                  f"{statistics.median(vramd_times) * 1000:.2f} | {max(vramd_times) * 1000:.2f} |")
    report.append(f"| **vramd's cold-load overhead** (target ≤ 50 ms) | **{cold_overhead:.2f}** | |")


def swap():
    """Two models alternating where only one fits, quantum on and off."""
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
            list(pool.map(lambda i: post(base, "/v1/chat/completions", {"model": "left" if i % 2 else "right"}),
                          range(200)))
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


try:
    proxy_overhead()
    if not args.proxy_only:
        cold_load()
        swap()
finally:
    stop_children()

print("\n".join(report))
