/* Internal helpers shared by the data set loaders. */
#ifndef LG_DATA_DATASET_H
#define LG_DATA_DATASET_H
#include "lapgan/data.h"

/* A data set of n images [c,h,w] with zeroed pixels and labels all -1. */
lg_status lg_ds_alloc(lg_dataset **out, int n, int c, int h, int w, const char *source);
/* Streamed data sets (src/data/stream.c). read(ctx, i, dst) decodes image
 * i of the reader into dst ([c, h, w] bytes) and must be safe to call from
 * several threads at once; close(ctx) frees ctx. */
typedef struct {
    lg_status (*read)(void *ctx, int i, uint8_t *dst);
    void (*close)(void *ctx);
} lg_stream_ops;
/* A streamed data set of n images, labels all -1, reading through ops; it
 * owns ctx from this call on (closing it when the call fails). */
lg_status lg_ds_alloc_streamed(lg_dataset **out, int n, int c, int h, int w,
                               const char *source, const lg_stream_ops *ops, void *ctx);
/* A streamed data set of images first .. first+n-1 of ds on ds's reader,
 * labels copied (class names are the caller's to set). */
lg_status lg_ds_view(lg_dataset **out, const lg_dataset *ds, int first, int n,
                     const char *source);
void lg_stream_release(lg_stream *s); /* drops one data set's hold; the last closes */

/* Copies nclasses names (names may be NULL for "0", "1", ...). */
lg_status lg_ds_set_classes(lg_dataset *ds, int nclasses, const char *const *names);
/* Ten class names, one per non-blank line of the text file at path
 * (CIFAR-10's batches.meta.txt, STL-10's class_names.txt); `defaults` when
 * the file cannot be read; an error naming it when it holds another count. */
lg_status lg_ds_read_class_names(lg_dataset *ds, const char *path, const char *const *defaults);
/* The first class in 0..nclasses-1 without an image, or -1 when every
 * class has some: a class with none would be a class-conditional model's
 * class that is never trained (callers name the file or folder). */
int lg_ds_empty_class(const lg_dataset *ds);

/* Zip archives (src/data/zip.c): opening checks every entry's name (no
 * absolute path, no "..") and method (stored or deflated, unencrypted). */
typedef struct lg_zip lg_zip;
lg_status lg_zip_open(lg_zip **out, const char *path);
void lg_zip_close(lg_zip *z); /* accepts NULL */
int lg_zip_count(const lg_zip *z);
const char *lg_zip_name(const lg_zip *z, int i);
const char *lg_zip_path(const lg_zip *z);
/* Entry i whole into *out (free with lg_free); refused when it declares
 * more than max bytes, or more than its compressed bytes can expand to. */
lg_status lg_zip_read(lg_zip *z, int i, size_t max, unsigned char **out, size_t *len);
/* The check lg_zip_read makes of entry i's declared sizes, without reading it. */
lg_status lg_zip_check_size(lg_zip *z, int i, size_t max);
/* Stored entry i, read piecewise at any offset (thread-safe; the archive
 * stays open meanwhile and is read by nothing else). LG_ERR_UNSUPPORTED
 * for a compressed entry. */
typedef struct lg_zip_entry lg_zip_entry;
int lg_zip_stored(lg_zip *z, int i);
lg_status lg_zip_entry_open(lg_zip *z, int i, lg_zip_entry **out, uint64_t *size);
lg_status lg_zip_entry_pread(lg_zip_entry *e, uint64_t at, void *buf, size_t len);
void lg_zip_entry_close(lg_zip_entry *e); /* accepts NULL */

/* .npy bytes (src/data/npy.c): images into a new data set, or labels onto
 * ds; name labels messages. */
lg_status lg_npy_images(lg_dataset **out, const void *bytes, size_t len, const char *name,
                        const char *source);
lg_status lg_npy_set_labels(lg_dataset *ds, const void *bytes, size_t len, const char *name);
#endif
