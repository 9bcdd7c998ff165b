#include <cblas.h>

#include "core/check.h"
#include "eval/sqdist.h"

/* Tiles of at most ~16 MiB (a) and ~32 MiB (b) of centred floats: large
 * enough for SGEMM to run near peak, small enough to stay bounded. */
enum { LG_TILE_A_MAX = 512, LG_TILE_B_MAX = 2048 };

static int tile_rows(int n, int d, size_t budget_floats, int cap) {
    size_t t = budget_floats / (size_t)d;
    if (t > (size_t)cap) t = (size_t)cap;
    if (t < 16) t = 16;
    return n < (int)t ? n : (int)t;
}

lg_status lg_eval_check_rows(const char *fn, const float *a, int na, const char *an,
                             const float *b, int nb, const char *bn, int d) {
    LG_CHECK(a && b, LG_ERR_ARG, "%s: %s is NULL", fn, a ? bn : an);
    LG_CHECK(na >= 1 && nb >= 1, LG_ERR_ARG, "%s: %s has %d rows (need >= 1)", fn,
             na < 1 ? an : bn, na < 1 ? na : nb);
    LG_CHECK(d >= 1, LG_ERR_ARG, "%s: dimension %d (need >= 1)", fn, d);
    size_t sz;
    LG_CHECK(!lg_mul_overflow((size_t)(na > nb ? na : nb), (size_t)d, &sz), LG_ERR_NOMEM,
             "%s: %d x %d floats overflow", fn, na > nb ? na : nb, d);
    return LG_OK;
}

static void centre_rows(const float *src, int rows, int d, const double *center, float *dst,
                        double *norms) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < rows; i++) {
        const float *x = src + (size_t)i * (size_t)d;
        float *y = dst + (size_t)i * (size_t)d;
        double s = 0;
        for (int k = 0; k < d; k++) {
            float v = (float)((double)x[k] - center[k]);
            y[k] = v;
            s += (double)v * (double)v;
        }
        norms[i] = s;
    }
}

/* Column means in double, by blocks of columns so rows stream through the
 * cache; each column is summed in row order, whatever the thread count. */
static void column_mean(const float *x, int n, int d, double *mean) {
    enum { B = 64 };
    int nblk = (d + B - 1) / B;
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < nblk; blk++) {
        int k0 = blk * B, kn = d - k0 < B ? d - k0 : B;
        double acc[B] = {0};
        for (int i = 0; i < n; i++) {
            const float *row = x + (size_t)i * (size_t)d + (size_t)k0;
            for (int k = 0; k < kn; k++) acc[k] += row[k];
        }
        for (int k = 0; k < kn; k++) mean[k0 + k] = acc[k] / n;
    }
}

lg_status lg_sqdist_init(lg_sqdist *s, const float *a, int na, const float *b, int nb, int d) {
    *s = (lg_sqdist){.a = a, .b = b, .na = na, .nb = nb, .d = d};
    s->tm = tile_rows(na, d, (size_t)1 << 22, LG_TILE_A_MAX);
    s->tn = tile_rows(nb, d, (size_t)1 << 23, LG_TILE_B_MAX);
    s->center = lg_alloc((size_t)d * sizeof(double));
    s->ac = lg_alloc_floats((size_t)s->tm * (size_t)d);
    s->bc = lg_alloc_floats((size_t)s->tn * (size_t)d);
    s->an = lg_alloc((size_t)s->tm * sizeof(double));
    s->bn = lg_alloc((size_t)s->tn * sizeof(double));
    s->dot = lg_alloc_floats((size_t)s->tm * (size_t)s->tn);
    if (!s->center || !s->ac || !s->bc || !s->an || !s->bn || !s->dot) {
        lg_sqdist_free(s);
        return lg_error(LG_ERR_NOMEM, "distance tiles: out of memory (%d x %d, %d dims)", na,
                        nb, d);
    }
    column_mean(b, nb, d, s->center);
    return LG_OK;
}

void lg_sqdist_free(lg_sqdist *s) {
    lg_free(s->center);
    lg_free(s->ac);
    lg_free(s->bc);
    lg_free(s->an);
    lg_free(s->bn);
    lg_free(s->dot);
    s->center = NULL;
    s->ac = s->bc = s->dot = NULL;
    s->an = s->bn = NULL;
}

void lg_sqdist_load_a(lg_sqdist *s, int a0, int rows) {
    s->a0 = a0;
    s->arows = rows;
    centre_rows(s->a + (size_t)a0 * (size_t)s->d, rows, s->d, s->center, s->ac, s->an);
}

void lg_sqdist_tile(lg_sqdist *s, int b0, int rows) {
    s->b0 = b0;
    s->brows = rows;
    centre_rows(s->b + (size_t)b0 * (size_t)s->d, rows, s->d, s->center, s->bc, s->bn);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->arows, rows, s->d, 1.0f, s->ac,
                s->d, s->bc, s->d, 0.0f, s->dot, s->tn);
}
