/* The evaluation classifier: learns a separable toy task, survives a
 * save/load round trip bit for bit, rejects bad model files, and its
 * features tell real Fashion-MNIST images from noise in Frechet distance. */
#include <unistd.h>

#include "data/dataset.h"
#include "test.h"

/* 4 classes of 8x8 grey images: class q has a bright quadrant q over dim
 * noise. */
static lg_dataset *quadrants(int n, uint64_t seed) {
    lg_dataset *ds;
    if (lg_ds_alloc(&ds, n, 1, 8, 8, "quadrants") != LG_OK) return NULL;
    if (lg_ds_set_classes(ds, 4, NULL) != LG_OK) return lg_dataset_free(ds), NULL;
    lg_rng r;
    lg_rng_init(&r, seed, 0);
    for (int i = 0; i < n; i++) {
        int q = (int)lg_rng_below(&r, 4);
        ds->labels[i] = q;
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++) {
                int in = (y >= 4) == (q >= 2) && (x >= 4) == (q & 1);
                ds->pixels[i * 64 + y * 8 + x] =
                    (uint8_t)(in ? 170 + lg_rng_below(&r, 86) : lg_rng_below(&r, 110));
            }
    }
    return ds;
}

static void to_float(const lg_dataset *ds, int i0, int n, float *x) {
    size_t img = (size_t)ds->c * ds->h * ds->w;
    for (size_t j = 0; j < (size_t)n * img; j++)
        x[j] = ds->pixels[(size_t)i0 * img + j] * (1.f / 127.5f) - 1.f;
}

/* A training cfg without augmentation, as a pointer. */
#define TC(E, B, LR) (&(lg_classifier_train_cfg){.epochs = (E), .batch = (B), .lr = (LR)})

static int count_epochs(void *user, int epoch, int epochs, double loss, double seconds) {
    double *last = user;
    last[0] = epoch;
    last[1] = loss;
    return 0;
}

static const char *tmp_path(const char *name) {
    static char buf[256];
    snprintf(buf, sizeof buf, "/tmp/lg_test_clf_%d_%s", (int)getpid(), name);
    return buf;
}

static void test_classifier_learns_quadrants(void) {
    lg_dataset *tr = quadrants(512, 1), *te = quadrants(256, 2);
    lg_classifier *clf = NULL;
    CHECK(tr && te);
    CHECK_OK(lg_classifier_new(&clf, NULL, 1, 8, 8, 4, 7));
    if (!clf || !tr || !te) goto done;
    double before, after, last[2] = {0, 0};
    CHECK_OK(lg_classifier_accuracy(clf, te, &before));
    double t0 = lg_time_s();
    CHECK_OK(lg_classifier_train(clf, tr, TC(4, 32, 1e-3f), count_epochs, last));
    double secs = lg_time_s() - t0;
    CHECK_OK(lg_classifier_accuracy(clf, te, &after));
    CHECK(last[0] == 4);
    CHECK_MSG(last[1] < 0.3, "final epoch loss %g", last[1]);
    CHECK_MSG(after > 0.95, "test accuracy %.3f after training (%.3f before), %.2f s", after,
              before, secs);
    /* predict agrees with accuracy's labels, features are post-ReLU. */
    float *x = lg_alloc_floats((size_t)te->n * 64), *f = lg_alloc_floats((size_t)te->n * 128);
    int *lab = malloc((size_t)te->n * sizeof(int)), correct = 0, neg = 0;
    to_float(te, 0, te->n, x);
    CHECK_OK(lg_classifier_predict(clf, x, te->n, lab));
    CHECK_OK(lg_classifier_features(clf, x, te->n, f));
    for (int i = 0; i < te->n; i++) correct += lab[i] == te->labels[i];
    for (int i = 0; i < te->n * 128; i++) neg += f[i] < 0;
    CHECK_NEAR((double)correct / te->n, after, 1e-12);
    CHECK(neg == 0);
    lg_free(x), lg_free(f), free(lab);
done:
    lg_classifier_free(clf);
    lg_dataset_free(tr);
    lg_dataset_free(te);
}

