/* Convolution through oneDNN (the C API of Debian's libdnnl 2.6), with the
 * op-table semantics of src/backend/ops.h: NCHW float32 user buffers,
 * weights [co, ci, kh, kw], dx overwritten, dw/db accumulated.
 *
 * oneDNN picks its own blocked layouts (format_tag any); data is reordered
 * at the boundary into buffers this module owns, so these calls take no
 * workspace from the caller. Primitives are created on the first call for a
 * shape (milliseconds) and cached, keyed by the descriptor and the OpenMP
 * thread count, because oneDNN fixes its thread split when a primitive is
 * created. The blocked buffers live in one scratch area sized for the
 * largest cached shape; it grows only when a new shape is first seen, so a
 * training step that repeats shapes allocates nothing.
 *
 * Threads: calls are serialised by one mutex (they share the engine,
 * stream and scratch); each call runs on the OpenMP pool of the calling
 * thread (omp_set_num_threads / lg_set_threads). Never call from inside an
 * OpenMP parallel region.
 *
 * Errors (bad descriptor, NULL buffer, oneDNN refusing a shape or running
 * out of memory) come back as an lg_status with a message; nothing aborts. */
#ifndef LG_BACKEND_CPU_DNNL_CONV_H
#define LG_BACKEND_CPU_DNNL_CONV_H
#include "backend/ops.h"

/* y = conv(x, w) + b (b may be NULL). */
lg_status lg_dnnl_conv_fwd(const lg_conv_desc *d, const float *x, const float *w,
                           const float *b, float *y);
/* dx = conv_transpose(dy, w), overwriting dx. */
lg_status lg_dnnl_conv_bwd_data(const lg_conv_desc *d, const float *dy, const float *w,
                                float *dx);
/* dw += x (*) dy; db += sum(dy) over n, h, w (db may be NULL). */
lg_status lg_dnnl_conv_bwd_filter(const lg_conv_desc *d, const float *x, const float *dy,
                                  float *dw, float *db);

/* Creates the three primitives for d now (e.g. when a network is planned),
 * so that the first training step is not the one that pays for them. */
lg_status lg_dnnl_conv_prepare(const lg_conv_desc *d);

/* The layouts oneDNN computes in. ANY (the default) lets it choose (nChw16c
 * blocked on AVX-512) and reorders at the boundary; NCHW forces the callers'
 * layout everywhere (no reorders, slower kernels); NHWC holds activations
 * channels-last (PyTorch's faster format) with weights free. Changing it
 * empties the cache. For benches and tests (bench/README.md has figures). */
typedef enum { LG_DNNL_LAYOUT_ANY = 0, LG_DNNL_LAYOUT_NCHW, LG_DNNL_LAYOUT_NHWC } lg_dnnl_layout;
void lg_dnnl_conv_set_layout(lg_dnnl_layout layout);

/* The same three with a precision: bf16 != 0 rounds the operands (x and w
 * forward, dy and w backward-data, x and dy backward-weights) to bf16 while
 * reordering them into oneDNN's layouts, multiplies them with the bf16
 * kernels (avx512_core_bf16, or AMX where the CPU has it) and accumulates
 * and returns float32. Callers check lg_cpu_has_bf16() first: on a CPU
 * without bf16 instructions oneDNN would emulate them slowly. */
lg_status lg_dnnl_conv_fwd_p(const lg_conv_desc *d, int bf16, const float *x, const float *w,
                             const float *b, float *y);
lg_status lg_dnnl_conv_bwd_data_p(const lg_conv_desc *d, int bf16, const float *dy,
                                  const float *w, float *dx);
lg_status lg_dnnl_conv_bwd_filter_p(const lg_conv_desc *d, int bf16, const float *x,
                                    const float *dy, float *dw, float *db);

/* Destroys every cached primitive and the scratch (tests, leak checks). */
void lg_dnnl_conv_release(void);
#endif
