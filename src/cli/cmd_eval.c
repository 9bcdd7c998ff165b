/* lapgan eval: how good are a trained model's samples? The Parzen-window
 * log-likelihood of the paper's Table 1, nearest training images in pixel
 * space, and the Frechet distance in the evaluation classifier's features
 * (with its accuracy on class-conditional samples). Every action merges its
 * numbers into RUN_DIR/metrics.json, which `lapgan report` shows. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "core/check.h"
#include "io/file.h"
#include "lapgan/gan.h"

#define CMD "eval"

enum { PARZEN = 1, NN = 2, FD = 4, ALL = 7 };
enum { SAMPLE_CHUNK = 250, MAX_GRID = 64 };

static void help(void) {
    printf(
        "usage: lapgan eval parzen --model RUN_DIR [options]\n"
        "       lapgan eval nn --model RUN_DIR [--space pixel|inception|classifier] [options]\n"
        "       lapgan eval fd --model RUN_DIR --classifier FILE [options]\n"
        "       lapgan eval fd --real-vs-real --classifier FILE [options]\n"
        "       lapgan eval fid|kid|prc A B [options]   (Inception metrics: eval fid --help)\n\n"
        "parzen: Parzen-window log-likelihood (Breuleux et al. 2011, as Goodfellow et al.\n"
        "  2014 and the LAPGAN paper): a Gaussian kernel density on --samples generated\n"
        "  images, sigma chosen on the last --valid images of the training set, reported as\n"
        "  the mean, standard deviation and standard error over --test test images, in nats\n"
        "  per image with pixels in [0, 1] (samples clamped to [0, 1]).\n"
        "nn: a PNG with one row per sample: the sample, then its -k nearest training images\n"
        "  (L2 in --space), and the mean distance to the nearest one, next to that of\n"
        "  real test images. --space inception caches the training set's features in\n"
        "  $LAPGAN_CACHE (default ~/.cache/lapgan/), keyed by the images' bytes, resize and\n"
        "  weights; a damaged cache file is reported and recomputed.\n"
        "fd: Frechet distance between Gaussians fitted to the classifier's penultimate\n"
        "  features of real images (--real) and of --samples generated ones; for\n"
        "  class-conditional models, the classifier's accuracy on samples of each class.\n"
        "  --real-vs-real compares the real set with --samples training images instead\n"
        "  (a sanity check: near zero). Lower is better; comparable only between runs\n"
        "  measured with the same classifier file.\n"
        "Each action merges its numbers into RUN_DIR/metrics.json (written atomically).\n\n"
        "  --model DIR        run directory holding level_<k>.safetensors\n"
        "  --data SPEC        training set (default fashion): fashion[:DIR], cifar10:DIR,\n"
        "                     stl10:DIR, idx:IMAGES[,LABELS], npy:X.npy[,Y.npy], npz:F.npz,\n"
        "                     zip:F.zip, folder:DIR, lsun:DIR[,DIR] (docs/data.md)\n"
        "  --test-data SPEC   parzen, nn: test set (default: the test split of --data)\n"
        "  --samples N        parzen, fd: generated images (default 10000)\n"
        "  --valid N          parzen: validation images, the last N of --data (default 1000)\n"
        "  --test N           parzen: test images, the first N of the test set (default\n"
        "                     10000, or all when fewer)\n"
        "  --sigma-grid LIST  parzen: comma-separated bandwidths (default 10 values\n"
        "                     log-spaced over 0.1 ... 1, as parzen_ll.py)\n"
        "  -n N               nn: samples, one per row (default 16, at most %d)\n"
        "  -k K               nn: neighbours per sample (default 5)\n"
        "  -o PNG             nn: output (default RUN_DIR/nn.png, RUN_DIR/nn_SPACE.png)\n"
        "  --space S          nn: pixel (default), inception (the FID Inception's 2048 pool\n"
        "                     features) or classifier (its penultimate features; needs\n"
        "                     --classifier); metrics key nn, nn_inception, nn_classifier\n"
        "  --limit N          nn: only the first N training images (bounds Inception's\n"
        "                     work: ~13 images/s on 2 cores)\n"
        "  --weights FILE     nn --space inception: weights (default in $LAPGAN_CACHE)\n"
        "  --resize MODE      nn --space inception: as eval fid (default nv_bilinear_float)\n"
        "  --classifier FILE  fd, nn --space classifier: from 'lapgan classifier train'\n"
        "  --real SPEC        fd: real images (default: the test split of --data)\n"
        "  --real-vs-real     fd: real against training images; --model is then optional\n"
        "                     (given, the result goes into its metrics.json)\n"
        "  --seed S           sampling seed (default 1)\n"
        "  --precision P      fp32 (default) or bf16: the model's convolutions while sampling\n"
        "  --threads T        threads (default all cores)\n",
        MAX_GRID);
}

typedef struct {
    int action, real_vs_real;
    const char *model, *data, *test_data, *real, *classifier, *out, *grid;
    long samples, valid, ntest, n, k, seed, threads;
    double sigmas[64];
    int nsigma;
    int best;            /* --best: the weights of RUN_DIR/best/ */
    const char *weights; /* the directory the weights come from */
    char best_dir[4096];
    unsigned scales;     /* parzen --pixels: bit per lg_pixel_scale */
    lg_nn_space space;   /* nn --space */
    const char *inception; /* nn --weights: the Inception weights file */
    lg_resize_kind resize; /* nn --resize */
    long limit;          /* nn --limit: the first N training images (0: all) */
    int bf16;            /* --precision bf16: the model samples in bf16 */
    lg_backend_kind backend;
} opts;

/* Pixel scales of eval parzen (--pixels). Table 1 does not say which one
 * the paper used, so all three are on offer, each named in the output. */
typedef enum { SCALE_UNIT, SCALE_SIGNED, SCALE_ZSCORE, SCALE_COUNT } pixel_scale;
static const char *const scale_flag[SCALE_COUNT] = {"unit", "signed", "zscore"};
static const char *const scale_label[SCALE_COUNT] = {"[0,1]", "[-1,1]", "zscore"};
static const char *const scale_key[SCALE_COUNT] = {"parzen", "parzen_signed", "parzen_zscore"};

