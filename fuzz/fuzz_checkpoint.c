/* Level checkpoints: lg_checkpoint_peek (header, metadata and the model
 * description) on arbitrary files, and for files that claim to be a level
 * of the small fuzz model, a full lg_level_load into that level. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static fz_file f;
    static lg_level *lv[3];
    static char *small_json;
    if (!small_json) {
        lg_model_desc small;
        fz_small_model(&small);
        for (int k = 0; k < 3; k++)
            if (lg_level_new(&lv[k], &small, k, small.batch, 1, LG_BACKEND_CPU) != LG_OK) abort();
        if (lg_model_desc_to_json(&small, &small_json) != LG_OK) abort();
    }
    if (!fz_put(&f, data, size)) abort();
    lg_model_desc m;
    int level = -1;
    int64_t step = -1;
    if (lg_checkpoint_peek(f.path, &m, &level, &step) != LG_OK) return 0;
    if (level < 0 || level >= m.levels || step < 0 || lg_model_desc_validate(&m) != LG_OK) abort();
    char *json = NULL;
    if (lg_model_desc_to_json(&m, &json) != LG_OK) abort();
    if (!strcmp(json, small_json)) {
        lg_level_extra ex;
        if (lg_level_load(lv[level], &ex, f.path) == LG_OK &&
            lg_level_step_count(lv[level]) != step)
            abort();
    }
    free(json);
    return 0;
}
