/* Dropout's masked copy, float32 in both cpu tables. It draws its uniforms
 * 1024 at a time per (row, chunk) task, each chunk starting at its own
 * Philox block, so the bits do not depend on the thread count or on which
 * task draws them. */
#include "backend/cpu/cpu.h"
#include "core/check.h"

#define LG_ELEM_PAR_MIN 32768
enum { CHUNK = 1024 }; /* uniforms per draw: a multiple of 4 (one Philox block each) */

static lg_rng row_rng(const lg_dropout_desc *d, int i) {
    return lg_rng_keyed(d->seed, d->stream, d->draw, d->rows ? d->rows[i] : (uint64_t)i);
}

static float keep_scale(float p) { return p < 1 ? 1.0f / (1.0f - p) : 0.0f; }

/* Values [c0, c0 + len) of row i. */
static void row_chunk(const lg_dropout_desc *d, int i, size_t c0, size_t len, const float *in,
                      float *out) {
    const float p = d->p, scale = keep_scale(p);
    float u[CHUNK];
    lg_rng r = row_rng(d, i);
    r.offset += c0 / 4;
    lg_rng_uniform(&r, u, len, 0.0f, 1.0f);
    for (size_t j = 0; j < len; j++) out[j] = u[j] >= p ? in[j] * scale : 0.0f * in[j];
}

/* Every map of row i: uniform ch keeps or drops map ch. */
static void row_maps(const lg_dropout_desc *d, int i, const float *in, float *out) {
    const float p = d->p, scale = keep_scale(p);
    const size_t plane = d->per / (size_t)d->maps;
    float u[CHUNK];
    lg_rng r = row_rng(d, i);
    for (int c0 = 0; c0 < d->maps; c0 += CHUNK) {
        const int len = d->maps - c0 < CHUNK ? d->maps - c0 : CHUNK;
        lg_rng_uniform(&r, u, (size_t)len, 0.0f, 1.0f);
        for (int ch = 0; ch < len; ch++) {
            const float f = u[ch] >= p ? scale : 0.0f;
            const size_t off = (size_t)(c0 + ch) * plane;
            for (size_t q = 0; q < plane; q++) out[off + q] = in[off + q] * f;
        }
    }
}

lg_status lg_cpu_dropout(const lg_dropout_desc *d, const float *in, float *out) {
    LG_CHECK(d->n >= 0 && d->maps >= 0 && (!d->maps || d->per % (size_t)d->maps == 0),
             LG_ERR_ARG, "dropout: %zu values per row do not split into %d maps", d->per,
             d->maps);
    const size_t per = d->per, nch = (per + CHUNK - 1) / CHUNK;
    const long n = (long)((size_t)d->n * per), tasks = (long)d->n * (long)nch;
    if (d->maps) {
#pragma omp parallel for schedule(static) if (n >= LG_ELEM_PAR_MIN)
        for (int i = 0; i < d->n; i++) row_maps(d, i, in + (size_t)i * per, out + (size_t)i * per);
        return LG_OK;
    }
#pragma omp parallel for schedule(static) if (n >= LG_ELEM_PAR_MIN)
    for (long t = 0; t < tasks; t++) {
        const int i = (int)(t / (long)nch);
        const size_t c0 = (size_t)(t % (long)nch) * CHUNK;
        const size_t len = per - c0 < CHUNK ? per - c0 : CHUNK;
        const size_t off = (size_t)i * per + c0;
        row_chunk(d, i, c0, len, in + off, out + off);
    }
    return LG_OK;
}