static int parse_pixels(const char *s, opts *o) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", s);
    o->scales = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int j = 0;
        if (!strcmp(tok, "all")) {
            o->scales = (1u << SCALE_COUNT) - 1;
            continue;
        }
        while (j < SCALE_COUNT && strcmp(tok, scale_flag[j])) j++;
        if (j == SCALE_COUNT)
            return lg_cli_usage_error(CMD, "--pixels wants unit, signed, zscore or all "
                                      "(comma-separated), got '%s'", s);
        o->scales |= 1u << j;
    }
    if (!o->scales) return lg_cli_usage_error(CMD, "--pixels needs a value such as unit");
    return LG_EXIT_OK;
}

static int parse_grid(const char *s, opts *o) {
    char *end;
    o->nsigma = 0;
    for (const char *p = s;; p = end + 1) {
        double v = strtod(p, &end);
        if (end == p || !(v > 0 && v < 1e6) || (*end && *end != ','))
            return lg_cli_usage_error(CMD, "--sigma-grid wants positive numbers separated by "
                                      "commas, got '%s'", s);
        if (o->nsigma == (int)(sizeof o->sigmas / sizeof o->sigmas[0]))
            return lg_cli_usage_error(CMD, "--sigma-grid: at most %d values",
                                      (int)(sizeof o->sigmas / sizeof o->sigmas[0]));
        o->sigmas[o->nsigma++] = v;
        if (!*end) return LG_EXIT_OK;
    }
}

/* The option table: which actions take each option. */
static const struct {
    const char *name;
    int actions;
} known[] = {
    {"--model", ALL},       {"--data", ALL},     {"--test-data", PARZEN | NN},
    {"--samples", PARZEN | FD}, {"--valid", PARZEN}, {"--test", PARZEN},
    {"--sigma-grid", PARZEN}, {"-n", NN},          {"-k", NN},
    {"-o", NN},             {"--classifier", FD | NN}, {"--real", FD},
    {"--real-vs-real", FD}, {"--seed", ALL},     {"--threads", ALL},
    {"--best", ALL},        {"--pixels", PARZEN},  {"--space", NN},
    {"--limit", NN},        {"--weights", NN},    {"--resize", NN},
    {"--precision", ALL},
};

static int parse_space(const char *s, opts *o) {
    int sp = lg_cli_nn_space_parse(s);
    if (sp < 0)
        return lg_cli_usage_error(CMD, "--space wants pixel, inception or classifier, got '%s'",
                                  s);
    o->space = (lg_nn_space)sp;
    return LG_EXIT_OK;
}

static int parse_resize(const char *s, opts *o) {
    int r = lg_resize_parse(s);
    if (r < 0)
        return lg_cli_usage_error(CMD, "--resize: unknown mode '%s' (nv_bilinear_float, "
                                  "torch_bilinear_float, pil_bicubic_float)", s);
    o->resize = (lg_resize_kind)r;
    return LG_EXIT_OK;
}

/* nn: each space's own options, and only with it. */
static int check_space(const opts *o) {
    if (o->space == LG_NN_CLASSIFIER && !o->classifier)
        return lg_cli_usage_error(CMD, "--space classifier needs --classifier FILE (from "
                                  "'lapgan classifier train')");
    if (o->space != LG_NN_CLASSIFIER && o->classifier)
        return lg_cli_usage_error(CMD, "--classifier is for --space classifier");
    if (o->space != LG_NN_INCEPTION && (o->inception || o->resize != LG_RESIZE_NV_BILINEAR))
        return lg_cli_usage_error(CMD, "--weights and --resize are for --space inception");
    return LG_EXIT_OK;
}

static int parse(int argc, char **argv, opts *o) {
    int rc0;
    *o = (opts){.data = "fashion", .samples = 10000, .valid = -1, .ntest = -1, .n = 16, .k = 5,
                .seed = 1};
    if (argc < 2) return lg_cli_usage_error(CMD, "expected 'parzen', 'nn' or 'fd'");
    if (lg_cli_is_help(argv[1])) return LG_CLI_HELP;
    const char *act = argv[1];
    o->action = !strcmp(act, "parzen") ? PARZEN : !strcmp(act, "nn") ? NN
                : !strcmp(act, "fd")   ? FD : 0;
    if (!o->action) return lg_cli_usage_error(CMD, "unknown action '%s' (parzen, nn, fd, fid, kid, prc or is)", act);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (lg_cli_is_help(a)) return LG_CLI_HELP;
        int j = 0, nk = (int)(sizeof known / sizeof known[0]);
        while (j < nk && strcmp(a, known[j].name)) j++;
        if (j == nk) return lg_cli_usage_error(CMD, "unknown option '%s'", a);
        if (!(known[j].actions & o->action))
            return lg_cli_usage_error(CMD, "%s is not an option of 'eval %s'", a, act);
        if (!strcmp(a, "--real-vs-real")) {
            o->real_vs_real = 1;
            continue;
        }
        if (!strcmp(a, "--best")) {
            o->best = 1;
            continue;
        }
        if (!v) return lg_cli_usage_error(CMD, "%s needs a value", a);
        int rc = LG_EXIT_OK;
        if (!strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "--data")) o->data = v;
        else if (!strcmp(a, "--test-data")) o->test_data = v;
        else if (!strcmp(a, "--classifier")) o->classifier = v;
        else if (!strcmp(a, "--real")) o->real = v;
        else if (!strcmp(a, "-o")) o->out = v;
        else if (!strcmp(a, "--sigma-grid")) rc = parse_grid(v, o);
        else if (!strcmp(a, "--pixels")) rc = parse_pixels(v, o);
        else if (!strcmp(a, "--space")) rc = parse_space(v, o);
        else if (!strcmp(a, "--resize")) rc = parse_resize(v, o);
        else if (!strcmp(a, "--weights")) o->inception = v;
        else if (!strcmp(a, "--limit")) rc = lg_cli_int(CMD, a, v, 1, 1 << 24, &o->limit);
        else if (!strcmp(a, "--samples")) rc = lg_cli_int(CMD, a, v, 2, 1 << 20, &o->samples);
        else if (!strcmp(a, "--valid")) rc = lg_cli_int(CMD, a, v, 1, 1 << 24, &o->valid);
        else if (!strcmp(a, "--test")) rc = lg_cli_int(CMD, a, v, 1, 1 << 24, &o->ntest);
        else if (!strcmp(a, "-n")) rc = lg_cli_int(CMD, a, v, 1, MAX_GRID, &o->n);
        else if (!strcmp(a, "-k")) rc = lg_cli_int(CMD, a, v, 1, 32, &o->k);
        else if (!strcmp(a, "--seed")) rc = lg_cli_int(CMD, a, v, 0, 0x7fffffffffffffffL, &o->seed);
        else if (!strcmp(a, "--precision")) rc = lg_cli_precision(CMD, a, v, &o->bf16);
        else rc = lg_cli_int(CMD, a, v, 1, 1024, &o->threads);
        if (rc != LG_EXIT_OK) return rc;
        i++;
    }
    if (!o->model && !(o->action == FD && o->real_vs_real))
        return lg_cli_usage_error(CMD, "--model RUN_DIR is required");
    if (o->action == FD && !o->classifier)
        return lg_cli_usage_error(CMD, "--classifier FILE is required");
    if (o->action == NN && (rc0 = check_space(o)) != LG_EXIT_OK) return rc0;
    if (!o->scales) o->scales = 1u << SCALE_UNIT;
    if ((rc0 = lg_cli_backend(CMD, LG_BACKEND_CPU, o->bf16, &o->backend)) != LG_EXIT_OK) return rc0;
    o->weights = o->model;
    if (o->best && o->model) {
        snprintf(o->best_dir, sizeof o->best_dir, "%s/best", o->model);
        o->weights = o->best_dir;
    }
    return LG_EXIT_OK;
}

