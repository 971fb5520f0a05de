"""Clicks one of the page's buttons in a real headless Chromium, driven over the DevTools
protocol on a pipe (--remote-debugging-pipe: no websocket library needed).

  page_action.py CHROMIUM URL MODEL ACTION PROFILE_DIR

Opens URL, waits until the page has rendered, clicks ACTION (load/unload) in MODEL's row, then
waits until the row's state settles (or a problem is shown) and prints, as JSON, the state the
page shows and its problem line. The test checks /v1/status itself.
"""
import fcntl
import json
import os
import subprocess
import sys
import time

chromium, url, model, action, profile = sys.argv[1:6]
to_chrome_r, to_chrome_w = os.pipe()
from_chrome_r, from_chrome_w = os.pipe()


def setup():
    # Chromium reads commands on fd 3 and writes replies on fd 4. Moved out of the way first
    # (either pipe end may itself be 3 or 4); dup2 leaves the copies open across exec.
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_chrome_r, from_chrome_w)]
    os.dup2(high[0], 3)
    os.dup2(high[1], 4)


browser = subprocess.Popen(
    [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
     "--user-data-dir=" + profile, "--remote-debugging-pipe", "about:blank"],
    close_fds=False, preexec_fn=setup, stdout=subprocess.DEVNULL, stderr=None if os.environ.get("PAGE_ACTION_DEBUG") else subprocess.DEVNULL)
os.close(to_chrome_r)
os.close(from_chrome_w)
reader = os.fdopen(from_chrome_r, "rb")
pending = b""
next_id = 0


def call(method, params=None, session=None):
    global next_id, pending
    next_id += 1
    message = {"id": next_id, "method": method, "params": params or {}}
    if session:
        message["sessionId"] = session
    os.write(to_chrome_w, json.dumps(message).encode() + b"\0")
    while True:
        while b"\0" not in pending:
            chunk = reader.read1(65536)
            if not chunk:
                raise SystemExit("chromium closed the pipe")
            pending += chunk
        raw, pending = pending.split(b"\0", 1)
        reply = json.loads(raw)
        if reply.get("id") == next_id:
            if "error" in reply:
                raise SystemExit(f"{method}: {reply['error']}")
            return reply["result"]


def evaluate(session, expression):
    result = call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
    return result["result"].get("value")


def wait_for(session, expression, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = evaluate(session, expression)
        if value:
            return value
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {expression}")


try:
    target = call("Target.createTarget", {"url": url})["targetId"]
    session = call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    row = f'document.querySelector(\'tr[data-model="{model}"]\')'
    wait_for(session, f"{row} !== null")
    before = evaluate(session, f"{row}.dataset.state")
    evaluate(session, f"{row}.querySelector('button[data-action=\"{action}\"]').click()")
    # Settled: the row shows another state than before and not a transition, or a problem shows.
    wait_for(session, f"(() => {{ const r = {row}; const s = r && r.dataset.state; "
                      f"return !document.getElementById('problem').hidden || "
                      f"(s && s !== {json.dumps(before)} && s !== 'loading' && s !== 'unloading'); }})()")
    print(json.dumps({"before": before, "state": evaluate(session, f"{row}.dataset.state"),
                      "problem": evaluate(session, "document.getElementById('problem').textContent")}))
finally:
    browser.kill()
    browser.wait()
