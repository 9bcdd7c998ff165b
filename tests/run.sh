#!/usr/bin/env bash
# Runs every test program of each build dir given (default: build) and every
# CLI test script, then prints the closing line "N passed, N failed, N skipped".
# A program that crashes or exits non-zero without a FAIL line counts as a failure.
# The skip rule (tests/test.h, tests/cli/lib.sh): a SKIP line must give a
# reason ("SKIP name: why"), and under CI=true only a SKIP tagged
# "(cannot exist here)" is a skip; any other is counted as a failure, so a
# check the set-up should have made possible cannot turn the suite green.
# Usage: tests/run.sh [BUILD_DIR...]   |   tests/run.sh --tally LOG (count one log)
set -u
cd "$(dirname "$0")/.."
pass=0; fail=0; skip=0
absent_tag='(cannot exist here)'
count() { # $1 label, $2 exit code; the lines are in $log
  local p f s bad
  p=$(grep -c '^PASS ' "$log"); f=$(grep -c '^FAIL ' "$log"); s=$(grep -c '^SKIP ' "$log")
  grep '^FAIL ' "$log" | sed "s|^FAIL |  |; s|\$| ($1)|" >> "$log.failed"
  # A SKIP without a reason, or (CI=true) without the tag, is a failure.
  if [ "${CI:-}" = true ]; then grep '^SKIP ' "$log" | grep -vF "$absent_tag"
  else grep -E '^SKIP [^:]*(:[[:space:]]*)?$' "$log"; fi > "$log.bad"
  bad=$(grep -c . "$log.bad")
  sed "s|^SKIP |  skipped, which CI=true or a missing reason makes a failure: |; s|\$| ($1)|" \
    "$log.bad" >> "$log.failed"
  f=$((f + bad)); s=$((s - bad))
  pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
  if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then
    fail=$((fail + 1)); echo "  $1 exited with status $2" >> "$log.failed"
  fi
}
summary() {
  if [ -s "$log.failed" ]; then echo "Failures:"; cat "$log.failed"; fi
  rm -f "$log.failed" "$log.bad"
  echo "$pass passed, $fail failed, $skip skipped"
  [ "$fail" -eq 0 ]
}
if [ "${1:-}" = --tally ]; then
  log=${2:?usage: run.sh --tally LOG}
  : > "$log.failed"; count "$log" 0; summary; exit
fi
dirs=("$@"); [ ${#dirs[@]} -eq 0 ] && dirs=(build)
log=$(mktemp); trap 'rm -f "$log" "$log.failed" "$log.bad"' EXIT
: > "$log.failed"
for d in "${dirs[@]}"; do
  for t in "$d"/tests/test_*; do
    [ -x "$t" ] || continue
    case "$t" in *.o|*.d) continue ;; esac
    echo "== $t"
    LG_BUILD_DIR="$d" timeout 1200 "$t" > "$log" 2>&1; rc=$?
    cat "$log"
    count "$t" "$rc"
  done
  for s in tests/cli/*.sh; do
    [ -f "$s" ] || continue
    echo "== $s ($d)"
    LG_BUILD_DIR="$d" timeout 1200 bash "$s" "$d/lapgan" > "$log" 2>&1; rc=$?
    cat "$log"
    count "$s[$d]" "$rc"
  done
done
summary
