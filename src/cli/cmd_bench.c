/* lapgan bench: our side of the speed comparison, runnable without Python.
 * Times full training steps per level (D on half real / half generated,
 * then G, optimisers included) and coarse-to-fine sampling, on synthetic
 * data, and ends with machine-readable lines. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gan/level_internal.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: lapgan bench [--preset P] [--batch B] [--threads T] [options]\n"
            "Times training steps per level and sampling on synthetic data.\n\n"
            "  --preset P           model (default cifar10)\n"
            "  --batch B            training minibatch (default 128)\n"
            "  --sample-batch N     sampling batch (default 256)\n"
            "  --threads T          threads (default all cores)\n"
            "  --precision P        fp32 (default) or bf16 convolutions (AVX512-BF16 or AMX)\n"
            "  --steps N            timed steps per level (default 10; the median is reported)\n"
            "  --warmup N           untimed steps first (default 2)\n"
            "  --class-conditional  --dcgan  --adam  --authors-init   as for train\n"
            "  --print-json         print the benchmarked model as JSON, then one line\n"
            "                       'params <S>x<S> <net> <count>' per net, and exit\n"
            "                       (bench/ref/lapgan_ref.py builds its PyTorch nets from it)\n"
            "Output ends with:\n"
            "  train_img_per_s <S>x<S> <value>   one line per level, coarsest first\n"
            "  train_img_per_s total <value>     batch / sum of the levels' step times\n"
            "  sample_img_per_s <value>          full coarse-to-fine sampling\n");
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Median seconds per training step of level k. */
static lg_status time_level(lg_level *lv, const float *x, const int *y, int batch, int warmup,
                            int steps, double *sec) {
    double *t = malloc(sizeof(double) * (size_t)steps);
    if (!t) return lg_error(LG_ERR_NOMEM, "out of memory");
    lg_level_stats st;
    lg_status s = LG_OK;
    for (int i = 0; i < warmup + steps && s == LG_OK; i++) {
        double t0 = lg_time_s();
        s = lg_level_train_step(lv, x, y, batch, 0, &st);
        if (i >= warmup) t[i - warmup] = lg_time_s() - t0;
    }
    if (s == LG_OK) *sec = median(t, steps);
    free(t);
    return s;
}

/* The model as JSON, then each net's parameter count, so the PyTorch
 * reference builds the same nets and can prove it. */
static int print_model(const lg_model_desc *m) {
    char *json;
    lg_status st = lg_model_desc_to_json(m, &json);
    if (st != LG_OK) return lg_cli_fail("bench", st);
    printf("%s\n", json);
    free(json);
    for (int k = m->levels - 1; k >= 0 && st == LG_OK; k--) {
        lg_level *lv;
        if ((st = lg_level_new(&lv, m, k, 2, 1, LG_BACKEND_CPU)) != LG_OK) break;
        for (int i = 0; i < LG_PART_COUNT; i++) {
            size_t n;
            if (!lv->part[i].net) continue;
            lg_net_params(lv->part[i].net, &n);
            printf("params %dx%d %s %zu\n", lv->s, lv->s, lv->part[i].name, n);
        }
        lg_level_free(lv);
    }
    return st == LG_OK ? LG_EXIT_OK : lg_cli_fail("bench", st);
}

