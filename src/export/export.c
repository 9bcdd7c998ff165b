/* A run loaded for export: each level's nets, and u(.) as a matrix made by
 * the library's own resampler (so the exported copy uses the same taps). */
#include <string.h>

#include "core/check.h"
#include "export/export.h"

/* U [size, sc] with column i = u(e_i) along one axis: the resampler is
 * separable and sizes are square, so u(X) = U X U^T. */
static lg_status up_matrix(lg_pyr_filter f, int sc, int size, float **out) {
    float *basis = lg_alloc_floats((size_t)sc * sc), *col = lg_alloc_floats((size_t)sc * size);
    float *u = lg_alloc_floats((size_t)size * sc);
    lg_status st = basis && col && u ? LG_OK : LG_ERR_NOMEM;
    if (st == LG_OK) {
        for (int i = 0; i < sc; i++) basis[(size_t)i * sc + i] = 1;
        st = lg_pyr_up(f, basis, sc, 1, sc, 1, col, size, 1);
    }
    for (int i = 0; st == LG_OK && i < sc; i++)
        for (int o = 0; o < size; o++) u[(size_t)o * sc + i] = col[(size_t)i * size + o];
    lg_free(basis);
    lg_free(col);
    if (st != LG_OK) lg_free(u), u = NULL;
    *out = u;
    return st;
}

static lg_status open_level(lg_exp *e, const char *run_dir, int k) {
    char path[4096];
    lg_level_path(path, sizeof path, run_dir, k);
    /* max batch 2: only the weights are used */
    LG_TRY(lg_level_new(&e->lv[k], &e->d, k, 2, 0, LG_BACKEND_CPU));
    LG_TRY(lg_level_load(e->lv[k], NULL, path));
    lg_exp_level *L = &e->L[k];
    const lg_level *lv = e->lv[k];
    L->k = k;
    L->fc = lv->fc;
    L->size = lv->s;
    L->sc = lv->sc;
    L->zdim = e->d.level[k].zdim;
    L->g = lv->part[LG_PART_G].net;
    L->gl = lv->part[LG_PART_GL].net;
    if (k < e->d.levels - 1) LG_TRY(up_matrix(e->d.filter, L->sc, L->size, &L->up));
    return LG_OK;
}

lg_status lg_exp_open(lg_exp **out, const char *run_dir) {
    LG_CHECK(out && run_dir, LG_ERR_ARG, "export: NULL argument");
    *out = NULL;
    lg_exp *e = lg_alloc(sizeof *e);
    if (!e) return LG_ERR_NOMEM;
    char path[4096];
    int level;
    int64_t step;
    lg_level_path(path, sizeof path, run_dir, 0);
    lg_status st = lg_checkpoint_peek(path, &e->d, &level, &step);
    for (int k = 0; st == LG_OK && k < e->d.levels; k++) st = open_level(e, run_dir, k);
    if (st != LG_OK) {
        lg_exp_free(e);
        return st;
    }
    *out = e;
    return LG_OK;
}

void lg_exp_free(lg_exp *e) {
    if (!e) return;
    for (int k = 0; k < LG_PYR_MAX_LEVELS; k++) {
        lg_level_free(e->lv[k]);
        lg_free(e->L[k].up);
    }
    lg_free(e);
}
