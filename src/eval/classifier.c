/* A small convnet classifier for the offline quality checks: its
 * penultimate features feed the Frechet distance and its predictions check
 * class-conditional samples. It is two lg_nets, a trunk ending in the
 * 128-feature ReLU and a linear head, so the features are the trunk's
 * output and need no access to a net's inner activations. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "lapgan/eval.h"
#include "lapgan/io.h"
#include "lapgan/nn.h"

struct lg_classifier {
    int c, h, w, nclasses;
    uint64_t seed;
    const struct arch_def *arch;
    lg_net *trunk, *head;
    float *x;       /* [max_batch, c, h, w] input scratch */
    float *dlogits; /* [max_batch, nclasses] */
    float *dfeat;   /* [max_batch, features] */
    int *labels;    /* [max_batch] */
    uint8_t *px;    /* [c, h, w]: one image of a streamed data set */
    char source[256];
    double test_acc; /* < 0: not measured */
};

enum { MAXB = LG_CLASSIFIER_MAX_BATCH, NF = LG_CLASSIFIER_FEATURES };

#define CONV(o, kk, s) {.kind = LG_LAYER_CONV2D, .out = o, .k = kk, .stride = s, .pad = (kk) / 2}
#define CONV_NB(o, s)                                                                     \
    {.kind = LG_LAYER_CONV2D, .out = o, .k = 3, .stride = s, .pad = 1, .no_bias = 1}
#define BN {.kind = LG_LAYER_BATCHNORM, .eps = LG_BN_EPS, .momentum = LG_BN_MOMENTUM}
#define RELU {.kind = LG_LAYER_RELU}

/* "convnet": the original small net, fast enough for Fashion-MNIST in a
 * test, and the one every earlier classifier file holds. */
static const lg_layer_spec convnet_spec[] = {
    CONV(32, 5, 1), RELU, CONV(64, 5, 2), RELU, CONV(64, 3, 2), RELU,
    {.kind = LG_LAYER_FLATTEN}, {.kind = LG_LAYER_LINEAR, .out = NF}, RELU,
};

/* "vgg": 3x3 convolutions with batch norm (VGG's pattern, strided instead
 * of pooled, since the op set has no pooling), wide enough to pass 75% on
 * CIFAR-10's test set, which the small net does not reach (62%). */
static const lg_layer_spec vgg_spec[] = {
    CONV_NB(32, 1),  BN, RELU, CONV_NB(32, 1),  BN, RELU, CONV_NB(64, 2), BN, RELU,
    CONV_NB(64, 1),  BN, RELU, CONV_NB(128, 2), BN, RELU, CONV_NB(128, 1), BN, RELU,
    CONV_NB(128, 2), BN, RELU, {.kind = LG_LAYER_FLATTEN},
    {.kind = LG_LAYER_DROPOUT, .p = 0.3f}, {.kind = LG_LAYER_LINEAR, .out = NF}, RELU,
};

typedef struct arch_def {
    const char *name, *file_arch;
    const lg_layer_spec *spec;
    int nspec;
} arch_def;

static const arch_def archs[] = {
    {"convnet", LG_CLASSIFIER_ARCH, convnet_spec, LG_ARRAY_LEN(convnet_spec)},
    {"vgg", "lapgan-vgg-v1", vgg_spec, LG_ARRAY_LEN(vgg_spec)},
};

/* By the CLI's name or the file's arch string. */
static const arch_def *find_arch(const char *name) {
    for (int i = 0; i < LG_ARRAY_LEN(archs); i++)
        if (!strcmp(name, archs[i].name) || !strcmp(name, archs[i].file_arch)) return &archs[i];
    return NULL;
}

void lg_classifier_free(lg_classifier *clf) {
    if (!clf) return;
    lg_net_free(clf->trunk);
    lg_net_free(clf->head);
    lg_free(clf->x);
    lg_free(clf->dlogits);
    lg_free(clf->dfeat);
    lg_free(clf->labels);
    lg_free(clf->px);
    lg_free(clf);
}

