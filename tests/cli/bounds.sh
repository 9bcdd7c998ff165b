#!/usr/bin/env bash
# Issue 15 cases 8 and 10 (data side): decoded image sizes, class counts and
# sample counts are bounded up front, with the bound in the one-line message.
# A 2 KB PNG of 1 x 1,000,000 pixels (once 3.6 GB and 11.9 s, then accepted),
# an empty class folder, one IDX label of 255 among 0..1 (once a 256-class
# model), and `sample -n 100000` (once a failure after 9 s and 1.7 GB).
# Every command runs under `timeout` and, where memory was the problem, under
# a 1 GiB address-space limit (not in the ASan build) (docs/RELIABILITY.md).
# Usage: bounds.sh LAPGAN
set -u
source "$(dirname "$0")/lib.sh"
T=(train --preset tiny --batch 8 --threads 1 --steps 1 --quiet)
# png OUT W H: a grey PNG written with Python's zlib (no image library needed).
png() {
  python3 -c 'import struct,sys,zlib
w,h=int(sys.argv[1]),int(sys.argv[2])
c=lambda t,d: struct.pack(">I",len(d))+t+d+struct.pack(">I",zlib.crc32(t+d))
raw=b"".join(b"\0"+bytes([128])*w for y in range(h))
sys.stdout.buffer.write(b"\x89PNG\r\n\x1a\n"+c(b"IHDR",struct.pack(">IIBBBBB",w,h,8,0,0,0,0))+c(b"IDAT",zlib.compress(raw,9))+c(b"IEND",b""))' "$2" "$3" >"$1"
}
# limited CMD...: at most 1 GiB of address space and 30 s. AddressSanitizer
# reserves terabytes of shadow address space, so its build gets the timeout only.
vlimit=1048576
ldd "$bin" 2>/dev/null | grep -q libasan && vlimit=unlimited
limited() { (ulimit -v "$vlimit"; exec timeout -k 5 -s TERM 30 "$@"); }

mkdir -p "$tmp/thin/a" "$tmp/thin/b"
png "$tmp/thin/a/thin.png" 1 1000000
png "$tmp/thin/b/ok.png" 28 28
size=$(stat -c %s "$tmp/thin/a/thin.png")
[ "$size" -lt 4096 ] && pass thin_png_is_small || fail thin_png_is_small "$size bytes"
expect_fail folder_thin_image 1 "thin.png: a 1x1000000 image would be resized to 28x28000000.*2\^28" \
  limited "$bin" "${T[@]}" --data "folder:$tmp/thin" --out "$tmp/r1"
expect_fail pyramid_thin_image 1 "thin.png: a 1x1000000 image would be resized" \
  limited "$bin" pyramid "$tmp/thin/a/thin.png" --size 64 -o "$tmp/p.png"

mkdir -p "$tmp/cls/shoes" "$tmp/cls/empty"
png "$tmp/cls/shoes/1.png" 28 28
expect_fail folder_empty_class 1 "cls/empty: class folder without images" \
  limited "$bin" "${T[@]}" --data "folder:$tmp/cls" --class-conditional --out "$tmp/r2"
expect_fail folder_empty_class_unconditional 1 "cls/empty: class folder without images" \
  limited "$bin" "${T[@]}" --data "folder:$tmp/cls" --out "$tmp/r2"

# Three 28x28 IDX images with labels 0, 1, 255.
{ printf '\x00\x00\x08\x03\x00\x00\x00\x03\x00\x00\x00\x1c\x00\x00\x00\x1c'
  head -c $((3 * 784)) /dev/zero; } >"$tmp/img.idx"
printf '\x00\x00\x08\x01\x00\x00\x00\x03\x00\x01\xff' >"$tmp/lab.idx"
expect_fail idx_stray_label 1 "lab.idx: the largest label, 255, makes 256 classes, but no image has label 2" \
  limited "$bin" "${T[@]}" --data "idx:$tmp/img.idx,$tmp/lab.idx" --class-conditional --out "$tmp/r3"
printf '\x00\x00\x08\x01\x00\x00\x00\x03\x00\x01\x01' >"$tmp/lab.idx"
if limited "$bin" "${T[@]}" --batch 2 --data "idx:$tmp/img.idx,$tmp/lab.idx" --class-conditional \
     --levels 2 --out "$tmp/r4" >"$tmp/out" 2>&1; then pass idx_two_classes_train
else fail idx_two_classes_train "$(tail -c 300 "$tmp/out")"; fi

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  skip_or_fail sample_count "Fashion-MNIST absent (scripts/deps.sh installs dataset-fashion-mnist)"
  finish; exit
fi
run=$tmp/run
"$bin" train --preset tiny --batch 8 --threads 1 --steps 2 --quiet --out "$run" >/dev/null 2>&1 ||
  { fail setup "training failed"; exit 1; }
expect_fail sample_count_bound 2 "-n 100000: one grid of 10 per row \(--per-row\) holds at most 11290 samples of 28x28" \
  limited "$bin" sample --model "$run" -n 100000 --threads 1 -o "$tmp/s.png"
expect_fail sample_count_bound_per_row 2 "-n 60000: one grid of 5 per row .* at most 5645 samples" \
  limited "$bin" sample --model "$run" -n 60000 --per-row 5 --threads 1 -o "$tmp/s.png"
check sample_count_at_bound limited "$bin" sample --model "$run" -n 11290 --threads 1 -o "$tmp/s.png"
[ -e "$tmp/s.png.tmp."* ] 2>/dev/null && fail no_temp_left || pass no_temp_left
finish
