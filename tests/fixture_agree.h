/* The agreement rule every PyTorch fixture is checked with (tests/
 * test_fixtures.c, tests/test_level_fixtures.c), per element:
 *   |ours - torch| <= 1e-4 * (|torch| + 1e-2 * max|torch|)
 * over the tensor. The fixtures are float64 results rounded once, so this is
 * 1e-4 relative to the true answer, with an absolute floor of 1e-6 of the
 * tensor's largest magnitude for values that cancel to nearly zero. The floor
 * is calibrated on PyTorch itself: its own float32 run of the layer fixtures
 * has a worst error of 2.2e-5 under this rule (the generator's output), while
 * a 1e-3 floor would fail PyTorch float32 (2.2e-4 there). */
#ifndef LG_TEST_FIXTURE_AGREE_H
#define LG_TEST_FIXTURE_AGREE_H
#include "test.h"

#define REL_TOL 1e-4
#define FLOOR_FRAC 1e-2

static const char *g_fix; /* fixture being checked, for messages */
static const char *g_backend;

/* Checks n floats against the fixture tensor `name`; prints the largest
 * error on failure. */
static void agree(const lg_safetensors *st, const char *name, const float *got, size_t n) {
    const lg_st_tensor *t = lg_st_find(st, name);
    CHECK_MSG(t != NULL, "%s: %s", g_fix, lg_errmsg());
    if (!t) return;
    CHECK_MSG(t->numel == n, "%s [%s] %s: %zu values, fixture has %zu", g_fix, g_backend, name, n,
              t->numel);
    if (t->numel != n) return;
    double mx = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(t->data[i]));
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs((double)got[i] - t->data[i]);
        double e = d == 0 ? 0 : d / (fabs(t->data[i]) + FLOOR_FRAC * mx);
        if (!(e <= worst)) { /* NaN lands here and sticks */
            worst = e;
            at = i;
            if (isnan(e)) break;
        }
    }
    CHECK_MSG(worst <= REL_TOL, "%s [%s] %s: max rel err %.3g at [%zu] (ours %.9g, torch %.9g)",
              g_fix, g_backend, name, worst, at, got[at], t->data[at]);
}
#endif
