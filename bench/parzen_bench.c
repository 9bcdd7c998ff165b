/* Parzen-window cost at CIFAR size: 10,000 samples, 10,000 test images of
 * 3072 dims (plus the 10-value sigma search on 1,000 validation images), and
 * how far the SGEMM path is from a direct double sum on a few rows.
 * usage: parzen_bench [threads] [n] [m] [d]   (defaults 2 10000 10000 3072)
 * Ends with the machine-readable lines "parzen_sigma_s v" and "parzen_ll_s v"
 * (bench/run.sh; bench/ref/lapgan_ref.py --parzen prints the same). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "lapgan.h"

static double direct(const float *s, int n, const float *x, int d, double sigma) {
    double mx = -INFINITY, acc = 0;
    double *e = malloc((size_t)n * sizeof(double));
    for (int i = 0; i < n; i++) {
        double q = 0;
        for (int k = 0; k < d; k++) {
            double v = (double)x[k] - s[(size_t)i * d + k];
            q += v * v;
        }
        e[i] = -q / (2 * sigma * sigma);
        mx = e[i] > mx ? e[i] : mx;
    }
    for (int i = 0; i < n; i++) acc += exp(e[i] - mx);
    free(e);
    return mx + log(acc) - log((double)n) - 0.5 * d * log(2 * M_PI * sigma * sigma);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    int n = argc > 2 ? atoi(argv[2]) : 10000, m = argc > 3 ? atoi(argv[3]) : 10000;
    int d = argc > 4 ? atoi(argv[4]) : 3072, mv = m < 1000 ? m : 1000;
    lg_set_threads(threads);
    /* Pixel-like data: correlated around a per-set mean, values near [-1, 1]. */
    float *s = lg_alloc_floats((size_t)n * d), *t = lg_alloc_floats((size_t)m * d);
    double *ll = malloc((size_t)m * sizeof(double)), means[LG_PARZEN_GRID_DEFAULT], sigma;
    if (!s || !t || !ll) return fprintf(stderr, "parzen_bench: out of memory\n"), 1;
    lg_rng r;
    lg_rng_init(&r, 1, 0);
    lg_rng_uniform(&r, s, (size_t)n * d, -1, 1);
    lg_rng_uniform(&r, t, (size_t)m * d, -1, 1);
    for (size_t i = 0; i < (size_t)m * d; i++) t[i] = 0.5f * t[i] + 0.5f * s[i % ((size_t)n * d)];

    double t0 = lg_time_s();
    if (lg_parzen_select_sigma(s, n, t, mv, d, NULL, 0, &sigma, means) != LG_OK)
        return fprintf(stderr, "parzen_bench: %s\n", lg_errmsg()), 1;
    double t1 = lg_time_s();
    if (lg_parzen_ll(s, n, t, m, d, sigma, ll) != LG_OK)
        return fprintf(stderr, "parzen_bench: %s\n", lg_errmsg()), 1;
    double t2 = lg_time_s();
    lg_ll_summary sum;
    lg_ll_summarize(ll, m, &sum);
    double worst = 0;
    for (int i = 0; i < m; i += m / 4 > 0 ? m / 4 : 1)
        worst = fmax(worst, fabs(ll[i] - direct(s, n, t + (size_t)i * d, d, sigma)));
    printf("parzen_bench: threads %d, %d samples x %d dims\n", threads, n, d);
    printf("  sigma search (%d grid values, %d validation rows): %.2f s -> sigma %.4f\n",
           LG_PARZEN_GRID_DEFAULT, mv, t1 - t0, sigma);
    printf("  log-likelihood of %d test rows: %.2f s (%.0f GFLOP/s in the distance GEMM)\n", m,
           t2 - t1, 2.0 * n * (double)m * d / (t2 - t1) * 1e-9);
    printf("  mean %.2f  std %.2f  sem %.2f nats; max |sgemm - direct double| = %.2e nats\n",
           sum.mean, sum.std, sum.sem, worst);
    printf("parzen_sigma_s %.4f\nparzen_ll_s %.4f\n", t1 - t0, t2 - t1);
    lg_free(s), lg_free(t), free(ll);
    return 0;
}