/* ---- shared pieces ------------------------------------------------------ */

/* Opens a data set and checks it can hold c x size x size images (larger
 * ones are centre-cropped, as the CIFAR preset trains on 28x28 crops). */
static lg_status open_data(lg_dataset **ds, const char *spec, int c, int size) {
    lg_status st = lg_dataset_open(ds, spec, c, size);
    if (st != LG_OK) return st;
    if ((*ds)->c != c || (*ds)->h < size || (*ds)->w < size) {
        st = lg_error(LG_ERR_SHAPE, "%s: images are %dx%dx%d, the model needs %dx%dx%d",
                      (*ds)->source, (*ds)->c, (*ds)->h, (*ds)->w, c, size, size);
        lg_dataset_free(*ds);
        *ds = NULL;
    }
    return st;
}

/* Rows first .. first+count-1 of ds as floats into *out (lg_free),
 * centre size x size window: pixels p map to p / 255 (unit) or
 * p / 127.5 - 1 (the models' scale). */
static lg_status rows_of(const lg_dataset *ds, int first, int count, int size, int unit,
                         float **out) {
    const int c = ds->c, oy = (ds->h - size) / 2, ox = (ds->w - size) / 2;
    const size_t d = (size_t)c * size * size;
    float *x = lg_alloc_floats((size_t)count * d);
    uint8_t *buf = malloc(lg_dataset_image_bytes(ds));
    lg_status st = x && buf ? LG_OK
                            : lg_error(LG_ERR_NOMEM, "out of memory for %d images of %s", count,
                                       ds->source);
    const float a = unit ? 1.0f / 255 : 1.0f / 127.5f, b = unit ? 0 : -1;
    for (int i = 0; st == LG_OK && i < count; i++) {
        const uint8_t *src;
        if ((st = lg_dataset_image(ds, first + i, buf, &src)) != LG_OK) break;
        float *dst = x + (size_t)i * d;
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < size; y++)
                for (int xx = 0; xx < size; xx++)
                    *dst++ = src[((size_t)ch * ds->h + y + oy) * ds->w + xx + ox] * a + b;
    }
    free(buf);
    if (st != LG_OK) {
        lg_free(x);
        x = NULL;
    }
    *out = x;
    return st;
}

/* n samples in chunks (bounded memory whatever n), each chunk its own seed;
 * class-conditional models get classes 0, 1, 2, ... in turn. Clamped to the
 * pixel range and mapped to [0, 1] (unit) or kept in [-1, 1]. */
static lg_status draw(lg_model *m, int n, uint64_t seed, int unit, float *out, int *labels) {
    const lg_model_desc *d = lg_model_desc_of(m);
    const size_t dim = (size_t)d->c * d->level[0].size * d->level[0].size;
    for (int i = 0; i < n; i++) labels[i] = d->nclasses ? i % d->nclasses : 0;
    for (int i0 = 0, chunk = 0; i0 < n; i0 += SAMPLE_CHUNK, chunk++) {
        const int cnt = n - i0 < SAMPLE_CHUNK ? n - i0 : SAMPLE_CHUNK;
        float *x = out + (size_t)i0 * dim;
        lg_status st = lg_model_sample(m, cnt, seed + (uint64_t)chunk * 0x9E3779B97F4A7C15ull,
                                       labels + i0, x, NULL);
        if (st != LG_OK) return st;
        for (size_t j = 0; j < (size_t)cnt * dim; j++) {
            float v = x[j] < -1 ? -1 : x[j] > 1 ? 1 : x[j];
            x[j] = unit ? (v + 1) * 0.5f : v;
        }
    }
    return LG_OK;
}

/* Sets key in RUN_DIR/metrics.json (created when absent) to val (stolen). */
static lg_status merge_metrics(const char *run_dir, const char *key, json_t *val) {
    char path[4096];
    snprintf(path, sizeof path, "%s/metrics.json", run_dir);
    json_error_t err;
    json_t *root = NULL;
    struct stat sb;
    if (lstat(path, &sb) == 0) { /* lg_read_file: never blocks on a FIFO */
        unsigned char *text;
        size_t len;
        lg_status rs = lg_read_file(path, 64u << 20, &text, &len);
        if (rs != LG_OK) {
            json_decref(val);
            return rs;
        }
        root = json_loadb((const char *)text, len, 0, &err);
        lg_free(text);
        if (!json_is_object(root)) {
            json_decref(root);
            json_decref(val);
            return lg_error(LG_ERR_FORMAT, "%s: not a JSON object (%s); not overwriting it", path,
                            root ? "other JSON" : err.text);
        }
    } else {
        root = json_object();
    }
    json_object_set_new(root, key, val);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(8));
    json_decref(root);
    if (!text) return lg_error(LG_ERR_NOMEM, "out of memory writing %s", path);
    lg_status st = lg_atomic_write_file(path, text, strlen(text));
    free(text);
    return st;
}

