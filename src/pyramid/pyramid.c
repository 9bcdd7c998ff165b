/* Laplacian pyramid: bands h_k = I_k - u(I_{k+1}), h_K = I_K. */
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "lapgan/pyramid.h"
#include "pyramid/resample.h"

static size_t level_numel(const lg_pyramid *p, int k) {
    return (size_t)p->n * p->c * p->size[k] * p->size[k];
}

lg_status lg_pyramid_new(lg_pyramid **out, lg_pyr_filter f, int n, int c, const int *sizes,
                         int levels) {
    LG_CHECK(out && sizes, LG_ERR_ARG, "lg_pyramid_new: NULL argument");
    *out = NULL;
    LG_CHECK((unsigned)f < LG_PYR_FILTER_COUNT, LG_ERR_ARG, "lg_pyramid_new: bad filter %d",
             (int)f);
    LG_CHECK(levels >= 1 && levels <= LG_PYR_MAX_LEVELS, LG_ERR_ARG,
             "lg_pyramid_new: levels %d not in [1, %d]", levels, LG_PYR_MAX_LEVELS);
    LG_CHECK(n > 0 && c > 0, LG_ERR_SHAPE, "lg_pyramid_new: bad n=%d c=%d", n, c);
    for (int k = 0; k < levels; k++) {
        LG_CHECK(sizes[k] > 0 && (k == 0 || sizes[k] < sizes[k - 1]), LG_ERR_SHAPE,
                 "lg_pyramid_new: level sizes must decrease, size[%d] = %d", k, sizes[k]);
    }
    size_t numel;
    LG_CHECK(!lg_mul_overflow((size_t)n * c, (size_t)sizes[0] * sizes[0], &numel), LG_ERR_NOMEM,
             "lg_pyramid_new: size overflow");
    lg_pyramid *p = calloc(1, sizeof *p);
    LG_CHECK(p, LG_ERR_NOMEM, "lg_pyramid_new: out of memory");
    p->levels = levels;
    p->n = n;
    p->c = c;
    p->filter = f;
    for (int k = 0; k < levels; k++) {
        p->size[k] = sizes[k];
        p->band[k] = lg_alloc_floats(level_numel(p, k));
        if (!p->band[k]) {
            lg_pyramid_free(p);
            return LG_ERR_NOMEM;
        }
    }
    *out = p;
    return LG_OK;
}

void lg_pyramid_free(lg_pyramid *p) {
    if (!p) return;
    for (int k = 0; k < p->levels; k++) lg_free(p->band[k]);
    free(p);
}

lg_status lg_pyramid_build(lg_pyramid *p, const float *images) {
    LG_CHECK(p && images, LG_ERR_ARG, "lg_pyramid_build: NULL argument");
    memcpy(p->band[0], images, level_numel(p, 0) * sizeof(float));
    for (int k = 0; k + 1 < p->levels; k++) {
        int s = p->size[k], t = p->size[k + 1];
        LG_TRY(lg_pyr_down(p->filter, p->band[k], p->n, p->c, s, s, p->band[k + 1], t, t));
    }
    /* Ascending k: band[k+1] still holds I_{k+1} when h_k is formed. */
    for (int k = 0; k + 1 < p->levels; k++) {
        int s = p->size[k], t = p->size[k + 1];
        LG_TRY(lg_pyr_resample(p->filter, 0, p->band[k + 1], p->n, p->c, t, t, p->band[k], s, s,
                               -1.f, 1.f));
    }
    return LG_OK;
}

lg_status lg_pyramid_reconstruct(const lg_pyramid *p, int k, float *out) {
    LG_CHECK(p && out, LG_ERR_ARG, "lg_pyramid_reconstruct: NULL argument");
    LG_CHECK(k >= 0 && k < p->levels, LG_ERR_ARG, "lg_pyramid_reconstruct: level %d not in [0, %d)",
             k, p->levels);
    int K = p->levels - 1;
    if (k == K) {
        memcpy(out, p->band[K], level_numel(p, K) * sizeof(float));
        return LG_OK;
    }
    /* I_j for k < j < K lives in tmp or out, alternating so that I_k ends in out. */
    float *tmp = NULL;
    if (K - k >= 2) {
        tmp = lg_alloc_floats(level_numel(p, k + 1));
        LG_CHECK(tmp, LG_ERR_NOMEM, "lg_pyramid_reconstruct: out of memory");
    }
    const float *src = p->band[K];
    lg_status st = LG_OK;
    for (int j = K - 1; j >= k && st == LG_OK; j--) {
        float *dst = (j - k) % 2 == 0 ? out : tmp;
        memcpy(dst, p->band[j], level_numel(p, j) * sizeof(float));
        st = lg_pyr_resample(p->filter, 0, src, p->n, p->c, p->size[j + 1], p->size[j + 1], dst,
                             p->size[j], p->size[j], 1.f, 1.f);
        src = dst;
    }
    lg_free(tmp);
    return st;
}
