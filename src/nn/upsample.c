/* 2x upsampling, nearest and bilinear. Bilinear matches PyTorch's
 * F.interpolate(scale_factor=2, mode='bilinear', align_corners=False): output
 * index o reads source coordinate o/2 - 1/4 (clamped at 0), which gives the
 * fixed taps 1/4, 3/4 below. Backward scatters dy through the same taps; each
 * (sample, channel) plane is one OpenMP iteration, so sums are deterministic. */
#include <string.h>

#include "nn/layer.h"

/* Taps of output index o on an axis of n inputs: x[i0] w0 + x[i1] w1. */
static inline void taps(int o, int n, int *i0, int *i1, float *w0, float *w1) {
    int i = o >> 1;
    if (o & 1) {
        *i0 = i;
        *i1 = i + 1 < n ? i + 1 : i;
        *w0 = 0.75f;
        *w1 = 0.25f;
    } else {
        *i0 = i > 0 ? i - 1 : 0;
        *i1 = i;
        *w0 = 0.25f;
        *w1 = 0.75f;
    }
}

lg_status lg_upsample_forward(lg_layer *l, const lg_layer_ctx *c, const float *x) {
    const int planes = c->batch * l->ci, hi = l->hi, wi = l->wi, ho = l->ho, wo = l->wo;
    const int bilinear = l->s.kind == LG_LAYER_UPSAMPLE_BILINEAR;
#pragma omp parallel for schedule(static)
    for (int pl = 0; pl < planes; pl++) {
        const float *xp = x + (size_t)pl * hi * wi;
        float *yp = l->y + (size_t)pl * ho * wo;
        for (int oh = 0; oh < ho; oh++) {
            float *yr = yp + (size_t)oh * wo;
            if (!bilinear) {
                const float *xr = xp + (size_t)(oh >> 1) * wi;
                for (int ow = 0; ow < wo; ow++) yr[ow] = xr[ow >> 1];
                continue;
            }
            int h0, h1;
            float a0, a1;
            taps(oh, hi, &h0, &h1, &a0, &a1);
            const float *r0 = xp + (size_t)h0 * wi, *r1 = xp + (size_t)h1 * wi;
            for (int ow = 0; ow < wo; ow++) {
                int w0, w1;
                float b0, b1;
                taps(ow, wi, &w0, &w1, &b0, &b1);
                yr[ow] = a0 * (b0 * r0[w0] + b1 * r0[w1]) + a1 * (b0 * r1[w0] + b1 * r1[w1]);
            }
        }
    }
    return LG_OK;
}

void lg_upsample_backward(lg_layer *l, const lg_layer_ctx *c, const float *x, const float *dy,
                          float *dx) {
    if (!dx) return;
    const int planes = c->batch * l->ci, hi = l->hi, wi = l->wi, ho = l->ho, wo = l->wo;
    const int bilinear = l->s.kind == LG_LAYER_UPSAMPLE_BILINEAR;
#pragma omp parallel for schedule(static)
    for (int pl = 0; pl < planes; pl++) {
        float *xp = dx + (size_t)pl * hi * wi;
        const float *gp = dy + (size_t)pl * ho * wo;
        memset(xp, 0, sizeof(float) * hi * wi);
        for (int oh = 0; oh < ho; oh++) {
            const float *gr = gp + (size_t)oh * wo;
            if (!bilinear) {
                float *xr = xp + (size_t)(oh >> 1) * wi;
                for (int ow = 0; ow < wo; ow++) xr[ow >> 1] += gr[ow];
                continue;
            }
            int h0, h1;
            float a0, a1;
            taps(oh, hi, &h0, &h1, &a0, &a1);
            float *r0 = xp + (size_t)h0 * wi, *r1 = xp + (size_t)h1 * wi;
            for (int ow = 0; ow < wo; ow++) {
                int w0, w1;
                float b0, b1;
                taps(ow, wi, &w0, &w1, &b0, &b1);
                r0[w0] += a0 * b0 * gr[ow];
                r0[w1] += a0 * b1 * gr[ow];
                r1[w0] += a1 * b0 * gr[ow];
                r1[w1] += a1 * b1 * gr[ow];
            }
        }
    }
}
