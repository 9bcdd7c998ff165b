"""`lapgan serve` under a connection flood, idle clients and a full disk.
All traffic goes to 127.0.0.1; the flood comes from the source address
127.0.0.2 (the same loopback interface), so that it is "another client".
Prints PASS/FAIL lines.

  flood:     1,010 idle connections from one client are open, yet a new
             participant (from 127.0.0.1) completes a trial at once; the
             server holds at most --per-client of them and closes the rest.
  idle:      a connection that sends nothing is closed after --idle-timeout.
  full disk: the server runs under RLIMIT_FSIZE (SIGXFSZ ignored: writes
             fail with EFBIG, as on a full disk); every failed database
             write gives a 500 whose JSON parses, one stderr line, and a
             count on /api/status; nothing unacknowledged is stored.

Usage: limits.py LAPGAN TMPDIR MODEL_DIR"""
import json
import os
import re
import resource
import select
import signal
import socket
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import common  # noqa: E402
from common import Participant, Server  # noqa: E402

binary, tmp, tiny = sys.argv[1:4]
fails = 0
FLOOD, PER_CLIENT = 1010, 128


def check(name, ok, detail=""):
    global fails
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else f": {detail}"), flush=True)
    fails += not ok


def fresh_db(name):
    db = os.path.join(tmp, name)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    return db


def one_trial(port, timeout=10):
    """A new participant's first trial; returns (seconds, the four statuses)."""
    t0 = time.time()
    p = Participant(port, timeout=timeout)
    codes = []
    try:
        st, hdr, _ = p.request("POST", "/api/session")
        codes.append(st)
        m = re.match(r"lgs=([0-9a-f]{32});", hdr.get("Set-Cookie", ""))
        p.cookie = m.group(1) if m else None
        st, _, data = p.request("GET", "/api/next")
        codes.append(st)
        t = json.loads(data)
        codes.append(p.image(t)[0])
        codes.append(p.answer(t["trial"], True)[0])
    except (OSError, ValueError, KeyError) as e:
        codes.append(repr(e))
    finally:
        p.conn.close()
    return time.time() - t0, codes


def status(port):
    st, _, data = Participant(port).request("GET", "/api/status")
    return st, json.loads(data) if st == 200 else data


def closed_by_server(socks, wait):
    """How many of socks the server has closed (EOF) within wait seconds."""
    closed, open_ = 0, list(socks)
    deadline = time.time() + wait
    while open_ and time.time() < deadline:
        r, _, _ = select.select(open_, [], [], max(0.0, min(0.5, deadline - time.time())))
        for s in r:
            try:
                eof = s.recv(1, socket.MSG_DONTWAIT) == b""
            except BlockingIOError:
                eof = False
            except OSError:
                eof = True
            if eof:
                closed += 1
                open_.remove(s)
    return closed


# 1,010 sockets and a few more: lift this process's own descriptor limit.
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = FLOOD + 200
if soft < want and (hard == resource.RLIM_INFINITY or hard >= want):
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

# ---- flood -----------------------------------------------------------------
srv = Server(binary, fresh_db("flood.db"), [("lapgan", tiny)], os.path.join(tmp, "flood.log"),
             ["--trials", "4", "--pool", "2", "--exposure", "unlimited"])
flood = []
try:
    try:
        for _ in range(FLOOD):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.2", 0))
            s.settimeout(10)
            s.connect(("127.0.0.1", srv.port))
            flood.append(s)
        check("flood_connections_opened", len(flood) == FLOOD, len(flood))
    except OSError as e:
        check("flood_connections_opened", False, f"after {len(flood)}: {e}")
    dt, codes = one_trial(srv.port, timeout=10)
    check("new_participant_served_during_flood", codes == [200] * 4 and dt < 10,
          f"{codes} in {dt:.1f} s")
    closed = closed_by_server(flood, 5)
    check("flood_beyond_per_client_closed", closed >= FLOOD - PER_CLIENT,
          f"{closed} of {FLOOD} closed, want >= {FLOOD - PER_CLIENT}")
    st, j = status(srv.port)
    check("status_connections_bounded", st == 200 and 0 < j["connections"] <= PER_CLIENT + 4,
          (st, j))
    check("status_no_db_failures", st == 200 and j["db_write_failures"] == 0
          and j["last_db_error"] is None and j["judgements"] == 1, j)
