#!/usr/bin/env bash
# scripts/reproduce-cifar10.sh QUICK=1 end to end, so the pipeline cannot rot:
# every model trains, evaluates and lands in the results page. Data: the
# first records of the shared CIFAR-10 (../shared/data/cifar10/jpeg) when
# present, else a small synthetic set in the CIFAR-10 binary format written
# here; either way 600 training and 200 test images, to stay inside minutes.
# Usage: reproduce_cifar10.sh LAPGAN
set -u
source "$(dirname "$0")/lib.sh"
# Once, with the normal build (as fuzz.sh): the library code it drives has its
# own sanitizer-build tests, and the pipeline would take far longer under ASan.
if grep -qa __asan_init "$bin"; then echo "# reproduce_cifar10: runs once, with the normal build"; exit 0; fi
command -v python3 >/dev/null || skip_all reproduce_cifar10 "python3 absent (scripts/deps.sh test installs it)"
root=$(cd "$(dirname "$0")/../.." && pwd)
shared=${LG_SHARED_DIR:-$root/../shared}/data/cifar10/jpeg
data="$tmp/cifar"
mkdir -p "$data"
if [ -f "$shared/data_batch_1.bin" ] && [ -f "$shared/test_batch.bin" ]; then
  head -c $((600 * 3073)) "$shared/data_batch_1.bin" >"$data/data_batch_1.bin"
  head -c $((200 * 3073)) "$shared/test_batch.bin" >"$data/test_batch.bin"
  cp "$shared/batches.meta.txt" "$data/" 2>/dev/null
  what="the shared CIFAR-10's first records"
else
  python3 - "$data" <<'EOF'
import os, random, sys
# Ten classes of smooth colour blobs: label l tints the image, so a classifier can learn them.
r = random.Random(1)
def batch(path, n):
    out = bytearray()
    for i in range(n):
        l = i % 10
        out.append(l)
        for ch in range(3):
            base = (l * 25 + ch * 80) % 256
            for y in range(32):
                for x in range(32):
                    out.append((base + 3 * x + 2 * y + r.randrange(16)) % 256)
    open(path, "wb").write(bytes(out))
batch(os.path.join(sys.argv[1], "data_batch_1.bin"), 600)
batch(os.path.join(sys.argv[1], "test_batch.bin"), 200)
EOF
  what="a synthetic CIFAR-format set"
fi
t0=$(date +%s)
QUICK=1 SEED=2 THREADS=2 LAPGAN="$bin" OUT="$tmp/run" DOCS="$tmp/docs" \
  PARZEN_SAMPLES=100 PARZEN_TEST=100 PARZEN_VALID=50 FD_SAMPLES=100 \
  "$root/scripts/reproduce-cifar10.sh" "$data" 1 >"$tmp/out" 2>&1
rc=$?
secs=$(( $(date +%s) - t0 ))
if [ "$rc" -eq 0 ]; then pass "quick_run ($what, $secs s)"
else fail quick_run "exit $rc: $(tail -c 600 "$tmp/out")"; finish; exit; fi
[ "$secs" -lt 600 ] && pass quick_under_10_min || fail quick_under_10_min "$secs s"

# Every model's outputs exist and parse.
ok=1
for m in gan lapgan cclapgan; do
  for f in "$tmp/run/$m/metrics.json" "$tmp/run/$m/best/level_0.safetensors" "$tmp/run/$m/report.html" \
           "$tmp/docs/results-cifar10/$m-samples.png"; do
    [ -s "$f" ] || { ok=0; echo "  missing $f" >&2; }
  done
done
for m in lapgan cclapgan; do
  for f in chain variants; do [ -s "$tmp/docs/results-cifar10/$m-$f.png" ] || { ok=0; echo "  missing $m-$f.png" >&2; }; done
done
[ "$ok" = 1 ] && pass quick_outputs_exist || fail quick_outputs_exist
if python3 - "$tmp/run" <<'EOF'
import json, math, struct, sys
run = sys.argv[1]
for m in ["gan", "lapgan", "cclapgan"]:
    j = json.load(open("%s/%s/metrics.json" % (run, m)))
    for k in ["parzen_best", "parzen_signed_best", "parzen_zscore_best"]:
        assert math.isfinite(j[k]["mean"]) and j[k]["valid_held_out"] is True, (m, k)
    assert math.isfinite(j["fd_best"]["fd"]), m
    png = open("%s/../docs/results-cifar10/%s-samples.png" % (run, m), "rb").read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n", m
acc = json.load(open(run + "/cclapgan/metrics.json"))["fd_best"]["class_accuracy"]
assert len(acc) == 10 and all(0 <= a <= 1 for a in acc)
EOF
then pass quick_metrics_parse; else fail quick_metrics_parse; fi
page="$tmp/docs/results-cifar10.md"
if grep -q "QUICK=1 run" "$page" && grep -q "^| LAPGAN | best | " "$page" && grep -q "As measured:" "$page" &&
   grep -q "CC-LAPGAN: the share of samples" "$page"; then pass quick_results_page
else fail quick_results_page "$(head -c 400 "$page" 2>&1)"; fi
expect_fail bad_budget 2 "BUDGET_MINUTES must be a number" "$root/scripts/reproduce-cifar10.sh" "$data" soon
expect_fail bad_data_dir 1 "no test_batch.bin" "$root/scripts/reproduce-cifar10.sh" "$tmp/nowhere" 1
finish
