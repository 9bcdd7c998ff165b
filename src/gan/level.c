/* One pyramid level: its G/D pair, the half-real/half-generated D step and
 * the G step. Level K is a plain GAN on I_K; every finer level is a
 * conditional GAN on h_k given l_k = u(I_{k+1}). */
#include <math.h>
#include <string.h>

#include "core/check.h"
#include "level_internal.h"
#include "nn/layer.h"
#include "pyramid/resample.h"

/* ---- network specifications ------------------------------------------- */

#define MAX_SPECS (6 * LG_MAX_WIDTHS + 4)

static lg_layer_spec layer(lg_layer_kind kind) {
    return lg_layer_defaults(kind);
}

static int push(lg_layer_spec *v, int n, lg_layer_spec s, const lg_model_desc *m) {
    if (s.kind == LG_LAYER_LINEAR || s.kind == LG_LAYER_CONV2D) {
        s.init = m->init;
        s.init_std = m->init_std;
    }
    v[n] = s;
    return n + 1;
}

static int push_act(lg_layer_spec *v, int n, int leaky, const lg_model_desc *m) {
    lg_layer_spec a = layer(leaky ? LG_LAYER_LEAKY_RELU : LG_LAYER_RELU);
    a.slope = 0.2f;
    return push(v, n, a, m);
}

static int push_dropout(lg_layer_spec *v, int n, float p, const lg_model_desc *m) {
    if (p <= 0) return n;
    lg_layer_spec d = layer(LG_LAYER_DROPOUT);
    d.p = p;
    return push(v, n, d, m);
}

static lg_layer_spec conv(int out, int k, int stride) {
    lg_layer_spec s = layer(LG_LAYER_CONV2D);
    s.out = out;
    s.k = k;
    s.pad = k / 2;
    s.stride = stride;
    return s;
}

static lg_layer_spec linear(int out) {
    lg_layer_spec s = layer(LG_LAYER_LINEAR);
    s.out = out;
    return s;
}

/* ---- the authors' LSUN model (lg_level_arch LG_ARCH_LSUN_LARGE) ---------- */

/* eyescream lsun/model.lua, "large": per hidden layer, kernel and groups. */
static const int lsun_g_kernel[4] = {7, 7, 7, 5}, lsun_g_groups[4] = {1, 4, 4, 2};
static const int lsun_d_kernel[3] = {3, 5, 7}, lsun_d_groups[3] = {1, 4, 16};

static lg_layer_spec conv_grouped(int out, int k, int pad, int groups) {
    lg_layer_spec s = conv(out, k, 1);
    s.pad = pad;
    s.groups = groups;
    return s;
}

static int push_bn_plain(lg_layer_spec *v, int n, const lg_model_desc *m) {
    lg_layer_spec b = layer(LG_LAYER_BATCHNORM);
    b.no_affine = 1;
    return push(v, n, b, m);
}

/* G: conv, ReLU, non-affine BN per layer (BN after the ReLU, as the authors
 * place it); spatial dropout after layers 2 and 4; map pairs L2-pooled after
 * layer 3; output conv, then a non-affine BN of h itself. */
static int g_specs_lsun(const lg_model_desc *m, const lg_level_desc *l, lg_layer_spec *v) {
    int n = 0;
    for (int i = 0; i < 4; i++) {
        const int k = lsun_g_kernel[i];
        n = push(v, n, conv_grouped(l->g_width[i], k, k / 2, lsun_g_groups[i]), m);
        n = push_act(v, n, 0, m);
        n = push_bn_plain(v, n, m);
        if (i == 1 || i == 3) {
            n = push_dropout(v, n, l->g_dropout, m);
            if (l->g_dropout > 0) v[n - 1].spatial = 1;
        }
        if (i == 2) {
            lg_layer_spec p = layer(LG_LAYER_FEATURE_L2POOL);
            p.k = 2;
            n = push(v, n, p, m);
        }
    }
    n = push(v, n, conv(m->c, l->g_out_kernel, 1), m);
    return push_bn_plain(v, n, m);
}

/* D: unpadded convs and ReLU (LeakyReLU and BN after the first layer with
 * the DCGAN recipe, as for plain levels), dropout after the last if asked,
 * then one logit. */
static int d_specs_lsun(const lg_model_desc *m, const lg_level_desc *l, lg_layer_spec *v) {
    int n = 0;
    for (int i = 0; i < 3; i++) {
        n = push(v, n, conv_grouped(l->d_width[i], lsun_d_kernel[i], 0, lsun_d_groups[i]), m);
        if (l->d_bn && i > 0) n = push(v, n, layer(LG_LAYER_BATCHNORM), m);
        n = push_act(v, n, m->leaky_d, m);
        if (i == 2) n = push_dropout(v, n, l->d_dropout, m);
    }
    n = push(v, n, layer(LG_LAYER_FLATTEN), m);
    return push(v, n, linear(1), m);
}