typedef struct {
    lg_model *m;
    const lg_model_desc *d;
    int c, size, dim;
} model_ctx;

static lg_status load_model(model_ctx *mc, const opts *o) {
    memset(mc, 0, sizeof *mc);
    lg_status st = lg_model_load(&mc->m, o->weights, o->backend);
    if (st != LG_OK) return st;
    mc->d = lg_model_desc_of(mc->m);
    mc->c = mc->d->c;
    mc->size = mc->d->level[0].size;
    mc->dim = mc->c * mc->size * mc->size;
    return LG_OK;
}

static const char *test_spec_of(const opts *o, const char *given, char *buf, size_t len) {
    if (given) return given;
    return lg_cli_test_spec(o->data, buf, len) ? buf : NULL;
}

/* ---- parzen --------------------------------------------------------------- */

/* The metrics.json key of a result: weights from best/ get their own. */
static const char *metric_key(const opts *o, const char *base, char *buf, size_t len) {
    snprintf(buf, len, "%s%s", base, o->best ? "_best" : "");
    return buf;
}

/* Per-pixel mean and 1/std (unbiased, + 1e-7 as the authors' code) of n
 * rows of d values: the z-scoring the authors apply to CIFAR-10. */
static lg_status zscore_stats(const float *rows, int n, int d, float **mean, float **istd) {
    *mean = lg_alloc_floats((size_t)d);
    *istd = lg_alloc_floats((size_t)d);
    if (!*mean || !*istd) return lg_error(LG_ERR_NOMEM, "out of memory for pixel statistics");
    if (n < 2) return lg_error(LG_ERR_ARG, "--pixels zscore: %d training images (need >= 2)", n);
    for (int j = 0; j < d; j++) {
        double s = 0, ss = 0;
        for (int i = 0; i < n; i++) s += rows[(size_t)i * d + j];
        const double mu = s / n;
        for (int i = 0; i < n; i++) {
            const double e = rows[(size_t)i * d + j] - mu;
            ss += e * e;
        }
        (*mean)[j] = (float)mu;
        (*istd)[j] = (float)(1.0 / (sqrt(ss / (n - 1)) + 1e-7));
    }
    return LG_OK;
}

/* A copy of rows in [0, 1] at pixel scale sc. */
static float *scaled_copy(const float *x, int n, int d, pixel_scale sc, const float *mean,
                          const float *istd) {
    float *y = lg_alloc_floats((size_t)n * d);
    if (!y) return NULL;
    for (size_t r = 0; r < (size_t)n; r++)
        for (int j = 0; j < d; j++) {
            const float v = x[r * d + j];
            y[r * d + j] = sc == SCALE_UNIT ? v : sc == SCALE_SIGNED ? 2 * v - 1
                                                                     : (v - mean[j]) * istd[j];
        }
    return y;
}

/* parzen_ll.py's grid is in [0, 1] pixel units; at another scale the same
 * bandwidths in pixel units are searched (x2 for [-1, 1], / the RMS pixel
 * std for z-scores), unless --sigma-grid gives the values. */
static int sigma_grid(const opts *o, pixel_scale sc, const float *istd, int d, double *grid) {
    if (o->nsigma) {
        memcpy(grid, o->sigmas, sizeof(double) * (size_t)o->nsigma);
        return o->nsigma;
    }
    double f = 1;
    if (sc == SCALE_SIGNED) f = 2;
    if (sc == SCALE_ZSCORE) {
        double s = 0; /* RMS of std, not of 1/std: a constant pixel has 1/std = 1e7 */
        for (int j = 0; j < d; j++) s += 1.0 / ((double)istd[j] * istd[j]);
        f = 1.0 / sqrt(s / d);
    }
    lg_parzen_default_grid(grid);
    for (int j = 0; j < LG_PARZEN_GRID_DEFAULT; j++) grid[j] *= f;
    return LG_PARZEN_GRID_DEFAULT;
}

typedef struct {
    const float *samples, *valid, *test, *mean, *istd;
    int n, nv, nt, d;
    const char *vdesc, *test_source;
    int held_out;
} parzen_job;

/* One pixel scale: sigma on the validation rows, then the test rows. */
static lg_status parzen_at(const opts *o, const model_ctx *mc, const parzen_job *j,
                           pixel_scale sc) {
    double grid[64], vmean[64], sigma, t0 = lg_time_s();
    const int ngrid = sigma_grid(o, sc, j->istd, j->d, grid);
    float *s = scaled_copy(j->samples, j->n, j->d, sc, j->mean, j->istd);
    float *v = scaled_copy(j->valid, j->nv, j->d, sc, j->mean, j->istd);
    float *t = scaled_copy(j->test, j->nt, j->d, sc, j->mean, j->istd);
    double *ll = lg_alloc(sizeof(double) * (size_t)j->nt);
    lg_ll_summary sum;
    lg_status st = s && v && t && ll ? LG_OK : LG_ERR_NOMEM;
    if (st == LG_OK)
        st = lg_parzen_select_sigma(s, j->n, v, j->nv, j->d, grid, ngrid, &sigma, vmean);
    if (st == LG_OK) st = lg_parzen_ll(s, j->n, t, j->nt, j->d, sigma, ll);
    if (st == LG_OK) st = lg_ll_summarize(ll, j->nt, &sum);
    lg_free(s), lg_free(v), lg_free(t), lg_free(ll);
    if (st != LG_OK) return st;
    const double secs = lg_time_s() - t0;
    printf("pixels %s: sigma search on %s:\n", scale_label[sc], j->vdesc);
    for (int q = 0; q < ngrid; q++)
        printf("  sigma %-8.4g mean log-likelihood %.2f%s\n", grid[q], vmean[q],
               grid[q] == sigma ? "  <- chosen" : "");
    if (!o->nsigma && (sigma == grid[0] || sigma == grid[ngrid - 1]))
        printf("  note: the chosen sigma is at the edge of the grid; try --sigma-grid\n");
    printf("test log-likelihood %.2f +- %.2f (std), standard error %.2f, nats per image, pixels "
           "%s, sigma %.4g, %d images of %s (%s weights)\n",
           sum.mean, sum.std, sum.sem, scale_label[sc], sigma, j->nt, j->test_source,
           o->best ? "best" : "latest");
    json_t *gj = json_array(), *vj = json_array();
    for (int q = 0; q < ngrid; q++) {
        json_array_append_new(gj, json_real(grid[q]));
        json_array_append_new(vj, json_real(vmean[q]));
    }
    char key[64];
    return merge_metrics(
        o->model, metric_key(o, scale_key[sc], key, sizeof key),
        json_pack("{s:f,s:f,s:f,s:f,s:i,s:i,s:i,s:s,s:s,s:s,s:b,s:s,s:I,s:s,s:o,s:o,s:f,s:i}",
                  "mean", sum.mean, "std", sum.std, "sem", sum.sem, "sigma", sigma, "samples",
                  j->n, "valid", j->nv, "test", j->nt, "test_data", j->test_source, "pixels",
                  scale_label[sc], "weights", o->best ? "best" : "latest", "valid_held_out",
                  j->held_out, "valid_data", j->vdesc, "seed", (json_int_t)o->seed, "units",
                  "nats per image", "grid", gj, "valid_mean", vj, "seconds", secs, "threads",
                  lg_get_threads()));
    (void)mc;
}

