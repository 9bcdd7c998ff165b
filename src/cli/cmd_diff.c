/* lapgan diff: how far apart two runs' checkpoints are, tensor by tensor. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: lapgan diff A B [--tol T]\n"
            "Compares two checkpoints, or the level_<k>.safetensors files of two run\n"
            "directories: every tensor (weights, batch-norm buffers, optimiser state) and\n"
            "the step. Prints each file's largest difference and the tensor holding it.\n"
            "Exit 0 when every value pair a, b has |a - b| <= T * max(1, |a|, |b|), and\n"
            "names and shapes agree; 1 otherwise. T defaults to 0 (bit-identical).\n\n"
            "  --tol T   tolerance, relative above 1 and absolute below (default 0)\n");
}

typedef struct {
    double worst;       /* largest |a-b| / max(1, |a|, |b|) */
    double max_abs;
    char where[96];
    int bad;            /* names, shapes or steps differ */
} lg_diff;

static void compare_tensor(const lg_st_tensor *a, const lg_st_tensor *b, lg_diff *d) {
    for (size_t i = 0; i < a->numel; i++) {
        const double x = a->data[i], y = b->data[i], e = fabs(x - y);
        const double m = fmax(1.0, fmax(fabs(x), fabs(y)));
        const double r = x == y || (isnan(x) && isnan(y)) ? 0 : isnan(e) ? INFINITY : e / m;
        if (r > d->worst) {
            d->worst = r;
            snprintf(d->where, sizeof d->where, "%s[%zu]", a->name, i);
        }
        if (e > d->max_abs) d->max_abs = e;
    }
}

static lg_status compare_files(const char *pa, const char *pb, lg_diff *d) {
    lg_safetensors *a = NULL, *b = NULL;
    lg_status st = lg_st_read(&a, pa);
    if (st == LG_OK) st = lg_st_read(&b, pb);
    for (int i = 0; st == LG_OK && i < lg_st_count(a); i++) {
        const lg_st_tensor *ta = lg_st_at(a, i), *tb = lg_st_find(b, ta->name);
        if (!tb) {
            st = LG_ERR_FORMAT;
            break;
        }
        int same = ta->ndim == tb->ndim && ta->numel == tb->numel;
        for (int j = 0; same && j < ta->ndim; j++) same = ta->shape[j] == tb->shape[j];
        if (!same) {
            d->bad = 1;
            printf("  %s: shapes differ\n", ta->name);
            continue;
        }
        compare_tensor(ta, tb, d);
    }
    if (st == LG_OK && lg_st_count(a) != lg_st_count(b)) {
        d->bad = 1;
        printf("  %s holds %d tensors, %s %d\n", pa, lg_st_count(a), pb, lg_st_count(b));
    }
    const char *sa = st == LG_OK ? lg_st_meta(a, "step") : NULL;
    const char *sb = st == LG_OK ? lg_st_meta(b, "step") : NULL;
    if (sa && sb && strcmp(sa, sb)) {
        d->bad = 1;
        printf("  steps differ: %s and %s\n", sa, sb);
    }
    lg_st_free(a);
    lg_st_free(b);
    return st;
}

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int lg_cmd_diff(int argc, char **argv) {
    const char *path[2] = {NULL, NULL};
    double tol = 0;
    int np = 0;
    for (int i = 1; i < argc; i++) {
        if (lg_cli_is_help(argv[i])) {
            usage(stdout);
            return LG_EXIT_OK;
        }
        if (!strcmp(argv[i], "--tol")) {
            if (lg_cli_float("diff", "--tol", i + 1 < argc ? argv[i + 1] : NULL, 0, 1e30, &tol))
                return LG_EXIT_USAGE;
            i++;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return lg_cli_usage_error("diff", "unknown option '%s'", argv[i]);
        } else if (np < 2) {
            path[np++] = argv[i];
        } else {
            return lg_cli_usage_error("diff", "wants two paths, got a third: '%s'", argv[i]);
        }
    }
    if (np < 2) return lg_cli_usage_error("diff", "wants two checkpoints or run directories");
    const int dirs = is_dir(path[0]);
    if (dirs != is_dir(path[1]))
        return lg_cli_usage_error("diff", "'%s' and '%s': compare two files or two directories",
                                  path[0], path[1]);
    int files = 0, over = 0;
    for (int k = 0; k < (dirs ? LG_PYR_MAX_LEVELS : 1); k++) {
        char fa[4096], fb[4096];
        snprintf(fa, sizeof fa, dirs ? "%s/level_%d.safetensors" : "%s", path[0], k);
        snprintf(fb, sizeof fb, dirs ? "%s/level_%d.safetensors" : "%s", path[1], k);
        struct stat sa, sb;
        const int ha = stat(fa, &sa) == 0, hb = stat(fb, &sb) == 0;
        if (dirs && !ha && !hb) continue;
        if (dirs && ha != hb) {
            printf("level_%d.safetensors: only in %s\n", k, ha ? path[0] : path[1]);
            over = 1;
            continue;
        }
        lg_diff d = {0};
        lg_status st = compare_files(fa, fb, &d);
        if (st != LG_OK) return lg_cli_fail("diff", st);
        files++;
        const int ok = !d.bad && d.worst <= tol;
        over |= !ok;
        printf("%s: max abs diff %.3g, max scaled diff %.3g%s%s%s\n", dirs ? strrchr(fa, '/') + 1 : fa,
               d.max_abs, d.worst, d.where[0] ? " at " : "", d.where, ok ? "" : " (over --tol)");
    }
    if (!files && !over) {
        fprintf(stderr, "lapgan diff: %s and %s hold no level_<k>.safetensors\n", path[0], path[1]);
        return LG_EXIT_FAIL;
    }
    return over ? LG_EXIT_FAIL : LG_EXIT_OK;
}
