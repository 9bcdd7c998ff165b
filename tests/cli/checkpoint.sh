#!/usr/bin/env bash
# Damaged or foreign level checkpoints give one clear error line from
# `lapgan sample` and `lapgan info` (another model's level, a truncated file,
# a newer format, one holding NaN), and a NaN met in training stops only its
# level with one line naming level, step and --resume (docs/RELIABILITY.md).
# Usage: checkpoint.sh LAPGAN
set -u
source "$(dirname "$0")/lib.sh"
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  skip_all checkpoint "Fashion-MNIST absent (scripts/deps.sh installs dataset-fashion-mnist)"
fi
train() { "$bin" train --preset tiny --batch 8 --threads 1 --seed 5 --quiet "$@"; }
train --steps 4 --ckpt-every 2 --out "$tmp/run" || { fail setup "training failed"; exit 1; }
train --steps 1 --dcgan --out "$tmp/other" || { fail setup "training failed"; exit 1; }

# expect NAME NEEDLE CMD...: exit 1, one stderr line matching NEEDLE, nothing written.
expect() {
  local name=$1 needle=$2; shift 2
  "$@" >/dev/null 2>"$tmp/err"
  local rc=$? lines; lines=$(wc -l <"$tmp/err")
  if [ $rc -ne 1 ] || [ "$lines" -ne 1 ]; then fail "$name" "exit $rc, $lines lines: $(head -2 "$tmp/err")"
  elif ! grep -Eq "$needle" "$tmp/err"; then fail "$name" "message: $(cat "$tmp/err")"
  else pass "$name"; fi
}
mixed() { # DIR: the run with level_0 replaced by FILE
  mkdir -p "$tmp/$1" && cp "$tmp"/run/level_*.safetensors "$tmp/$1/" && cp "$2" "$tmp/$1/level_0.safetensors"
}

mixed foreign "$tmp/other/level_0.safetensors"
expect sample_other_model 'different model' "$bin" sample --model "$tmp/foreign" -n 4 -o "$tmp/s.png"
head -c 3000 "$tmp/run/level_0.safetensors" >"$tmp/trunc.safetensors"
mixed trunc "$tmp/trunc.safetensors"
expect sample_truncated 'trunc/level_0\.safetensors: .*truncated' \
  "$bin" sample --model "$tmp/trunc" -n 4 -o "$tmp/s.png"
expect info_truncated 'level_0\.safetensors' "$bin" info "$tmp/trunc/level_0.safetensors"
LC_ALL=C sed 's/lapgan-level-1/lapgan-level-2/' "$tmp/run/level_0.safetensors" >"$tmp/v2.safetensors"
mixed v2 "$tmp/v2.safetensors"
expect sample_newer_format "lapgan-level-2.*another lapgan version" \
  "$bin" sample --model "$tmp/v2" -n 4 -o "$tmp/s.png"
expect info_newer_format "lapgan-level-2" "$bin" info "$tmp/v2"
[ -e "$tmp/s.png" ] && fail no_output_on_error || pass no_output_on_error

# set_tensor FILE TENSOR VALUE: every value of TENSOR becomes VALUE (in place).
set_tensor() {
  python3 - "$@" <<'PY'
import json, struct, sys
path, name, value = sys.argv[1], sys.argv[2], float(sys.argv[3])
b = bytearray(open(path, 'rb').read())
n = struct.unpack('<Q', b[:8])[0]
lo, hi = json.loads(b[8:8 + n])[name]['data_offsets']
b[8 + n + lo:8 + n + hi] = struct.pack('<f', value) * ((hi - lo) // 4)
open(path, 'wb').write(b)
PY
}

# A checkpoint holding NaN (in G's first conv weight, which ReLU would hide
# from the losses) is refused by every reader, naming file and tensor; a
# resume trains nothing and writes nothing.
mixed nan "$tmp/run/level_0.safetensors"
set_tensor "$tmp/nan/level_1.safetensors" G.0.conv2d.weight nan
cp "$tmp/nan/level_1.safetensors" "$tmp/nan.orig"
nan_msg='nan/level_1\.safetensors: tensor .G\.0\.conv2d\.weight. holds NaN'
expect nan_info "$nan_msg" "$bin" info "$tmp/nan/level_1.safetensors"
expect nan_sample "$nan_msg" "$bin" sample --model "$tmp/nan" -n 4 -o "$tmp/nan.png"
cp "$tmp/run/run.json" "$tmp/nan/"
expect nan_resume "$nan_msg" train --steps 8 --resume --out "$tmp/nan"
if [ -e "$tmp/nan.png" ] || ! cmp -s "$tmp/nan/level_1.safetensors" "$tmp/nan.orig"; then
  fail nan_untouched "an output was written or the file changed"
elif "$bin" info "$tmp/nan" 2>/dev/null | grep -q 'step 8'; then fail nan_untouched "a level trained on"
else pass nan_untouched; fi

# Level 1's D output weights all at FLT_MAX (finite, so the file loads): the
# first step's logits overflow and D's loss is NaN.
f="$tmp/run/level_1.safetensors"
set_tensor "$f" D.6.linear.weight 3.4028234e38
cp "$f" "$tmp/poisoned"
train --steps 6 --ckpt-every 2 --resume --out "$tmp/run" 2>"$tmp/err"
rc=$?
if [ $rc -ne 1 ] || [ "$(wc -l <"$tmp/err")" -ne 1 ]; then fail numeric_fault "exit $rc: $(cat "$tmp/err")"
elif ! grep -Eq '^lapgan train: level 1 step 5: D loss is NaN; .*step 4.*--resume' "$tmp/err"; then
  fail numeric_fault "message: $(cat "$tmp/err")"
elif ! cmp -s "$f" "$tmp/poisoned"; then fail numeric_fault "level 1's checkpoint was overwritten"
elif ! "$bin" info "$tmp/run" | grep -q 'level 0 .*step 6' || ! "$bin" info "$tmp/run" | grep -q 'level 2 .*step 6'; then
  fail numeric_fault "levels 0 and 2 did not finish: $("$bin" info "$tmp/run" 2>&1 | grep step)"
else pass numeric_fault; fi
exit $((fails > 0))