int lg_cmd_bench(int argc, char **argv) {
    const char *preset = "cifar10";
    long batch = 128, sbatch = 256, threads = 0, steps = 10, warmup = 2;
    int cc = 0, dcgan = 0, adam = 0, authors = 0, print_json = 0, bf16 = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = 0;
        if (lg_cli_is_help(a)) {
            usage(stdout);
            return LG_EXIT_OK;
        } else if (!strcmp(a, "--class-conditional")) { cc = 1; continue; }
        else if (!strcmp(a, "--dcgan")) { dcgan = 1; continue; }
        else if (!strcmp(a, "--adam")) { adam = 1; continue; }
        else if (!strcmp(a, "--authors-init")) { authors = 1; continue; }
        else if (!strcmp(a, "--print-json")) { print_json = 1; continue; }
        else if (!strcmp(a, "--preset") && v) preset = v;
        else if (!strcmp(a, "--batch")) r = lg_cli_int("bench", a, v, 2, 65536, &batch);
        else if (!strcmp(a, "--sample-batch")) r = lg_cli_int("bench", a, v, 1, 65536, &sbatch);
        else if (!strcmp(a, "--threads")) r = lg_cli_int("bench", a, v, 1, 1024, &threads);
        else if (!strcmp(a, "--steps")) r = lg_cli_int("bench", a, v, 1, 100000, &steps);
        else if (!strcmp(a, "--warmup")) r = lg_cli_int("bench", a, v, 0, 100000, &warmup);
        else if (!strcmp(a, "--precision")) r = lg_cli_precision("bench", a, v, &bf16);
        else return lg_cli_usage_error("bench", v || a[0] != '-' ? "unknown option '%s'"
                                                                  : "%s needs a value", a);
        if (r) return r;
        i++;
    }
    lg_set_threads((int)threads);
    lg_backend_kind be;
    int rc = lg_cli_backend("bench", LG_BACKEND_CPU, bf16, &be);
    if (rc) return rc;
    lg_model_desc m;
    lg_status st = lg_preset(preset, &m);
    if (st != LG_OK) return lg_cli_fail("bench", st);
    if (dcgan) lg_model_desc_dcgan(&m);
    if (adam) lg_model_desc_adam(&m);
    if (authors) lg_model_desc_authors_init(&m);
    if (cc) lg_model_desc_class_conditional(&m, 10);
    m.batch = (int)batch;
    if ((st = lg_model_desc_validate(&m)) != LG_OK) return lg_cli_fail("bench", st);
    if (print_json) return print_model(&m);
    const int s0 = m.level[0].size;
    const size_t n = (size_t)batch * m.c * s0 * s0;
    float *x = lg_alloc_floats(n);
    int *y = lg_alloc(sizeof(int) * (size_t)(batch > sbatch ? batch : sbatch));
    if (!x || !y) return lg_cli_fail("bench", LG_ERR_NOMEM);
    lg_rng r;
    lg_rng_init(&r, 1, 0);
    lg_rng_uniform(&r, x, n, -1, 1);
    for (long i = 0; i < (batch > sbatch ? batch : sbatch); i++) y[i] = (int)(i % 10);
    lg_level *lv[LG_PYR_MAX_LEVELS] = {0};
    double sec[LG_PYR_MAX_LEVELS], total = 0;
    printf("bench: preset %s%s%s, batch %ld, %d threads, %ld steps after %ld warm-up, %s\n",
           m.name, cc ? " class-conditional" : "", dcgan ? " dcgan" : "", batch, lg_get_threads(),
           steps, warmup, bf16 ? "bf16" : "fp32");
    for (int k = m.levels - 1; k >= 0 && st == LG_OK; k--) {
        st = lg_level_new(&lv[k], &m, k, (int)batch, 1, be);
        if (st == LG_OK) st = time_level(lv[k], x, cc ? y : NULL, (int)batch, (int)warmup,
                                         (int)steps, &sec[k]);
        total += sec[k];
    }
    float *out = st == LG_OK ? lg_alloc_floats((size_t)sbatch * m.c * s0 * s0) : NULL;
    lg_model *mod = NULL;
    double ssec = 0;
    if (st == LG_OK && !out) st = LG_ERR_NOMEM;
    if (st == LG_OK) st = lg_model_wrap(&mod, &m, lv);
    if (st == LG_OK) {
        double t[5];
        for (int i = 0; i < 6 && st == LG_OK; i++) { /* one warm-up, five timed */
            double t0 = lg_time_s();
            st = lg_model_sample(mod, (int)sbatch, (uint64_t)i, y, out, NULL);
            if (i) t[i - 1] = lg_time_s() - t0;
        }
        ssec = median(t, 5);
    }
    if (st == LG_OK) {
        for (int k = m.levels - 1; k >= 0; k--)
            printf("train_img_per_s %dx%d %.1f\n", m.level[k].size, m.level[k].size,
                   batch / sec[k]);
        printf("train_img_per_s total %.1f\n", batch / total);
        printf("sample_img_per_s %.1f\n", sbatch / ssec);
    }
    lg_model_free(mod);
    for (int k = 0; k < m.levels; k++) lg_level_free(lv[k]);
    lg_free(x);
    lg_free(y);
    lg_free(out);
    return st == LG_OK ? LG_EXIT_OK : lg_cli_fail("bench", st);
}
