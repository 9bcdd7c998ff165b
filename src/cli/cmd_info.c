/* lapgan info: what a checkpoint or run directory holds. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "lapgan/gan.h"

static void usage(FILE *f) {
    fprintf(f, "usage: lapgan info PATH\n"
               "Describes a level checkpoint (.safetensors) or a run directory: the model, each\n"
               "level's step, tensors and parameter counts, and how it was trained.\n");
}

static int describe_file(const char *path, int with_model) {
    lg_safetensors *st;
    lg_status s = lg_st_read(&st, path);
    if (s != LG_OK) return lg_cli_fail("info", s);
    lg_model_desc m;
    int level;
    int64_t step;
    s = lg_checkpoint_peek(path, &m, &level, &step);
    if (s != LG_OK) {
        lg_st_free(st);
        return lg_cli_fail("info", s);
    }
    if (with_model) {
        char *d = lg_model_desc_describe(&m);
        printf("%s", d ? d : "");
        free(d);
    }
    size_t params[4] = {0};
    const char *parts[4] = {"G.", "D.", "GL.", "DL."};
    for (int i = 0; i < lg_st_count(st); i++) {
        const lg_st_tensor *t = lg_st_at(st, i);
        if (strstr(t->name, ".optim") || strstr(t->name, "running_")) continue;
        for (int p = 0; p < 4; p++)
            if (!strncmp(t->name, parts[p], strlen(parts[p]))) params[p] += t->numel;
    }
    const char *src = lg_st_meta(st, "data_source"), *seed = lg_st_meta(st, "seed");
    printf("%s: level %d (%dx%d), step %lld, G %zu parameters, D %zu%s, %d tensors, seed %s, "
           "data %s, lapgan %s\n",
           path, level, m.level[level].size, m.level[level].size, (long long)step,
           params[0] + params[2], params[1] + params[3], m.nclasses ? " (incl. label planes)" : "",
           lg_st_count(st), seed ? seed : "?", src && *src ? src : "?",
           lg_st_meta(st, "lapgan_version") ? lg_st_meta(st, "lapgan_version") : "?");
    lg_st_free(st);
    return LG_EXIT_OK;
}

int lg_cmd_info(int argc, char **argv) {
    if (argc != 2) {
        usage(stderr);
        return LG_EXIT_USAGE;
    }
    if (lg_cli_is_help(argv[1])) {
        usage(stdout);
        return LG_EXIT_OK;
    }
    struct stat sb;
    if (stat(argv[1], &sb) != 0) {
        fprintf(stderr, "lapgan info: %s: no such file or directory\n", argv[1]);
        return LG_EXIT_FAIL;
    }
    if (!S_ISDIR(sb.st_mode)) return describe_file(argv[1], 1);
    int found = 0, rc = LG_EXIT_OK;
    for (int k = 0; k < LG_PYR_MAX_LEVELS; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/level_%d.safetensors", argv[1], k);
        if (stat(path, &sb) != 0) continue;
        int r = describe_file(path, !found);
        found++;
        if (r) rc = r;
    }
    if (!found) {
        fprintf(stderr, "lapgan info: %s: no level_<k>.safetensors checkpoints in this directory\n",
                argv[1]);
        return LG_EXIT_FAIL;
    }
    return rc;
}
