#!/usr/bin/env bash
# lapgan eval nn --space: nearest training images in Inception and classifier
# feature space beside the pixel-space ones, and the training-set feature
# cache in $LAPGAN_CACHE (here a scratch dir): the first run computes and
# saves, the second hits the cache and prints and writes the same; a
# truncated or bit-flipped cache file is named in one warning line and
# recomputed over; bad options are one usage line, exit 2.
# Inception work is kept to ~70 images (~13 images/s on 2 cores): 40 training
# images + 3 samples + 3 test images, then 6 on the cache hit, then 3 x 5.
# Needs Fashion-MNIST and the FID Inception weights in $LAPGAN_CACHE
# (scripts/setup-inception.sh, which scripts/test.sh runs; their absence is
# a SKIP of the Inception cases, a FAIL under CI=true).
# Usage: eval_nn_space.sh path/to/lapgan
set -u
. "$(dirname "$0")/lib.sh"
fm=/usr/share/datasets/fashion-mnist
[ -f "$fm/train-images-idx3-ubyte.gz" ] || skip_all nn_space "no Fashion-MNIST in $fm (scripts/deps.sh installs dataset-fashion-mnist)"
w=${LAPGAN_CACHE:-$HOME/.cache/lapgan}/inception-2015-12-05.safetensors
t=$tmp
py=/usr/bin/python3; [ -x "$py" ] || py=python3

# cut FIRST COUNT NAME: images FIRST.. of the training set as NAME.img/.lab (IDX), as eval.sh.
cut() {
  local first=$1 n=$2 hi=$(($2 / 256)) lo=$(($2 % 256))
  { printf '\x00\x00\x08\x03\x00\x00'; printf "\\x$(printf %02x $hi)\\x$(printf %02x $lo)";
    printf '\x00\x00\x00\x1c\x00\x00\x00\x1c'
    zcat "$fm/train-images-idx3-ubyte.gz" | tail -c +$((17 + first * 784)) | head -c $((n * 784)); } >"$t/$3.img"
  { printf '\x00\x00\x08\x01\x00\x00'; printf "\\x$(printf %02x $hi)\\x$(printf %02x $lo)"
    zcat "$fm/train-labels-idx1-ubyte.gz" | tail -c +$((9 + first)) | head -c "$n"; } >"$t/$3.lab"
}
cut 0 200 a
cut 200 200 b
A="idx:$t/a.img,$t/a.lab" B="idx:$t/b.img,$t/b.lab"
run=$t/run
if ! { "$bin" train --preset tiny --data "$A" --steps 4 --threads 2 --out "$run" --quiet &&
       "$bin" classifier train --data "$A" --test "$B" --epochs 1 --threads 2 --out "$t/clf.st"; } \
     >"$t/setup.log" 2>&1; then
  echo "FAIL nn_space_setup: $(tail -3 "$t/setup.log")"; exit 1
