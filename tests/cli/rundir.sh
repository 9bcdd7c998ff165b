#!/usr/bin/env bash
# Run directories are owned and resumes are checked (docs/RELIABILITY.md,
# issue 15 cases 1, 2 and 5):
#  overwrite_refused  training over a run without --resume or --force: one
#                     line, the run's files untouched
#  other_model        a new level of another model into a run: refused
#  new_levels         levels of one run trained by separate processes
#  force              --force says what it removes, removes lapgan's files
#                     only, and is refused while a level is being trained
#  race               the same level twice at once (20 rounds): one trains,
#                     the other is refused naming the winner's pid; the log
#                     and checkpoint are exactly a solo run's
#  race_models        two new runs of different models at once: one refused
#  resume_*           every setting a resume must keep, refused with one line
#                     naming the file, the setting, the stored and the given
#                     value; what may change (threads) warns; no --preset
#                     takes the run's model; missing, dangling, looping level
#                     files and empty directories are refused
# Usage: rundir.sh LAPGAN
set -u
source "$(dirname "$0")/lib.sh"
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  skip_all rundir "Fashion-MNIST absent (scripts/deps.sh installs dataset-fashion-mnist)"
fi
case "$(dirname "$bin")" in
  *san) rounds=${RACE_ROUNDS:-4} ;;
  *) rounds=${RACE_ROUNDS:-20} ;;
esac
# One thread: the same bytes on every run.
train() { "$bin" train --preset tiny --batch 8 --threads 1 --seed 5 --val 0 --quiet "$@"; }
sums() { (cd "$1" && md5sum level_*.safetensors run.json 2>/dev/null) | md5sum; }

train --steps 20 --ckpt-every 10 --sample-every 10 --out "$tmp/run" ||
  { fail setup "training failed"; exit 1; }
before=$(sums "$tmp/run")

# ---- overwriting a run -------------------------------------------------------
expect_fail overwrite_refused 1 'run/level_0\.safetensors: the directory already holds level 0 of a run: --resume continues it, --force replaces it' \
  train --steps 5 --out "$tmp/run"
expect_fail overwrite_other_preset 1 'run/level_0\.safetensors: .*already holds level 0' \
  "$bin" train --preset gan-fashion --steps 2 --val 0 --threads 1 --quiet --out "$tmp/run"
[ "$(sums "$tmp/run")" = "$before" ] && pass overwrite_untouched || fail overwrite_untouched "the run's files changed"

# ---- levels of one run in separate processes; another model's level refused --
check new_level_coarse train --levels 2 --steps 6 --out "$tmp/split"
check new_levels_fine train --levels 0,1 --steps 6 --out "$tmp/split"
check new_levels_resume train --steps 8 --resume --out "$tmp/split"
"$bin" train --preset tiny --print-json | sed 's/"d_dropout":0.5/"d_dropout":0.25/' >"$tmp/d25.json"
rm -f "$tmp/split/level_2.safetensors"
expect_fail other_model_new_level 1 "split/run.json: model setting 'levels\[0\]\.d_dropout' is 0\.5 in the run, 0\.25 given \(--force replaces the run" \
  "$bin" train --model "$tmp/d25.json" --levels 2 --batch 8 --threads 1 --seed 5 --val 0 --quiet --out "$tmp/split"
expect_fail other_seed_new_level 1 "split/run.json: seed is 5 in the run, 6 given" \
  train --levels 2 --seed 6 --out "$tmp/split"

# ---- --force -----------------------------------------------------------------
cp -r "$tmp/run" "$tmp/f"
echo mine >"$tmp/f/notes.txt"
echo mine >"$tmp/f/samples/mine.png"
train --steps 5 --force --out "$tmp/f" 2>"$tmp/err"
rc=$?
if [ $rc -ne 0 ] || [ "$(wc -l <"$tmp/err")" -ne 1 ]; then fail force "exit $rc: $(head -3 "$tmp/err")"
elif ! grep -Eq '^lapgan train: --force: removing the run in .*/f: 3 level checkpoints, 3 logs, [0-9]+ sample grids' "$tmp/err"; then
  fail force "message: $(cat "$tmp/err")"
