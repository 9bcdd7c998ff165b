/* Evaluation metrics: Parzen-window log-likelihood, nearest neighbours,
 * Frechet distance. References are computed here in plain double loops or
 * from closed forms. */
#include "test.h"

static float *randn(size_t n, uint64_t seed, float mean, float std) {
    float *x = lg_alloc_floats(n);
    lg_rng r;
    lg_rng_init(&r, seed, 0);
    lg_rng_normal(&r, x, n, mean, std);
    return x;
}

/* Direct double-precision Parzen log-likelihood of one point. */
static double naive_parzen(const float *s, int n, const float *x, int d, double sigma) {
    double *e = malloc((size_t)n * sizeof(double)), mx = -INFINITY;
    for (int i = 0; i < n; i++) {
        double q = 0;
        for (int k = 0; k < d; k++) {
            double v = (double)x[k] - (double)s[(size_t)i * d + k];
            q += v * v;
        }
        e[i] = -q / (2 * sigma * sigma);
        if (e[i] > mx) mx = e[i];
    }
    double acc = 0;
    for (int i = 0; i < n; i++) acc += exp(e[i] - mx);
    free(e);
    return mx + log(acc) - log((double)n) - 0.5 * d * log(2 * M_PI * sigma * sigma);
}

/* Several tiles in both directions, data far from the origin (pixel-like
 * offsets), three bandwidths: the GEMM path must agree with the direct sum
 * to 1e-3 nats. */
static void test_parzen_matches_naive(void) {
    int n = 4500, m = 600, d = 12;
    float *s = randn((size_t)n * d, 1, 3.0f, 0.5f), *t = randn((size_t)m * d, 2, 3.0f, 0.5f);
    double sig[3] = {0.05, 0.3, 1.0};
    double *ll = malloc(3 * (size_t)m * sizeof(double));
    CHECK_OK(lg_parzen_ll_multi(s, n, t, m, d, sig, 3, ll));
    double worst = 0;
    for (int q = 0; q < 3; q++)
        for (int i = 0; i < m; i += 7) {
            double ref = naive_parzen(s, n, t + (size_t)i * d, d, sig[q]);
            double e = fabs(ll[(size_t)q * m + i] - ref);
            if (!(e <= worst)) worst = e;
        }
    CHECK_MSG(worst <= 1e-3, "worst |gemm - naive| = %g nats", worst);
    double one;
    CHECK_OK(lg_parzen_ll(s, n, t + (size_t)5 * d, 1, d, sig[1], &one));
    CHECK_NEAR(one, naive_parzen(s, n, t + (size_t)5 * d, d, sig[1]), 1e-3);
    lg_free(s), lg_free(t), free(ll);
}

/* Samples from N(0, I) in 2-D: the kernel estimate's expectation is exactly
 * N(0, (1 + sigma^2) I), so the analytic log-density of that Gaussian is the
 * target and only the estimator's variance remains. Its relative variance at
 * x is about R(K) / (n sigma^d p(x)) with R(K) = (4 pi)^(-d/2); each point
 * must lie within 5 such standard deviations (plus a floor) and the mean
 * within 0.03 nats. A wrong normaliser (log n, d/2 log 2 pi sigma^2) is off
 * by nats. */
static void test_parzen_converges_to_gaussian(void) {
    int n = 20000, m = 200, d = 2;
    double sigma = 0.3, v = 1 + sigma * sigma;
    float *s = randn((size_t)n * d, 3, 0, 1), *t = randn((size_t)m * d, 4, 0, 1);
    double *ll = malloc((size_t)m * sizeof(double));
    CHECK_OK(lg_parzen_ll(s, n, t, m, d, sigma, ll));
    double mean_err = 0;
    int bad = 0;
    for (int i = 0; i < m; i++) {
        double r2 = (double)t[2 * i] * t[2 * i] + (double)t[2 * i + 1] * t[2 * i + 1];
        double logp = -r2 / (2 * v) - 0.5 * d * log(2 * M_PI * v);
        double sd = sqrt(1.0 / (4 * M_PI) / (n * sigma * sigma * exp(logp)));
        double e = ll[i] - logp;
        mean_err += e / m;
        if (!(fabs(e) <= 5 * sd + 0.01)) bad++;
    }
    CHECK_MSG(bad == 0, "%d of %d points outside 5 sd of the analytic density", bad, m);
    CHECK_MSG(fabs(mean_err) <= 0.03, "mean error %g nats", mean_err);
    lg_free(s), lg_free(t), free(ll);
}