fi
nn() { "$bin" eval nn --model "$run" --data "$A" --threads 2 "$@"; }
# entry KEY: RUN/metrics.json's KEY section as canonical JSON ("" when absent).
entry() { "$py" -c 'import json, sys
m = json.load(open(sys.argv[1]))
print(json.dumps(m[sys.argv[2]], sort_keys=True) if sys.argv[2] in m else "")' "$run/metrics.json" "$1"; }
field() { "$py" -c 'import json, sys; print(json.loads(sys.argv[1]).get(sys.argv[2], ""))' "$1" "$2"; }
png_dims() { file "$1" 2>/dev/null | sed -n 's/.*PNG image data, \([0-9]*\) x \([0-9]*\).*/\1 \2/p'; }
mean_line() { grep '^mean L2 distance' "$1"; }

check nn_space_help bash -c "'$bin' eval --help | grep -q -- '--space S' && '$bin' eval --help | grep -q -- '--limit N'"
expect_fail nn_space_bogus 2 "--space wants pixel, inception or classifier, got 'bogus'" nn --space bogus
expect_fail nn_space_classifier_without_file 2 'space classifier needs --classifier FILE' nn --space classifier
expect_fail nn_classifier_without_space 2 'classifier is for --space classifier' nn --classifier "$t/clf.st"
expect_fail nn_weights_without_inception 2 'weights and --resize are for --space inception' nn --weights "$w"
expect_fail nn_limit_below_k 2 '-k 5: .*only 3 images within --limit' nn --limit 3 -k 5
expect_fail nn_space_missing_classifier 1 "$t/none.st" nn --space classifier --classifier "$t/none.st"

# Pixel space is unchanged (key nn, no space field); --limit bounds the training images.
nn --test-data "$B" -n 3 -k 4 --limit 10 -o "$t/px.png" >"$t/px" 2>&1
e=$(entry nn)
if grep -q 'x 4 nearest of 10 training images' "$t/px" && grep -q 'pixels in \[0, 1\]: samples' "$t/px" &&
   [ "$(field "$e" train_images)" = 10 ] && [ -z "$(field "$e" space)" ] && [ "$(field "$e" pixels)" = "[0,1]" ]; then
  pass nn_pixel_limit; else fail nn_pixel_limit "$e: $(head -c 300 "$t/px")"; fi
px_mean=$(field "$e" mean_nearest)

# Classifier space: its own key, the same grid shape, distances in 128 features, not pixels.
nn --test-data "$B" -n 3 -k 4 --limit 10 --space classifier --classifier "$t/clf.st" >"$t/cl" 2>&1; rc=$?
e=$(entry nn_classifier)
if [ $rc -eq 0 ] && [ "$(png_dims "$run/nn_classifier.png")" = "$((5 * 58 + 2)) $((3 * 58 + 2))" ] &&
   grep -q 'classifier penultimate features (128, .*clf.st): samples [0-9.]*, real test images [0-9.]* (3 of' "$t/cl" &&
   [ "$(field "$e" space)" = classifier ] && [ -n "$(field "$e" test_mean_nearest)" ] &&
   awk -v a="$(field "$e" mean_nearest)" -v b="$px_mean" 'BEGIN { exit !(a > 0 && a != b) }'; then
  pass nn_space_classifier; else fail nn_space_classifier "rc $rc, $e: $(head -c 300 "$t/cl")"; fi

# ---- Inception ------------------------------------------------------------------
if [ ! -f "$w" ]; then
  skip_or_fail nn_space_inception "no FID Inception weights at $w (scripts/setup-inception.sh)"
  finish; exit
fi
export LAPGAN_CACHE=$t/cache
mkdir -p "$LAPGAN_CACHE"
inc() { nn --space inception --weights "$w" "$@"; }
inc --test-data "$B" -n 3 -k 4 --limit 40 >"$t/i1" 2>"$t/i1.err"; rc=$?
cp "$run/nn_inception.png" "$t/i1.png" 2>/dev/null
e1=$(entry nn_inception)
cf=$(ls "$LAPGAN_CACHE"/features-inception-*.f32 2>/dev/null)
if [ $rc -eq 0 ] && [ "$(png_dims "$t/i1.png")" = "$((5 * 58 + 2)) $((3 * 58 + 2))" ] &&
   grep -q 'of 40 training images .* in Inception space' "$t/i1" &&
   grep -q "training images: cache miss, computed in .* saved to $cf" "$t/i1" &&
   grep -q 'Inception-v3 pool features (2048, resize nv_bilinear_float): samples [0-9.]*, real test images [0-9.]* (3 of' "$t/i1" &&
   [ "$(field "$e1" space)" = inception ] && [ "$(field "$e1" train_images)" = 40 ] &&
   [ -n "$(field "$e1" test_mean_nearest)" ] && [ ! -s "$t/i1.err" ] &&
   [ "$(stat -c %s "$cf")" = $((112 + 40 * 2048 * 4)) ]; then
  pass nn_space_inception; else fail nn_space_inception "rc $rc, cache '$cf', $e1: $(head -c 300 "$t/i1") $(head -c 200 "$t/i1.err")"; fi

# The same run again: from the cache, the same PNG, distances and metrics entry.
inc --test-data "$B" -n 3 -k 4 --limit 40 >"$t/i2" 2>"$t/i2.err"; rc=$?
if [ $rc -eq 0 ] && grep -q "training images: cache hit, $cf" "$t/i2" && ! grep -q 'training images:.*/40' "$t/i2" &&
   cmp -s "$t/i1.png" "$run/nn_inception.png" && [ "$(mean_line "$t/i1")" = "$(mean_line "$t/i2")" ] &&
   [ "$(entry nn_inception)" = "$e1" ] && [ ! -s "$t/i2.err" ]; then
  pass nn_space_inception_cache_hit; else fail nn_space_inception_cache_hit "rc $rc: $(head -c 300 "$t/i2") $(head -c 200 "$t/i2.err")"; fi

# Another --limit is other images: its own cache file. Then that file damaged
# two ways: one warning line naming it, the features recomputed (the same
# result as the first time), the file whole again.
small() { inc -n 1 -k 1 --limit 4 -o "$t/s.png" >"$t/$1" 2>"$t/$1.err"; }
small s1
cs=$(ls "$LAPGAN_CACHE"/features-inception-*.f32 | grep -vxF "$cf")
if [ "$cs" != "$cf" ] && grep -q 'cache miss' "$t/s1"; then pass nn_space_inception_key_limit
else fail nn_space_inception_key_limit "'$cs' '$cf': $(head -c 300 "$t/s1")"; fi
size=$(stat -c %s "$cs")
damaged() { # NAME PATTERN: run on the damaged file, expect PATTERN in the one warning line
  small "$1"; local rc=$?
  if [ $rc -eq 0 ] && [ "$(wc -l <"$t/$1.err")" -eq 1 ] &&
     grep -q "^lapgan eval: warning: $cs: .*$2.*; recomputing" "$t/$1.err" && grep -q 'cache miss' "$t/$1" &&
     [ "$(mean_line "$t/$1")" = "$(mean_line "$t/s1")" ] && [ "$(stat -c %s "$cs")" = "$size" ]; then
    pass "$1"; else fail "$1" "rc $rc: $(head -c 300 "$t/$1.err") $(head -c 300 "$t/$1")"; fi
}
head -c 5000 "$cs" >"$t/cut" && cat "$t/cut" >"$cs"
damaged nn_space_inception_cache_truncated 'truncated'
"$py" -c 'import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[-7] ^= 0x10; open(p, "wb").write(b)' "$cs"
damaged nn_space_inception_cache_corrupted 'checksum'
finish
