#!/usr/bin/env bash
# Installs what is missing (Debian packages), builds the normal and the
# AddressSanitizer+UBSan builds (and the MPI CLI that tests/cli/mpi.sh
# drives), and runs every test in both.
# Usage: scripts/test.sh        (make test runs the same)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
jobs=$(nproc)
make -j"$jobs" all
make -j"$jobs" SAN=1 all
make -j"$jobs" MPI=1 cli   # build-mpi/lapgan, for tests/cli/mpi.sh
exec tests/run.sh build build-san
