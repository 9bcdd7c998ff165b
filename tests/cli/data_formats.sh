#!/usr/bin/env bash
# The STL-10, npy/npz and dataset-zip specs through the CLI: good files load
# (lapgan pyramid draws one of their images), hostile ones (truncated .npy
# header, wrong dtype, ambiguous shape, zip entries with '..' or an absolute
# path, zip bombs, an STL-10 file not a multiple of its record) fail with
# exit 1 and one line naming the file and entry. Pixels and labels are
# compared with the CIFAR-10 loader's in tests/test_data_formats.c; both use
# the files tests/cli/data_formats.py writes.
set -u
source "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
"$py" -c 'import numpy' 2>/dev/null ||
  skip_all data_formats "$py with numpy absent (scripts/deps.sh test installs python3-numpy)"
d="$tmp/d"
"$py" "$(dirname "$0")/data_formats.py" "$d" || { fail data_formats_generate; finish; exit; }

for spec in "stl10:$d/stl" "stl10-test:$d/stl" "stl10-unlabeled:$d/stl" "npy:$d/nhwc.npy" \
            "npy:$d/nchw.npy,$d/labels.npy" "npz:$d/xy.npz" "npz:$d/first_two.npz" \
            "zip:$d/set.zip" "zip:$d/set_stored.zip"; do
  check "loads ${spec//$d\//}" "$bin" pyramid "$spec" --index 4 --levels 2 -o "$tmp/p.png"
done

b="$d/bad"
expect_fail "npy truncated header" 1 "truncated_header.npy: truncated .npy header" \
  "$bin" pyramid "npy:$b/truncated_header.npy" -o "$tmp/p.png"
expect_fail "npy truncated data" 1 "truncated_data.npy: .npy data is .* \(truncated\)" \
  "$bin" pyramid "npy:$b/truncated_data.npy" -o "$tmp/p.png"
expect_fail "npy wrong dtype" 1 "float.npy: images have dtype '<f4'" \
  "$bin" pyramid "npy:$b/float.npy" -o "$tmp/p.png"
expect_fail "npy ambiguous shape" 1 "ambiguous.npy: shape \(2, 3, 5, 3\) is ambiguous" \
  "$bin" pyramid "npy:$b/ambiguous.npy" -o "$tmp/p.png"
expect_fail "npy no channel axis" 1 "nochannel.npy: shape .* has no channel axis" \
  "$bin" pyramid "npy:$b/nochannel.npy" -o "$tmp/p.png"
# Streamed, a huge shape allocates nothing: the file is simply too short for it.
expect_fail "npy huge claimed shape" 1 "huge_shape.npy: .npy data is 64 bytes, .* need 167772143222784 \(truncated\)" \
  "$bin" pyramid "npy:$b/huge_shape.npy" -o "$tmp/p.png"
expect_fail "npy labels count" 1 "labels_short.npy: labels have shape \(11,\), want \(12,\)" \
  "$bin" pyramid "npy:$d/nhwc.npy,$b/labels_short.npy" -o "$tmp/p.png"
expect_fail "npy labels unused class" 1 "labels_gap.npy: .* no image has label 1" \
  "$bin" pyramid "npy:$d/nhwc.npy,$b/labels_gap.npy" -o "$tmp/p.png"
expect_fail "npy labels float" 1 "labels_float.npy: labels have dtype '<f8'" \
  "$bin" pyramid "npy:$d/nhwc.npy,$b/labels_float.npy" -o "$tmp/p.png"
expect_fail "zip entry with .." 1 "dotdot.zip: entry '\.\./evil.png': absolute path or '\.\.'" \
  "$bin" pyramid "zip:$b/dotdot.zip" -o "$tmp/p.png"
expect_fail "zip absolute entry" 1 "absolute.zip: entry '/etc/evil.png'" \
  "$bin" pyramid "zip:$b/absolute.zip" -o "$tmp/p.png"
expect_fail "npz entry with .." 1 "dotdot.npz: entry '\.\./x.npy'" \
  "$bin" pyramid "npz:$b/dotdot.npz" -o "$tmp/p.png"
expect_fail "zip bomb: claimed size" 1 "bomb_claim.zip: entry 'img0.png': 2147483648 bytes .* more than the" \
  "$bin" pyramid "zip:$b/bomb_claim.zip" -o "$tmp/p.png"
