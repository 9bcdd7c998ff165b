/* Conv2d(128, 128, 5, padding 2) forward, backward-data and backward-weights
 * (with bias) on [64,128,16,16] and [64,128,32,32]: im2col + OpenBLAS (the
 * cpu backend's lg_cpu_im2col_*), oneDNN with the layouts it chooses
 * (blocked), and oneDNN held to plain NCHW or to NHWC activations.
 * bench/ref/conv_bench.py times PyTorch on the same op; bench/conv.sh runs
 * the two alternately and compares. `--set cifar` times instead the 5x5
 * layers of the cifar10 preset (batch 128, 28x28 and 14x14, 3-4 channel
 * inputs and outputs), which decide where the cpu backend uses oneDNN;
 * `--set wino` the 128->128 layers at batch 64, 128 and 256 (sampling),
 * 28x28 and 14x14, where Winograd (wino2 = F(2x2,5x5), wino4 = F(4x4,5x5);
 * forward and backward-data only, GFLOP/s still counting direct-convolution
 * flops) competes with oneDNN.
 *
 *   build-x/bench/conv_bench [--threads N] [--reps R] [--impl NAME,...] [--shape HW]
 *                            [--set main|cifar|wino]
 *
 * Prints "RESULT impl shape direction median_ms gflops gflop" lines, shape
 * as NxCIxHxW>CO (1 FMA = 2 flops; nominal count, padding taps included);
 * "total" is the sum of the three directions' medians. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "backend/cpu/dnnl_conv.h"
#include "backend/cpu/winograd.h"
#include "lapgan.h"

enum { DIR_FWD, DIR_BWD_DATA, DIR_BWD_FILTER, NDIR };
static const char *dir_name[NDIR] = {"fwd", "bwd_data", "bwd_weights"};

typedef struct {
    lg_conv_desc d;
    float *x, *w, *b, *y, *dy, *dx, *dw, *db, *ws;
} problem;

typedef void (*run_fn)(problem *p, int dir);

static void run_im2col(problem *p, int dir) {
    if (dir == DIR_FWD) lg_cpu_im2col_conv_fwd(&p->d, p->x, p->w, p->b, p->y, p->ws);
    if (dir == DIR_BWD_DATA) lg_cpu_im2col_conv_bwd_data(&p->d, p->dy, p->w, p->dx, p->ws);
    if (dir == DIR_BWD_FILTER)
        lg_cpu_im2col_conv_bwd_filter(&p->d, p->x, p->dy, p->dw, p->db, p->ws);
}

static void run_dnnl_p(problem *p, int dir, int bf16) {
    lg_status st = LG_OK;
    if (dir == DIR_FWD) st = lg_dnnl_conv_fwd_p(&p->d, bf16, p->x, p->w, p->b, p->y);
    if (dir == DIR_BWD_DATA) st = lg_dnnl_conv_bwd_data_p(&p->d, bf16, p->dy, p->w, p->dx);
    if (dir == DIR_BWD_FILTER)
        st = lg_dnnl_conv_bwd_filter_p(&p->d, bf16, p->x, p->dy, p->dw, p->db);
    if (st != LG_OK) {
        fprintf(stderr, "conv_bench: %s\n", lg_errmsg());
        exit(1);
    }
}
static void run_dnnl(problem *p, int dir) { run_dnnl_p(p, dir, 0); }
static void run_dnnl_bf16(problem *p, int dir) { run_dnnl_p(p, dir, 1); }

/* Winograd backward-weights exists for F(4x4) in AVX-512 builds only: the
 * row is left out elsewhere. */
