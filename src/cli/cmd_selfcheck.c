/* `lapgan selfcheck`: a few seconds' proof that this build computes correctly
 * on this machine: the fast CPU backend against the naive reference on a
 * small conv net, and finite-difference checks of a few weight gradients.
 * The net's middle convolutions are 5x5 with 32 channels, like the presets'
 * finer levels, so the check runs the path training runs: Winograd
 * F(4x4,5x5) forward and backward-data where the cpu table picks it
 * (backend/cpu/cpu.h), oneDNN for the narrow first layer and the weights. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "cli.h"

#define SC_BATCH 4
#define SC_WIDE 32 /* Winograd's channel threshold in the cpu table's rule */

static const lg_layer_spec sc_net[] = {
    {.kind = LG_LAYER_CONV2D, .out = SC_WIDE, .k = 5, .pad = 2},
    {.kind = LG_LAYER_BATCHNORM, .eps = LG_BN_EPS, .momentum = LG_BN_MOMENTUM},
    {.kind = LG_LAYER_TANH},
    {.kind = LG_LAYER_CONV2D, .out = SC_WIDE, .k = 5, .pad = 2},
    {.kind = LG_LAYER_TANH},
    {.kind = LG_LAYER_CONV2D, .out = 4, .k = 5, .pad = 2},
    {.kind = LG_LAYER_TANH},
    {.kind = LG_LAYER_CONV2D, .out = 4, .k = 3, .stride = 2},
    {.kind = LG_LAYER_FLATTEN},
    {.kind = LG_LAYER_LINEAR, .out = 3},
};
enum { SC_LAYERS = sizeof sc_net / sizeof sc_net[0], SC_C = 3, SC_H = 10, SC_W = 9 };

/* The Winograd tile the cpu table uses for the 32 -> 32 layer's forward
 * pass and the 32 -> 4 layer's backward-data pass (0: oneDNN runs them,
 * e.g. under LG_CONV_ALGO=dnnl), and whether the 32 -> 32 layer's
 * backward-weights pass is Winograd's too, so the report says what was
 * checked. */
static void wino_tiles(int *fwd, int *bwd, int *wgrad) {
    lg_conv_desc d = {.n = SC_BATCH, .ci = SC_WIDE, .hi = SC_H, .wi = SC_W, .co = SC_WIDE,
                      .kh = 5, .kw = 5, .stride = 1, .pad = 2, .ho = SC_H, .wo = SC_W};
    *fwd = lg_cpu_conv_wino_tile(&d, 0);
    *wgrad = lg_cpu_conv_wino_wgrad(&d);
    d.co = 4;
    *bwd = lg_cpu_conv_wino_tile(&d, 1);
}

/* The value of `name` in the environment this process started with (what
 * the libraries read while they loaded, not what setenv changed since):
 * 1 and the value in buf, or 0. */
static int start_env(const char *name, char *buf, size_t cap) {
    FILE *f = fopen("/proc/self/environ", "rb");
    if (!f) return 0;
    char entry[4096];
    size_t len = strlen(name), n = 0;
    int c, found = 0;
    while (!found && (c = fgetc(f)) != EOF) {
        if (c) {
            if (n + 1 < sizeof entry) entry[n++] = (char)c;
            continue;
        }
        entry[n] = 0;
        n = 0;
        if (!strncmp(entry, name, len) && entry[len] == '=') {
            size_t m = strlen(entry + len + 1); /* a longer value is cut to fit */
            if (m >= cap) m = cap - 1;
            memcpy(buf, entry + len + 1, m);
            buf[m] = 0;
            found = 1;
        }
    }
    fclose(f);
    return found;
}

typedef struct {
    lg_net *net;
    const float *y;
    float *dx;
} sc_run;

/* Forward in training mode and backward from dy, from fresh gradients. */
static lg_status run(sc_run *r, const float *x, const float *dy) {
    lg_status st = lg_net_forward(r->net, x, SC_BATCH, 1, &r->y);
    if (st != LG_OK) return st;
    lg_net_zero_grad(r->net);
    return lg_net_backward(r->net, dy, r->dx, 1);
}

/* max |a - b| / max |b|. */
static double rel_diff(const float *a, const float *b, size_t n) {
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        if (!(e <= d)) d = e;
        if (fabs(b[i]) > s) s = fabs(b[i]);
    }
    return d / (s > 0 ? s : 1);
}

static double loss(lg_net *net, const float *x, const float *dy, size_t ny) {
    const float *y;
    if (lg_net_forward(net, x, SC_BATCH, 1, &y) != LG_OK) return NAN;
    double l = 0;
    for (size_t i = 0; i < ny; i++) l += (double)y[i] * dy[i];
    return l;
}

static void usage(FILE *f) {
    fprintf(f, "usage: lapgan selfcheck\n\n"
               "Builds a small conv net (5x5 convolutions with 32 channels, as training uses,\n"
               "so the fast backend runs its Winograd path), runs forward and backward on the\n"
               "fast CPU backend and on the naive reference, checks that they agree and that a\n"
               "few weight gradients match finite differences. Exit 0 when all is well, 1\n"
               "otherwise.\n");
}

