/* lapgan core: status codes, error messages, threads, deterministic RNG,
 * tensors and the arena allocator.
 *
 * Error model (after zstd): every fallible function returns an lg_status.
 * LG_OK is 0; anything else is an error whose one-line message, naming the
 * file or argument and the problem, is read with lg_errmsg() on the same
 * thread. The library never prints and never exits; only the CLI does.
 */
#ifndef LAPGAN_CORE_H
#define LAPGAN_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LG_VERSION_MAJOR 0
#define LG_VERSION_MINOR 1
#define LG_VERSION_PATCH 0
#define LG_VERSION "0.1.0"

typedef enum {
    LG_OK = 0,
    LG_ERR_ARG,         /* NULL or out-of-range argument */
    LG_ERR_SHAPE,       /* tensor shapes that do not fit together */
    LG_ERR_NOMEM,       /* allocation failed or a size overflowed */
    LG_ERR_IO,          /* open/read/write/fsync/rename failed */
    LG_ERR_FORMAT,      /* a file's bytes are not what its format says */
    LG_ERR_NUMERIC,     /* NaN or Inf where finite numbers are required */
    LG_ERR_UNSUPPORTED, /* valid request this build or backend cannot do */
    LG_ERR_INTERRUPTED, /* stopped by a signal; state was saved */
    LG_STATUS_COUNT
} lg_status;

/* Stable short name of a status ("ok", "bad-argument", ...). */
const char *lg_status_name(lg_status s);

/* LG_VERSION of the library actually loaded (bindings check against it). */
const char *lg_version(void);

/* The message of the last error set on this thread ("" if none). */
const char *lg_errmsg(void);

/* Sets this thread's message (printf format) and returns s, so library code
 * can write `return lg_error(LG_ERR_FORMAT, "%s: bad magic", path);`. */
lg_status lg_error(lg_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Clears this thread's message. */
void lg_error_clear(void);

/* ---- threads ---------------------------------------------------------- */

/* Sets the number of threads used by OpenMP loops and by OpenBLAS (the same
 * OpenMP pool, so they never oversubscribe). n <= 0 means all cores. */
void lg_set_threads(int n);
int lg_get_threads(void);

/* The OpenBLAS kernel family for this CPU ("SkylakeX", "Haswell", "Zen"), or
 * NULL where OpenBLAS's own choice stands. OpenBLAS 0.3.21 gives CPUs newer
 * than its table generic SSE3 kernels (3.6x slower GEMMs); it reads
 * OPENBLAS_CORETYPE only while it loads, so a program embedding lapgan sets
 * that variable to this value before it starts (the lapgan CLI and the
 * Python package do). */
const char *lg_blas_coretype_for_cpu(void);
/* The kernel family OpenBLAS runs ("SkylakeX", "Prescott", ...). */
const char *lg_blas_core(void);

/* ---- deterministic random numbers -------------------------------------- */

/* Counter-based Philox4x32-10. A draw depends only on (seed, stream, offset),
 * never on thread count, so fills may run in parallel and a run can be
 * resumed from the three numbers below. */
typedef struct {
    uint64_t seed;
    uint64_t stream; /* independent sequences under one seed */
    uint64_t offset; /* 128-bit blocks consumed so far */
} lg_rng;

void lg_rng_init(lg_rng *r, uint64_t seed, uint64_t stream);
/* One Philox block for an explicit counter: the building block of all draws. */
void lg_philox(uint64_t seed, uint64_t stream, uint64_t counter, uint32_t out[4]);
/* Fill out[0..n) with U[lo, hi). Consumes ceil(n/4) blocks. */
void lg_rng_uniform(lg_rng *r, float *out, size_t n, float lo, float hi);
/* Fill out[0..n) with N(mean, std^2) (Box-Muller). Consumes ceil(n/4) blocks. */
void lg_rng_normal(lg_rng *r, float *out, size_t n, float mean, float std);
/* One uniform 32-bit integer (consumes one block). */
uint32_t lg_rng_u32(lg_rng *r);
/* Uniform integer in [0, n), n >= 1, without modulo bias (one block or more). */
uint64_t lg_rng_below(lg_rng *r, uint64_t n);
/* Fisher-Yates shuffle of idx[0..n). */
void lg_rng_shuffle(lg_rng *r, int *idx, size_t n);
/* The generator for one row of one draw: a stream hashed from (stream,
 * draw), positioned at the row's own range of 2^32 blocks. Numbers keyed by
 * the row's index in the whole batch are the same whichever process or
 * slice of the batch computes them. */
lg_rng lg_rng_keyed(uint64_t seed, uint64_t stream, uint64_t draw, uint64_t row);

/* ---- tensors ---------------------------------------------------------- */

/* A float32 NCHW view. It never owns its data. Vectors are [n, c, 1, 1]. */
typedef struct {
    float *data;
    int n, c, h, w;
} lg_tensor;

static inline lg_tensor lg_tensor4(float *data, int n, int c, int h, int w) {
    lg_tensor t = {data, n, c, h, w};
    return t;
}
static inline size_t lg_tensor_numel(const lg_tensor *t) {
    return (size_t)t->n * (size_t)t->c * (size_t)t->h * (size_t)t->w;
}
/* LG_OK when t has data and positive dims whose product fits in size_t. */
lg_status lg_tensor_check(const lg_tensor *t, const char *what);
/* LG_OK when a and b have the same dims, else LG_ERR_SHAPE naming `what`. */
lg_status lg_tensor_same_shape(const lg_tensor *a, const lg_tensor *b, const char *what);

/* ---- memory ------------------------------------------------------------ */

/* 64-byte aligned allocation of n floats, zeroed; NULL (with message) on
 * failure or overflow. Free with lg_free. */
float *lg_alloc_floats(size_t n);
void *lg_alloc(size_t bytes);
void lg_free(void *p);
/* How many lg_alloc / lg_alloc_floats calls this process has made (tests
 * check that a training step makes none). */
size_t lg_alloc_count(void);
/* a*b without overflow: returns 0 and sets *out, or returns 1 on overflow. */
int lg_mul_overflow(size_t a, size_t b, size_t *out);

/* A bump allocator: plan sizes, allocate once, reset between steps. */
typedef struct lg_arena lg_arena;
lg_status lg_arena_new(lg_arena **out, size_t bytes);
void lg_arena_free(lg_arena *a); /* accepts NULL */
/* 64-byte aligned, zeroed; NULL with LG_ERR_NOMEM message when full. */
void *lg_arena_alloc(lg_arena *a, size_t bytes);
size_t lg_arena_mark(const lg_arena *a);
void lg_arena_reset(lg_arena *a, size_t mark);
size_t lg_arena_used(const lg_arena *a);
size_t lg_arena_capacity(const lg_arena *a);

/* ---- time -------------------------------------------------------------- */
double lg_time_s(void); /* monotonic seconds */

#ifdef __cplusplus
}
#endif
#endif