/* ---- plain levels ---------------------------------------------------------- */

/* G: hidden layers [conv|linear, BN?, ReLU, dropout?], then a linear output
 * layer (no squashing: h_k is a signed band-pass image). */
static int g_specs(const lg_model_desc *m, const lg_level_desc *l, lg_layer_spec *v) {
    if (!l->fc && l->arch == LG_ARCH_LSUN_LARGE) return g_specs_lsun(m, l, v);
    int n = 0;
    for (int i = 0; i < l->g_nw; i++) {
        n = push(v, n, l->fc ? linear(l->g_width[i]) : conv(l->g_width[i], l->g_kernel, 1), m);
        if (l->g_bn) n = push(v, n, layer(LG_LAYER_BATCHNORM), m);
        n = push_act(v, n, 0, m);
        n = push_dropout(v, n, l->g_dropout, m);
    }
    if (l->fc) return push(v, n, linear(m->c * l->size * l->size), m);
    return push(v, n, conv(m->c, l->g_out_kernel, 1), m);
}

/* D: hidden layers, then one logit. Batch norm (DCGAN recipe) skips the
 * first layer, as DCGAN does. FC levels drop out after every hidden layer,
 * conv levels after the last (as the authors' code does). */
static int d_specs(const lg_model_desc *m, const lg_level_desc *l, lg_layer_spec *v) {
    if (!l->fc && l->arch == LG_ARCH_LSUN_LARGE) return d_specs_lsun(m, l, v);
    int n = 0;
    for (int i = 0; i < l->d_nw; i++) {
        int last = i == l->d_nw - 1;
        n = push(v, n,
                 l->fc ? linear(l->d_width[i])
                       : conv(l->d_width[i], l->d_kernel, last ? l->d_last_stride : 1),
                 m);
        if (l->d_bn && i > 0) n = push(v, n, layer(LG_LAYER_BATCHNORM), m);
        n = push_act(v, n, m->leaky_d, m);
        if (l->fc || last) n = push_dropout(v, n, l->d_dropout, m);
    }
    if (!l->fc) n = push(v, n, layer(LG_LAYER_FLATTEN), m);
    return push(v, n, linear(1), m);
}

/* D's weights get init_std x d_init_scale (the authors' CIFAR-10 script
 * draws D's ten times smaller than G's); init "torch" ignores both. A scale
 * of 1 leaves the specs as they are, so older models keep their bits. */
static int d_init(const lg_model_desc *m, lg_layer_spec *v, int n) {
    if (m->d_init_scale == 1.0f) return n;
    const float std = (m->init_std > 0 ? m->init_std : 0.02f) * m->d_init_scale;
    for (int i = 0; i < n; i++)
        if (v[i].kind == LG_LAYER_LINEAR || v[i].kind == LG_LAYER_CONV2D) v[i].init_std = std;
    return n;
}

/* Class conditioning at conv levels (paper): one-hot -> linear -> ReLU ->
 * one s x s feature plane, concatenated with the net's input maps. */
static int label_specs(const lg_model_desc *m, int s, lg_layer_spec *v) {
    int n = push(v, 0, linear(s * s), m);
    n = push_act(v, n, 0, m);
    lg_layer_spec r = layer(LG_LAYER_RESHAPE);
    r.c = 1;
    r.h = r.w = s;
    return push(v, n, r, m);
}

/* ---- construction ------------------------------------------------------ */

/* Independent RNG streams per (level, purpose) under one seed. */
static uint64_t stream_of(int k, int purpose) { return 1000u * (uint64_t)(k + 1) + (uint64_t)purpose; }

static lg_status make_part(lg_level *lv, int which, const char *name, const lg_layer_spec *specs,
                           int n, int c, int h, int w, uint64_t seed, lg_backend_kind be) {
    lg_net_cfg cfg = {.c = c, .h = h, .w = w, .max_batch = lv->max_batch, .seed = seed,
                      .stream = stream_of(lv->k, which), .backend = be};
    lg_part *p = &lv->part[which];
    p->name = name;
    lg_status st = lg_net_new(&p->net, specs, n, &cfg);
    if (st != LG_OK) return lg_error(st, "level %d %s: %s", lv->k, name, lg_errmsg());
    size_t np;
    lg_net_params(p->net, &np);
    LG_TRY(lg_optim_new(&p->opt, &lv->m.opt, np));
    return lg_optim_use_backend(p->opt, be);
}

