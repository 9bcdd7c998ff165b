/* d(.) and u(.): separable resampling, rows then columns.
 *
 * Each axis becomes a tap table (for output i: up to T input indices and
 * weights), so every filter shares one convolution loop: the backend's
 * resample op. See pyramid.h and docs/data.md for the exact definitions of
 * the taps. */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "core/check.h"
#include "lapgan/pyramid.h"
#include "pyramid/resample.h"

static const char *const filter_names[LG_PYR_FILTER_COUNT] = {"binomial", "area-bilinear"};

const char *lg_pyr_filter_name(lg_pyr_filter f) {
    return (unsigned)f < LG_PYR_FILTER_COUNT ? filter_names[f] : "unknown";
}

lg_status lg_pyr_filter_parse(const char *name, lg_pyr_filter *f) {
    LG_CHECK(name && f, LG_ERR_ARG, "lg_pyr_filter_parse: NULL argument");
    for (int i = 0; i < LG_PYR_FILTER_COUNT; i++)
        if (!strcmp(name, filter_names[i])) {
            *f = (lg_pyr_filter)i;
            return LG_OK;
        }
    return lg_error(LG_ERR_ARG, "unknown pyramid filter '%s' (binomial, area-bilinear)", name);
}

/* One axis: out outputs, each with at most T taps (unused taps weigh 0). */
typedef struct {
    int out, T;
    int *idx;   /* [out*T] */
    float *w;   /* [out*T] */
} axis_taps;

static const float binom5[5] = {1.f / 16, 4.f / 16, 6.f / 16, 4.f / 16, 1.f / 16};

/* BORDER_REFLECT_101: ... 2 1 | 0 1 2 ... n-1 | n-2 n-3 ... */
static int reflect101(int i, int n) {
    if (n == 1) return 0;
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * n - 2 - i;
    return i;
}

/* Generalised binomial kernels, piecewise linear through the 5-tap weights. */
static double kern_down(double t) { /* (0,6) (1,4) (2,1) (3,0) */
    t = fabs(t);
    if (t < 1) return 6 - 2 * t;
    if (t < 2) return 4 - 3 * (t - 1);
    if (t < 3) return 1 - (t - 2);
    return 0;
}
static double kern_up(double t) { /* (0,.75) (.5,.5) (1,.125) (1.5,0) */
    t = fabs(t);
    if (t < 0.5) return 0.75 - 0.5 * t;
    if (t < 1) return 0.5 - 0.75 * (t - 0.5);
    if (t < 1.5) return 0.125 - 0.25 * (t - 1);
    return 0;
}

typedef enum { K_COPY, K_PYRDOWN, K_PYRUP, K_GEN_DOWN, K_GEN_UP, K_AREA, K_BILINEAR } kind;

static kind axis_kind(lg_pyr_filter f, int down, int in, int out) {
    if (in == out) return K_COPY;
    if (f == LG_PYR_AREA_BILINEAR) return down ? K_AREA : K_BILINEAR;
    if (down) return out == (in + 1) / 2 ? K_PYRDOWN : K_GEN_DOWN;
    return (out == 2 * in || out == 2 * in - 1) ? K_PYRUP : K_GEN_UP;
}

static int axis_width(kind k, int in, int out) {
    switch (k) {
    case K_COPY: return 1;
    case K_PYRDOWN: case K_PYRUP: return 5;
    case K_GEN_DOWN: return (int)ceil(3.0 * in / out) + 2;
    case K_GEN_UP: return 4;
    case K_AREA: return (in + out - 1) / out + 2;
    case K_BILINEAR: return 2;
    }
    return 1;
}

/* Taps of the generalised binomial kernels, normalised to sum 1 over the
 * input samples that exist (no border extension). */
static void fill_generalised(int *idx, float *w, kind k, int in, int out, int i, int T) {
    double r = (double)in / out;
    double c = (i + 0.5) * r - 0.5; /* output centre in input coordinates */
    double reach = k == K_GEN_DOWN ? 1.5 * r : 1.5;
    double sum = 0;
    int m = 0, lo = (int)ceil(c - reach), hi = (int)floor(c + reach);
    for (int x = lo < 0 ? 0 : lo; x <= hi && x < in && m < T; x++) {
        double v = k == K_GEN_DOWN ? kern_down((x - c) * 2 / r) : kern_up(x - c);
        if (v > 0) {
            idx[m] = x;
            w[m++] = (float)v;
            sum += v;
        }
    }
    for (int t = 0; t < m; t++) w[t] = (float)(w[t] / sum);
}

static void fill_axis(axis_taps *a, kind k, int in, int out) {
    for (int i = 0; i < out; i++) {
        int *idx = a->idx + (size_t)i * a->T;
        float *w = a->w + (size_t)i * a->T;
        switch (k) {
        case K_COPY:
            idx[0] = i;
            w[0] = 1;
            break;
        case K_PYRDOWN: /* cv2.pyrDown: blur, keep even samples */
            for (int t = 0; t < 5; t++) {
                idx[t] = reflect101(2 * i + t - 2, in);
                w[t] = binom5[t];
            }
            break;
        case K_PYRUP: /* cv2.pyrUp: zero-insert to 2*in, blur with 2*binom5 */
            for (int t = 0; t < 5; t++) {
                int p = reflect101(i + t - 2, 2 * in);
                idx[t] = p / 2;
                w[t] = (p & 1) ? 0.f : 2 * binom5[t];
            }
            break;
        case K_GEN_DOWN:
        case K_GEN_UP:
            fill_generalised(idx, w, k, in, out, i, a->T);
            break;
        case K_AREA: { /* overlap of [x, x+1) with [i, i+1)*in/out, in units of 1/out */
            long lo = (long)i * in, hi = (long)(i + 1) * in;
            int t = 0;
            for (long x = lo / out; x * out < hi && x < in; x++) {
                long a0 = x * out > lo ? x * out : lo;
                long a1 = (x + 1) * out < hi ? (x + 1) * out : hi;
                idx[t] = (int)x;
                w[t++] = (float)((double)(a1 - a0) / in);
            }
            break;
        }
        case K_BILINEAR: { /* align_corners: first and last samples map exactly */
            double s = out > 1 ? (double)i * (in - 1) / (out - 1) : 0;
            int x0 = (int)floor(s);
            if (x0 >= in - 1) x0 = in - 1;
            float f = (float)(s - x0);
            idx[0] = x0;
            w[0] = 1 - f;
            idx[1] = x0 + 1 < in ? x0 + 1 : x0;
            w[1] = x0 + 1 < in ? f : 0;
            break;
        }
        }
    }
}

