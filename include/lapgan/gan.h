/* lapgan gan: model descriptions (presets), one level's G/D pair and its
 * training step, the coarse-to-fine sampler, checkpoints and the trainer.
 *
 * Level 0 is the finest; level K = levels-1 is the coarsest.
 *   K:      G_K(z_K) -> I_K (fully connected, a plain GAN)
 *   k < K:  G_k(z_k, l_k) -> h_k with l_k = u(I_{k+1}) (a conditional GAN)
 *           D_k sees h_k + l_k (the image at this level), never h_k alone.
 * Sampling: I_K = G_K(z_K); I_k = u(I_{k+1}) + G_k(z_k, u(I_{k+1})).
 * Levels share nothing: each has its own networks, optimisers, RNG streams,
 * data iterator and checkpoint file, so they can train in separate threads,
 * processes or machines.
 */
#ifndef LAPGAN_GAN_H
#define LAPGAN_GAN_H

#include "lapgan/core.h"
#include "lapgan/data.h"
#include "lapgan/nn.h"
#include "lapgan/pyramid.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LG_MAX_WIDTHS 6

/* One level of the pyramid: what its G and D look like. */
/* How a conv level's nets are laid out. PLAIN: G = hidden "same" convs
 * (g_kernel) [+BN] + ReLU [+dropout], then a g_out_kernel conv to the
 * image's planes; D = hidden convs (d_kernel) + ReLU, dropout, one linear
 * logit. LSUN_LARGE: the authors' LSUN model (eyescream lsun/model.lua,
 * "large"; docs/presets.md) on 4 G and 3 D widths: G kernels 7,7,7,5 with
 * 1,4,4,2 groups, ReLU then non-affine BN after every layer, spatial
 * dropout (g_dropout) after hidden layers 2 and 4, L2 pooling of map pairs
 * after layer 3, a g_out_kernel conv to the planes and a non-affine BN of
 * the output; D kernels 3,5,7 with 1,4,16 groups, unpadded, ReLU. */
typedef enum { LG_ARCH_PLAIN = 0, LG_ARCH_LSUN_LARGE, LG_ARCH_COUNT } lg_level_arch;
const char *lg_level_arch_name(lg_level_arch a); /* "plain", "lsun_large" */

typedef struct {
    int size;                       /* this level's image size (square) */
    int fc;                         /* fully connected nets (coarsest level) */
    int zdim;                       /* noise: FC vector length, or conv planes */
    int g_nw, g_width[LG_MAX_WIDTHS]; /* G hidden widths (units or maps) */
    int d_nw, d_width[LG_MAX_WIDTHS]; /* D hidden widths */
    int g_kernel, g_out_kernel;     /* conv G: hidden and output kernel */
    int d_kernel;                   /* conv D kernel */
    int d_last_stride;              /* conv D: stride of its last hidden conv */
    float g_dropout, d_dropout;     /* after hidden layers (0: none) */
    int g_bn, d_bn;                 /* batch norm after hidden layers */
    lg_level_arch arch;             /* conv levels: the nets' layout */
} lg_level_desc;

/* A whole model: readable data, stored in every checkpoint. */
typedef struct {
    char name[32];                  /* preset it came from */
    int c;                          /* image channels */
    int levels;                     /* K + 1 */
    lg_level_desc level[LG_PYR_MAX_LEVELS]; /* [0] finest */
    lg_pyr_filter filter;
    int crop;                       /* random training crop (0: none) */
    int flip;                       /* random left-right mirror of training images (0: none) */
    int nclasses;                   /* > 0: class-conditional (CC-LAPGAN) */
    int leaky_d;                    /* LeakyReLU(0.2) in D instead of ReLU */
    float noise_lo, noise_hi;       /* z ~ U[lo, hi] */
    lg_optim_cfg opt;               /* same recipe for G and D, separate states */
    lg_init_kind init;
    float init_std;
    float d_init_scale;             /* D's normal-init std = init_std x this (G: init_std) */
    int batch;                      /* default minibatch (half real, half generated in D) */
} lg_model_desc;

/* Presets: "fashion", "cifar10", "stl10", "lsun64", "mnist"; see
 * lg_preset_names(). Fails with a message listing the valid names. */