finally:
    for s in flood:
        s.close()
    rc = srv.stop()
check("flood_clean_shutdown", rc == 0, rc)

# ---- idle timeout ---------------------------------------------------------------
srv = Server(binary, fresh_db("idle.db"), [("lapgan", tiny)], os.path.join(tmp, "idle.log"),
             ["--trials", "4", "--pool", "2", "--idle-timeout", "2"])
try:
    idle = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(3)]
    half = socket.create_connection(("127.0.0.1", srv.port))
    half.sendall(b"POST /api/answer HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{")
    t0 = time.time()
    closed = closed_by_server(idle + [half], 8)
    dt = time.time() - t0
    check("idle_connections_closed", closed == 4 and 1.0 <= dt < 8, f"{closed} of 4 in {dt:.1f} s")
    for s in idle + [half]:
        s.close()
    dt, codes = one_trial(srv.port)
    check("served_after_idle_close", codes == [200] * 4, codes)
finally:
    rc = srv.stop()
check("idle_clean_shutdown", rc == 0, rc)

# ---- full disk ----------------------------------------------------------------
LIMIT = 192 * 1024  # bytes any one file may reach: the WAL fills after a few dozen writes


def small_disk():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


db = fresh_db("full.db")
log = os.path.join(tmp, "full.log")
srv = Server(binary, db, [("lapgan", tiny)], log, ["--trials", "400", "--pool", "2"],
             preexec_fn=small_disk)
acked, errors, bodies = 0, 0, []
try:
    p = Participant(srv.port)
    p.start()
    failed = None
    for _ in range(400):
        t = p.next()
        p.image(t)
        st, hdr, data = p.answer(t["trial"], True)
        if st == 200:
            acked += 1
            continue
        failed = t
        errors += 1
        bodies.append((st, hdr.get("Content-Type"), data))
        break
    check("full_disk_reached", failed is not None and acked > 0, f"{acked} stored, no failure")
    if failed:
        # The trial stays open: two retries, both refused the same way.
        for _ in range(2):
            st, hdr, data = p.answer(failed["trial"], True)
            errors += st == 500
            bodies.append((st, hdr.get("Content-Type"), data))
        # A new participant cannot be stored either: another failed write.
        st, hdr, data = Participant(srv.port).request("POST", "/api/session")
        errors += st == 500
        bodies.append((st, hdr.get("Content-Type"), data))
    good = True
    for st, ctype, data in bodies:
        try:
            good &= st == 500 and ctype == "application/json" and bool(json.loads(data)["error"])
        except (ValueError, KeyError):
            good = False
    check("full_disk_500_json", good and errors == 4, (errors, bodies))
    time.sleep(0.2)
    lines = [ln for ln in open(log) if "database write failed" in ln]
    check("full_disk_one_stderr_line_each", len(lines) == errors and all(
        ln.startswith("lapgan serve: database write failed (the participant got HTTP 500): ")
        and "full.db" in ln for ln in lines), (errors, lines))
    st, j = status(srv.port)
    check("full_disk_status_counts", st == 200 and j["db_write_failures"] == errors
          and "full.db" in (j["last_db_error"] or "")
          and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", j["last_db_error_utc"] or ""),
          (st, j))
    st, _, page = Participant(srv.port).request("GET", "/")
    check("full_disk_still_serving", st == 200 and b"Real or generated?" in page, st)
finally:
    rc = srv.stop()
stopped = open(log).read().strip().splitlines()[-1]
check("full_disk_stop_line", rc == 0 and stopped ==
      f"stopped: {acked} judgements in {db} ({errors} database writes failed, see above)",
      (rc, stopped))
con = sqlite3.connect(db)
n = con.execute("SELECT COUNT(*) FROM judgements").fetchone()[0]
check("full_disk_db_rows_equal_acks", n == acked, (n, acked))
con.close()

check("json_error_bodies_parse", not common.bad_json_errors, common.bad_json_errors)
sys.exit(1 if fails else 0)
