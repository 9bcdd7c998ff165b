/* Presets as data. Each row below is one level of one model, finest first;
 * the paper's section 4 and ../docs/presets.md explain where each number
 * comes from and where the authors' code differs. Model files (JSON) are
 * read and written in model_json.c, from its table of keys. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "lapgan/gan.h"
#include "model_json.h"

#define W(...) (int[LG_MAX_WIDTHS]){__VA_ARGS__}

/* A conv level: G = hidden convs (k x k, "same") + output conv to c planes,
 * D = hidden convs + dropout + linear -> 1 logit. */
static lg_level_desc conv_level(int size, int gk, int gok, int dk, int gw, int dw, float d_drop) {
    lg_level_desc l = {.size = size, .zdim = 1, .g_nw = 2, .d_nw = 2, .g_kernel = gk,
                       .g_out_kernel = gok, .d_kernel = dk, .d_last_stride = 1,
                       .d_dropout = d_drop};
    l.g_width[0] = l.g_width[1] = gw;
    l.d_width[0] = l.d_width[1] = dw;
    return l;
}

/* The coarsest level: a plain fully connected GAN, 2 hidden layers each. */
static lg_level_desc fc_level(int size, int zdim, int gw, int dw, float d_drop) {
    lg_level_desc l = {.size = size, .fc = 1, .zdim = zdim, .g_nw = 2, .d_nw = 2,
                       .d_dropout = d_drop};
    l.g_width[0] = l.g_width[1] = gw;
    l.d_width[0] = l.d_width[1] = dw;
    return l;
}

/* The paper's recipe: SGD lr 0.02 divided by (1 + 4e-5) per epoch, momentum
 * 0.5 rising by 0.0008 per epoch to 0.8, no weight decay, with the momentum
 * of the authors' Torch7 optim.sgd (dampening = momentum) and its lr floor
 * of 1e-6 (../docs/presets.md). */
static lg_optim_cfg paper_sgd(void) {
    lg_optim_cfg o = lg_optim_defaults(LG_OPT_SGD, 0.02f);
    o.sgd_style = LG_SGD_TORCH7;
    o.momentum = 0.5f;
    o.lr_decay = 4e-5f;
    o.lr_min = 1e-6f;
    o.mom_step = 0.0008f;
    o.mom_max = 0.8f;
    return o;
}

static void base(lg_model_desc *m, const char *name, int c, int levels) {
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", name);
    m->c = c;
    m->levels = levels;
    m->filter = LG_PYR_BINOMIAL;
    m->noise_lo = -1;
    m->noise_hi = 1;
    m->opt = paper_sgd();
    m->init = LG_INIT_TORCH;
    m->d_init_scale = 1;
    m->batch = 128;
}

/* fashion: 28 -> 14 -> 7 greyscale; widths scaled to 1 channel and to a
 * demo that trains in minutes on 2 cores. */
static void preset_fashion(lg_model_desc *m) {
    base(m, "fashion", 1, 3);
    m->level[0] = conv_level(28, 5, 5, 5, 32, 32, 0.5f);
    m->level[1] = conv_level(14, 5, 5, 5, 32, 32, 0.5f);
    m->level[2] = fc_level(7, 100, 600, 300, 0.5f);
    /* Without batch norm in G this 7x7 FC GAN collapses to one image within
     * 500 steps (docs/eval.md); with it, it covers the classes. */
    m->level[2].g_bn = 1;
}

/* cifar10 (paper): 28x28 crops, 8 -> 14 -> 28; FC 8x8 level with G 1200 and
 * D 600 units (dropout in D); 3-layer conv G and 2-layer conv D above it,
 * 5x5 "same" convolutions with 128 maps. */
static void preset_cifar10(lg_model_desc *m) {
    base(m, "cifar10", 3, 3);
    m->crop = 28;
    m->level[0] = conv_level(28, 5, 5, 5, 128, 128, 0.5f);
    m->level[1] = conv_level(14, 5, 5, 5, 128, 128, 0.5f);
    m->level[2] = fc_level(8, 100, 1200, 600, 0.5f);
}