/* One sample at the origin, validation points all at distance r in d dims:
 * mean LL(sigma) = -r^2/(2 sigma^2) - d/2 log(2 pi sigma^2), maximised at
 * sigma = r / sqrt(d). Put that on the 5th default grid value. */
static void test_parzen_select_sigma_known(void) {
    enum { D = 4, M = 8 };
    double grid[LG_PARZEN_GRID_DEFAULT], means[LG_PARZEN_GRID_DEFAULT], best = 0;
    lg_parzen_default_grid(grid);
    CHECK_NEAR(grid[0], 0.1, 1e-15);
    CHECK_NEAR(grid[9], 1.0, 1e-15);
    CHECK_NEAR(grid[4], 0.27825594022071243, 1e-14); /* numpy.logspace(-1, 0, 10)[4] */
    double r = grid[4] * sqrt((double)D);
    float sample[D] = {0}, valid[M * D] = {0};
    for (int i = 0; i < M; i++) valid[i * D + i % D] = (float)((i & 4) ? -r : r);
    CHECK_OK(lg_parzen_select_sigma(sample, 1, valid, M, D, NULL, 0, &best, means));
    CHECK_NEAR(best, grid[4], 0);
    int arg = 0;
    for (int q = 0; q < LG_PARZEN_GRID_DEFAULT; q++) {
        double rr = (double)(float)r * (double)(float)r, sg = grid[q];
        CHECK_NEAR(means[q], -rr / (2 * sg * sg) - 0.5 * D * log(2 * M_PI * sg * sg), 1e-6);
        if (means[q] > means[arg]) arg = q;
    }
    CHECK(arg == 4);
    /* A user grid without the optimum: the nearest value wins. */
    double user[3] = {0.1, 0.25, 0.9}, um[3];
    CHECK_OK(lg_parzen_select_sigma(sample, 1, valid, M, D, user, 3, &best, um));
    CHECK_NEAR(best, 0.25, 0);
    CHECK(um[1] > um[0] && um[1] > um[2]);
}

/* Realistic case: the selected sigma is the argmax of the returned means,
 * and those means are the means of lg_parzen_ll at each sigma. */
static void test_parzen_select_sigma_argmax(void) {
    int n = 1500, m = 300, d = 6;
    float *s = randn((size_t)n * d, 5, 0, 1), *va = randn((size_t)m * d, 6, 0, 1);
    double grid[LG_PARZEN_GRID_DEFAULT], means[LG_PARZEN_GRID_DEFAULT], best = 0;
    lg_parzen_default_grid(grid);
    CHECK_OK(lg_parzen_select_sigma(s, n, va, m, d, NULL, 0, &best, means));
    double *ll = malloc((size_t)m * sizeof(double));
    int arg = 0;
    for (int q = 0; q < LG_PARZEN_GRID_DEFAULT; q++) {
        CHECK_OK(lg_parzen_ll(s, n, va, m, d, grid[q], ll));
        lg_ll_summary sum;
        CHECK_OK(lg_ll_summarize(ll, m, &sum));
        CHECK_NEAR(sum.mean, means[q], 1e-9 * fabs(sum.mean) + 1e-9);
        if (means[q] > means[arg]) arg = q;
    }
    CHECK_NEAR(best, grid[arg], 0);
    /* For unit Gaussians in 6-D with 1500 samples the optimum is interior. */
    CHECK(arg > 0 && arg < LG_PARZEN_GRID_DEFAULT - 1);
    lg_free(s), lg_free(va), free(ll);
}

