"""Loopback load test of `lapgan serve`: P concurrent participants (threads,
keep-alive connections) each loop next -> image -> answer until N judgements
are acknowledged in all; the server is SIGKILLed when about half are in and
restarted on the same database, and the participants carry on with their
cookies. At the end every acknowledged judgement must be in the database,
none twice, and nothing else but answers whose reply the kill swallowed.
Prints PASS/FAIL lines and the answer latency median and p99.
Usage: load.py LAPGAN TMPDIR MODEL_DIR [--participants P] [--judgements N]
               [--time-limit S] [--no-kill] [--sync full|normal]"""
import argparse
import http.client
import os
import sqlite3
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import Participant, Server  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("binary")
ap.add_argument("tmp")
ap.add_argument("model")
ap.add_argument("--participants", type=int, default=50)
ap.add_argument("--judgements", type=int, default=10000)
ap.add_argument("--time-limit", type=float, default=150)
ap.add_argument("--no-kill", action="store_true")
ap.add_argument("--sync", default="full")
args = ap.parse_args()

db = os.path.join(args.tmp, "load.db")
for suffix in ("", "-wal", "-shm"):
    if os.path.exists(db + suffix):
        os.remove(db + suffix)
per = -(-args.judgements // args.participants)
extra = ["--trials", str(per + 10), "--pool", "4", "--exposure", "50,200,unlimited",
         "--http-threads", "4", "--sync", args.sync]
log = os.path.join(args.tmp, "load-server.log")
fails = 0


def check(name, ok, detail=""):
    global fails
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else f": {detail}"))
    fails += not ok


srv = Server(args.binary, db, [("lapgan", args.model)], log, extra)
lock = threading.Lock()
port = [srv.port]          # current port; changes at the restart
generation = [0]
acked = set()              # (cookie, trial number) answered 200
unknown = set()            # sent, reply lost to the kill
latency = []               # seconds per acknowledged answer
errors = []
deadline = time.time() + args.time_limit


def participant(k):
    p = Participant(port[0], timeout=20)
    gen = generation[0]
    done = 0
    while done < per and time.time() < deadline:
        try:
            if gen != generation[0] or p.port != port[0]:
                gen = generation[0]
                p.reconnect(port[0])
            if p.cookie is None:
                p.start()
            t = p.next()
            if t.get("done"):
                break
            st, _, png = p.image(t)
            if st != 200:
                raise RuntimeError(f"image {st}")
            key = (p.cookie, t["number"])
            t0 = time.perf_counter()
            try:
                st, _, body = p.answer(t["trial"], (k + t["number"]) % 3 == 0)
            except (OSError, http.client.HTTPException):
                with lock:
                    unknown.add(key)
                raise
            dt = time.perf_counter() - t0
            if st != 200:
                raise RuntimeError(f"answer {st} {body[:80]}")
            with lock:
                acked.add(key)
                latency.append(dt)
            done += 1
        except (OSError, http.client.HTTPException, AssertionError, RuntimeError) as e:
            # The server is down (killed) or restarting: wait for the new one.
            if generation[0] == gen and not killing.is_set():
                with lock:
                    errors.append(repr(e))
                return
            time.sleep(0.05)
            p.conn.close()


killing = threading.Event()
threads = [threading.Thread(target=participant, args=(k,)) for k in range(args.participants)]
t_start = time.time()
for t in threads:
    t.start()
killed_at = None
if not args.no_kill:
    while time.time() < deadline and len(acked) < args.judgements // 2:
        time.sleep(0.01)
    killing.set()
    srv.kill()
    killed_at = len(acked)
    srv = Server(args.binary, db, [("lapgan", args.model)], log + ".2", extra)
    with lock:
        port[0] = srv.port
        generation[0] += 1
    killing.clear()
for t in threads:
    t.join()
elapsed = time.time() - t_start
rc = srv.stop()

con = sqlite3.connect(db)
rows = con.execute("SELECT s.token, j.trial FROM judgements j JOIN sessions s"
                   " ON s.id = j.session_id").fetchall()
total = con.execute("SELECT COUNT(*) FROM judgements").fetchone()[0]
con.close()
stored = set(rows)
lat = sorted(latency)
med = statistics.median(lat) * 1e3 if lat else float("nan")
p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1e3 if lat else float("nan")
print(f"load: {args.participants} participants, {len(acked)} acknowledged judgements in "
      f"{elapsed:.1f} s ({len(acked) / elapsed:.0f}/s), sync={args.sync}; answer latency "
      f"median {med:.2f} ms, p99 {p99:.2f} ms; killed after {killed_at} acks, "
      f"{len(unknown)} replies lost to the kill; {total} rows stored")
check("no_client_errors", not errors, errors[:5])
check("enough_judgements", len(acked) >= args.judgements, len(acked))
check("none_lost", acked <= stored, len(acked - stored))
check("none_duplicated", len(rows) == len(stored) == total, (len(rows), len(stored), total))
check("nothing_unacknowledged_but_lost_replies", stored - acked <= unknown,
      len(stored - acked - unknown))
check("clean_shutdown_after_restart", rc == 0, rc)
sys.exit(1 if fails else 0)