lg_status lg_preset(const char *name, lg_model_desc *out);
const char *lg_preset_names(void);
/* The DCGAN recipe on top of a preset (the paper's future work): Adam
 * lr 2e-4, beta1 0.5, batch norm in G and D hidden layers, LeakyReLU(0.2)
 * in D, N(0, 0.02) initialisation. */
void lg_model_desc_dcgan(lg_model_desc *m);
/* The initialisation of the authors' CIFAR-10 script (eyescream
 * train_cifar.lua): weights N(0, 0.05^2) in G, N(0, 0.005^2) in D, biases 0.
 * With the paper's SGD it keeps the fully connected level from collapsing
 * (docs/presets.md). */
void lg_model_desc_authors_init(lg_model_desc *m);
/* Only the DCGAN optimiser (Adam lr 2e-4, beta1 0.5), the nets unchanged. */
void lg_model_desc_adam(lg_model_desc *m);
/* Class conditioning with nclasses labels (0 turns it off). */
void lg_model_desc_class_conditional(lg_model_desc *m, int nclasses);
/* Checks that sizes decrease, nets fit their inputs, numbers are sane. */
lg_status lg_model_desc_validate(const lg_model_desc *m);
/* JSON round trip (for checkpoints), from the one table of keys in
 * src/gan/model_json.c (docs/model-format.md): writes the current format,
 * reads it and every older one; unknown, duplicate or missing keys and bad
 * values are LG_ERR_FORMAT naming `source`, the key and what is allowed.
 * *json is malloc'd; free() it. */
lg_status lg_model_desc_to_json(const lg_model_desc *m, char **json);
lg_status lg_model_desc_from_json(lg_model_desc *m, const char *json, const char *source);
/* Reads a JSON model description file (as `lapgan train --print-json`
 * writes), so users can change widths, dropout or levels without code. */
lg_status lg_model_desc_load(lg_model_desc *m, const char *path);
/* A human-readable table of levels, nets and recipe (malloc'd). */
char *lg_model_desc_describe(const lg_model_desc *m);

/* ---- one level -------------------------------------------------------- */

typedef struct lg_level lg_level;

typedef struct {
    float d_loss, g_loss;       /* BCE, mean over the batch */
    float d_real_acc, d_fake_acc; /* share of real judged real / fake judged fake */
} lg_level_stats;

/* Builds level k's networks for minibatches of up to max_batch. The seed and
 * k pick independent RNG streams for init, dropout and noise. */
lg_status lg_level_new(lg_level **out, const lg_model_desc *m, int k, int max_batch,
                       uint64_t seed, lg_backend_kind backend);
void lg_level_free(lg_level *lv);
int lg_level_index(const lg_level *lv);
int64_t lg_level_step_count(const lg_level *lv);

/* One training step on a batch of full-size images [batch, c, s0, s0]
 * (labels may be NULL unless class-conditional): D on half real / half
 * generated coefficients, then G to fool D with fresh noise for every
 * coarse image (and label) of the same batch (docs/presets.md). */
lg_status lg_level_train_step(lg_level *lv, const float *images, const int *labels, int batch,
                              double epoch, lg_level_stats *stats);

/* Generates this level's image I_k for n samples: coarse is I_{k+1}
 * [n, c, s_{k+1}, s_{k+1}] (ignored at level K); labels may be NULL. Writes
 * up (u(I_{k+1})) and h (h_k) when not NULL; out = up + h. eval mode. */
lg_status lg_level_generate(lg_level *lv, const float *coarse, const int *labels, int n,
                            lg_rng *noise, float *up, float *h, float *out);

/* ---- checkpoints ------------------------------------------------------ */

/* Everything a bit-identical resume needs: weights, batch-norm buffers,
 * optimiser state, RNG states, step, the data iterator's state and the
 * model description, in one safetensors file written atomically. */
typedef struct {
    uint64_t data_epoch, data_cursor; /* the level's lg_batcher state */
    uint64_t seed;
    char data_source[256];
    /* The run's held-out validation split: the last val_images images of
     * the data set, never trained on (0: none; -1: a checkpoint written
     * before splits were recorded). */
    int64_t val_images;
    /* Best-model selection (has_best != 0): the best validation criterion
     * so far and the step it was reached at; see lg_level_val. */
    int has_best;
    double best_value;
    int64_t best_step;
} lg_level_extra;

lg_status lg_level_save(const lg_level *lv, const lg_level_extra *extra, const char *path);
/* Loads into a level built from the same description; a file from a
 * different model is refused with a message naming what differs. */
