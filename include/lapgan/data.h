/* lapgan data: data sets of 8-bit pixels, held in memory or streamed
 * (decoded on demand from their files), and a seeded, shuffled minibatch
 * iterator that yields float images in [-1, 1].
 *
 * Loaders: IDX (MNIST / Fashion-MNIST, gzip or raw), CIFAR-10 and STL-10
 * binary files, NumPy .npy/.npz arrays, StyleGAN2-ADA dataset zips, folders
 * of PNG/JPEG images. Each is a hostile-input parser: every size is
 * checked and an error names the file and the problem.
 */
#ifndef LAPGAN_DATA_H
#define LAPGAN_DATA_H

#include "lapgan/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LG_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"
#define LG_MAX_CLASSES 1000

typedef struct lg_stream lg_stream; /* a streamed set's reader (src/data/stream.c) */

typedef struct {
    int n, c, h, w;
    uint8_t *pixels;     /* [n, c, h, w], owned; NULL for a streamed set */
    int *labels;         /* [n], -1 when unlabelled, owned (in memory for both kinds) */
    int nclasses;        /* 0 when unlabelled */
    char **class_names;  /* [nclasses] or NULL, owned */
    char source[256];    /* where it came from, for logs and checkpoints */
    lg_stream *stream;   /* streamed: the reader, shared with splits of it; else NULL */
    int first;           /* streamed: the reader's index of image 0 */
} lg_dataset;

void lg_dataset_free(lg_dataset *ds); /* accepts NULL */

/* The one way to read pixels: image i ([c, h, w] bytes) of either kind.
 * *px points into ds->pixels for a set in memory; a streamed image is
 * decoded into buf (lg_dataset_image_bytes(ds) bytes, the caller's) and
 * *px = buf. Several threads may read one data set at once. A bad image
 * of a streamed set fails here, naming its file and entry. */
lg_status lg_dataset_image(const lg_dataset *ds, int i, uint8_t *buf, const uint8_t **px);
size_t lg_dataset_image_bytes(const lg_dataset *ds);
/* Images first .. first+count-1 copied contiguously into dst. */
lg_status lg_dataset_images(const lg_dataset *ds, int first, int count, uint8_t *dst);
/* Whether ds is decoded on demand (LSUN's LMDB, dataset zips, .npy):
 * its memory is its labels and index, not its pixels. */
int lg_dataset_streamed(const lg_dataset *ds);

/* IDX image file (+ optional IDX label file); gzip detected by magic. */
lg_status lg_dataset_load_idx(lg_dataset **out, const char *images, const char *labels);
/* Fashion-MNIST from dir (NULL: LG_FASHION_MNIST_DIR); train or t10k files. */
lg_status lg_dataset_load_fashion(lg_dataset **out, const char *dir, int train);
/* CIFAR-10 binary: train = data_batch_1..5.bin (those present, at least one),
 * else test_batch.bin; class names from batches.meta.txt when present. */
lg_status lg_dataset_load_cifar10(lg_dataset **out, const char *dir, int train);
/* Folder of PNG/JPEG files; subfolders are classes when labelled != 0.
 * Images are resized (shorter side to size) and centre-cropped to size x
 * size, converted to c channels (1 grey or 3 RGB). */
lg_status lg_dataset_load_folder(lg_dataset **out, const char *dir, int c, int size, int labelled);
/* STL-10 binary (stl10_binary/): <split>_X.bin (96x96x3, column-major
 * planes) and <split>_y.bin (labels 1..10, stored as 0..9; none for the
 * unlabeled split); class names from class_names.txt when present. */
typedef enum { LG_STL10_TRAIN = 0, LG_STL10_TEST, LG_STL10_UNLABELED } lg_stl10_split;
lg_status lg_dataset_load_stl10(lg_dataset **out, const char *dir, lg_stl10_split split);
/* NumPy uint8 images, (N,H,W), (N,H,W,C) or (N,C,H,W) with C 1 or 3 (the
 * channel axis: whichever of axes 1 and 3 is 1 or 3; both or neither is
 * refused), and optional 1-d integer labels 0..K-1. An .npz holds arrays
 * x and y, or else its first two arrays are images and labels. */
lg_status lg_dataset_load_npy(lg_dataset **out, const char *images, const char *labels);
lg_status lg_dataset_load_npz(lg_dataset **out, const char *path);
/* A StyleGAN2-ADA dataset zip: PNG/JPEG entries in sorted name order,
 * labels from dataset.json when it has them; images fitted as a folder's
 * (size 0: the first image's shorter side). Streamed: opening checks every
 * entry's name and sizes and decodes the first; the others when read. */
