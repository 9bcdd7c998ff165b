/* Sequential networks. lg_net_new plans every shape first (the only fallible
 * phase that can name a bad layer), then makes three flat arrays (params,
 * grads, buffers) and one arena for everything a step touches: the input
 * copy, each layer's output, BN statistics and dropout masks, two ping-pong
 * gradient buffers and the conv workspace. Forward and backward then only
 * walk the layers. */
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/check.h"
#include "nn/layer.h"

struct lg_net {
    lg_net_cfg cfg;
    const lg_backend *be;
    int nlayers;
    lg_layer *layers;
    float *params, *grads, *buffers;
    size_t nparams, nbuffers;
    float *mem;     /* the step arena */
    float *input;   /* copy of the last forward's input: layer 0 may need it in backward */
    size_t gmax, wsmax; /* floats of each gradient buffer and of the conv workspace */
    int ntensors;
    lg_net_tensor_info *tensors;
    lg_rng rng;
    const uint64_t *rows; /* dropout row ids, or NULL */
    uint64_t *fwd_rows;   /* the last forward's row ids, for dropout's backward */
    int fwd_has_rows;
    int in_scratch;       /* counted among the shared scratch's users */
    int own_grads;        /* grads is ours to free (not bound to a caller's buffer) */
    int batch; /* of the last successful forward; 0 before any */
    size_t mem_floats; /* activations and step state, for max_batch samples */
};

static const char *const lg__kind_names[LG_LAYER_KIND_COUNT] = {
    "linear",  "conv2d",   "relu",    "leaky_relu", "sigmoid",          "tanh",
    "batchnorm", "dropout", "flatten", "reshape",   "upsample_nearest", "upsample_bilinear",
    "feature_l2pool",
};

const char *lg_layer_kind_name(lg_layer_kind k) {
    return (int)k >= 0 && k < LG_LAYER_KIND_COUNT ? lg__kind_names[k] : "unknown";
}

static int aliases_input(lg_layer_kind k) { return k == LG_LAYER_FLATTEN || k == LG_LAYER_RESHAPE; }

static int is_activation(lg_layer_kind k) {
    return k == LG_LAYER_RELU || k == LG_LAYER_LEAKY_RELU || k == LG_LAYER_SIGMOID ||
           k == LG_LAYER_TANH;
}

/* Whether an activation's backward gives the same result when handed its
 * output where it expects its input. ReLU/LeakyReLU read only "x > 0",
 * which y > 0 reproduces exactly when the slope is >= 0 (slope 0 is ReLU);
 * a negative slope maps x < 0 to y > 0, so it must keep its input.
 * Sigmoid/Tanh read their output anyway. */
static int backward_from_output(const lg_layer_spec *s) {
    return s->kind != LG_LAYER_LEAKY_RELU || s->slope >= 0;
}

/* Elementwise layers may overwrite their input when the layer below never
 * reads its own output in backward (conv, linear and batch norm read their
 * input) and their own backward can be computed from their output
 * (backward_from_output). Dropout reads only its mask; over a ReLU/LeakyReLU
 * it keeps the sign that activation's backward reads when the activation
 * runs in place (where dropout zeroed a value, dy is zero too), and an
 * activation that does not run in place reads its own, untouched input.
 * Saves one activation-sized buffer per hidden layer, as PyTorch's
 * inplace=True does. Layer 0 keeps the net's input copy intact. */
static int in_place(const lg_net *net, int i) {
    if (i == 0) return 0;
    lg_layer_kind k = net->layers[i].s.kind, below = net->layers[i - 1].s.kind;
    int reads_input = below == LG_LAYER_CONV2D || below == LG_LAYER_LINEAR ||
                      below == LG_LAYER_BATCHNORM;
    if (is_activation(k)) return reads_input && backward_from_output(&net->layers[i].s);
    return k == LG_LAYER_DROPOUT &&
           (reads_input || below == LG_LAYER_RELU || below == LG_LAYER_LEAKY_RELU);
}

/* Sets "layer I (kind): <message>" and returns st. */
#define LAYER_ERR(st, l, ...) lg__layer_error((st), (l), __VA_ARGS__)
__attribute__((format(printf, 3, 4))) static lg_status lg__layer_error(lg_status st, const lg_layer *l, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return lg_error(st, "layer %d (%s): %s", l->index, lg_layer_kind_name(l->s.kind), msg);
}

