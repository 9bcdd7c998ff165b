/* Convolution through oneDNN's C API: a small per-shape cache of primitives
 * plus the reorders between the caller's plain NCHW/OIHW buffers and the
 * layouts oneDNN prefers. See dnnl_conv.h for the contract. */
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <dnnl.h>
#include <dnnl_debug.h>

#include "backend/cpu/cpu.h"
#include "backend/cpu/dnnl_conv.h"
#include "core/check.h"

enum { DIR_FWD, DIR_BWD_DATA, DIR_BWD_FILTER, DIR_COUNT };
/* CACHE_SIZE: the FID Inception alone has about 90 conv shapes per batch size,
 * and round-robin eviction misses on every call once a cycle exceeds it. */
enum { MAX_PORTS = 4, CACHE_SIZE = 256 };

/* One tensor crossing the boundary. `user` wraps the caller's plain buffer;
 * `inner` is the layout the primitive computes in. When the two differ, or
 * when an output must be added into the caller's buffer, `inner` lives in
 * the scratch and a reorder moves data across (with a sum post-op for
 * accumulation, so dw += ... costs no extra pass). */
typedef struct {
    int arg;        /* DNNL_ARG_* of the convolution */
    int output;     /* written by the convolution */
    dnnl_memory_t user;
    dnnl_memory_t inner; /* == user when no reorder is needed */
    dnnl_primitive_t reorder;
    size_t off;     /* bytes into the scratch where inner lives */
} port;

typedef struct {
    dnnl_primitive_t prim;
    port ports[MAX_PORTS];
    int nports;
    dnnl_memory_t scratchpad; /* NULL when the primitive needs none */
    size_t scratchpad_off;
    size_t zeros_off;         /* forward only: a zero bias when b is NULL */
    size_t scratch_bytes;
} conv_op;

typedef struct {
    int used;
    int nthr; /* oneDNN fixes its thread split when a primitive is created */
    int bf16; /* operands multiplied in bf16 (outputs stay f32) */
    lg_conv_desc d;
    dnnl_primitive_desc_t fwd_hint; /* backward primitives are built from it */
    int ready[DIR_COUNT];
    lg_status failed[DIR_COUNT]; /* oneDNN refused: answer at once next time */
    conv_op op[DIR_COUNT];
} entry;

static struct {
    pthread_mutex_t lock;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    lg_dnnl_layout layout;
    int next_victim;
    entry cache[CACHE_SIZE];
    void *scratch;
    size_t scratch_bytes;
} g = {.lock = PTHREAD_MUTEX_INITIALIZER};

static lg_status dnnl_fail(dnnl_status_t s, const char *what) {
    lg_status st = s == dnnl_out_of_memory   ? LG_ERR_NOMEM
                   : s == dnnl_unimplemented ? LG_ERR_UNSUPPORTED
                                             : LG_ERR_ARG;
    return lg_error(st, "oneDNN %s: %s", what, dnnl_status2str(s));
}

#define DNNL_TRY(call, what)                                   \
    do {                                                       \
        dnnl_status_t dnnl__s = (call);                        \
        if (dnnl__s != dnnl_success) return dnnl_fail(dnnl__s, what); \
    } while (0)

static size_t round64(size_t b) { return (b + 63) & ~(size_t)63; }

/* Rejects what oneDNN would reject later with a vaguer message, and any
 * output size that is not the floor formula the layers plan with. */
static lg_status check_desc(const lg_conv_desc *d) {
    LG_CHECK(d, LG_ERR_ARG, "dnnl conv: descriptor is NULL");
    LG_CHECK(d->n > 0 && d->ci > 0 && d->hi > 0 && d->wi > 0 && d->co > 0 && d->kh > 0 &&
                 d->kw > 0,
             LG_ERR_SHAPE, "dnnl conv: non-positive size (n %d ci %d in %dx%d co %d k %dx%d)",
             d->n, d->ci, d->hi, d->wi, d->co, d->kh, d->kw);
    LG_CHECK(d->stride >= 1 && d->pad >= 0, LG_ERR_SHAPE, "dnnl conv: stride %d, pad %d",
             d->stride, d->pad);
    LG_CHECK(d->groups >= 0 && d->ci % lg_conv_groups(d) == 0 && d->co % lg_conv_groups(d) == 0,
             LG_ERR_SHAPE, "dnnl conv: %d groups do not divide %d input and %d output channels",
             d->groups, d->ci, d->co);
    long long eh = (long long)d->hi + 2LL * d->pad - d->kh;
    long long ew = (long long)d->wi + 2LL * d->pad - d->kw;
    LG_CHECK(eh >= 0 && ew >= 0, LG_ERR_SHAPE,
             "dnnl conv: kernel %dx%d larger than padded input %dx%d (pad %d)", d->kh, d->kw,
             d->hi, d->wi, d->pad);
    LG_CHECK(d->ho == eh / d->stride + 1 && d->wo == ew / d->stride + 1, LG_ERR_SHAPE,
             "dnnl conv: output %dx%d, expected %lldx%lld", d->ho, d->wo, eh / d->stride + 1,
             ew / d->stride + 1);
    double big = 0x1p40; /* elements; far beyond memory, keeps size_t maths exact */
    LG_CHECK((double)d->n * d->ci * d->hi * d->wi < big &&
                 (double)d->co * d->ci * d->kh * d->kw < big &&
                 (double)d->n * d->co * d->ho * d->wo < big,
             LG_ERR_SHAPE, "dnnl conv: tensor too large");
    return LG_OK;
}

