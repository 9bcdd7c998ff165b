#!/usr/bin/env bash
# Issue 15 case 6: a FIFO where a file is read (level file, IDX, CIFAR batch,
# --model JSON, --classifier, pyramid input, study --db, a resumed run's
# log) is refused at once with one line; it used to block in open(), and
# `train` then survived SIGTERM. Every command runs under `timeout -s TERM`:
# exit 124 means it hung (docs/RELIABILITY.md).
# Usage: fifos.sh LAPGAN
set -u
source "$(dirname "$0")/lib.sh"
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  skip_all fifos "Fashion-MNIST absent (scripts/deps.sh installs dataset-fashion-mnist)"
fi
T=(train --data fashion --preset tiny --batch 8 --threads 1 --quiet)
run=$tmp/run
"$bin" "${T[@]}" --steps 2 --out "$run" >/dev/null 2>&1 || { fail setup "training failed"; exit 1; }
mkfifo "$tmp/fifo"

# fifo NAME PATH CMD...: exit 1 well before the timeout, one line naming PATH as a FIFO.
fifo() {
  local name=$1 path=$2; shift 2
  expect_fail "$name" 1 "$(basename "$path"): not a regular file \(a FIFO\)" timeout -k 5 -s TERM 20 "$@"
}
# with_fifo DIR FILE: a copy of the run with FILE replaced by a FIFO.
with_fifo() { cp -a "$run" "$tmp/$1" && rm "$tmp/$1/$2" && mkfifo "$tmp/$1/$2"; }

with_fifo lv0 level_0.safetensors
fifo sample_level_fifo "$tmp/lv0/level_0.safetensors" "$bin" sample --model "$tmp/lv0" -n 2 -o "$tmp/s.png"
fifo info_level_fifo "$tmp/lv0/level_0.safetensors" "$bin" info "$tmp/lv0/level_0.safetensors"
with_fifo lv1 level_1.safetensors
expect_fail resume_level_fifo 1 "level_1.safetensors: not a regular file" \
  timeout -k 5 -s TERM 20 "$bin" "${T[@]}" --steps 4 --resume --out "$tmp/lv1"
with_fifo log0 log_level_0.jsonl
fifo resume_log_fifo "$tmp/log0/log_level_0.jsonl" "$bin" "${T[@]}" --steps 4 --resume --out "$tmp/log0"
fifo idx_images_fifo "$tmp/fifo" "$bin" "${T[@]}" --data "idx:$tmp/fifo" --steps 1 --out "$tmp/r1"
mkdir "$tmp/cifar" && mkfifo "$tmp/cifar/data_batch_1.bin"
fifo cifar_batch_fifo "$tmp/cifar/data_batch_1.bin" \
  "$bin" train --data "cifar10:$tmp/cifar" --preset tiny --steps 1 --quiet --out "$tmp/r2"
fifo model_json_fifo "$tmp/fifo" "$bin" train --model "$tmp/fifo" --steps 1 --out "$tmp/r3"
fifo classifier_fifo "$tmp/fifo" "$bin" eval fd --model "$run" --classifier "$tmp/fifo" --threads 1
fifo pyramid_input_fifo "$tmp/fifo" "$bin" pyramid "$tmp/fifo" -o "$tmp/p.png"
fifo study_db_fifo "$tmp/fifo" "$bin" study report --db "$tmp/fifo"
# A FIFO inside an image folder is not an image: skipped, never opened.
mkdir -p "$tmp/imgs/a" && mkfifo "$tmp/imgs/a/x.png"
expect_fail folder_fifo_skipped 1 "imgs/a: class folder without images" timeout -k 5 -s TERM 20 \
  "$bin" train --data "folder:$tmp/imgs" --preset tiny --steps 1 --quiet --out "$tmp/r4"
finish
