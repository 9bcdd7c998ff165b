/* The model description in every checkpoint's header: JSON -> lg_model_desc.
 * Whatever is accepted must be valid and survive a round trip unchanged. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    lg_model_desc m, back;
    if (lg_model_desc_from_json(&m, text, "fuzz") == LG_OK) {
        char *j1 = NULL, *j2 = NULL;
        if (lg_model_desc_validate(&m) != LG_OK || lg_model_desc_to_json(&m, &j1) != LG_OK ||
            lg_model_desc_from_json(&back, j1, "round trip") != LG_OK ||
            lg_model_desc_to_json(&back, &j2) != LG_OK || strcmp(j1, j2))
            abort();
        free(j1);
        free(j2);
        free(lg_model_desc_describe(&m));
    }
    free(text);
    return 0;
}
