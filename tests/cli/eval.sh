#!/usr/bin/env bash
# lapgan eval parzen / nn / fd and lapgan report on a tiny model trained for
# a few steps on 500 Fashion-MNIST images (IDX files cut here from Debian's
# set, so the sanitizer build stays quick): numbers come out, merge into
# metrics.json, FD of real vs. real images is far below that of samples, the
# report is one HTML file with inline SVG and PNGs; bad input gives one
# stderr line. Prints SKIP without Fashion-MNIST.
# Usage: eval.sh path/to/lapgan
set -u
. "$(dirname "$0")/lib.sh"
fm=/usr/share/datasets/fashion-mnist
if [ ! -f "$fm/train-images-idx3-ubyte.gz" ]; then skip_all eval "no Fashion-MNIST in $fm (scripts/deps.sh installs dataset-fashion-mnist)"; fi
t=$tmp

# cut FIRST COUNT NAME: images FIRST.. of the training set as NAME.img/.lab (IDX, COUNT < 65536).
cut() {
  local first=$1 n=$2 hi=$(($2 / 256)) lo=$(($2 % 256))
  { printf '\x00\x00\x08\x03\x00\x00'; printf "\\x$(printf %02x $hi)\\x$(printf %02x $lo)";
    printf '\x00\x00\x00\x1c\x00\x00\x00\x1c'
    zcat "$fm/train-images-idx3-ubyte.gz" | tail -c +$((17 + first * 784)) | head -c $((n * 784)); } >"$t/$3.img"
  { printf '\x00\x00\x08\x01\x00\x00'; printf "\\x$(printf %02x $hi)\\x$(printf %02x $lo)"
    zcat "$fm/train-labels-idx1-ubyte.gz" | tail -c +$((9 + first)) | head -c "$n"; } >"$t/$3.lab"
}
cut 0 500 a
cut 500 500 b
A="idx:$t/a.img,$t/a.lab" B="idx:$t/b.img,$t/b.lab"
run=$t/run cc=$t/cc
ev() { "$bin" eval "$@" --threads 2; }

if ! { "$bin" train --preset tiny --data "$A" --steps 12 --log-every 2 --threads 2 --out "$run" --quiet &&
       "$bin" train --preset tiny --data "$A" --class-conditional --steps 4 --threads 2 --out "$cc" --quiet &&
       "$bin" classifier train --data "$A" --test "$B" --epochs 2 --threads 2 --out "$t/clf.st"; } \
     >"$t/setup.log" 2>&1; then
  echo "FAIL eval_setup: $(tail -3 "$t/setup.log")"; exit 1
fi

check eval_help bash -c "'$bin' eval --help | grep -q '^usage: lapgan eval parzen' &&
                         '$bin' eval fd --help | grep -q -- '--real-vs-real' &&
                         '$bin' report --help | grep -q '^usage: lapgan report RUN_DIR'"

# Parzen: a finite mean, the chosen sigma from the grid, the same numbers again for the same seed.
num() { sed -n "s/^$1 \\([-0-9.e+]*\\).*/\\1/p" "$2"; }
pz="--model $run --data $A --test-data $B --samples 300 --valid 100 --test 200"
ev parzen $pz >"$t/p1" 2>&1; rc1=$?
ev parzen $pz >"$t/p2" 2>&1
m1=$(num 'test log-likelihood' "$t/p1"); m2=$(num 'test log-likelihood' "$t/p2")
if [ $rc1 -eq 0 ] && [ -n "$m1" ] && [ "$m1" = "$m2" ] && grep -q '<- chosen' "$t/p1" &&
   grep -qE 'sigma search on [0-9]+ held-out validation images' "$t/p1" && grep -q '200 images of' "$t/p1" &&
   awk -v m="$m1" 'BEGIN { exit !(m < 0 && m > -1e5) }'; then pass eval_parzen
else fail eval_parzen "rc $rc1, means '$m1' '$m2': $(head -c 300 "$t/p1")"; fi
ev parzen $pz --sigma-grid 0.25 >"$t/p3" 2>&1
if grep -q 'sigma 0.25 *mean log-likelihood.*<- chosen' "$t/p3" && grep -q 'sigma 0.25, 200' "$t/p3"; then
  pass eval_parzen_grid; else fail eval_parzen_grid "$(head -c 300 "$t/p3")"; fi
# A narrower kernel on the same samples gives different numbers (the grid is used).
m3=$(num 'test log-likelihood' "$t/p3")
ev parzen $pz --sigma-grid 0.1 >"$t/p4" 2>&1
m4=$(num 'test log-likelihood' "$t/p4")
check eval_parzen_sigma_matters awk -v a="$m3" -v b="$m4" 'BEGIN { exit !(a != "" && b != "" && a + 0 > b + 0) }'

# Nearest neighbours: one row per sample of 1 + k images (56 px each, 2 px apart).
ev nn --model "$run" --data "$A" --test-data "$B" -n 3 -k 4 -o "$t/nn.png" >"$t/nn" 2>&1
dims=$(file "$t/nn.png" 2>/dev/null | sed -n 's/.*PNG image data, \([0-9]*\) x \([0-9]*\).*/\1 \2/p')
if grep -q 'samples [0-9.]*, real test images [0-9.]* (3 of' "$t/nn" &&
   [ "$dims" = "$((5 * 58 + 2)) $((3 * 58 + 2))" ]; then
  pass eval_nn; else fail eval_nn "png '$dims': $(head -c 300 "$t/nn")"; fi