/* The run's held-out validation split (recorded at training): its size, 0
 * when the run trained on every image, -1 for a run from before splits. */
static lg_status run_split(const opts *o, int64_t *nval) {
    char path[4096];
    snprintf(path, sizeof path, "%s/level_0.safetensors", o->weights);
    return lg_checkpoint_val_split(path, nval);
}

static int run_parzen(const opts *o) {
    model_ctx mc;
    lg_dataset *train = NULL, *test = NULL;
    float *samples = NULL, *valid = NULL, *tst = NULL, *trn = NULL, *mean = NULL, *istd = NULL;
    int *labels = NULL;
    char tbuf[512], vdesc[700];
    int64_t nval = 0;
    const char *tspec = test_spec_of(o, o->test_data, tbuf, sizeof tbuf);
    if (!tspec) return lg_cli_usage_error(CMD, "--data %s has no test split: give --test-data", o->data);
    lg_status st = load_model(&mc, o);
    if (st != LG_OK) return lg_cli_fail(CMD, st);
    const int n = (int)o->samples;
    st = run_split(o, &nval);
    if (st == LG_OK) st = open_data(&train, o->data, mc.c, mc.size);
    if (st == LG_OK) st = open_data(&test, tspec, mc.c, mc.size);
    if (st != LG_OK) goto done;
    /* Sigma is chosen on images the model never trained on: the run's
     * held-out split (the last nval of the training set), else, for runs
     * without one, the last --valid training images, said so. */
    const int held_out = nval > 0;
    if (nval >= train->n) {
        st = lg_error(LG_ERR_ARG, "%s: the run held out %lld images, %s has only %d (is --data the "
                      "set it trained on?)", o->weights, (long long)nval, train->source, train->n);
        goto done;
    }
    const long want = o->valid > 0 ? o->valid : 1000; /* --valid's default */
    if (want >= train->n) {
        st = lg_error(LG_ERR_ARG, "--valid %ld: %s has only %d images", want, train->source,
                      train->n);
        goto done;
    }
    /* More than the split holds: all of it (the sigma search line says how many). */
    const int ntrain = train->n - (held_out ? (int)nval : 0);
    const int nv = held_out ? (int)(want < nval ? want : nval) : (int)want;
    const int v0 = held_out ? ntrain : train->n - nv;
    if (held_out)
        snprintf(vdesc, sizeof vdesc, "%d held-out validation images (images %d-%d of %s, never "
                 "trained on)", nv, v0, v0 + nv - 1, train->source);
    else
        snprintf(vdesc, sizeof vdesc, "the last %d images of %s (the run holds out no validation "
                 "split: it trained on these)", nv, train->source);
    const int nt = o->ntest < 0 ? (test->n < 10000 ? test->n : 10000) : (int)o->ntest;
    if (nt > test->n) {
        st = lg_error(LG_ERR_ARG, "--test %d: %s has only %d images", nt, test->source, test->n);
        goto done;
    }
    samples = lg_alloc_floats((size_t)n * mc.dim);
    labels = lg_alloc(sizeof(int) * (size_t)n);
    if ((st = rows_of(train, v0, nv, mc.size, 1, &valid)) != LG_OK ||
        (st = rows_of(test, 0, nt, mc.size, 1, &tst)) != LG_OK)
        goto done;
    if (!samples || !labels) {
        st = lg_error(LG_ERR_NOMEM, "out of memory for %d samples and %d + %d images", n, nv, nt);
        goto done;
    }
    if (o->scales & (1u << SCALE_ZSCORE)) {
        if ((st = rows_of(train, 0, ntrain, mc.size, 1, &trn)) != LG_OK) goto done;
        st = zscore_stats(trn, ntrain, mc.dim, &mean, &istd);
        lg_free(trn);
        trn = NULL;
        if (st != LG_OK) goto done;
    }
    double t0 = lg_time_s();
    st = draw(mc.m, n, (uint64_t)o->seed, 1, samples, labels);
    if (st != LG_OK) goto done;
    printf("parzen: model %s (%s, %s weights), %d samples (seed %ld) in %.2f s, %d threads%s\n",
           o->model, mc.d->name, o->best ? "best" : "latest", n, o->seed, lg_time_s() - t0,
           lg_get_threads(), o->scales & (1u << SCALE_ZSCORE) ? "; z-scores from the training "
                                                                 "split" : "");
    parzen_job j = {.samples = samples, .valid = valid, .test = tst, .mean = mean, .istd = istd,
                    .n = n, .nv = nv, .nt = nt, .d = mc.dim, .vdesc = vdesc,
                    .test_source = test->source, .held_out = held_out};
    for (int sc = 0; sc < SCALE_COUNT && st == LG_OK; sc++)
        if (o->scales >> sc & 1) st = parzen_at(o, &mc, &j, (pixel_scale)sc);
done:
    lg_free(samples);
    lg_free(labels);
    lg_free(valid);
    lg_free(tst);
    lg_free(trn);
    lg_free(mean);
    lg_free(istd);
    lg_dataset_free(train);
    lg_dataset_free(test);
    lg_model_free(mc.m);
    return st == LG_OK ? LG_EXIT_OK : lg_cli_fail(CMD, st);
}

