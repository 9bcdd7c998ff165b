#!/usr/bin/env bash
# lapgan eval fid / kid / prc on the FID Inception: agreement with the
# TorchScript run in PyTorch (tests/fixtures/inception_metrics.json, made by
# tools/make_inception_fixtures.py on the same first 200 + 200 Fashion-MNIST
# test + training images, 500 + 500 with FULL=1: FID and KID to 1e-3
# relative, precision and recall to 2 images in N),
# pytorch-fid .npz statistics both ways, a run directory's samples merged into
# metrics.json and shown by lapgan report, and bad inputs (truncated or
# foreign weights, stats of the wrong shape, an empty folder): one line naming
# the file, exit 1.
#
# Needs the weights in $LAPGAN_CACHE (scripts/setup-inception.sh, which
# scripts/test.sh runs; this script runs it too when they are missing). Under
# CI=true their absence is a FAIL. Cost: the agreement check is 400 images
# through Inception (~5.7 GFLOP each; about 2.5 images/s on the 2-core
# development machine, so ~3 min; FULL=1: 1000 images, ~7 min); the sanitizer
# build checks 16 + 16 images instead (sanity, not agreement).
# Usage: fid.sh path/to/lapgan
set -u
. "$(dirname "$0")/lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${LAPGAN_CACHE:-$HOME/.cache/lapgan}
w=$cache/inception-2015-12-05.safetensors
fm=/usr/share/datasets/fashion-mnist
[ -f "$fm/t10k-images-idx3-ubyte.gz" ] || skip_all fid "no Fashion-MNIST in $fm (scripts/deps.sh installs dataset-fashion-mnist)"
if [ ! -f "$w" ]; then
  timeout 1200 bash "$root/scripts/setup-inception.sh" >"$tmp/setup.log" 2>&1 ||
    skip_all fid "no FID Inception weights and scripts/setup-inception.sh failed: $(tail -c 200 "$tmp/setup.log")"
fi
ev() { "$bin" eval "$@" --threads 2; }
py=/usr/bin/python3; [ -x "$py" ] || py=python3

# ---- bad inputs --------------------------------------------------------------
head -c 1000000 "$w" >"$tmp/trunc.safetensors"
expect_fail fid_truncated_weights 1 "trunc.safetensors.*sha256" \
  ev fid fashion-test fashion --limit 4 --weights "$tmp/trunc.safetensors"
expect_fail fid_foreign_weights 1 "inception_features.safetensors.*sha256" \
  ev fid fashion-test fashion --limit 4 --weights "$root/tests/fixtures/inception_features.safetensors"
mkdir -p "$tmp/empty"
expect_fail fid_empty_folder 1 "$tmp/empty" ev fid "folder:$tmp/empty" fashion --limit 4
expect_fail is_without_logits 1 "1008-way" ev is fashion-test fashion
expect_fail fid_usage_one_source 2 "two image sources" ev fid fashion-test
expect_fail fid_usage_resize 2 "unknown mode" ev fid fashion-test fashion --resize bilinear
if "$py" -c 'import numpy' 2>/dev/null; then
  "$py" -c "import numpy as np; np.savez_compressed('$tmp/short.npz', mu=np.zeros(10), sigma=np.eye(10))"
  expect_fail fid_stats_wrong_shape 1 "short.npz.*shape" ev fid "$tmp/short.npz" "$tmp/short.npz"
else
  skip_or_fail fid_stats_wrong_shape "no numpy for $py (scripts/deps.sh test installs python3-numpy)"
fi

# ---- agreement with PyTorch ----------------------------------------------------
case "$bin" in
  *san*) n=16 ;;                  # sanitizer build: sanity only
  *) n=200; [ "${FULL:-}" = 1 ] && n=500 ;;
esac
ev fid fashion-test fashion --limit $n --with kid,prc >"$tmp/m.out" 2>"$tmp/m.err"; rc=$?
if [ $rc -ne 0 ]; then
  fail fid_metrics "exit $rc: $(tail -c 300 "$tmp/m.err")"