static lg_status init_streams(void) {
    if (g.stream) return LG_OK;
    if (!g.engine) DNNL_TRY(dnnl_engine_create(&g.engine, dnnl_cpu, 0), "engine");
    DNNL_TRY(dnnl_stream_create(&g.stream, g.engine, dnnl_stream_default_flags), "stream");
    return LG_OK;
}

/* ---- descriptors ------------------------------------------------------- */

/* The primitive's side comes in two data types: "in" for what it reads and
 * multiplies (src and weights forward, diff_dst and weights backward-data,
 * src and diff_dst backward-weights), "out" for what it writes (dst,
 * diff_src, diff_weights). In bf16 mode the inputs are bf16, so the
 * reorders that already move data into oneDNN's blocked layouts also round
 * it, and the outputs stay f32 (fp32 accumulation end to end). */
typedef struct {
    dnnl_memory_desc_t src, wei, bias, dst; /* what the user passes */
    dnnl_memory_desc_t src_in, src_out, wei_in, wei_out, cbias, dst_in, dst_out;
    dnnl_dims_t strides, pad_l, pad_r;
} conv_mds;

static lg_status make_mds(const lg_conv_desc *d, lg_dnnl_layout layout, int bf16, conv_mds *m) {
    /* Grouped weights are 5-d for oneDNN, [g, co/g, ci/g, kh, kw]: the same
     * bytes as our [co, ci/g, kh, kw]. */
    const int ng = lg_conv_groups(d), wdims = ng > 1 ? 5 : 4;
    dnnl_dims_t src = {d->n, d->ci, d->hi, d->wi}, wei = {d->co, d->ci, d->kh, d->kw};
    if (ng > 1) {
        const dnnl_dims_t gw = {ng, d->co / ng, d->ci / ng, d->kh, d->kw};
        memcpy(wei, gw, sizeof gw);
    }
    dnnl_dims_t dst = {d->n, d->co, d->ho, d->wo}, bias = {d->co};
    dnnl_format_tag_t act = layout == LG_DNNL_LAYOUT_NCHW   ? dnnl_nchw
                            : layout == LG_DNNL_LAYOUT_NHWC ? dnnl_nhwc
                                                            : dnnl_format_tag_any;
    const dnnl_format_tag_t plain_w = ng > 1 ? dnnl_goihw : dnnl_oihw;
    dnnl_format_tag_t filt = layout == LG_DNNL_LAYOUT_NCHW ? plain_w : dnnl_format_tag_any;
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&m->src, 4, src, dnnl_f32, dnnl_nchw), "src desc");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&m->wei, wdims, wei, dnnl_f32, plain_w), "weights desc");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&m->bias, 1, bias, dnnl_f32, dnnl_x), "bias desc");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&m->dst, 4, dst, dnnl_f32, dnnl_nchw), "dst desc");
    const dnnl_data_type_t in = bf16 ? dnnl_bf16 : dnnl_f32;
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&m->src_in, 4, src, in, act), "src desc");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&m->src_out, 4, src, dnnl_f32, act), "src desc");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&m->wei_in, wdims, wei, in, filt), "weights desc");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&m->wei_out, wdims, wei, dnnl_f32, filt), "weights desc");
    m->cbias = m->bias;
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&m->dst_in, 4, dst, in, act), "dst desc");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&m->dst_out, 4, dst, dnnl_f32, act), "dst desc");
    /* Right padding makes the floor formula exact when the stride does not
     * divide the padded extent (oneDNN wants it explicit). */
    int prh = (d->ho - 1) * d->stride + d->kh - d->hi - d->pad;
    int prw = (d->wo - 1) * d->stride + d->kw - d->wi - d->pad;
    m->strides[0] = m->strides[1] = d->stride;
    m->pad_l[0] = m->pad_l[1] = d->pad;
    m->pad_r[0] = prh;
    m->pad_r[1] = prw;
    return LG_OK;
}