/* ---- nearest neighbours ------------------------------------------------- */

static lg_grid_opts nn_grid_opts(int k, int s) {
    return (lg_grid_opts){.nrow_items = k + 1, .pad = 2, .pad_value = 255, .lo = 0, .hi = 1,
                          .scale = s < 32 ? 64 / s : 1};
}

/* -n and -k against what the -o grid holds, before any work. */
static lg_status check_nn_grid(int n, int k, int s) {
    lg_grid_opts go = nn_grid_opts(k, s);
    long fits = lg_grid_max_items(&go, s, s, k + 1) / (k + 1);
    if (fits <= 0)
        return lg_error(LG_ERR_ARG, "-k %d: a row of %d %dx%d images is wider than the %d-pixel "
                        "limit of a grid", k, k + 1, s, s, LG_GRID_MAX_SIDE);
    if (n > fits)
        return lg_error(LG_ERR_ARG, "-n %d: the -o grid holds at most %ld rows of %dx%d images "
                        "(%d per row)", n, fits, s, s, k + 1);
    return LG_OK;
}

static lg_status write_nn_png(const char *path, const float *queries, const float *train,
                              const int *idx, int n, int k, int c, int s) {
    const size_t d = (size_t)c * s * s;
    float *rows = lg_alloc_floats((size_t)n * (k + 1) * d);
    if (!rows) return LG_ERR_NOMEM;
    for (int i = 0; i < n; i++) {
        float *r = rows + (size_t)i * (k + 1) * d;
        memcpy(r, queries + (size_t)i * d, sizeof(float) * d);
        for (int j = 0; j < k; j++)
            memcpy(r + (size_t)(j + 1) * d, train + (size_t)idx[i * k + j] * d, sizeof(float) * d);
    }
    lg_grid_opts go = nn_grid_opts(k, s);
    lg_image *im = NULL;
    lg_status st = lg_grid_make(&im, rows, n * (k + 1), c, s, s, &go);
    if (st == LG_OK) st = lg_output_png(path, im);
    lg_image_free(im);
    lg_free(rows);
    return st;
}

static double mean_first(const float *dist, int n, int k) {
    double s = 0;
    for (int i = 0; i < n; i++) s += dist[(size_t)i * k];
    return s / n;
}

/* The k nearest training rows of n image rows x in e's space, against the
 * training features ftr. */
static lg_status nn_query(lg_nn_embed *e, const float *ftr, int ntrain, const float *x, int n,
                          int k, const char *what, int *idx, float *dist) {
    float *f = NULL;
    lg_status st = lg_cli_nn_embed(e, x, n, what, 0, &f);
    if (st == LG_OK) st = lg_knn(ftr, ntrain, f ? f : x, n, e->dim, k, idx, dist);
    lg_free(f);
    return st;
}

/* The metrics.json entry: "nn" for pixels as it always was, "nn_<space>"
 * with the feature space named otherwise. */
static lg_status nn_record(const opts *o, const lg_nn_embed *e, const char *out, int n, int k,
                           int ntrain, double mean, int nt, double test_mean) {
    json_t *j = json_pack("{s:i,s:i,s:f,s:s}", "samples", n, "k", k, "mean_nearest", mean,
                          "png", out);
    char label[600], key[64], base[32];
    if (e->space == LG_NN_PIXEL) {
        json_object_set_new(j, "pixels", json_string("[0,1]"));
    } else {
        json_object_set_new(j, "space", json_string(lg_cli_nn_space_name(e->space)));
        json_object_set_new(j, "features", json_string(lg_cli_nn_space_label(e, label,
                                                                              sizeof label)));
    }
    json_object_set_new(j, "seed", json_integer((json_int_t)o->seed));
    if (e->space != LG_NN_PIXEL || o->limit)
        json_object_set_new(j, "train_images", json_integer(ntrain));
    if (nt) {
        json_object_set_new(j, "test_mean_nearest", json_real(test_mean));
        json_object_set_new(j, "test_images", json_integer(nt));
    }
    snprintf(base, sizeof base, "nn%s%s", e->space == LG_NN_PIXEL ? "" : "_",
             e->space == LG_NN_PIXEL ? "" : lg_cli_nn_space_name(e->space));
    return merge_metrics(o->model, metric_key(o, base, key, sizeof key), j);
}