lg_status lg_classifier_new(lg_classifier **out, const char *arch, int c, int h, int w,
                            int nclasses, uint64_t seed) {
    LG_CHECK(out, LG_ERR_ARG, "classifier: out is NULL");
    *out = NULL;
    const arch_def *ad = find_arch(arch ? arch : "convnet");
    LG_CHECK(ad, LG_ERR_ARG, "classifier: unknown architecture '%s' (convnet or vgg)", arch);
    LG_CHECK(c >= 1 && c <= 4 && h >= 4 && w >= 4 && h <= 4096 && w <= 4096, LG_ERR_ARG,
             "classifier: input %dx%dx%d not supported (1-4 channels, 4..4096 pixels)", c, h, w);
    LG_CHECK(nclasses >= 2 && nclasses <= LG_MAX_CLASSES, LG_ERR_ARG,
             "classifier: %d classes (need 2..%d)", nclasses, LG_MAX_CLASSES);
    lg_classifier *clf = lg_alloc(sizeof *clf);
    if (!clf) return lg_error(LG_ERR_NOMEM, "classifier: out of memory");
    *clf = (lg_classifier){.c = c, .h = h, .w = w, .nclasses = nclasses, .seed = seed,
                           .arch = ad, .test_acc = -1};
    lg_net_cfg tc = {.c = c, .h = h, .w = w, .max_batch = MAXB, .seed = seed, .stream = 0};
    lg_net_cfg hc = {.c = NF, .h = 1, .w = 1, .max_batch = MAXB, .seed = seed, .stream = 1};
    lg_layer_spec head_spec = {.kind = LG_LAYER_LINEAR, .out = nclasses};
    lg_status st;
    LG_TRY_GOTO(st, lg_net_new(&clf->trunk, ad->spec, ad->nspec, &tc), fail);
    LG_TRY_GOTO(st, lg_net_new(&clf->head, &head_spec, 1, &hc), fail);
    clf->x = lg_alloc_floats((size_t)MAXB * c * h * w);
    clf->dlogits = lg_alloc_floats((size_t)MAXB * nclasses);
    clf->dfeat = lg_alloc_floats((size_t)MAXB * NF);
    clf->labels = lg_alloc((size_t)MAXB * sizeof(int));
    clf->px = lg_alloc((size_t)c * h * w);
    if (!clf->x || !clf->dlogits || !clf->dfeat || !clf->labels || !clf->px) {
        st = lg_error(LG_ERR_NOMEM, "classifier: out of memory");
        goto fail;
    }
    *out = clf;
    return LG_OK;
fail:
    lg_classifier_free(clf);
    return st;
}

const char *lg_classifier_arch(const lg_classifier *clf) {
    return clf ? clf->arch->file_arch : "";
}

void lg_classifier_shape(const lg_classifier *clf, int *c, int *h, int *w, int *nclasses) {
    if (c) *c = clf->c;
    if (h) *h = clf->h;
    if (w) *w = clf->w;
    if (nclasses) *nclasses = clf->nclasses;
}

/* Mean softmax cross-entropy over n rows of logits, max-shifted with the
 * log-sum-exp in double; dlogits = (softmax - onehot) / n. (nn.h has only
 * the binary loss; this is the one place a multi-class loss is needed.) */
static lg_status softmax_ce(const float *logits, const int *labels, int n, int k, double *loss,
                            float *dlogits) {
    double sum = 0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * k;
        float *g = dlogits + (size_t)i * k;
        LG_CHECK(labels[i] >= 0 && labels[i] < k, LG_ERR_ARG,
                 "classifier: label %d outside [0, %d)", labels[i], k);
        float mx = z[0];
        for (int j = 1; j < k; j++) mx = z[j] > mx ? z[j] : mx;
        double se = 0;
        for (int j = 0; j < k; j++) se += exp((double)z[j] - mx);
        double lse = mx + log(se);
        sum += lse - z[labels[i]];
        for (int j = 0; j < k; j++)
            g[j] = (float)((exp((double)z[j] - lse) - (j == labels[i])) / n);
    }
    *loss = sum / n;
    LG_CHECK(isfinite(*loss), LG_ERR_NUMERIC, "classifier: loss is not finite (diverged?)");
    return LG_OK;
}

