"""Shared helpers for the study tests: start `lapgan serve` on 127.0.0.1 and
talk to it like the page does (stdlib only)."""
import http.client
import json
import os
import re
import signal
import subprocess
import time


class Server:
    """`lapgan serve` on 127.0.0.1, any free port, its output in a log file."""

    def __init__(self, binary, db, models, log, extra=(), start_timeout=120, preexec_fn=None):
        args = [binary, "serve", "--db", db, "--port", "0", "--host", "127.0.0.1"]
        for name, run in models:
            args += ["--model", f"{name}={run}"]
        args += list(extra)
        self.log = log
        self.out = open(log, "w")
        self.proc = subprocess.Popen(args, stdout=self.out, stderr=subprocess.STDOUT,
                                     preexec_fn=preexec_fn)
        self.port = None
        deadline = time.time() + start_timeout
        while time.time() < deadline and self.proc.poll() is None:
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", open(log).read())
            if m:
                self.port = int(m.group(1))
                return
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"server did not start: {open(log).read().strip()}")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.out.close()

    def stop(self):
        """SIGTERM; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=60)
        self.out.close()
        return rc


# Every 4xx/5xx answer labelled application/json whose body is not a JSON
# object with an "error" string: (method, path, status, body). The tests
# check that it stays empty.
bad_json_errors = []


def check_error_body(method, path, status, headers, data):
    """Records an error reply that claims to be JSON and does not parse."""
    if status < 400 or not headers.get("Content-Type", "").startswith("application/json"):
        return
    try:
        j = json.loads(data)
        ok = isinstance(j, dict) and isinstance(j.get("error"), str) and j["error"]
    except ValueError:
        ok = False
    if not ok:
        bad_json_errors.append((method, path, status, data[:200]))


class Participant:
    """One browser's worth of requests on a keep-alive connection."""

    def __init__(self, port, cookie=None, timeout=30):
        self.port, self.timeout, self.cookie = port, timeout, cookie
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def reconnect(self, port):
        self.conn.close()
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=self.timeout)

    def request(self, method, path, body=None, headers=None):
        h = dict(headers or {})
        if self.cookie:
            h["Cookie"] = "lgs=" + self.cookie
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h["Content-Type"] = "application/json"
        self.conn.request(method, path, body=body, headers=h)
        r = self.conn.getresponse()
        data = r.read()
        hdr = dict(r.getheaders())
        check_error_body(method, path, r.status, hdr, data)
        return r.status, hdr, data

    def start(self):
        st, hdr, data = self.request("POST", "/api/session")
        assert st == 200, (st, data)
        m = re.match(r"lgs=([0-9a-f]{32});", hdr.get("Set-Cookie", ""))
        if m:
            self.cookie = m.group(1)
        return json.loads(data)

    def next(self):
        st, _, data = self.request("GET", "/api/next")
        assert st == 200, (st, data)
        return json.loads(data)

    def image(self, trial):
        return self.request("GET", trial["image"])

    def answer(self, trial_id, real, rt_ms=321.5):
        return self.request("POST", "/api/answer",
                            {"trial": trial_id, "answer": "real" if real else "generated",
                             "rt_ms": rt_ms})


def train_tiny(binary, out, cc=False):
    """A tiny model in seconds (5 steps on Fashion-MNIST)."""
    args = [binary, "train", "--preset", "tiny", "--steps", "5", "--out", out, "--quiet"]
    if cc:
        args.append("--class-conditional")
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)


def wilson(k, n, z=1.959963984540054):
    """Wilson score interval, written independently of the C code."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / den
    return max(0.0, mid - half), min(1.0, mid + half)


def fashion_present():
    return os.path.isdir("/usr/share/datasets/fashion-mnist")