expect_fail "zip bomb: ratio" 1 "bomb_ratio.zip: entry 'img0.png': claims .* more than deflate can hold" \
  "$bin" pyramid "zip:$b/bomb_ratio.zip" -o "$tmp/p.png"
expect_fail "zip bomb: expands past its record" 1 "bomb_expand.zip: entry 'img0.png': .* declares 1000" \
  "$bin" pyramid "zip:$b/bomb_expand.zip" -o "$tmp/p.png"
expect_fail "npz bomb" 1 "bomb.npz: entry 'x.npy': claims 2147483648 bytes" \
  "$bin" pyramid "npz:$b/bomb.npz" -o "$tmp/p.png"
expect_fail "zip partly labelled" 1 "unlabelled_one.zip: entry 'dataset.json': image 'b.png' has no label" \
  "$bin" pyramid "zip:$b/unlabelled_one.zip" -o "$tmp/p.png"
expect_fail "zip corrupt PNG" 1 "corrupt_png.zip: entry 'a.png': corrupt PNG" \
  "$bin" pyramid "zip:$b/corrupt_png.zip" -o "$tmp/p.png"
expect_fail "not a zip" 1 "not_a.zip: not a readable zip archive" \
  "$bin" pyramid "zip:$b/not_a.zip" -o "$tmp/p.png"
expect_fail "stl10 size not a record multiple" 1 "stl/train_X.bin: wrong size: 55301 bytes" \
  "$bin" pyramid "stl10:$b/stl" -o "$tmp/p.png"
expect_fail "stl10 label out of range" 1 "stl/test_y.bin: label 1 is 11 \(expected 1..10\)" \
  "$bin" pyramid "stl10-test:$b/stl" -o "$tmp/p.png"
expect_fail "stl10 needs a directory" 2 "stl10 needs a directory" \
  "$bin" pyramid stl10: -o "$tmp/p.png"

# LSUN: LMDB environments made from dumps with mdb_load (lmdb-utils).
if command -v mdb_load >/dev/null; then
  mkdir -p "$d/good_lmdb" "$b/notimage_lmdb" "$b/trunc_lmdb" "$b/garbage_lmdb"
  mdb_load -f "$d/lsun_good.dump" "$d/good_lmdb" && mdb_load -f "$b/lsun_notimage.dump" "$b/notimage_lmdb"
  head -c 12288 "$d/good_lmdb/data.mdb" >"$b/trunc_lmdb/data.mdb"
  head -c 65536 /dev/urandom >"$b/garbage_lmdb/data.mdb"
  check "loads lsun:good_lmdb" "$bin" pyramid "lsun:$d/good_lmdb" --index 4 --levels 2 -o "$tmp/p.png"
  check "loads lsun: two environments" "$bin" pyramid "lsun:$d/good_lmdb,$d/good_lmdb" --index 20 --levels 2 -o "$tmp/p.png"
  # Streamed: image 0 decodes on opening, image 1 (img0042) only when it is read.
  check "lsun opens with a bad later value" "$bin" pyramid "lsun:$b/notimage_lmdb" --index 0 --levels 2 -o "$tmp/p.png"
  expect_fail "lsun value not an image" 1 "notimage_lmdb: entry img0042: not a PNG, JPEG or WebP image" \
    "$bin" pyramid "lsun:$b/notimage_lmdb" --index 1 -o "$tmp/p.png"
  expect_fail "lsun truncated" 1 "trunc_lmdb/data.mdb: truncated LMDB file" \
    "$bin" pyramid "lsun:$b/trunc_lmdb" -o "$tmp/p.png"
  expect_fail "lsun not LMDB" 1 "garbage_lmdb: not a readable LMDB environment" \
    "$bin" pyramid "lsun:$b/garbage_lmdb" -o "$tmp/p.png"
  expect_fail "lsun missing" 1 "absent_lmdb: no such LMDB environment" \
    "$bin" pyramid "lsun:$b/absent_lmdb" -o "$tmp/p.png"
else
  skip_or_fail lsun_cli "mdb_load absent (scripts/deps.sh test installs lmdb-utils)"
fi
finish
