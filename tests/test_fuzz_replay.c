/* Replays every fuzz seed (fuzz/corpus/<name>/) and every input that once
 * crashed a harness (fuzz/regressions/<name>/) through the harness code,
 * compiled here with the project's compiler, so the normal and the
 * sanitizer builds check them without clang. A crash, a sanitizer report or
 * a failed harness property (abort) fails the run. */
#include <dirent.h>

#define LLVMFuzzerTestOneInput fuzz_idx
#include "../fuzz/fuzz_idx.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_cifar
#include "../fuzz/fuzz_cifar.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_stl10
#include "../fuzz/fuzz_stl10.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_npy
#include "../fuzz/fuzz_npy.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_lsun
#include "../fuzz/fuzz_lsun.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_zip
#include "../fuzz/fuzz_zip.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_image
#include "../fuzz/fuzz_image.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_safetensors
#include "../fuzz/fuzz_safetensors.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_checkpoint
#include "../fuzz/fuzz_checkpoint.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_model_json
#include "../fuzz/fuzz_model_json.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_cli
#include "../fuzz/fuzz_cli.c"
#undef LLVMFuzzerTestOneInput

#include "test.h"

/* Runs fn on every file of dir; returns how many (-1: no such dir). */
static int replay_dir(const char *dir, int (*fn)(const uint8_t *, size_t)) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        CHECK_MSG(f, "cannot open %s", path);
        if (!f) continue;
        uint8_t *buf = malloc(1 << 20);
        size_t len = fread(buf, 1, 1 << 20, f);
        fclose(f);
        fn(buf, len);
        free(buf);
        n++;
    }
    closedir(d);
    return n;
}

static void replay(const char *name, int (*fn)(const uint8_t *, size_t)) {
    char dir[256];
    snprintf(dir, sizeof dir, "fuzz/corpus/%s", name);
    int seeds = replay_dir(dir, fn);
    CHECK_MSG(seeds > 0, "%s: no seeds in %s", name, dir);
    snprintf(dir, sizeof dir, "fuzz/regressions/%s", name);
    replay_dir(dir, fn);
}

static void test_idx(void) { replay("idx", fuzz_idx); }
static void test_cifar(void) { replay("cifar", fuzz_cifar); }
static void test_stl10(void) { replay("stl10", fuzz_stl10); }
static void test_npy(void) { replay("npy", fuzz_npy); }
static void test_zip(void) { replay("zip", fuzz_zip); }
static void test_lsun(void) { replay("lsun", fuzz_lsun); }
static void test_image(void) { replay("image", fuzz_image); }
static void test_safetensors(void) { replay("safetensors", fuzz_safetensors); }
static void test_checkpoint(void) { replay("checkpoint", fuzz_checkpoint); }
static void test_model_json(void) { replay("model_json", fuzz_model_json); }
static void test_cli(void) { replay("cli", fuzz_cli); }

/* The seeds are not just parsed: the valid ones are accepted. */
static void test_seeds_are_valid(void) {
    lg_safetensors *st;
    CHECK_OK(lg_st_read(&st, "fuzz/corpus/safetensors/two_tensors_meta"));
    CHECK(lg_st_count(st) == 2);
    lg_st_free(st);
    lg_model_desc m;
    int level;
    int64_t step;
    CHECK_OK(lg_checkpoint_peek("fuzz/corpus/checkpoint/small_level_1", &m, &level, &step));
    CHECK(level == 1 && step == 0 && !strcmp(m.name, "fuzz-small"));
    lg_image *im;
    CHECK_OK(lg_image_load(&im, "fuzz/corpus/image/rgb_progressive_8x8.jpg"));
    CHECK(im && im->w == 8 && im->h == 8 && im->c == 3);
    lg_image_free(im);
    CHECK_OK(lg_image_load(&im, "fuzz/corpus/image/rgb_5x4_lossless.webp"));
    CHECK(im && im->w == 5 && im->h == 4 && im->c == 3 && im->px[3 * 6] == 255);
    lg_image_free(im);
    lg_dataset *ds;
    CHECK_OK(lg_dataset_load_zip(&ds, "fuzz/corpus/zip/pngs_labelled", 3, 4));
    CHECK(ds && ds->n == 2 && ds->nclasses == 2 && ds->labels[0] == 1 && ds->labels[1] == 0);
    lg_dataset_free(ds);
    CHECK_OK(lg_dataset_load_npz(&ds, "fuzz/corpus/zip/npz_xy"));
    CHECK(ds && ds->n == 3 && ds->c == 3 && ds->h == 4 && ds->w == 5 && ds->nclasses == 3);
    lg_dataset_free(ds);
}

int main(void) {
    lg_set_threads(1);
    RUN(test_idx);
    RUN(test_cifar);
    RUN(test_stl10);
    RUN(test_npy);
    RUN(test_zip);
    RUN(test_lsun);
    RUN(test_image);
    RUN(test_safetensors);
    RUN(test_checkpoint);
    RUN(test_model_json);
    RUN(test_cli);
    RUN(test_seeds_are_valid);
    return TEST_END();
}
