#!/usr/bin/env bash
# The main job: train a small class-conditional LAPGAN on Fashion-MNIST
# (Debian's dataset-fashion-mnist) and write a sample grid and a chain figure.
# Installs what is missing (Debian packages), builds, then trains and samples.
# Usage: scripts/demo.sh        (make demo runs the same)
# Environment: DEMO_STEPS, DEMO_COARSE_STEPS, DEMO_OUT (run dir), DEMO_THREADS.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
make -j"$(nproc)" cli >/dev/null
bin=build/lapgan
out="${DEMO_OUT:-runs/demo}"
steps="${DEMO_STEPS:-3000}"       # steps of the two conv levels (14x14, 28x28)
coarse="${DEMO_COARSE_STEPS:-6000}" # the 7x7 FC level costs ~1/30 of a conv level
threads="${DEMO_THREADS:-0}"
targs=(); [ "$threads" != 0 ] && targs=(--threads "$threads")
# Adam (lr 2e-4, beta1 0.5) with the paper's nets: in a budget of minutes the
# paper's SGD leaves the fully connected 7x7 level collapsed to one image.
common=(--data fashion --preset fashion --class-conditional --adam --batch 64
        --sample-every 500 --ckpt-every 500 --out "$out" "${targs[@]}")
"$bin" --version
"$bin" selfcheck   # all cores; it takes no options
rm -rf "$out"
start=$(date +%s)
# Levels share nothing: each invocation trains its own levels into one run dir.
"$bin" train "${common[@]}" --levels 2 --steps "$coarse" --log-every 1000
"$bin" train "${common[@]}" --levels 0,1 --steps "$steps" --log-every 100
"$bin" sample --model "$out" -n 100 --seed 1 -o "$out/samples.png" --chain "$out/chain.png" "${targs[@]}"
"$bin" info "$out"
echo
echo "trained in $(( $(date +%s) - start )) s"
echo "samples:      $out/samples.png   (one row per class: T-shirt/top, Trouser, Pullover, Dress, Coat,"
echo "                                  Sandal, Shirt, Sneaker, Bag, Ankle boot)"
echo "chain figure: $out/chain.png     (per row: I_2, then u(I_k+1), h_k, I_k for k = 1, 0)"
echo "training log: $out/log_level_<k>.jsonl, progress grids in $out/samples/"
