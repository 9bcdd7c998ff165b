/* lapgan sample: draw images coarse to fine from a trained run. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lapgan/gan.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: lapgan sample --model RUN_DIR [options]\n"
            "Draws new images from a trained LAPGAN, coarse to fine.\n\n"
            "  --model DIR     run directory holding level_<k>.safetensors\n"
            "  -n, --count N   number of samples (default 100)\n"
            "  --seed S        random seed (default 1); same seed, same bytes\n"
            "  --class C       class for every sample (class-conditional models; default: one\n"
            "                  row per class)\n"
            "  -o, --out PNG   sample grid (default RUN_DIR/samples.png)\n"
            "  --per-row R     images per grid row (default 10)\n"
            "  --chain PNG     also write the coarse-to-fine chain: per row I_K, then for each\n"
            "                  level u(I_k+1), h_k (min-max scaled) and I_k; rows are samples\n"
            "                  spread evenly over the grid\n"
            "  --chain-rows R  samples in the chain figure (default 8)\n"
            "  --best          the weights best-model selection kept in RUN_DIR/best/\n"
            "  --from LIST     the variability figure instead: for each comma-separated item,\n"
            "                  an index into the run's held-out validation images of --data\n"
            "                  (or a PNG/JPEG file), one row: the real image, its coarsest\n"
            "                  level I_K, then --variants draws of the finer levels from it\n"
            "  --variants N    draws per row (default 8)\n"
            "  --data SPEC     the run's training set, for --from indices (default fashion)\n"
            "  --threads T     threads (default all cores)\n"
            "  --precision P   fp32 (default) or bf16 convolutions (AVX512-BF16 or AMX)\n");
}

/* Nearest-neighbour enlargement of one [c, s, s] image to [c, S, S]. */
static void enlarge(const float *src, int c, int s, float *dst, int S) {
    for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                dst[((size_t)ch * S + y) * S + x] = src[((size_t)ch * s + y * s / S) * s + x * s / S];
}

/* Maps an image to [-1, 1] by its own min and max (band-pass images). */
static void minmax(float *x, size_t n) {
    float lo = x[0], hi = x[0];
    for (size_t i = 1; i < n; i++) lo = x[i] < lo ? x[i] : lo, hi = x[i] > hi ? x[i] : hi;
    float sc = hi > lo ? 2.0f / (hi - lo) : 0;
    for (size_t i = 0; i < n; i++) x[i] = (x[i] - lo) * sc - 1.0f;
}

static lg_grid_opts grid_opts(int s, int per_row) {
    return (lg_grid_opts){.nrow_items = per_row, .pad = 2, .pad_value = 255, .lo = -1, .hi = 1,
                          .scale = s < 32 ? 64 / s : 1};
}

/* Adds the grid to the command's outputs (written when all are ready). */
static lg_status write_grid(lg_outputs *outs, const char *path, const float *x, int n, int c,
                            int s, int per_row) {
    lg_grid_opts o = grid_opts(s, per_row);
    lg_image *im;
    lg_status st = lg_grid_make(&im, x, n, c, s, s, &o);
    if (st != LG_OK) return st;
    st = lg_outputs_add_png(outs, path, im);
    lg_image_free(im);
    return st;
}

/* -n and --per-row against what one grid can hold, before any sampling:
 * -n 100000 used to fail only after 9 s and 1.7 GB. */
static int check_count(long n, long per_row, int S) {
    lg_grid_opts o = grid_opts(S, (int)per_row);
    long cols = per_row < n ? per_row : n;
    long fits = lg_grid_max_items(&o, S, S, (int)cols);
    if (fits == 0)
        return lg_cli_usage_error("sample", "--per-row %ld: a row of %ld %dx%d samples is wider "
                                  "than the %d-pixel limit of a grid", per_row, cols, S, S,
                                  LG_GRID_MAX_SIDE);
    if (n > fits)
        return lg_cli_usage_error("sample", "-n %ld: one grid of %ld per row (--per-row) holds at "
                                  "most %ld samples of %dx%d", n, cols, fits, S, S);
    return LG_EXIT_OK;
}

