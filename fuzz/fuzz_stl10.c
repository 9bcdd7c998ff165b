/* STL-10 binary files. Input: 2-byte little-endian length L, L bytes of
 * test_y.bin (labels), then test_X.bin (images). */
#include <sys/stat.h>

#include "fuzz_common.h"

static char fz_stl_dir[64];

static void fz_stl_cleanup(void) {
    char path[128];
    snprintf(path, sizeof path, "%s/test_X.bin", fz_stl_dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/test_y.bin", fz_stl_dir);
    unlink(path);
    rmdir(fz_stl_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!fz_stl_dir[0]) {
        struct stat sb;
        const char *base = stat("/dev/shm", &sb) == 0 ? "/dev/shm" : "/tmp";
        snprintf(fz_stl_dir, sizeof fz_stl_dir, "%s/lapgan-fuzz-stl-XXXXXX", base);
        if (!mkdtemp(fz_stl_dir)) abort();
        atexit(fz_stl_cleanup);
    }
    const uint8_t *y, *x;
    size_t ny, nx;
    fz_split(data, size, &y, &ny, &x, &nx);
    if (!fz_write_file(fz_stl_dir, "test_X.bin", x, nx) ||
        !fz_write_file(fz_stl_dir, "test_y.bin", y, ny))
        abort();
    lg_dataset *ds = NULL;
    if (lg_dataset_load_stl10(&ds, fz_stl_dir, LG_STL10_TEST) == LG_OK) {
        if (ds->nclasses != 10 || ds->c != 3 || ds->h != 96 || ds->w != 96) abort();
        for (int i = 0; i < ds->n; i++)
            if (ds->labels[i] < 0 || ds->labels[i] > 9) abort();
    }
    lg_dataset_free(ds);
    return 0;
}
