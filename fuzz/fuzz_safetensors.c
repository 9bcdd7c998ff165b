/* The safetensors reader on arbitrary bytes: whatever it accepts must be
 * safe to read in full through the public accessors. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lg_safetensors *st = NULL;
    if (lg_st_parse(&st, data, size, "fuzz") == LG_OK) {
        float sum = 0;
        for (int i = 0; i < lg_st_count(st); i++) {
            const lg_st_tensor *t = lg_st_at(st, i);
            size_t numel = 1;
            for (int d = 0; d < t->ndim; d++) numel *= (size_t)t->shape[d];
            if (numel != t->numel || lg_st_find(st, t->name) != t) abort();
            for (size_t j = 0; j < t->numel; j++) sum += t->data[j];
        }
        for (int i = 0; i < lg_st_meta_count(st); i++) {
            const char *k, *v;
            lg_st_meta_at(st, i, &k, &v);
            if (!k || !v || lg_st_meta(st, k) != v) abort();
        }
        (void)sum;
    }
    lg_st_free(st);
    return 0;
}
