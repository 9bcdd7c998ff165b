#!/usr/bin/env bash
# Builds the libFuzzer harnesses (make fuzz, clang) and runs each for
# FUZZ_SECONDS (default 20) from its committed seeds: one PASS/FAIL line per
# harness. Runs once, with the normal build: in a sanitizer build dir it
# prints a comment, no test line (the harnesses carry their own sanitizers).
# Without clang/libFuzzer it skips, a FAIL under CI=true (scripts/deps.sh
# test installs them). Usage: fuzz.sh path/to/lapgan
set -u
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.."
if grep -qa __asan_init "$bin"; then echo "# fuzz: runs once, with the normal build"; exit 0; fi
cc=${FUZZ_CC:-clang}
probe=$tmp
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$probe/p.c"
if ! command -v "$cc" >/dev/null 2>&1 ||
   ! "$cc" -fsanitize=fuzzer,address,undefined -fopenmp "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
  skip_all fuzz "$cc with libFuzzer and OpenMP unavailable (scripts/deps.sh test installs clang, libclang-rt-14-dev, libomp-14-dev)"
fi
if ! make --no-print-directory -j"$(nproc)" fuzz FUZZ_CC="$cc" >"$probe/build.log" 2>&1; then
  fail fuzz_build "$(tail -20 "$probe/build.log")"; finish; exit
fi
fuzz/run.sh build-fuzz "${FUZZ_SECONDS:-20}"
