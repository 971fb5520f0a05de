"""What the proxy benchmarks share: the backend's vramd config, nginx's config, the request
bodies, and how to find a port, start a server, wait for it and stop them all."""
import os
import socket
import subprocess
import time
import urllib.request

# Every process `start` began, stopped by `stop_children`.
children = []


def start(args, **kwargs):
    process = subprocess.Popen(args, **kwargs)
    children.append(process)
    return process


def stop_children():
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.001)
    raise RuntimeError(f"{url} never answered")


def vramd_config(backend_url):
    """One always-ready model whose backend is `backend_url`, with room for any load."""
    return {
        "listen": "127.0.0.1:0",
        "queue": {"max": 100000},
        "devices": [{"id": "sim", "kind": "simulated", "capacity": "16GiB"}],
        "models": {"fast": {"memory": "1MiB", "max_concurrency": 4096, "keep_alive": "forever",
                            "backend": {"type": "external", "url": backend_url}}},
    }


def write_nginx_conf(nginx_dir, port, backend_port):
    """nginx as a plain reverse proxy with upstream keep-alive and buffering off; returns the
    config's path."""
    os.makedirs(nginx_dir, exist_ok=True)
    path = os.path.join(nginx_dir, "nginx.conf")
    with open(path, "w") as f:
        f.write(f"""worker_processes 1;
daemon off;
pid {nginx_dir}/nginx.pid;
error_log {nginx_dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {nginx_dir}/body;
  # Large request bodies stay in memory: spooled to a file, nginx sends them upstream in
  # pieces that meet Nagle and delayed ACKs (44 ms per request).
  client_body_buffer_size 1m;
  proxy_temp_path {nginx_dir}/proxy;
  fastcgi_temp_path {nginx_dir}/fastcgi;
  uwsgi_temp_path {nginx_dir}/uwsgi;
  scgi_temp_path {nginx_dir}/scgi;
  upstream backend {{ server 127.0.0.1:{backend_port}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }}
  }}
}}
""")
    return path


def bodies():
    """The benchmark's requests: a small chat, the same streamed, and a long chat history as
    clients send it (about 34 KB), where reading the request's model is most of a proxy's own
    work; the answers are the fast backend's small JSON and its SSE stream."""
    history = [{"role": "user" if i % 2 == 0 else "assistant",
                "content": f"Turn {i}: " + "the quick brown fox jumps over the lazy dog, café ☕. " * 10}
               for i in range(50)]
    return [("JSON", {"model": "fast", "messages": []}), ("SSE", {"model": "fast", "stream": True, "messages": []}),
            ("JSON, 34 KB request", {"model": "fast", "messages": history})]