lg_status lg_level_load(lg_level *lv, lg_level_extra *extra, const char *path);
/* Reads only the model description and level index of a checkpoint. */
lg_status lg_checkpoint_peek(const char *path, lg_model_desc *m, int *level, int64_t *step);

/* ---- validation (src/gan/validate.c) ------------------------------------- */

/* A level's validation criterion (best-model selection, as the paper keeps
 * the model with the best Parzen estimate on a validation set). For each
 * validation image, `samples` draws of I_k from its own coarse image
 * u(I_{k+1}) (and its label) at level k < K, or `samples` unconditional
 * draws per class at level K; an isotropic Gaussian Parzen window on those
 * draws scores the image's true I_k. Pixels in [0, 1], nats per image at
 * this level's size; sigma is the grid value with the best mean. min_dist
 * is the authors' approxParzen (eyescream): the mean over images of the
 * smallest L2 distance from a draw to the true I_k. Fixed noise (seed),
 * so checkpoints are compared on the same draws. */
typedef struct {
    double parzen;   /* mean log-likelihood, higher is better (the criterion) */
    double sigma;    /* its bandwidth */
    double min_dist; /* approxParzen, lower is better */
    int images, samples;
    double seconds;
} lg_level_val;

/* images: [n, c, s0, s0] in [-1, 1] (the finest size), labels may be NULL
 * unless class-conditional. */
lg_status lg_level_validate(lg_level *lv, const float *images, const int *labels, int n,
                            int samples, uint64_t seed, lg_level_val *out);
/* The validation split recorded in a checkpoint: *nval images (0: none,
 * -1: not recorded, an older checkpoint). */
lg_status lg_checkpoint_val_split(const char *path, int64_t *nval);

/* ---- the whole model -------------------------------------------------- */

typedef struct lg_model lg_model;

/* Loads every level_<k>.safetensors from a run directory. */
lg_status lg_model_load(lg_model **out, const char *run_dir, lg_backend_kind backend);
void lg_model_free(lg_model *m);
const lg_model_desc *lg_model_desc_of(const lg_model *m);

/* Draws n images coarse to fine: out [n, c, s0, s0]. labels (n, may be NULL
 * for unconditional models; required for class-conditional ones). When chain
 * is not NULL it receives, per level k, I_k (chain->img[k]), and for k < K
 * u(I_{k+1}) and h_k; buffers are owned by the model, valid until the next
 * call. Deterministic: same seed, same bytes. */
typedef struct {
    const float *img[LG_PYR_MAX_LEVELS];
    const float *up[LG_PYR_MAX_LEVELS];
    const float *h[LG_PYR_MAX_LEVELS];
} lg_chain;
lg_status lg_model_sample(lg_model *m, int n, uint64_t seed, const int *labels, float *out,
                          lg_chain *chain);
/* The finer levels only, from given coarsest images I_K [n, c, s_K, s_K]
 * (e.g. of real images: the paper's variability figure); out as above. */
lg_status lg_model_sample_from(lg_model *m, int n, uint64_t seed, const int *labels,
                               const float *coarse, float *out);
/* The noise lg_model_sample(m, n, seed, ...) feeds level k's G: z [n,
 * zdim] at the fully connected level, [n, zdim, s_k, s_k] at conv levels
 * (*len floats, also returned when z is NULL), so an exported copy of the
 * model (lapgan/export.h) can be checked against lapgan's own samples. */
lg_status lg_model_noise(const lg_model *m, int n, uint64_t seed, int k, float *z, size_t *len);

/* ---- training --------------------------------------------------------- */

typedef struct {
    int level;
    int64_t step, total;
    double img_per_s;   /* through this level's steps */
    double eta_s;       /* wall-clock seconds left for this level */
    double epoch;
    lg_level_stats stats;
} lg_progress;

