/* Internals shared by level.c, checkpoint.c, model.c and train.c. */
#ifndef LG_GAN_LEVEL_INTERNAL_H
#define LG_GAN_LEVEL_INTERNAL_H
#include "dist/dist.h"
#include "lapgan/gan.h"

/* A trainable piece: a network and its optimiser. */
typedef struct {
    lg_net *net;
    lg_optim *opt;
    const char *name; /* "G", "D", "GL" (G's label plane), "DL" */
} lg_part;

enum { LG_PART_G, LG_PART_D, LG_PART_GL, LG_PART_DL, LG_PART_COUNT };

struct lg_level {
    lg_model_desc m;
    int k, K, c, s, sc; /* level, coarsest level, channels, size, coarse size (0 at K) */
    int fc, ncls, max_batch;
    int zsize;          /* noise floats per sample */
    int gin_c, din_c;   /* G / D input channels (features for FC levels) */
    size_t img;         /* c*s*s */
    lg_part part[LG_PART_COUNT]; /* GL/DL only for class-conditional conv levels */
    const struct lg_backend *be; /* the nets' table: the step's loss and concatenations too */
    lg_rng noise;       /* z draws */
    int64_t step;
    /* Buffers for max_batch samples, allocated once. */
    float *chain[LG_PYR_MAX_LEVELS]; /* chain[j], 1 <= j <= k+1: d^j(images) */
    float *up;      /* l = u(I_{k+1}) */
    float *h;       /* G's output h~ */
    float *x;       /* D's image input h + l */
    float *z, *onehot, *zl; /* noise, labels, [z, l] before the label plane */
    float *gin, *dgin, *din, *ddin, *dh, *dplane;
    float *targets, *dlogits;
    /* Every gradient in one flat array, one region per update so that each
     * is one all-reduce: [D | DL | D stats] then [G | GL | G stats], each
     * net's part starting on 64 bytes. The stats are this process's share
     * of the losses and counts, summed with the gradients. */
    float *grads;
    size_t d_len, g_off, g_len;
    float *d_stats; /* D loss share, real judged real, fake judged fake */
    float *g_stats; /* G loss share, stop votes */
    /* Data parallel (lg_level_share): rank `rank` of the `nranks` in comm
     * takes the same slice of the real half and of the generated half of
     * every batch. rows[i] is local row i's place in the whole batch, which
     * keys its noise and dropout draws. */
    lg_dist_comm *comm;
    int rank, nranks;
    uint64_t *rows;
    float *xin;         /* this rank's images of the batch (nranks > 1) */
    int *yin;           /* and labels */
    const float *cur_x; /* the last step's images (local rows) */
    const int *cur_y;   /* and labels (NULL when unlabelled) */
    int nloc;           /* and how many */
    const volatile int *stop; /* read in each step's G update and summed over the group */
    int stop_vote;      /* the last step's verdict: some member wants to stop */
};

/* Makes lv train its share of each batch with the other ranks of comm
 * (NULL: alone), stopping when any of them sees *stop (may be NULL). */
lg_status lg_level_share(lg_level *lv, lg_dist_comm *comm, const volatile int *stop);

/* The checks lg_level_save makes before writing (weights, buffers and
 * optimiser state finite), for ranks that hold a copy but do not write. */
lg_status lg_level_check_finite(const lg_level *lv, const char *path);

/* A model over levels the caller keeps (the trainer's); lg_model_free
 * leaves them alone. */
lg_status lg_model_wrap(lg_model **out, const lg_model_desc *d, lg_level *const *levels);

/* Path of level k's checkpoint in a run directory. */
void lg_level_path(char *buf, size_t n, const char *run_dir, int k);

/* Bytes the level's nets hold for max_batch samples' activations. */
size_t lg_level_activation_bytes(const lg_level *lv);

/* Sizes along the downsampling chain (levels 0..K). */
static inline int lg_level_size(const lg_level *lv, int j) { return lv->m.level[j].size; }
#endif