static size_t align16(size_t n) { return (n + 15) & ~(size_t)15; }

static size_t part_params(const lg_level *lv, int which) {
    size_t n = 0;
    if (lv->part[which].net) lg_net_params(lv->part[which].net, &n);
    return n;
}

/* One flat gradient array (see level_internal.h) bound to the nets. */
static lg_status bind_grads(lg_level *lv) {
    const size_t d = align16(part_params(lv, LG_PART_D)), dl = align16(part_params(lv, LG_PART_DL));
    const size_t g = align16(part_params(lv, LG_PART_G)), gl = align16(part_params(lv, LG_PART_GL));
    lv->d_len = d + dl + 3;
    lv->g_off = align16(lv->d_len);
    lv->g_len = g + gl + 2;
    if (!(lv->grads = lg_alloc_floats(lv->g_off + lv->g_len))) return LG_ERR_NOMEM;
    float *base = lv->grads, *gbase = lv->grads + lv->g_off;
    lg_net_bind_grads(lv->part[LG_PART_D].net, base);
    lg_net_bind_grads(lv->part[LG_PART_DL].net, base + d);
    lg_net_bind_grads(lv->part[LG_PART_G].net, gbase);
    lg_net_bind_grads(lv->part[LG_PART_GL].net, gbase + g);
    lv->d_stats = base + d + dl;
    lv->g_stats = gbase + g + gl;
    return LG_OK;
}

static lg_status alloc_buffers(lg_level *lv) {
    const size_t B = (size_t)lv->max_batch, ss = (size_t)lv->s * lv->s;
    const size_t sp = lv->fc ? 1 : ss, zc = (size_t)lv->m.level[lv->k].zdim + lv->c;
    for (int j = 1; j <= lv->k + 1 && j <= lv->K; j++) {
        size_t sj = (size_t)lg_level_size(lv, j);
        if (!(lv->chain[j] = lg_alloc_floats(B * lv->c * sj * sj))) return LG_ERR_NOMEM;
    }
    float **bufs[] = {&lv->up, &lv->h, &lv->x, &lv->z, &lv->onehot, &lv->zl, &lv->gin,
                      &lv->dgin, &lv->din, &lv->ddin, &lv->dh, &lv->dplane, &lv->targets,
                      &lv->dlogits};
    const size_t sizes[] = {B * lv->img, B * lv->img, B * lv->img, B * lv->zsize,
                            B * (lv->ncls ? lv->ncls : 1), B * zc * sp, B * lv->gin_c * sp,
                            B * lv->gin_c * sp, B * lv->din_c * sp, B * lv->din_c * sp,
                            B * lv->img, B * ss, B, B};
    _Static_assert(sizeof bufs / sizeof bufs[0] == sizeof sizes / sizeof sizes[0], "one size each");
    for (int i = 0; i < LG_ARRAY_LEN(bufs); i++)
        if (!(*bufs[i] = lg_alloc_floats(sizes[i]))) return LG_ERR_NOMEM;
    if (!(lv->rows = lg_alloc(sizeof(uint64_t) * B))) return LG_ERR_NOMEM;
    return bind_grads(lv);
}

