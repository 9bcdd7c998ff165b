/* Weight initialisation, drawn from the net's Philox stream in layer order
 * (weight, then bias), so a seed fixes every bit.
 * LG_INIT_TORCH: PyTorch's defaults. kaiming_uniform_(a = sqrt 5) has gain
 *   sqrt(2 / (1 + 5)) and bound gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in),
 *   the same bound PyTorch uses for the bias; BN gamma 1, beta 0.
 * LG_INIT_NORMAL: the DCGAN recipe. Weights N(0, std^2), bias 0, BN gamma
 *   N(1, std^2), beta 0. */
#include <math.h>

#include "nn/layer.h"

static void fill(float *p, size_t n, float v) {
    for (size_t i = 0; i < n; i++) p[i] = v;
}

void lg_layer_init(lg_layer *l, lg_rng *rng) {
    const lg_layer_spec *s = &l->s;
    if (s->kind == LG_LAYER_BATCHNORM) {
        fill(l->rmean, l->ci, 0.0f);
        fill(l->rvar, l->ci, 1.0f);
        if (!l->w) return;
        if (s->init == LG_INIT_NORMAL)
            lg_rng_normal(rng, l->w, l->ci, 1.0f, s->init_std);
        else
            fill(l->w, l->ci, 1.0f);
        fill(l->b, l->ci, 0.0f);
        return;
    }
    if (!l->w) return;
    const size_t fan_in = s->kind == LG_LAYER_CONV2D ? (size_t)(l->ci / s->groups) * s->k * s->k
                                                     : lg_layer_in_numel(l);
    const size_t nw = fan_in * (size_t)l->co;
    if (s->init == LG_INIT_NORMAL) {
        lg_rng_normal(rng, l->w, nw, 0.0f, s->init_std);
        if (l->b) fill(l->b, l->co, 0.0f);
    } else {
        const float bound = 1.0f / sqrtf((float)fan_in);
        lg_rng_uniform(rng, l->w, nw, -bound, bound);
        if (l->b) lg_rng_uniform(rng, l->b, l->co, -bound, bound);
    }
}
