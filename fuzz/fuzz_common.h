/* Helpers shared by the fuzz harnesses (fuzz/fuzz_*.c). The loaders under
 * test take paths, so the fuzzed bytes go to memory files (memfd) reached
 * through /proc/self/fd/N, or to a scratch directory in /dev/shm. The
 * harnesses are also compiled into tests/test_fuzz_replay.c, which replays
 * the seed corpus and every saved crash with gcc, so helpers are static. */
#ifndef LG_FUZZ_COMMON_H
#define LG_FUZZ_COMMON_H
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lapgan.h"
#include "lapgan/gan.h"
#include "lapgan/io.h"

typedef struct {
    int fd;
    char path[64];
} fz_file;

/* Reads every image of a data set (streamed sets decode here); a failure
 * must be a clean status with a message, never a crash. */
static inline void fz_read_all(const lg_dataset *ds) {
    uint8_t *buf = malloc(lg_dataset_image_bytes(ds));
    if (!buf) abort();
    for (int i = 0; i < ds->n; i++) {
        const uint8_t *px;
        if (lg_dataset_image(ds, i, buf, &px) != LG_OK && !lg_errmsg()[0]) abort();
    }
    free(buf);
}

/* Replaces f's contents with data (created on first use); 0 on failure. */
static inline int fz_put(fz_file *f, const uint8_t *data, size_t size) {
    if (f->fd <= 0) {
        f->fd = memfd_create("lapgan-fuzz", MFD_CLOEXEC);
        if (f->fd < 0) return 0;
        snprintf(f->path, sizeof f->path, "/proc/self/fd/%d", f->fd);
    }
    if (ftruncate(f->fd, 0) != 0) return 0;
    size_t at = 0;
    while (at < size) {
        ssize_t k = pwrite(f->fd, data + at, size - at, (off_t)at);
        if (k <= 0) return 0;
        at += (size_t)k;
    }
    return 1;
}

/* Writes dir/name (a real file, for loaders that take a directory). */
static inline int fz_write_file(const char *dir, const char *name, const uint8_t *data,
                                size_t size) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(data, 1, size, f) == size;
    return (fclose(f) == 0) & ok;
}

/* Splits data at a 2-byte little-endian length prefix: a = the first part
 * (at most what is there), b = the rest. */
static inline void fz_split(const uint8_t *data, size_t size, const uint8_t **a, size_t *na,
                            const uint8_t **b, size_t *nb) {
    size_t len = size >= 2 ? (size_t)data[0] | (size_t)data[1] << 8 : 0;
    size_t body = size >= 2 ? size - 2 : 0;
    if (len > body) len = body;
    *a = data + (size >= 2 ? 2 : size);
    *na = len;
    *b = *a + len;
    *nb = body - len;
}
/* A small model for checkpoint seeds and loads: tiny's nets at 8 -> 4 -> 2
 * pixels with 2 to 4 units, so a whole level file is a few kilobytes. */
static inline void fz_small_model(lg_model_desc *m) {
    if (lg_preset("tiny", m) != LG_OK) abort();
    snprintf(m->name, sizeof m->name, "fuzz-small");
    const int sizes[3] = {8, 4, 2};
    for (int k = 0; k < 3; k++) {
        lg_level_desc *l = &m->level[k];
        l->size = sizes[k];
        l->g_width[0] = l->g_width[1] = l->d_width[0] = l->d_width[1] = k == 2 ? 4 : 2;
        if (k == 2) l->zdim = 4;
    }
    m->batch = 4;
    if (lg_model_desc_validate(m) != LG_OK) abort();
}
#endif