static int run_nn(const opts *o) {
    model_ctx mc;
    lg_dataset *train = NULL, *test = NULL;
    lg_nn_embed e = {.space = o->space, .classifier = o->classifier, .weights = o->inception,
                     .resize = o->resize};
    float *tr = NULL, *ftr = NULL, *q = NULL, *dist = NULL, *treal = NULL, *tdist = NULL;
    int *labels = NULL, *idx = NULL, *tidx = NULL;
    char out[4096], tbuf[512], label[600];
    const char *tspec = test_spec_of(o, o->test_data, tbuf, sizeof tbuf);
    if (o->out) snprintf(out, sizeof out, "%s", o->out);
    else if (o->space == LG_NN_PIXEL) snprintf(out, sizeof out, "%s/nn.png", o->model);
    else snprintf(out, sizeof out, "%s/nn_%s.png", o->model, lg_cli_nn_space_name(o->space));
    lg_status st = lg_output_check(out);
    if (st != LG_OK) return lg_cli_fail(CMD, st);
    st = load_model(&mc, o);
    if (st != LG_OK) return lg_cli_fail(CMD, st);
    const int n = (int)o->n, k = (int)o->k;
    if ((st = check_nn_grid(n, k, mc.size)) != LG_OK) {
        lg_model_free(mc.m);
        return lg_cli_fail(CMD, st);
    }
    st = open_data(&train, o->data, mc.c, mc.size);
    if (st == LG_OK && tspec) st = open_data(&test, tspec, mc.c, mc.size);
    if (st != LG_OK) goto done;
    const int ntrain = o->limit && o->limit < train->n ? (int)o->limit : train->n;
    if (k > ntrain) {
        st = lg_error(LG_ERR_ARG, "-k %d: %s has only %d images%s", k, train->source, ntrain,
                      ntrain < train->n ? " within --limit" : "");
        goto done;
    }
    if ((st = lg_cli_nn_embed_open(&e, mc.c, mc.size)) != LG_OK) goto done;
    if ((st = rows_of(train, 0, ntrain, mc.size, 1, &tr)) != LG_OK) goto done;
    q = lg_alloc_floats((size_t)n * mc.dim);
    labels = lg_alloc(sizeof(int) * (size_t)n);
    idx = lg_alloc(sizeof(int) * (size_t)n * k);
    dist = lg_alloc_floats((size_t)n * k);
    if (!tr || !q || !labels || !idx || !dist) {
        st = lg_error(LG_ERR_NOMEM, "out of memory for %d training images", ntrain);
        goto done;
    }
    double t0 = lg_time_s();
    st = draw(mc.m, n, (uint64_t)o->seed, 1, q, labels);
    if (st == LG_OK) st = lg_cli_nn_embed(&e, tr, ntrain, "training images", 1, &ftr);
    const float *feats = ftr ? ftr : tr;
    if (st == LG_OK) st = nn_query(&e, feats, ntrain, q, n, k, "samples", idx, dist);
    if (st == LG_OK) st = write_nn_png(out, q, tr, idx, n, k, mc.c, mc.size);
    if (st != LG_OK) goto done;
    /* Real test images' distance to the training set, in the same space:
     * what "not copied" looks like. */
    const int nt = test ? (n < test->n ? n : test->n) : 0;
    double test_mean = -1;
    if (nt) {
        if ((st = rows_of(test, 0, nt, mc.size, 1, &treal)) != LG_OK) goto done;
        tidx = lg_alloc(sizeof(int) * (size_t)nt);
        tdist = lg_alloc_floats((size_t)nt);
        st = treal && tidx && tdist ? nn_query(&e, feats, ntrain, treal, nt, 1, "test images",
                                               tidx, tdist)
                                    : LG_ERR_NOMEM;
        if (st != LG_OK) goto done;
        test_mean = mean_first(tdist, nt, 1);
    }
    const double mean = mean_first(dist, n, k);
    printf("nn: %d samples (seed %ld) x %d nearest of %d training images (%s)%s%s -> %s "
           "(%.2f s)\n", n, o->seed, k, ntrain, train->source,
           e.space == LG_NN_PIXEL ? "" : " in ",
           e.space == LG_NN_PIXEL ? "" : e.space == LG_NN_INCEPTION ? "Inception space"
                                                                  : "classifier space",
           out, lg_time_s() - t0);
    printf("mean L2 distance to the nearest training image, %s: samples %.3f",
           lg_cli_nn_space_label(&e, label, sizeof label), mean);
    if (nt) printf(", real test images %.3f (%d of %s)", test_mean, nt, test->source);
    printf("\n");
    st = nn_record(o, &e, out, n, k, ntrain, mean, nt, test_mean);
done:
    lg_free(tr);
    lg_free(ftr);
    lg_free(q);
    lg_free(labels);
    lg_free(idx);
    lg_free(dist);
    lg_free(treal);
    lg_free(tidx);
    lg_free(tdist);
    lg_dataset_free(train);
    lg_dataset_free(test);
    lg_cli_nn_embed_close(&e);
    lg_model_free(mc.m);
    return st == LG_OK ? LG_EXIT_OK : lg_cli_fail(CMD, st);
}

/* ---- Frechet distance ------------------------------------------------------ */

typedef struct {
    double *mu, *cov;
} gauss;

static lg_status fit(lg_classifier *clf, const float *x, int n, gauss *g) {
    const int F = LG_CLASSIFIER_FEATURES;
    float *f = lg_alloc_floats((size_t)n * F);
    g->mu = lg_alloc(sizeof(double) * F);
    g->cov = lg_alloc(sizeof(double) * F * F);
    lg_status st = f && g->mu && g->cov ? LG_OK : LG_ERR_NOMEM;
    if (st == LG_OK) st = lg_classifier_features(clf, x, n, f);
    if (st == LG_OK) st = lg_frechet_stats(f, n, F, g->mu, g->cov);
    lg_free(f);
    return st;
}

/* Features of a data set's first n images. */
static lg_status fit_data(lg_classifier *clf, const lg_dataset *ds, int n, int size, gauss *g) {
    float *x;
    LG_TRY(rows_of(ds, 0, n, size, 0, &x));
    lg_status st = fit(clf, x, n, g);
    lg_free(x);
    return st;
}

/* Accuracy per class of the classifier on class-conditional samples. */
static lg_status class_accuracy(lg_classifier *clf, const float *x, const int *labels, int n,
                                int ncls, json_t **out, double *mean) {
    int *pred = lg_alloc(sizeof(int) * (size_t)n), *hit = lg_alloc(sizeof(int) * ncls),
        *cnt = lg_alloc(sizeof(int) * ncls);
    lg_status st = pred && hit && cnt ? LG_OK : LG_ERR_NOMEM;
    if (st == LG_OK) st = lg_classifier_predict(clf, x, n, pred);
    if (st == LG_OK) {
        for (int i = 0; i < n; i++) cnt[labels[i]]++, hit[labels[i]] += pred[i] == labels[i];
        *out = json_array();
        *mean = 0;
        printf("classifier accuracy on samples of each class:");
        for (int c = 0; c < ncls; c++) {
            double a = cnt[c] ? (double)hit[c] / cnt[c] : 0;
            *mean += a / ncls;
            printf(" %d:%.3f", c, a);
            json_array_append_new(*out, json_real(a));
        }
        printf("  (mean %.4f)\n", *mean);
    }
    lg_free(pred);
    lg_free(hit);
    lg_free(cnt);
    return st;
}

