#!/usr/bin/env bash
# The main job: train a small class-conditional LAPGAN on Fashion-MNIST
# (Debian's dataset-fashion-mnist) and write a sample grid and a chain figure.
# Installs what is missing (Debian packages), builds, then trains and samples.
# Usage: scripts/demo.sh        (make demo runs the same)
# Environment: DEMO_STEPS (steps per level), DEMO_OUT (run dir), DEMO_THREADS.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
make -j"$(nproc)" all >/dev/null
bin=build/lapgan
out="${DEMO_OUT:-runs/demo}"
steps="${DEMO_STEPS:-1500}"
threads="${DEMO_THREADS:-0}"
targs=(); [ "$threads" != 0 ] && targs=(--threads "$threads")
"$bin" --version
"$bin" selfcheck "${targs[@]}"
"$bin" train --data fashion --preset fashion --class-conditional --steps "$steps" \
  --sample-every 500 --ckpt-every 250 --out "$out" "${targs[@]}"
"$bin" sample --model "$out" -n 100 --seed 1 -o "$out/samples.png" --chain "$out/chain.png" "${targs[@]}"
"$bin" info "$out"
echo
echo "samples:      $out/samples.png   (one row per class: T-shirt/top, Trouser, Pullover, Dress, Coat,"
echo "                                  Sandal, Shirt, Sneaker, Bag, Ankle boot)"
echo "chain figure: $out/chain.png     (per row: I_2, then u(I_k+1), h_k, I_k for k = 1, 0)"
echo "training log: $out/log_level_<k>.jsonl, progress grids in $out/samples/"
