#!/usr/bin/env bash
# lapgan train / sample / info from the command line: the happy path on a
# tiny model and every error a user is likely to make.
set -u
source "$(dirname "$0")/lib.sh"
B=$bin
D=$tmp/run

check version "$B" --version
check help_top "$B" --help
for c in train sample info pyramid selfcheck; do
  check "help_$c" bash -c "'$B' $c --help | grep -q usage"
done
expect_fail unknown_command 2 "unknown command" "$B" frobnicate
expect_fail unknown_option 2 "unknown option '--frob'" "$B" train --frob
expect_fail bad_steps 2 "--steps" "$B" train --steps -3
expect_fail bad_preset 2 "unknown preset 'nope'" "$B" train --preset nope
expect_fail missing_value 2 "--data needs a value" "$B" train --data
expect_fail bad_data 1 "/nonexistent" "$B" train --data idx:/nonexistent/images
expect_fail odd_batch 2 "even" "$B" train --preset tiny --batch 7 --steps 1 --out "$D-odd"
expect_fail bad_levels 2 "--levels" "$B" train --levels 0,x
expect_fail sample_no_model 2 "--model" "$B" sample
expect_fail sample_missing 1 "$tmp/none" "$B" sample --model "$tmp/none"
expect_fail info_missing 1 "no such file" "$B" info "$tmp/none"
# A model description file: --print-json writes one, --model reads it back.
"$B" train --preset tiny --print-json > "$tmp/tiny.json"
check model_json_roundtrip bash -c "'$B' train --model '$tmp/tiny.json' --print-json | cmp -s - '$tmp/tiny.json'"
sed 's/"d_dropout":0.5/"d_dropout":0.25/g' "$tmp/tiny.json" > "$tmp/tiny-d.json"
check model_json_edit bash -c "'$B' train --model '$tmp/tiny-d.json' --print-model | grep -q 'dropout 0.25'"
# --authors-init: the authors' CIFAR-10 initialisation, written into the model file.
check authors_init_json bash -c "'$B' train --preset cifar10-32 --authors-init --print-json | grep -q '\"init\":\"normal\",\"init_std\":0.05.*\"d_init_scale\":0.1'"
check authors_init_trains "$B" train --preset tiny --authors-init --levels 2 --steps 2 --out "$D-authors" --quiet --threads 2
check authors_init_stored bash -c "'$B' info '$D-authors' | grep -q 'init normal'"
expect_fail authors_init_dcgan 2 "not both" "$B" train --preset tiny --authors-init --dcgan
expect_fail model_missing 1 "$tmp/none.json" "$B" train --model "$tmp/none.json"
printf '{"format":"lapgan-model-1",' > "$tmp/cut.json"
expect_fail model_not_json 1 "cut.json: model description is not JSON" "$B" train --model "$tmp/cut.json"
sed 's/"channels":1/"channels":5/' "$tmp/tiny.json" > "$tmp/c5.json"
expect_fail model_bad_channels 1 "channels" "$B" train --model "$tmp/c5.json"

if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  skip_all train_tiny "Fashion-MNIST not installed (scripts/deps.sh installs dataset-fashion-mnist)"
fi
check train_tiny "$B" train --preset tiny --class-conditional --steps 4 --ckpt-every 2 \
  --sample-every 2 --log-every 1 --out "$D" --quiet --threads 2
check checkpoints bash -c "ls '$D'/level_0.safetensors '$D'/level_1.safetensors '$D'/level_2.safetensors >/dev/null"
check log_lines bash -c "[ \$(wc -l < '$D/log_level_0.jsonl') -eq 4 ] && grep -q '\"d_real_acc\"' '$D/log_level_0.jsonl'"
check progress_grids bash -c "ls '$D'/samples/level_0_step_000002.png '$D'/samples/model_step_000004.png >/dev/null"
check train_model_json "$B" train --model "$tmp/tiny-d.json" --levels 2 --steps 2 --out "$D-json" --quiet --threads 2
check info_model_json bash -c "'$B' info '$D-json' | grep -q 'dropout 0.25'"
check info_dir bash -c "'$B' info '$D' | grep -q 'level 2 (7x7), step 4'"
check sample_png "$B" sample --model "$D" -n 30 --seed 3 -o "$tmp/s.png" --chain "$tmp/c.png"
check sample_is_png bash -c "head -c 8 '$tmp/s.png' | od -An -tx1 | grep -q '89 50 4e 47'"
"$B" sample --model "$D" -n 30 --seed 3 -o "$tmp/s2.png" >/dev/null
check sample_deterministic cmp -s "$tmp/s.png" "$tmp/s2.png"
"$B" sample --model "$D" -n 30 --seed 4 -o "$tmp/s3.png" >/dev/null
check sample_seed_matters bash -c "! cmp -s '$tmp/s.png' '$tmp/s3.png'"
check sample_class "$B" sample --model "$D" -n 10 --class 3 -o "$tmp/c3.png"
expect_fail sample_bad_class 2 "classes 0 to 9" "$B" sample --model "$D" --class 10 -o "$tmp/x.png"
expect_fail sample_unwritable 1 "/nonexistent" "$B" sample --model "$D" -n 4 -o /nonexistent/x.png
# Resume with a different model is refused, naming the file and the setting.
expect_fail resume_other_model 1 "run\.json: model setting 'classes' is 10 in the run, 0 given" \
  "$B" train --preset tiny --steps 6 --out "$D" --resume --quiet
# A resumed run continues where it stopped.
check resume_more "$B" train --preset tiny --class-conditional --steps 6 --ckpt-every 2 \
  --sample-every 0 --out "$D" --resume --quiet --threads 2
check resumed_step bash -c "'$B' info '$D/level_0.safetensors' | grep -q 'step 6'"
# A corrupt checkpoint is a one-line error, not a crash.
head -c 100 "$D/level_1.safetensors" > "$tmp/trunc.safetensors"
expect_fail info_truncated 1 "trunc.safetensors" "$B" info "$tmp/trunc.safetensors"
finish
