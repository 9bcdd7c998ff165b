#!/usr/bin/env bash
# lapgan serve under load on 127.0.0.1: 50 concurrent participants submit
# 10,000 judgements; the server is SIGKILLed half-way and restarted on the
# same database; every acknowledged judgement must be stored, none twice
# (tests/study/load.py, which also prints the answer latency median and p99).
# LG_STUDY_LOAD_ARGS passes other options (e.g. "--judgements 100000
# --time-limit 1200" for a longer run). Usage: study_load.sh LAPGAN
set -u
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)
if [ ! -d /usr/share/datasets/fashion-mnist ] || ! command -v python3 >/dev/null; then
  skip_all study_load "needs Fashion-MNIST and python3 (scripts/deps.sh installs them)"
fi
if ! "$bin" train --preset tiny --steps 5 --out "$tmp/tiny" --quiet >/dev/null 2>"$tmp/err"; then
  fail study_load_train "$(cat "$tmp/err")"; finish; exit
fi
# shellcheck disable=SC2086
python3 "$here/tests/study/load.py" "$bin" "$tmp" "$tmp/tiny" ${LG_STUDY_LOAD_ARGS:-}