static void run_wino(problem *p, int dir, int m, int bf16) {
    if (dir == DIR_FWD) lg_wino_conv_fwd_p(&p->d, m, bf16, p->x, p->w, p->b, p->y, p->ws);
    if (dir == DIR_BWD_DATA) lg_wino_conv_bwd_data_p(&p->d, m, bf16, p->dy, p->w, p->dx, p->ws);
#ifdef __AVX512F__
    if (dir == DIR_BWD_FILTER && m == 4)
        lg_wino_conv_bwd_filter_p(&p->d, bf16, p->x, p->dy, p->dw, p->db, p->ws);
#endif
}
/* The cpu backend as training calls it: Winograd or oneDNN per shape. */
static void run_table(problem *p, int dir, lg_backend_kind k) {
    const lg_backend *be = lg_backend_get(k);
    lg_status st = LG_OK;
    if (!be) st = lg_backend_check(k);
    else if (dir == DIR_FWD) st = be->conv_fwd(&p->d, p->x, p->w, p->b, p->y, p->ws);
    else if (dir == DIR_BWD_DATA) st = be->conv_bwd_data(&p->d, p->dy, p->w, p->dx, p->ws);
    else st = be->conv_bwd_filter(&p->d, p->x, p->dy, p->dw, p->db, p->ws);
    if (st != LG_OK) {
        fprintf(stderr, "conv_bench: %s\n", lg_errmsg());
        exit(1);
    }
}
static void run_cpu(problem *p, int dir) { run_table(p, dir, LG_BACKEND_CPU); }
static void run_cpu_bf16(problem *p, int dir) { run_table(p, dir, LG_BACKEND_CPU_BF16); }

static void run_wino2(problem *p, int dir) { run_wino(p, dir, 2, 0); }
static void run_wino4(problem *p, int dir) { run_wino(p, dir, 4, 0); }
static void run_wino4_bf16(problem *p, int dir) { run_wino(p, dir, 4, 1); }

/* Whether name is one of the comma-separated names in list (NULL: all). */
static int listed(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (!strncmp(p, name, n) && (p[n] == ',' || p[n] == 0)) return 1;
    return !list;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median seconds of `reps` calls after two warm-up calls. */
static double time_dir(run_fn f, problem *p, int dir, int reps) {
    double t[64];
    f(p, dir);
    f(p, dir);
    for (int r = 0; r < reps; r++) {
        double t0 = lg_time_s();
        f(p, dir);
        t[r] = lg_time_s() - t0;
    }
    qsort(t, reps, sizeof *t, cmp_double);
    return reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
}

static float *filled(lg_rng *r, size_t n) {
    float *p = lg_alloc_floats(n);
    if (!p) {
        fprintf(stderr, "conv_bench: %s\n", lg_errmsg());
        exit(1);
    }
    lg_rng_uniform(r, p, n, -1.f, 1.f);
    return p;
}

typedef struct {
    int n, ci, co, hw;
} shape;

static void problem_init(problem *p, shape sh) {
    int hw = sh.hw;
    lg_conv_desc d = {.n = sh.n, .ci = sh.ci, .hi = hw, .wi = hw, .co = sh.co, .kh = 5, .kw = 5,
                      .stride = 1, .pad = 2, .ho = hw, .wo = hw};
    size_t nx = (size_t)d.n * d.ci * hw * hw, ny = (size_t)d.n * d.co * hw * hw;
    size_t nw = (size_t)d.co * d.ci * 25;
    lg_rng r;
    lg_rng_init(&r, 7, 0);
    p->d = d;
    p->x = filled(&r, nx), p->dy = filled(&r, ny), p->w = filled(&r, nw);
    p->b = filled(&r, d.co), p->y = filled(&r, ny), p->dx = filled(&r, nx);
    p->dw = filled(&r, nw), p->db = filled(&r, d.co);
    size_t ws = lg_cpu_im2col_conv_workspace(&d), wws = lg_wino_conv_workspace_p(&d, 1);
    p->ws = filled(&r, ws > wws ? ws : wws);
}

static void problem_free(problem *p) {
    float *all[] = {p->x, p->w, p->b, p->y, p->dy, p->dx, p->dw, p->db, p->ws};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) lg_free(all[i]);
}