static lg_status train_step(lg_classifier *clf, lg_optim *ot, lg_optim *oh, int batch,
                            double epoch, double *loss) {
    const float *feat, *logits;
    LG_TRY(lg_net_forward(clf->trunk, clf->x, batch, 1, &feat));
    LG_TRY(lg_net_forward(clf->head, feat, batch, 1, &logits));
    LG_TRY(softmax_ce(logits, clf->labels, batch, clf->nclasses, loss, clf->dlogits));
    lg_net_zero_grad(clf->trunk);
    lg_net_zero_grad(clf->head);
    LG_TRY(lg_net_backward(clf->head, clf->dlogits, clf->dfeat, 1));
    LG_TRY(lg_net_backward(clf->trunk, clf->dfeat, NULL, 1));
    size_t n;
    float *p = lg_net_params(clf->trunk, &n);
    LG_TRY(lg_optim_step(ot, p, lg_net_grads(clf->trunk, &n), epoch));
    p = lg_net_params(clf->head, &n);
    return lg_optim_step(oh, p, lg_net_grads(clf->head, &n), epoch);
}

static lg_status check_dataset(const lg_classifier *clf, const lg_dataset *ds, const char *fn) {
    LG_CHECK(clf && ds, LG_ERR_ARG, "%s: NULL argument", fn);
    LG_CHECK(ds->c == clf->c && ds->h == clf->h && ds->w == clf->w, LG_ERR_SHAPE,
             "%s: data set %s is %dx%dx%d, classifier wants %dx%dx%d", fn, ds->source, ds->c,
             ds->h, ds->w, clf->c, clf->h, clf->w);
    LG_CHECK(ds->labels && ds->nclasses >= 1 && ds->nclasses <= clf->nclasses, LG_ERR_ARG,
             "%s: data set %s has %d classes (classifier: %d; unlabelled?)", fn, ds->source,
             ds->nclasses, clf->nclasses);
    LG_CHECK(ds->n >= 1, LG_ERR_ARG, "%s: data set %s is empty", fn, ds->source);
    return LG_OK;
}

lg_classifier_train_cfg lg_classifier_train_defaults(void) {
    return (lg_classifier_train_cfg){.epochs = 4, .batch = 64, .lr = 1e-3f};
}

lg_status lg_classifier_train(lg_classifier *clf, const lg_dataset *ds,
                              const lg_classifier_train_cfg *cfg,
                              lg_classifier_progress progress, void *user) {
    const char *fn = "classifier train";
    LG_TRY(check_dataset(clf, ds, fn));
    LG_CHECK(cfg, LG_ERR_ARG, "%s: cfg is NULL", fn);
    int epochs = cfg->epochs, batch = cfg->batch;
    LG_CHECK(epochs >= 1, LG_ERR_ARG, "%s: epochs %d (need >= 1)", fn, epochs);
    LG_CHECK(batch >= 1 && batch <= MAXB && batch <= ds->n, LG_ERR_ARG,
             "%s: batch %d outside [1, %d]", fn, batch, ds->n < MAXB ? ds->n : MAXB);
    LG_CHECK(isfinite(cfg->lr) && cfg->lr > 0, LG_ERR_ARG, "%s: learning rate %g (need > 0)",
             fn, cfg->lr);
    LG_CHECK(isfinite(cfg->lr_decay) && cfg->lr_decay >= 0, LG_ERR_ARG,
             "%s: lr decay %g (need >= 0)", fn, cfg->lr_decay);
    lg_optim_cfg oc = lg_optim_defaults(LG_OPT_ADAM, cfg->lr);
    oc.lr_decay = cfg->lr_decay;
    lg_optim *ot = NULL, *oh = NULL;
    lg_batcher *b = NULL;
    size_t nt, nh;
    lg_net_params(clf->trunk, &nt);
    lg_net_params(clf->head, &nh);
    lg_status st;
    LG_TRY_GOTO(st, lg_optim_new(&ot, &oc, nt), done);
    LG_TRY_GOTO(st, lg_optim_new(&oh, &oc, nh), done);
    LG_TRY_GOTO(st, lg_batcher_new(&b, ds, batch, 0, clf->seed), done);
    LG_TRY_GOTO(st, lg_batcher_set_augment(b, cfg->flip, cfg->shift), done);
    int steps = ds->n / batch;
    for (int e = 0; e < epochs; e++) {
        double t0 = lg_time_s(), sum = 0, loss = 0;
        for (int s = 0; s < steps; s++) {
            LG_TRY_GOTO(st, lg_batcher_next(b, clf->x, clf->labels), done);
            LG_TRY_GOTO(st, train_step(clf, ot, oh, batch, e, &loss), done);
            sum += loss;
        }
        if (progress && progress(user, e + 1, epochs, sum / steps, lg_time_s() - t0)) {
            st = lg_error(LG_ERR_INTERRUPTED, "%s: stopped after epoch %d", fn, e + 1);
            goto done;
        }
    }
    st = LG_OK;
done:
    lg_batcher_free(b);
    lg_optim_free(ot);
    lg_optim_free(oh);
    return st;
}