/* cifar10-32: the full 32x32 images, 8 -> 16 -> 32 (the authors' code's
 * default sizes, and the size of the paper's Table 1), same nets as
 * cifar10. */
static void preset_cifar10_32(lg_model_desc *m) {
    base(m, "cifar10-32", 3, 3);
    m->level[0] = conv_level(32, 5, 5, 5, 128, 128, 0.5f);
    m->level[1] = conv_level(16, 5, 5, 5, 128, 128, 0.5f);
    m->level[2] = fc_level(8, 100, 1200, 600, 0.5f);
}

/* stl10 (paper): 8 -> 16 -> 32 -> 64 -> 96, same nets as cifar10. */
static void preset_stl10(lg_model_desc *m) {
    base(m, "stl10", 3, 5);
    const int sizes[4] = {96, 64, 32, 16};
    for (int k = 0; k < 4; k++) m->level[k] = conv_level(sizes[k], 5, 5, 5, 128, 128, 0.5f);
    m->level[4] = fc_level(8, 100, 1200, 600, 0.5f);
}

/* The paper's LSUN maps: G {64, 368, 128, 224}, D {48, 448, 416}. */
static lg_level_desc lsun_level(int size, lg_level_arch arch) {
    lg_level_desc l = {.size = size, .zdim = 1, .g_nw = 4, .d_nw = 3, .g_kernel = 7,
                       .g_out_kernel = 7, .d_kernel = 7, .d_last_stride = 1, .g_dropout = 0.5f,
                       .g_bn = 1, .arch = arch};
    memcpy(l.g_width, W(64, 368, 128, 224), sizeof l.g_width);
    memcpy(l.d_width, W(48, 448, 416), sizeof l.d_width);
    return l;
}

/* lsun64 (paper): 4 -> 8 -> 16 -> 32 -> 64. The 16, 32 and 64 levels are
 * the authors' LSUN model (lsun/model.lua "large": grouped convolutions,
 * L2 feature pooling, unpadded D; lg_level_arch). Its unpadded D needs at
 * least 13x13, so the 8x8 level keeps the paper's maps with plain 7x7
 * "same" convolutions (ours: the paper does not say; the authors' code has
 * only FC models that fit 8x8). The 4x4 level is ours too (the paper starts
 * from 4x4 validation images): a small FC GAN. */
static void preset_lsun64(lg_model_desc *m) {
    base(m, "lsun64", 3, 5);
    const int sizes[3] = {64, 32, 16};
    for (int k = 0; k < 3; k++) m->level[k] = lsun_level(sizes[k], LG_ARCH_LSUN_LARGE);
    m->level[3] = lsun_level(8, LG_ARCH_PLAIN);
    m->level[4] = fc_level(4, 100, 600, 300, 0.5f);
}

/* lsun64-plain: the paper's text read literally, as lsun64 was before it
 * followed the authors' code: the same maps at every conv level, 7x7 "same"
 * ungrouped convolutions, BN and dropout after each G hidden layer. At
 * 64x64 about 9.5x the multiply-adds of lsun64 (docs/presets.md). */
static void preset_lsun64_plain(lg_model_desc *m) {
    base(m, "lsun64-plain", 3, 5);
    const int sizes[4] = {64, 32, 16, 8};
    for (int k = 0; k < 4; k++) m->level[k] = lsun_level(sizes[k], LG_ARCH_PLAIN);
    m->level[4] = fc_level(4, 100, 600, 300, 0.5f);
}

/* tiny: fashion's geometry with small nets, for smoke tests and CI. */
static void preset_tiny(lg_model_desc *m) {
    base(m, "tiny", 1, 3);
    m->batch = 16;
    m->level[0] = conv_level(28, 3, 3, 3, 8, 8, 0.5f);
    m->level[1] = conv_level(14, 3, 3, 3, 8, 8, 0.5f);
    m->level[2] = fc_level(7, 16, 32, 16, 0.5f);
}

