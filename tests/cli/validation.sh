#!/usr/bin/env bash
# Issue 16: the held-out validation split, best-model selection and what uses
# them (eval parzen's sigma search and pixel scales, --best, the variability
# figure), the cifar10-32 and same-capacity GAN presets, and the flags' errors
# as one line. Tiny preset, a few steps. Usage: validation.sh LAPGAN
set -u
source "$(dirname "$0")/lib.sh"
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  skip_all validation "Fashion-MNIST absent (scripts/deps.sh installs dataset-fashion-mnist)"
fi
tr=(train --preset tiny --steps 6 --batch 8 --threads 1 --seed 3 --sample-every 0 --quiet)
pz=(eval parzen --samples 60 --test 40 --valid 30 --threads 1)

# ---- training: the default split, best/ and its log ---------------------------
"$bin" "${tr[@]}" --val-every 3 --val-images 6 --val-samples 3 --out "$tmp/a" >"$tmp/a.out" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && [ -f "$tmp/a/best/level_0.safetensors" ] && [ -f "$tmp/a/best/level_2.safetensors" ] &&
   [ "$(grep -c '"val_parzen"' "$tmp/a/log_level_0.jsonl")" -eq 2 ]; then pass train_best_dir
else fail train_best_dir "exit $rc, $(ls "$tmp/a" "$tmp/a/best" 2>&1 | tr '\n' ' ')"; fi
"$bin" "${tr[@]}" --val-every 3 --out "$tmp/a2" 2>&1 | grep -q . # --quiet prints nothing
"$bin" train --preset tiny --steps 2 --batch 8 --threads 1 --sample-every 0 --val-every 2 --val-images 4 \
  --val-samples 2 --out "$tmp/v" >/dev/null 2>"$tmp/v.err"
if grep -q "validation: the last 5000 images held out (training on 55000)" "$tmp/v.err"; then pass default_split_5000
else fail default_split_5000 "$(head -c 300 "$tmp/v.err")"; fi

# ---- eval parzen: sigma on the held-out split, three pixel scales -------------
"$bin" "${pz[@]}" --model "$tmp/a" --pixels all >"$tmp/p.out" 2>&1
if grep -q "held-out validation images (images 55000-55029 of" "$tmp/p.out" &&
   python3 - "$tmp/a/metrics.json" <<'EOF'
import json, math, sys
m = json.load(open(sys.argv[1]))
u, s, z = m["parzen"], m["parzen_signed"], m["parzen_zscore"]
assert u["pixels"] == "[0,1]" and s["pixels"] == "[-1,1]" and z["pixels"] == "zscore"
assert u["valid_held_out"] is True and u["weights"] == "latest"
# [-1,1] doubles every distance; with the grid doubled too, each image's
# log-likelihood drops by exactly d ln 2 (d = 784).
assert abs((u["mean"] - s["mean"]) - 784 * math.log(2)) < 1e-3, (u["mean"], s["mean"])
assert abs(s["sigma"] - 2 * u["sigma"]) < 1e-7 * s["sigma"]  # 8 digits in metrics.json
EOF
then pass parzen_scales_held_out; else fail parzen_scales_held_out "$(tail -c 400 "$tmp/p.out")"; fi
check parzen_best "$bin" "${pz[@]}" --model "$tmp/a" --best
if python3 -c "import json,sys; m=json.load(open(sys.argv[1])); assert m['parzen_best']['weights']=='best'" \
  "$tmp/a/metrics.json" 2>/dev/null; then pass parzen_best_key; else fail parzen_best_key; fi
expect_fail parzen_bad_pixels 2 "--pixels wants unit, signed, zscore or all" \
  "$bin" "${pz[@]}" --model "$tmp/a" --pixels grey

# ---- --val 0: no split, no best/; eval says it chose sigma on training images --
"$bin" "${tr[@]}" --val 0 --out "$tmp/n" >/dev/null 2>&1
if [ -f "$tmp/n/level_0.safetensors" ] && [ ! -e "$tmp/n/best" ]; then pass val_0_no_best
else fail val_0_no_best; fi
"$bin" "${pz[@]}" --model "$tmp/n" >"$tmp/n.out" 2>&1
if grep -q "holds out no validation split: it trained on these" "$tmp/n.out"; then pass parzen_no_split_said
else fail parzen_no_split_said "$(head -c 300 "$tmp/n.out")"; fi
expect_fail best_missing_eval 1 "--best: .*/n/best/level_0.safetensors does not exist" \
  "$bin" "${pz[@]}" --model "$tmp/n" --best
expect_fail best_missing_sample 1 "--best: .*does not exist" "$bin" sample --model "$tmp/n" --best -n 4

