/* Run directories (rundir.c): what a run is (run.json), who writes which
 * level (a lock file per level), and the checks before training into one. */
#ifndef LG_GAN_RUNDIR_H
#define LG_GAN_RUNDIR_H
#include "lapgan/gan.h"

/* The level locks this process holds in one run directory. */
typedef struct lg_rundir lg_rundir;

lg_status lg_rundir_new(lg_rundir **out, const char *dir);
/* Releases every lock (the OS does the same when the process dies). */
void lg_rundir_free(lg_rundir *r);

/* Takes level k's lock (DIR/level_<k>.lock, an fcntl write lock) or
 * refuses naming the process that holds it. */
lg_status lg_rundir_lock(lg_rundir *r, int k);

/* Before training the levels in mask: takes their locks, refuses to train
 * over a run without cfg->resume or cfg->force, checks a resume against the
 * stored record and files, removes the old run's files under force (saying
 * which through cfg->notice) and writes run.json for a new run. keep: hold
 * the locks of mask's levels afterwards (else all are released). Creates
 * the directory and its samples/ folder. */
lg_status lg_rundir_prepare(lg_rundir *r, const lg_model_desc *m, const lg_dataset *ds,
                            const lg_train_cfg *cfg, unsigned mask, int keep);

/* mkdir -p: a run directory may be several levels deep and new. */
lg_status lg_make_dirs(const char *path);

/* LG_OK when a and b are the same model; else LG_ERR_FORMAT with the first
 * differing setting written to buf as "SETTING is A in WHAT_A, B WHAT_B". */
lg_status lg_model_desc_diff(const lg_model_desc *a, const char *what_a, const lg_model_desc *b,
                             const char *what_b, char *buf, size_t n);
#endif