/* gan-fashion: the single-scale baseline, one FC GAN on 28x28 images with
 * the fashion LAPGAN's capacity: G 395-395 has 508,359 parameters (the
 * three LAPGAN generators together: 509,179), D 194-194 has 190,315 (the
 * three discriminators: 189,891). */
static void preset_gan_fashion(lg_model_desc *m) {
    base(m, "gan-fashion", 1, 1);
    m->level[0] = fc_level(28, 100, 395, 194, 0.5f);
    m->level[0].g_bn = 1; /* the same recipe as fashion's FC level */
}

/* gan-cifar10: the single-scale baseline of Table 1 (a plain FC GAN, as
 * Goodfellow et al.) on cifar10's 28x28 crops with that LAPGAN's capacity:
 * G 813-813 has 2,658,423 parameters (cifar10's three generators together:
 * 2,657,510), D 504-504 has 1,440,937 (its discriminators: 1,441,355). */
static void preset_gan_cifar10(lg_model_desc *m) {
    base(m, "gan-cifar10", 3, 1);
    m->crop = 28;
    m->level[0] = fc_level(28, 100, 813, 504, 0.5f);
}

/* gan-cifar10-32: the same against cifar10-32 on the full 32x32 images:
 * G 687-687 has 2,655,579 parameters (cifar10-32's generators: 2,657,510),
 * D 423-423 has 1,479,655 (its discriminators: 1,479,755). */
static void preset_gan_cifar10_32(lg_model_desc *m) {
    base(m, "gan-cifar10-32", 3, 1);
    m->level[0] = fc_level(32, 100, 687, 423, 0.5f);
}

static const struct {
    const char *name;
    void (*fill)(lg_model_desc *);
} lg_presets[] = {
    {"fashion", preset_fashion}, {"cifar10", preset_cifar10}, {"stl10", preset_stl10},
    {"lsun64", preset_lsun64},   {"gan-fashion", preset_gan_fashion}, {"tiny", preset_tiny},
    {"cifar10-32", preset_cifar10_32}, {"gan-cifar10", preset_gan_cifar10},
    {"gan-cifar10-32", preset_gan_cifar10_32}, {"lsun64-plain", preset_lsun64_plain},
};

const char *lg_preset_names(void) {
    return "fashion, cifar10, cifar10-32, stl10, lsun64, lsun64-plain, gan-fashion, gan-cifar10, "
           "gan-cifar10-32, tiny";
}

lg_status lg_preset(const char *name, lg_model_desc *out) {
    LG_CHECK(name && out, LG_ERR_ARG, "lg_preset: NULL argument");
    for (int i = 0; i < LG_ARRAY_LEN(lg_presets); i++)
        if (!strcmp(name, lg_presets[i].name)) {
            lg_presets[i].fill(out);
            return lg_model_desc_validate(out);
        }
    return lg_error(LG_ERR_ARG, "unknown preset '%s' (choose from %s)", name, lg_preset_names());
}

void lg_model_desc_adam(lg_model_desc *m) {
    m->opt = lg_optim_defaults(LG_OPT_ADAM, 2e-4f);
    m->opt.beta1 = 0.5f;
}

void lg_model_desc_authors_init(lg_model_desc *m) {
    m->init = LG_INIT_NORMAL;
    m->init_std = 0.05f;
    m->d_init_scale = 0.1f;
}

void lg_model_desc_dcgan(lg_model_desc *m) {
    lg_model_desc_adam(m);
    m->init = LG_INIT_NORMAL;
    m->init_std = 0.02f;
    m->d_init_scale = 1.0f;
    m->leaky_d = 1;
    for (int k = 0; k < m->levels; k++) m->level[k].g_bn = m->level[k].d_bn = 1;
}

void lg_model_desc_class_conditional(lg_model_desc *m, int nclasses) {
    m->nclasses = nclasses > 0 ? nclasses : 0;
}

const char *lg_level_arch_name(lg_level_arch a) {
    return a == LG_ARCH_PLAIN ? "plain" : a == LG_ARCH_LSUN_LARGE ? "lsun_large" : "?";
}

