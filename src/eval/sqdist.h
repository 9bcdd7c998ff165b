/* Squared L2 distances between two sets of rows by tiles, from one SGEMM per
 * tile: |a - b|^2 = |a|^2 + |b|^2 - 2 a.b. Both sets are first centred on
 * the mean of b, which shrinks the norms and so the cancellation error of
 * the expansion (pixels in [0,1] or [-1,1] are far from the origin).
 * Parzen and kNN walk a-tiles in the outer loop and b-tiles in the inner one,
 * so memory is a few tiles whatever the set sizes. */
#ifndef LG_EVAL_SQDIST_H
#define LG_EVAL_SQDIST_H
#include "lapgan/core.h"

typedef struct {
    const float *a, *b;
    int na, nb, d;
    int tm, tn;      /* tile rows of a and of b */
    double *center;  /* [d] mean of b */
    float *ac, *bc;  /* centred tiles [tm*d], [tn*d] */
    double *an, *bn; /* their squared norms [tm], [tn] */
    float *dot;      /* [tm*tn] a.b of the current tiles, row stride tn */
    int a0, arows, b0, brows;
} lg_sqdist;

lg_status lg_sqdist_init(lg_sqdist *s, const float *a, int na, const float *b, int nb, int d);
void lg_sqdist_free(lg_sqdist *s);
/* Loads a-rows [a0, a0 + rows) into the a-tile (rows <= tm). */
void lg_sqdist_load_a(lg_sqdist *s, int a0, int rows);
/* Loads b-rows [b0, b0 + rows) and computes the dot tile (rows <= tn). */
void lg_sqdist_tile(lg_sqdist *s, int b0, int rows);

/* Squared distance between a-tile row i and b-tile row j, clamped at 0
 * (NaN passes through, so callers can report bad inputs). */
static inline double lg_sqdist_at(const lg_sqdist *s, int i, int j) {
    double v = s->an[i] + s->bn[j] - 2.0 * (double)s->dot[(size_t)i * (size_t)s->tn + (size_t)j];
    return v < 0 ? 0 : v;
}

/* Shared argument checks of the pairwise functions. */
lg_status lg_eval_check_rows(const char *fn, const float *a, int na, const char *an,
                             const float *b, int nb, const char *bn, int d);
#endif
