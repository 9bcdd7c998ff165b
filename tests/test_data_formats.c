/* The STL-10, .npy/.npz and dataset-zip loaders against the same 12 images
 * read by the CIFAR-10 loader (or, for JPEGs, the folder loader): count,
 * labels and every pixel. tests/cli/data_formats.py writes the files (from
 * the shared CIFAR-10 test batch when present, else generated images);
 * tests/cli/data_formats.sh checks the hostile ones through the CLI. */
#include <dirent.h>
#include <sys/stat.h>

#include "test.h"
#include "tmpfiles.h"

static char dir[64];
static int have_files;
static lg_dataset *ref; /* cifar10-test:DIR/ref */

static lg_dataset *open_ds(const char *kind, const char *file, int c, int size) {
    char spec[4200];
    snprintf(spec, sizeof spec, "%s:%s/%s", kind, dir, file);
    lg_dataset *ds = NULL;
    CHECK_OK(lg_dataset_open(&ds, spec, c, size));
    return ds;
}

/* ds holds ref's images (channel ch0 only when grey), labels when labelled. */
static void check_same(const lg_dataset *ds, int labelled, const char *what) {
    CHECK_MSG(ds && ds->n == ref->n && ds->h == 32 && ds->w == 32, "%s: %d images of %dx%d", what,
              ds ? ds->n : -1, ds ? ds->h : -1, ds ? ds->w : -1);
    if (!ds || ds->n != ref->n || ds->h != 32 || ds->w != 32) return;
    size_t plane = 32 * 32, bad = 0;
    for (int i = 0; i < ds->n; i++)
        for (int c = 0; c < ds->c; c++)
            bad += memcmp(ds->pixels + ((size_t)i * ds->c + c) * plane,
                          ref->pixels + ((size_t)i * 3 + c) * plane, plane) != 0;
    CHECK_MSG(bad == 0, "%s: %zu image planes differ from the CIFAR-10 loader's", what, bad);
    CHECK_MSG(labelled ? ds->nclasses == ref->nclasses : ds->nclasses == 0,
              "%s: %d classes, want %d", what, ds->nclasses, labelled ? ref->nclasses : 0);
    for (int i = 0; i < ds->n; i++)
        CHECK_MSG(ds->labels[i] == (labelled ? ref->labels[i] : -1), "%s: label %d is %d", what,
                  i, ds->labels[i]);
}

static const char *cifar_batch(char *buf, size_t cap) {
    const char *sub[2] = {"data/cifar10/test_batch.bin", "data/cifar10/jpeg/test_batch.bin"};
    for (int k = 0; k < 2; k++) {
        snprintf(buf, cap, "%s/%s", t_shared_dir(), sub[k]);
        if (access(buf, R_OK) == 0) return buf;
    }
    return "";
}

static void test_generate(void) {
    if (system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0)
        SKIP("/usr/bin/python3 with numpy absent (scripts/deps.sh test installs python3-numpy)");
    CHECK(t_mkdtemp(dir));
    char batch[4096], cmd[8400];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/cli/data_formats.py %s '%s'", dir,
             cifar_batch(batch, sizeof batch));
    CHECK_MSG(system(cmd) == 0, "%s failed", cmd);
    ref = open_ds("cifar10-test", "ref", 3, 32);
    have_files = ref && ref->n == 12 && ref->nclasses == 10;
    CHECK(have_files);
    if (!have_files) return;
    /* The generator keeps 4 classes; the CIFAR-10 loader always says 10. */
    for (int i = 0; i < ref->nclasses; i++) free(ref->class_names[i]);
    free(ref->class_names);
    ref->class_names = NULL;
    ref->nclasses = 4;
}

static void test_stl10(void) {
    if (!have_files) SKIP("no generated files (see test_generate)");
    lg_dataset *tr = open_ds("stl10", "stl", 3, 0), *te = open_ds("stl10-test", "stl", 3, 0),
               *un = open_ds("stl10-unlabeled", "stl", 3, 0);
    if (!tr || !te || !un) goto done;
    CHECK(tr->n == 12 && te->n == 12 && un->n == 5 && tr->c == 3 && tr->h == 96 && tr->w == 96);
    CHECK(tr->nclasses == 10 && !strcmp(tr->class_names[2], "car") && un->nclasses == 0);
    size_t bad = 0;
    for (int i = 0; i < 12; i++) {
        CHECK(tr->labels[i] == ref->labels[i] && te->labels[i] == ref->labels[11 - i]);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 96; y++)
                for (int x = 0; x < 96; x++) {
                    uint8_t want = ref->pixels[((size_t)i * 3 + c) * 1024 + y / 3 * 32 + x / 3];
                    size_t at = (((size_t)i * 3 + c) * 96 + y) * 96 + x;
                    bad += tr->pixels[at] != want;
                    if (i < 5) bad += un->pixels[at] != want;
                }
    }
    CHECK_MSG(bad == 0, "%zu STL-10 pixels differ from the CIFAR-10 images enlarged 3x", bad);
    for (int i = 0; i < 5; i++) CHECK(un->labels[i] == -1);