int lg_cmd_selfcheck(int argc, char **argv) {
    if (argc > 1 && lg_cli_is_help(argv[1])) {
        usage(stdout);
        return LG_EXIT_OK;
    }
    if (argc > 1) return lg_cli_usage_error("selfcheck", "unexpected argument '%s'", argv[1]);

    enum { NX = SC_BATCH * SC_C * SC_H * SC_W, NY = SC_BATCH * 3 };
    static float x[NX], dy[NY], dx_cpu[NX], dx_ref[NX], y_cpu[NY];
    sc_run cpu = {.dx = dx_cpu}, ref = {.dx = dx_ref};
    lg_net_cfg cfg = {.c = SC_C, .h = SC_H, .w = SC_W, .max_batch = SC_BATCH, .seed = 2015};
    lg_rng rng;
    lg_rng_init(&rng, 1, 0);
    lg_rng_uniform(&rng, x, NX, -1, 1);
    lg_rng_uniform(&rng, dy, NY, -1, 1);

    lg_status st = lg_net_new(&cpu.net, sc_net, SC_LAYERS, &cfg);
    cfg.backend = LG_BACKEND_REF;
    if (st == LG_OK) st = lg_net_new(&ref.net, sc_net, SC_LAYERS, &cfg);
    if (st == LG_OK) st = run(&cpu, x, dy);
    if (st == LG_OK) memcpy(y_cpu, cpu.y, sizeof y_cpu);
    if (st == LG_OK) st = run(&ref, x, dy);
    if (st != LG_OK) {
        lg_net_free(cpu.net);
        lg_net_free(ref.net);
        return lg_cli_fail("selfcheck", st);
    }

    size_t np;
    float *p = lg_net_params(ref.net, &np);
    const float *g_ref = lg_net_grads(ref.net, NULL), *g_cpu = lg_net_grads(cpu.net, NULL);
    const double e_y = rel_diff(y_cpu, ref.y, NY), e_dx = rel_diff(dx_cpu, dx_ref, NX),
                 e_g = rel_diff(g_cpu, g_ref, np);
    const char *fail = NULL;
    if (!(e_y < 1e-5 && e_dx < 1e-4 && e_g < 1e-4)) fail = "cpu backend disagrees with reference";

    /* Central differences (step 1e-2, see tests/test_nn.c) on two entries of
     * every weight and bias tensor, against the reference gradient. */
    double e_fd = 0, scale = 0;
    for (size_t i = 0; i < np; i++) scale = fmax(scale, fabs(g_ref[i]));
    for (int t = 0; t < lg_net_tensor_count(ref.net) && !fail; t++) {
        lg_net_tensor_info ti;
        if (lg_net_tensor_info_at(ref.net, t, &ti) != LG_OK || ti.kind != 0) continue;
        for (int k = 0; k < 2; k++) {
            size_t i = ti.offset + (size_t)k * (ti.numel - 1) / 2;
            float keep = p[i];
            p[i] = keep + 1e-2f;
            double lp = loss(ref.net, x, dy, NY);
            p[i] = keep - 1e-2f;
            double lm = loss(ref.net, x, dy, NY);
            p[i] = keep;
            double e = fabs((lp - lm) / 2e-2 - g_ref[i]) / (scale > 0 ? scale : 1);
            if (!(e <= e_fd)) e_fd = e;
        }
    }
    if (!fail && !(e_fd < 1e-3)) fail = "gradients do not match finite differences";

    lg_net_free(cpu.net);
    lg_net_free(ref.net);
    if (fail) {
        fprintf(stderr,
                "lapgan selfcheck: FAILED: %s (relative differences: output %.2g, input "
                "gradient %.2g, weight gradients %.2g, finite differences %.2g)\n",
                fail, e_y, e_dx, e_g, e_fd);
        return LG_EXIT_FAIL;
    }
    int wf, wb, ww;
    wino_tiles(&wf, &wb, &ww);
    const int t = wf ? wf : wb;
    char conv[192];
    if (t) /* backward-weights has only the F(4x4) kernel */
        snprintf(conv, sizeof conv, "Winograd F(%dx%d,5x5)%s%s%s and oneDNN convolutions", t, t,
                 wf ? " forward" : "", wb ? " + backward-data" : "",
                 !ww ? "" : t == 4 ? " + backward-weights" : ", F(4x4,5x5) backward-weights");
    else
        snprintf(conv, sizeof conv, "oneDNN convolutions only (LG_CONV_ALGO=%s)",
                 getenv("LG_CONV_ALGO") ? getenv("LG_CONV_ALGO") : "");
    char wait[32];
    printf("selfcheck: ok (cpu backend agrees with reference: %s; gradients check; %d "
           "threads; OpenBLAS %s; OpenMP wait policy %s)\n",
           conv, lg_get_threads(), lg_blas_core(),
           start_env("OMP_WAIT_POLICY", wait, sizeof wait) ? wait : "unset");
    return LG_EXIT_OK;
}
