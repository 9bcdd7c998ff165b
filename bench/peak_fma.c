/* The machine's fp32 FMA peak, so convolution GFLOP/s can be read as a
 * fraction of it. Each thread runs independent chains of vector FMAs (more
 * chains than FMA latency x ports, so the pipes never wait) on registers
 * only; 1 FMA = 2 flops. Reports AVX-512 and AVX2 rates, 1 and N threads.
 *
 *   build-x/bench/peak_fma [threads] [log2 iterations]   (default: all cores, 24;
 *                                                        small values for smoke tests) */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "lapgan/core.h"

enum { CHAINS = 16 };
static long n_iters = 1L << 24;

__attribute__((target("avx512f"))) static float run_avx512(long iters) {
    __m512 acc[CHAINS];
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    for (int i = 1; i < CHAINS; i++) acc[0] = _mm512_add_ps(acc[0], acc[i]);
    return _mm512_reduce_add_ps(acc[0]);
}

__attribute__((target("avx2,fma"))) static float run_avx2(long iters) {
    __m256 acc[CHAINS];
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_set1_ps((float)i);
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    float out[8];
    for (int i = 1; i < CHAINS; i++) acc[0] = _mm256_add_ps(acc[0], acc[i]);
    _mm256_storeu_ps(out, acc[0]);
    return out[0] + out[7];
}

/* GFLOP/s of `threads` threads each running kernel(n_iters), best of 5: the
 * machine may be shared, and the best run is the one nobody disturbed. */
static double measure(float (*kernel)(long), int lanes, int threads) {
    double best = 0;
    volatile float sink = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = lg_time_s();
        float s = 0;
#pragma omp parallel num_threads(threads) reduction(+ : s)
        s += kernel(n_iters);
        double dt = lg_time_s() - t0;
        sink += s;
        double gf = 2.0 * lanes * CHAINS * (double)n_iters * threads / dt * 1e-9;
        if (gf > best) best = gf;
    }
    (void)sink;
    return best;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : omp_get_num_procs();
    if (n < 1) n = 1;
    int lg = argc > 2 ? atoi(argv[2]) : 24;
    if (lg >= 1 && lg <= 30) n_iters = 1L << lg;
    printf("fp32 FMA peak, GFLOP/s (1 FMA = 2 flops), best of 5\n");
    if (__builtin_cpu_supports("avx512f"))
        printf("avx512  1 thread: %7.1f   %d threads: %7.1f\n", measure(run_avx512, 16, 1), n,
               measure(run_avx512, 16, n));
    else
        printf("avx512  not supported by this CPU\n");
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        printf("avx2    1 thread: %7.1f   %d threads: %7.1f\n", measure(run_avx2, 8, 1), n,
               measure(run_avx2, 8, n));
    return 0;
}
