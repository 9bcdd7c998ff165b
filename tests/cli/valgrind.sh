#!/usr/bin/env bash
# A short train + sample under valgrind memcheck: any invalid read/write,
# use of uninitialised memory or definite/indirect leak fails. "Possibly
# lost" and "still reachable" (OpenMP's and oneDNN's pools) are not counted.
# valgrind cannot run AVX-512 code, so this builds the CLI once more without
# -march=native, in <build dir>-valgrind. Runs once, with the normal build:
# in the sanitizer build dir (ASan and valgrind exclude each other) it
# prints a comment, no test line. Without valgrind or Fashion-MNIST it
# skips, a FAIL under CI=true. Usage: valgrind.sh LAPGAN
set -u
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.."
dir=$(dirname "$bin")
if grep -qa __asan_init "$bin"; then
  echo "# valgrind: not with AddressSanitizer; runs with the normal build"; exit 0
fi
command -v valgrind >/dev/null || skip_all valgrind "valgrind not installed (scripts/deps.sh test)"
if [ ! -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
  skip_all valgrind "Fashion-MNIST absent (scripts/deps.sh installs dataset-fashion-mnist)"
fi
vg=${dir%/}-valgrind
if ! make --no-print-directory -j"$(nproc)" BUILD="$vg" OPT="-O1 -g" cli >"$tmp/build.log" 2>&1; then
  fail valgrind_build "$(tail -20 "$tmp/build.log")"; finish; exit
fi
vg_check() { # NAME ARGS...: lapgan under memcheck
  local name=$1; shift
  valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --track-origins=yes \
    --suppressions=tests/valgrind.supp --log-file="$tmp/$name.vg" "$vg/lapgan" "$@" \
    >/dev/null 2>"$tmp/$name.err"
  local rc=$?
  if [ $rc -eq 0 ]; then echo "PASS valgrind_$name"
  else
    echo "FAIL valgrind_$name (exit $rc)"
    head -40 "$tmp/$name.vg"; tail -3 "$tmp/$name.err"
    fails=$((fails + 1))
  fi
}
vg_check train train --preset tiny --data fashion-test --steps 3 --batch 4 --threads 2 --ckpt-every 2 \
  --sample-every 2 --quiet --out "$tmp/run"
vg_check sample sample --model "$tmp/run" -n 4 --threads 2 -o "$tmp/s.png" --chain "$tmp/c.png"
vg_check info info "$tmp/run"
exit $((fails > 0))