/* Same seed, same data => same weights => same logits, run to run. */
static void test_classifier_deterministic(void) {
    lg_dataset *tr = quadrants(128, 3);
    lg_classifier *a = NULL, *b = NULL;
    CHECK_OK(lg_classifier_new(&a, NULL, 1, 8, 8, 4, 5));
    CHECK_OK(lg_classifier_new(&b, NULL, 1, 8, 8, 4, 5));
    if (!a || !b || !tr) goto done;
    CHECK_OK(lg_classifier_train(a, tr, TC(1, 16, 1e-3f), NULL, NULL));
    CHECK_OK(lg_classifier_train(b, tr, TC(1, 16, 1e-3f), NULL, NULL));
    float x[16 * 64], za[16 * 4], zb[16 * 4];
    to_float(tr, 0, 16, x);
    CHECK_OK(lg_classifier_logits(a, x, 16, za));
    CHECK_OK(lg_classifier_logits(b, x, 16, zb));
    CHECK(memcmp(za, zb, sizeof za) == 0);
done:
    lg_classifier_free(a);
    lg_classifier_free(b);
    lg_dataset_free(tr);
}

static void test_classifier_save_load(void) {
    lg_dataset *tr = quadrants(256, 4);
    lg_classifier *clf = NULL, *back = NULL;
    CHECK_OK(lg_classifier_new(&clf, NULL, 1, 8, 8, 4, 9));
    if (!clf || !tr) goto done;
    CHECK_OK(lg_classifier_train(clf, tr, TC(1, 32, 1e-3f), NULL, NULL));
    CHECK_OK(lg_classifier_set_info(clf, "quadrants", 0.875));
    const char *path = tmp_path("rt.safetensors");
    CHECK_OK(lg_classifier_save(clf, path));
    CHECK_OK(lg_classifier_load(&back, path));
    unlink(path);
    if (!back) goto done;
    int c, h, w, k;
    lg_classifier_shape(back, &c, &h, &w, &k);
    CHECK(c == 1 && h == 8 && w == 8 && k == 4);
    CHECK(!strcmp(lg_classifier_source(back), "quadrants"));
    CHECK_NEAR(lg_classifier_test_accuracy(back), 0.875, 1e-12);
    enum { N = 300 }; /* more than one internal chunk */
    float *x = lg_alloc_floats((size_t)N * 64), *za = lg_alloc_floats(N * 4),
          *zb = lg_alloc_floats(N * 4);
    int la[N], lb[N];
    to_float(tr, 0, N < tr->n ? N : tr->n, x);
    CHECK_OK(lg_classifier_logits(clf, x, N, za));
    CHECK_OK(lg_classifier_logits(back, x, N, zb));
    CHECK(memcmp(za, zb, (size_t)N * 4 * sizeof(float)) == 0);
    CHECK_OK(lg_classifier_predict(clf, x, N, la));
    CHECK_OK(lg_classifier_predict(back, x, N, lb));
    CHECK(memcmp(la, lb, sizeof la) == 0);
    lg_free(x), lg_free(za), lg_free(zb);
done:
    lg_classifier_free(clf);
    lg_classifier_free(back);
    lg_dataset_free(tr);
}

/* The batch-norm architecture learns the quadrants with augmentation
 * (a 1-pixel shift keeps each quadrant's class; a flip would not), keeps its
 * arch through a file, and eval mode (running statistics) is what predicts. */
static void test_classifier_vgg(void) {
    lg_dataset *tr = quadrants(512, 11), *te = quadrants(256, 12);
    lg_classifier *clf = NULL, *back = NULL;
    CHECK_ERR(lg_classifier_new(&clf, "resnet", 1, 8, 8, 4, 1), LG_ERR_ARG);
    CHECK_OK(lg_classifier_new(&clf, "vgg", 1, 8, 8, 4, 13));
    if (!clf || !tr || !te) goto done;
    CHECK(!strcmp(lg_classifier_arch(clf), "lapgan-vgg-v1"));
    lg_classifier_train_cfg cfg = {.epochs = 4, .batch = 32, .lr = 2e-3f, .lr_decay = 0.2f,
                                   .shift = 1};
    CHECK_OK(lg_classifier_train(clf, tr, &cfg, NULL, NULL));
    double acc, acc2;
    CHECK_OK(lg_classifier_accuracy(clf, te, &acc));
    CHECK_MSG(acc > 0.9, "vgg test accuracy %.3f", acc);
    const char *path = tmp_path("vgg.safetensors");
    CHECK_OK(lg_classifier_save(clf, path));
    CHECK_OK(lg_classifier_load(&back, path));
    unlink(path);
    if (!back) goto done;
    CHECK(!strcmp(lg_classifier_arch(back), "lapgan-vgg-v1"));
    CHECK_OK(lg_classifier_accuracy(back, te, &acc2));
    CHECK(acc2 == acc);
    cfg.shift = 8; /* does not fit 8x8 images */
    CHECK_ERR(lg_classifier_train(clf, tr, &cfg, NULL, NULL), LG_ERR_ARG);
done:
    lg_classifier_free(clf);
    lg_classifier_free(back);
    lg_dataset_free(tr);
    lg_dataset_free(te);
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(p, 1, n, f);
    fclose(f);
}