static lg_status create_pd(dnnl_primitive_desc_t *pd, const void *op_desc,
                           const_dnnl_primitive_desc_t hint, const char *what) {
    dnnl_primitive_attr_t attr;
    DNNL_TRY(dnnl_primitive_attr_create(&attr), "attr");
    /* Our scratch carries the scratchpad too: no allocation per execute. */
    dnnl_status_t s = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(pd, op_desc, attr, g.engine, hint);
    dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) *pd = NULL;
    DNNL_TRY(s, what);
    return LG_OK;
}

static lg_status create_fwd_pd(const lg_conv_desc *d, lg_dnnl_layout layout, int bf16,
                               dnnl_primitive_desc_t *pd) {
    conv_mds m;
    dnnl_convolution_desc_t cd;
    LG_TRY(make_mds(d, layout, bf16, &m));
    DNNL_TRY(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training,
                                                dnnl_convolution_direct, &m.src_in, &m.wei_in,
                                                &m.cbias, &m.dst_out, m.strides, m.pad_l,
                                                m.pad_r),
             "forward convolution desc");
    return create_pd(pd, &cd, NULL, "forward convolution");
}

/* ---- ports and ops ----------------------------------------------------- */

static lg_status port_init(port *p, int arg, int output, int accumulate,
                           const dnnl_memory_desc_t *user_md, const_dnnl_primitive_desc_t pd,
                           dnnl_query_t q, int qidx, size_t *end) {
    const dnnl_memory_desc_t *inner_md = dnnl_primitive_desc_query_md(pd, q, qidx);
    p->arg = arg;
    p->output = output;
    LG_CHECK(inner_md, LG_ERR_UNSUPPORTED, "oneDNN convolution: no layout for argument %d", arg);
    DNNL_TRY(dnnl_memory_create(&p->user, user_md, g.engine, DNNL_MEMORY_NONE), "memory");
    if (!accumulate && dnnl_memory_desc_equal(user_md, inner_md)) {
        p->inner = p->user;
        return LG_OK;
    }
    DNNL_TRY(dnnl_memory_create(&p->inner, inner_md, g.engine, DNNL_MEMORY_NONE), "memory");
    p->off = *end;
    *end += round64(dnnl_memory_desc_get_size(inner_md));

    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_status_t s = dnnl_success;
    if (accumulate) {
        s = dnnl_primitive_attr_create(&attr);
        if (s == dnnl_success) s = dnnl_post_ops_create(&po);
        if (s == dnnl_success) s = dnnl_post_ops_append_sum(po, 1.0f);
        if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(attr, po);
    }
    dnnl_primitive_desc_t rpd = NULL;
    if (s == dnnl_success)
        s = dnnl_reorder_primitive_desc_create(&rpd, output ? inner_md : user_md, g.engine,
                                               output ? user_md : inner_md, g.engine, attr);
    if (s == dnnl_success) s = dnnl_primitive_create(&p->reorder, rpd);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    DNNL_TRY(s, "reorder");
    return LG_OK;
}

static void op_destroy(conv_op *op) {
    for (int i = 0; i < MAX_PORTS; i++) {
        port *p = &op->ports[i];
        if (p->reorder) dnnl_primitive_destroy(p->reorder);
        if (p->inner && p->inner != p->user) dnnl_memory_destroy(p->inner);
        if (p->user) dnnl_memory_destroy(p->user);
    }
    if (op->scratchpad) dnnl_memory_destroy(op->scratchpad);
    if (op->prim) dnnl_primitive_destroy(op->prim);
    memset(op, 0, sizeof *op);
}

/* The backward descriptors; the forward primitive's pd is the hint. */
static lg_status create_dir_pd(const entry *e, int dir, const conv_mds *m,
                               dnnl_primitive_desc_t *pd) {
    dnnl_convolution_desc_t cd;
    if (dir == DIR_BWD_DATA) {
        DNNL_TRY(dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct,
                                                          &m->src_out, &m->wei_in, &m->dst_in,
                                                          m->strides, m->pad_l, m->pad_r),
                 "backward-data convolution desc");
        return create_pd(pd, &cd, e->fwd_hint, "backward-data convolution");
    }
    DNNL_TRY(dnnl_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct,
                                                         &m->src_in, &m->wei_out, &m->cbias,
                                                         &m->dst_in, m->strides, m->pad_l,
                                                         m->pad_r),
             "backward-weights convolution desc");
    return create_pd(pd, &cd, e->fwd_hint, "backward-weights convolution");
}

