/* Numerical faults in training: NaN or Inf stops only the level it hit,
 * the others finish and are saved, no checkpoint holding NaN or Inf is
 * ever written, and none is loaded (docs/RELIABILITY.md). */
#include <float.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gan/level_internal.h"
#include "lapgan/gan.h"
#include "lapgan/io.h"
#include "test.h"
#include "tmpfiles.h"

/* 28x28 greyscale noise-free stripes: no data set needed. */
static lg_dataset *stripes(int n) {
    lg_dataset *ds = calloc(1, sizeof *ds);
    ds->n = n, ds->c = 1, ds->h = ds->w = 28;
    ds->pixels = malloc((size_t)n * 784);
    ds->labels = malloc(sizeof(int) * n);
    for (int i = 0; i < n; i++) {
        ds->labels[i] = -1;
        for (int p = 0; p < 784; p++) ds->pixels[(size_t)i * 784 + p] = (uint8_t)((p / 28 + i) % 7 * 36);
    }
    snprintf(ds->source, sizeof ds->source, "stripes");
    return ds;
}

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    unsigned char *b = malloc(*n);
    if (fread(b, 1, *n, f) != *n) *n = 0;
    fclose(f);
    return b;
}

/* Writes NaN over the first float of the data area (a G weight: tensors are
 * stored G first) or the last (D's optimiser state for its output bias);
 * returns the poisoned bytes. */
static unsigned char *poison(const char *path, int last, size_t *n) {
    unsigned char *b = slurp(path, n);
    CHECK(b && *n > 16);
    if (!b) return NULL;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | b[i];
    const float nan = NAN;
    CHECK(8 + hlen + 4 <= *n);
    memcpy(last ? b + *n - 4 : b + 8 + hlen, &nan, 4);
    CHECK(t_write(path, b, *n));
    return b;
}

/* Rewrites checkpoint path with every value of tensor `name` set to v (a
 * finite value a step can still overflow: the loader refuses NaN and Inf);
 * returns the new bytes. */
static unsigned char *set_tensor(const char *path, const char *name, float v, size_t *n) {
    lg_safetensors *st = NULL;
    lg_st_writer *w = NULL;
    float *vals = NULL;
    CHECK_OK(lg_st_read(&st, path));
    CHECK_OK(lg_st_writer_new(&w));
    if (!st || !w) return NULL;
    for (int i = 0; i < lg_st_count(st); i++) {
        const lg_st_tensor *t = lg_st_at(st, i);
        const float *data = t->data;
        if (!strcmp(t->name, name)) {
            vals = malloc(sizeof(float) * t->numel);
            for (size_t j = 0; j < t->numel; j++) vals[j] = v;
            data = vals;
        }
        CHECK_OK(lg_st_writer_add(w, t->name, data, t->ndim, t->shape));
    }
    for (int i = 0; i < lg_st_meta_count(st); i++) {
        const char *k, *val;
        lg_st_meta_at(st, i, &k, &val);
        CHECK_OK(lg_st_writer_meta(w, k, val));
    }
    CHECK_MSG(vals, "no tensor %s in %s", name, path);
    CHECK_OK(lg_st_writer_write(w, path));
    lg_st_writer_free(w);
    lg_st_free(st);
    free(vals);
    return slurp(path, n);
}

static int same_bytes(const char *path, const unsigned char *b, size_t n) {
    size_t m;
    unsigned char *c = slurp(path, &m);
    int eq = c && m == n && !memcmp(b, c, n);
    free(c);
    return eq;
}

typedef struct {
    int calls, level;
    int64_t step;
    char msg[1024];
} stopped_log;

static void on_stopped(void *ud, int level, int64_t step, const char *msg) {
    stopped_log *l = ud;
    l->calls++;
    l->level = level;
    l->step = step;
    snprintf(l->msg, sizeof l->msg, "%s", msg);
}

static lg_status train(const lg_model_desc *m, const lg_dataset *ds, const char *dir, int64_t steps,
                       int resume, stopped_log *log) {
    lg_train_cfg cfg = {.run_dir = dir, .steps = steps, .batch = 8, .seed = 3, .ckpt_every = 2,
                        .resume = resume, .level_stopped = on_stopped, .progress_ud = log};
    return lg_train(m, ds, &cfg);
}

static int64_t step_of(const char *dir, int k) {
    char p[4096];
    lg_model_desc m;
    int level;
    int64_t step = -1;
    snprintf(p, sizeof p, "%s/level_%d.safetensors", dir, k);
    if (lg_checkpoint_peek(p, &m, &level, &step) != LG_OK) return -1;
    return step;
}

/* Level 1 resumes from a checkpoint whose D output weights are all
 * FLT_MAX: its first step's logits overflow to Inf and D's loss is NaN.
 * The level stops with a message naming level and step, its file is left
 * as it was, and levels 0 and 2 still train to the end and are saved. */
