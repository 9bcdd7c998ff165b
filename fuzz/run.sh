#!/usr/bin/env bash
# Runs every harness in BUILD_DIR (default build-fuzz) for SECONDS each
# (default $FUZZ_SECONDS or 20), from the committed seeds in fuzz/corpus/<name>
# and fuzz/regressions/<name>; new inputs go to a scratch corpus, so the
# committed one never changes. Prints "PASS fuzz_<name> (N runs in S s)" or
# FAIL with the crashing input's path; exits non-zero on any failure.
# A crash is kept in fuzz/crashes/ for turning into a regression (see
# docs/RELIABILITY.md).
set -u
cd "$(dirname "$0")/.."
build=${1:-build-fuzz}
secs=${2:-${FUZZ_SECONDS:-20}}
work=$(mktemp -d /tmp/lapgan-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
fails=0
for bin in "$build"/fuzz_*; do
  [ -x "$bin" ] || continue
  case "$bin" in *.o|*.d) continue ;; esac
  name=${bin##*/fuzz_}
  mkdir -p "$work/$name"
  seeds=(fuzz/corpus/"$name")
  [ -d fuzz/regressions/"$name" ] && seeds+=(fuzz/regressions/"$name")
  # -close_fd_mask=3: the parsers' own messages stay out of the log;
  # libFuzzer still reports crashes. OpenMP: one thread, like the replay.
  OMP_NUM_THREADS=1 timeout $((secs + 120)) "$bin" -max_total_time="$secs" -timeout=10 \
    -rss_limit_mb=4096 -close_fd_mask=3 -print_final_stats=1 \
    -artifact_prefix="$work/$name-" "$work/$name" "${seeds[@]}" >"$work/$name.log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$name.log" | tail -1)
  if [ $rc -eq 0 ]; then
    echo "PASS fuzz_$name (${runs:-?} runs in $secs s)"
  else
    mkdir -p fuzz/crashes
    kept=
    for a in "$work/$name"-*; do
      [ -f "$a" ] && cp "$a" fuzz/crashes/ && kept="$kept fuzz/crashes/${a##*/}"
    done
    echo "FAIL fuzz_$name (exit $rc after ${runs:-?} runs; input:${kept:- none})"
    grep -m1 -E 'ERROR|runtime error|deadly signal|out-of-memory|timeout' "$work/$name.log"
    fails=$((fails + 1))
  fi
done
exit $((fails > 0))
