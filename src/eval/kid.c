/* Kernel Inception Distance and improved precision/recall on feature rows.
 *
 * KID is the unbiased MMD^2 estimate with the cubic polynomial kernel
 * k(x, y) = (x.y / d + 1)^3 (Binkowski et al. 2018), as clean-fid and
 * torch-fidelity compute it: nsub subsets of `subset` rows of each set,
 * drawn without replacement, and per subset
 *   (sum K_xx - tr K_xx + sum K_yy - tr K_yy) / (m (m - 1)) - 2 sum K_xy / m^2.
 * The Gram matrices come from SGEMM in float; the kernel and the sums are
 * taken in double. With subset >= both set sizes there is one subset of all
 * rows and no randomness (what the agreement test checks).
 *
 * Precision/recall (Kynkaenniemi et al. 2019): the radius of each real row is
 * the distance to its k-th nearest other real row (lg_knn with k + 1, the
 * row itself being the first); a fake row counts for precision when it lies
 * within the radius of some real row, and recall swaps the roles. */
#include <cblas.h>
#include <math.h>

#include "core/check.h"
#include "eval/sqdist.h"
#include "lapgan/eval.h"

/* sum over (i, j) of (a_i . b_j / d + 1)^3, minus the diagonal when same. */
static double kernel_sum(const float *a, const float *b, int m, int d, int same, float *gram) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, m, d, 1.0f / d, a, d, b, d, 0.0f,
                gram, m);
    double s = 0;
#pragma omp parallel for reduction(+ : s) schedule(static)
    for (int i = 0; i < m; i++) {
        double r = 0; /* per row first, so the order does not depend on threads */
        for (int j = 0; j < m; j++) {
            if (same && i == j) continue;
            double k = (double)gram[(size_t)i * m + j] + 1.0;
            r += k * k * k;
        }
        s += r;
    }
    return s;
}

static void pick(lg_rng *r, int *perm, int n, int m, const float *src, int d, float *dst) {
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = 0; i < m; i++) { /* partial Fisher-Yates: m distinct rows */
        int j = i + (int)lg_rng_below(r, (uint64_t)(n - i));
        int t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    for (int i = 0; i < m; i++)
        for (int k = 0; k < d; k++) dst[(size_t)i * d + k] = src[(size_t)perm[i] * d + k];
}

lg_status lg_kid(const float *a, int n, const float *b, int m, int d, int nsub, int subset,
                 uint64_t seed, double *kid, double *std) {
    LG_TRY(lg_eval_check_rows("kid", a, n, "first set", b, m, "second set", d));
    LG_CHECK(kid && std && nsub >= 1 && subset >= 2, LG_ERR_ARG,
             "kid: need at least 1 subset of 2 rows (got %d of %d)", nsub, subset);
    LG_CHECK(n >= 2 && m >= 2, LG_ERR_ARG, "kid: %d and %d rows (need 2 each)", n, m);
    int s = subset < n ? subset : n;
    s = s < m ? s : m;
    const int all = s == n && s == m;
    if (all) nsub = 1;
    float *xa = lg_alloc_floats((size_t)s * d), *xb = lg_alloc_floats((size_t)s * d);
    float *gram = lg_alloc_floats((size_t)s * s);
    int *perm = lg_alloc(sizeof(int) * (size_t)(n > m ? n : m));
    double *vals = lg_alloc(sizeof(double) * (size_t)nsub);
    lg_status st = xa && xb && gram && perm && vals ? LG_OK
                   : lg_error(LG_ERR_NOMEM, "kid: out of memory for subsets of %d rows", s);
    lg_rng r;
    lg_rng_init(&r, seed, 0x4b4944); /* "KID" */
    for (int t = 0; t < nsub && st == LG_OK; t++) {
        const float *pa = a, *pb = b;
        if (!all) {
            pick(&r, perm, n, s, a, d, xa);
            pick(&r, perm, m, s, b, d, xb);
            pa = xa, pb = xb;
        }
        double kxx = kernel_sum(pa, pa, s, d, 1, gram), kyy = kernel_sum(pb, pb, s, d, 1, gram);
        double kxy = kernel_sum(pa, pb, s, d, 0, gram);
        vals[t] = (kxx + kyy) / ((double)s * (s - 1)) - 2 * kxy / ((double)s * s);
        if (!isfinite(vals[t]))
            st = lg_error(LG_ERR_NUMERIC, "kid: not finite (NaN or Inf in the features?)");
    }
    if (st == LG_OK) {
        double mean = 0, var = 0;
        for (int t = 0; t < nsub; t++) mean += vals[t] / nsub;
        for (int t = 0; t < nsub; t++) var += (vals[t] - mean) * (vals[t] - mean);
        *kid = mean;
        *std = nsub > 1 ? sqrt(var / (nsub - 1)) : 0;
    }
    lg_free(xa), lg_free(xb), lg_free(gram), lg_free(perm), lg_free(vals);
    return st;
}

