#!/bin/bash
# Conv2d(128,128,5,pad 2) against PyTorch: runs bench/conv_bench (ours:
# im2col+OpenBLAS, oneDNN blocked, oneDNN plain NCHW) and
# bench/ref/conv_bench.py (PyTorch) alternately, one warm-up pair then PAIRS
# timed pairs (A B A B ...), so drift on a shared machine hits both alike.
# Prints per case the median over runs of each run's median time, the
# min-max, GFLOP/s, % of the measured fp32 FMA peak and speed vs PyTorch
# (PyTorch time / our time; > 1 means ours is faster).
#
#   bench/conv.sh [BUILD_DIR=build] [PAIRS=5]
#   env: THREADS (2), IMPLS (im2col,dnnl,dnnl_nchw,dnnl_nhwc)
set -euo pipefail
build=${1:-build}
pairs=${2:-5}
threads=${THREADS:-2}
ours=("$build/bench/conv_bench" --threads "$threads" --impl "${IMPLS:-im2col,dnnl,dnnl_nchw,dnnl_nhwc}")
ref=(/usr/bin/python3 bench/ref/conv_bench.py --threads "$threads")
for f in "$build/bench/conv_bench" "$build/bench/peak_fma"; do
    [[ -x $f ]] || { echo "conv.sh: $f missing; run make BUILD=$build" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$build/bench/peak_fma" "$threads" >"$tmp/peak"
"${ours[@]}" >/dev/null
"${ref[@]}" >/dev/null
for ((i = 1; i <= pairs; i++)); do
    echo "pair $i/$pairs" >&2
    "${ours[@]}" >>"$tmp/ours"
    "${ref[@]}" >>"$tmp/ref"
done
"$build/bench/peak_fma" "$threads" >>"$tmp/peak"

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(lscpu | sed -n 's/^Model name: *//p'), $threads threads, $pairs pairs, load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$tmp/peak" "$tmp/ours" "$tmp/ref" <<'PY'
import re, statistics, sys
from collections import defaultdict

peak = max(float(m) for m in re.findall(r"avx512 .*threads:\s*([\d.]+)", open(sys.argv[1]).read()))
runs = defaultdict(list)
gflop = {}
order = []
for path in sys.argv[2:]:
    for line in open(path):
        f = line.split()
        if f and f[0] == "RESULT":
            key = (f[1], f[2], f[3])
            if key not in runs:
                order.append(key)
            runs[key].append(float(f[4]))
            gflop[key[1:]] = float(f[6])
print(f"fp32 FMA peak (avx512, best run): {peak:.0f} GFLOP/s")
print(f"{'impl':10} {'shape':16} {'direction':12} {'median ms':>10} {'min-max ms':>17} "
      f"{'GFLOP/s':>8} {'% peak':>7} {'vs torch':>9}")
for key in order:
    impl, shape, d = key
    t = statistics.median(runs[key])
    tt = runs.get(("torch", shape, d))
    ratio = f"{statistics.median(tt) / t:8.2f}x" if tt and impl != "torch" else ""
    gf = gflop[(shape, d)] / t * 1e3
    print(f"{impl:10} {shape:16} {d:12} {t:10.1f} {min(runs[key]):8.1f}-{max(runs[key]):<8.1f} "
          f"{gf:8.0f} {100 * gf / peak:6.0f}% {ratio:>9}")
PY
