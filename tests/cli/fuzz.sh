#!/usr/bin/env bash
# Builds the libFuzzer harnesses (make fuzz, clang) and runs each for
# FUZZ_SECONDS (default 20) from its committed seeds: one PASS/FAIL line per
# harness. SKIPs where clang or libFuzzer is missing, and in the sanitizer
# build dir (the harnesses carry their own sanitizers; one run is enough).
# Usage: fuzz.sh path/to/lapgan
set -u
bin=${1:?usage: fuzz.sh LAPGAN}
cd "$(dirname "$0")/../.."
case "$(dirname "$bin")" in
  *san) echo "SKIP fuzz: runs once, with the normal build"; exit 0 ;;
esac
cc=${FUZZ_CC:-clang}
probe=$(mktemp -d /tmp/lapgan-fuzzprobe.XXXXXX)
trap 'rm -rf "$probe"' EXIT
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$probe/p.c"
if ! command -v "$cc" >/dev/null 2>&1 ||
   ! "$cc" -fsanitize=fuzzer,address,undefined -fopenmp "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
  echo "SKIP fuzz: $cc with libFuzzer and OpenMP unavailable (scripts/deps.sh test installs them)"
  exit 0
fi
if ! make --no-print-directory -j"$(nproc)" fuzz FUZZ_CC="$cc" >"$probe/build.log" 2>&1; then
  echo "FAIL fuzz_build"; tail -20 "$probe/build.log"; exit 1
fi
exec fuzz/run.sh build-fuzz "${FUZZ_SECONDS:-20}"
