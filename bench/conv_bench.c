/* Conv2d(128, 128, 5, padding 2) forward, backward-data and backward-weights
 * (with bias) on [64,128,16,16] and [64,128,32,32]: im2col + OpenBLAS (the
 * cpu backend's lg_cpu_im2col_*), oneDNN with its blocked layouts, and
 * oneDNN forced to plain NCHW. bench/ref/conv_bench.py times PyTorch on the
 * same op; bench/conv.sh runs the two alternately and compares.
 *
 *   build-x/bench/conv_bench [--threads N] [--reps R] [--impl NAME] [--shape HxW]
 *
 * Prints one "RESULT impl shape direction median_ms gflops" line per case
 * (1 FMA = 2 flops); "total" is the sum of the three directions' medians. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "backend/cpu/dnnl_conv.h"
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

static void run_dnnl(problem *p, int dir) {
    lg_status st = LG_OK;
    if (dir == DIR_FWD) st = lg_dnnl_conv_fwd(&p->d, p->x, p->w, p->b, p->y);
    if (dir == DIR_BWD_DATA) st = lg_dnnl_conv_bwd_data(&p->d, p->dy, p->w, p->dx);
    if (dir == DIR_BWD_FILTER) st = lg_dnnl_conv_bwd_filter(&p->d, p->x, p->dy, p->dw, p->db);
    if (st != LG_OK) {
        fprintf(stderr, "conv_bench: %s\n", lg_errmsg());
        exit(1);
    }
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

static void problem_init(problem *p, int hw) {
    lg_conv_desc d = {.n = 64, .ci = 128, .hi = hw, .wi = hw, .co = 128, .kh = 5, .kw = 5,
                      .stride = 1, .pad = 2, .ho = hw, .wo = hw};
    size_t nx = (size_t)d.n * d.ci * hw * hw, nw = (size_t)d.co * d.ci * 25;
    lg_rng r;
    lg_rng_init(&r, 7, 0);
    p->d = d;
    p->x = filled(&r, nx), p->dy = filled(&r, nx), p->w = filled(&r, nw), p->b = filled(&r, 128);
    p->y = filled(&r, nx), p->dx = filled(&r, nx), p->dw = filled(&r, nw);
    p->db = filled(&r, 128);
    p->ws = filled(&r, lg_cpu_im2col_conv_workspace(&d));
}

static void problem_free(problem *p) {
    float *all[] = {p->x, p->w, p->b, p->y, p->dy, p->dx, p->dw, p->db, p->ws};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) lg_free(all[i]);
}

int main(int argc, char **argv) {
    int threads = 2, reps = 5, only_hw = 0;
    const char *only_impl = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--impl")) only_impl = argv[i + 1];
        else if (!strcmp(argv[i], "--shape")) only_hw = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: %s [--threads N] [--reps R] [--impl im2col|dnnl|dnnl_nchw] "
                            "[--shape 16|32]\n", argv[0]);
            return 2;
        }
    }
    if (reps < 1 || reps > 64) reps = 5;
    lg_set_threads(threads);

    static const struct {
        const char *name;
        run_fn fn;
        int plain;
    } impls[] = {{"im2col", run_im2col, 0}, {"dnnl", run_dnnl, 0}, {"dnnl_nchw", run_dnnl, 1}, {"dnnl_nhwc", run_dnnl, 2}};
    static const int sizes[] = {16, 32};
    printf("# conv_bench: Conv2d(128,128,5,pad 2), batch 64, %d threads, median of %d\n",
           lg_get_threads(), reps);
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        if (only_hw && only_hw != sizes[s]) continue;
        problem p;
        problem_init(&p, sizes[s]);
        double flops = 2.0 * p.d.n * p.d.co * p.d.ho * p.d.wo * (double)p.d.ci * 25;
        for (size_t k = 0; k < sizeof impls / sizeof *impls; k++) {
            if (only_impl && strcmp(only_impl, impls[k].name)) continue;
            lg_dnnl_conv_set_plain(impls[k].plain);
            double total = 0;
            for (int dir = 0; dir < NDIR; dir++) {
                double t = time_dir(impls[k].fn, &p, dir, reps);
                total += t;
                printf("RESULT %s 64x128x%dx%d %s %.3f %.1f\n", impls[k].name, sizes[s],
                       sizes[s], dir_name[dir], 1e3 * t, flops / t * 1e-9);
            }
            printf("RESULT %s 64x128x%dx%d total %.3f %.1f\n", impls[k].name, sizes[s],
                   sizes[s], 1e3 * total, 3 * flops / total * 1e-9);
            fflush(stdout);
        }
        problem_free(&p);
    }
    lg_dnnl_conv_release();
    return 0;
}