static lg_status op_build(const entry *e, int dir, const_dnnl_primitive_desc_t pd,
                          const conv_mds *m, conv_op *op) {
    size_t end = 0;
    port *p = op->ports;
    if (dir == DIR_FWD) {
        LG_TRY(port_init(&p[0], DNNL_ARG_SRC, 0, 0, &m->src, pd, dnnl_query_src_md, 0, &end));
        LG_TRY(port_init(&p[1], DNNL_ARG_WEIGHTS, 0, 0, &m->wei, pd, dnnl_query_weights_md, 0,
                         &end));
        LG_TRY(port_init(&p[2], DNNL_ARG_BIAS, 0, 0, &m->bias, pd, dnnl_query_weights_md, 1,
                         &end));
        LG_TRY(port_init(&p[3], DNNL_ARG_DST, 1, 0, &m->dst, pd, dnnl_query_dst_md, 0, &end));
        op->nports = 4;
        op->zeros_off = end;
        end += round64((size_t)e->d.co * sizeof(float));
    } else if (dir == DIR_BWD_DATA) {
        LG_TRY(port_init(&p[0], DNNL_ARG_DIFF_DST, 0, 0, &m->dst, pd, dnnl_query_diff_dst_md, 0,
                         &end));
        LG_TRY(port_init(&p[1], DNNL_ARG_WEIGHTS, 0, 0, &m->wei, pd, dnnl_query_weights_md, 0,
                         &end));
        LG_TRY(port_init(&p[2], DNNL_ARG_DIFF_SRC, 1, 0, &m->src, pd, dnnl_query_diff_src_md, 0,
                         &end));
        op->nports = 3;
    } else {
        LG_TRY(port_init(&p[0], DNNL_ARG_SRC, 0, 0, &m->src, pd, dnnl_query_src_md, 0, &end));
        LG_TRY(port_init(&p[1], DNNL_ARG_DIFF_DST, 0, 0, &m->dst, pd, dnnl_query_diff_dst_md, 0,
                         &end));
        LG_TRY(port_init(&p[2], DNNL_ARG_DIFF_WEIGHTS, 1, 1, &m->wei, pd,
                         dnnl_query_diff_weights_md, 0, &end));
        LG_TRY(port_init(&p[3], DNNL_ARG_DIFF_BIAS, 1, 1, &m->bias, pd,
                         dnnl_query_diff_weights_md, 1, &end));
        op->nports = 4;
    }
    const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t sp_bytes = sp ? dnnl_memory_desc_get_size(sp) : 0;
    if (sp_bytes > 0) {
        DNNL_TRY(dnnl_memory_create(&op->scratchpad, sp, g.engine, DNNL_MEMORY_NONE), "memory");
        op->scratchpad_off = end;
        end += round64(sp_bytes);
    }
    DNNL_TRY(dnnl_primitive_create(&op->prim, pd), "convolution primitive");
    op->scratch_bytes = end;
    return LG_OK;
}

static lg_status op_create(entry *e, int dir) {
    conv_mds m;
    dnnl_primitive_desc_t pd = e->fwd_hint;
    LG_TRY(make_mds(&e->d, g.layout, e->bf16, &m));
    if (dir != DIR_FWD) LG_TRY(create_dir_pd(e, dir, &m, &pd));
    lg_status st = op_build(e, dir, pd, &m, &e->op[dir]);
    if (pd != e->fwd_hint) dnnl_primitive_desc_destroy(pd);
    if (st != LG_OK) {
        op_destroy(&e->op[dir]);
        return st;
    }
    if (e->op[dir].scratch_bytes > g.scratch_bytes) {
        void *s = lg_alloc(e->op[dir].scratch_bytes);
        if (!s) {
            op_destroy(&e->op[dir]);
            return LG_ERR_NOMEM;
        }
        lg_free(g.scratch);
        g.scratch = s;
        g.scratch_bytes = e->op[dir].scratch_bytes;
    }
    e->ready[dir] = 1;
    return LG_OK;
}