/* Fills spec defaults, checks the fields and derives the output shape. */
static lg_status plan_layer(lg_layer *l) {
    lg_layer_spec *s = &l->s;
    if ((int)s->kind < 0 || s->kind >= LG_LAYER_KIND_COUNT)
        return lg_error(LG_ERR_ARG, "layer %d: unknown kind %d", l->index, (int)s->kind);
    if (s->init != LG_INIT_TORCH && s->init != LG_INIT_NORMAL)
        return LAYER_ERR(LG_ERR_ARG, l, "unknown init %d", (int)s->init);
    if (!(s->init_std >= 0)) return LAYER_ERR(LG_ERR_ARG, l, "init_std %g < 0", s->init_std);
    if (s->init_std == 0) s->init_std = 0.02f;
    l->co = l->ci;
    l->ho = l->hi;
    l->wo = l->wi;
    switch (s->kind) {
    case LG_LAYER_LINEAR:
        if (s->out <= 0) return LAYER_ERR(LG_ERR_ARG, l, "out features must be positive, got %d", s->out);
        l->co = s->out;
        l->ho = l->wo = 1;
        break;
    case LG_LAYER_CONV2D:
        if (s->out <= 0) return LAYER_ERR(LG_ERR_ARG, l, "out channels must be positive, got %d", s->out);
        if (s->k <= 0) return LAYER_ERR(LG_ERR_ARG, l, "kernel size must be positive, got %d", s->k);
        if (s->stride < 0 || s->pad < 0)
            return LAYER_ERR(LG_ERR_ARG, l, "stride %d / pad %d must not be negative", s->stride, s->pad);
        if (s->stride == 0) s->stride = 1;
        if (s->groups < 0) return LAYER_ERR(LG_ERR_ARG, l, "groups %d must not be negative", s->groups);
        if (s->groups == 0) s->groups = 1;
        if (l->ci % s->groups || s->out % s->groups)
            return LAYER_ERR(LG_ERR_SHAPE, l, "%d groups do not divide %d input and %d output channels",
                             s->groups, l->ci, s->out);
        if (l->hi + 2 * s->pad < s->k || l->wi + 2 * s->pad < s->k)
            return LAYER_ERR(LG_ERR_SHAPE, l, "input %dx%d smaller than kernel %d (padding %d)",
                             l->hi, l->wi, s->k, s->pad);
        l->co = s->out;
        l->ho = (l->hi + 2 * s->pad - s->k) / s->stride + 1;
        l->wo = (l->wi + 2 * s->pad - s->k) / s->stride + 1;
        break;
    case LG_LAYER_LEAKY_RELU:
        if (!(s->slope > -1e30f && s->slope < 1e30f))
            return LAYER_ERR(LG_ERR_ARG, l, "slope %g is not finite", s->slope);
        break; /* 0 is a slope (ReLU); lg_layer_defaults has the usual 0.2 */
    case LG_LAYER_BATCHNORM:
        if (!(s->eps >= 0) || !(s->momentum >= 0 && s->momentum <= 1))
            return LAYER_ERR(LG_ERR_ARG, l, "eps %g must be >= 0 and momentum %g in [0, 1]",
                             s->eps, s->momentum);
        break; /* 0 is a setting for both; lg_layer_defaults has PyTorch's */
    case LG_LAYER_DROPOUT:
        if (!(s->p >= 0 && s->p <= 1))
            return LAYER_ERR(LG_ERR_ARG, l, "drop probability %g outside [0, 1]", s->p);
        break;
    case LG_LAYER_FLATTEN:
        l->co = l->ci * l->hi * l->wi;
        l->ho = l->wo = 1;
        break;
    case LG_LAYER_RESHAPE: {
        if (s->c <= 0 || s->h <= 0 || s->w <= 0)
            return LAYER_ERR(LG_ERR_ARG, l, "target %dx%dx%d must be positive", s->c, s->h, s->w);
        size_t want = (size_t)s->c * s->h * s->w;
        if (want != lg_layer_in_numel(l))
            return LAYER_ERR(LG_ERR_SHAPE, l, "cannot reshape %dx%dx%d (%zu values) to %dx%dx%d (%zu)",
                             l->ci, l->hi, l->wi, lg_layer_in_numel(l), s->c, s->h, s->w, want);
        l->co = s->c;
        l->ho = s->h;
        l->wo = s->w;
        break;
    }
    case LG_LAYER_FEATURE_L2POOL:
        if (s->k <= 0 || l->ci % s->k)
            return LAYER_ERR(LG_ERR_SHAPE, l, "pool width %d does not divide %d maps", s->k, l->ci);
        l->co = l->ci / s->k;
        break;
    case LG_LAYER_UPSAMPLE_NEAREST:
    case LG_LAYER_UPSAMPLE_BILINEAR:
        if (l->hi > INT_MAX / 2 || l->wi > INT_MAX / 2) return LAYER_ERR(LG_ERR_NOMEM, l, "output too large");
        l->ho = 2 * l->hi;
        l->wo = 2 * l->wi;
        break;
    default:
        break;
    }
    return LG_OK;
}