/* Tiny sigma and far points: exp underflows for every term, but the
 * max-shifted sum stays finite and equals -dmin / 2 sigma^2 + constants. */
static void test_parzen_tiny_sigma_stable(void) {
    enum { D = 3 };
    float s[2 * D] = {0, 0, 0, 1, 0, 0}, t[2 * D] = {100, 0, 0, -50, 20, 0};
    double sigma = 1e-3, ll[2];
    CHECK_OK(lg_parzen_ll(s, 2, t, 2, D, sigma, ll));
    double c = -log(2.0) - 0.5 * D * log(2 * M_PI * sigma * sigma);
    CHECK(isfinite(ll[0]) && isfinite(ll[1]));
    CHECK_NEAR(ll[0], -99.0 * 99.0 / (2 * sigma * sigma) + c, 1e-9 * 99.0 * 99.0 / (2e-6));
    CHECK_NEAR(ll[1], -(50.0 * 50.0 + 400.0) / (2 * sigma * sigma) + c, 1e-9 * 2900.0 / 2e-6);
    /* The exact point: log p = -log 2 + normaliser + log(1 + e^-huge). */
    CHECK_OK(lg_parzen_ll(s, 2, s, 1, D, sigma, ll));
    CHECK_NEAR(ll[0], c, 1e-6);
}

static void test_parzen_bad_input(void) {
    float s[4] = {0, 1, 2, 3}, t[2] = {0, 0};
    double ll[2], best;
    CHECK_ERR(lg_parzen_ll(NULL, 2, t, 1, 2, 0.1, ll), LG_ERR_ARG);
    CHECK_ERR(lg_parzen_ll(s, 0, t, 1, 2, 0.1, ll), LG_ERR_ARG);
    CHECK_ERR(lg_parzen_ll(s, 2, t, 1, 0, 0.1, ll), LG_ERR_ARG);
    CHECK_ERR(lg_parzen_ll(s, 2, t, 1, 2, 0.0, ll), LG_ERR_ARG);
    CHECK_ERR(lg_parzen_ll(s, 2, t, 1, 2, NAN, ll), LG_ERR_ARG);
    CHECK_ERR(lg_parzen_ll(s, 2, t, 1, 2, 0.1, NULL), LG_ERR_ARG);
    CHECK_ERR(lg_parzen_select_sigma(s, 2, t, 1, 2, NULL, 3, &best, NULL), LG_ERR_ARG);
    t[1] = NAN;
    CHECK_ERR(lg_parzen_ll(s, 2, t, 1, 2, 0.1, ll), LG_ERR_NUMERIC);
    lg_ll_summary sum;
    CHECK_ERR(lg_ll_summarize(ll, 0, &sum), LG_ERR_ARG);
}

static void test_ll_summary(void) {
    double v[4] = {1, 2, 3, 4};
    lg_ll_summary s;
    CHECK_OK(lg_ll_summarize(v, 4, &s));
    CHECK(s.n == 4);
    CHECK_NEAR(s.mean, 2.5, 1e-15);
    CHECK_NEAR(s.std, sqrt(5.0 / 3.0), 1e-15);
    CHECK_NEAR(s.sem, sqrt(5.0 / 3.0) / 2, 1e-15);
}

/* Same bits when run twice with the same thread count. Across thread counts
 * OpenBLAS's SGEMM splits its sums differently, so results agree only to
 * float rounding of the distances (well under 1e-3 nats here). */
