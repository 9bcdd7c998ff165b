#!/usr/bin/env bash
# lapgan classifier: trains on a tiny IDX data set made here (4 classes of
# bright 8x8 quadrants), writes a model that eval reads back with the same
# accuracy; bad input exits non-zero with one stderr line and writes nothing.
# Usage: classifier.sh path/to/lapgan
set -u
source "$(dirname "$0")/lib.sh"

# IDX files: big-endian magic and dims, then bytes (awk prints raw bytes in the C locale).
LC_ALL=C awk -v n=256 -v img="$tmp/img.idx" -v lab="$tmp/lab.idx" 'BEGIN {
  srand(7)
  printf "%c%c%c%c", 0, 0, 8, 3 > img; printf "%c%c%c%c%c%c%c%c%c%c%c%c", 0, 0, 1, 0, 0, 0, 0, 8, 0, 0, 0, 8 > img
  printf "%c%c%c%c%c%c%c%c", 0, 0, 8, 1, 0, 0, 1, 0 > lab
  for (i = 0; i < n; i++) {
    q = i % 4; printf "%c", q > lab
    for (y = 0; y < 8; y++) for (x = 0; x < 8; x++) {
      in_q = ((y >= 4) == (q >= 2)) && ((x >= 4) == (q % 2 == 1))
      printf "%c", in_q ? 170 + int(rand() * 85) : int(rand() * 110) > img
    }
  }
}'
data="idx:$tmp/img.idx,$tmp/lab.idx"

expect_fail() { # NAME CODE ARGS...: exit CODE, one stderr line, no model written
  local name=$1 code=$2; shift 2
  rm -f "$tmp/out.st"
  "$bin" classifier "$@" 2>"$tmp/err" >/dev/null
  local rc=$? lines; lines=$(wc -l <"$tmp/err")
  if [ $rc -ne "$code" ]; then fail "$name" "exit $rc, expected $code: $(cat "$tmp/err")"
  elif [ "$lines" -ne 1 ]; then fail "$name" "$lines stderr lines"
  elif ! grep -q '^lapgan classifier: ' "$tmp/err"; then fail "$name" "stderr: $(cat "$tmp/err")"
  elif [ -e "$tmp/out.st" ] || ls "$tmp"/out.st.tmp.* >/dev/null 2>&1; then fail "$name" "output left behind"
  else pass "$name"; fi
}

if "$bin" classifier --help | grep -q '^usage: lapgan classifier train'; then pass classifier_help
else fail classifier_help; fi

if "$bin" classifier train --data "$data" --test "$data" --epochs 4 --batch 32 --seed 3 \
     --threads 2 --out "$tmp/m.st" >"$tmp/log" 2>"$tmp/err"; then
  acc=$(sed -n 's/^test accuracy \([0-9.]*\).*/\1/p' "$tmp/log")
  epochs=$(grep -c '^epoch [0-9]*/4  loss ' "$tmp/log")
  if [ "$epochs" -eq 4 ] && [ -s "$tmp/m.st" ] && awk -v a="$acc" 'BEGIN { exit !(a > 0.95) }'; then
    pass classifier_train
  else fail classifier_train "epochs $epochs, accuracy '$acc'"; fi
  ev=$("$bin" classifier eval --model "$tmp/m.st" --data "$data" 2>&1)
  if [ "$(echo "$ev" | sed -n 's/^accuracy \([0-9.]*\).*/\1/p')" = "$acc" ] &&
     echo "$ev" | grep -qE '^per class: 0 [01]\.[0-9]{3} \(n 64\), 1 .*, 3 [01]\.[0-9]{3} \(n 64\)$'
  then pass classifier_eval
  else fail classifier_eval "$ev vs train's $acc"; fi
else
  fail classifier_train "$(cat "$tmp/err")"; fail classifier_eval "no model"
fi

# The batch-norm arch with augmentation (a 1-pixel shift keeps a quadrant's
# class) also learns the task, and eval names its arch.
if "$bin" classifier train --arch vgg --shift 1 --lr-decay 0.2 --data "$data" --test "$data" \
     --epochs 4 --batch 32 --seed 3 --threads 2 --out "$tmp/v.st" >"$tmp/log" 2>"$tmp/err"; then
  acc=$(sed -n 's/^test accuracy \([0-9.]*\).*/\1/p' "$tmp/log")
  if grep -q '^classifier vgg: .*shift 1' "$tmp/log" && awk -v a="$acc" 'BEGIN { exit !(a > 0.9) }'
  then pass classifier_vgg; else fail classifier_vgg "accuracy '$acc': $(head -1 "$tmp/log")"; fi
  if "$bin" classifier eval --model "$tmp/v.st" --data "$data" | grep -q 'lapgan-vgg-v1'
  then pass classifier_vgg_eval; else fail classifier_vgg_eval; fi
else
  fail classifier_vgg "$(cat "$tmp/err")"; fail classifier_vgg_eval "no model"
fi

printf 'not a model' >"$tmp/bad.st"
expect_fail no_action 2
expect_fail bad_action 2 fit --data "$data"
expect_fail unknown_option 2 train --data "$data" --out "$tmp/out.st" --frobnicate
expect_fail no_out 2 train --data "$data"
expect_fail bad_batch 2 train --data "$data" --out "$tmp/out.st" --batch 0
expect_fail bad_epochs 2 train --data "$data" --out "$tmp/out.st" --epochs x
expect_fail bad_arch 2 train --arch resnet --data "$data" --out "$tmp/out.st"
expect_fail bad_lr_decay 2 train --lr-decay -1 --data "$data" --out "$tmp/out.st"
expect_fail shift_too_big 2 train --shift 8 --data "$data" --out "$tmp/out.st"
expect_fail unknown_data 2 train --data nope:x --out "$tmp/out.st"
expect_fail missing_images 1 train --data "idx:$tmp/none.idx,$tmp/lab.idx" --out "$tmp/out.st"
expect_fail unlabelled 2 train --data "idx:$tmp/img.idx" --out "$tmp/out.st"
expect_fail missing_model 1 eval --model "$tmp/none.st" --data "$data"
expect_fail corrupt_model 1 eval --model "$tmp/bad.st" --data "$data"
if [ -s "$tmp/m.st" ]; then expect_fail shape_mismatch 1 eval --model "$tmp/m.st" --data fashion-test; fi
[ $fails -eq 0 ]
