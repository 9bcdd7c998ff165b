/* A tiny test harness: each tests/test_*.c is one program that runs its
 * cases with RUN(fn) and prints one PASS/FAIL/SKIP line per case;
 * tests/run.sh adds them up into the closing "N passed, N failed" line. */
#ifndef LG_TEST_H
#define LG_TEST_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lapgan.h"

static int t__failed, t__skipped, t__npass, t__nfail, t__nskip;
static const char *t__name = "";

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__, t__name, \
                    #cond);                                                          \
            t__failed = 1;                                                           \
        }                                                                            \
    } while (0)

#define CHECK_MSG(cond, ...)                                                         \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: %s: CHECK(%s) failed: ", __FILE__, __LINE__, t__name, #cond); \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
            t__failed = 1;                                                           \
        }                                                                            \
    } while (0)

#define CHECK_OK(expr)                                                               \
    do {                                                                             \
        lg_status t__s = (expr);                                                     \
        if (t__s != LG_OK) {                                                         \
            fprintf(stderr, "%s:%d: %s: %s -> %s: %s\n", __FILE__, __LINE__, t__name, #expr, \
                    lg_status_name(t__s), lg_errmsg());                              \
            t__failed = 1;                                                           \
        }                                                                            \
    } while (0)

/* Expects a specific error status and a non-empty message. */
#define CHECK_ERR(expr, status)                                                      \
    do {                                                                             \
        lg_error_clear();                                                            \
        lg_status t__s = (expr);                                                     \
        if (t__s != (status) || lg_errmsg()[0] == 0) {                               \
            fprintf(stderr, "%s:%d: %s: %s -> %s (\"%s\"), expected %s\n", __FILE__, __LINE__, \
                    t__name, #expr, lg_status_name(t__s), lg_errmsg(), lg_status_name(status)); \
            t__failed = 1;                                                           \
        }                                                                            \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                        \
    do {                                                                             \
        double t__a = (a), t__b = (b);                                               \
        if (!(fabs(t__a - t__b) <= (tol))) {                                         \
            fprintf(stderr, "%s:%d: %s: |%s - %s| = |%g - %g| > %g\n", __FILE__, __LINE__, \
                    t__name, #a, #b, t__a, t__b, (double)(tol));                     \
            t__failed = 1;                                                           \
        }                                                                            \
    } while (0)

/* The skip rule (tests/cli/lib.sh has the same for the scripts): a case that
 * cannot run says why with SKIP(reason). Under CI=true that is a FAIL, since
 * whatever a case needs (a package, a data set, a build) is the set-up's job
 * (scripts/deps.sh, scripts/test.sh). SKIP_ABSENT(reason) is for what cannot
 * exist on the machine at all (a GPU): it stays a SKIP, its line tagged
 * T_ABSENT_TAG, which is how tests/run.sh tells the two apart. A SKIP with
 * an empty reason is a FAIL everywhere. */
#define T_ABSENT_TAG "(cannot exist here)"
static char t__why[4800];
static inline int t__ci(void) {
    const char *c = getenv("CI");
    return c && !strcmp(c, "true");
}
static inline void t__skip(int absent, const char *why) {
    if (!why[0]) {
        snprintf(t__why, sizeof t__why, ": SKIP without a reason");
        t__failed = 1;
    } else if (!absent && t__ci()) {
        snprintf(t__why, sizeof t__why, ": cannot run under CI=true (the set-up must provide "
                                         "it): %s", why);
        t__failed = 1;
    } else {
        printf("SKIP %s: %s%s\n", t__name, why, absent ? " " T_ABSENT_TAG : "");
        t__skipped = 1;
    }
}
#define T__SKIP(absent, ...)                                                         \
    do {                                                                             \
        char t__msg[4608];                                                           \
        snprintf(t__msg, sizeof t__msg, __VA_ARGS__);                                \
        t__skip(absent, t__msg);                                                     \
        return;                                                                      \
    } while (0)
/* Returns from the running case: skipped, or failed under CI=true. */
#define SKIP(...) T__SKIP(0, __VA_ARGS__)
/* Returns from the running case, skipped everywhere: for what cannot exist here. */
#define SKIP_ABSENT(...) T__SKIP(1, __VA_ARGS__)

static inline void t__run(const char *name, void (*fn)(void)) {
    t__name = name;
    t__failed = 0;
    t__skipped = 0;
    t__why[0] = 0;
    lg_error_clear();
    fn();
    if (t__skipped && !t__failed) {
        t__nskip++;
    } else if (t__failed) {
        printf("FAIL %s%s\n", name, t__why);
        t__nfail++;
    } else {
        printf("PASS %s\n", name);
        t__npass++;
    }
    fflush(stdout);
}
#define RUN(fn) t__run(#fn, fn)
#define TEST_END() (printf("# %d passed, %d failed, %d skipped\n", t__npass, t__nfail, t__nskip), t__nfail != 0)

/* Where ../shared lives (tests may read it; it may be absent). */
/* Every pixel of a data set of either kind, [n, c, h, w] (free it). */
static inline uint8_t *t_pixels(const lg_dataset *ds) {
    uint8_t *px = ds ? malloc((size_t)ds->n * lg_dataset_image_bytes(ds)) : NULL;
    if (px && lg_dataset_images(ds, 0, ds->n, px) != LG_OK) {
        fprintf(stderr, "    t_pixels: %s\n", lg_errmsg());
        free(px);
        px = NULL;
    }
    return px;
}

static inline const char *t_shared_dir(void) {
    const char *s = getenv("LG_SHARED_DIR");
    return s ? s : "../shared";
}

/* Largest |a-b| / (|b| + atol-ish floor) over n values. */
static inline double t_max_rel_err(const float *a, const float *b, size_t n, double floor_) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]) / (fabs((double)b[i]) + floor_);
        if (!(d <= m)) m = d; /* NaN propagates as failure */
    }
    return m;
}
#endif
