#!/usr/bin/env bash
# lapgan serve cannot be locked out or fail silently (tests/study/limits.py):
# a new participant is served while 1,010 idle connections from one client
# are open, idle connections are closed after --idle-timeout, and with the
# database on a "full disk" (RLIMIT_FSIZE) every failed write is a 500 with
# a JSON body, one stderr line and a count on /api/status. Traffic only to
# 127.0.0.1. Also the new options' usage errors. Usage: study_limits.sh LAPGAN
set -u
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)
if [ ! -d /usr/share/datasets/fashion-mnist ] || ! command -v python3 >/dev/null; then
  skip_all study_limits "needs Fashion-MNIST and python3 (scripts/deps.sh installs them)"
fi
m=(--db "$tmp/x.db" --model "lapgan=$tmp/tiny" --port 0)
expect_fail serve_per_client_not_below_total 2 "--per-client 10 must be below --max-connections 10" \
  "$bin" serve "${m[@]}" --per-client 10 --max-connections 10
expect_fail serve_bad_idle_timeout 2 "--idle-timeout" "$bin" serve "${m[@]}" --idle-timeout 0
expect_fail serve_bad_max_connections 2 "--max-connections" "$bin" serve "${m[@]}" --max-connections 1
# More connections than this process may open files: refused up front.
expect_fail serve_fd_limit 2 "--max-connections 5000 needs 5064 open files; this process may have 1000" \
  bash -c 'ulimit -n 1000; exec "$0" "$@"' "$bin" serve "${m[@]}" --max-connections 5000
if ! "$bin" train --preset tiny --steps 5 --out "$tmp/tiny" --quiet >/dev/null 2>"$tmp/err"; then
  fail study_limits_train "$(cat "$tmp/err")"; finish; exit
fi
timeout 300 python3 "$here/tests/study/limits.py" "$bin" "$tmp" "$tmp/tiny" || fails=$((fails + 1))
finish