/* Runs x [n, c, h, w] through the trunk (and the head when logits != NULL)
 * in chunks of the nets' batch size. */
static lg_status run(lg_classifier *clf, const float *x, int n, float *feats, float *logits) {
    LG_CHECK(clf && x, LG_ERR_ARG, "classifier: NULL argument");
    LG_CHECK(n >= 1, LG_ERR_ARG, "classifier: %d images (need >= 1)", n);
    size_t img = (size_t)clf->c * clf->h * clf->w;
    for (int i0 = 0; i0 < n; i0 += MAXB) {
        int rows = n - i0 < MAXB ? n - i0 : MAXB;
        const float *f, *z;
        LG_TRY(lg_net_forward(clf->trunk, x + (size_t)i0 * img, rows, 0, &f));
        if (feats) memcpy(feats + (size_t)i0 * NF, f, (size_t)rows * NF * sizeof(float));
        if (!logits) continue;
        LG_TRY(lg_net_forward(clf->head, f, rows, 0, &z));
        memcpy(logits + (size_t)i0 * clf->nclasses, z,
               (size_t)rows * clf->nclasses * sizeof(float));
    }
    return LG_OK;
}

lg_status lg_classifier_features(lg_classifier *clf, const float *x, int n, float *out) {
    LG_CHECK(out, LG_ERR_ARG, "classifier features: out is NULL");
    return run(clf, x, n, out, NULL);
}

lg_status lg_classifier_logits(lg_classifier *clf, const float *x, int n, float *out) {
    LG_CHECK(out, LG_ERR_ARG, "classifier logits: out is NULL");
    return run(clf, x, n, NULL, out);
}

static void argmax_rows(const float *z, int n, int k, int *out) {
    for (int i = 0; i < n; i++) {
        int best = 0;
        for (int j = 1; j < k; j++)
            if (z[(size_t)i * k + j] > z[(size_t)i * k + best]) best = j;
        out[i] = best;
    }
}

lg_status lg_classifier_predict(lg_classifier *clf, const float *x, int n, int *out_labels) {
    LG_CHECK(clf && out_labels, LG_ERR_ARG, "classifier predict: NULL argument");
    LG_CHECK(n >= 1, LG_ERR_ARG, "classifier predict: %d images (need >= 1)", n);
    float *z = lg_alloc_floats((size_t)MAXB * clf->nclasses);
    if (!z) return lg_error(LG_ERR_NOMEM, "classifier predict: out of memory");
    size_t img = (size_t)clf->c * clf->h * clf->w;
    lg_status st = LG_OK;
    for (int i0 = 0; i0 < n && st == LG_OK; i0 += MAXB) {
        int rows = n - i0 < MAXB ? n - i0 : MAXB;
        st = run(clf, x + (size_t)i0 * img, rows, NULL, z);
        if (st == LG_OK) argmax_rows(z, rows, clf->nclasses, out_labels + i0);
    }
    lg_free(z);
    return st;
}

