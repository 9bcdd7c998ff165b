#!/usr/bin/env bash
# Damaged or foreign level checkpoints give one clear error line from
# `lapgan sample` and `lapgan info` (another model's level, a truncated file,
# a newer format), and a NaN met in training stops only its level with one
# line naming level, step and --resume (docs/RELIABILITY.md).
# Usage: checkpoint.sh LAPGAN
set -u
source "$(dirname "$0")/lib.sh"
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "SKIP checkpoint: Fashion-MNIST absent"; exit 0
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

# A NaN in level 1's D optimiser state: its next step's G loss is NaN.
f="$tmp/run/level_1.safetensors"
printf '\x00\x00\xc0\x7f' | dd of="$f" bs=1 seek=$(( $(stat -c %s "$f") - 4 )) conv=notrunc 2>/dev/null
cp "$f" "$tmp/poisoned"
train --steps 6 --ckpt-every 2 --resume --out "$tmp/run" 2>"$tmp/err"
rc=$?
if [ $rc -ne 1 ] || [ "$(wc -l <"$tmp/err")" -ne 1 ]; then fail numeric_fault "exit $rc: $(cat "$tmp/err")"
elif ! grep -Eq '^lapgan train: level 1 step 5: G loss is NaN; .*step 4.*--resume' "$tmp/err"; then
  fail numeric_fault "message: $(cat "$tmp/err")"
elif ! cmp -s "$f" "$tmp/poisoned"; then fail numeric_fault "level 1's checkpoint was overwritten"
elif ! "$bin" info "$tmp/run" | grep -q 'level 0 .*step 6' || ! "$bin" info "$tmp/run" | grep -q 'level 2 .*step 6'; then
  fail numeric_fault "levels 0 and 2 did not finish: $("$bin" info "$tmp/run" 2>&1 | grep step)"
else pass numeric_fault; fi
exit $((fails > 0))