expect_fail best_missing_report 1 "--best: .*does not exist" "$bin" report "$tmp/n" --best -o "$tmp/r.html"
"$bin" report "$tmp/a" --best -o "$tmp/ra.html" >/dev/null 2>&1
if grep -q "level 0: validation Parzen" "$tmp/ra.html" && grep -q "Best-model weights" "$tmp/ra.html" &&
   grep -q "Best-model selection: 2 checks" "$tmp/ra.html" && ! grep -q "incomplete log lines" "$tmp/ra.html"; then
  pass report_validation_curve
else fail report_validation_curve; fi

# ---- bad flags: one line each ---------------------------------------------------
expect_fail val_negative 2 "--val" "$bin" "${tr[@]}" --val -5 --out "$tmp/x1"
expect_fail val_too_big 2 "--val 60000: .* has only 60000 images" "$bin" "${tr[@]}" --val 60000 --out "$tmp/x2"
expect_fail val_every_both 2 "--val-every or --val-every-epochs, not both" \
  "$bin" "${tr[@]}" --val-every 3 --val-every-epochs 1 --out "$tmp/x3"
expect_fail val_samples_one 2 "--val-samples" "$bin" "${tr[@]}" --val-samples 1 --out "$tmp/x4"
# A resume keeps the split: another --val is refused, naming both counts.
expect_fail resume_other_split 2 "holds out the last 5000 images .* this resume 100 \(give --val 5000\)" \
  "$bin" "${tr[@]}" --val 100 --steps 8 --resume --out "$tmp/a"
check resume_same_split "$bin" "${tr[@]}" --val-every 3 --val-images 6 --val-samples 3 --steps 9 --resume --out "$tmp/a"

# ---- sample: --best and the variability figure ------------------------------------
check sample_best "$bin" sample --model "$tmp/a" --best -n 10 -o "$tmp/best.png"
"$bin" sample --model "$tmp/a" --from 0,1,4999 --variants 3 -o "$tmp/var.png" >"$tmp/var.out" 2>&1
if [ -s "$tmp/var.png" ] && grep -q "3 rows (held-out validation images of fashion" "$tmp/var.out"; then
  pass sample_variants
else fail sample_variants "$(head -c 300 "$tmp/var.out")"; fi
# 3 rows of 2 + 3 images, 28x28 shown at 2x (56 px) with 2 px padding.
if python3 -c "
import struct,sys; d=open(sys.argv[1],'rb').read(); w,h=struct.unpack('>II',d[16:24])
assert (w,h)==(5*58+2,3*58+2),(w,h)" "$tmp/var.png" 2>/dev/null; then pass sample_variants_shape
else fail sample_variants_shape; fi
expect_fail from_bad_index 2 "--from 5000: there are 5000 held-out validation images .*indices 0 to 4999" \
  "$bin" sample --model "$tmp/a" --from 5000
expect_fail from_bad_file 1 "nope.png" "$bin" sample --model "$tmp/a" --from "$tmp/nope.png"
expect_fail from_with_chain 2 "--chain .* does not go with --from" \
  "$bin" sample --model "$tmp/a" --from 0 --chain "$tmp/c.png"
# The run without a split: indices address the test split instead.
"$bin" sample --model "$tmp/n" --from 0 --variants 2 -o "$tmp/var2.png" >"$tmp/var2.out" 2>&1
if grep -q "test images of fashion" "$tmp/var2.out"; then pass from_test_split
else fail from_test_split "$(head -c 300 "$tmp/var2.out")"; fi

# ---- presets: cifar10-32, and GAN baselines with their LAPGAN's capacity -------
params() { "$bin" bench --preset "$1" --print-json | awk -v n="$2" '$1 == "params" && $3 == n { s += $4 } END { print s }'; }
ok=1
for pair in "cifar10 gan-cifar10" "cifar10-32 gan-cifar10-32"; do
  set -- $pair
  for net in G D; do
    a=$(params "$1" $net) b=$(params "$2" $net)
    python3 -c "import sys; a,b=int(sys.argv[1]),int(sys.argv[2]); sys.exit(abs(a-b) > 0.003*a)" "$a" "$b" ||
      { ok=0; echo "  $1 $net $a vs $2 $net $b" >&2; }
  done
done
[ "$ok" = 1 ] && pass gan_same_capacity || fail gan_same_capacity
if "$bin" train --preset cifar10-32 --print-json | python3 -c "
import json,sys; m=json.load(sys.stdin); assert [l['size'] for l in m['levels']]==[32,16,8] and m['crop']==0"; then
  pass preset_cifar10_32; else fail preset_cifar10_32; fi
finish