/* k-th nearest other row of each row of x: radii[n]. */
static lg_status radii_of(const float *x, int n, int d, int k, float *radii) {
    int *idx = lg_alloc(sizeof(int) * (size_t)n * (k + 1));
    float *dist = lg_alloc_floats((size_t)n * (k + 1));
    lg_status st = idx && dist ? lg_knn(x, n, x, n, d, k + 1, idx, dist)
                               : lg_error(LG_ERR_NOMEM, "precision/recall: out of memory");
    if (st == LG_OK)
        for (int i = 0; i < n; i++) radii[i] = dist[(size_t)i * (k + 1) + k];
    lg_free(idx), lg_free(dist);
    return st;
}

/* Fraction of the rows of q inside the ball of some row of x. */
static lg_status coverage(const float *x, const float *radii, int n, const float *q, int m, int d,
                          double *frac) {
    lg_sqdist s;
    LG_TRY(lg_sqdist_init(&s, q, m, x, n, d));
    long inside = 0;
    for (int a0 = 0; a0 < m; a0 += s.tm) {
        const int rows = m - a0 < s.tm ? m - a0 : s.tm;
        unsigned char hit[rows];
        for (int i = 0; i < rows; i++) hit[i] = 0;
        lg_sqdist_load_a(&s, a0, rows);
        for (int b0 = 0; b0 < n; b0 += s.tn) {
            lg_sqdist_tile(&s, b0, n - b0 < s.tn ? n - b0 : s.tn);
#pragma omp parallel for schedule(static)
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < s.brows && !hit[i]; j++) {
                    const double r = radii[b0 + j];
                    hit[i] = lg_sqdist_at(&s, i, j) <= r * r;
                }
        }
        for (int i = 0; i < rows; i++) inside += hit[i];
    }
    lg_sqdist_free(&s);
    *frac = (double)inside / m;
    return LG_OK;
}

lg_status lg_precision_recall(const float *real, int n, const float *fake, int m, int d, int k,
                              double *precision, double *recall) {
    LG_TRY(lg_eval_check_rows("precision/recall", real, n, "real", fake, m, "fake", d));
    LG_CHECK(precision && recall, LG_ERR_ARG, "precision/recall: NULL output");
    LG_CHECK(k >= 1 && k < n && k < m, LG_ERR_ARG,
             "precision/recall: k = %d needs more than k rows in each set (%d, %d)", k, n, m);
    float *rr = lg_alloc_floats((size_t)n), *rf = lg_alloc_floats((size_t)m);
    lg_status st = rr && rf ? LG_OK : lg_error(LG_ERR_NOMEM, "precision/recall: out of memory");
    if (st == LG_OK) st = radii_of(real, n, d, k, rr);
    if (st == LG_OK) st = radii_of(fake, m, d, k, rf);
    if (st == LG_OK) st = coverage(real, rr, n, fake, m, d, precision);
    if (st == LG_OK) st = coverage(fake, rf, m, real, n, d, recall);
    lg_free(rr), lg_free(rf);
    return st;
}
