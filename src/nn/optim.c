/* Optimisers over the flat parameter array: the schedule and bookkeeping
 * here, the elementwise update as the backend's sgd_update / adam_update.
 * SGD, with g' = g + wd p and d the dampening (mu for Torch7's optim.sgd,
 *      0 for torch.optim.SGD): v = mu v + (1 - d) g'; p -= lr v. Like both
 *      libraries, the first step with mu != 0 sets v = g' (no dampening),
 *      and a step with mu == 0 keeps no buffer: p -= lr g'.
 * Adam: g += wd p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 *      p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)   (torch.optim.Adam). */
#include <math.h>
#include <string.h>

#include "backend/ops.h"
#include "core/check.h"

struct lg_optim {
    lg_optim_cfg cfg;
    size_t n;
    float *state; /* SGD: velocity [n]; Adam: m [n] then v [n] */
    int64_t t;
    const lg_backend *be;
};

static const char *const sgd_style_names[LG_SGD_STYLE_COUNT] = {"pytorch", "torch7"};

const char *lg_sgd_style_name(lg_sgd_style s) {
    return s >= 0 && s < LG_SGD_STYLE_COUNT ? sgd_style_names[s] : "?";
}

lg_status lg_sgd_style_parse(const char *name, lg_sgd_style *out) {
    LG_CHECK(name && out, LG_ERR_ARG, "lg_sgd_style_parse: NULL argument");
    for (int i = 0; i < LG_SGD_STYLE_COUNT; i++)
        if (!strcmp(name, sgd_style_names[i])) {
            *out = (lg_sgd_style)i;
            return LG_OK;
        }
    return lg_error(LG_ERR_ARG, "unknown momentum style '%s' (torch7 or pytorch)", name);
}

lg_status lg_optim_new(lg_optim **out, const lg_optim_cfg *cfg, size_t nparams) {
    LG_CHECK(out, LG_ERR_ARG, "lg_optim_new: out is NULL");
    *out = NULL;
    LG_CHECK(cfg, LG_ERR_ARG, "lg_optim_new: cfg is NULL");
    LG_CHECK(cfg->kind == LG_OPT_SGD || cfg->kind == LG_OPT_ADAM, LG_ERR_ARG,
             "lg_optim_new: unknown optimiser kind %d", (int)cfg->kind);
    LG_CHECK(cfg->sgd_style >= 0 && cfg->sgd_style < LG_SGD_STYLE_COUNT, LG_ERR_ARG,
             "lg_optim_new: unknown momentum style %d", (int)cfg->sgd_style);
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
    o->n = nparams;
    o->be = lg_backend_get(LG_BACKEND_CPU);
    o->state = lg_alloc_floats(cfg->kind == LG_OPT_ADAM ? 2 * nparams : nparams);
    if (!o->state) {
        lg_free(o);
        return LG_ERR_NOMEM;
    }
    *out = o;
    return LG_OK;
}

lg_optim_cfg lg_optim_defaults(lg_opt_kind kind, float lr) {
    lg_optim_cfg c = {.kind = kind, .sgd_style = LG_SGD_PYTORCH, .lr = lr, .beta1 = LG_ADAM_BETA1,
                      .beta2 = LG_ADAM_BETA2, .eps = LG_ADAM_EPS, .mom_max = 1.0f};
    return c;
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
        m = cfg->beta1;
    } else {
        m = cfg->momentum + cfg->mom_step * epoch;
        if (m > cfg->mom_max) m = cfg->mom_max;
    }
    if (lr) *lr = (float)r;
    if (mom) *mom = (float)m;
}

lg_status lg_optim_use_backend(lg_optim *o, lg_backend_kind k) {
    LG_CHECK(o, LG_ERR_ARG, "lg_optim_use_backend: NULL optimiser");
    LG_TRY(lg_backend_check(k));
    o->be = lg_backend_get(k);
    return LG_OK;
}

/* The buffer's first write copies g' (a = 0, b = 1); later ones take
 * v = mu v + (1 - d) g'. t counts the writes, so a checkpoint's t says
 * whether the buffer has been set. */
static lg_status sgd_step(lg_optim *o, float *params, const float *grads, float lr, float mom) {
    lg_update_desc d = {.n = o->n, .lr = lr, .wd = o->cfg.weight_decay};
    if (mom == 0) return o->be->sgd_update(&d, params, grads, NULL);
    const float damp = o->cfg.sgd_style == LG_SGD_TORCH7 ? mom : 0.0f;
    d.a = o->t ? mom : 0.0f, d.b = o->t ? 1.0f - damp : 1.0f;
    LG_TRY(o->be->sgd_update(&d, params, grads, o->state));
    o->t++;
    return LG_OK;
}

lg_status lg_optim_step(lg_optim *o, float *params, const float *grads, double epoch) {
    LG_CHECK(o && params && grads, LG_ERR_ARG, "lg_optim_step: NULL argument");
    LG_CHECK(epoch >= 0, LG_ERR_ARG, "lg_optim_step: epoch %g < 0", epoch);
    float lr, mom;
    lg_optim_schedule(&o->cfg, epoch, &lr, &mom);
    if (o->cfg.kind == LG_OPT_SGD) return sgd_step(o, params, grads, lr, mom);
    o->t++;
    const float b1 = o->cfg.beta1;
    const lg_update_desc d = {.n = o->n, .wd = o->cfg.weight_decay,
                              .step = lr / (float)(1.0 - pow(b1, (double)o->t)),
                              .bc2 = (float)sqrt(1.0 - pow(o->cfg.beta2, (double)o->t)),
                              .beta1 = b1, .beta2 = o->cfg.beta2, .eps = o->cfg.eps};
    return o->be->adam_update(&d, params, grads, o->state, o->state + o->n);
}

float *lg_optim_state(lg_optim *o, size_t *n) {
    if (n) *n = o ? (o->cfg.kind == LG_OPT_ADAM ? 2 * o->n : o->n) : 0;
    return o ? o->state : NULL;
}

int64_t *lg_optim_t(lg_optim *o) { return o ? &o->t : NULL; }