lg_status lg_level_new(lg_level **out, const lg_model_desc *m, int k, int max_batch,
                       uint64_t seed, lg_backend_kind backend) {
    LG_CHECK(out, LG_ERR_ARG, "lg_level_new: out is NULL");
    *out = NULL;
    LG_TRY(lg_model_desc_validate(m));
    LG_CHECK(k >= 0 && k < m->levels, LG_ERR_ARG, "level %d does not exist (model '%s' has %d)",
             k, m->name, m->levels);
    LG_CHECK(max_batch >= 2 && max_batch % 2 == 0, LG_ERR_ARG,
             "batch must be even and >= 2, got %d", max_batch);
    lg_level *lv = lg_alloc(sizeof *lv);
    if (!lv) return LG_ERR_NOMEM;
    const lg_level_desc *l = &m->level[k];
    lv->m = *m;
    lv->k = k;
    lv->K = m->levels - 1;
    lv->c = m->c;
    lv->s = l->size;
    lv->sc = k < lv->K ? m->level[k + 1].size : 0;
    lv->fc = l->fc;
    lv->ncls = m->nclasses;
    lv->max_batch = max_batch;
    lv->nranks = 1;
    lv->img = (size_t)m->c * l->size * l->size;
    lv->zsize = l->fc ? l->zdim : l->zdim * l->size * l->size;
    int cc_plane = lv->ncls > 0 && !lv->fc;
    lv->gin_c = l->fc ? l->zdim + lv->ncls : l->zdim + m->c + cc_plane;
    lv->din_c = l->fc ? (int)lv->img + lv->ncls : m->c + cc_plane;
    lg_rng_init(&lv->noise, seed, stream_of(k, 9));
    lv->be = lg_backend_get(backend); /* NULL: make_part's lg_net_new says why */

    lg_layer_spec specs[MAX_SPECS];
    int sp = lv->fc ? 1 : l->size;
    lg_status st = make_part(lv, LG_PART_G, "G", specs, g_specs(m, l, specs), lv->gin_c, sp, sp,
                             seed, backend);
    if (st == LG_OK)
        st = make_part(lv, LG_PART_D, "D", specs, d_init(m, specs, d_specs(m, l, specs)), lv->din_c, sp, sp, seed,
                       backend);
    if (st == LG_OK && cc_plane) {
        int n = label_specs(m, l->size, specs);
        st = make_part(lv, LG_PART_GL, "GL", specs, n, lv->ncls, 1, 1, seed, backend);
        if (st == LG_OK)
            st = make_part(lv, LG_PART_DL, "DL", specs, d_init(m, specs, n), lv->ncls, 1, 1, seed,
                           backend);
    }
    if (st == LG_OK) st = alloc_buffers(lv);
    if (st != LG_OK) {
        lg_level_free(lv);
        return st;
    }
    *out = lv;
    return LG_OK;
}

size_t lg_level_activation_bytes(const lg_level *lv) {
    size_t b = 0;
    for (int i = 0; i < LG_PART_COUNT; i++) b += lg_net_activation_bytes(lv->part[i].net);
    return b;
}

void lg_level_free(lg_level *lv) {
    if (!lv) return;
    for (int i = 0; i < LG_PART_COUNT; i++) {
        lg_net_free(lv->part[i].net);
        lg_optim_free(lv->part[i].opt);
    }
    for (int j = 0; j < LG_PYR_MAX_LEVELS; j++) lg_free(lv->chain[j]);
    lg_free(lv->grads);
    lg_free(lv->rows);
    lg_free(lv->xin);
    lg_free(lv->yin);
    float *bufs[] = {lv->up,  lv->h,    lv->x,  lv->z,      lv->onehot,  lv->zl,     lv->gin,
                     lv->dgin, lv->din, lv->ddin, lv->dh, lv->dplane, lv->targets, lv->dlogits};
    for (int i = 0; i < LG_ARRAY_LEN(bufs); i++) lg_free(bufs[i]);
    lg_free(lv);
}

lg_status lg_level_share(lg_level *lv, lg_dist_comm *comm, const volatile int *stop) {
    LG_CHECK(lv, LG_ERR_ARG, "lg_level_share: NULL level");
    lv->comm = comm;
    lv->rank = lg_dist_comm_rank(comm);
    lv->nranks = lg_dist_comm_size(comm);
    lv->stop = stop;
    if (lv->nranks == 1 || lv->xin) return LG_OK;
    const size_t s0 = (size_t)lv->m.level[0].size, B = (size_t)lv->max_batch;
    lv->xin = lg_alloc_floats(B * lv->c * s0 * s0);
    lv->yin = lg_alloc(sizeof(int) * B);
    return lv->xin && lv->yin ? LG_OK : LG_ERR_NOMEM;
}

int lg_level_index(const lg_level *lv) { return lv ? lv->k : -1; }
int64_t lg_level_step_count(const lg_level *lv) { return lv ? lv->step : 0; }

/* ---- pieces of a step --------------------------------------------------- */

static lg_status set_onehot(lg_level *lv, const int *labels, int n) {
    if (!lv->ncls) return LG_OK;
    LG_CHECK(labels, LG_ERR_ARG, "level %d: class-conditional model needs labels", lv->k);
    memset(lv->onehot, 0, sizeof(float) * (size_t)n * lv->ncls);
    for (int i = 0; i < n; i++) {
        LG_CHECK(labels[i] >= 0 && labels[i] < lv->ncls, LG_ERR_ARG,
                 "level %d: label %d outside [0, %d)", lv->k, labels[i], lv->ncls);
        lv->onehot[(size_t)i * lv->ncls + labels[i]] = 1;
    }
    return LG_OK;
}

