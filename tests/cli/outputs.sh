#!/usr/bin/env bash
# Issue 15 case 3: a user-named output (sample -o/--chain, pyramid -o,
# report -o, eval nn -o, classifier --out, study report --html) never
# replaces what is not a regular file (symlink, FIFO, device node,
# directory) nor a run's own checkpoint or log, and a command that fails
# leaves none of its outputs behind (docs/RELIABILITY.md).
# Usage: outputs.sh LAPGAN
set -u
source "$(dirname "$0")/lib.sh"
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  skip_all outputs "Fashion-MNIST absent (scripts/deps.sh installs dataset-fashion-mnist)"
fi
run=$tmp/run
"$bin" train --preset tiny --batch 8 --threads 1 --steps 2 --quiet --out "$run" >/dev/null 2>&1 ||
  { fail setup "training failed"; exit 1; }
cp -a "$run" "$tmp/run.orig"
sample() { timeout -k 5 60 "$bin" sample --model "$run" -n 4 --threads 1 "$@"; }

# refused NAME PATH TYPE CMD...: exit 1, one line naming PATH, PATH still of TYPE
# (find -type letter: l, p, c, d, f) and nothing written beside it.
refused() {
  local name=$1 path=$2 type=$3; shift 3
  expect_fail "$name" 1 "$(basename "$path").*(not a regular file|run directory's own file)" "$@"
  if [ -z "$(find "$path" -maxdepth 0 -type "$type" 2>/dev/null)" ]; then
    fail "${name}_kept" "$path is no longer of type $type"
  elif ls "$path".tmp.* >/dev/null 2>&1; then fail "${name}_kept" "temp file left beside $path"
  else pass "${name}_kept"; fi
}

echo precious >"$tmp/target.png"
ln -s "$tmp/target.png" "$tmp/link.png"
refused sample_symlink "$tmp/link.png" l sample -o "$tmp/link.png"
if [ "$(cat "$tmp/target.png")" = precious ]; then pass symlink_target_intact
else fail symlink_target_intact "the link's target changed"; fi
mkfifo "$tmp/fifo.png"
refused sample_fifo "$tmp/fifo.png" p sample -o "$tmp/fifo.png"
refused chain_fifo "$tmp/fifo.png" p sample -o "$tmp/ok.png" --chain "$tmp/fifo.png"
[ -e "$tmp/ok.png" ] && fail chain_fifo_no_grid "the -o grid was written" || pass chain_fifo_no_grid
# A device node of our own (1,7 is what /dev/full is), never a system one.
if mknod "$tmp/full" c 1 7 2>/dev/null; then
  refused sample_device "$tmp/full" c sample -o "$tmp/full"
else
  skip_absent sample_device "mknod not permitted here (needs CAP_MKNOD)"
fi
mkdir "$tmp/adir"
refused sample_directory "$tmp/adir" d sample -o "$tmp/adir"
for f in level_0.safetensors log_level_0.jsonl; do
  expect_fail "sample_over_$f" 1 "$f: is a run directory's own file" sample -o "$run/$f"
done
if cmp -s "$run/level_0.safetensors" "$tmp/run.orig/level_0.safetensors" &&
   cmp -s "$run/log_level_0.jsonl" "$tmp/run.orig/log_level_0.jsonl"; then pass run_files_intact
else fail run_files_intact "a checkpoint or log changed"; fi
expect_fail sample_missing_dir 1 "nodir/s.png: its directory .*nodir does not exist" \
  sample -o "$tmp/nodir/s.png"

# A --chain that fails while being written (RLIMIT_FSIZE: the 1-sample grid
# fits in 2 KB, the chain does not) leaves no grid and no temp file; an
# existing grid keeps its old bytes.
echo old >"$tmp/g.png"
(trap '' XFSZ; ulimit -f 2; sample -n 1 -o "$tmp/g.png" --chain "$tmp/c.png") >/dev/null 2>"$tmp/err"
rc=$?
if [ $rc -ne 1 ] || ! grep -q 'c.png: write failed' "$tmp/err"; then
  fail chain_write_fails "exit $rc: $(head -c 300 "$tmp/err")"
elif [ "$(cat "$tmp/g.png")" != old ] || [ -e "$tmp/c.png" ] || ls "$tmp"/*.tmp.* >/dev/null 2>&1; then
  fail chain_write_fails "grid replaced, chain or temp file left"
else pass chain_write_fails; fi
check sample_both_written sample -n 1 -o "$tmp/g.png" --chain "$tmp/c.png"
expect_fail sample_same_file_twice 2 "the same file is given for two outputs" \
  sample -o "$tmp/same.png" --chain "$tmp/./same.png"

# The other commands that write a file the user names.
python3 -c 'import struct,sys,zlib
c=lambda t,d: struct.pack(">I",len(d))+t+d+struct.pack(">I",zlib.crc32(t+d))
raw=b"".join(b"\0"+bytes(range(0,256,8)) for _ in range(32))
sys.stdout.buffer.write(b"\x89PNG\r\n\x1a\n"+c(b"IHDR",struct.pack(">IIBBBBB",32,32,8,0,0,0,0))+c(b"IDAT",zlib.compress(raw))+c(b"IEND",b""))' \
  >"$tmp/in.png"
refused pyramid_symlink "$tmp/link.png" l "$bin" pyramid "$tmp/in.png" -o "$tmp/link.png"
refused report_fifo "$tmp/fifo.png" p timeout -k 5 60 "$bin" report "$run" -o "$tmp/fifo.png"
refused eval_nn_checkpoint "$run/level_0.safetensors" f \
  timeout -k 5 60 "$bin" eval nn --model "$run" -n 2 -k 1 --threads 1 -o "$run/level_0.safetensors"
refused classifier_symlink "$tmp/link.png" l \
  timeout -k 5 60 "$bin" classifier train --data fashion --epochs 1 --out "$tmp/link.png"
if cmp -s "$run/level_0.safetensors" "$tmp/run.orig/level_0.safetensors"; then pass checkpoint_intact
else fail checkpoint_intact "eval nn -o replaced the checkpoint"; fi
check pyramid_regular "$bin" pyramid "$tmp/in.png" -o "$tmp/target.png"
finish
