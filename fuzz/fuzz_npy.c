/* .npy images (+ labels). Input: 2-byte little-endian length L, L bytes of
 * the image file, then the label file (none when empty). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static fz_file images, labels;
    const uint8_t *a, *b;
    size_t na, nb;
    fz_split(data, size, &a, &na, &b, &nb);
    if (!fz_put(&images, a, na) || !fz_put(&labels, b, nb)) abort();
    lg_dataset *ds = NULL;
    if (lg_dataset_load_npy(&ds, images.path, nb ? labels.path : NULL) == LG_OK) {
        /* What was accepted has the promised shape, every byte readable. */
        if ((ds->c != 1 && ds->c != 3) || ds->n <= 0 || ds->h <= 0 || ds->w <= 0) abort();
        fz_read_all(ds);
        for (int i = 0; i < ds->n; i++)
            if (ds->labels[i] < -1 || ds->labels[i] >= (ds->nclasses ? ds->nclasses : 1)) abort();
    }
    lg_dataset_free(ds);
    return 0;
}
