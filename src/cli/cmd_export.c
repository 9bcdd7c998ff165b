/* lapgan export: a trained run as a PyTorch module or an ONNX graph. */
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
    fprintf(f, "usage: lapgan export --format torch|onnx RUN -o OUT\n"
               "  --format torch  OUT is a directory: lapgan_model.py (needs only torch; "
               "load() gives\n"
               "                  an nn.Module) and weights.safetensors\n"
               "  --format onnx   OUT is one .onnx file: the whole coarse-to-fine sampler "
               "(inputs z_<k>\n"
               "                  per level and, for class-conditional models, labels; output "
               "image)\n"
               "Given the noise lapgan draws (Python: lapgan.Model.noise) both reproduce "
               "`lapgan sample`.\n");
}

int lg_cmd_export(int argc, char **argv) {
    const char *format = NULL, *run = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (lg_cli_is_help(a)) {
            usage(stdout);
            return LG_EXIT_OK;
        }
        if (!strcmp(a, "--format") || !strcmp(a, "-o")) {
            if (i + 1 >= argc) return lg_cli_usage_error("export", "%s needs a value", a);
            *(a[1] == 'o' ? &out : &format) = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            return lg_cli_usage_error("export", "unknown option '%s' (see --help)", a);
        } else if (run) {
            return lg_cli_usage_error("export", "one run directory, got '%s' and '%s'", run, a);
        } else {
            run = a;
        }
    }
    if (!format || !run || !out)
        return lg_cli_usage_error("export", "give --format, a run directory and -o (see --help)");
    lg_status st;
    if (!strcmp(format, "torch")) st = lg_export_torch(run, out);
    else if (!strcmp(format, "onnx")) st = lg_export_onnx(run, out);
    else return lg_cli_usage_error("export", "--format '%s': torch or onnx", format);
    if (st != LG_OK) return lg_cli_fail("export", st);
    printf("wrote %s\n", out);
    return LG_EXIT_OK;
}
