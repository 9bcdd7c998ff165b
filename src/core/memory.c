#include <stdlib.h>
#include <string.h>

#include "check.h"

int lg_mul_overflow(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 1;
    *out = a * b;
    return 0;
}

static _Atomic size_t alloc_calls;

size_t lg_alloc_count(void) { return alloc_calls; }

void *lg_alloc(size_t bytes) {
    alloc_calls++;
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded < bytes || rounded == 0) rounded = 64;
    void *p = aligned_alloc(64, rounded);
    if (!p) {
        lg_error(LG_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
        return NULL;
    }
    memset(p, 0, rounded);
    return p;
}

float *lg_alloc_floats(size_t n) {
    size_t bytes;
    if (lg_mul_overflow(n, sizeof(float), &bytes)) {
        lg_error(LG_ERR_NOMEM, "size overflow allocating %zu floats", n);
        return NULL;
    }
    return (float *)lg_alloc(bytes);
}

void lg_free(void *p) { free(p); }

struct lg_arena {
    unsigned char *base;
    size_t cap, used;
};

lg_status lg_arena_new(lg_arena **out, size_t bytes) {
    LG_CHECK(out, LG_ERR_ARG, "lg_arena_new: out is NULL");
    *out = NULL;
    lg_arena *a = calloc(1, sizeof *a);
    LG_CHECK(a, LG_ERR_NOMEM, "out of memory allocating an arena");
    a->base = lg_alloc(bytes ? bytes : 64);
    if (!a->base) {
        free(a);
        return LG_ERR_NOMEM;
    }
    a->cap = bytes;
    *out = a;
    return LG_OK;
}

void lg_arena_free(lg_arena *a) {
    if (!a) return;
    free(a->base);
    free(a);
}

void *lg_arena_alloc(lg_arena *a, size_t bytes) {
    if (!a) {
        lg_error(LG_ERR_ARG, "lg_arena_alloc: arena is NULL");
        return NULL;
    }
    size_t start = (a->used + 63) & ~(size_t)63;
    if (start < a->used || bytes > a->cap || start > a->cap - bytes) {
        lg_error(LG_ERR_NOMEM, "arena full: %zu of %zu bytes used, %zu more asked", a->used,
                 a->cap, bytes);
        return NULL;
    }
    a->used = start + bytes;
    memset(a->base + start, 0, bytes);
    return a->base + start;
}

size_t lg_arena_mark(const lg_arena *a) { return a ? a->used : 0; }
void lg_arena_reset(lg_arena *a, size_t mark) {
    if (a && mark <= a->used) a->used = mark;
}
size_t lg_arena_used(const lg_arena *a) { return a ? a->used : 0; }
size_t lg_arena_capacity(const lg_arena *a) { return a ? a->cap : 0; }
