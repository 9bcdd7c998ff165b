#!/usr/bin/env bash
# Runs every test program of each build dir given (default: build) and every
# CLI test script, then prints the closing line "N passed, N failed, N skipped".
# A program that crashes or exits non-zero without a FAIL line counts as a failure.
set -u
cd "$(dirname "$0")/.."
dirs=("$@"); [ ${#dirs[@]} -eq 0 ] && dirs=(build)
pass=0; fail=0; skip=0; failed=()
log=$(mktemp); trap 'rm -f "$log"' EXIT
count() { # $1 label, $2 exit code
  local p f s
  p=$(grep -c '^PASS ' "$log"); f=$(grep -c '^FAIL ' "$log"); s=$(grep -c '^SKIP ' "$log")
  pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
  grep '^FAIL ' "$log" | sed "s|^FAIL |  |; s|\$| ($1)|" >> "$log.failed"
  if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then
    fail=$((fail + 1)); echo "  $1 exited with status $2" >> "$log.failed"
  fi
}
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
if [ -s "$log.failed" ]; then echo "Failures:"; cat "$log.failed"; fi
rm -f "$log.failed"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