lg_status lg_classifier_confusion(lg_classifier *clf, const lg_dataset *ds, long *counts) {
    LG_TRY(check_dataset(clf, ds, "classifier confusion"));
    LG_CHECK(counts, LG_ERR_ARG, "classifier confusion: counts is NULL");
    int k = clf->nclasses;
    memset(counts, 0, (size_t)k * k * sizeof *counts);
    size_t img = (size_t)clf->c * clf->h * clf->w;
    for (int i0 = 0; i0 < ds->n; i0 += MAXB) {
        int rows = ds->n - i0 < MAXB ? ds->n - i0 : MAXB;
        for (int i = 0; i < rows; i++) {
            const uint8_t *px;
            LG_TRY(lg_dataset_image(ds, i0 + i, clf->px, &px));
            float *x = clf->x + (size_t)i * img;
            for (size_t j = 0; j < img; j++) x[j] = px[j] * (1.f / 127.5f) - 1.f;
        }
        LG_TRY(lg_classifier_predict(clf, clf->x, rows, clf->labels));
        for (int i = 0; i < rows; i++) counts[(size_t)ds->labels[i0 + i] * k + clf->labels[i]]++;
    }
    return LG_OK;
}

lg_status lg_classifier_accuracy(lg_classifier *clf, const lg_dataset *ds, double *acc) {
    LG_TRY(check_dataset(clf, ds, "classifier accuracy"));
    LG_CHECK(acc, LG_ERR_ARG, "classifier accuracy: acc is NULL");
    int k = clf->nclasses;
    long *counts = lg_alloc((size_t)k * k * sizeof *counts), correct = 0;
    LG_CHECK(counts, LG_ERR_NOMEM, "classifier accuracy: out of memory");
    lg_status st = lg_classifier_confusion(clf, ds, counts);
    for (int i = 0; i < k; i++) correct += counts[(size_t)i * k + i];
    lg_free(counts);
    if (st == LG_OK) *acc = (double)correct / ds->n;
    return st;
}

lg_status lg_classifier_set_info(lg_classifier *clf, const char *source, double test_accuracy) {
    LG_CHECK(clf, LG_ERR_ARG, "classifier: NULL argument");
    snprintf(clf->source, sizeof clf->source, "%s", source ? source : "");
    clf->test_acc = test_accuracy;
    return LG_OK;
}

const char *lg_classifier_source(const lg_classifier *clf) { return clf ? clf->source : ""; }
double lg_classifier_test_accuracy(const lg_classifier *clf) { return clf ? clf->test_acc : -1; }

/* ---- safetensors ---------------------------------------------------------- */

static lg_net *net_of(const lg_classifier *clf, int which) {
    return which ? clf->head : clf->trunk;
}
static const char *const net_prefix[2] = {"trunk.", "head."};

static float *tensor_data(lg_net *net, const lg_net_tensor_info *ti) {
    size_t n;
    float *base = ti->kind == 0 ? lg_net_params(net, &n) : lg_net_buffers(net, &n);
    return base + ti->offset;
}

lg_status lg_classifier_save(const lg_classifier *clf, const char *path) {
    LG_CHECK(clf && path, LG_ERR_ARG, "classifier save: NULL argument");
    lg_st_writer *wr;
    LG_TRY(lg_st_writer_new(&wr));
    lg_status st = LG_OK;
    char name[64], val[64];
    for (int which = 0; which < 2 && st == LG_OK; which++) {
        lg_net *net = net_of(clf, which);
        for (int i = 0; i < lg_net_tensor_count(net) && st == LG_OK; i++) {
            lg_net_tensor_info ti;
            int64_t shape[4];
            LG_TRY_GOTO(st, lg_net_tensor_info_at(net, i, &ti), done);
            for (int k = 0; k < ti.ndim; k++) shape[k] = ti.shape[k];
            snprintf(name, sizeof name, "%s%s", net_prefix[which], ti.name);
            st = lg_st_writer_add(wr, name, tensor_data(net, &ti), ti.ndim, shape);
        }
    }
    struct {
        const char *key;
        long v;
    } ints[] = {{"c", clf->c}, {"h", clf->h}, {"w", clf->w}, {"nclasses", clf->nclasses}};
    for (int i = 0; i < LG_ARRAY_LEN(ints) && st == LG_OK; i++) {
        snprintf(val, sizeof val, "%ld", ints[i].v);
        st = lg_st_writer_meta(wr, ints[i].key, val);
    }
    if (st == LG_OK) st = lg_st_writer_meta(wr, "arch", clf->arch->file_arch);
    if (st == LG_OK) st = lg_st_writer_meta(wr, "source", clf->source);
    if (st == LG_OK && clf->test_acc >= 0) {
        snprintf(val, sizeof val, "%.6f", clf->test_acc);
        st = lg_st_writer_meta(wr, "test_accuracy", val);
    }
    if (st == LG_OK) st = lg_st_writer_write(wr, path);
done:
    lg_st_writer_free(wr);
    return st;
}

