#!/usr/bin/env bash
# The 64x64 path end to end (issue 19): the lsun64 preset (the authors' LSUN
# model: grouped convolutions, L2 feature pooling, unpadded D) and
# lsun64 --dcgan train from an LMDB environment written here, stop and
# resume to the bits of an uninterrupted run, sample and evaluate.
#  arch_printed  --print-model names the authors' layout and its groups
#  params        the 64x64 level's parameter counts, worked out by hand from
#                lsun/model.lua: G 4*64*49+64 + 16*368*49+368 + 92*128*49+128
#                + 32*224*25+224 + 224*3*49+3 = 1,090,995 (its BNs have no
#                affine parameters); D 3*48*9+48 + 12*448*25+448 + 28*416*49+416
#                + 416*52*52+1 = 1,832,225 (unpadded: 64 -> 62 -> 58 -> 52)
#  train         2 steps of every level from lsun:DIR (RGB 64x64 PNGs)
#  resume_bits   1 step, then 1 more with --resume == 2 steps straight
#  sample        a grid and a chain from the run
#  eval_parzen   Parzen on a few samples, against a second LMDB as test set
#  dcgan         lsun64 --dcgan trains a step of every level
# Usage: lsun64.sh LAPGAN
set -u
source "$(dirname "$0")/lib.sh"
command -v mdb_load >/dev/null || skip_all lsun64 "mdb_load absent (scripts/deps.sh test installs lmdb-utils)"
mkdir -p "$tmp/lmdb" "$tmp/test_lmdb"
python3 "$(dirname "$0")/make_lmdb.py" --generate 64 --rgb --n 48 --distinct 48 | mdb_load "$tmp/lmdb" &&
  python3 "$(dirname "$0")/make_lmdb.py" --generate 64 --rgb --n 16 --distinct 16 | mdb_load "$tmp/test_lmdb" ||
  { fail lsun64_make "make_lmdb.py | mdb_load failed"; finish; exit; }
# Batch 2: the 64x64 level's step is about 20 G multiply-adds per image.
batch=2
args=(train --preset lsun64 --data "lsun:$tmp/lmdb" --batch "$batch" --threads 2 --seed 9
      --val-every 0 --sample-every 0 --ckpt-every 1 --quiet)

if "$bin" train --preset lsun64 --print-model >"$tmp/model" 2>"$tmp/err"; then
  check arch_printed grep -q "authors' LSUN large.*groups 1,4,4,2.*groups 1,4,16" "$tmp/model"
else fail arch_printed "$(cat "$tmp/err")"; fi

if "$bin" bench --preset lsun64 --print-json >"$tmp/json" 2>"$tmp/err"; then
  check params grep -qz 'params 64x64 G 1090995.params 64x64 D 1832225' "$tmp/json"
else fail params "$(cat "$tmp/err")"; fi

"$bin" "${args[@]}" --steps 2 --out "$tmp/straight" 2>"$tmp/err" &&
  ls "$tmp"/straight/level_{0,1,2,3,4}.safetensors >/dev/null 2>&1 &&
  pass "train (lsun64 from lsun:, 5 levels, 2 steps each, batch $batch)" ||
  { fail train "$(tail -2 "$tmp/err")"; finish; exit; }

"$bin" "${args[@]}" --steps 1 --out "$tmp/resumed" 2>"$tmp/err" &&
  "$bin" "${args[@]}" --steps 2 --resume --out "$tmp/resumed" 2>>"$tmp/err" ||
  fail resume_bits "$(tail -2 "$tmp/err")"
same=1
for k in 0 1 2 3 4; do
  cmp -s "$tmp/straight/level_$k.safetensors" "$tmp/resumed/level_$k.safetensors" || same=0
done
[ "$same" = 1 ] && pass resume_bits || fail resume_bits "a resumed level's checkpoint differs"

check sample "$bin" sample --model "$tmp/straight" -n 4 --per-row 4 -o "$tmp/grid.png" \
  --chain "$tmp/chain.png" --chain-rows 2 --threads 2
check eval_parzen "$bin" eval parzen --model "$tmp/straight" --data "lsun:$tmp/lmdb" \
  --test-data "lsun:$tmp/test_lmdb" --samples 16 --test 8 --valid 8 --threads 2

# batch 4: the DCGAN recipe's batch norm in D needs 2 values per channel
"$bin" "${args[@]}" --dcgan --batch 4 --steps 1 --out "$tmp/dcgan" 2>"$tmp/err" &&
  pass dcgan || fail dcgan "$(tail -2 "$tmp/err")"
finish
