/* Zip archives: the whole input is one file, read as a StyleGAN2-ADA
 * dataset zip (PNG/JPEG entries, dataset.json) and as an .npz. */
#include "fuzz_common.h"

/* What was accepted is a data set with valid labels. */
static void check_ds(const lg_dataset *ds) {
    if ((ds->c != 1 && ds->c != 3) || ds->n <= 0 || ds->h <= 0 || ds->w <= 0) abort();
    for (int i = 0; i < ds->n; i++)
        if (ds->labels[i] < -1 || ds->labels[i] >= (ds->nclasses ? ds->nclasses : 1)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static fz_file f;
    if (!fz_put(&f, data, size)) abort();
    lg_dataset *ds = NULL;
    if (lg_dataset_load_zip(&ds, f.path, 3, 8) == LG_OK) {
        check_ds(ds);
        if (ds->c != 3 || ds->h != 8 || ds->w != 8) abort();
        fz_read_all(ds);
    }
    lg_dataset_free(ds);
    ds = NULL;
    if (lg_dataset_load_npz(&ds, f.path) == LG_OK) {
        check_ds(ds);
        fz_read_all(ds); /* a stored array is streamed: its reads are parsing too */
    }
    lg_dataset_free(ds);
    return 0;
}
