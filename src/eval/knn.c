/* k nearest neighbours in L2. The SGEMM distances pick kc = k + 16
 * candidates per query; their distances are then recomputed exactly in
 * double and ranked by (distance, index), so the answer and its tie-breaking
 * do not depend on float rounding or on tile boundaries. */
#include <math.h>

#include "core/check.h"
#include "eval/sqdist.h"
#include "lapgan/eval.h"

enum { LG_KNN_SLACK = 16 };

typedef struct {
    double dist;
    int idx;
} cand;

static int cand_less(cand a, cand b) { return a.dist < b.dist || (a.dist == b.dist && a.idx < b.idx); }

/* Inserts c into the sorted list l[0..*len) of capacity cap (dropping the
 * worst when full). */
static void cand_insert(cand *l, int *len, int cap, cand c) {
    if (*len == cap && !cand_less(c, l[cap - 1])) return;
    int i = *len < cap ? (*len)++ : cap - 1;
    while (i > 0 && cand_less(c, l[i - 1])) {
        l[i] = l[i - 1];
        i--;
    }
    l[i] = c;
}

static double exact_sqdist(const float *x, const float *y, int d) {
    double s = 0;
    for (int k = 0; k < d; k++) {
        double v = (double)x[k] - (double)y[k];
        s += v * v;
    }
    return s;
}

lg_status lg_knn(const float *train, int n, const float *queries, int m, int d, int k,
                 int *out_idx, float *out_dist) {
    LG_TRY(lg_eval_check_rows("knn", queries, m, "queries", train, n, "train", d));
    LG_CHECK(k >= 1 && k <= n, LG_ERR_ARG, "knn: k = %d (need 1 <= k <= %d train rows)", k, n);
    LG_CHECK(out_idx && out_dist, LG_ERR_ARG, "knn: output array is NULL");
    int kc = n - k < LG_KNN_SLACK ? n : k + LG_KNN_SLACK;

    lg_sqdist s;
    LG_TRY(lg_sqdist_init(&s, queries, m, train, n, d));
    cand *cands = lg_alloc((size_t)s.tm * (size_t)kc * sizeof(cand));
    cand *exact = lg_alloc((size_t)s.tm * (size_t)kc * sizeof(cand));
    int *len = lg_alloc((size_t)s.tm * sizeof(int));
    if (!cands || !exact || !len) {
        lg_free(cands), lg_free(exact), lg_free(len);
        lg_sqdist_free(&s);
        return lg_error(LG_ERR_NOMEM, "knn: out of memory");
    }
    for (int a0 = 0; a0 < m; a0 += s.tm) {
        int rows = m - a0 < s.tm ? m - a0 : s.tm;
        lg_sqdist_load_a(&s, a0, rows);
        for (int i = 0; i < rows; i++) len[i] = 0;
        for (int b0 = 0; b0 < n; b0 += s.tn) {
            lg_sqdist_tile(&s, b0, n - b0 < s.tn ? n - b0 : s.tn);
#pragma omp parallel for schedule(static)
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < s.brows; j++)
                    cand_insert(cands + (size_t)i * kc, &len[i], kc,
                                (cand){lg_sqdist_at(&s, i, j), b0 + j});
        }
#pragma omp parallel for schedule(static)
        for (int i = 0; i < rows; i++) {
            cand *l = cands + (size_t)i * kc;
            const float *q = queries + (size_t)(a0 + i) * (size_t)d;
            cand *ex = exact + (size_t)i * kc;
            int ne = 0;
            for (int c = 0; c < len[i]; c++)
                cand_insert(ex, &ne, kc,
                            (cand){exact_sqdist(q, train + (size_t)l[c].idx * (size_t)d, d),
                                   l[c].idx});
            for (int j = 0; j < k; j++) {
                out_idx[(size_t)(a0 + i) * k + j] = ex[j].idx;
                out_dist[(size_t)(a0 + i) * k + j] = (float)sqrt(ex[j].dist);
            }
        }
    }
    lg_free(cands), lg_free(exact), lg_free(len);
    lg_sqdist_free(&s);
    for (size_t i = 0; i < (size_t)m * (size_t)k; i++)
        LG_CHECK(isfinite(out_dist[i]), LG_ERR_NUMERIC,
                 "knn: distance of query %zu is not finite (NaN or Inf in the inputs?)",
                 i / (size_t)k);
    return LG_OK;
}
