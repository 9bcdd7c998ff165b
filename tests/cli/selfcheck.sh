#!/usr/bin/env bash
# `lapgan selfcheck` checks the path training runs: its 32-channel 5x5
# convolutions go through Winograd F(4x4,5x5) (forward and backward-data) on
# the cpu backend and are compared with the reference backend; with
# LG_CONV_ALGO forcing another path it says which one it checked.
# Usage: selfcheck.sh LAPGAN
set -u
source "$(dirname "$0")/lib.sh"

# selfcheck_says NAME PATTERN [ENV=VALUE]: exit 0, one stdout line matching PATTERN.
selfcheck_says() {
  local name=$1 pat=$2; shift 2
  env "$@" "$bin" selfcheck >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [ $rc -eq 0 ] && [ "$(wc -l <"$tmp/out")" -eq 1 ] && grep -qE -- "$pat" "$tmp/out"; then pass "$name"
  else fail "$name" "exit $rc: $(head -c 300 "$tmp/out") $(head -c 300 "$tmp/err")"; fi
}
# Backward-weights is Winograd's where the build has the AVX-512 kernel
# (not in the sanitizer build, compiled without -march).
selfcheck_says selfcheck_default_winograd \
  '^selfcheck: ok \(cpu backend agrees with reference: Winograd F\(4x4,5x5\) forward \+ backward-data( \+ backward-weights)? and oneDNN'
selfcheck_says selfcheck_winograd2 'Winograd F\(2x2,5x5\) forward \+ backward-data(, F\(4x4,5x5\) backward-weights)? and' LG_CONV_ALGO=winograd2
selfcheck_says selfcheck_dnnl_named 'oneDNN convolutions only \(LG_CONV_ALGO=dnnl\)' LG_CONV_ALGO=dnnl
selfcheck_says selfcheck_one_thread '; 1 threads;' OMP_NUM_THREADS=1

# Settings the libraries read while they load reach them: the CLI starts
# itself again with them (glibc drops a setenv made before the libraries'
# initialisers). The line reads the wait policy from /proc/self/environ,
# the environment the process started with, so a lost setting shows. A
# CPU with AVX2 and FMA gets AVX2 or AVX-512 GEMM kernels even where
# OpenBLAS's table does not know the model (it gave a Xeon of family 6
# model 207 generic SSE3 "Prescott" kernels).
selfcheck_says selfcheck_wait_policy_passive 'OpenMP wait policy passive\)$' -u OMP_WAIT_POLICY
selfcheck_says selfcheck_wait_policy_users 'OpenMP wait policy active\)$' OMP_WAIT_POLICY=active
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
  selfcheck_says selfcheck_blas_avx2_kernels 'OpenBLAS (SkylakeX|Cooperlake|SapphireRapids|Haswell|Zen);' -u OPENBLAS_CORETYPE
fi
selfcheck_says selfcheck_blas_users_core 'OpenBLAS Haswell;' OPENBLAS_CORETYPE=Haswell
expect_fail selfcheck_extra_arg 2 "unexpected argument 'x'" "$bin" selfcheck x
finish