int main(int argc, char **argv) {
    int threads = 2, reps = 5, only_hw = 0, batch = 0;
    const char *only_impl = NULL, *set = "main";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--impl")) only_impl = argv[i + 1];
        else if (!strcmp(argv[i], "--shape")) only_hw = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--set")) set = argv[i + 1];
        else if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]); /* tiny smoke runs */
        else {
            fprintf(stderr, "usage: %s [--threads N] [--reps R] [--impl im2col,dnnl,dnnl_nchw,dnnl_nhwc,"
                            "wino2,wino4,cpu,dnnl_bf16,wino4_bf16,cpu_bf16] [--shape HW] [--set main|cifar|wino] [--batch N]\n", argv[0]);
            return 2;
        }
    }
    if (reps < 1 || reps > 64) reps = 5;
    lg_set_threads(threads);

    static const struct {
        const char *name;
        run_fn fn;
        lg_dnnl_layout layout;
    } impls[] = {{"im2col", run_im2col, LG_DNNL_LAYOUT_ANY},
                  {"dnnl", run_dnnl, LG_DNNL_LAYOUT_ANY},
                  {"dnnl_nchw", run_dnnl, LG_DNNL_LAYOUT_NCHW},
                  {"dnnl_nhwc", run_dnnl, LG_DNNL_LAYOUT_NHWC},
                  {"wino2", run_wino2, LG_DNNL_LAYOUT_ANY},
                  {"wino4", run_wino4, LG_DNNL_LAYOUT_ANY},
                  {"cpu", run_cpu, LG_DNNL_LAYOUT_ANY},
                  {"dnnl_bf16", run_dnnl_bf16, LG_DNNL_LAYOUT_ANY},
                  {"wino4_bf16", run_wino4_bf16, LG_DNNL_LAYOUT_ANY},
                  {"cpu_bf16", run_cpu_bf16, LG_DNNL_LAYOUT_ANY}};
    static const shape main_set[] = {{64, 128, 128, 16}, {64, 128, 128, 32}};
    static const shape cifar_set[] = {{128, 4, 128, 28},   {128, 128, 128, 28}, {128, 128, 3, 28},
                                      {128, 3, 128, 28},   {128, 6, 128, 28},   {128, 4, 128, 14},
                                      {128, 128, 128, 14}, {128, 128, 3, 14},   {128, 3, 128, 14},
                                      {128, 6, 128, 14}};
    static const shape wino_set[] = {{64, 128, 128, 28},  {64, 128, 128, 14},
                                     {128, 128, 128, 28}, {128, 128, 128, 14},
                                     {256, 128, 128, 28}, {256, 128, 128, 14}};
    int cifar = !strcmp(set, "cifar"), wino = !strcmp(set, "wino");
    const shape *shapes = cifar ? cifar_set : wino ? wino_set : main_set;
    int nshapes = cifar ? 10 : wino ? 6 : 2;
    printf("# conv_bench: Conv2d 5x5 pad 2 (%s set), %d threads, median of %d\n", set,
           lg_get_threads(), reps);
    for (int s = 0; s < nshapes; s++) {
        if (only_hw && only_hw != shapes[s].hw) continue;
        problem p;
        shape sh = shapes[s];
        if (batch > 0) sh.n = batch;
        problem_init(&p, sh);
        double flops = 2.0 * p.d.n * p.d.co * p.d.ho * p.d.wo * (double)p.d.ci * 25;
        char name[64];
        snprintf(name, sizeof name, "%dx%dx%dx%d>%d", p.d.n, p.d.ci, p.d.hi, p.d.wi, p.d.co);
        for (size_t k = 0; k < sizeof impls / sizeof *impls; k++) {
            if (!listed(only_impl, impls[k].name)) continue;
            lg_dnnl_conv_set_layout(impls[k].layout);
            const int ndir = impls[k].fn == run_wino2 ||
                                     (impls[k].fn == run_wino4 && !lg_wino_wgrad_available())
                                 ? DIR_BWD_FILTER
                                 : NDIR;
            double total = 0;
            for (int dir = 0; dir < ndir; dir++) {
                double t = time_dir(impls[k].fn, &p, dir, reps);
                total += t;
                printf("RESULT %s %s %s %.3f %.1f %.4f\n", impls[k].name, name, dir_name[dir],
                       1e3 * t, flops / t * 1e-9, flops * 1e-9);
            }
            if (ndir < NDIR) continue;
            printf("RESULT %s %s total %.3f %.1f %.4f\n", impls[k].name, name, 1e3 * total,
                   3 * flops / total * 1e-9, 3 * flops * 1e-9);
            fflush(stdout);
        }
        problem_free(&p);
    }
    lg_dnnl_conv_release();
    return 0;
}
