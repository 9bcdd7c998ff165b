#!/usr/bin/env bash
# lapgan pyramid: writes a valid PNG; bad inputs exit 1 with one stderr line
# naming the file and leave no output behind. Usage: pyramid.sh path/to/lapgan
set -u
source "$(dirname "$0")/lib.sh"

is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; }
png_wh() { od -An -tu1 -j16 -N8 "$1" | awk '{print $3*256+$4 "x" $7*256+$8}'; }

# expect_fail NAME CODE FILE-IN-MESSAGE ARGS...: exit CODE, one stderr line naming the file, no output.
expect_fail() {
  local name=$1 code=$2 needle=$3; shift 3
  rm -f "$tmp/out.png"
  "$bin" pyramid "$@" 2>"$tmp/err" >/dev/null
  local rc=$? lines; lines=$(wc -l <"$tmp/err")
  if [ $rc -ne "$code" ]; then fail "$name" "exit $rc, expected $code"
  elif [ "$lines" -ne 1 ]; then fail "$name" "$lines stderr lines"
  elif ! grep -q "^lapgan pyramid: .*$needle" "$tmp/err"; then fail "$name" "stderr: $(cat "$tmp/err")"
  elif [ -e "$tmp/out.png" ] || ls "$tmp"/out.png.tmp.* >/dev/null 2>&1; then fail "$name" "output left behind"
  else pass "$name"; fi
}

# Fashion-MNIST (Debian package) is the input; its output PNG then serves as a file input.
if "$bin" pyramid fashion --index 3 --levels 3 -o "$tmp/fashion.png" 2>"$tmp/err"; then
  if is_png "$tmp/fashion.png"; then pass fashion_png; else fail fashion_png "not a PNG"; fi
  # 28 -> 14 -> 7 at 5x scale: 3 columns of 140 px + 4 pads of 2; 3 rows.
  wh=$(png_wh "$tmp/fashion.png")
  [ "$wh" = "428x428" ] && pass fashion_size || fail fashion_size "$wh"
  # The output is itself a valid input (grey PNG, square crop).
  if "$bin" pyramid "$tmp/fashion.png" --size 64 --levels 4 --filter area-bilinear -o "$tmp/again.png" 2>"$tmp/err" \
     && is_png "$tmp/again.png"; then pass png_input; else fail png_input "$(cat "$tmp/err")"; fi
  ls "$tmp"/*.tmp.* >/dev/null 2>&1 && fail no_temp_files || pass no_temp_files
else
  if [ -d /usr/share/datasets/fashion-mnist ]; then fail fashion_png "$(cat "$tmp/err")"
  else skip_or_fail fashion_png "Fashion-MNIST absent (scripts/deps.sh installs dataset-fashion-mnist)"; fi
fi

"$bin" pyramid --help >"$tmp/help" 2>&1 && grep -q -- "--levels" "$tmp/help" && pass help || fail help

printf 'not an image at all' >"$tmp/garbage.png"
expect_fail corrupt_png 1 "garbage.png" "$tmp/garbage.png" -o "$tmp/out.png"
printf '\x89PNG\r\n\x1a\n\0\0\0\x0dIHDRxx' >"$tmp/trunc.png"
expect_fail truncated_png 1 "trunc.png" "$tmp/trunc.png" -o "$tmp/out.png"
printf '\xff\xd8\xff\xe0garbage' >"$tmp/bad.jpg"
expect_fail corrupt_jpeg 1 "bad.jpg" "$tmp/bad.jpg" -o "$tmp/out.png"
expect_fail missing_file 1 "nosuch.png" "$tmp/nosuch.png" -o "$tmp/out.png"
expect_fail missing_dataset_dir 1 "/nonexistent/cifar" cifar10:/nonexistent/cifar -o "$tmp/out.png"
expect_fail no_output 2 "output" "$tmp/garbage.png"
expect_fail bad_filter 2 "filter" "$tmp/garbage.png" --filter gauss -o "$tmp/out.png"
expect_fail bad_levels 2 "levels" "$tmp/garbage.png" --levels 99 -o "$tmp/out.png"
if [ -f "$tmp/fashion.png" ]; then
  expect_fail unwritable_output 1 "no/such/dir/out.png" "$tmp/fashion.png" -o "$tmp/no/such/dir/out.png"
  expect_fail too_many_levels 2 "levels" fashion --levels 8 -o "$tmp/out.png"
fi
exit $((fails > 0))