/* out [n, ca+cb, h, w] = concat(a [n, ca, h, w], b [n, cb, h, w]). */
static lg_status cat(const lg_level *lv, const float *a, int ca, const float *b, int cb, int n,
                     int h, int w, float *out) {
    lg_tensor ta = lg_tensor4((float *)a, n, ca, h, w), tb = lg_tensor4((float *)b, n, cb, h, w);
    lg_tensor to = lg_tensor4(out, n, ca + cb, h, w);
    return lg_concat_forward_on(lv->be, &ta, &tb, &to);
}

/* Splits the first `keep` channels of g [n, c, h, w] into out. */
static lg_status split_first(const lg_level *lv, const float *g, int c, int keep, int n, int h,
                             int w, float *out) {
    lg_tensor tg = lg_tensor4((float *)g, n, c, h, w), ta = lg_tensor4(out, n, keep, h, w);
    lg_tensor tb = lg_tensor4(NULL, n, c - keep, h, w);
    return lg_concat_backward_on(lv->be, &tg, &ta, &tb);
}

/* Splits the last channel of g [n, c, h, w] into out. */
static lg_status split_last(const lg_level *lv, const float *g, int c, int n, int h, int w,
                            float *out) {
    lg_tensor tg = lg_tensor4((float *)g, n, c, h, w), ta = lg_tensor4(NULL, n, c - 1, h, w);
    lg_tensor tb = lg_tensor4(out, n, 1, h, w);
    return lg_concat_backward_on(lv->be, &tg, &ta, &tb);
}

/* Runs G on z (and l, and the one-hot rows `oh`) for n samples into lv->h.
 * Input: FC [z, onehot]; conv [z planes, l, label plane]. */
static lg_status run_g(lg_level *lv, const float *l, const float *oh, const uint64_t *rows, int n,
                       int train) {
    const int zdim = lv->m.level[lv->k].zdim, s = lv->s;
    const float *in = lv->z;
    if (lv->fc && lv->ncls) {
        LG_TRY(cat(lv, lv->z, zdim, oh, lv->ncls, n, 1, 1, lv->gin));
        in = lv->gin;
    } else if (!lv->fc && !lv->ncls) {
        LG_TRY(cat(lv, lv->z, zdim, l, lv->c, n, s, s, lv->gin));
        in = lv->gin;
    } else if (!lv->fc) {
        const float *plane;
        LG_TRY(lg_net_forward(lv->part[LG_PART_GL].net, oh, n, train, &plane));
        LG_TRY(cat(lv, lv->z, zdim, l, lv->c, n, s, s, lv->zl));
        LG_TRY(cat(lv, lv->zl, zdim + lv->c, plane, 1, n, s, s, lv->gin));
        in = lv->gin;
    }
    const float *y;
    lg_net_set_rows(lv->part[LG_PART_G].net, rows);
    LG_TRY(lg_net_forward(lv->part[LG_PART_G].net, in, n, train, &y));
    memcpy(lv->h, y, sizeof(float) * (size_t)n * lv->img);
    return LG_OK;
}

/* Runs D on the n images x with the one-hot rows `oh` (rows: their places
 * in the batch, for dropout): returns logits. */
static lg_status run_d(lg_level *lv, const float *x, const float *oh, const uint64_t *rows, int n,
                       const float **logits) {
    const float *in = x;
    if (lv->ncls && lv->fc) {
        LG_TRY(cat(lv, x, (int)lv->img, oh, lv->ncls, n, 1, 1, lv->din));
        in = lv->din;
    } else if (lv->ncls) {
        const float *plane;
        LG_TRY(lg_net_forward(lv->part[LG_PART_DL].net, oh, n, 1, &plane));
        LG_TRY(cat(lv, x, lv->c, plane, 1, n, lv->s, lv->s, lv->din));
        in = lv->din;
    }
    lg_net_set_rows(lv->part[LG_PART_D].net, rows);
    return lg_net_forward(lv->part[LG_PART_D].net, in, n, 1, logits);
}

/* x = h + l (h alone at level K, where l = 0). */
static lg_status compose(lg_level *lv, float *x, const float *h, const float *l, size_t n) {
    return lv->be->add(n, h, l, x);
}

static lg_status draw_noise(lg_level *lv, lg_rng *r, int n) {
    return lv->be->uniform(r, (size_t)n * lv->zsize, lv->m.noise_lo, lv->m.noise_hi, lv->z);
}

/* Training noise: row i's from its place rows[i] in the whole batch and
 * the draw number, so any split of the batch over processes draws the
 * numbers one process would. */
static lg_status draw_noise_rows(lg_level *lv, const uint64_t *rows, int n, uint64_t draw) {
    return lv->be->uniform_rows(n, (size_t)lv->zsize, lv->noise.seed, lv->noise.stream, draw,
                                rows, lv->m.noise_lo, lv->m.noise_hi, lv->z);
}

