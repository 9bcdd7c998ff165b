#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Two settings that libraries read once, while they load:
 * - OMP_WAIT_POLICY: OpenMP threads that spin at barriers steal the CPU
 *   from each other when the machine is shared (measured on a 2-core
 *   machine under load: a training step ran 6x slower spinning than
 *   sleeping), so the default here is passive;
 * - OPENBLAS_CORETYPE: OpenBLAS gives CPUs newer than its table generic SSE3
 *   kernels (3.6x slower GEMMs, src/core/blas.c), so name the right family.
 * glibc's start-up puts back the environment the process was started with
 * after the executable's pre-initialisers run, so a setenv there is lost
 * (measured: a variable set in .preinit_array is gone in main); the one way
 * to have the libraries see a setting is to start again with it. A user's
 * own values win, and with both present nothing restarts. Nor under
 * valgrind (its preload library in LD_PRELOAD): /proc/self/exe is valgrind
 * itself there, and a restart would leave the program it checks. */
static void lg_load_time_settings(char **argv) {
    const char *preload = getenv("LD_PRELOAD");
    if (preload && strstr(preload, "vgpreload")) return;
    int restart = 0;
    if (!getenv("OMP_WAIT_POLICY")) restart |= !setenv("OMP_WAIT_POLICY", "passive", 0);
    const char *core = lg_blas_coretype_for_cpu();
    if (core && !getenv("OPENBLAS_CORETYPE")) restart |= !setenv("OPENBLAS_CORETYPE", core, 0);
    if (restart) execv("/proc/self/exe", argv); /* returns only if it failed: go on as loaded */
}

static const lg_cli_cmd lg_cmds[] = {
    {"train", lg_cmd_train, "train a LAPGAN on a data set"},
    {"sample", lg_cmd_sample, "draw images from a trained model"},
    {"info", lg_cmd_info, "describe a checkpoint or run directory"},
    {"diff", lg_cmd_diff, "compare two runs' checkpoints tensor by tensor"},
    {"bench", lg_cmd_bench, "time training steps and sampling (no Python needed)"},
    {"selfcheck", lg_cmd_selfcheck, "quick check that this build computes correctly"},
    {"pyramid", lg_cmd_pyramid, "draw an image's Laplacian pyramid as a PNG"},
    {"classifier", lg_cmd_classifier, "train or evaluate the evaluation classifier"},
    {"eval", lg_cmd_eval, "Parzen log-likelihood, nearest neighbours, Frechet distance"},
    {"report", lg_cmd_report, "write a run's HTML report: samples, loss curves, metrics"},
    {"export", lg_cmd_export, "write a run as a PyTorch module or an ONNX graph"},
    {"serve", lg_cmd_serve, "run the human real-vs-generated study in a web server"},
    {"study", lg_cmd_study, "report the human study's judgements"},
};

static void usage(FILE *f) {
    fprintf(f, "lapgan %s: Laplacian pyramid GANs (Denton et al. 2015)\n\n", LG_VERSION);
    fprintf(f, "usage: lapgan [--version] [--help] <command> [options]\n\ncommands:\n");
    for (int i = 0; i < (int)(sizeof lg_cmds / sizeof lg_cmds[0]); i++)
        fprintf(f, "  %-10s %s\n", lg_cmds[i].name, lg_cmds[i].summary);
    fprintf(f, "\n'lapgan <command> --help' describes a command.\n");
}

int main(int argc, char **argv) {
    lg_load_time_settings(argv);
    if (argc < 2) {
        usage(stderr);
        return LG_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("lapgan %s\n", LG_VERSION);
        return LG_EXIT_OK;
    }
    if (lg_cli_is_help(argv[1]) || !strcmp(argv[1], "help")) {
        usage(stdout);
        return LG_EXIT_OK;
    }
    for (int i = 0; i < (int)(sizeof lg_cmds / sizeof lg_cmds[0]); i++)
        if (!strcmp(argv[1], lg_cmds[i].name)) return lg_cmds[i].run(argc - 1, argv + 1);
    fprintf(stderr, "lapgan: unknown command '%s' (see 'lapgan --help')\n", argv[1]);
    return LG_EXIT_USAGE;
}