/* LSUN_LARGE: its fixed depths, widths its groups and pooling divide, and
 * room for D's unpadded 3x3, 5x5 and 7x7 convolutions (12 pixels). */
static lg_status check_arch(const lg_model_desc *m, int k) {
    const lg_level_desc *l = &m->level[k];
    LG_CHECK(l->arch >= 0 && l->arch < LG_ARCH_COUNT, LG_ERR_ARG,
             "model '%s' level %d: unknown arch %d", m->name, k, (int)l->arch);
    if (l->arch != LG_ARCH_LSUN_LARGE) return LG_OK;
    LG_CHECK(l->g_nw == 4 && l->d_nw == 3, LG_ERR_ARG,
             "model '%s' level %d: arch lsun_large has 4 G and 3 D widths, got %d and %d",
             m->name, k, l->g_nw, l->d_nw);
    LG_CHECK(l->size >= 13, LG_ERR_ARG,
             "model '%s' level %d: arch lsun_large needs at least 13x13 (D's unpadded convs), "
             "got %d", m->name, k, l->size);
    const int *g = l->g_width, *d = l->d_width;
    /* each grouped layer's input and output widths, then pooling's pairs */
    const int ok = g[0] % 4 == 0 && g[1] % 4 == 0 && g[2] % 4 == 0 && g[2] % 2 == 0 &&
                   (g[2] / 2) % 2 == 0 && g[3] % 2 == 0 && d[0] % 4 == 0 && d[1] % 16 == 0 &&
                   d[2] % 16 == 0;
    LG_CHECK(ok, LG_ERR_ARG,
             "model '%s' level %d: arch lsun_large groups need G widths divisible by 4, 4, 4 "
             "(and the third by 4 after pooling pairs) and 2, D widths by 4, 16, 16",
             m->name, k);
    return LG_OK;
}

