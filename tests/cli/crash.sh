#!/usr/bin/env bash
# Crash safety of `lapgan train` (docs/RELIABILITY.md):
#  kill_resume   SIGKILL at random moments (checkpoints every step, so many
#                kills land inside a write), resume each time: every level
#                file left behind loads, and the final files are
#                byte-identical to an uninterrupted run's.
#  full_disk     writes failing with EFBIG (RLIMIT_FSIZE, SIGXFSZ ignored):
#                one clear error line, previous checkpoints intact and
#                loadable, no temporary file left; a later resume finishes.
#  sigint        SIGINT saves, exits 130 naming --resume; resuming gives the
#                uninterrupted run's bytes.
# The sanitizer build runs fewer, shorter rounds. Usage: crash.sh LAPGAN
set -u
source "$(dirname "$0")/lib.sh"
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "SKIP crash: Fashion-MNIST absent"; exit 0
fi
case "$(dirname "$bin")" in
  *san) steps=40 rounds=${CRASH_ROUNDS:-3} ;;
  *) steps=300 rounds=${CRASH_ROUNDS:-25} ;;
esac
# One thread: the same bytes on every run (and no spinning OpenMP workers).
args=(train --preset tiny --steps "$steps" --batch 8 --threads 1 --seed 5 --ckpt-every 1
      --sample-every 0 --log-every 1 --quiet)
train() { "$bin" "${args[@]}" "$@"; }
same_levels() { # DIR_A DIR_B
  for k in 0 1 2; do cmp -s "$1/level_$k.safetensors" "$2/level_$k.safetensors" || return 1; done
}

train --out "$tmp/ref" 2>"$tmp/ref.err" || { fail reference_run "$(cat "$tmp/ref.err")"; exit 1; }

# ---- kill -9 at random moments, resume each time ----------------------------
RANDOM=7
killed=0 torn=0 unreadable=0 broken=
for ((r = 0; r < rounds; r++)); do
  "$bin" "${args[@]}" --resume --out "$tmp/kill" 2>"$tmp/round.err" & # not `train`: $! must be lapgan
  pid=$!
  sleep "0.$((30 + RANDOM % 70))"
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  rc=$?
  # 137: killed; 0: it had finished; anything else: a resume failed.
  if [ $rc -eq 137 ]; then killed=$((killed + 1))
  elif [ $rc -ne 0 ]; then broken="round $r exited $rc: $(head -1 "$tmp/round.err")"; fi
  ls "$tmp"/kill/*.tmp.* >/dev/null 2>&1 && torn=$((torn + 1))
  rm -f "$tmp"/kill/*.tmp.* "$tmp"/kill/samples/*.tmp.*
  if ls "$tmp"/kill/level_*.safetensors >/dev/null 2>&1; then
    for f in "$tmp"/kill/level_*.safetensors; do
      "$bin" info "$f" >/dev/null 2>&1 || unreadable=$((unreadable + 1))
    done
  fi
done
train --resume --out "$tmp/kill" 2>"$tmp/kill.err"
rc=$?
if [ $rc -ne 0 ]; then fail kill_resume "final resume exited $rc: $(cat "$tmp/kill.err")"
elif [ -n "$broken" ]; then fail kill_resume "$broken"
elif [ $unreadable -ne 0 ]; then fail kill_resume "$unreadable checkpoints unreadable after a kill"
elif ! same_levels "$tmp/ref" "$tmp/kill"; then fail kill_resume "final checkpoints differ from the uninterrupted run"
else pass "kill_resume ($rounds rounds, $killed killed mid-run, $torn mid-write, byte-identical)"; fi

# ---- a full file system -----------------------------------------------------
"$bin" train --preset tiny --steps 2 --batch 8 --threads 1 --seed 5 --quiet --out "$tmp/full" 2>/dev/null
mkdir -p "$tmp/good" && cp "$tmp"/full/level_*.safetensors "$tmp/good/"
# level_0 is ~64 KB: with files capped at 40 KB its next checkpoint cannot be written.
(trap '' XFSZ; ulimit -f 40; exec "$bin" train --preset tiny --steps 4 --batch 8 --threads 1 \
   --seed 5 --ckpt-every 1 --quiet --resume --out "$tmp/full") 2>"$tmp/full.err"
rc=$?
lines=$(wc -l <"$tmp/full.err")
if [ $rc -ne 1 ] || [ "$lines" -ne 1 ]; then fail full_disk "exit $rc, $lines stderr lines: $(head -3 "$tmp/full.err")"
elif ! grep -Eq '^lapgan train: .*level_0\.safetensors.*(File too large|No space)' "$tmp/full.err"; then
  fail full_disk "message: $(cat "$tmp/full.err")"
elif ls "$tmp"/full/*.tmp.* "$tmp"/full/samples/*.tmp.* >/dev/null 2>&1; then fail full_disk "temporary file left behind"
elif ! same_levels "$tmp/good" "$tmp/full"; then fail full_disk "a checkpoint changed"
elif ! "$bin" info "$tmp/full" >/dev/null 2>&1; then fail full_disk "checkpoints no longer load"
elif ! "$bin" train --preset tiny --steps 4 --batch 8 --threads 1 --seed 5 --quiet --resume \
       --out "$tmp/full" 2>/dev/null; then fail full_disk "resume after freeing space failed"
else pass full_disk; fi

# ---- SIGINT -----------------------------------------------------------------
"$bin" "${args[@]}" --out "$tmp/int" 2>"$tmp/int.err" &
pid=$!
for _ in $(seq 200); do ls "$tmp"/int/level_*.safetensors >/dev/null 2>&1 && break; sleep 0.05; done
kill -INT "$pid"
wait "$pid"
rc=$?
if [ $rc -ne 130 ]; then fail sigint "exit $rc, expected 130: $(tail -2 "$tmp/int.err")"
elif ! tail -1 "$tmp/int.err" | grep -q -- '--resume'; then fail sigint "message: $(tail -1 "$tmp/int.err")"
elif ! train --out "$tmp/int" --resume 2>/dev/null; then fail sigint "resume failed"
elif ! same_levels "$tmp/ref" "$tmp/int"; then fail sigint "resumed checkpoints differ from the uninterrupted run"
else pass sigint; fi
exit $((fails > 0))
