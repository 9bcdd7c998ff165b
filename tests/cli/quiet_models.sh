#!/usr/bin/env bash
# Issue 15 case 10 (model side): checkpoints that describe a quietly wrong
# model are refused with one line naming the right file: an init name that
# does not exist ("torci"), a tensor of the wrong shape (a transposed weight:
# same count), a foreign level_0 (once reported as an error in level_1's
# file), a level file beyond the model's levels (once silently ignored); and
# a layer too large for the batch says the bound (docs/RELIABILITY.md).
# Usage: quiet_models.sh LAPGAN
set -u
source "$(dirname "$0")/lib.sh"
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  skip_all quiet_models "Fashion-MNIST absent (scripts/deps.sh installs dataset-fashion-mnist)"
fi
T=(train --data fashion --batch 8 --threads 1 --steps 2 --quiet)
"$bin" "${T[@]}" --preset tiny --out "$tmp/run" >/dev/null 2>&1 &&
  "$bin" "${T[@]}" --preset tiny --dcgan --out "$tmp/dcgan" >/dev/null 2>&1 &&
  "$bin" "${T[@]}" --preset gan-fashion --out "$tmp/one" >/dev/null 2>&1 ||
  { fail setup "training failed"; exit 1; }
# copy NAME: the run's level files in $tmp/NAME
copy() { mkdir -p "$tmp/$1" && cp "$tmp"/run/level_*.safetensors "$tmp/$1/"; }
sample() { timeout -k 5 60 "$bin" sample --model "$1" -n 2 --threads 1 -o "$tmp/s.png"; }

copy torci
LC_ALL=C sed -i 's/\\"init\\":\\"torch\\"/\\"init\\":\\"torci\\"/' "$tmp/torci/level_0.safetensors"
if grep -q torci "$tmp/torci/level_0.safetensors"; then pass torci_made; else fail torci_made "sed found no init"; fi
expect_fail sample_init_torci 1 "torci/level_0.safetensors: .*'init' is \"torci\"" sample "$tmp/torci"
expect_fail info_init_torci 1 "torci/level_0.safetensors: .*'init' is \"torci\"" \
  "$bin" info "$tmp/torci/level_0.safetensors"

# Level 2's first G weight is [32,16]; [16,32] has the same count, so the
# safetensors layer accepts it.
copy shape
LC_ALL=C sed -i 's/"G.0.linear.weight":{"dtype":"F32","shape":\[32,16\]/"G.0.linear.weight":{"dtype":"F32","shape":[16,32]/' \
  "$tmp/shape/level_2.safetensors"
expect_fail sample_wrong_shape 1 \
  "shape/level_2.safetensors: tensor 'G.0.linear.weight' has shape \[16,32\], the model's is \[32,16\]" \
  sample "$tmp/shape"
expect_fail resume_wrong_shape 1 "level_2.safetensors: tensor 'G.0.linear.weight' has shape" \
  timeout -k 5 60 "$bin" train --data fashion --preset tiny --batch 8 --threads 1 --steps 3 --quiet \
  --resume --out "$tmp/shape"

copy foreign0
cp "$tmp/dcgan/level_0.safetensors" "$tmp/foreign0/"
expect_fail foreign_level0_named 1 \
  "foreign0/level_1.safetensors and .*foreign0/level_0.safetensors are levels of different models" \
  sample "$tmp/foreign0"
copy extra
cp "$tmp/one/level_0.safetensors" "$tmp/extra/"
expect_fail extra_level_file 1 "extra/level_1.safetensors: not a level of the 1-level model" \
  sample "$tmp/extra"

# A layer whose batch activation passes 2^31 values names the batch bound.
"$bin" train --preset tiny --print-json >"$tmp/tiny.json"
python3 -c 'import json,sys
d=json.load(open(sys.argv[1])); d["levels"][0]["g_width"]=[16384,8]; json.dump(d,open(sys.argv[2],"w"))' \
  "$tmp/tiny.json" "$tmp/big.json"
expect_fail layer_too_large 1 "16384x28x28 output for batch 256 is too large .*batch at most 167" \
  timeout -k 5 60 "$bin" train --model "$tmp/big.json" --data fashion --batch 256 --steps 1 \
  --threads 1 --quiet --levels 0 --out "$tmp/big"
finish
