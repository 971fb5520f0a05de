"""Instructions per proxied request: vramd against nginx and the byte relay, counted by
callgrind. Run by scripts/bench; prints a Markdown report.

Usage: proxy_instructions.py VRAMD_BINARY FAST_BACKEND_BINARY RELAY_BINARY WORK_DIR [REQUESTS]

Latency and throughput on a shared VM move with its neighbours; the instructions a proxy runs
per request barely do, so they compare two builds, or vramd with nginx, on any host. They move
only where timing changes the work: how many reads an answer takes, how often an event loop
wakes. They count user space only: what the kernel does for a proxy's system calls is not in
them.
"""
import glob
import http.client
import json
import os
import subprocess
import sys
import time

from proxy_setup import bodies, free_port, raw_utf8_body, start, stop_children, vramd_config, wait_http, write_nginx_conf

vramd, backend_binary, relay_binary, work = sys.argv[1:5]
requests = int(sys.argv[5]) if len(sys.argv) > 5 else 2000
warm_up = 300
os.makedirs(work, exist_ok=True)


def without_debug_info(binary):
    """A copy without DWARF: the valgrind Debian ships cannot read the DWARF 5 that Swift's
    toolchain writes, and gives up on the binary. The symbols stay."""
    copy = os.path.join(work, os.path.basename(binary) + "-nodebug")
    subprocess.run(["objcopy", "--strip-debug", binary, copy], check=True)
    return copy


def under_callgrind(name, args, url):
    """Starts `args` under callgrind and waits until `url` answers (slowly: everything runs
    some fifty times slower under it)."""
    out = os.path.join(work, f"callgrind.{name}")
    process = start(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p", *args],
                    stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, f"{name}.valgrind.log"), "w"))
    wait_http(url, timeout=120)
    return process, out


def requests_to_send():
    """The proxy benchmark's bodies, as it sends them (non-ASCII text escaped), and a chat in
    Chinese sent raw (as JavaScript's `JSON.stringify` sends it) and escaped whole (as Python's
    `json.dumps` does by default, about 64 KB)."""
    raw_label, raw_body = raw_utf8_body()
    return [(label, json.dumps(body).encode()) for label, body in bodies()] + \
        [(raw_label, json.dumps(raw_body, ensure_ascii=False).encode()),
         ("JSON, the Chinese request escaped (64 KB)", json.dumps(raw_body).encode())]


def send(port, data, count):
    """`count` requests one after another on one kept-alive connection, every answer read whole."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for _ in range(count):
        connection.request("POST", "/v1/chat/completions", data, {"Content-Type": "application/json"})
        answer = connection.getresponse()
        answer.read()
        assert answer.status == 200, answer.status
    connection.close()


def callgrind(command, pid):
    subprocess.run(["callgrind_control", command, str(pid)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def dumped_total(out, pid, part):
    """The instruction total of the `part`th dump, once callgrind has written it whole."""
    path = f"{out}.{pid}.{part}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    if line.startswith("totals:"):
                        return int(line.split()[1])
        time.sleep(0.1)
    raise RuntimeError(f"callgrind wrote no totals to {path}")


def per_request(name, args, port, health):
    """Instructions per request for each body, warm-up excluded: the counters are zeroed after
    the warm-up and dumped after `requests` more."""
    process, out = under_callgrind(name, args, f"http://127.0.0.1:{port}{health}")
    counts = {}
    for part, (label, data) in enumerate(requests_to_send(), start=1):
        count = requests if len(data) < 4096 else requests // 2
        send(port, data, warm_up)
        callgrind("-z", process.pid)
        send(port, data, count)
        callgrind("-d", process.pid)
        counts[label] = dumped_total(out, process.pid, part) / count
    process.terminate()
    process.wait(timeout=120)
    for path in glob.glob(f"{out}.*"):
        os.remove(path)
    return counts


report = []
try:
    backend_port = free_port()
    start([backend_binary, str(backend_port)])
    direct = f"http://127.0.0.1:{backend_port}"
    wait_http(direct + "/health")

    config = os.path.join(work, "vramd.yaml")
    with open(config, "w") as f:
        json.dump(vramd_config(direct) | {"listen": f"127.0.0.1:{(vramd_port := free_port())}"}, f)
    nginx_port, relay_port = free_port(), free_port()
    nginx_conf = write_nginx_conf(os.path.join(work, "nginx"), nginx_port, backend_port, one_process=True)
    proxies = [
        ("vramd", [without_debug_info(vramd), "serve", "--config", config, "--log-level", "warning"], vramd_port, "/healthz"),
        # The other two pass /health on to the backend.
        ("nginx", ["nginx", "-c", nginx_conf], nginx_port, "/health"),
        ("relay", [without_debug_info(relay_binary), str(relay_port), str(backend_port)], relay_port, "/health"),
    ]
    results = {name: per_request(name, args, port, health) for name, args, port, health in proxies}

    report.append("## Instructions per proxied request\n")
    report.append(f"callgrind counts the instructions each proxy's process runs in user space: {warm_up} requests to warm "
                  f"up, then {requests} (the 34 KB requests: {requests // 2}) one after another on one kept-alive "
                  "connection, from Python's `http.client`. nginx runs as one process (`master_process off`), the "
                  "others as they are. The kernel's work for their system calls is not counted. Host noise does not move "
                  "the counts; timing does a little, where it changes how many reads an answer takes or how often "
                  "an event loop wakes.\n")
    report.append("| request | vramd | nginx | relay | vramd ÷ nginx | vramd ÷ relay |")
    report.append("|---|---|---|---|---|---|")
    for label, _ in requests_to_send():
        v, n, r = (results[name][label] for name in ("vramd", "nginx", "relay"))
        report.append(f"| {label} | {v:,.0f} | {n:,.0f} | {r:,.0f} | {v / n:.2f}× | {v / r:.2f}× |")
finally:
    stop_children()

print("\n".join(report))
