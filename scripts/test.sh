#!/usr/bin/env bash
# Installs what is missing (Debian packages, the FID Inception weights),
# builds the normal and the AddressSanitizer+UBSan builds (and the MPI CLI
# that tests/cli/mpi.sh drives), and runs every test in both. Under CI=true a
# check that cannot run because something here failed to provide what it
# needs is a FAIL, not a SKIP (tests/run.sh, tests/test.h, tests/cli/lib.sh).
# Usage: scripts/test.sh        (make test runs the same)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
# A failure here is not fatal: the checks that need the weights say so.
if [ -f scripts/setup-inception.sh ]; then
  timeout 1200 bash scripts/setup-inception.sh || echo "test.sh: scripts/setup-inception.sh failed" >&2
fi
jobs=$(nproc)
make -j"$jobs" all
make -j"$jobs" SAN=1 all
make -j"$jobs" MPI=1 cli   # build-mpi/lapgan, for tests/cli/mpi.sh
exec tests/run.sh build build-san
