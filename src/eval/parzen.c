/* Parzen-window log-likelihood (Breuleux et al. 2011; Goodfellow et al. 2014;
 * LAPGAN Table 1). One distance pass serves every bandwidth: per test row we
 * keep the smallest squared distance seen so far and, per sigma, the sum of
 * exp(-(dist - dmin) / 2 sigma^2), rescaled whenever dmin drops (an online
 * log-sum-exp). The nearest sample contributes exp(0) = 1, so the sum is
 * >= 1 and the result finite however small sigma is. */
#include <math.h>

#include "core/check.h"
#include "eval/sqdist.h"
#include "lapgan/eval.h"

void lg_parzen_default_grid(double grid[LG_PARZEN_GRID_DEFAULT]) {
    /* numpy.logspace(-1, 0, 10): 10^(-1 + i/9) */
    for (int i = 0; i < LG_PARZEN_GRID_DEFAULT; i++)
        grid[i] = pow(10.0, -1.0 + (double)i / (LG_PARZEN_GRID_DEFAULT - 1));
}

static lg_status check_sigmas(const char *fn, const double *sigmas, int nsigma) {
    LG_CHECK(sigmas && nsigma >= 1, LG_ERR_ARG, "%s: need at least one sigma", fn);
    for (int j = 0; j < nsigma; j++)
        LG_CHECK(isfinite(sigmas[j]) && sigmas[j] > 0, LG_ERR_ARG,
                 "%s: sigma[%d] = %g (need a finite value > 0)", fn, j, sigmas[j]);
    return LG_OK;
}

/* Terms below e^-50 of the largest are skipped (exp's underflow path is
 * slow): even 10^9 of them change the log-sum by less than 2e-13 nats. */
#define LG_PARZEN_CUTOFF 50.0

/* Folds the current tile into the running (dmin, sums) of each test row. */
static void accumulate_tile(const lg_sqdist *s, const double *inv2s2, int nsigma, double *dmin,
                            double *sums) {
    int tm = s->tm;
#pragma omp parallel for schedule(static)
    for (int i = 0; i < s->arows; i++) {
        double lo = INFINITY;
        for (int j = 0; j < s->brows; j++) {
            double v = lg_sqdist_at(s, i, j);
            if (v < lo) lo = v;
        }
        if (lo < dmin[i]) {
            for (int q = 0; q < nsigma; q++) sums[q * tm + i] *= exp(-(dmin[i] - lo) * inv2s2[q]);
            dmin[i] = lo;
        }
        for (int q = 0; q < nsigma; q++) {
            double acc = 0, c = inv2s2[q], base = dmin[i];
            for (int j = 0; j < s->brows; j++) {
                double e = (lg_sqdist_at(s, i, j) - base) * c;
                if (!(e > LG_PARZEN_CUTOFF)) acc += exp(-e);
            }
            sums[q * tm + i] += acc;
        }
    }
}

lg_status lg_parzen_ll_multi(const float *samples, int n, const float *test, int m, int d,
                             const double *sigmas, int nsigma, double *out_ll) {
    const char *fn = "parzen";
    LG_TRY(lg_eval_check_rows(fn, test, m, "test", samples, n, "samples", d));
    LG_TRY(check_sigmas(fn, sigmas, nsigma));
    LG_CHECK(out_ll, LG_ERR_ARG, "%s: out_ll is NULL", fn);

    lg_sqdist s;
    LG_TRY(lg_sqdist_init(&s, test, m, samples, n, d));
    double *inv2s2 = lg_alloc((size_t)nsigma * sizeof(double));
    double *norm = lg_alloc((size_t)nsigma * sizeof(double));
    double *dmin = lg_alloc((size_t)s.tm * sizeof(double));
    double *sums = lg_alloc((size_t)s.tm * (size_t)nsigma * sizeof(double));
    if (!inv2s2 || !norm || !dmin || !sums) {
        lg_free(inv2s2), lg_free(norm), lg_free(dmin), lg_free(sums);
        lg_sqdist_free(&s);
        return lg_error(LG_ERR_NOMEM, "%s: out of memory", fn);
    }
    for (int q = 0; q < nsigma; q++) {
        inv2s2[q] = 1.0 / (2.0 * sigmas[q] * sigmas[q]);
        norm[q] = -log((double)n) - 0.5 * d * log(2.0 * M_PI * sigmas[q] * sigmas[q]);
    }
    for (int a0 = 0; a0 < m; a0 += s.tm) {
        int rows = m - a0 < s.tm ? m - a0 : s.tm;
        lg_sqdist_load_a(&s, a0, rows);
        for (int i = 0; i < rows; i++) dmin[i] = INFINITY;
        for (size_t i = 0; i < (size_t)s.tm * (size_t)nsigma; i++) sums[i] = 0;
        for (int b0 = 0; b0 < n; b0 += s.tn) {
            lg_sqdist_tile(&s, b0, n - b0 < s.tn ? n - b0 : s.tn);
            accumulate_tile(&s, inv2s2, nsigma, dmin, sums);
        }
        for (int q = 0; q < nsigma; q++)
            for (int i = 0; i < rows; i++)
                out_ll[(size_t)q * (size_t)m + (size_t)(a0 + i)] =
                    -dmin[i] * inv2s2[q] + log(sums[q * s.tm + i]) + norm[q];
    }
    lg_free(inv2s2), lg_free(norm), lg_free(dmin), lg_free(sums);
    lg_sqdist_free(&s);
    for (size_t i = 0; i < (size_t)m * (size_t)nsigma; i++)
        LG_CHECK(isfinite(out_ll[i]), LG_ERR_NUMERIC,
                 "%s: log-likelihood of test row %zu is not finite (NaN or Inf in the inputs?)",
                 fn, i % (size_t)m);
    return LG_OK;
}

