/* Optimisers over the flat parameter array: one elementwise loop each.
 * SGD: v = mu v + (g + wd p); p -= lr v   (torch.optim.SGD, dampening 0; a
 *      zero-initialised v gives PyTorch's v = g on the first step).
 * Adam: g += wd p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 *      p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)   (torch.optim.Adam). */
#include <math.h>

#include "core/check.h"
#include "lapgan/nn.h"

struct lg_optim {
    lg_optim_cfg cfg;
    size_t n;
    float *state; /* SGD: velocity [n]; Adam: m [n] then v [n] */
    int64_t t;
};

#define LG_OPT_PAR_MIN 16384

lg_status lg_optim_new(lg_optim **out, const lg_optim_cfg *cfg, size_t nparams) {
    LG_CHECK(out, LG_ERR_ARG, "lg_optim_new: out is NULL");
    *out = NULL;
    LG_CHECK(cfg, LG_ERR_ARG, "lg_optim_new: cfg is NULL");
    LG_CHECK(cfg->kind == LG_OPT_SGD || cfg->kind == LG_OPT_ADAM, LG_ERR_ARG,
             "lg_optim_new: unknown optimiser kind %d", (int)cfg->kind);
    LG_CHECK(nparams > 0, LG_ERR_ARG, "lg_optim_new: no parameters to optimise");
    LG_CHECK(cfg->lr >= 0 && isfinite(cfg->lr) && cfg->momentum >= 0 && cfg->weight_decay >= 0 &&
                 cfg->lr_decay >= 0 && cfg->lr_min >= 0 && cfg->mom_step >= 0 &&
                 cfg->mom_max >= 0,
             LG_ERR_ARG, "lg_optim_new: lr, momentum, weight decay and schedule must be >= 0");
    LG_CHECK(cfg->beta1 >= 0 && cfg->beta1 < 1 && cfg->beta2 >= 0 && cfg->beta2 < 1 &&
                 cfg->eps >= 0,
             LG_ERR_ARG, "lg_optim_new: Adam betas must be in [0, 1) and eps >= 0");
    LG_CHECK(nparams <= SIZE_MAX / 8, LG_ERR_NOMEM, "lg_optim_new: %zu parameters is too many",
             nparams);
    lg_optim *o = lg_alloc(sizeof *o);
    if (!o) return LG_ERR_NOMEM;
    o->cfg = *cfg;
    if (o->cfg.beta1 == 0) o->cfg.beta1 = 0.9f;
    if (o->cfg.beta2 == 0) o->cfg.beta2 = 0.999f;
    if (o->cfg.eps == 0) o->cfg.eps = 1e-8f;
    o->n = nparams;
    o->state = lg_alloc_floats(cfg->kind == LG_OPT_ADAM ? 2 * nparams : nparams);
    if (!o->state) {
        lg_free(o);
        return LG_ERR_NOMEM;
    }
    *out = o;
    return LG_OK;
}

void lg_optim_free(lg_optim *o) {
    if (!o) return;
    lg_free(o->state);
    lg_free(o);
}

void lg_optim_schedule(const lg_optim_cfg *cfg, double epoch, float *lr, float *mom) {
    if (!cfg) return;
    double r = cfg->lr / pow(1.0 + cfg->lr_decay, epoch);
    if (r < cfg->lr_min) r = cfg->lr_min;
    double m;
    if (cfg->kind == LG_OPT_ADAM) {
        m = cfg->beta1 == 0 ? 0.9 : cfg->beta1;
    } else {
        m = cfg->momentum + cfg->mom_step * epoch;
        if (cfg->mom_max > 0 && m > cfg->mom_max) m = cfg->mom_max;
    }
    if (lr) *lr = (float)r;
    if (mom) *mom = (float)m;
}

lg_status lg_optim_step(lg_optim *o, float *params, const float *grads, double epoch) {
    LG_CHECK(o && params && grads, LG_ERR_ARG, "lg_optim_step: NULL argument");
    LG_CHECK(epoch >= 0, LG_ERR_ARG, "lg_optim_step: epoch %g < 0", epoch);
    float lr, mom;
    lg_optim_schedule(&o->cfg, epoch, &lr, &mom);
    const float wd = o->cfg.weight_decay;
    const long n = (long)o->n;
    o->t++;
    if (o->cfg.kind == LG_OPT_SGD) {
        float *restrict v = o->state;
#pragma omp parallel for simd schedule(static) if (n >= LG_OPT_PAR_MIN)
        for (long i = 0; i < n; i++) {
            v[i] = mom * v[i] + (grads[i] + wd * params[i]);
            params[i] -= lr * v[i];
        }
        return LG_OK;
    }
    const float b1 = o->cfg.beta1, b2 = o->cfg.beta2, eps = o->cfg.eps;
    const float step = lr / (float)(1.0 - pow(b1, (double)o->t));
    const float bc2 = (float)sqrt(1.0 - pow(b2, (double)o->t));
    float *restrict m = o->state, *restrict v = o->state + o->n;
#pragma omp parallel for simd schedule(static) if (n >= LG_OPT_PAR_MIN)
    for (long i = 0; i < n; i++) {
        const float g = grads[i] + wd * params[i];
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        params[i] -= step * (m[i] / (sqrtf(v[i]) / bc2 + eps));
    }
    return LG_OK;
}

float *lg_optim_state(lg_optim *o, size_t *n) {
    if (n) *n = o ? (o->cfg.kind == LG_OPT_ADAM ? 2 * o->n : o->n) : 0;
    return o ? o->state : NULL;
}

int64_t *lg_optim_t(lg_optim *o) { return o ? &o->t : NULL; }