static void test_classifier_bad_files(void) {
    lg_classifier *clf = NULL, *back = NULL;
    const char *path = tmp_path("bad.safetensors");
    CHECK_ERR(lg_classifier_load(&back, "/nonexistent/clf.safetensors"), LG_ERR_IO);
    write_bytes(path, "not a safetensors file at all", 29);
    CHECK_ERR(lg_classifier_load(&back, path), LG_ERR_FORMAT);
    /* A real file, truncated. */
    CHECK_OK(lg_classifier_new(&clf, NULL, 1, 8, 8, 4, 1));
    if (!clf) return;
    CHECK_OK(lg_classifier_save(clf, path));
    FILE *f = fopen(path, "rb");
    char *buf = malloc(1 << 20);
    size_t n = f ? fread(buf, 1, 1 << 20, f) : 0;
    if (f) fclose(f);
    CHECK(n > 1000);
    write_bytes(path, buf, n - 100);
    CHECK_ERR(lg_classifier_load(&back, path), LG_ERR_FORMAT);
    /* Valid safetensors, not a classifier: wrong arch, then a tensor short. */
    lg_st_writer *w;
    float v[4] = {0};
    int64_t shape[1] = {4};
    CHECK_OK(lg_st_writer_new(&w));
    CHECK_OK(lg_st_writer_add(w, "trunk.0.conv.weight", v, 1, shape));
    CHECK_OK(lg_st_writer_meta(w, "arch", "something-else"));
    CHECK_OK(lg_st_writer_write(w, path));
    lg_st_writer_free(w);
    CHECK_ERR(lg_classifier_load(&back, path), LG_ERR_FORMAT);
    CHECK_OK(lg_st_writer_new(&w));
    CHECK_OK(lg_st_writer_add(w, "x", v, 1, shape));
    CHECK_OK(lg_st_writer_meta(w, "arch", LG_CLASSIFIER_ARCH));
    CHECK_OK(lg_st_writer_meta(w, "c", "1"));
    CHECK_OK(lg_st_writer_meta(w, "h", "8"));
    CHECK_OK(lg_st_writer_meta(w, "w", "8"));
    CHECK_OK(lg_st_writer_meta(w, "nclasses", "4x"));
    CHECK_OK(lg_st_writer_write(w, path));
    lg_st_writer_free(w);
    CHECK_ERR(lg_classifier_load(&back, path), LG_ERR_FORMAT);
    CHECK(back == NULL);
    unlink(path);
    free(buf);
    lg_classifier_free(clf);
}

static void test_classifier_bad_args(void) {
    lg_classifier *clf = NULL;
    CHECK_ERR(lg_classifier_new(&clf, NULL, 0, 8, 8, 4, 1), LG_ERR_ARG);
    CHECK_ERR(lg_classifier_new(&clf, NULL, 1, 8, 8, 1, 1), LG_ERR_ARG);
    CHECK_OK(lg_classifier_new(&clf, NULL, 1, 8, 8, 4, 1));
    lg_dataset *tr = quadrants(64, 5), *wrong;
    if (!clf || !tr) goto done;
    CHECK_ERR(lg_classifier_train(clf, tr, TC(1, 0, 1e-3f), NULL, NULL), LG_ERR_ARG);
    CHECK_ERR(lg_classifier_train(clf, tr, TC(1, LG_CLASSIFIER_MAX_BATCH + 1, 1e-3f), NULL, NULL),
              LG_ERR_ARG);
    CHECK_ERR(lg_classifier_train(clf, tr, TC(0, 16, 1e-3f), NULL, NULL), LG_ERR_ARG);
    CHECK_ERR(lg_classifier_train(clf, tr, TC(1, 16, -1.0f), NULL, NULL), LG_ERR_ARG);
    if (lg_ds_alloc(&wrong, 8, 1, 9, 8, "wrong") == LG_OK) {
        CHECK_ERR(lg_classifier_train(clf, wrong, TC(1, 4, 1e-3f), NULL, NULL), LG_ERR_SHAPE);
        lg_dataset_free(wrong);
    }
    float x[64];
    int lab;
    CHECK_ERR(lg_classifier_predict(clf, x, 0, &lab), LG_ERR_ARG);
    CHECK_ERR(lg_classifier_predict(clf, NULL, 1, &lab), LG_ERR_ARG);
done:
    lg_classifier_free(clf);
    lg_dataset_free(tr);
}