static lg_status meta_int(const lg_safetensors *st, const char *path, const char *key, long lo,
                          long hi, int *out) {
    const char *s = lg_st_meta(st, key);
    LG_CHECK(s, LG_ERR_FORMAT, "%s: metadata '%s' missing (not a lapgan classifier?)", path, key);
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    LG_CHECK(!errno && end != s && !*end && v >= lo && v <= hi, LG_ERR_FORMAT,
             "%s: metadata %s = '%s' (want an integer in [%ld, %ld])", path, key, s, lo, hi);
    *out = (int)v;
    return LG_OK;
}

/* Copies every tensor the nets expect from the file, checking shapes; the
 * file must hold exactly those tensors. */
static lg_status load_tensors(lg_classifier *clf, const lg_safetensors *st, const char *path) {
    int expected = 0;
    char name[64];
    for (int which = 0; which < 2; which++) {
        lg_net *net = net_of(clf, which);
        for (int i = 0; i < lg_net_tensor_count(net); i++, expected++) {
            lg_net_tensor_info ti;
            LG_TRY(lg_net_tensor_info_at(net, i, &ti));
            snprintf(name, sizeof name, "%s%s", net_prefix[which], ti.name);
            const lg_st_tensor *t = lg_st_find(st, name);
            if (!t) return LG_ERR_FORMAT;
            int ok = t->ndim == ti.ndim && t->numel == ti.numel;
            for (int k = 0; ok && k < ti.ndim; k++) ok = t->shape[k] == ti.shape[k];
            LG_CHECK(ok, LG_ERR_FORMAT, "%s: tensor %s has the wrong shape for this classifier",
                     path, name);
            memcpy(tensor_data(net, &ti), t->data, ti.numel * sizeof(float));
        }
    }
    LG_CHECK(lg_st_count(st) == expected, LG_ERR_FORMAT,
             "%s: %d tensors, a classifier has %d", path, lg_st_count(st), expected);
    return LG_OK;
}

lg_status lg_classifier_load(lg_classifier **out, const char *path) {
    LG_CHECK(out && path, LG_ERR_ARG, "classifier load: NULL argument");
    *out = NULL;
    lg_safetensors *st;
    LG_TRY(lg_st_read(&st, path));
    lg_classifier *clf = NULL;
    lg_status s;
    const char *arch = lg_st_meta(st, "arch");
    if (!arch || !find_arch(arch) || strcmp(arch, find_arch(arch)->file_arch)) {
        s = lg_error(LG_ERR_FORMAT, "%s: arch '%s' is not a lapgan classifier's (%s or %s)",
                     path, arch ? arch : "(none)", archs[0].file_arch, archs[1].file_arch);
        goto done;
    }
    int c, h, w, k;
    LG_TRY_GOTO(s, meta_int(st, path, "c", 1, 4, &c), done);
    LG_TRY_GOTO(s, meta_int(st, path, "h", 4, 4096, &h), done);
    LG_TRY_GOTO(s, meta_int(st, path, "w", 4, 4096, &w), done);
    LG_TRY_GOTO(s, meta_int(st, path, "nclasses", 2, LG_MAX_CLASSES, &k), done);
    LG_TRY_GOTO(s, lg_classifier_new(&clf, arch, c, h, w, k, 0), done);
    LG_TRY_GOTO(s, load_tensors(clf, st, path), done);
    const char *src = lg_st_meta(st, "source"), *acc = lg_st_meta(st, "test_accuracy");
    double a = -1;
    if (acc) {
        char *end;
        a = strtod(acc, &end);
        if (end == acc || *end || !(a >= 0 && a <= 1)) {
            s = lg_error(LG_ERR_FORMAT, "%s: metadata test_accuracy = '%s'", path, acc);
            goto done;
        }
    }
    lg_classifier_set_info(clf, src, a);
    *out = clf;
    clf = NULL;
done:
    lg_classifier_free(clf);
    lg_st_free(st);
    return s;
}