lg_status lg_model_desc_validate(const lg_model_desc *m) {
    LG_CHECK(m, LG_ERR_ARG, "model description is NULL");
    LG_CHECK(m->c == 1 || m->c == 3, LG_ERR_ARG, "model '%s': channels must be 1 or 3, got %d",
             m->name, m->c);
    LG_CHECK(m->levels >= 1 && m->levels <= LG_PYR_MAX_LEVELS, LG_ERR_ARG,
             "model '%s': levels must be in [1, %d], got %d", m->name, LG_PYR_MAX_LEVELS,
             m->levels);
    LG_CHECK(m->nclasses >= 0 && m->nclasses <= LG_MAX_CLASSES, LG_ERR_ARG,
             "model '%s': bad class count %d", m->name, m->nclasses);
    LG_CHECK(m->batch >= 2 && m->batch % 2 == 0, LG_ERR_ARG,
             "model '%s': batch must be even and >= 2 (half real, half generated), got %d",
             m->name, m->batch);
    LG_CHECK(m->filter >= 0 && m->filter < LG_PYR_FILTER_COUNT, LG_ERR_ARG,
             "model '%s': bad pyramid filter %d", m->name, (int)m->filter);
    for (int k = 0; k < m->levels; k++) {
        const lg_level_desc *l = &m->level[k];
        int coarsest = k == m->levels - 1;
        LG_CHECK(l->size >= 2 && l->size <= 4096, LG_ERR_ARG, "model '%s' level %d: size %d",
                 m->name, k, l->size);
        LG_CHECK(k == 0 || l->size < m->level[k - 1].size, LG_ERR_ARG,
                 "model '%s': level %d (%d) must be smaller than level %d (%d)", m->name, k,
                 l->size, k - 1, m->level[k - 1].size);
        LG_CHECK(l->fc == coarsest, LG_ERR_ARG,
                 "model '%s' level %d: the coarsest level is fully connected, the others "
                 "convolutional", m->name, k);
        LG_CHECK(l->zdim >= 1 && l->zdim <= 4096, LG_ERR_ARG, "model '%s' level %d: zdim %d",
                 m->name, k, l->zdim);
        LG_CHECK(l->g_nw >= 1 && l->g_nw <= LG_MAX_WIDTHS && l->d_nw >= 1 &&
                     l->d_nw <= LG_MAX_WIDTHS, LG_ERR_ARG,
                 "model '%s' level %d: 1 to %d hidden layers per net", m->name, k,
                 LG_MAX_WIDTHS);
        for (int i = 0; i < l->g_nw; i++)
            LG_CHECK(l->g_width[i] > 0 && l->g_width[i] <= 65536, LG_ERR_ARG,
                     "model '%s' level %d: G width %d", m->name, k, l->g_width[i]);
        for (int i = 0; i < l->d_nw; i++)
            LG_CHECK(l->d_width[i] > 0 && l->d_width[i] <= 65536, LG_ERR_ARG,
                     "model '%s' level %d: D width %d", m->name, k, l->d_width[i]);
        LG_CHECK(l->g_dropout >= 0 && l->g_dropout < 1 && l->d_dropout >= 0 && l->d_dropout < 1,
                 LG_ERR_ARG, "model '%s' level %d: dropout must be in [0, 1)", m->name, k);
        if (!l->fc) {
            LG_CHECK(l->g_kernel % 2 == 1 && l->g_out_kernel % 2 == 1 && l->d_kernel % 2 == 1 &&
                         l->g_kernel > 0 && l->g_out_kernel > 0 && l->d_kernel > 0,
                     LG_ERR_ARG, "model '%s' level %d: conv kernels must be odd", m->name, k);
            LG_CHECK(l->d_last_stride == 1 || l->d_last_stride == 2, LG_ERR_ARG,
                     "model '%s' level %d: D's last stride must be 1 or 2", m->name, k);
            LG_TRY(check_arch(m, k));
        }
    }
    LG_CHECK(m->crop == 0 || m->crop == m->level[0].size, LG_ERR_ARG,
             "model '%s': crop %d must equal the finest size %d", m->name, m->crop,
             m->level[0].size);
    LG_CHECK(m->noise_hi > m->noise_lo, LG_ERR_ARG, "model '%s': noise range is empty", m->name);
    LG_CHECK(m->opt.lr > 0 && m->opt.lr < 10, LG_ERR_ARG, "model '%s': learning rate %g",
             m->name, m->opt.lr);
    LG_CHECK(m->opt.sgd_style >= 0 && m->opt.sgd_style < LG_SGD_STYLE_COUNT, LG_ERR_ARG,
             "model '%s': bad momentum style %d", m->name, (int)m->opt.sgd_style);
    /* Non-finite numbers could not be written back as JSON (a checkpoint
     * saved from such a description would not load). */
    const lg_optim_cfg *o = &m->opt;
    const float nums[] = {m->noise_lo, m->noise_hi, m->init_std, o->momentum, o->weight_decay,
                          o->beta1, o->beta2, o->eps, o->lr_decay, o->lr_min, o->mom_step,
                          o->mom_max};
    for (int i = 0; i < LG_ARRAY_LEN(nums); i++)
        LG_CHECK(isfinite(nums[i]), LG_ERR_ARG,
                 "model '%s': noise range, init_std and optimiser settings must be finite",
                 m->name);
    return lg_model_desc_check_keys(m); /* and within the model file's ranges */
}

/* ---- human-readable description ------------------------------------------ */

static void put_widths(char *b, size_t n, const int *w, int nw) {
    size_t len = 0;
    for (int i = 0; i < nw && len < n; i++)
        len += (size_t)snprintf(b + len, n - len, "%s%d", i ? "," : "", w[i]);
}

/* ", BN, dropout 0.5" after a net's hidden widths. */
static void put_extras(char *b, size_t n, int bn, float dropout) {
    int len = snprintf(b, n, "%s", bn ? ", BN" : "");
    if (dropout > 0 && len >= 0 && (size_t)len < n)
        snprintf(b + len, n - (size_t)len, ", dropout %g", dropout);
}

