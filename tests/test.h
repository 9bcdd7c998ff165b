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

/* Marks the running case skipped (with a reason) and returns from it. */
#define SKIP(...)                                                                    \
    do {                                                                             \
        printf("SKIP %s: ", t__name);                                                \
        printf(__VA_ARGS__);                                                         \
        printf("\n");                                                                \
        t__skipped = 1;                                                              \
        return;                                                                      \
    } while (0)

static inline void t__run(const char *name, void (*fn)(void)) {
    t__name = name;
    t__failed = 0;
    t__skipped = 0;
    lg_error_clear();
    fn();
    if (t__skipped && !t__failed) {
        t__nskip++;
    } else if (t__failed) {
        printf("FAIL %s\n", name);
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