/* Rows of [I_K, then per finer level u(I_k+1), h_k, I_k], all at the finest size.
 * Row r shows sample r * stride, so the rows span the grid (and, for
 * class-conditional grids, several classes). */
static lg_status write_chain(lg_outputs *outs, const char *path, const lg_model_desc *d,
                             const lg_chain *ch, int rows, int stride) {
    const int K = d->levels - 1, S = d->level[0].size, c = d->c, cols = 1 + 3 * K;
    const size_t img = (size_t)c * S * S;
    float *buf = lg_alloc_floats((size_t)rows * cols * img);
    if (!buf) return LG_ERR_NOMEM;
    for (int row_i = 0; row_i < rows; row_i++) {
        float *row = buf + (size_t)row_i * cols * img;
        const size_t r = (size_t)row_i * stride;
        const size_t nK = (size_t)c * d->level[K].size * d->level[K].size;
        enlarge(ch->img[K] + r * nK, c, d->level[K].size, row, S);
        for (int k = K - 1, col = 1; k >= 0; k--, col += 3) {
            const int s = d->level[k].size;
            const size_t n = (size_t)c * s * s;
            enlarge(ch->up[k] + r * n, c, s, row + col * img, S);
            enlarge(ch->h[k] + r * n, c, s, row + (col + 1) * img, S);
            minmax(row + (col + 1) * img, img);
            enlarge(ch->img[k] + r * n, c, s, row + (col + 2) * img, S);
        }
    }
    lg_status st = write_grid(outs, path, buf, rows * cols, c, S, cols);
    lg_free(buf);
    return st;
}

int lg_cli_parse_sample(int argc, char **argv, lg_sample_opts *o) {
    *o = (lg_sample_opts){.n = 100, .cls = -1, .per_row = 10, .rows = 8, .seed = 1,
                          .variants = 8};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = 0;
        if (!strcmp(a, "--best")) {
            o->best = 1;
            continue;
        }
        if (lg_cli_is_help(a)) return LG_CLI_HELP;
        else if (!strcmp(a, "--from") && v) o->from = v;
        else if (!strcmp(a, "--data") && v) o->data = v;
        else if (!strcmp(a, "--variants")) r = lg_cli_int("sample", a, v, 1, 64, &o->variants);
        else if (!strcmp(a, "--model") && v) o->model = v;
        else if ((!strcmp(a, "-o") || !strcmp(a, "--out")) && v) o->out = v;
        else if (!strcmp(a, "--chain") && v) o->chain = v;
        else if (!strcmp(a, "-n") || !strcmp(a, "--count")) r = lg_cli_int("sample", a, v, 1, 100000, &o->n);
        else if (!strcmp(a, "--seed")) r = lg_cli_int("sample", a, v, 0, 0x7fffffffffffffffL, &o->seed);
        else if (!strcmp(a, "--class")) r = lg_cli_int("sample", a, v, 0, LG_MAX_CLASSES - 1, &o->cls);
        else if (!strcmp(a, "--per-row")) r = lg_cli_int("sample", a, v, 1, 1000, &o->per_row);
        else if (!strcmp(a, "--chain-rows")) r = lg_cli_int("sample", a, v, 1, 64, &o->rows);
        else if (!strcmp(a, "--threads")) r = lg_cli_int("sample", a, v, 1, 1024, &o->threads);
        else if (!strcmp(a, "--precision")) r = lg_cli_precision("sample", a, v, &o->bf16);
        else return lg_cli_usage_error("sample", v || a[0] != '-' ? "unknown option '%s'"
                                                                   : "%s needs a value", a);
        if (r) return r;
        i++;
    }
    if (!o->model) return lg_cli_usage_error("sample", "--model RUN_DIR is required");
    if (o->chain && o->from)
        return lg_cli_usage_error("sample", "--chain draws new samples; it does not go with --from");
    return LG_EXIT_OK;
}