lg_status lg_dataset_load_zip(lg_dataset **out, const char *path, int c, int size);

/* LSUN's LMDB environments (src/data/lsun.c), comma-separated, one class
 * each (named after the directory, "_lmdb" dropped): values are JPEG, WebP
 * or PNG images, read in key order and fitted as a folder's (size 0: 64).
 * Streamed: opening indexes the keys; each image is decoded when read. */
lg_status lg_dataset_load_lsun(lg_dataset **out, const char *paths, int c, int size);

/* "fashion[:DIR]", "fashion-test[:DIR]", "cifar10:DIR", "cifar10-test:DIR",
 * "stl10:DIR", "stl10-test:DIR", "stl10-unlabeled:DIR", "idx:IMAGES[,LABELS]",
 * "npy:IMAGES.npy[,LABELS.npy]", "npz:FILE.npz", "zip:FILE.zip", "folder:DIR",
 * "lsun:DIR[,DIR...]" (c and size used for folders, zips and LSUN). */
lg_status lg_dataset_open(lg_dataset **out, const char *spec, int c, int size);
/* Whether spec's kind (before the first ':') is one lg_dataset_open reads. */
int lg_dataset_spec_known(const char *spec);

/* A data set copied from the caller's memory (src/data/memory.c), e.g. a
 * numpy array: n images of c x h x w, laid out NCHW or NHWC, as 8-bit
 * pixels or floats in [0, 1] (rounded to the nearest of 256 levels, what
 * every loader stores). labels: n classes in [0, nclasses), or NULL with
 * nclasses 0 for an unlabelled set. source names it in messages and
 * checkpoints (NULL: "memory"). The caller keeps its buffers. */
typedef enum { LG_DTYPE_U8 = 0, LG_DTYPE_F32 } lg_dtype;
typedef enum { LG_LAYOUT_NCHW = 0, LG_LAYOUT_NHWC } lg_layout;
lg_status lg_dataset_from_memory(lg_dataset **out, const void *pixels, lg_dtype dtype,
                                 lg_layout layout, int n, int c, int h, int w,
                                 const int *labels, int nclasses, const char *source);

/* The held-out validation split (src/data/split.c). The default size for
 * a training set of n images: 5,000 (CIFAR-10's, as the authors' code), or
 * 10% of n where that is smaller. */
#define LG_VAL_DEFAULT_MAX 5000
int lg_dataset_default_val(int n);
/* Moves the last nval images of ds (1 <= nval < ds->n) into a new data set
 * *val (same classes); ds keeps the first ds->n - nval. */
lg_status lg_dataset_split_tail(lg_dataset *ds, int nval, lg_dataset **val);

/* Seeded, shuffled minibatches; reshuffled every epoch. With crop > 0 each
 * image is a random crop x crop window (the paper's CIFAR 28x28 crops).
 * The iterator's state is (seed, epoch, cursor), so a resume continues
 * the same sequence. */
typedef struct lg_batcher lg_batcher;
lg_status lg_batcher_new(lg_batcher **out, const lg_dataset *ds, int batch, int crop,
                         uint64_t seed);
void lg_batcher_free(lg_batcher *b);
/* Augmentation drawn from the crop's Philox counter (so a resumed state
 * draws the same): with flip each image is mirrored left-right with
 * probability 1/2; with shift > 0 it is translated by a uniform dy, dx in
 * [-shift, shift], the uncovered border 0 (mid-grey). Off (0, 0) by
 * default. */
lg_status lg_batcher_set_augment(lg_batcher *b, int flip, int shift);
/* x: [batch, c, h', w'] floats in [-1,1] (h' = crop or h); labels may be NULL. */
lg_status lg_batcher_next(lg_batcher *b, float *x, int *labels);
void lg_batcher_get_state(const lg_batcher *b, uint64_t *epoch, uint64_t *cursor);
lg_status lg_batcher_set_state(lg_batcher *b, uint64_t epoch, uint64_t cursor);
/* The (fractional) passes over the data set drawn so far, whole batches
 * counted; the training schedule's epoch counts the real half only
 * (lg_train_epoch). */
double lg_batcher_epoch(const lg_batcher *b);

#ifdef __cplusplus
}
#endif
#endif
