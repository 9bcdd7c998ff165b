/* CIFAR-10 binary batches. Input: 2-byte little-endian length L, L bytes of
 * batches.meta.txt (absent when L is 0), then test_batch.bin. */
#include <sys/stat.h>

#include "fuzz_common.h"

static char fz_cifar_dir[64];

static void fz_cifar_cleanup(void) {
    char path[128];
    snprintf(path, sizeof path, "%s/test_batch.bin", fz_cifar_dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/batches.meta.txt", fz_cifar_dir);
    unlink(path);
    rmdir(fz_cifar_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!fz_cifar_dir[0]) {
        struct stat sb;
        const char *base = stat("/dev/shm", &sb) == 0 ? "/dev/shm" : "/tmp";
        snprintf(fz_cifar_dir, sizeof fz_cifar_dir, "%s/lapgan-fuzz-cifar-XXXXXX", base);
        if (!mkdtemp(fz_cifar_dir)) abort();
        atexit(fz_cifar_cleanup);
    }
    const uint8_t *meta, *batch;
    size_t nmeta, nbatch;
    fz_split(data, size, &meta, &nmeta, &batch, &nbatch);
    if (!fz_write_file(fz_cifar_dir, "test_batch.bin", batch, nbatch)) abort();
    char path[128];
    snprintf(path, sizeof path, "%s/batches.meta.txt", fz_cifar_dir);
    if (nmeta) {
        if (!fz_write_file(fz_cifar_dir, "batches.meta.txt", meta, nmeta)) abort();
    } else {
        unlink(path);
    }
    lg_dataset *ds = NULL;
    if (lg_dataset_load_cifar10(&ds, fz_cifar_dir, 0) == LG_OK) {
        if (ds->nclasses != 10 || ds->c != 3 || ds->h != 32) abort();
        for (int i = 0; i < ds->n; i++)
            if (ds->labels[i] < 0 || ds->labels[i] > 9) abort();
        for (int i = 0; i < ds->nclasses; i++)
            if (!ds->class_names[i] || !ds->class_names[i][0]) abort();
    }
    lg_dataset_free(ds);
    return 0;
}