/* The workspace (taps and per-thread row buffers) is kept between calls and
 * grows only when a call needs more, so a training step, which resamples
 * the same shapes every time, allocates nothing after its first. Calls take
 * turns on it (a resample is a small part of a step). Still reachable at
 * exit, as any cache. */
static struct {
    pthread_mutex_t lock;
    float *buf;
    size_t n;
} g_ws = {.lock = PTHREAD_MUTEX_INITIALIZER};

static lg_status resample_locked(const lg_backend *be, lg_pyr_filter f, int down,
                                 const float *x, int n, int c, int h, int w, float *y, int oh,
                                 int ow, float alpha, float beta);

lg_status lg_pyr_resample_on(const lg_backend *be, lg_pyr_filter f, int down, const float *x,
                             int n, int c, int h, int w, float *y, int oh, int ow, float alpha,
                             float beta) {
    pthread_mutex_lock(&g_ws.lock);
    lg_status st = resample_locked(be, f, down, x, n, c, h, w, y, oh, ow, alpha, beta);
    pthread_mutex_unlock(&g_ws.lock);
    return st;
}

lg_status lg_pyr_resample(lg_pyr_filter f, int down, const float *x, int n, int c, int h,
                          int w, float *y, int oh, int ow, float alpha, float beta) {
    return lg_pyr_resample_on(lg_backend_get(LG_BACKEND_CPU), f, down, x, n, c, h, w, y, oh, ow,
                              alpha, beta);
}

static lg_status resample_locked(const lg_backend *be, lg_pyr_filter f, int down,
                                 const float *x, int n, int c, int h, int w, float *y, int oh,
                                 int ow, float alpha, float beta) {
    const char *fn = down ? "lg_pyr_down" : "lg_pyr_up";
    LG_CHECK(be && x && y, LG_ERR_ARG, "%s: NULL argument", fn);
    LG_CHECK((unsigned)f < LG_PYR_FILTER_COUNT, LG_ERR_ARG, "%s: bad filter %d", fn, (int)f);
    LG_CHECK(n > 0 && c > 0 && h > 0 && w > 0 && oh > 0 && ow > 0, LG_ERR_SHAPE,
             "%s: bad shape [%d,%d,%d,%d] -> %dx%d", fn, n, c, h, w, oh, ow);
    LG_CHECK(down ? (oh <= h && ow <= w) : (oh >= h && ow >= w), LG_ERR_SHAPE,
             "%s: %dx%d -> %dx%d is not a %s", fn, h, w, oh, ow, down ? "shrink" : "enlarge");

    kind kx = axis_kind(f, down, w, ow), ky = axis_kind(f, down, h, oh);
    axis_taps ax = {ow, axis_width(kx, w, ow), NULL, NULL};
    axis_taps ay = {oh, axis_width(ky, h, oh), NULL, NULL};
    lg_resample_desc d = {.planes = (long)n * c, .h = h, .w = w, .alpha = alpha, .beta = beta,
                          .rows = {oh, ay.T, NULL, NULL}, .cols = {ow, ax.T, NULL, NULL}};
    size_t nx = (size_t)ow * ax.T, ny = (size_t)oh * ay.T;
    size_t total = 2 * (nx + ny) + be->resample_workspace(&d); /* int and float: 4 bytes */
    if (total > g_ws.n) {
        float *b = lg_alloc_floats(total);
        LG_CHECK(b, LG_ERR_NOMEM, "%s: out of memory for a %dx%d workspace", fn, h, ow);
        lg_free(g_ws.buf);
        g_ws.buf = b;
        g_ws.n = total;
    }
    float *ws = g_ws.buf;
    /* fill_axis leaves the unused taps of short rows alone: zero weight, index 0 */
    memset(ws, 0, sizeof(float) * 2 * (nx + ny));
    ax.w = ws;
    ax.idx = (int *)(ws + nx);
    ay.w = ws + 2 * nx;
    ay.idx = (int *)(ws + 2 * nx + ny);
    fill_axis(&ax, kx, w, ow);
    fill_axis(&ay, ky, h, oh);
    d.cols.idx = ax.idx, d.cols.w = ax.w;
    d.rows.idx = ay.idx, d.rows.w = ay.w;
    return be->resample(&d, x, y, ws + 2 * (nx + ny));
}

lg_status lg_pyr_down(lg_pyr_filter f, const float *x, int n, int c, int h, int w, float *y,
                      int oh, int ow) {
    return lg_pyr_resample(f, 1, x, n, c, h, w, y, oh, ow, 1.f, 0.f);
}

lg_status lg_pyr_up(lg_pyr_filter f, const float *x, int n, int c, int h, int w, float *y,
                    int oh, int ow) {
    return lg_pyr_resample(f, 0, x, n, c, h, w, y, oh, ow, 1.f, 0.f);
}