# FD: identical sets ~0, two halves of the real data far below the model's samples.
ev fd --real-vs-real --classifier "$t/clf.st" --real "$A" --data "$A" --samples 500 >"$t/f0" 2>&1
ev fd --real-vs-real --classifier "$t/clf.st" --real "$A" --data "$B" --model "$run" >"$t/f1" 2>&1
ev fd --model "$run" --classifier "$t/clf.st" --real "$A" --samples 500 >"$t/f2" 2>&1
f0=$(num 'fd:' "$t/f0"); f1=$(num 'fd:' "$t/f1"); f2=$(num 'fd:' "$t/f2")
if awk -v a="$f0" -v b="$f1" -v c="$f2" 'BEGIN { exit !(a != "" && b != "" && c != "" &&
       a < 1e-4 * c && b > a && 5 * b < c) }' && grep -q "classifier's own test accuracy 0\.[0-9]" "$t/f2"; then
  pass eval_fd_sanity; else fail eval_fd_sanity "same $f0, real-vs-real $f1, samples $f2: $(head -c 300 "$t/f2")"; fi
ev fd --model "$cc" --classifier "$t/clf.st" --real "$A" --samples 100 >"$t/f3" 2>&1
n_cls=$(sed -n 's/^classifier accuracy on samples of each class:\(.*\)(mean.*/\1/p' "$t/f3" | wc -w)
if [ "$n_cls" -eq 10 ]; then pass eval_fd_class_accuracy
else fail eval_fd_class_accuracy "$n_cls classes: $(head -c 300 "$t/f3")"; fi

# Every action merged its section into metrics.json; the report shows them.
for k in parzen nn fd fd_real_vs_real; do
  check "eval_metrics_$k" grep -q "^  \"$k\": {" "$run/metrics.json"
done
grep -q '"fd": {' "$cc/metrics.json" && grep -q '"class_accuracy"' "$cc/metrics.json" &&
  pass eval_metrics_merged || fail eval_metrics_merged "cc run: $(head -c 200 "$cc/metrics.json")"

"$bin" sample --model "$run" -n 20 --chain "$run/chain.png" >/dev/null 2>&1
if "$bin" report "$run" -o "$t/r.html" >"$t/rep" 2>&1 &&
   [ "$(grep -c '<svg' "$t/r.html")" -eq 6 ] && [ "$(grep -c '<polyline' "$t/r.html")" -eq 12 ] &&
   grep -q 'src="data:image/png;base64,iVBORw0KGgo' "$t/r.html" && grep -q '</body>' "$t/r.html" &&
   grep -q "Parzen log-likelihood <b>$(printf %.1f "$m4") &plusmn;" "$t/r.html" &&
   grep -q 'G parameters' "$t/r.html" && ! grep -q '="file:\|src="/' "$t/r.html"; then
  pass report_html; else fail report_html "$(head -c 300 "$t/rep")"; fi
"$bin" report "$run" >/dev/null 2>&1 && [ -s "$run/report.html" ] && pass report_default_path ||
  fail report_default_path "no $run/report.html"

# Bad input: exit code, one stderr line.
printf '[1, 2]' >"$t/bad.json"
mkdir -p "$t/badrun" && cp "$run"/level_*.safetensors "$t/badrun/" && cp "$t/bad.json" "$t/badrun/metrics.json"
expect_fail eval_no_action 2 '^lapgan eval: expected' "$bin" eval
expect_fail eval_bad_action 2 "unknown action 'frob'" "$bin" eval frob --model "$run"
expect_fail eval_unknown_option 2 "unknown option '--frob'" "$bin" eval parzen --model "$run" --frob
expect_fail eval_wrong_action_option 2 'not an option of .eval nn' "$bin" eval nn --model "$run" --real x
expect_fail eval_no_model 2 'model RUN_DIR is required' "$bin" eval parzen
expect_fail eval_no_classifier 2 'classifier FILE is required' "$bin" eval fd --model "$run"
expect_fail eval_bad_grid 2 'sigma-grid' "$bin" eval parzen --model "$run" --sigma-grid 0.1,x
expect_fail eval_bad_samples 2 'samples' "$bin" eval parzen --model "$run" --samples 1
expect_fail eval_missing_model 1 "$t/none" "$bin" eval parzen --model "$t/none" --data "$A" --test-data "$B"
expect_fail eval_valid_too_big 2 'valid 600' "$bin" eval parzen --model "$run" --data "$A" --test-data "$B" --valid 600
expect_fail eval_no_test_split 2 'no test split' "$bin" eval parzen --model "$run" --data "$A"
expect_fail eval_missing_classifier 1 "$t/none.st" "$bin" eval fd --model "$run" --classifier "$t/none.st" --real "$A"
expect_fail eval_bad_metrics 1 'metrics.json: not a JSON object' "$bin" eval nn --model "$t/badrun" --data "$A" -n 2 -k 1 -o "$t/x.png"
check eval_bad_metrics_kept cmp -s "$t/bad.json" "$t/badrun/metrics.json"
expect_fail report_no_dir 2 'no RUN_DIR' "$bin" report
expect_fail report_missing 1 'no level_<k>.safetensors' "$bin" report "$t/none"
expect_fail report_bad_metrics 1 'metrics.json: not a JSON object' "$bin" report "$t/badrun"
finish
