/* Internal helpers shared by the data set loaders. */
#ifndef LG_DATA_DATASET_H
#define LG_DATA_DATASET_H
#include "lapgan/data.h"

/* A data set of n images [c,h,w] with zeroed pixels and labels all -1. */
lg_status lg_ds_alloc(lg_dataset **out, int n, int c, int h, int w, const char *source);
/* Copies nclasses names (names may be NULL for "0", "1", ...). */
lg_status lg_ds_set_classes(lg_dataset *ds, int nclasses, const char *const *names);
/* The first class in 0..nclasses-1 without an image, or -1 when every
 * class has some: a class with none would be a class-conditional model's
 * class that is never trained (callers name the file or folder). */
int lg_ds_empty_class(const lg_dataset *ds);
#endif
