#!/usr/bin/env bash
# The benchmarks cannot rot: `lapgan bench` and every bench/ program run once
# on tiny sizes and print their machine-readable lines; `QUICK=1 bench/run.sh`
# runs the PyTorch side too (Debian's python3-torch; lapgan_ref.py checks its
# nets' parameter counts against lapgan's) and prints the table: without
# torch a skip, a FAIL under CI=true.
# Nothing is timed. Usage: bench_smoke.sh LAPGAN   (env LG_BUILD_DIR: build dir)
set -u
source "$(dirname "$0")/lib.sh"
build=${LG_BUILD_DIR:-$(dirname "$bin")}
num='[0-9]+(\.[0-9]+)?'

# expect_lines NAME FILE COUNT REGEX: FILE has exactly COUNT lines matching REGEX.
expect_lines() {
  local n; n=$(grep -cE "$4" "$2")
  if [ "$n" -eq "$3" ]; then pass "$1"; else fail "$1" "$n lines match '$4', want $3: $(tail -c 300 "$2")"; fi
}

if "$bin" bench --preset tiny --batch 8 --threads 1 >"$tmp/ours" 2>"$tmp/err"; then
  expect_lines bench_levels "$tmp/ours" 3 "^train_img_per_s [0-9]+x[0-9]+ $num\$"
  expect_lines bench_total "$tmp/ours" 1 "^train_img_per_s total $num\$"
  expect_lines bench_sample "$tmp/ours" 1 "^sample_img_per_s $num\$"
  # coarsest first: 7x7, 14x14, 28x28
  order=$(awk '$1 == "train_img_per_s" && $2 != "total" {printf "%s ", $2}' "$tmp/ours")
  [ "$order" = "7x7 14x14 28x28 " ] && pass bench_order || fail bench_order "$order"
else
  fail bench_runs "$(cat "$tmp/err")"
fi
expect_fail bench_bad_batch 2 'batch' "$bin" bench --preset tiny --batch 7

if "$bin" bench --preset tiny --batch 8 --adam --print-json >"$tmp/json" 2>"$tmp/err"; then
  head -1 "$tmp/json" | grep -q '^{"format":"lapgan-model-5".*"kind":"adam"' &&
    pass bench_json || fail bench_json "$(head -c 200 "$tmp/json")"
  expect_lines bench_params "$tmp/json" 6 '^params [0-9]+x[0-9]+ [GD] [1-9][0-9]*$'
else
  fail bench_json "$(cat "$tmp/err")"
fi

if "$build/bench/peak_fma" 1 12 >"$tmp/peak" 2>&1; then
  expect_lines peak_fma "$tmp/peak" 1 "^avx2 +1 thread: +$num"
else
  fail peak_fma "$(cat "$tmp/peak")"
fi
if "$build/bench/conv_bench" --threads 1 --reps 1 --batch 2 --shape 16 --impl im2col,dnnl \
    >"$tmp/conv" 2>&1; then
  expect_lines conv_bench "$tmp/conv" 8 "^RESULT (im2col|dnnl) 2x128x16x16>128 (fwd|bwd_data|bwd_weights|total) $num $num $num\$"
else
  fail conv_bench "$(tail -c 300 "$tmp/conv")"
fi
if "$build/bench/parzen_bench" 1 64 64 48 >"$tmp/parzen" 2>&1; then
  expect_lines parzen_bench "$tmp/parzen" 2 "^parzen_(sigma|ll)_s $num\$"
else
  fail parzen_bench "$(tail -c 300 "$tmp/parzen")"
fi

if grep -qa __asan_init "$bin"; then
  echo "# bench_ref: runs once, with the normal build (a sanitizer build's timings mean nothing)"
elif ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  skip_or_fail bench_ref "/usr/bin/python3 has no torch (scripts/deps.sh test installs python3-torch)"
elif QUICK=1 OUT="$tmp/table.md" bench/run.sh "$build" >"$tmp/run" 2>&1; then
  missing=
  for m in "train img/s, 28x28" "train img/s, whole model" "sample img/s" "Parzen log-likelihood, s" \
           "peak RSS MB, train + sample" "conv, all 5 cifar10 layer shapes, GFLOP/s"; do
    grep -qF "| $m | " "$tmp/table.md" || missing+=" '$m'"
  done
  [ -z "$missing" ] && pass bench_ref_table || fail bench_ref_table "no row$missing"
  # on a CPU with bf16, six more: four bf16 training rates, bf16 sampling and RSS
  rows=13
  if grep -qwE 'avx512_bf16|amx_bf16' /proc/cpuinfo; then
    rows=19
    check bench_ref_bf16 grep -qE "^\| ours bf16 / ours fp32, train whole model \| $num \[$num-$num\] \|\$" "$tmp/table.md"
  fi
  expect_lines bench_ref_rows "$tmp/table.md" "$rows" "^\| .* \| $num( \([0-9]+%\))? \| $num( \([0-9]+%\))? \| ($num \[$num-$num\]|n/a) \|\$"
else
  fail bench_ref "$(tail -c 500 "$tmp/run")"
fi
finish
