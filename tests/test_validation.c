/* The held-out validation split, the grouped (conditional) Parzen window and
 * best-model selection's per-level criterion (issue 16, items 2 and 3). */
#include "data/dataset.h"
#include "lapgan/gan.h"
#include "test.h"
#include "tmpfiles.h"

/* n images of 1x4x4 whose pixels all equal their index (mod 256). */
static lg_dataset *numbered(int n, int nclasses) {
    lg_dataset *ds;
    if (lg_ds_alloc(&ds, n, 1, 4, 4, "numbered") != LG_OK) return NULL;
    for (int i = 0; i < n; i++) {
        memset(ds->pixels + (size_t)i * 16, i & 255, 16);
        ds->labels[i] = nclasses ? i % nclasses : -1;
    }
    if (nclasses && lg_ds_set_classes(ds, nclasses, NULL) != LG_OK) {
        lg_dataset_free(ds);
        return NULL;
    }
    return ds;
}

static void test_default_val(void) {
    CHECK(lg_dataset_default_val(50000) == 5000); /* CIFAR-10: the authors' 45,001-50,000 */
    CHECK(lg_dataset_default_val(60000) == 5000); /* Fashion-MNIST */
    CHECK(lg_dataset_default_val(30000) == 3000); /* the shared JPEG CIFAR-10: 10% */
    CHECK(lg_dataset_default_val(100) == 10);
    CHECK(lg_dataset_default_val(9) == 0);
}

static void test_split_tail(void) {
    lg_dataset *ds = numbered(100, 10), *val = NULL;
    CHECK(ds);
    if (!ds) return;
    CHECK_OK(lg_dataset_split_tail(ds, 30, &val));
    CHECK(ds->n == 70 && val && val->n == 30);
    if (val) {
        CHECK(val->pixels[0] == 70 && val->pixels[29 * 16 + 15] == 99);
        CHECK(val->labels[0] == 0 && val->labels[29] == 9);
        CHECK(val->nclasses == 10 && val->c == 1 && val->h == 4 && val->w == 4);
        CHECK(strstr(val->source, "validation: last 30"));
    }
    CHECK(ds->pixels[69 * 16] == 69); /* the training part is untouched */
    lg_dataset_free(val);
    val = NULL;
    CHECK_ERR(lg_dataset_split_tail(ds, 70, &val), LG_ERR_ARG); /* nothing left to train on */
    CHECK(val == NULL && ds->n == 70);
    CHECK_ERR(lg_dataset_split_tail(ds, 0, &val), LG_ERR_ARG);
    lg_dataset_free(ds);
}

/* Each row against its own group equals lg_parzen_ll_multi on that group. */
static void test_parzen_grouped(void) {
    enum { M = 5, P = 7, D = 12, NS = 3 };
    float s[M * P * D], t[M * D];
    lg_rng r;
    lg_rng_init(&r, 3, 0);
    lg_rng_uniform(&r, s, M * P * D, 0, 1);
    lg_rng_uniform(&r, t, M * D, 0, 1);
    const double sig[NS] = {0.05, 0.2, 1.0};
    double ll[NS * M], dmin[M], one[NS];
    CHECK_OK(lg_parzen_ll_grouped(s, P, t, M, D, sig, NS, ll, dmin));
    for (int i = 0; i < M; i++) {
        CHECK_OK(lg_parzen_ll_multi(s + (size_t)i * P * D, P, t + (size_t)i * D, 1, D, sig, NS, one));
        for (int q = 0; q < NS; q++) CHECK_NEAR(ll[q * M + i], one[q], 1e-6 * fabs(one[q]) + 1e-9);
        int idx;
        float dist;
        CHECK_OK(lg_knn(s + (size_t)i * P * D, P, t + (size_t)i * D, 1, D, 1, &idx, &dist));
        CHECK_NEAR(dmin[i], dist, 1e-5);
    }
    const double bad = -1;
    CHECK_ERR(lg_parzen_ll_grouped(s, P, t, M, D, &bad, 1, ll, NULL), LG_ERR_ARG);
    CHECK_ERR(lg_parzen_ll_grouped(s, 0, t, M, D, sig, NS, ll, NULL), LG_ERR_ARG);
}

static lg_model_desc tiny(void) {
    lg_model_desc m;
    lg_preset("tiny", &m);
    return m;
}

/* Images in [-1, 1] at the finest size, smooth enough to have a pyramid. */
static float *images(const lg_model_desc *m, int n) {
    const int S = m->level[0].size;
    float *x = lg_alloc_floats((size_t)n * m->c * S * S);
    for (int i = 0; x && i < n; i++)
        for (int y = 0; y < S; y++)
            for (int q = 0; q < S; q++)
                x[((size_t)i * S + y) * S + q] = sinf(0.2f * (y + i)) * cosf(0.3f * q);
    return x;
}

/* Every level's criterion: finite, the same twice (fixed noise), different
 * for another seed, and the bandwidth one of the grid's. */
