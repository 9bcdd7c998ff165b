/* Option parsing of `lapgan train` and `lapgan sample` on arbitrary argv:
 * the first byte picks the command, the rest is split at NUL bytes into at
 * most 64 arguments. Nothing runs; only the parsers do. */
#include "cli/cli.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char *buf = malloc(size);
    if (!buf) return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = 0;
    char *argv[66];
    int argc = 0;
    argv[argc++] = data[0] & 1 ? "sample" : "train";
    for (size_t at = 0; at < size - 1 && argc < 65;) {
        argv[argc++] = buf + at;
        at += strlen(buf + at) + 1;
    }
    argv[argc] = NULL;
    if (data[0] & 1) {
        lg_sample_opts o;
        if (lg_cli_parse_sample(argc, argv, &o) == LG_EXIT_OK &&
            (!o.model || o.n < 1 || o.per_row < 1 || o.rows < 1))
            abort();
    } else {
        lg_train_opts o;
        if (lg_cli_parse_train(argc, argv, &o) == LG_EXIT_OK &&
            (o.steps < 1 || (o.batch && o.batch < 2) || o.levels_mask < 0))
            abort();
    }
    free(buf);
    return 0;
}