static void entry_destroy(entry *e) {
    for (int i = 0; i < DIR_COUNT; i++) op_destroy(&e->op[i]);
    if (e->fwd_hint) dnnl_primitive_desc_destroy(e->fwd_hint);
    memset(e, 0, sizeof *e);
}

/* The op for (d, dir, current thread count), created on first use. The
 * cache is small and evicts round-robin: networks have a handful of shapes.
 * A refusal is cached too, so a caller that retries (the error is
 * returned every time) does not pay for a failed creation on every call. */
static lg_status get_op(const lg_conv_desc *d, int bf16, int dir, conv_op **out) {
    int nthr = omp_get_max_threads();
    entry *e = NULL;
    for (int i = 0; i < CACHE_SIZE && !e; i++) {
        entry *c = &g.cache[i];
        if (c->used && c->nthr == nthr && c->bf16 == bf16 && memcmp(&c->d, d, sizeof *d) == 0)
            e = c;
    }
    if (!e) {
        LG_TRY(init_streams());
        e = &g.cache[g.next_victim];
        g.next_victim = (g.next_victim + 1) % CACHE_SIZE;
        entry_destroy(e);
        e->d = *d;
        e->nthr = nthr;
        e->bf16 = bf16;
        e->used = 1;
        lg_status st = create_fwd_pd(d, g.layout, bf16, &e->fwd_hint);
        for (int i = 0; i < DIR_COUNT; i++) e->failed[i] = st;
        if (st != LG_OK) return st;
    }
    LG_CHECK(e->failed[dir] == LG_OK, e->failed[dir], "oneDNN refused this shape before");
    if (!e->ready[dir]) {
        e->failed[dir] = op_create(e, dir);
        LG_TRY(e->failed[dir]);
    }
    *out = &e->op[dir];
    return LG_OK;
}

/* ---- execution --------------------------------------------------------- */

static lg_status exec2(dnnl_primitive_t p, dnnl_memory_t from, dnnl_memory_t to) {
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    DNNL_TRY(dnnl_primitive_execute(p, g.stream, 2, a), "reorder");
    return LG_OK;
}

/* user[i] is the caller's buffer for port i; NULL for an output means
 * "computed but not wanted" (db). */
static lg_status op_run(conv_op *op, void *const user[MAX_PORTS]) {
    char *s = g.scratch;
    dnnl_exec_arg_t args[MAX_PORTS + 1];
    int na = 0;
    for (int i = 0; i < op->nports; i++) {
        port *p = &op->ports[i];
        if (user[i]) DNNL_TRY(dnnl_memory_set_data_handle_v2(p->user, user[i], g.stream), "memory");
        if (p->inner != p->user)
            DNNL_TRY(dnnl_memory_set_data_handle_v2(p->inner, s + p->off, g.stream), "memory");
        if (!p->output && p->reorder) LG_TRY(exec2(p->reorder, p->user, p->inner));
        args[na++] = (dnnl_exec_arg_t){p->arg, p->inner};
    }
    if (op->scratchpad) {
        DNNL_TRY(dnnl_memory_set_data_handle_v2(op->scratchpad, s + op->scratchpad_off, g.stream),
                 "memory");
        args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, op->scratchpad};
    }
    DNNL_TRY(dnnl_primitive_execute(op->prim, g.stream, na, args), "convolution");
    for (int i = 0; i < op->nports; i++) {
        port *p = &op->ports[i];
        if (p->output && p->reorder && user[i]) LG_TRY(exec2(p->reorder, p->inner, p->user));
    }
    DNNL_TRY(dnnl_stream_wait(g.stream), "stream");
    return LG_OK;
}

/* Adds the shape to whatever went wrong, so a failure names its layer. */
static lg_status with_shape(lg_status st, const lg_conv_desc *d, const char *what) {
    if (st == LG_OK || !d) return st;
    char msg[256];
    snprintf(msg, sizeof msg, "%s", lg_errmsg());
    return lg_error(st, "%s [%d,%d,%d,%d] -> %d ch, k %dx%d s %d p %d: %s", what, d->n, d->ci,
                    d->hi, d->wi, d->co, d->kh, d->kw, d->stride, d->pad, msg);
}

static lg_status run_locked(const lg_conv_desc *d, int bf16, int dir,
                            void *const user[MAX_PORTS]) {
    conv_op *op;
    LG_TRY(get_op(d, bf16, dir, &op));
    if (dir == DIR_FWD && !user[2]) {
        memset((char *)g.scratch + op->zeros_off, 0, (size_t)d->co * sizeof(float));
        void *u[MAX_PORTS] = {user[0], user[1], (char *)g.scratch + op->zeros_off, user[3]};
        return op_run(op, u);
    }
    return op_run(op, user);
}