static void test_parzen_deterministic(void) {
    int n = 3000, m = 520, d = 40;
    float *s = randn((size_t)n * d, 7, 0.5f, 0.3f), *t = randn((size_t)m * d, 8, 0.5f, 0.3f);
    double *a = malloc((size_t)m * sizeof(double)), *b = malloc((size_t)m * sizeof(double));
    int th = lg_get_threads();
    lg_set_threads(2);
    CHECK_OK(lg_parzen_ll(s, n, t, m, d, 0.2, a));
    CHECK_OK(lg_parzen_ll(s, n, t, m, d, 0.2, b));
    CHECK(memcmp(a, b, (size_t)m * sizeof(double)) == 0);
    lg_set_threads(1);
    CHECK_OK(lg_parzen_ll(s, n, t, m, d, 0.2, b));
    lg_set_threads(th);
    double worst = 0;
    for (int i = 0; i < m; i++) worst = fmax(worst, fabs(a[i] - b[i]));
    CHECK_MSG(worst <= 1e-3, "1 vs 2 threads differ by %g nats", worst);
    lg_free(s), lg_free(t), free(a), free(b);
}

/* ---- kNN ------------------------------------------------------------------ */

typedef struct {
    double d;
    int i;
} dk;
static int dk_cmp(const void *pa, const void *pb) {
    const dk *a = pa, *b = pb;
    if (a->d != b->d) return a->d < b->d ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

static void knn_vs_brute(int n, int m, int d, int k, uint64_t seed) {
    float *tr = randn((size_t)n * d, seed, 100.0f, 1.0f);
    float *q = randn((size_t)m * d, seed + 1, 100.0f, 1.0f);
    /* Exact duplicates (ties) and queries equal to train rows. */
    for (int i = 0; i + 1 < n && i < 40; i += 2)
        memcpy(tr + (size_t)(n - 1 - i) * d, tr + (size_t)i * d, (size_t)d * sizeof(float));
    for (int i = 0; i < m && i < 10; i++)
        memcpy(q + (size_t)i * d, tr + (size_t)(n - 1 - 2 * i) * d, (size_t)d * sizeof(float));
    int *idx = malloc((size_t)m * k * sizeof(int));
    float *dist = malloc((size_t)m * k * sizeof(float));
    dk *all = malloc((size_t)n * sizeof(dk));
    CHECK_OK(lg_knn(tr, n, q, m, d, k, idx, dist));
    int wrong = 0;
    double derr = 0;
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int c = 0; c < d; c++) {
                double v = (double)q[(size_t)i * d + c] - tr[(size_t)j * d + c];
                s += v * v;
            }
            all[j] = (dk){s, j};
        }
        qsort(all, (size_t)n, sizeof(dk), dk_cmp);
        for (int j = 0; j < k; j++) {
            if (idx[(size_t)i * k + j] != all[j].i) wrong++;
            double e = fabs(dist[(size_t)i * k + j] - sqrt(all[j].d));
            if (e > derr) derr = e;
        }
    }
    CHECK_MSG(wrong == 0, "%d of %d neighbours differ from brute force", wrong, m * k);
    CHECK(derr <= 1e-5 * 10);
    if (n > 3) CHECK(idx[0] < n - 1 && dist[0] == 0); /* duplicate: lowest index first */
    lg_free(tr), lg_free(q), free(idx), free(dist), free(all);
}

static void test_knn_vs_brute_force(void) {
    knn_vs_brute(3000, 70, 16, 5, 11); /* two train tiles for small d */
    knn_vs_brute(50, 9, 7, 50, 12);    /* k == n */
    knn_vs_brute(700, 33, 300, 1, 13);
}

static void test_knn_bad_input(void) {
    float tr[4] = {0}, q[2] = {0}, dist[4];
    int idx[4];
    CHECK_ERR(lg_knn(tr, 2, q, 1, 2, 3, idx, dist), LG_ERR_ARG);
    CHECK_ERR(lg_knn(tr, 2, q, 1, 2, 0, idx, dist), LG_ERR_ARG);
    CHECK_ERR(lg_knn(tr, 2, NULL, 1, 2, 1, idx, dist), LG_ERR_ARG);
    CHECK_ERR(lg_knn(tr, 2, q, 1, 2, 1, NULL, dist), LG_ERR_ARG);
}

