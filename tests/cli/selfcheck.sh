#!/usr/bin/env bash
# `lapgan selfcheck` checks the path training runs: its 32-channel 5x5
# convolutions go through Winograd F(4x4,5x5) (forward and backward-data) on
# the cpu backend and are compared with the reference backend; with
# LG_CONV_ALGO forcing another path it says which one it checked.
# Usage: selfcheck.sh LAPGAN
set -u
source "$(dirname "$0")/lib.sh"

# selfcheck_says NAME PATTERN [ENV=VALUE]: exit 0, one stdout line matching PATTERN.
selfcheck_says() {
  local name=$1 pat=$2; shift 2
  env "$@" "$bin" selfcheck >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [ $rc -eq 0 ] && [ "$(wc -l <"$tmp/out")" -eq 1 ] && grep -qE -- "$pat" "$tmp/out"; then pass "$name"
  else fail "$name" "exit $rc: $(head -c 300 "$tmp/out") $(head -c 300 "$tmp/err")"; fi
}
selfcheck_says selfcheck_default_winograd \
  '^selfcheck: ok \(cpu backend agrees with reference: Winograd F\(4x4,5x5\) forward \+ backward-data and oneDNN'
selfcheck_says selfcheck_winograd2 'Winograd F\(2x2,5x5\) forward \+ backward-data' LG_CONV_ALGO=winograd2
selfcheck_says selfcheck_dnnl_named 'oneDNN convolutions only \(LG_CONV_ALGO=dnnl\)' LG_CONV_ALGO=dnnl
selfcheck_says selfcheck_one_thread '1 threads\)$' OMP_NUM_THREADS=1
expect_fail selfcheck_extra_arg 2 "unexpected argument 'x'" "$bin" selfcheck x
finish