int lg_cmd_sample(int argc, char **argv) {
    lg_sample_opts o;
    int r = lg_cli_parse_sample(argc, argv, &o);
    if (r == LG_CLI_HELP) {
        usage(stdout);
        return LG_EXIT_OK;
    }
    if (r) return r;
    const char *model = o.model, *out = o.out, *chain = o.chain;
    const long n = o.n, cls = o.cls, per_row = o.per_row, rows = o.rows, threads = o.threads;
    const long seed = o.seed;
    lg_set_threads((int)threads);
    lg_backend_kind be;
    if ((r = lg_cli_backend("sample", LG_BACKEND_CPU, o.bf16, &be))) return r;
    char path[4096];
    snprintf(path, sizeof path, "%s/samples.png", model);
    if (!out) out = path;
    /* Outputs first: a refused -o costs nothing. */
    lg_status st = lg_output_check(out);
    if (st == LG_OK && chain) st = lg_output_check(chain);
    if (st != LG_OK) return lg_cli_fail("sample", st);
    lg_model *m;
    char best[4096];
    if (o.best && (st = lg_cli_best_dir(model, best, sizeof best)) != LG_OK)
        return lg_cli_fail("sample", st);
    const char *weights = o.best ? best : model;
    st = lg_model_load(&m, weights, be);
    if (st != LG_OK) return lg_cli_fail("sample", st);
    if (o.from) {
        r = lg_cli_sample_variants(&o, m, weights, o.out);
        lg_model_free(m);
        return r;
    }
    const lg_model_desc *d = lg_model_desc_of(m);
    /* d lives in m: report before freeing it. */
    if (cls >= 0 && !d->nclasses) {
        r = lg_cli_usage_error("sample", "--class: model '%s' is not class-conditional", d->name);
        lg_model_free(m);
        return r;
    }
    if (cls >= d->nclasses && d->nclasses) {
        r = lg_cli_usage_error("sample", "--class %ld: the model has classes 0 to %d", cls,
                               d->nclasses - 1);
        lg_model_free(m);
        return r;
    }
    const int S = d->level[0].size;
    if ((r = check_count(n, per_row, S)) != LG_EXIT_OK) {
        lg_model_free(m);
        return r;
    }
    float *x = lg_alloc_floats((size_t)n * d->c * S * S);
    int *labels = lg_alloc(sizeof(int) * (size_t)n);
    lg_outputs *outs = NULL;
    st = x && labels ? lg_outputs_new(&outs) : LG_ERR_NOMEM;
    /* Unconditional models ignore labels; CC grids get one class per row. */
    for (long i = 0; i < n && labels; i++)
        labels[i] = cls >= 0 ? (int)cls : d->nclasses ? (int)(i / per_row % d->nclasses) : 0;
    lg_chain ch;
    double t0 = lg_time_s();
    if (st == LG_OK) st = lg_model_sample(m, (int)n, (uint64_t)seed, labels, x, &ch);
    double dt = lg_time_s() - t0;
    if (st == LG_OK) st = write_grid(outs, out, x, (int)n, d->c, S, (int)per_row);
    if (st == LG_OK && chain) st = write_chain(outs, chain, d, &ch, rows < n ? (int)rows : (int)n,
                                                rows < n ? (int)(n / rows) : 1);
    /* Both or neither: a failed --chain must not leave the -o grid behind. */
    if (st == LG_OK) st = lg_outputs_commit(outs);
    lg_outputs_free(outs);
    lg_free(x);
    lg_free(labels);
    lg_model_free(m);
    if (st != LG_OK) return lg_cli_fail("sample", st);
    printf("%ld samples in %.3f s (%.0f img/s) -> %s%s%s\n", n, dt, n / (dt > 0 ? dt : 1e-9), out,
           chain ? ", chain -> " : "", chain ? chain : "");
    return LG_EXIT_OK;
}