static void fit(lg_classifier *clf, const float *x, int n, double *mu, double *cov, float *f) {
    CHECK_OK(lg_classifier_features(clf, x, n, f));
    CHECK_OK(lg_frechet_stats(f, n, LG_CLASSIFIER_FEATURES, mu, cov));
}

/* Features of 2,000 real test images vs 2,000 real training images give a
 * Frechet distance far below that of 2,000 uniform-noise images. The
 * classifier is trained only briefly (2,048 images, one epoch) to stay fast. */
static void test_fashion_frechet_sanity(void) {
    lg_dataset *tr = NULL, *te = NULL;
    if (lg_dataset_load_fashion(&tr, NULL, 1) != LG_OK ||
        lg_dataset_load_fashion(&te, NULL, 0) != LG_OK) {
        lg_dataset_free(tr);
        SKIP("Fashion-MNIST not installed (%s)", lg_errmsg());
    }
    enum { N = 2000, D = LG_CLASSIFIER_FEATURES, IMG = 784 };
    lg_classifier *clf = NULL;
    CHECK_OK(lg_classifier_new(&clf, NULL, 1, 28, 28, 10, 3));
    lg_dataset sub = *tr;
    sub.n = 2048;
    float *x = lg_alloc_floats((size_t)N * IMG), *f = lg_alloc_floats((size_t)N * D);
    double *mu[3], *cov[3];
    for (int i = 0; i < 3; i++) mu[i] = malloc(D * sizeof(double)), cov[i] = malloc(D * D * sizeof(double));
    if (!clf) goto done;
    CHECK_OK(lg_classifier_train(clf, &sub, TC(1, 64, 1e-3f), NULL, NULL));
    lg_dataset tsub = *te;
    tsub.n = N;
    double acc;
    CHECK_OK(lg_classifier_accuracy(clf, &tsub, &acc));
    CHECK_MSG(acc > 0.5, "accuracy %.3f after brief training (chance 0.1)", acc);
    to_float(te, 0, N, x);
    fit(clf, x, N, mu[0], cov[0], f);
    to_float(tr, 10000, N, x); /* training images the classifier has not seen */
    fit(clf, x, N, mu[1], cov[1], f);
    lg_rng r;
    lg_rng_init(&r, 11, 0);
    lg_rng_uniform(&r, x, (size_t)N * IMG, -1, 1);
    fit(clf, x, N, mu[2], cov[2], f);
    double real, noise;
    CHECK_OK(lg_frechet_distance(mu[0], cov[0], mu[1], cov[1], D, &real));
    CHECK_OK(lg_frechet_distance(mu[0], cov[0], mu[2], cov[2], D, &noise));
    CHECK_MSG(real < 0.05 * noise, "FD real/real %g vs real/noise %g", real, noise);
    printf("# fashion FD (brief classifier, acc %.3f): test vs train %.4g, test vs noise %.4g\n",
           acc, real, noise);
done:
    lg_free(x), lg_free(f);
    for (int i = 0; i < 3; i++) free(mu[i]), free(cov[i]);
    lg_classifier_free(clf);
    lg_dataset_free(tr);
    lg_dataset_free(te);
}

int main(void) {
    lg_set_threads(0);
    RUN(test_classifier_learns_quadrants);
    RUN(test_classifier_deterministic);
    RUN(test_classifier_save_load);
    RUN(test_classifier_vgg);
    RUN(test_classifier_bad_files);
    RUN(test_classifier_bad_args);
    RUN(test_fashion_frechet_sanity);
    return TEST_END();
}