elif [ ! -f "$tmp/f/notes.txt" ] || [ ! -f "$tmp/f/samples/mine.png" ]; then fail force "removed a user's file"
elif ls "$tmp"/f/samples/*step_000010.png >/dev/null 2>&1; then fail force "old sample grids left"
elif [ "$("$bin" info "$tmp/f" | grep -c 'step 5,')" -ne 3 ]; then fail force "$("$bin" info "$tmp/f" 2>&1 | grep step)"
else pass force; fi

# A level in training (a live process holds its lock): --force and a second
# trainer of that level are refused naming it.
"$bin" train --preset tiny --batch 8 --threads 1 --seed 5 --val 0 --quiet --levels 0 --steps 100000 \
  --ckpt-every 0 --sample-every 0 --out "$tmp/live" 2>/dev/null &
live=$!
for _ in $(seq 200); do [ -f "$tmp/live/level_0.safetensors" ] && break; sleep 0.05; done
expect_fail force_live 1 "live/level_0\.lock: level 0 of this run is being trained by process $live" \
  train --levels 1 --force --steps 2 --out "$tmp/live"
expect_fail resume_live 1 "live/level_0\.lock: level 0 of this run is being trained by process $live" \
  train --levels 0 --resume --steps 2 --out "$tmp/live"
check other_level_beside_live train --levels 2 --steps 2 --out "$tmp/live"
kill -INT $live
wait $live
check force_after_live train --levels 1 --force --steps 2 --out "$tmp/live"

# ---- the same level twice at once --------------------------------------------
race_args=(--levels 0 --steps 30 --ckpt-every 5 --log-every 1 --sample-every 0)
"$bin" train --preset tiny --batch 8 --threads 1 --val 0 --quiet "${race_args[@]}" --seed 1 --out "$tmp/solo1"
"$bin" train --preset tiny --batch 8 --threads 1 --val 0 --quiet "${race_args[@]}" --seed 2 --out "$tmp/solo2"
locked=0 existed=0 broken=
for ((r = 0; r < rounds; r++)); do
  d="$tmp/race$r"
  "$bin" train --preset tiny --batch 8 --threads 1 --val 0 --quiet "${race_args[@]}" --seed 1 --out "$d" 2>"$tmp/r1.err" &
  p1=$!
  "$bin" train --preset tiny --batch 8 --threads 1 --val 0 --quiet "${race_args[@]}" --seed 2 --out "$d" 2>"$tmp/r2.err" &
  p2=$!
  wait $p1; rc1=$?
  wait $p2; rc2=$?
  if [ $rc1 -eq 0 ] && [ $rc2 -eq 1 ]; then won=1 lost=2 winner=$p1
  elif [ $rc1 -eq 1 ] && [ $rc2 -eq 0 ]; then won=2 lost=1 winner=$p2
  else broken="round $r: exits $rc1 and $rc2: $(cat "$tmp/r1.err" "$tmp/r2.err" | head -2)"; break; fi
  msg=$(cat "$tmp/r$lost.err")
  if [ "$(wc -l <"$tmp/r$lost.err")" -ne 1 ]; then broken="round $r: $msg"; break
  elif echo "$msg" | grep -q "level_0\.lock: level 0 of this run is being trained by process $winner;"; then
    locked=$((locked + 1))
  elif echo "$msg" | grep -q "level_0\.safetensors: the directory already holds level 0"; then
    existed=$((existed + 1)) # the winner had finished before the loser looked
  else broken="round $r: message: $msg"; break; fi
  if ! cmp -s "$d/level_0.safetensors" "$tmp/solo$won/level_0.safetensors"; then
    broken="round $r: the checkpoint is not seed $won's solo run"; break
  elif ! cmp -s <(cut -d, -f1-8 "$d/log_level_0.jsonl") <(cut -d, -f1-8 "$tmp/solo$won/log_level_0.jsonl"); then
    broken="round $r: the log is not seed $won's solo run ($(wc -l <"$d/log_level_0.jsonl") lines)"; break
  fi
  rm -rf "$d"
done
if [ -n "$broken" ]; then fail race "$broken"
else pass "race ($rounds rounds: $locked refused by the lock, $existed after the winner finished)"; fi

# Two new runs of different models started together into one directory:
# one of them records the run, the other is refused (never a mixed run).
mixed=
for ((r = 0; r < 5; r++)); do
  d="$tmp/race_models$r"
  train --levels 0 --steps 2 --out "$d" 2>"$tmp/m1.err" &
  p1=$!
  "$bin" train --model "$tmp/d25.json" --levels 2 --batch 8 --threads 1 --seed 5 --val 0 --quiet \
    --steps 2 --out "$d" 2>"$tmp/m2.err" &
  p2=$!
  wait $p1; rc1=$?
  wait $p2; rc2=$?
  if [ $((rc1 + rc2)) -ne 1 ] || ! cat "$tmp/m1.err" "$tmp/m2.err" | grep -q "run.json: model setting 'levels\[0\]\.d_dropout'"; then
    mixed="round $r: exits $rc1 and $rc2: $(cat "$tmp/m1.err" "$tmp/m2.err" | head -2)"; break
  fi
  rm -rf "$d"
done
[ -z "$mixed" ] && pass race_models || fail race_models "$mixed"

# ---- resume: what must match ---------------------------------------------------
expect_fail resume_seed 1 "run/run\.json: seed is 5 in the run, 7 given \(a resumed run keeps its settings\)" \
  train --steps 30 --resume --seed 7 --out "$tmp/run"
expect_fail resume_batch 1 "run/run\.json: model setting 'batch' is 8 in the run, 4 given" \
  "$bin" train --preset tiny --batch 4 --threads 1 --val 0 --quiet --steps 30 --resume --out "$tmp/run"
expect_fail resume_preset 1 "run/run\.json: model setting 'name' is \"tiny\" in the run, \"fashion\" given" \
  "$bin" train --preset fashion --batch 8 --threads 1 --val 0 --quiet --steps 30 --resume --out "$tmp/run"
expect_fail resume_model_json 1 "run/run\.json: model setting 'levels\[0\]\.d_dropout' is 0\.5 in the run, 0\.25 given" \
  "$bin" train --model "$tmp/d25.json" --batch 8 --threads 1 --val 0 --quiet --steps 30 --resume --out "$tmp/run"
expect_fail resume_class_conditional 1 "run/run\.json: model setting 'classes' is 0 in the run, 10 given" \
  train --class-conditional --steps 30 --resume --out "$tmp/run"
expect_fail resume_adam 1 "run/run\.json: model setting 'optim\.kind' is \"sgd\" in the run, \"adam\" given" \
  train --adam --steps 30 --resume --out "$tmp/run"
expect_fail resume_data 1 "run/run\.json: data source is 'fashion-mnist:[^']*/train' in the run, 'fashion-mnist:[^']*/t10k' given" \
  train --data fashion-test --steps 30 --resume --out "$tmp/run"
[ "$(sums "$tmp/run")" = "$before" ] && pass resume_refusals_untouched || fail resume_refusals_untouched "the run's files changed"
# A directory from before run.json: the level checkpoints say what the run is.
cp -r "$tmp/run" "$tmp/legacy" && rm "$tmp/legacy/run.json"
expect_fail resume_batch_legacy 1 "legacy/level_0\.safetensors: model setting 'batch' is 8 in the run, 4 given" \
  "$bin" train --preset tiny --batch 4 --threads 1 --val 0 --quiet --steps 30 --resume --out "$tmp/legacy"

# ---- resume: what may change -----------------------------------------------------
cp -r "$tmp/run" "$tmp/own"
# No --preset, --batch or --seed: the run's own (tiny, batch 8, seed 5).
check resume_takes_stored_model "$bin" train --threads 1 --val 0 --quiet --steps 24 --resume --out "$tmp/own"
if [ "$("$bin" info "$tmp/own" | grep -c 'step 24,')" -eq 3 ]; then pass resume_stored_model_trained
else fail resume_stored_model_trained "$("$bin" info "$tmp/own" 2>&1 | grep step)"; fi
train --threads 2 --steps 26 --resume --out "$tmp/own" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
   grep -q 'own/run\.json: the run started with 1 threads, this resume uses 2: the result will not be bit-identical' "$tmp/err"; then
  pass resume_threads_warns
else fail resume_threads_warns "exit $rc: $(head -3 "$tmp/err")"; fi

# ---- resume: missing level files ---------------------------------------------------
for c in deleted dangling loop; do cp -r "$tmp/run" "$tmp/$c"; rm "$tmp/$c/level_1.safetensors"; done
ln -s "$tmp/nowhere.safetensors" "$tmp/dangling/level_1.safetensors"
ln -s level_1.safetensors "$tmp/loop/level_1.safetensors"
mkdir "$tmp/empty"
expect_fail resume_deleted_level 1 "deleted/level_1\.safetensors: missing: the run has no checkpoint of level 1 to resume" \
  train --steps 30 --resume --out "$tmp/deleted"
expect_fail resume_dangling_link 1 "dangling/level_1\.safetensors: dangling symbolic link \(to '.*nowhere\.safetensors'\)" \
  train --steps 30 --resume --out "$tmp/dangling"
expect_fail resume_link_loop 1 "loop/level_1\.safetensors: symbolic link loop" \
  train --steps 30 --resume --out "$tmp/loop"
expect_fail resume_empty_dir 1 "empty: holds no run \(no run\.json and no level_<k>\.safetensors\)" \
  train --steps 30 --resume --out "$tmp/empty"
expect_fail resume_no_dir 1 "none: no run here" train --steps 30 --resume --out "$tmp/none"
if [ -e "$tmp/none" ] || [ -n "$(ls -A "$tmp/empty")" ] || [ -e "$tmp/deleted/level_1.safetensors" ] ||
   [ "$("$bin" info "$tmp/deleted/level_0.safetensors" | grep -c 'step 20,')" -ne 1 ]; then
  fail resume_refusals_write_nothing "$(ls -A "$tmp/empty" "$tmp/deleted" 2>&1 | tr '\n' ' ')"
else pass resume_refusals_write_nothing; fi
expect_fail resume_and_force 2 "give one" train --resume --force --out "$tmp/run"
finish
