/* Internal helpers shared by the data set loaders. */
#ifndef LG_DATA_DATASET_H
#define LG_DATA_DATASET_H
#include "lapgan/data.h"

/* A data set of n images [c,h,w] with zeroed pixels and labels all -1. */
lg_status lg_ds_alloc(lg_dataset **out, int n, int c, int h, int w, const char *source);
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

/* .npy bytes (src/data/npy.c): images into a new data set, or labels onto
 * ds; name labels messages. */
lg_status lg_npy_images(lg_dataset **out, const void *bytes, size_t len, const char *name,
                        const char *source);
lg_status lg_npy_set_labels(lg_dataset *ds, const void *bytes, size_t len, const char *name);
#endif