done:
    lg_dataset_free(tr);
    lg_dataset_free(te);
    lg_dataset_free(un);
}

static void test_npy(void) {
    if (!have_files) SKIP("no generated files (see test_generate)");
    lg_dataset *a = open_ds("npy", "nhwc.npy,", 3, 0), *b = NULL, *g = NULL, *l = NULL;
    check_same(a, 0, "nhwc.npy");
    char spec[4300];
    snprintf(spec, sizeof spec, "npy:%s/nchw.npy,%s/labels_u8.npy", dir, dir);
    CHECK_OK(lg_dataset_open(&b, spec, 3, 0));
    check_same(b, 1, "nchw.npy + labels_u8.npy");
    snprintf(spec, sizeof spec, "npy:%s/nhwc.npy,%s/labels.npy", dir, dir);
    CHECK_OK(lg_dataset_open(&l, spec, 3, 0));
    check_same(l, 1, "nhwc.npy + labels.npy (int64)");
    g = open_ds("npy", "grey.npy", 1, 0);
    CHECK(g && g->c == 1);
    if (g && g->c == 1) check_same(g, 0, "grey.npy (N, H, W)");
    lg_dataset_free(a);
    lg_dataset_free(b);
    lg_dataset_free(g);
    lg_dataset_free(l);
}

static void test_npz(void) {
    if (!have_files) SKIP("no generated files (see test_generate)");
    lg_dataset *a = open_ds("npz", "xy.npz", 3, 0), *b = open_ds("npz", "first_two.npz", 3, 0);
    check_same(a, 1, "xy.npz (x, y; stored)");
    check_same(b, 1, "first_two.npz (arr_0, arr_1; deflated)");
    lg_dataset_free(a);
    lg_dataset_free(b);
}

static void test_zip(void) {
    if (!have_files) SKIP("no generated files (see test_generate)");
    lg_dataset *a = open_ds("zip", "set.zip", 3, 32), *b = open_ds("zip", "set.zip", 3, 0),
               *s = open_ds("zip", "set_stored.zip", 3, 32);
    check_same(a, 1, "set.zip (PNG, dataset.json)");
    check_same(b, 1, "set.zip at size 0 (the images' own)");
    check_same(s, 0, "set_stored.zip (no dataset.json)");
    lg_dataset_free(a);
    lg_dataset_free(b);
    lg_dataset_free(s);
}

static void test_zip_jpeg(void) {
    if (!have_files) SKIP("no generated files (see test_generate)");
    char path[4200];
    snprintf(path, sizeof path, "%s/set_jpeg.zip", dir);
    if (access(path, R_OK) != 0)
        SKIP("no JPEGs written: python3-opencv absent (scripts/deps.sh test installs it)");
    lg_dataset *z = open_ds("zip", "set_jpeg.zip", 3, 32), *f = open_ds("folder", "jpeg_ref", 3, 32);
    CHECK(z && f && z->n == 12 && f->n == 12);
    if (z && f && z->n == f->n) {
        CHECK_MSG(!memcmp(z->pixels, f->pixels, (size_t)12 * 3 * 32 * 32),
                  "JPEG zip pixels differ from the folder loader's");
        for (int i = 0; i < 12; i++) CHECK(z->labels[i] == ref->labels[i]);
    }
    lg_dataset_free(z);
    lg_dataset_free(f);
}

static int open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d) return -1;
    while (readdir(d)) n++;
    closedir(d);
    return n;
}

/* Loads and refusals leave nothing open (libzip takes the descriptor only
 * on success). */
static void test_refusals_leak_nothing(void) {
    if (!have_files) SKIP("no generated files (see test_generate)");
    const char *bad[] = {"zip:%s/bad/not_a.zip", "zip:%s/bad/dotdot.zip", "npz:%s/bad/bomb.npz",
                         "zip:%s/bad/bomb_expand.zip", "stl10:%s/bad/stl"};
    int before = open_fds();
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char spec[4200];
        snprintf(spec, sizeof spec, bad[k], dir);
        lg_dataset *ds = NULL;
        CHECK_ERR(lg_dataset_open(&ds, spec, 3, 32), LG_ERR_FORMAT);
        CHECK(ds == NULL);
    }
    lg_dataset_free(open_ds("zip", "set.zip", 3, 32));
    lg_dataset_free(open_ds("npz", "first_two.npz", 3, 0));
    CHECK_MSG(open_fds() == before, "%d descriptors open before, %d after", before, open_fds());
}

int main(void) {
    RUN(test_generate);
    RUN(test_stl10);
    RUN(test_npy);
    RUN(test_npz);
    RUN(test_zip);
    RUN(test_zip_jpeg);
    RUN(test_refusals_leak_nothing);
    lg_dataset_free(ref);
    if (dir[0]) t_rmtree(dir);
    return TEST_END();
}
