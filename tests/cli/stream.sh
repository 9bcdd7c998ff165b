#!/usr/bin/env bash
# Streamed data sets (issue 19): LMDB environments written here with
# tests/cli/make_lmdb.py and mdb_load, read by `lapgan train --data lsun:DIR`.
#  same_bits     training on an LMDB of 2,000 Fashion-MNIST images (decoded on
#                demand by the prefetch thread) gives the tensors of training
#                on the same images from an IDX file held in memory.
#  kill_resume   SIGKILL at random moments while training from the LMDB,
#                resume each time: the final checkpoints are byte-identical to
#                an uninterrupted run's (the crash test of tests/cli/crash.sh,
#                streamed).
#  flat_memory   peak RSS of a short run on an LMDB of 200,000 images is within
#                24 MB of the same run on one of 2,000 (decoded in memory the
#                200,000 would need 157 MB at 28x28): the set costs its index
#                and labels, not its pixels.
# Usage: stream.sh LAPGAN
set -u
source "$(dirname "$0")/lib.sh"
fashion=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
[ -f "$fashion" ] || skip_all stream "Fashion-MNIST absent (scripts/deps.sh installs dataset-fashion-mnist)"
command -v mdb_load >/dev/null || skip_all stream "mdb_load absent (scripts/deps.sh test installs lmdb-utils)"
[ -x /usr/bin/time ] || skip_all stream "/usr/bin/time absent (scripts/deps.sh test installs time)"
mk="$(dirname "$0")/make_lmdb.py"
lmdb() { # DIR make_lmdb-args...
  local d=$1; shift
  mkdir -p "$d" && python3 "$mk" "$@" | mdb_load "$d"
}
case "$(dirname "$bin")" in
  *san) steps=40 rounds=${STREAM_ROUNDS:-3} big=50000 ;;
  *) steps=200 rounds=${STREAM_ROUNDS:-8} big=200000 ;;
esac

# ---- the same bits as in memory ----------------------------------------------
lmdb "$tmp/f2k_lmdb" --idx "$fashion" --n 2000 --idx-out "$tmp/f2k.idx" ||
  { fail stream_make "make_lmdb.py | mdb_load failed"; finish; exit; }
args=(train --preset tiny --steps "$steps" --batch 8 --threads 1 --seed 5 --ckpt-every 1
      --sample-every 0 --log-every 1 --quiet)
"$bin" "${args[@]}" --data "idx:$tmp/f2k.idx" --out "$tmp/mem" 2>"$tmp/mem.err" ||
  { fail same_bits "in-memory run: $(cat "$tmp/mem.err")"; finish; exit; }
"$bin" "${args[@]}" --data "lsun:$tmp/f2k_lmdb" --out "$tmp/ref" 2>"$tmp/ref.err" ||
  { fail same_bits "streamed run: $(cat "$tmp/ref.err")"; finish; exit; }
"$bin" diff "$tmp/mem" "$tmp/ref" >"$tmp/diff.txt" 2>&1
if [ "$(grep -c 'max abs diff 0,' "$tmp/diff.txt")" -ne 3 ]; then
  fail same_bits "streamed and in-memory runs differ: $(head -5 "$tmp/diff.txt")"
else pass "same_bits (LMDB vs IDX, $steps steps, every tensor equal)"; fi

# ---- kill -9 while streaming, resume each time ---------------------------------
same_levels() { # DIR_A DIR_B
  for k in 0 1 2; do cmp -s "$1/level_$k.safetensors" "$2/level_$k.safetensors" || return 1; done
}
how() { if ls "$tmp"/kill/level_{0,1,2}.safetensors >/dev/null 2>&1; then echo --resume; else echo --force; fi; }
RANDOM=11
killed=0 broken=
for ((r = 0; r < rounds; r++)); do
  "$bin" "${args[@]}" --data "lsun:$tmp/f2k_lmdb" "$(how)" --out "$tmp/kill" 2>"$tmp/round.err" &
  pid=$!
  sleep "0.$((20 + RANDOM % 60))"
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  rc=$?
  if [ $rc -eq 137 ]; then killed=$((killed + 1))
  elif [ $rc -ne 0 ]; then broken="round $r exited $rc: $(head -1 "$tmp/round.err")"; fi
  rm -f "$tmp"/kill/*.tmp.* "$tmp"/kill/samples/*.tmp.*
done
"$bin" "${args[@]}" --data "lsun:$tmp/f2k_lmdb" "$(how)" --out "$tmp/kill" 2>"$tmp/kill.err"
rc=$?
if [ $rc -ne 0 ]; then fail kill_resume "final resume exited $rc: $(cat "$tmp/kill.err")"
elif [ -n "$broken" ]; then fail kill_resume "$broken"
elif ! same_levels "$tmp/ref" "$tmp/kill"; then fail kill_resume "final checkpoints differ from the uninterrupted streamed run"
else pass "kill_resume (streamed; $rounds rounds, $killed killed mid-run, byte-identical)"; fi

# ---- memory does not grow with the set ----------------------------------------
lmdb "$tmp/small_lmdb" --generate 8 --n 2000 && lmdb "$tmp/big_lmdb" --generate 8 --n "$big" ||
  { fail flat_memory "make_lmdb.py | mdb_load failed"; finish; exit; }
peak() { # DIR -> peak RSS in KB of a short streamed run
  /usr/bin/time -f '%M' -o "$tmp/peak" "$bin" train --preset tiny --data "lsun:$1" --steps 3 \
    --batch 8 --threads 1 --seed 5 --sample-every 0 --quiet --force --out "$tmp/rss" 2>"$tmp/rss.err" ||
    { echo "run failed: $(tail -1 "$tmp/rss.err")"; return 1; }
  tail -1 "$tmp/peak"
}
small=$(peak "$tmp/small_lmdb") && large=$(peak "$tmp/big_lmdb")
if [ $? -ne 0 ]; then fail flat_memory "$small $large"
elif [ $((large - small)) -gt $((24 * 1024)) ]; then
  fail flat_memory "peak RSS $small KB with 2,000 images, $large KB with $big"
else pass "flat_memory (peak RSS $small KB with 2,000 images, $large KB with $big)"; fi
finish