/* Downsamples the batch along the chain to levels k and k+1 and makes
 * l = u(I_{k+1}) in lv->up. Returns I_k. */
static lg_status prepare_real(lg_level *lv, const float *images, int n, const float **ik) {
    const lg_pyr_filter f = lv->m.filter;
    const float *prev = images;
    int last = lv->k < lv->K ? lv->k + 1 : lv->k;
    for (int j = 1; j <= last; j++) {
        int a = lg_level_size(lv, j - 1), b = lg_level_size(lv, j);
        LG_TRY(lg_pyr_resample_on(lv->be, f, 1, prev, n, lv->c, a, a, lv->chain[j], b, b, 1, 0));
        prev = lv->chain[j];
    }
    if (lv->k < lv->K)
        LG_TRY(lg_pyr_resample_on(lv->be, f, 0, lv->chain[lv->k + 1], n, lv->c, lv->sc, lv->sc,
                                      lv->up, lv->s, lv->s, 1, 0));
    *ik = lv->k == 0 ? images : lv->chain[lv->k];
    return LG_OK;
}

static lg_status check_finite(const lg_level *lv, const char *what, float v) {
    LG_CHECK(isfinite(v), LG_ERR_NUMERIC, "level %d step %lld: %s is %s", lv->k,
             (long long)lv->step + 1, what, isnan(v) ? "NaN" : "infinite");
    return LG_OK;
}

/* BCE of n local rows against lv->targets, as their share of the mean over
 * the whole batch of B: gradients scaled by 1/B, *share = loss * n/B. A
 * non-finite loss is not an error yet: it reaches every rank through the
 * all-reduce, which then stops them all at the same step. */
static lg_status bce_share(lg_level *lv, const float *logits, int n, int B, float *share) {
    const float scale = (float)n / (float)B;
    float loss;
    lg_status st = lg_bce_logits_on(lv->be, logits, lv->targets, n, scale, &loss, lv->dlogits);
    *share = loss * scale;
    return st == LG_ERR_NUMERIC ? LG_OK : st;
}

static lg_status update(lg_level *lv, int which, double epoch) {
    lg_part *p = &lv->part[which];
    if (!p->net) return LG_OK;
    size_t n;
    float *w = lg_net_params(p->net, &n);
    return lg_optim_step(p->opt, w, lg_net_grads(p->net, &n), epoch);
}

/* Backward through D from lv->dlogits. With param_grads, D (and its label
 * net) add weight gradients (the caller zeroes them); with dimage, the
 * image part of D's input gradient is written there. */
static lg_status d_backward(lg_level *lv, int n, int param_grads, float *dimage) {
    lg_part *D = &lv->part[LG_PART_D], *DL = &lv->part[LG_PART_DL];
    const int plane = lv->ncls && !lv->fc;
    const int need_dx = dimage || (plane && param_grads);
    float *dx = !need_dx ? NULL : lv->ncls ? lv->ddin : dimage;
    LG_TRY(lg_net_backward(D->net, lv->dlogits, dx, param_grads));
    if (plane && param_grads) {
        LG_TRY(split_last(lv, lv->ddin, lv->c + 1, n, lv->s, lv->s, lv->dplane));
        LG_TRY(lg_net_backward(DL->net, lv->dplane, NULL, 1));
    }
    if (dimage && lv->ncls) {
        if (lv->fc) LG_TRY(split_first(lv, lv->ddin, (int)lv->img + lv->ncls, (int)lv->img, n, 1, 1, dimage));
        else LG_TRY(split_first(lv, lv->ddin, lv->c + 1, lv->c, n, lv->s, lv->s, dimage));
    }
    return LG_OK;
}

/* With batch norm in D (every hidden layer but the first), D sees the real
 * and the generated half as two batches, so each is normalised with its own
 * statistics, as DCGAN trains D; without it one pass over both halves gives
 * the same gradients in one go. */
static int d_per_source(const lg_level *lv) {
    const lg_level_desc *l = &lv->m.level[lv->k];
    return l->d_bn && l->d_nw > 1;
}

/* One D forward and backward over cnt local rows from row `at` of lv->x,
 * the first nreal of them real (target 1), the rest generated: adds the
 * loss share to s[0], the real rows judged real to s[1], the generated ones
 * judged generated to s[2], and D's weight gradients to its gradients. */