/* ---- Frechet ----------------------------------------------------------------- */

static void test_frechet_identical_sets(void) {
    int n = 500, d = 24;
    float *f = randn((size_t)n * d, 21, 2.0f, 3.0f);
    for (int i = 0; i < n; i++) f[(size_t)i * d + 1] += 0.7f * f[(size_t)i * d]; /* correlate */
    double *mu = malloc(d * sizeof(double)), *cov = malloc((size_t)d * d * sizeof(double));
    CHECK_OK(lg_frechet_stats(f, n, d, mu, cov));
    double fd = -1, tr = 0;
    for (int i = 0; i < d; i++) tr += cov[i * d + i];
    CHECK_OK(lg_frechet_distance(mu, cov, mu, cov, d, &fd));
    CHECK_MSG(fd >= 0 && fd <= 1e-9 * tr, "fd = %g, trace %g", fd, tr);
    lg_free(f), free(mu), free(cov);
}

/* Mean and unbiased covariance against a direct double computation. */
static void test_frechet_stats_naive(void) {
    int n = 300, d = 9;
    float *f = randn((size_t)n * d, 22, -1.0f, 2.0f);
    double *mu = malloc(d * sizeof(double)), *cov = malloc((size_t)d * d * sizeof(double));
    CHECK_OK(lg_frechet_stats(f, n, d, mu, cov));
    for (int a = 0; a < d; a++) {
        double ma = 0;
        for (int i = 0; i < n; i++) ma += f[i * d + a];
        ma /= n;
        CHECK_NEAR(mu[a], ma, 1e-12);
        for (int b = 0; b < d; b++) {
            double mb = 0, s = 0;
            for (int i = 0; i < n; i++) mb += f[i * d + b];
            mb /= n;
            for (int i = 0; i < n; i++) s += (f[i * d + a] - ma) * (f[i * d + b] - mb);
            CHECK_NEAR(cov[a * d + b], s / (n - 1), 1e-11);
        }
    }
    lg_free(f), free(mu), free(cov);
}

/* Diagonal covariances: FD = sum (m1 - m2)^2 + sum (sqrt a - sqrt b)^2. */
static void test_frechet_diagonal_closed_form(void) {
    enum { D = 5 };
    double m1[D] = {0, 1, 2, 3, 4}, m2[D] = {1, 1, 0, 3, -1};
    double a[D] = {1, 4, 0.25, 9, 2}, b[D] = {4, 1, 0.25, 0.5, 3};
    double c1[D * D] = {0}, c2[D * D] = {0}, ref = 0, fd;
    for (int i = 0; i < D; i++) {
        c1[i * D + i] = a[i], c2[i * D + i] = b[i];
        ref += (m1[i] - m2[i]) * (m1[i] - m2[i]) + (sqrt(a[i]) - sqrt(b[i])) * (sqrt(a[i]) - sqrt(b[i]));
    }
    CHECK_OK(lg_frechet_distance(m1, c1, m2, c2, D, &fd));
    CHECK_NEAR(fd, ref, 1e-10);
}

/* 2x2, non-commuting: Tr sqrtm(S1 S2) = sqrt(tr(S1 S2) + 2 sqrt(det(S1 S2)))
 * because (sqrt l1 + sqrt l2)^2 = l1 + l2 + 2 sqrt(l1 l2). */