static void test_nan_stops_only_its_level(void) {
    lg_dataset *ds = stripes(32);
    lg_model_desc m;
    CHECK_OK(lg_preset("tiny", &m));
    char dir[64], p[4096];
    CHECK(t_mkdtemp(dir));
    stopped_log log = {0};
    CHECK_OK(train(&m, ds, dir, 4, 0, &log));
    CHECK(log.calls == 0);
    size_t n = 0;
    unsigned char *bad = set_tensor(t_path(p, dir, "level_1.safetensors"), "D.6.linear.weight",
                                    FLT_MAX, &n);
    CHECK_ERR(train(&m, ds, dir, 8, 1, &log), LG_ERR_NUMERIC);
    CHECK(strstr(lg_errmsg(), "level 1"));
    CHECK_MSG(log.calls == 1 && log.level == 1 && log.step == 4, "%d calls, level %d step %lld",
              log.calls, log.level, (long long)log.step);
    CHECK_MSG(strstr(log.msg, "level 1 step 5") && strstr(log.msg, "loss is NaN") &&
                  strstr(log.msg, "--resume") && strstr(log.msg, "step 4"),
              "message: %s", log.msg);
    CHECK_MSG(!strchr(log.msg, '\n'), "message is not one line");
    CHECK(bad && same_bytes(p, bad, n));
    CHECK(step_of(dir, 0) == 8 && step_of(dir, 2) == 8 && step_of(dir, 1) == 4);
    /* The whole-model figure needs every level: not drawn. */
    CHECK(access(t_path(p, dir, "samples/model_step_000008.png"), F_OK) != 0);
    CHECK(access(t_path(p, dir, "samples/level_0_step_000008.png"), F_OK) == 0);
    free(bad);
    t_rmtree(dir);
    lg_dataset_free(ds);
}

/* A checkpoint holding NaN (here in G's first conv weight, where ReLU
 * would hide it from every loss) is refused on load, naming the file and
 * the tensor: a resume never trains on it, and nothing is written. */
static void test_nan_checkpoint_refused(void) {
    lg_dataset *ds = stripes(32);
    lg_model_desc m;
    CHECK_OK(lg_preset("tiny", &m));
    char dir[64], p[4096];
    CHECK(t_mkdtemp(dir));
    stopped_log log = {0};
    CHECK_OK(train(&m, ds, dir, 4, 0, &log));
    size_t n = 0;
    unsigned char *bad = poison(t_path(p, dir, "level_1.safetensors"), 0, &n);
    CHECK_ERR(train(&m, ds, dir, 8, 1, &log), LG_ERR_FORMAT);
    CHECK_MSG(strstr(lg_errmsg(), "level_1.safetensors") && strstr(lg_errmsg(), "G.0.conv2d.weight") &&
                  strstr(lg_errmsg(), "NaN"), "message: %s", lg_errmsg());
    CHECK(log.calls == 0);
    CHECK(bad && same_bytes(p, bad, n));
    CHECK(step_of(dir, 0) == 4 && step_of(dir, 2) == 4);
    lg_level *lv;
    CHECK_OK(lg_level_new(&lv, &m, 1, 8, 3, LG_BACKEND_CPU));
    if (lv) CHECK_ERR(lg_level_load(lv, NULL, p), LG_ERR_FORMAT);
    lg_level_free(lv);
    free(bad);
    t_rmtree(dir);
    lg_dataset_free(ds);
}

/* lg_level_save itself refuses NaN (here put straight into a loaded
 * level's G weights): a good file stays as it was. */
static void test_nan_weights_never_saved(void) {
    lg_dataset *ds = stripes(32);
    lg_model_desc m;
    CHECK_OK(lg_preset("tiny", &m));
    char dir[64], p[4096], good[4096];
    CHECK(t_mkdtemp(dir));
    stopped_log log = {0};
    CHECK_OK(train(&m, ds, dir, 2, 0, &log));
    t_path(good, dir, "level_0.safetensors");
    size_t gn = 0, np = 0;
    unsigned char *gb = slurp(good, &gn);
    lg_level *lv;
    CHECK_OK(lg_level_new(&lv, &m, 0, 8, 3, LG_BACKEND_CPU));
    if (lv) {
        CHECK_OK(lg_level_load(lv, NULL, good));
        lg_net_params(lv->part[LG_PART_G].net, &np)[np / 2] = NAN;
        CHECK_ERR(lg_level_save(lv, NULL, good), LG_ERR_NUMERIC);
        CHECK_MSG(strstr(lg_errmsg(), "level 0 step 2") && strstr(lg_errmsg(), "NaN") &&
                      strstr(lg_errmsg(), "not written"),
                  "message: %s", lg_errmsg());
        lg_level_free(lv);
    }
    CHECK(same_bytes(good, gb, gn));
    snprintf(p, sizeof p, "%s/level_0.safetensors.tmp.%ld", dir, (long)getpid());
    CHECK(access(p, F_OK) != 0);
    free(gb);
    t_rmtree(dir);
    lg_dataset_free(ds);
}

/* Batches smaller than the 8 images of a level's progress figure: the
 * figure uses what the batch has (the sanitizer build checks the reads). */
static void test_small_batch_figures(void) {
    lg_dataset *ds = stripes(16);
    lg_model_desc m;
    CHECK_OK(lg_preset("tiny", &m));
    char dir[64], p[4096];
    CHECK(t_mkdtemp(dir));
    lg_train_cfg cfg = {.run_dir = dir, .steps = 2, .batch = 4, .seed = 1, .sample_every = 1};
    CHECK_OK(lg_train(&m, ds, &cfg));
    CHECK(access(t_path(p, dir, "samples/level_1_step_000002.png"), F_OK) == 0);
    t_rmtree(dir);
    lg_dataset_free(ds);
}

int main(void) {
    lg_set_threads(1);
    RUN(test_nan_stops_only_its_level);
    RUN(test_nan_checkpoint_refused);
    RUN(test_nan_weights_never_saved);
    RUN(test_small_batch_figures);
    return TEST_END();
}