static lg_status d_pass(lg_level *lv, int at, int cnt, int nreal, int B, float *s) {
    const float *oh = lv->ncls ? lv->onehot + (size_t)at * lv->ncls : NULL;
    const float *logits;
    LG_TRY(run_d(lv, lv->x + (size_t)at * lv->img, oh, lv->rows + at, cnt, &logits));
    for (int i = 0; i < cnt; i++) lv->targets[i] = i < nreal ? 1.0f : 0.0f;
    float share;
    LG_TRY(bce_share(lv, logits, cnt, B, &share));
    int real_ok = 0, fake_ok = 0;
    for (int i = 0; i < nreal; i++) real_ok += logits[i] > 0;
    for (int i = nreal; i < cnt; i++) fake_ok += logits[i] < 0;
    s[0] += share;
    s[1] += (float)real_ok;
    s[2] += (float)fake_ok;
    return d_backward(lv, cnt, 1, NULL);
}

/* D step on the n local rows of a batch of B: rows [0, n/2) real h + l;
 * rows [n/2, n) generated h~ + l from the coarse images (and labels) of
 * this rank's share of the batch's other half; one pass over both, or one
 * per half when D has batch norm (d_per_source). */
static lg_status d_step(lg_level *lv, const float *ik, int n, int B, double epoch,
                        lg_level_stats *st) {
    const int half = n / 2;
    const size_t img = lv->img;
    const float *l = lv->k < lv->K ? lv->up : NULL;
    const float *oh_fake = lv->ncls ? lv->onehot + (size_t)half * lv->ncls : NULL;
    LG_TRY(draw_noise_rows(lv, lv->rows + half, half, 2 * (uint64_t)lv->step));
    LG_TRY(run_g(lv, l ? l + half * img : NULL, oh_fake, lv->rows + half, half, 1));
    memcpy(lv->x, ik, sizeof(float) * half * img);
    LG_TRY(compose(lv, lv->x + half * img, lv->h, l ? l + half * img : NULL, half * img));
    float *s = lv->d_stats;
    s[0] = s[1] = s[2] = 0;
    lg_net_zero_grad(lv->part[LG_PART_D].net);
    lg_net_zero_grad(lv->part[LG_PART_DL].net);
    if (d_per_source(lv)) {
        LG_TRY(d_pass(lv, 0, half, half, B, s));
        LG_TRY(d_pass(lv, half, n - half, 0, B, s));
    } else {
        LG_TRY(d_pass(lv, 0, n, half, B, s));
    }
    LG_TRY(lg_dist_allreduce_sum(lv->comm, lv->grads, lv->d_len));
    st->d_loss = s[0];
    st->d_real_acc = s[1] / (B / 2);
    st->d_fake_acc = s[2] / (B - B / 2);
    LG_TRY(check_finite(lv, "D loss", st->d_loss));
    LG_TRY(update(lv, LG_PART_D, epoch));
    return update(lv, LG_PART_DL, epoch);
}

/* G step: fresh noise for all n local coarse images; D's verdict "real"
 * flows back through D (no D weight gradients) into G. Its all-reduce also
 * carries the stop votes, so a group stops at one step. */
static lg_status g_step(lg_level *lv, int n, int B, double epoch, lg_level_stats *st) {
    lg_part *G = &lv->part[LG_PART_G], *GL = &lv->part[LG_PART_GL];
    const float *l = lv->k < lv->K ? lv->up : NULL;
    LG_TRY(draw_noise_rows(lv, lv->rows, n, 2 * (uint64_t)lv->step + 1));
    LG_TRY(run_g(lv, l, lv->onehot, lv->rows, n, 1));
    LG_TRY(compose(lv, lv->x, lv->h, l, (size_t)n * lv->img));
    const float *logits;
    LG_TRY(run_d(lv, lv->x, lv->onehot, lv->rows, n, &logits));
    for (int i = 0; i < n; i++) lv->targets[i] = 1.0f;
    float *s = lv->g_stats;
    LG_TRY(bce_share(lv, logits, n, B, &s[0]));
    LG_TRY(d_backward(lv, n, 0, lv->dh));
    const int plane = lv->ncls && !lv->fc;
    lg_net_zero_grad(G->net);
    LG_TRY(lg_net_backward(G->net, lv->dh, plane ? lv->dgin : NULL, 1));
    if (plane) {
        LG_TRY(split_last(lv, lv->dgin, lv->gin_c, n, lv->s, lv->s, lv->dplane));
        lg_net_zero_grad(GL->net);
        LG_TRY(lg_net_backward(GL->net, lv->dplane, NULL, 1));
    }
    s[1] = lv->stop && *lv->stop ? 1.0f : 0.0f;
    LG_TRY(lg_dist_allreduce_sum(lv->comm, lv->grads + lv->g_off, lv->g_len));
    st->g_loss = s[0];
    lv->stop_vote = s[1] > 0;
    LG_TRY(check_finite(lv, "G loss", st->g_loss));
    LG_TRY(update(lv, LG_PART_G, epoch));
    return update(lv, LG_PART_GL, epoch);
}