static void test_frechet_2x2_analytic(void) {
    double s1[4] = {2.0, 0.9, 0.9, 1.0}, s2[4] = {0.5, -0.3, -0.3, 3.0};
    double m1[2] = {0.5, -1}, m2[2] = {0, 0.25}, fd;
    double p00 = s1[0] * s2[0] + s1[1] * s2[2], p11 = s1[2] * s2[1] + s1[3] * s2[3];
    double det = (s1[0] * s1[3] - s1[1] * s1[2]) * (s2[0] * s2[3] - s2[1] * s2[2]);
    double trs = sqrt(p00 + p11 + 2 * sqrt(det));
    double ref = 0.25 + 1.5625 + (s1[0] + s1[3]) + (s2[0] + s2[3]) - 2 * trs;
    CHECK_OK(lg_frechet_distance(m1, s1, m2, s2, 2, &fd));
    CHECK_NEAR(fd, ref, 1e-12);
}

/* Random non-commuting covariances: FD is symmetric, and with equal
 * covariances it is the squared mean difference. */
static void test_frechet_symmetry(void) {
    int n = 200, d = 30;
    float *fa = randn((size_t)n * d, 31, 0, 1), *fb = randn((size_t)n * d, 32, 0.3f, 2);
    for (int i = 0; i < n; i++) fb[(size_t)i * d + 2] -= 1.5f * fb[(size_t)i * d + 7];
    double *m1 = malloc(d * sizeof(double)), *m2 = malloc(d * sizeof(double));
    double *c1 = malloc((size_t)d * d * sizeof(double)), *c2 = malloc((size_t)d * d * sizeof(double));
    CHECK_OK(lg_frechet_stats(fa, n, d, m1, c1));
    CHECK_OK(lg_frechet_stats(fb, n, d, m2, c2));
    double f12, f21, fsame, dm = 0;
    CHECK_OK(lg_frechet_distance(m1, c1, m2, c2, d, &f12));
    CHECK_OK(lg_frechet_distance(m2, c2, m1, c1, d, &f21));
    CHECK(f12 > 1);
    CHECK_NEAR(f12, f21, 1e-9 * f12);
    for (int i = 0; i < d; i++) dm += (m1[i] - m2[i]) * (m1[i] - m2[i]);
    CHECK_OK(lg_frechet_distance(m1, c2, m2, c2, d, &fsame));
    CHECK_NEAR(fsame, dm, 1e-9 * (1 + dm) * d);
    lg_free(fa), lg_free(fb), free(m1), free(m2), free(c1), free(c2);
}

static void test_frechet_bad_input(void) {
    double mu[2] = {0, 0}, c[4] = {1, 0.5, 0.2, 1}, ok[4] = {1, 0, 0, 1}, fd;
    float f[4] = {0, 1, 2, 3};
    CHECK_ERR(lg_frechet_distance(mu, c, mu, ok, 2, &fd), LG_ERR_ARG); /* not symmetric */
    CHECK_ERR(lg_frechet_distance(mu, ok, mu, ok, 0, &fd), LG_ERR_ARG);
    CHECK_ERR(lg_frechet_distance(NULL, ok, mu, ok, 2, &fd), LG_ERR_ARG);
    ok[3] = NAN;
    CHECK_ERR(lg_frechet_distance(mu, ok, mu, ok, 2, &fd), LG_ERR_NUMERIC);
    CHECK_ERR(lg_frechet_stats(f, 1, 4, mu, c), LG_ERR_ARG);
}

int main(void) {
    RUN(test_parzen_matches_naive);
    RUN(test_parzen_converges_to_gaussian);
    RUN(test_parzen_select_sigma_known);
    RUN(test_parzen_select_sigma_argmax);
    RUN(test_parzen_tiny_sigma_stable);
    RUN(test_parzen_bad_input);
    RUN(test_ll_summary);
    RUN(test_parzen_deterministic);
    RUN(test_knn_vs_brute_force);
    RUN(test_knn_bad_input);
    RUN(test_frechet_identical_sets);
    RUN(test_frechet_stats_naive);
    RUN(test_frechet_diagonal_closed_form);
    RUN(test_frechet_2x2_analytic);
    RUN(test_frechet_symmetry);
    RUN(test_frechet_bad_input);
    return TEST_END();
}