char *lg_model_desc_describe(const lg_model_desc *m) {
    size_t cap = 8192, len = 0;
    char *s = malloc(cap);
    if (!s) return NULL;
#define OUT(...) len += (size_t)snprintf(s + len, len < cap ? cap - len : 0, __VA_ARGS__)
    OUT("model %s: %d channel%s, %d levels (", m->name, m->c, m->c > 1 ? "s" : "", m->levels);
    for (int k = m->levels - 1; k >= 0; k--)
        OUT("%d%s", m->level[k].size, k ? " -> " : ")");
    OUT(", pyramid filter %s%s", lg_pyr_filter_name(m->filter),
        m->nclasses ? ", class-conditional" : "");
    if (m->nclasses) OUT(" (%d classes)", m->nclasses);
    if (m->crop) OUT(", %dx%d random crops", m->crop, m->crop);
    if (m->flip) OUT(", random left-right flips");
    OUT("\n");
    for (int k = m->levels - 1; k >= 0; k--) {
        const lg_level_desc *l = &m->level[k];
        char gw[64], dw[64];
        put_widths(gw, sizeof gw, l->g_width, l->g_nw);
        put_widths(dw, sizeof dw, l->d_width, l->d_nw);
        char ge[48], de[48];
        put_extras(ge, sizeof ge, l->g_bn, l->g_dropout);
        put_extras(de, sizeof de, l->d_bn, l->d_dropout);
        if (l->fc)
            OUT("  level %d %2dx%-2d FC    G: z%d -> [%s]%s -> %d   D: [%s]%s -> 1\n", k, l->size,
                l->size, l->zdim, gw, ge, m->c * l->size * l->size, dw, de);
        else if (l->arch == LG_ARCH_LSUN_LARGE)
            OUT("  level %d %2dx%-2d conv  G (authors' LSUN large): %d+%d planes -> [%s] 7,7,7,5 "
                "groups 1,4,4,2, ReLU+BN, spatial dropout %g, L2 pool after the 3rd -> %d (%dx%d, "
                "BN)   D: [%s] 3,5,7 unpadded, groups 1,4,16%s -> 1\n",
                k, l->size, l->size, l->zdim, m->c, gw, l->g_dropout, m->c, l->g_out_kernel,
                l->g_out_kernel, dw, de);
        else
            OUT("  level %d %2dx%-2d conv  G: %d+%d planes -> [%s] %dx%d%s -> %d (%dx%d)   "
                "D: [%s] %dx%d%s -> 1\n",
                k, l->size, l->size, l->zdim, m->c, gw, l->g_kernel, l->g_kernel, ge, m->c,
                l->g_out_kernel, l->g_out_kernel, dw, l->d_kernel, l->d_kernel, de);
    }
    const lg_optim_cfg *o = &m->opt;
    if (o->kind == LG_OPT_SGD)
        OUT("  optimiser SGD lr %g (/(1+%g) per epoch), momentum %g (+%g per epoch, max %g, "
            "%s)", o->lr, o->lr_decay, o->momentum, o->mom_step, o->mom_max,
            o->sgd_style == LG_SGD_TORCH7 ? "Torch7 optim.sgd: dampening = momentum"
                                          : "PyTorch: no dampening");
    else
        OUT("  optimiser Adam lr %g, betas %g %g", o->lr, o->beta1, o->beta2);
    OUT(", D %s, batch %d (half real, half generated), z ~ U[%g, %g]\n",
        m->leaky_d ? "LeakyReLU(0.2)" : "ReLU", m->batch, m->noise_lo, m->noise_hi);
    if (m->init == LG_INIT_NORMAL) {
        const float sd = m->init_std > 0 ? m->init_std : 0.02f;
        OUT("  init normal: weights N(0, %g^2) in G, N(0, %g^2) in D, biases 0\n", sd,
            sd * m->d_init_scale);
    } else {
        OUT("  init torch: PyTorch's defaults (U(+-1/sqrt(fan_in)) weights and biases)\n");
    }
#undef OUT
    return s;
}
