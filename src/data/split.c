/* The held-out validation split: the last images of a training set, taken
 * out before training so that sigma selection and best-model selection
 * never score images the model was fitted to (the authors' CIFAR code
 * holds out training images 45,001-50,000 the same way). */
#include <stdio.h>
#include <string.h>

#include "core/check.h"
#include "data/dataset.h"

int lg_dataset_default_val(int n) {
    /* 5,000 for CIFAR-10's 50,000 (the authors' split), 10% where that is
     * smaller, so a small set keeps 90% of its images for training. */
    int tenth = n / 10;
    return tenth < LG_VAL_DEFAULT_MAX ? tenth : LG_VAL_DEFAULT_MAX;
}

lg_status lg_dataset_split_tail(lg_dataset *ds, int nval, lg_dataset **val) {
    LG_CHECK(ds && val, LG_ERR_ARG, "lg_dataset_split_tail: NULL argument");
    *val = NULL;
    LG_CHECK(nval >= 1 && nval < ds->n, LG_ERR_ARG,
             "--val %d: %s has %d images (the validation split must leave at least one to "
             "train on)", nval, ds->source, ds->n);
    char src[sizeof ds->source + 64];
    snprintf(src, sizeof src, "%s (validation: last %d)", ds->source, nval);
    lg_dataset *v;
    const int first = ds->n - nval;
    if (ds->stream) {
        /* A streamed set's split reads the same files: nothing is copied. */
        LG_TRY(lg_ds_view(&v, ds, first, nval, src));
    } else {
        LG_TRY(lg_ds_alloc(&v, nval, ds->c, ds->h, ds->w, src));
        const size_t img = (size_t)ds->c * ds->h * ds->w;
        memcpy(v->pixels, ds->pixels + (size_t)first * img, (size_t)nval * img);
        memcpy(v->labels, ds->labels + first, sizeof(int) * (size_t)nval);
    }
    if (ds->nclasses) {
        lg_status st = lg_ds_set_classes(v, ds->nclasses, (const char *const *)ds->class_names);
        if (st != LG_OK) {
            lg_dataset_free(v);
            return st;
        }
    }
    /* The training part keeps its buffers (the tail is simply never read). */
    ds->n = first;
    *val = v;
    return LG_OK;
}
