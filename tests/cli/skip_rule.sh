#!/usr/bin/env bash
# The skip rule for the scripts (tests/cli/lib.sh) and for the closing count
# (tests/run.sh): a check forced to miss a dependency is a SKIP, and a FAIL
# under CI=true; skip_absent (what cannot exist here) stays a SKIP; a SKIP
# without a reason fails; run.sh counts an untagged SKIP line under CI=true
# as a failure. (tests/test_skip.c checks the same for tests/test.h.)
# Usage: skip_rule.sh LAPGAN
set -u
source "$(dirname "$0")/lib.sh"
lib="$(cd "$(dirname "$0")" && pwd)/lib.sh"
root="$(cd "$(dirname "$0")/../.." && pwd)"

# forced CI CALL...: a script that sources lib.sh, calls CALL, then goes on;
# its output in $tmp/out, its exit status in $rc.
forced() {
  local ci=$1; shift
  local script="source '$lib' '$bin'; $*; echo reached; finish"
  if [ -n "$ci" ]; then CI=$ci bash -c "$script"; else env -u CI bash -c "$script"; fi >"$tmp/out" 2>&1
  rc=$?
}
# want NAME RC LINE...: exit status RC and each LINE present as a whole line.
want() {
  local name=$1 code=$2; shift 2
  local l miss=
  for l in "$@"; do grep -qxF -- "$l" "$tmp/out" || miss+=" [$l]"; done
  if [ "$rc" -eq "$code" ] && [ -z "$miss" ]; then pass "$name"
  else fail "$name" "exit $rc (want $code), missing$miss in: $(head -c 300 "$tmp/out")"; fi
}

why="no-such-package-lapgan is not installed (scripts/deps.sh test)"
forced true "skip_or_fail forced_dep '$why'"
want ci_missing_dependency_fails 1 \
  "FAIL forced_dep: cannot run under CI=true (the set-up must provide it): $why" reached
forced "" "skip_or_fail forced_dep '$why'"
want missing_dependency_skips 0 "SKIP forced_dep: $why" reached
forced true "skip_absent forced_gpu 'no CUDA device'"
want ci_absent_stays_skip 0 "SKIP forced_gpu: no CUDA device (cannot exist here)" reached
forced "" "skip_or_fail forced_dep ''"
want skip_without_reason_fails 1 "FAIL forced_dep: SKIP without a reason" reached
forced true "skip_all forced_dep '$why'"
if [ "$rc" -eq 1 ] && ! grep -q reached "$tmp/out"; then pass ci_skip_all_ends_script
else fail ci_skip_all_ends_script "exit $rc: $(head -c 300 "$tmp/out")"; fi

# run.sh's count: a bare SKIP line (a script that bypasses lib.sh) under CI=true.
printf 'PASS a\nSKIP b: no thing\nSKIP c: no GPU (cannot exist here)\nSKIP d\n' >"$tmp/log"
t1=$(env -u CI bash "$root/tests/run.sh" --tally "$tmp/log" | tail -1)
t2=$(CI=true bash "$root/tests/run.sh" --tally "$tmp/log" | tail -1)
[ "$t1" = "1 passed, 1 failed, 2 skipped" ] && pass tally_reasonless_skip_fails || fail tally_reasonless_skip_fails "$t1"
[ "$t2" = "1 passed, 2 failed, 1 skipped" ] && pass tally_ci_untagged_skip_fails || fail tally_ci_untagged_skip_fails "$t2"
finish
