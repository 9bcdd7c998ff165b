"""Hostile and wrong requests to `lapgan serve`: each gets a clean HTTP error,
nothing is stored for it, and the server keeps serving. Then the leak checks:
what a participant can read (URLs, headers, lengths) is the same whatever the
image's source. Prints PASS/FAIL lines.
Usage: bad_input.py LAPGAN TMPDIR MODEL_DIR CC_MODEL_DIR"""
import json
import os
import re
import socket
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import common  # noqa: E402
from common import Participant, Server  # noqa: E402

binary, tmp, tiny, cc = sys.argv[1:5]
fails = 0


def check(name, ok, detail=""):
    global fails
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else f": {detail}"))
    fails += not ok


def raw(port, data, timeout=10):
    """Sends bytes as they are; returns the status line's code (0: none)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        buf = b""
        while b"\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        s.close()
    m = re.match(rb"HTTP/1\.[01] (\d{3})", buf)
    return int(m.group(1)) if m else 0


db = os.path.join(tmp, "bad.db")
for suffix in ("", "-wal", "-shm"):
    if os.path.exists(db + suffix):
        os.remove(db + suffix)
srv = Server(binary, db, [("lapgan", tiny), ("cc", cc)], os.path.join(tmp, "bad.log"),
             ["--trials", "12", "--pool", "2", "--exposure", "100,unlimited"])
port = srv.port
acked = 0
try:
    a, b = Participant(port), Participant(port)
    a.start()
    b.start()
    check("session_cookie", a.cookie and b.cookie and a.cookie != b.cookie, (a.cookie, b.cookie))
    ta = a.next()
    check("next_fields", set(ta) == {"trial", "image", "exposure_ms", "fixation_ms", "number",
                                     "total"} and re.fullmatch(r"/img/[0-9a-f]{32}", ta["image"])
          and ta["number"] == 1, ta)
    check("next_idempotent", a.next()["trial"] == ta["trial"], "a second /api/next issued a new trial")

    # Judging before the image was ever sent, or someone else's trial.
    st, _, _ = a.answer(ta["trial"], True)
    check("answer_before_image_409", st == 409, st)
    st, _, _ = b.image(ta)
    check("image_other_session_404", st == 404, st)
    st, _, _ = b.answer(ta["trial"], True)
    check("answer_other_session_404", st == 404, st)
    st, _, _ = Participant(port).answer(ta["trial"], True)
    check("answer_no_session_401", st == 401, st)
    st, _, _ = Participant(port, cookie="0" * 32).answer(ta["trial"], True)
    check("answer_forged_session_401", st == 401, st)
    st, _, _ = a.answer("f" * 32, True)
    check("answer_never_issued_404", st == 404, st)

    st, hdr, png = a.image(ta)
    check("image_png", st == 200 and png[:8] == b"\x89PNG\r\n\x1a\n", (st, png[:8]))
    check("image_no_store", hdr.get("Cache-Control") == "no-store", hdr)

    # Malformed answers.
    bodies = ["", "{", "[]", "null", '{"trial":1,"answer":"real","rt_ms":1}',
              json.dumps({"trial": ta["trial"], "answer": "maybe", "rt_ms": 1}),
              json.dumps({"trial": ta["trial"], "answer": "real", "rt_ms": -5}),
              json.dumps({"trial": ta["trial"], "answer": "real", "rt_ms": "5"}),
              json.dumps({"trial": ta["trial"], "answer": "real", "rt_ms": 1e300}),
              json.dumps({"trial": ta["trial"], "answer": "real"}),
              json.dumps({"trial": ta["trial"], "answer": "real", "rt_ms": 1, "source": "x"}),
              '{"trial":"%s","trial":"%s","answer":"real","rt_ms":1}' % (ta["trial"], ta["trial"]),
              "\xff\xfe garbage"]
    codes = [a.request("POST", "/api/answer", body.encode("latin-1"),
                       {"Content-Type": "application/json"})[0] for body in bodies]
    check("malformed_answers_400", codes == [400] * len(bodies), codes)

    st, _, data = a.answer(ta["trial"], True, 250.0)
    acked += st == 200
    check("answer_ok", st == 200 and json.loads(data)["ok"] is True, (st, data))
    st, _, _ = a.answer(ta["trial"], False)
    check("replay_409", st == 409, st)
    st, _, _ = a.image(ta)
    check("image_after_answer_404", st == 404, st)

    # Routes, methods, traversal.
    paths = ["/nope", "/api", "/api/", "/img/", "/img/" + "g" * 32, "/img/" + "0" * 31,
             "/img/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/img/..%2f..%2fetc%2fpasswd",
             "/../bad.db", "/bad.db", "//etc/passwd", "/index.html", "/page.html",
             "/api/next/../session", "/img/" + ta["trial"] + ".png"]
    codes = [a.request("GET", p)[0] for p in paths]
    check("unknown_routes_404", codes == [404] * len(paths), list(zip(paths, codes)))
    codes = [a.request(m, p)[0] for m, p in [("DELETE", "/"), ("PUT", "/api/answer"),
                                             ("GET", "/api/answer"), ("POST", "/"),
                                             ("POST", "/api/next"), ("GET", "/api/session")]]
    check("wrong_method_405", codes == [405] * 6, codes)
    for p in ["/../../etc/passwd", "/img/../../../etc/passwd"]:
        code = raw(port, b"GET " + p.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        check("raw_traversal_404" + p.replace("/", "_"), code == 404, code)

    # Oversized and malformed requests.
    code = raw(port, b"POST /api/answer HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n"
                     b"Content-Type: application/json\r\n\r\n" + b"{" * 2000)
    check("huge_content_length_413", code == 413, code)
    st, _, _ = a.request("POST", "/api/answer", b'{"trial":"' + b"a" * 5000 + b'"}',
                         {"Content-Type": "application/json"})
    check("big_body_413", st == 413, st)
    chunk = b"%x\r\n%s\r\n" % (3000, b"x" * 3000)
    code = raw(port, b"POST /api/answer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               + chunk * 3 + b"0\r\n\r\n")
    check("chunked_body_413", code == 413, code)
    code = raw(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n")
    check("huge_header_4xx", 400 <= code < 500, code)
    code = raw(port, b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    check("huge_url_4xx", 400 <= code < 500, code)
    codes = [raw(port, r) for r in [b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET /\r\n\r\n"]]
    check("garbage_request_400_or_closed", all(c in (0, 400) for c in codes), codes)
    # Binary junk: libmicrohttpd waits for a request line until its timeout;
    # meanwhile everyone else is served.
    junk = socket.create_connection(("127.0.0.1", port))
    junk.sendall(b"\x00\x01garbage\r\n\r\n" * 10)
    st, _, _ = Participant(port).request("GET", "/")
    check("served_beside_junk_connection", st == 200, st)
    junk.close()
    code = raw(port, b"GET / HTTP/1.1\r\n\r\n")
    check("http11_without_host_400", code == 400, code)
    code = raw(port, b"GET / HTTP/9.9\r\nHost: x\r\n\r\n")
    check("bad_version_4xx_5xx", code >= 400, code)
    # A client that sends half a request and goes away.
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /api/answer HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"tr")
    s.close()

    # Still serving: the rest of participant a's trials, all stored.
    while True:
        t = a.next()
        if t.get("done"):
            break
        st, _, _ = a.image(t)
        st2, _, _ = a.answer(t["trial"], t["number"] % 2 == 0)
        acked += st2 == 200
        check(f"trial_{t['number']}_after_abuse", st == 200 and st2 == 200, (st, st2))
    st, _, data = a.request("GET", "/")
    check("page_still_served", st == 200 and b"Real or generated?" in data, st)

    # Leak checks over every source: the headers a participant sees are identical
    # (Date aside), the PNG length is one number, no URL names a source.
    seen = {}
    c = Participant(port)
    c.start()
    lens = set()
    while True:
        t = c.next()
        if t.get("done"):
            break
        # Only the exposure and the trial number may change the length.
        lens.add(len(json.dumps(t)) - len(str(t["exposure_ms"])) - len(str(t["number"])))
        st, hdr, png = c.image(t)
        hdr.pop("Date", None)
        st2, _, _ = c.answer(t["trial"], True)
        acked += st2 == 200
        seen[t["number"]] = (t["image"], tuple(sorted(hdr.items())), len(png))
    con = sqlite3.connect(db)
    sid = con.execute("SELECT id FROM sessions WHERE token=?", (c.cookie,)).fetchone()[0]
    src = dict(con.execute("SELECT trial, source FROM judgements WHERE session_id=?", (sid,)))
    by_src = {}
    for num, (url, hdrs, n) in seen.items():
        by_src.setdefault(src[num], set()).add((hdrs, n))
    check("every_source_seen", set(by_src) == {"real", "lapgan", "cc"}, by_src.keys())
    check("same_headers_and_length_all_sources",
          len(set().union(*by_src.values())) == 1, by_src)
    urls = [u for u, _, _ in seen.values()]
    check("urls_opaque", all(re.fullmatch(r"/img/[0-9a-f]{32}", u) for u in urls)
          and len(set(urls)) == len(urls), urls)
    check("next_response_one_length", len(lens) == 1, lens)

    n = con.execute("SELECT COUNT(*) FROM judgements").fetchone()[0]
    check("db_rows_equal_acks", n == acked, (n, acked))
    # Every error reply above that says application/json parses as {"error": "..."}.
    check("json_error_bodies_parse", not common.bad_json_errors, common.bad_json_errors)
    con.close()
finally:
    rc = srv.stop()
check("clean_shutdown", rc == 0, rc)
sys.exit(1 if fails else 0)