/* This rank's rows of the batch: [h0, h0 + nh) of the real half and the
 * same places in the generated half, copied together when the batch is
 * shared (else the batch itself). Returns nh. */
static int take_rows(lg_level *lv, const float *images, const int *labels, int batch) {
    const int half = batch / 2;
    const int h0 = (int)((int64_t)half * lv->rank / lv->nranks);
    const int nh = (int)((int64_t)half * (lv->rank + 1) / lv->nranks) - h0;
    for (int i = 0; i < nh; i++) {
        lv->rows[i] = (uint64_t)(h0 + i);
        lv->rows[nh + i] = (uint64_t)(half + h0 + i);
    }
    lv->cur_x = images;
    lv->cur_y = labels;
    lv->nloc = 2 * nh;
    if (lv->nranks == 1 || nh == 0) return nh;
    const size_t s0 = (size_t)lv->m.level[0].size, per = (size_t)lv->c * s0 * s0;
    for (int part = 0; part < 2; part++) {
        const size_t from = (size_t)(part * half + h0);
        memcpy(lv->xin + (size_t)part * nh * per, images + from * per, sizeof(float) * nh * per);
        if (labels) memcpy(lv->yin + part * nh, labels + from, sizeof(int) * nh);
    }
    lv->cur_x = lv->xin;
    lv->cur_y = labels ? lv->yin : NULL;
    return nh;
}

lg_status lg_level_train_step(lg_level *lv, const float *images, const int *labels, int batch,
                              double epoch, lg_level_stats *stats) {
    LG_CHECK(lv && images && stats, LG_ERR_ARG, "lg_level_train_step: NULL argument");
    LG_CHECK(batch >= 2 && batch % 2 == 0 && batch <= lv->max_batch, LG_ERR_ARG,
             "level %d: batch %d must be even, >= 2 and <= %d", lv->k, batch, lv->max_batch);
    const int nh = take_rows(lv, images, labels, batch);
    LG_CHECK(nh > 0, LG_ERR_ARG, "level %d: a batch of %d gives rank %d of the %d sharing the "
             "level no rows (use a batch of at least %d)", lv->k, batch, lv->rank, lv->nranks,
             2 * lv->nranks);
    const int n = 2 * nh;
    const float *ik;
    LG_TRY(set_onehot(lv, lv->cur_y, n));
    LG_TRY(prepare_real(lv, lv->cur_x, n, &ik));
    LG_TRY(d_step(lv, ik, n, batch, epoch, stats));
    LG_TRY(g_step(lv, n, batch, epoch, stats));
    lv->step++;
    return LG_OK;
}

lg_status lg_level_generate(lg_level *lv, const float *coarse, const int *labels, int n,
                            lg_rng *noise, float *up, float *h, float *out) {
    LG_CHECK(lv && out && noise, LG_ERR_ARG, "lg_level_generate: NULL argument");
    LG_CHECK(n >= 1, LG_ERR_ARG, "lg_level_generate: n must be >= 1");
    LG_CHECK(lv->k == lv->K || coarse, LG_ERR_ARG, "level %d needs the coarser image", lv->k);
    LG_CHECK(!lv->ncls || labels, LG_ERR_ARG, "level %d: class-conditional model needs labels",
             lv->k);
    const size_t img = lv->img, cimg = (size_t)lv->c * lv->sc * lv->sc;
    for (int at = 0; at < n; at += lv->max_batch) {
        int m = n - at < lv->max_batch ? n - at : lv->max_batch;
        LG_TRY(set_onehot(lv, labels ? labels + at : NULL, m));
        LG_TRY(draw_noise(lv, noise, m));
        const float *l = NULL;
        if (lv->k < lv->K) {
            LG_TRY(lg_pyr_resample_on(lv->be, lv->m.filter, 0, coarse + at * cimg, m, lv->c,
                                      lv->sc, lv->sc, lv->up, lv->s, lv->s, 1, 0));
            l = lv->up;
        }
        LG_TRY(run_g(lv, l, lv->onehot, NULL, m, 0));
        if (up && l) memcpy(up + at * img, l, sizeof(float) * m * img);
        if (h) memcpy(h + at * img, lv->h, sizeof(float) * m * img);
        LG_TRY(compose(lv, out + at * img, lv->h, l, m * img));
    }
    return LG_OK;
}