lg_status lg_parzen_ll_grouped(const float *samples, int n_per, const float *test, int m, int d,
                               const double *sigmas, int nsigma, double *out_ll,
                               double *out_dmin) {
    const char *fn = "parzen (grouped)";
    LG_CHECK(samples && test && out_ll, LG_ERR_ARG, "%s: NULL argument", fn);
    LG_CHECK(n_per >= 1 && m >= 1 && d >= 1, LG_ERR_ARG, "%s: %d samples per row, %d rows of %d",
             fn, n_per, m, d);
    LG_TRY(check_sigmas(fn, sigmas, nsigma));
    size_t total;
    LG_CHECK(!lg_mul_overflow((size_t)m, (size_t)n_per, &total) &&
                 !lg_mul_overflow(total, (size_t)d, &total),
             LG_ERR_ARG, "%s: %d x %d x %d values overflow", fn, m, n_per, d);
    double *dist = lg_alloc(sizeof(double) * (size_t)m * (size_t)n_per);
    LG_CHECK(dist, LG_ERR_NOMEM, "%s: out of memory", fn);
    int bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad)
    for (int i = 0; i < m; i++) {
        const float *x = test + (size_t)i * d;
        double *di = dist + (size_t)i * n_per, lo = INFINITY;
        for (int j = 0; j < n_per; j++) {
            const float *s = samples + ((size_t)i * n_per + j) * d;
            double acc = 0;
            for (int q = 0; q < d; q++) acc += ((double)x[q] - s[q]) * ((double)x[q] - s[q]);
            di[j] = acc;
            lo = acc < lo ? acc : lo;
        }
        /* The same shifted log-sum-exp as lg_parzen_ll_multi, in one pass. */
        for (int q = 0; q < nsigma; q++) {
            const double c = 1.0 / (2.0 * sigmas[q] * sigmas[q]);
            double sum = 0;
            for (int j = 0; j < n_per; j++) {
                const double e = (di[j] - lo) * c;
                if (!(e > LG_PARZEN_CUTOFF)) sum += exp(-e);
            }
            out_ll[(size_t)q * m + i] = -lo * c + log(sum) - log((double)n_per) -
                                        0.5 * d * log(2.0 * M_PI * sigmas[q] * sigmas[q]);
            bad |= !isfinite(out_ll[(size_t)q * m + i]);
        }
        if (out_dmin) out_dmin[i] = sqrt(lo);
    }
    lg_free(dist);
    LG_CHECK(!bad, LG_ERR_NUMERIC, "%s: a log-likelihood is not finite (NaN or Inf in the inputs?)",
             fn);
    return LG_OK;
}

lg_status lg_parzen_ll(const float *samples, int n, const float *test, int m, int d,
                       double sigma, double *out_ll) {
    return lg_parzen_ll_multi(samples, n, test, m, d, &sigma, 1, out_ll);
}

lg_status lg_parzen_select_sigma(const float *samples, int n, const float *valid, int m, int d,
                                 const double *grid, int ngrid, double *best_sigma,
                                 double *mean_ll) {
    double defaults[LG_PARZEN_GRID_DEFAULT];
    LG_CHECK(best_sigma, LG_ERR_ARG, "parzen: best_sigma is NULL");
    if (!grid && ngrid == 0) {
        lg_parzen_default_grid(defaults);
        grid = defaults;
        ngrid = LG_PARZEN_GRID_DEFAULT;
    }
    LG_TRY(check_sigmas("parzen", grid, ngrid));
    size_t total;
    LG_CHECK(m >= 1 && !lg_mul_overflow((size_t)m, (size_t)ngrid, &total), LG_ERR_ARG,
             "parzen: %d validation rows", m);
    double *ll = lg_alloc(total * sizeof(double));
    if (!ll) return lg_error(LG_ERR_NOMEM, "parzen: out of memory");
    lg_status st = lg_parzen_ll_multi(samples, n, valid, m, d, grid, ngrid, ll);
    if (st == LG_OK) {
        int best = 0;
        double best_mean = -INFINITY;
        for (int q = 0; q < ngrid; q++) {
            double acc = 0;
            for (int i = 0; i < m; i++) acc += ll[(size_t)q * (size_t)m + (size_t)i];
            double mean = acc / m;
            if (mean_ll) mean_ll[q] = mean;
            if (mean > best_mean) best_mean = mean, best = q;
        }
        *best_sigma = grid[best];
    }
    lg_free(ll);
    return st;
}

lg_status lg_ll_summarize(const double *ll, int n, lg_ll_summary *out) {
    LG_CHECK(ll && out, LG_ERR_ARG, "ll summary: NULL argument");
    LG_CHECK(n >= 1, LG_ERR_ARG, "ll summary: %d values (need >= 1)", n);
    double mean = 0;
    for (int i = 0; i < n; i++) mean += ll[i];
    mean /= n;
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (ll[i] - mean) * (ll[i] - mean);
    double sd = n > 1 ? sqrt(ss / (n - 1)) : 0;
    *out = (lg_ll_summary){.n = n, .mean = mean, .std = sd, .sem = sd / sqrt((double)n)};
    LG_CHECK(isfinite(mean), LG_ERR_NUMERIC, "ll summary: non-finite mean");
    return LG_OK;
}
