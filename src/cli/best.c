/* --best: the weights best-model selection kept in RUN_DIR/best/ (train.c
 * writes best/level_<k>.safetensors whenever a level's validation
 * criterion improves), for sample, eval and report. */
#include <stdio.h>
#include <unistd.h>

#include "cli.h"

lg_status lg_cli_best_dir(const char *run, char *buf, size_t len) {
    char path[4096];
    lg_model_desc d;
    int level;
    int64_t step;
    snprintf(path, sizeof path, "%s/level_0.safetensors", run);
    lg_status st = lg_checkpoint_peek(path, &d, &level, &step);
    if (st != LG_OK) return st;
    for (int k = 0; k < d.levels; k++) {
        snprintf(path, sizeof path, "%s/best/level_%d.safetensors", run, k);
        if (access(path, F_OK) != 0)
            return lg_error(LG_ERR_IO, "--best: %s does not exist (best-model checkpoints are "
                            "kept when training holds out a validation split and --val-every is "
                            "not 0)", path);
    }
    snprintf(buf, len, "%s/best", run);
    return LG_OK;
}
