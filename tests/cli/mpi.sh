#!/usr/bin/env bash
# `mpirun -np N lapgan train` (the MPI build, make MPI=1) gives the weights
# one process gives: bit for bit when each level has one rank (N <= levels),
# within float tolerance when ranks split a level's batch (summation order).
# A run stopped with N ranks resumes with another N. The MPI binary:
# $LG_MPI_BIN, else <build dir>-mpi/lapgan next to $1, else $1 itself when it
# is an MPI build.
set -u
source "$(dirname "$0")/lib.sh"
mpi=${LG_MPI_BIN:-$(dirname "$bin")-mpi/lapgan}
[ -x "$mpi" ] || mpi=$bin
# Runs once, with the normal build's MPI binary (scripts/test.sh makes
# build-mpi); for the sanitizer build a comment, no test line. What is
# missing otherwise is the set-up's: a skip, a FAIL under CI=true.
if grep -qa __asan_init "$bin" && [ -z "${LG_MPI_BIN:-}" ]; then
  echo "# mpi: runs once, with the normal build's MPI binary"; exit 0
fi
command -v mpirun >/dev/null || skip_all mpi "no mpirun (scripts/deps.sh test installs openmpi-bin)"
grep -q "MPI_Init" "$mpi" 2>/dev/null ||
  skip_all mpi "no MPI build: neither ${LG_MPI_BIN:-$(dirname "$bin")-mpi/lapgan} nor $bin (scripts/test.sh builds it: make MPI=1 cli)"
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  skip_all mpi "Fashion-MNIST absent (scripts/deps.sh installs dataset-fashion-mnist)"
fi
run() { # NP OUT ARGS...: NP 0 is one process without mpirun
  local np=$1 out=$2; shift 2
  local cmd=("$mpi" train --preset tiny --batch 8 --threads 1 --seed 3 --quiet --out "$tmp/$out" "$@")
  if [ "$np" -eq 0 ]; then "${cmd[@]}"
  else mpirun --allow-run-as-root --oversubscribe -np "$np" "${cmd[@]}"; fi
}
same() { # NAME A B TOL
  if "$bin" diff "$tmp/$2" "$tmp/$3" --tol "$4" >"$tmp/diff" 2>&1; then pass "$1"
  else fail "$1" "$(tr '\n' ' ' <"$tmp/diff")"; fi
}
run 0 one --steps 6 --ckpt-every 3 || { fail setup "single-process run failed"; exit 1; }
run 0 one0 --steps 6 --levels 0 || { fail setup "single-process run failed"; exit 1; }
run 0 other --steps 6 --seed 4 || { fail setup "single-process run failed"; exit 1; }
# The comparison can fail: another seed differs.
if "$bin" diff "$tmp/one" "$tmp/other" --tol 1e-5 >/dev/null; then fail diff_sees_difference
else pass diff_sees_difference; fi

check np2_round_robin run 2 np2 --steps 6 --ckpt-every 3
same np2_bit_identical one np2 0
check np3_level_each run 3 np3 --steps 6
same np3_bit_identical one np3 0
check np2_data_parallel run 2 dp2 --steps 6 --levels 0
same np2_data_parallel_close one0 dp2 1e-5
check np4_shared_level run 4 np4 --steps 6
same np4_close one np4 1e-5
# Stopped after 3 steps with 2 ranks, resumed with 3 and with 4 (level 0 shared).
run 2 r3 --steps 3 --ckpt-every 3 && run 3 r3 --steps 6 --resume
same resume_np2_to_np3 one r3 0
run 2 r4 --steps 3 && run 4 r4 --steps 6 --resume
same resume_np2_to_np4 one r4 1e-5
# Rank 0 prints every level's lines, once each.
mpirun --allow-run-as-root --oversubscribe -np 3 "$mpi" train --preset tiny --batch 8 --threads 1 \
  --steps 2 --log-every 1 --out "$tmp/log" 2>"$tmp/err" >/dev/null
n=$(grep -c '^level [0-2]  step' "$tmp/err")
if [ "$n" -eq 6 ] && grep -q '^3 processes (mpi): ' "$tmp/err" && [ "$(grep -c '^done:' "$tmp/err")" -eq 1 ]; then
  pass one_stream
else fail one_stream "$n progress lines: $(head -c 400 "$tmp/err")"; fi
# More ranks than the batch can feed: one clear line, non-zero exit.
if run 7 big --steps 1 --batch 4 2>"$tmp/err"; then fail too_many_ranks "exit 0"
elif grep -q "rank .*: 7 processes are more than 3 levels with a batch of 4" "$tmp/err"; then pass too_many_ranks
else fail too_many_ranks "$(head -c 300 "$tmp/err")"; fi
finish
