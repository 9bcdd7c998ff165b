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
#  full_disk_log the JSONL log cannot grow (RLIMIT_FSIZE below its size,
#                checkpoints still fit): training stops at that step with one
#                line naming the log, no torn line is left, the checkpoints
#                before it load, and a resume with room again finishes.
# The sanitizer build runs fewer, shorter rounds. Usage: crash.sh LAPGAN
set -u
source "$(dirname "$0")/lib.sh"
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  skip_all crash "Fashion-MNIST absent (scripts/deps.sh installs dataset-fashion-mnist)"
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
# Resume once every level has its first checkpoint; before that, start over.
how() { if ls "$tmp"/kill/level_{0,1,2}.safetensors >/dev/null 2>&1; then echo --resume; else echo --force; fi; }
for ((r = 0; r < rounds; r++)); do
  "$bin" "${args[@]}" "$(how)" --out "$tmp/kill" 2>"$tmp/round.err" & # not `train`: $! must be lapgan
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
train "$(how)" --out "$tmp/kill" 2>"$tmp/kill.err"
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

# ---- a full file system while logging ----------------------------------------
# Files are capped at 100 KB: the checkpoints (level_0 ~64 KB) fit, and
# level 0's log is padded with copies of its first line (kept by the resume)
# to 2 KB under the cap, so a few steps on its next record cannot be written.
"$bin" "${args[@]}" --steps 5 --out "$tmp/flog" 2>/dev/null
log="$tmp/flog/log_level_0.jsonl"
first=$(head -1 "$log")
while [ "$(stat -c %s "$log")" -lt $((100 * 1024 - 2048)) ]; do echo "$first" >>"$log"; done
(trap '' XFSZ; ulimit -f 100; exec "$bin" "${args[@]}" --steps 400 --ckpt-every 5 --resume \
   --out "$tmp/flog") 2>"$tmp/flog.err"
rc=$?
at=$(sed -n 's/.*write failed at step \([0-9]*\).*/\1/p' "$tmp/flog.err")
steps_now=$("$bin" info "$tmp/flog" 2>/dev/null | sed -n 's/.*step \([0-9]*\).*/\1/p')
if [ $rc -ne 1 ] || [ "$(wc -l <"$tmp/flog.err")" -ne 1 ]; then
  fail full_disk_log "exit $rc: $(head -3 "$tmp/flog.err")"
elif ! grep -Eq '^lapgan train: .*flog/log_level_0\.jsonl: write failed at step [0-9]+ \(File too large\): training stopped; level 0.s last checkpoint \(step [0-9]+\) is kept$' "$tmp/flog.err"; then
  fail full_disk_log "message: $(cat "$tmp/flog.err")"
elif ! python3 -c 'import json, sys
d = open(sys.argv[1], "rb").read()
assert d.endswith(b"\n"), "no newline at the end"
for l in d.splitlines(): json.loads(l)' "$log" 2>"$tmp/flog.py"; then
  fail full_disk_log "torn line in the log: $(tail -1 "$tmp/flog.py")"
elif [ -z "$steps_now" ] || [ "$(echo "$steps_now" | sort -n | tail -1)" -gt "$at" ]; then
  fail full_disk_log "training went on past step $at: checkpoints at $(echo $steps_now)"
elif ls "$tmp"/flog/*.tmp.* >/dev/null 2>&1; then fail full_disk_log "temporary file left behind"
elif ! "$bin" "${args[@]}" --steps 40 --ckpt-every 5 --resume --out "$tmp/flog" 2>/dev/null; then
  fail full_disk_log "resume with room again failed"
elif [ "$(tail -1 "$log" | sed -n 's/.*"step":\([0-9]*\).*/\1/p')" != 40 ]; then
  fail full_disk_log "resumed log ends at: $(tail -1 "$log" | head -c 80)"
else pass "full_disk_log (stopped at step $at)"; fi

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