static lg_status run(const lg_conv_desc *d, int bf16, int dir, void *const user[MAX_PORTS],
                     const char *what) {
    pthread_mutex_lock(&g.lock);
    lg_status st = run_locked(d, bf16, dir, user);
    pthread_mutex_unlock(&g.lock);
    return with_shape(st, d, what);
}

static const char *const fwd_what[2] = {"dnnl conv forward", "dnnl bf16 conv forward"};
static const char *const bwd_data_what[2] = {"dnnl conv backward-data",
                                             "dnnl bf16 conv backward-data"};
static const char *const bwd_filter_what[2] = {"dnnl conv backward-weights",
                                               "dnnl bf16 conv backward-weights"};

lg_status lg_dnnl_conv_fwd_p(const lg_conv_desc *d, int bf16, const float *x, const float *w,
                             const float *b, float *y) {
    LG_TRY(check_desc(d));
    LG_CHECK(x && w && y, LG_ERR_ARG, "lg_dnnl_conv_fwd: NULL x, w or y");
    void *u[MAX_PORTS] = {(void *)x, (void *)w, (void *)b, y};
    return run(d, !!bf16, DIR_FWD, u, fwd_what[!!bf16]);
}

lg_status lg_dnnl_conv_bwd_data_p(const lg_conv_desc *d, int bf16, const float *dy,
                                  const float *w, float *dx) {
    LG_TRY(check_desc(d));
    LG_CHECK(dy && w && dx, LG_ERR_ARG, "lg_dnnl_conv_bwd_data: NULL dy, w or dx");
    void *u[MAX_PORTS] = {(void *)dy, (void *)w, dx, NULL};
    return run(d, !!bf16, DIR_BWD_DATA, u, bwd_data_what[!!bf16]);
}

lg_status lg_dnnl_conv_bwd_filter_p(const lg_conv_desc *d, int bf16, const float *x,
                                    const float *dy, float *dw, float *db) {
    LG_TRY(check_desc(d));
    LG_CHECK(x && dy && dw, LG_ERR_ARG, "lg_dnnl_conv_bwd_filter: NULL x, dy or dw");
    void *u[MAX_PORTS] = {(void *)x, (void *)dy, dw, db};
    return run(d, !!bf16, DIR_BWD_FILTER, u, bwd_filter_what[!!bf16]);
}

lg_status lg_dnnl_conv_fwd(const lg_conv_desc *d, const float *x, const float *w,
                           const float *b, float *y) {
    return lg_dnnl_conv_fwd_p(d, 0, x, w, b, y);
}

lg_status lg_dnnl_conv_bwd_data(const lg_conv_desc *d, const float *dy, const float *w,
                                float *dx) {
    return lg_dnnl_conv_bwd_data_p(d, 0, dy, w, dx);
}

lg_status lg_dnnl_conv_bwd_filter(const lg_conv_desc *d, const float *x, const float *dy,
                                  float *dw, float *db) {
    return lg_dnnl_conv_bwd_filter_p(d, 0, x, dy, dw, db);
}

lg_status lg_dnnl_conv_prepare(const lg_conv_desc *d) {
    LG_TRY(check_desc(d));
    lg_status st = LG_OK;
    conv_op *op;
    pthread_mutex_lock(&g.lock);
    for (int dir = 0; dir < DIR_COUNT && st == LG_OK; dir++) st = get_op(d, 0, dir, &op);
    pthread_mutex_unlock(&g.lock);
    return with_shape(st, d, "dnnl conv prepare");
}

static void release_locked(void) {
    for (int i = 0; i < CACHE_SIZE; i++) entry_destroy(&g.cache[i]);
    g.next_victim = 0;
    lg_free(g.scratch);
    g.scratch = NULL;
    g.scratch_bytes = 0;
}

void lg_dnnl_conv_set_layout(lg_dnnl_layout layout) {
    pthread_mutex_lock(&g.lock);
    if (g.layout != layout) release_locked();
    g.layout = layout;
    pthread_mutex_unlock(&g.lock);
}

void lg_dnnl_conv_release(void) {
    pthread_mutex_lock(&g.lock);
    release_locked();
    if (g.stream) dnnl_stream_destroy(g.stream);
    if (g.engine) dnnl_engine_destroy(g.engine);
    g.stream = NULL;
    g.engine = NULL;
    pthread_mutex_unlock(&g.lock);
}