typedef struct {
    const char *run_dir;      /* checkpoints, log.jsonl and sample grids */
    unsigned levels_mask;     /* bit k set: train level k (0: all) */
    int64_t steps;            /* steps per level */
    int batch;                /* 0: the description's */
    uint64_t seed;
    int ckpt_every;           /* steps between checkpoints (0: only at the end; a new
                               * level also writes one at its start, step 0) */
    int sample_every;         /* steps between sample grids (0: only at the end) */
    int log_every;            /* steps between log lines and progress calls */
    int resume;               /* continue from the run dir's checkpoints */
    lg_backend_kind backend;
    void (*progress)(void *ud, const lg_progress *p);
    void *progress_ud;
    /* Polled between steps; when it becomes non-zero the trainer writes a
     * checkpoint and returns LG_ERR_INTERRUPTED. */
    volatile int *stop;
    /* Replace the run the directory holds: remove lapgan's files of it
     * first (saying which through notice). Without force or resume, a
     * directory holding any of the levels to train, or another run, is
     * refused. */
    int force;
    /* The data as the user named it (e.g. "fashion"), recorded in run.json
     * so a resume can reopen it (NULL: ds->source). */
    const char *data_spec;
    /* Called (with progress_ud) with one-line notices: what force removes,
     * a resume with another thread count (no longer bit-identical). */
    void (*notice)(void *ud, const char *msg);
    /* Called (with progress_ud) when a level stops on a numeric fault: NaN
     * or Inf in a loss, or in the weights about to be checkpointed. That
     * level's last good checkpoint is kept (never overwritten), the other
     * levels go on and are saved, and lg_train then returns LG_ERR_NUMERIC.
     * msg is one line naming the level, the step and how to resume. */
    void (*level_stopped)(void *ud, int level, int64_t step, const char *msg);
    /* The held-out validation split (lg_dataset_split_tail; NULL: none):
     * every val_every steps (0: never) and each level
     * scores it with lg_level_validate (val_images images of it, at most,
     * val_samples samples each) and keeps the best weights in
     * run_dir/best/level_<k>.safetensors. */
    const lg_dataset *val;
    int64_t val_every;
    int val_images, val_samples;
    /* Called (with progress_ud) after each validation check; best != 0
     * when it set a new best (and wrote best/level_<k>.safetensors). */
    void (*validated)(void *ud, int level, int64_t step, const lg_level_val *v, int best);
} lg_train_cfg;

/* Steps in one epoch as the authors count it: one pass over the n training
 * images by the real half of each minibatch, ceil(n / (batch / 2)) steps
 * (704 for 45,000 CIFAR images at batch 128). The lr and momentum schedule
 * moves on after each such epoch, and --epochs counts them. */
int64_t lg_train_steps_per_epoch(int64_t n, int batch);
/* The (fractional) epoch after `step` steps: step / lg_train_steps_per_epoch. */
double lg_train_epoch(int64_t step, int64_t n, int batch);

/* ---- run directories -------------------------------------------------- */

/* What a run directory holds: its run.json, written when the run starts
 * (src/gan/rundir.c). A resume must keep model, data source, seed and
 * precision; lg_train refuses one that does not. */
typedef struct {
    lg_model_desc model;
    char data[512];        /* the data as the user named it, to reopen it */
    char data_source[256]; /* lg_dataset.source of it */
    uint64_t seed;
    int threads;           /* threads it started with (-1: not recorded) */
    char precision[8];     /* "fp32" */
} lg_run_info;

/* Reads run_dir/run.json; for a directory from before run.json, what its
 * first level checkpoint holds (data "" and threads -1). Refuses a
 * directory that holds no run, naming it. */
lg_status lg_run_info_read(lg_run_info *info, const char *run_dir);

/* Trains. Started as several processes (`mpirun -np N lapgan train`, an
 * MPI build), each process trains the levels lg_train_plan gives its rank. */
lg_status lg_train(const lg_model_desc *m, const lg_dataset *ds, const lg_train_cfg *cfg);

/* How nranks processes share the levels in mask (0: all) at this batch:
 * level k is trained by ranks first[k] .. first[k] + count[k] - 1 (count 0:
 * not trained). A level's cost is its G and D multiply-adds per step.
 * nranks <= levels: one rank per level, the most expensive level first, each
 * to the rank with the least cost so far. nranks > levels: one rank per
 * level, then each further rank to the level with the most cost per rank
 * (consecutive ranks, finest level first); the ranks of a level split each
 * batch and sum gradients, so no level may have more than batch/2. */
lg_status lg_train_plan(const lg_model_desc *m, unsigned mask, int nranks, int batch,
                        int first[LG_PYR_MAX_LEVELS], int count[LG_PYR_MAX_LEVELS]);

#ifdef __cplusplus
}
#endif
#endif