/* Parameter and buffer floats of a planned layer. */
static size_t weight_numel(const lg_layer *l) {
    switch (l->s.kind) {
    case LG_LAYER_LINEAR: return lg_layer_in_numel(l) * (size_t)l->co;
    case LG_LAYER_CONV2D: return (size_t)l->co * (l->ci / l->s.groups) * l->s.k * l->s.k;
    case LG_LAYER_BATCHNORM: return l->s.no_affine ? 0 : (size_t)l->ci;
    default: return 0;
    }
}
static size_t bias_numel(const lg_layer *l) {
    if (l->s.kind == LG_LAYER_BATCHNORM) return l->s.no_affine ? 0 : (size_t)l->ci;
    if (l->s.kind == LG_LAYER_LINEAR || l->s.kind == LG_LAYER_CONV2D) return l->s.no_bias ? 0 : (size_t)l->co;
    return 0;
}
/* Step-arena floats beyond the output: BN mean/invstd (dropout stores no
 * mask: backward draws it again, dropout.c). */
static size_t aux_numel(const lg_layer *l, size_t max_batch) {
    (void)max_batch;
    return l->s.kind == LG_LAYER_BATCHNORM ? 2 * (size_t)l->ci : 0;
}

static void add_tensor(lg_net *net, const lg_layer *l, const char *what, int kind, size_t offset,
                       size_t numel) {
    lg_net_tensor_info *t = &net->tensors[net->ntensors++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%d.%s.%s", l->index, lg_layer_kind_name(l->s.kind), what);
    t->kind = kind;
    t->offset = offset;
    t->numel = numel;
    if (l->s.kind == LG_LAYER_CONV2D && !strcmp(what, "weight")) {
        t->ndim = 4;
        t->shape[0] = l->co;
        t->shape[1] = l->ci / l->s.groups;
        t->shape[2] = t->shape[3] = l->s.k;
    } else if (l->s.kind == LG_LAYER_LINEAR && !strcmp(what, "weight")) {
        t->ndim = 2;
        t->shape[0] = l->co;
        t->shape[1] = (int)lg_layer_in_numel(l);
    } else {
        t->ndim = 1;
        t->shape[0] = (int)numel;
    }
}

/* Plans shapes, lays out the flat arrays and names the tensors. */
static lg_status plan(lg_net *net, const lg_layer_spec *specs) {
    const lg_net_cfg *cfg = &net->cfg;
    int c = cfg->c, h = cfg->h, w = cfg->w;
    for (int i = 0; i < net->nlayers; i++) {
        lg_layer *l = &net->layers[i];
        l->s = specs[i];
        l->index = i;
        l->ci = c;
        l->hi = h;
        l->wi = w;
        LG_TRY(plan_layer(l));
        /* GEMM dimensions are ints: keep every batch activation below 2^31. */
        size_t out;
        if (lg_mul_overflow(lg_layer_out_numel(l), (size_t)cfg->max_batch, &out) || out > INT_MAX ||
            weight_numel(l) > INT_MAX)
            return LAYER_ERR(LG_ERR_NOMEM, l, "%dx%dx%d output for batch %d is too large (a batch's "
                             "activation must stay below 2^31 values: batch at most %zu, or "
                             "fewer maps)", l->co, l->ho, l->wo, cfg->max_batch,
                             lg_layer_out_numel(l) ? (size_t)INT_MAX / lg_layer_out_numel(l) : 0);
        c = l->co;
        h = l->ho;
        w = l->wo;
        net->nparams += weight_numel(l) + bias_numel(l);
        if (l->s.kind == LG_LAYER_BATCHNORM) net->nbuffers += 2 * (size_t)l->ci;
    }
    net->tensors = lg_alloc(sizeof(lg_net_tensor_info) * 4 * (size_t)net->nlayers);
    if (!net->tensors) return LG_ERR_NOMEM;
    size_t po = 0, bo = 0;
    for (int i = 0; i < net->nlayers; i++) {
        lg_layer *l = &net->layers[i];
        size_t nw = weight_numel(l), nb = bias_numel(l);
        if (nw) add_tensor(net, l, "weight", 0, po, nw);
        if (nb) add_tensor(net, l, "bias", 0, po + nw, nb);
        po += nw + nb;
        if (l->s.kind == LG_LAYER_BATCHNORM) {
            add_tensor(net, l, "running_mean", 1, bo, l->ci);
            add_tensor(net, l, "running_var", 1, bo + l->ci, l->ci);
            bo += 2 * (size_t)l->ci;
        }
    }
    return LG_OK;
}

/* ---- the shared scratch ---------------------------------------------------
 * The two activation-gradient buffers a backward pass ping-pongs between and
 * the convolution workspace hold nothing between calls, so all nets of the
 * process share one scratch, as large as the largest net needs: a LAPGAN
 * level's G and D, and every level of a run, never compute at the same time.
 * A forward or backward pass holds the lock, so nets used from several
 * threads at once take turns instead of corrupting each other. The scratch
 * grows only in lg_net_new (never inside a step) and is freed with the last
 * net. */
static struct {
    pthread_mutex_t lock;
    float *buf;
    size_t n;
    int users;
} g_scratch = {.lock = PTHREAD_MUTEX_INITIALIZER};

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

static lg_status scratch_join(size_t need) {
    lg_status st = LG_OK;
    pthread_mutex_lock(&g_scratch.lock);
    if (need > g_scratch.n) {
        float *b = lg_alloc_floats(need);
        if (b) {
            lg_free(g_scratch.buf);
            g_scratch.buf = b;
            g_scratch.n = need;
        } else {
            st = LG_ERR_NOMEM;
        }
    }
    if (st == LG_OK) g_scratch.users++;
    pthread_mutex_unlock(&g_scratch.lock);
    return st;
}

static void scratch_leave(void) {
    pthread_mutex_lock(&g_scratch.lock);
    if (--g_scratch.users == 0) {
        lg_free(g_scratch.buf);
        g_scratch.buf = NULL;
        g_scratch.n = 0;
    }
    pthread_mutex_unlock(&g_scratch.lock);
}

static size_t scratch_need(const lg_net *net) { return 2 * round16(net->gmax) + net->wsmax; }

/* Carves n floats off *p, rounded up to 16 so every block stays 64-byte aligned. */
static float *take(float **p, size_t n) {
    float *block = *p;
    *p += (n + 15) & ~(size_t)15;
    return block;
}

/* Points every layer at its parameters, buffers and step memory. */
static lg_status allocate(lg_net *net) {
    const size_t mb = (size_t)net->cfg.max_batch;
    /* +1: a net without parameters still gets valid (empty) arrays */
    net->params = lg_alloc_floats(net->nparams + 1);
    net->grads = lg_alloc_floats(net->nparams + 1);
    net->own_grads = 1;
    net->buffers = lg_alloc_floats(net->nbuffers + 1);
    if (!net->params || !net->grads || !net->buffers) return LG_ERR_NOMEM;

    size_t in0 = (size_t)net->cfg.c * net->cfg.h * net->cfg.w;
    size_t step = in0 * mb, gmax = 0, ws = 0;
    for (int i = 0; i < net->nlayers; i++) {
        const lg_layer *l = &net->layers[i];
        if (!aliases_input(l->s.kind) && !in_place(net, i)) step += mb * lg_layer_out_numel(l);
        step += aux_numel(l, mb);
        if (lg_layer_in_numel(l) * mb > gmax) gmax = lg_layer_in_numel(l) * mb;
        if (l->s.kind == LG_LAYER_CONV2D) {
            lg_conv_desc d;
            lg_conv_desc_of(l, (int)mb, &d);
            size_t need = net->be->conv_workspace(&d);
            if (need > ws) ws = need;
        }
    }
    /* slack for take()'s rounding of each block */
    step += 16 * (3 * (size_t)net->nlayers + 4);
    net->mem = lg_alloc_floats(step);
    net->mem_floats = step;
    net->fwd_rows = lg_alloc(sizeof(uint64_t) * mb);
    if (!net->mem || !net->fwd_rows) return LG_ERR_NOMEM;
    net->gmax = gmax;
    net->wsmax = ws;
    LG_TRY(scratch_join(scratch_need(net)));
    net->in_scratch = 1;

    float *p = net->mem;
    net->input = take(&p, in0 * mb);
    const float *prev = net->input;
    size_t po = 0, bo = 0;
    for (int i = 0; i < net->nlayers; i++) {
        lg_layer *l = &net->layers[i];
        size_t nw = weight_numel(l), nb = bias_numel(l);
        if (nw) {
            l->w = net->params + po;
            l->dw = net->grads + po;
        }
        if (nb) {
            l->b = net->params + po + nw;
            l->db = net->grads + po + nw;
        }
        po += nw + nb;
        if (l->s.kind == LG_LAYER_BATCHNORM) {
            l->rmean = net->buffers + bo;
            l->rvar = net->buffers + bo + l->ci;
            bo += 2 * (size_t)l->ci;
        }
        l->y = aliases_input(l->s.kind) || in_place(net, i) ? (float *)prev
                                                             : take(&p, mb * lg_layer_out_numel(l));
        if (aux_numel(l, mb)) l->aux = take(&p, aux_numel(l, mb));
        prev = l->y;
    }
    return LG_OK;
}

lg_status lg_net_new(lg_net **out, const lg_layer_spec *specs, int nlayers, const lg_net_cfg *cfg) {
    LG_CHECK(out, LG_ERR_ARG, "lg_net_new: out is NULL");
    *out = NULL;
    LG_CHECK(specs && cfg, LG_ERR_ARG, "lg_net_new: %s is NULL", specs ? "cfg" : "specs");
    LG_CHECK(nlayers > 0, LG_ERR_ARG, "lg_net_new: nlayers must be positive, got %d", nlayers);
    LG_CHECK(cfg->c > 0 && cfg->h > 0 && cfg->w > 0, LG_ERR_ARG,
             "lg_net_new: input shape %dx%dx%d must be positive", cfg->c, cfg->h, cfg->w);
    LG_CHECK(cfg->max_batch > 0, LG_ERR_ARG, "lg_net_new: max_batch must be positive, got %d",
             cfg->max_batch);
    LG_TRY(lg_backend_check(cfg->backend));
    const lg_backend *be = lg_backend_get(cfg->backend);

    lg_net *net = lg_alloc(sizeof *net);
    if (!net) return LG_ERR_NOMEM;
    net->cfg = *cfg;
    net->be = be;
    net->nlayers = nlayers;
    lg_status st = LG_ERR_NOMEM;
    net->layers = lg_alloc(sizeof(lg_layer) * (size_t)nlayers);
    if (!net->layers) goto fail;
    LG_TRY_GOTO(st, plan(net, specs), fail);
    LG_TRY_GOTO(st, allocate(net), fail);
    lg_rng_init(&net->rng, cfg->seed, cfg->stream);
    for (int i = 0; i < nlayers; i++) lg_layer_init(&net->layers[i], &net->rng);
    *out = net;
    return LG_OK;
fail:
    lg_net_free(net);
    return st;
}

void lg_net_free(lg_net *net) {
    if (!net) return;
    lg_free(net->layers);
    lg_free(net->params);
    if (net->own_grads) lg_free(net->grads);
    lg_free(net->buffers);
    lg_free(net->mem);
    lg_free(net->tensors);
    lg_free(net->fwd_rows);
    if (net->in_scratch) scratch_leave();
    lg_free(net);
}

void lg_net_out_shape(const lg_net *net, int *c, int *h, int *w) {
    const lg_layer *l = net ? &net->layers[net->nlayers - 1] : NULL;
    if (c) *c = l ? l->co : 0;
    if (h) *h = l ? l->ho : 0;
    if (w) *w = l ? l->wo : 0;
}

int lg_net_layer_count(const lg_net *net) { return net ? net->nlayers : 0; }

size_t lg_net_activation_bytes(const lg_net *net) {
    return net ? net->mem_floats * sizeof(float) : 0;
}

lg_status lg_net_layer_at(const lg_net *net, int i, lg_layer_spec *spec, int *c, int *h, int *w) {
    LG_CHECK(net && spec && c && h && w, LG_ERR_ARG, "lg_net_layer_at: NULL argument");
    LG_CHECK(i >= 0 && i < net->nlayers, LG_ERR_ARG, "lg_net_layer_at: layer %d not in [0, %d)",
             i, net->nlayers);
    const lg_layer *l = &net->layers[i];
    *spec = l->s;
    *c = l->ci;
    *h = l->hi;
    *w = l->wi;
    return LG_OK;
}

static lg_status layer_forward(lg_layer *l, const lg_layer_ctx *c, const float *x) {
    switch (l->s.kind) {
    case LG_LAYER_LINEAR: return lg_linear_forward(l, c, x);
    case LG_LAYER_CONV2D: return lg_conv2d_forward(l, c, x);
    case LG_LAYER_BATCHNORM: return lg_batchnorm_forward(l, c, x);
    case LG_LAYER_DROPOUT: return lg_dropout_forward(l, c, x);
    case LG_LAYER_UPSAMPLE_NEAREST:
    case LG_LAYER_UPSAMPLE_BILINEAR: return lg_upsample_forward(l, c, x);
    case LG_LAYER_FEATURE_L2POOL: return lg_featpool_forward(l, c, x);
    case LG_LAYER_FLATTEN:
    case LG_LAYER_RESHAPE: return LG_OK;
    default: return lg_act_forward(l, c, x);
    }
}

static lg_status layer_backward(lg_layer *l, const lg_layer_ctx *c, const float *x,
                                const float *dy, float *dx) {
    switch (l->s.kind) {
    case LG_LAYER_LINEAR: return lg_linear_backward(l, c, x, dy, dx);
    case LG_LAYER_CONV2D: return lg_conv2d_backward(l, c, x, dy, dx);
    case LG_LAYER_BATCHNORM: return lg_batchnorm_backward(l, c, x, dy, dx);
    case LG_LAYER_DROPOUT: return lg_dropout_backward(l, c, x, dy, dx);
    case LG_LAYER_UPSAMPLE_NEAREST:
    case LG_LAYER_UPSAMPLE_BILINEAR: return lg_upsample_backward(l, c, x, dy, dx);
    case LG_LAYER_FEATURE_L2POOL: return lg_featpool_backward(l, c, x, dy, dx);
    case LG_LAYER_FLATTEN:
    case LG_LAYER_RESHAPE:
        if (dx && dx != dy) memcpy(dx, dy, sizeof(float) * c->batch * lg_layer_in_numel(l));
        break;
    default: return lg_act_backward(l, c, x, dy, dx);
    }
    return LG_OK;
}

lg_status lg_net_forward(lg_net *net, const float *x, int batch, int train, const float **y) {
    LG_CHECK(net && x && y, LG_ERR_ARG, "lg_net_forward: %s is NULL",
             !net ? "net" : !x ? "x" : "y");
    LG_CHECK(batch > 0 && batch <= net->cfg.max_batch, LG_ERR_ARG,
             "lg_net_forward: batch %d outside [1, max_batch %d]", batch, net->cfg.max_batch);
    net->batch = 0;
    memcpy(net->input, x, sizeof(float) * batch * lg_layer_in_numel(&net->layers[0]));
    pthread_mutex_lock(&g_scratch.lock);
    const lg_layer_ctx ctx = {net->be, batch, train, 1, g_scratch.buf + 2 * round16(net->gmax),
                              &net->rng, net->rows, net->rng.offset * (uint64_t)net->nlayers};
    net->fwd_has_rows = net->rows != NULL;
    if (net->rows) memcpy(net->fwd_rows, net->rows, sizeof(uint64_t) * (size_t)batch);
    const float *cur = net->input;
    lg_status st = LG_OK;
    for (int i = 0; i < net->nlayers && st == LG_OK; i++) {
        st = layer_forward(&net->layers[i], &ctx, cur);
        cur = net->layers[i].y;
    }
    pthread_mutex_unlock(&g_scratch.lock);
    LG_TRY(st);
    if (train) net->rng.offset++;
    net->batch = batch;
    *y = cur;
    return LG_OK;
}

lg_status lg_net_backward(lg_net *net, const float *dy, float *dx, int param_grads) {
    LG_CHECK(net && dy, LG_ERR_ARG, "lg_net_backward: %s is NULL", net ? "dy" : "net");
    LG_CHECK(net->batch > 0, LG_ERR_ARG, "lg_net_backward: no forward pass to differentiate");
    /* Without dx, layers below the lowest parameterised one have nothing to do. */
    int lowest = 0;
    if (!dx) {
        if (!param_grads) return LG_OK;
        while (lowest < net->nlayers && !net->layers[lowest].w && !net->layers[lowest].b) lowest++;
        if (lowest == net->nlayers) return LG_OK;
    }
    pthread_mutex_lock(&g_scratch.lock);
    float *gbuf[2] = {g_scratch.buf, g_scratch.buf + round16(net->gmax)};
    const lg_layer_ctx ctx = {net->be, net->batch, 0, param_grads, gbuf[1] + round16(net->gmax),
                              &net->rng, net->fwd_has_rows ? net->fwd_rows : NULL, 0};
    const float *g = dy;
    lg_status st = LG_OK;
    for (int i = net->nlayers - 1; i >= lowest && st == LG_OK; i--) {
        lg_layer *l = &net->layers[i];
        const float *x = i ? net->layers[i - 1].y : net->input;
        float *out;
        if (i == 0)
            out = dx;
        else if (i == lowest)
            out = NULL;
        else if (aliases_input(l->s.kind))
            out = (float *)g; /* the gradient passes through unchanged */
        else
            out = g == gbuf[0] ? gbuf[1] : gbuf[0];
        st = layer_backward(l, &ctx, x, g, out);
        g = out;
    }
    pthread_mutex_unlock(&g_scratch.lock);
    return st;
}

void lg_net_zero_grad(lg_net *net) {
    if (net) memset(net->grads, 0, sizeof(float) * net->nparams);
}

float *lg_net_params(lg_net *net, size_t *n) {
    if (n) *n = net ? net->nparams : 0;
    return net ? net->params : NULL;
}

float *lg_net_grads(lg_net *net, size_t *n) {
    if (n) *n = net ? net->nparams : 0;
    return net ? net->grads : NULL;
}

float *lg_net_buffers(lg_net *net, size_t *n) {
    if (n) *n = net ? net->nbuffers : 0;
    return net ? net->buffers : NULL;
}

int lg_net_tensor_count(const lg_net *net) { return net ? net->ntensors : 0; }

lg_status lg_net_tensor_info_at(const lg_net *net, int i, lg_net_tensor_info *info) {
    LG_CHECK(net && info, LG_ERR_ARG, "lg_net_tensor_info_at: NULL argument");
    LG_CHECK(i >= 0 && i < net->ntensors, LG_ERR_ARG,
             "lg_net_tensor_info_at: index %d outside [0, %d)", i, net->ntensors);
    *info = net->tensors[i];
    return LG_OK;
}

lg_rng *lg_net_rng(lg_net *net) { return net ? &net->rng : NULL; }

void lg_net_set_rows(lg_net *net, const uint64_t *rows) {
    if (net) net->rows = rows;
}

void lg_net_bind_grads(lg_net *net, float *g) {
    if (!net || !g || g == net->grads) return;
    memcpy(g, net->grads, sizeof(float) * net->nparams);
    for (int i = 0; i < net->nlayers; i++) {
        lg_layer *l = &net->layers[i];
        if (l->dw) l->dw = g + (l->dw - net->grads);
        if (l->db) l->db = g + (l->db - net->grads);
    }
    if (net->own_grads) lg_free(net->grads);
    net->grads = g;
    net->own_grads = 0;
}

double lg_net_forward_flops(const lg_net *net) {
    double f = 0;
    for (int i = 0; net && i < net->nlayers; i++) {
        const lg_layer *l = &net->layers[i];
        if (l->s.kind == LG_LAYER_LINEAR || l->s.kind == LG_LAYER_CONV2D)
            f += 2.0 * (double)weight_numel(l) * l->ho * l->wo;
    }
    return f;
}
