/* lapgan io: images (PNG via libpng, JPEG via libjpeg-turbo, WebP via libwebp), sample grids,
 * safetensors checkpoints and atomic file writes.
 *
 * Writers never leave a half-written file: they write a temporary file in the
 * same directory, fsync it, rename it over the target and fsync the
 * directory. Readers trust nothing in the bytes they are given.
 */
#ifndef LAPGAN_IO_H
#define LAPGAN_IO_H

#include "lapgan/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- images ----------------------------------------------------------- */

/* 8-bit image, interleaved HWC (c = 1 grey, 3 RGB, 4 RGBA). */
typedef struct {
    int w, h, c;
    uint8_t *px; /* owned */
} lg_image;

void lg_image_free(lg_image *im);
/* Decodes PNG, JPEG or WebP (by magic bytes) from a file or from memory. */
lg_status lg_image_load(lg_image **out, const char *path);
lg_status lg_image_decode(lg_image **out, const void *bytes, size_t len, const char *name);
/* Resizes so the shorter side is size (area average when shrinking,
 * bilinear with aligned corners when enlarging: the pyramid's area-bilinear
 * pair), centre-crops to size x size, converts to c channels (1: ITU-R 601
 * luma, 3: RGB; alpha dropped) and writes CHW bytes to out[c*size*size].
 * name labels error messages (may be NULL). */
lg_status lg_image_fit(const lg_image *im, int c, int size, uint8_t *out, const char *name);
/* Writes a PNG atomically. */
lg_status lg_png_write(const char *path, const lg_image *im);
/* Encodes a PNG in memory (*buf: free with lg_free); name labels errors. */
lg_status lg_png_encode(const lg_image *im, void **buf, size_t *len, const char *name);

/* Float CHW images -> one grid image. Values map [lo,hi] -> [0,255];
 * lo == hi means per-image min-max (for band-pass images). */
typedef struct {
    int nrow_items; /* images per row (0: ceil(sqrt(n))) */
    int pad;        /* pixels between images */
    uint8_t pad_value;
    float lo, hi;
    int scale;      /* integer nearest-neighbour enlargement (0/1: none) */
} lg_grid_opts;
lg_status lg_grid_make(lg_image **out, const float *x, int n, int c, int h, int w,
                       const lg_grid_opts *opts);
/* The longest side a grid may have, so every sheet stays a PNG that
 * common viewers (and 16-bit image sizes) handle. */
#define LG_GRID_MAX_SIDE 65535
/* How many h x w images a grid with cols per row holds (0: a row is
 * already too wide), so callers can refuse a count up front. */
long lg_grid_max_items(const lg_grid_opts *opts, int h, int w, int cols);

/* ---- atomic files ------------------------------------------------------ */

typedef struct lg_atomic_file lg_atomic_file;
/* Opens "<path>.tmp.<pid>" for writing. */
lg_status lg_atomic_open(lg_atomic_file **out, const char *path);
lg_status lg_atomic_write(lg_atomic_file *f, const void *buf, size_t len);
/* fsync, rename over path, fsync the directory. Frees f either way. */
lg_status lg_atomic_commit(lg_atomic_file *f);
/* Removes the temporary file. Frees f. Accepts NULL. */
void lg_atomic_abort(lg_atomic_file *f);
/* Whole-buffer convenience. */
lg_status lg_atomic_write_file(const char *path, const void *buf, size_t len);

/* ---- user-named outputs ------------------------------------------------ */

/* Every file a user names (sample -o/--chain, pyramid -o, eval nn -o,
 * report, study report, classifier --out) is written this way. A target
 * that exists and is not a regular file (symlink, FIFO, device, directory),
 * that is a run directory's own file (level_<k>.safetensors, its log or
 * lock), or whose directory is missing is refused with one line naming it.
 * lg_output_check says so before any work starts. */
lg_status lg_output_check(const char *path);
/* A command's outputs: each is written whole to a temp file beside its
 * target when added; none replaces its target until commit, and free
 * removes whatever was not committed, so a failing command leaves nothing
 * (the -o grid is not left behind when --chain fails). */
typedef struct lg_outputs lg_outputs;
lg_status lg_outputs_new(lg_outputs **out);
lg_status lg_outputs_add(lg_outputs *o, const char *path, const void *buf, size_t len);
lg_status lg_outputs_add_png(lg_outputs *o, const char *path, const lg_image *im);
/* Renames every temp file over its target, in the order added. */
lg_status lg_outputs_commit(lg_outputs *o);
void lg_outputs_free(lg_outputs *o); /* accepts NULL */
/* One output: add and commit. */
lg_status lg_output_write_file(const char *path, const void *buf, size_t len);
lg_status lg_output_png(const char *path, const lg_image *im);

/* ---- safetensors ------------------------------------------------------- */

/* F32 tensors only are written; the reader accepts F32 and rejects others
 * with a clear message. Metadata is a flat string->string map, stored in the
 * header's "__metadata__". */
#define LG_ST_MAX_DIMS 8

typedef struct {
    char *name;
    int ndim;
    int64_t shape[LG_ST_MAX_DIMS];
    const float *data; /* points into the file's buffer (read) or caller's (write) */
    size_t numel;
} lg_st_tensor;

typedef struct lg_safetensors lg_safetensors;

/* Reads and validates a whole file: header length within the file, JSON
 * well-formed, every offset range inside the data area and matching the
 * dtype and shape, no overlaps, no overflow. */
lg_status lg_st_read(lg_safetensors **out, const char *path);
lg_status lg_st_parse(lg_safetensors **out, const void *bytes, size_t len, const char *name);
void lg_st_free(lg_safetensors *st);
int lg_st_count(const lg_safetensors *st);
const lg_st_tensor *lg_st_at(const lg_safetensors *st, int i);
/* NULL (with message naming the file and tensor) when absent. */
const lg_st_tensor *lg_st_find(const lg_safetensors *st, const char *name);
/* NULL when absent (no error). */
const char *lg_st_meta(const lg_safetensors *st, const char *key);
int lg_st_meta_count(const lg_safetensors *st);
void lg_st_meta_at(const lg_safetensors *st, int i, const char **key, const char **value);

/* Writer: collect tensors and metadata, then write atomically. The data
 * pointers must stay valid until lg_st_writer_write returns. */
typedef struct lg_st_writer lg_st_writer;
lg_status lg_st_writer_new(lg_st_writer **out);
void lg_st_writer_free(lg_st_writer *w);
lg_status lg_st_writer_add(lg_st_writer *w, const char *name, const float *data, int ndim,
                           const int64_t *shape);
lg_status lg_st_writer_meta(lg_st_writer *w, const char *key, const char *value);
lg_status lg_st_writer_write(lg_st_writer *w, const char *path);

#ifdef __cplusplus
}
#endif
#endif