elif [ $n -ne 16 ]; then
  "$py" - "$tmp/m.out" "$root/tests/fixtures/inception_metrics.json" "fashion$n" >"$tmp/cmp" 2>&1 <<'EOF'
import json, re, sys
out, ref = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))[sys.argv[3]]
n = ref['n1']
got = {'fid': float(re.search(r'^FID (\S+)', out, re.M).group(1)),
       'kid': float(re.search(r'^KID (\S+)', out, re.M).group(1)),
       'precision': float(re.search(r'^precision (\S+)', out, re.M).group(1)),
       'recall': float(re.search(r'recall (\S+)', out, re.M).group(1))}
bad = []
for k, tol in (('fid', 1e-3), ('kid', 1e-3)):
    if not abs(got[k] - ref[k]) <= tol * abs(ref[k]):
        bad.append(f'{k} {got[k]} vs torch {ref[k]} (rel {abs(got[k] - ref[k]) / abs(ref[k]):.2g})')
for k in ('precision', 'recall'):
    if not abs(got[k] - ref[k]) <= 2 / n + 1e-9:
        bad.append(f'{k} {got[k]} vs torch {ref[k]}')
print('; '.join(bad) or ' '.join(f'{k} {got[k]} (torch {ref[k]:.6g})' for k in got))
sys.exit(1 if bad else 0)
EOF
  if [ $? -eq 0 ]; then pass "fid_kid_prc_agree_torch_$n: $(cat "$tmp/cmp")"; else fail fid_kid_prc_agree_torch "$(cat "$tmp/cmp")"; fi
else
  if grep -qE '^FID [0-9.]+' "$tmp/m.out" && grep -qE '^KID ' "$tmp/m.out" && grep -q 'rank-deficient' "$tmp/m.err"; then
    pass fid_metrics_small
  else fail fid_metrics_small "$(tail -c 300 "$tmp/m.out")"; fi
fi

# ---- .npz both ways --------------------------------------------------------------
ev fid fashion-test --limit 8 --save-stats "$tmp/a.npz" >/dev/null 2>&1
if "$py" -c 'import numpy' 2>/dev/null && [ -f "$tmp/a.npz" ]; then
  "$py" -c "
import numpy as np
d = np.load('$tmp/a.npz'); assert d['mu'].shape == (2048,) and d['sigma'].shape == (2048, 2048)
assert abs(d['sigma'] - d['sigma'].T).max() == 0
np.savez_compressed('$tmp/np.npz', mu=d['mu'], sigma=d['sigma'])" 2>"$tmp/np.err" &&
    ev fid "$tmp/np.npz" "$tmp/a.npz" >"$tmp/np.out" 2>&1 && grep -qE '^FID 0\.0000 ' "$tmp/np.out"
  if [ $? -eq 0 ]; then pass fid_npz_numpy_both_ways; else fail fid_npz_numpy_both_ways "$(cat "$tmp/np.err" "$tmp/np.out" | tail -c 300)"; fi
else
  fail fid_npz_numpy_both_ways "no $tmp/a.npz or no numpy"
fi

# ---- a run directory ----------------------------------------------------------------
run=$tmp/run
if "$bin" train --preset tiny --steps 4 --threads 2 --out "$run" --quiet >/dev/null 2>&1; then
  ev fid "$run" fashion-test --samples 10 --limit 10 --with kid >"$tmp/r.out" 2>&1
  "$bin" report "$run" >/dev/null 2>&1
  if grep -q '"fid"' "$run/metrics.json" 2>/dev/null && grep -q '"kid"' "$run/metrics.json" &&
     grep -q 'nv_bilinear_float' "$run/metrics.json" && grep -qi 'Inception' "$run/report.html" 2>/dev/null; then
    pass fid_run_dir_metrics_report
  else
    fail fid_run_dir_metrics_report "$(tail -c 300 "$tmp/r.out")"
  fi
else
  fail fid_run_dir_metrics_report "lapgan train --preset tiny failed"
fi
finish