static int run_fd(const opts *o) {
    model_ctx mc = {0};
    lg_classifier *clf = NULL;
    lg_dataset *real = NULL, *train = NULL;
    gauss a = {0}, b = {0};
    float *x = NULL;
    int *labels = NULL;
    json_t *cls_acc = NULL;
    char rbuf[512];
    const char *rspec = test_spec_of(o, o->real, rbuf, sizeof rbuf);
    if (!rspec) return lg_cli_usage_error(CMD, "--data %s has no test split: give --real", o->data);
    lg_status st = lg_classifier_load(&clf, o->classifier);
    int c = 0, h = 0, w = 0, ncls = 0;
    if (st == LG_OK) lg_classifier_shape(clf, &c, &h, &w, &ncls);
    if (st == LG_OK && o->model) st = load_model(&mc, o);
    if (st == LG_OK && mc.m && (mc.c != c || mc.size != h || mc.size != w))
        st = lg_error(LG_ERR_SHAPE, "%s: classifier takes %dx%dx%d images, the model makes "
                      "%dx%dx%d", o->classifier, c, h, w, mc.c, mc.size, mc.size);
    if (st == LG_OK && mc.m && mc.d->nclasses && mc.d->nclasses != ncls)
        st = lg_error(LG_ERR_SHAPE, "%s: classifier has %d classes, the model %d", o->classifier,
                      ncls, mc.d->nclasses);
    if (st == LG_OK) st = open_data(&real, rspec, c, h);
    if (st == LG_OK && o->real_vs_real) st = open_data(&train, o->data, c, h);
    if (st != LG_OK) goto done;
    double t0 = lg_time_s(), fd, mean_acc = -1;
    int n = (int)o->samples;
    st = fit_data(clf, real, real->n, h, &a);
    if (st != LG_OK) goto done;
    if (o->real_vs_real) {
        n = n < train->n ? n : train->n;
        st = fit_data(clf, train, n, h, &b);
    } else {
        x = lg_alloc_floats((size_t)n * mc.dim);
        labels = lg_alloc(sizeof(int) * (size_t)n);
        st = x && labels ? draw(mc.m, n, (uint64_t)o->seed, 0, x, labels) : LG_ERR_NOMEM;
        if (st == LG_OK) st = fit(clf, x, n, &b);
        if (st == LG_OK && mc.d->nclasses)
            st = class_accuracy(clf, x, labels, n, ncls, &cls_acc, &mean_acc);
    }
    if (st == LG_OK) st = lg_frechet_distance(a.mu, a.cov, b.mu, b.cov, LG_CLASSIFIER_FEATURES, &fd);
    if (st != LG_OK) goto done;
    const double secs = lg_time_s() - t0, clf_acc = lg_classifier_test_accuracy(clf);
    printf("fd: %.4f between %d images of %s and %d %s %s, classifier %s (%d features), "
           "%.2f s\n",
           fd, real->n, real->source, n, o->real_vs_real ? "training images of" : "samples of",
           o->real_vs_real ? train->source : o->model, o->classifier, LG_CLASSIFIER_FEATURES,
           secs);
    if (clf_acc >= 0)
        printf("classifier's own test accuracy %.4f (trained on %s)\n", clf_acc,
               lg_classifier_source(clf));
    else
        printf("classifier's own test accuracy: not recorded in %s\n", o->classifier);
    if (!o->model) goto done;
    json_t *j = json_pack("{s:f,s:i,s:s,s:i,s:s,s:s,s:f}", "fd", fd, "real_images", real->n,
                          "real", real->source, o->real_vs_real ? "train_images" : "samples", n,
                          "classifier", o->classifier, "features", "classifier penultimate (128)",
                          "seconds", secs);
    json_object_set_new(j, "classifier_test_accuracy", clf_acc >= 0 ? json_real(clf_acc)
                                                                    : json_null());
    if (!o->real_vs_real) json_object_set_new(j, "seed", json_integer((json_int_t)o->seed));
    if (cls_acc) {
        json_object_set_new(j, "class_accuracy", cls_acc);
        json_object_set_new(j, "mean_class_accuracy", json_real(mean_acc));
        cls_acc = NULL;
    }
    char key[64];
    st = merge_metrics(o->model, metric_key(o, o->real_vs_real ? "fd_real_vs_real" : "fd", key,
                                            sizeof key), j);
done:
    json_decref(cls_acc);
    lg_free(a.mu), lg_free(a.cov), lg_free(b.mu), lg_free(b.cov);
    lg_free(x);
    lg_free(labels);
    lg_dataset_free(real);
    lg_dataset_free(train);
    lg_classifier_free(clf);
    lg_model_free(mc.m);
    return st == LG_OK ? LG_EXIT_OK : lg_cli_fail(CMD, st);
}

/* For cmd_eval_fid.c: the same sampling and metrics.json merge. */
lg_status lg_cli_eval_draw(lg_model *m, int n, uint64_t seed, float *out, int *labels) {
    return draw(m, n, seed, 0, out, labels);
}
lg_status lg_cli_merge_metrics(const char *run_dir, const char *key, json_t *val) {
    return merge_metrics(run_dir, key, val);
}

int lg_cmd_eval(int argc, char **argv) {
    /* fid, kid, prc, is: the Inception metrics (cmd_eval_fid.c). */
    if (argc >= 2 && (!strcmp(argv[1], "fid") || !strcmp(argv[1], "kid") ||
                      !strcmp(argv[1], "prc") || !strcmp(argv[1], "is")))
        return lg_cmd_eval_inception(argc, argv);
    opts o;
    int rc = parse(argc, argv, &o);
    if (rc == LG_CLI_HELP) return help(), LG_EXIT_OK;
    if (rc != LG_EXIT_OK) return rc;
    lg_set_threads((int)o.threads);
    lg_status bs = o.best && o.model ? lg_cli_best_dir(o.model, o.best_dir, sizeof o.best_dir)
                                     : LG_OK;
    if (bs != LG_OK) return lg_cli_fail(CMD, bs);
    return o.action == PARZEN ? run_parzen(&o) : o.action == NN ? run_nn(&o) : run_fd(&o);
}
