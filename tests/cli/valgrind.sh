#!/usr/bin/env bash
# A short train + sample under valgrind memcheck: any invalid read/write,
# use of uninitialised memory or definite/indirect leak fails. "Possibly
# lost" and "still reachable" (OpenMP's and oneDNN's pools) are not counted.
# valgrind cannot run AVX-512 code, so this builds the CLI once more without
# -march=native, in <build dir>-valgrind. Skipped in the sanitizer build
# (ASan and valgrind exclude each other) and where valgrind is missing.
# Usage: valgrind.sh LAPGAN
set -u
bin=${1:?usage: valgrind.sh LAPGAN}
cd "$(dirname "$0")/../.."
dir=$(dirname "$bin")
case "$dir" in
  *san) echo "SKIP valgrind: not with AddressSanitizer"; exit 0 ;;
esac
command -v valgrind >/dev/null || { echo "SKIP valgrind: not installed (scripts/deps.sh test)"; exit 0; }
if [ ! -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
  echo "SKIP valgrind: Fashion-MNIST absent"; exit 0
fi
vg=${dir%/}-valgrind
tmp=$(mktemp -d /tmp/lapgan-cli-valgrind.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if ! make --no-print-directory -j"$(nproc)" BUILD="$vg" OPT="-O1 -g" cli >"$tmp/build.log" 2>&1; then
  echo "FAIL valgrind_build"; tail -20 "$tmp/build.log"; exit 1
fi
fails=0
check() { # NAME ARGS...: lapgan under memcheck
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
check train train --preset tiny --data fashion-test --steps 3 --batch 4 --threads 2 --ckpt-every 2 \
  --sample-every 2 --quiet --out "$tmp/run"
check sample sample --model "$tmp/run" -n 4 --threads 2 -o "$tmp/s.png" --chain "$tmp/c.png"
check info info "$tmp/run"
exit $((fails > 0))