static void test_level_validate(void) {
    lg_model_desc m = tiny();
    float *x = images(&m, 6);
    CHECK(x);
    for (int k = 0; x && k < m.levels; k++) {
        lg_level *lv;
        CHECK_OK(lg_level_new(&lv, &m, k, 16, 1, LG_BACKEND_CPU));
        lg_level_val a, b, c;
        CHECK_OK(lg_level_validate(lv, x, NULL, 6, 5, 11, &a));
        CHECK_OK(lg_level_validate(lv, x, NULL, 6, 5, 11, &b));
        CHECK_OK(lg_level_validate(lv, x, NULL, 6, 5, 12, &c));
        CHECK(isfinite(a.parzen) && a.parzen == b.parzen && a.min_dist == b.min_dist);
        CHECK_MSG(a.parzen != c.parzen, "level %d: seed does not reach the draws", k);
        CHECK(a.images == 6 && a.samples == 5 && a.sigma >= 0.01 - 1e-12 && a.sigma <= 1 + 1e-12);
        CHECK(a.min_dist > 0);
        CHECK_ERR(lg_level_validate(lv, x, NULL, 6, 1, 11, &a), LG_ERR_ARG);
        lg_level_free(lv);
    }
    /* Class-conditional: labels are required and checked. */
    lg_model_desc_class_conditional(&m, 3);
    lg_level *lv;
    int labels[6] = {0, 1, 2, 0, 1, 2}, bad[6] = {0, 1, 3, 0, 1, 2};
    lg_level_val v;
    CHECK_OK(lg_level_new(&lv, &m, 0, 16, 1, LG_BACKEND_CPU));
    CHECK_OK(lg_level_validate(lv, x, labels, 6, 4, 1, &v));
    CHECK_ERR(lg_level_validate(lv, x, NULL, 6, 4, 1, &v), LG_ERR_ARG);
    CHECK_ERR(lg_level_validate(lv, x, bad, 6, 4, 1, &v), LG_ERR_ARG);
    lg_level_free(lv);
    CHECK_OK(lg_level_new(&lv, &m, m.levels - 1, 16, 1, LG_BACKEND_CPU));
    CHECK_OK(lg_level_validate(lv, x, labels, 6, 4, 1, &v));
    lg_level_free(lv);
    lg_free(x);
}

/* The split and the best-model state survive a checkpoint; a file without
 * them (an older one) reads as "not recorded". */
static void test_checkpoint_val(void) {
    char dir[64], a[4096], b[4096];
    CHECK(t_mkdtemp(dir));
    lg_model_desc m = tiny();
    lg_level *lv;
    CHECK_OK(lg_level_new(&lv, &m, 2, 16, 1, LG_BACKEND_CPU));
    lg_level_extra ex = {.seed = 4, .val_images = 123, .has_best = 1, .best_value = -17.25,
                         .best_step = 40}, back;
    CHECK_OK(lg_level_save(lv, &ex, t_path(a, dir, "a.safetensors")));
    CHECK_OK(lg_level_load(lv, &back, a));
    CHECK(back.val_images == 123 && back.has_best && back.best_value == -17.25 &&
          back.best_step == 40);
    int64_t nval = 0;
    CHECK_OK(lg_checkpoint_val_split(a, &nval));
    CHECK(nval == 123);
    lg_level_extra none = {.seed = 4}; /* no split: 0, and no best */
    CHECK_OK(lg_level_save(lv, &none, a));
    CHECK_OK(lg_level_load(lv, &back, a));
    CHECK(back.val_images == 0 && !back.has_best);
    CHECK_OK(lg_level_save(lv, NULL, t_path(b, dir, "b.safetensors")));
    CHECK_OK(lg_checkpoint_val_split(b, &nval));
    CHECK(nval == -1);
    lg_level_free(lv);
    t_rmtree(dir);
}

/* Training with a split: best/ holds every level, the log has one record
 * per check, and a resume with another split is refused naming both. */
static void test_train_best(void) {
    char dir[64], path[8192];
    CHECK(t_mkdtemp(dir));
    lg_model_desc m = tiny();
    lg_dataset *ds;
    CHECK_OK(lg_ds_alloc(&ds, 60, 1, 28, 28, "synthetic"));
    for (size_t i = 0; i < (size_t)60 * 28 * 28; i++) ds->pixels[i] = (uint8_t)(i * 7 % 251);
    lg_dataset *val;
    CHECK_OK(lg_dataset_split_tail(ds, 12, &val));
    char run[4096];
    t_path(run, dir, "run");
    lg_train_cfg cfg = {.run_dir = run, .steps = 4, .batch = 8, .seed = 2, .log_every = 2,
                        .val = val, .val_every = 2, .val_images = 5, .val_samples = 3};
    CHECK_OK(lg_train(&m, ds, &cfg));
    for (int k = 0; k < m.levels; k++) {
        snprintf(path, sizeof path, "%s/best/level_%d.safetensors", run, k);
        CHECK_MSG(access(path, F_OK) == 0, "%s missing", path);
        snprintf(path, sizeof path, "%s/log_level_%d.jsonl", run, k);
        FILE *f = fopen(path, "r");
        int checks = 0;
        char line[2048];
        while (f && fgets(line, sizeof line, f)) checks += strstr(line, "\"val_parzen\"") != NULL;
        if (f) fclose(f);
        CHECK_MSG(checks == 2, "level %d: %d validation records (want 2)", k, checks);
        int64_t nval;
        snprintf(path, sizeof path, "%s/level_%d.safetensors", run, k);
        CHECK_OK(lg_checkpoint_val_split(path, &nval));
        CHECK(nval == 12);
    }
    lg_dataset *other;
    CHECK_OK(lg_dataset_split_tail(ds, 6, &other));
    cfg.val = other;
    cfg.resume = 1;
    cfg.steps = 6;
    CHECK_ERR(lg_train(&m, ds, &cfg), LG_ERR_ARG);
    CHECK(strstr(lg_errmsg(), "12") && strstr(lg_errmsg(), "--val"));
    lg_dataset_free(other);
    lg_dataset_free(val);
    lg_dataset_free(ds);
    t_rmtree(dir);
}

int main(void) {
    RUN(test_default_val);
    RUN(test_split_tail);
    RUN(test_parzen_grouped);
    RUN(test_level_validate);
    RUN(test_checkpoint_val);
    RUN(test_train_best);
    return TEST_END();
}
