/* The lapgan command line: the only code that prints for users and chooses
 * exit codes. Each subcommand lives in its own cmd_*.c file. */
#ifndef LG_CLI_H
#define LG_CLI_H
#include <stdio.h>

#include "lapgan.h"

/* Exit codes: 0 ok, 1 runtime failure (bad file, I/O, numeric), 2 usage. */
enum { LG_EXIT_OK = 0, LG_EXIT_FAIL = 1, LG_EXIT_USAGE = 2 };

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand */
    const char *summary;
} lg_cli_cmd;

/* Prints "lapgan CMD: <lg_errmsg()>" and returns LG_EXIT_FAIL (LG_EXIT_USAGE
 * for LG_ERR_ARG). */
int lg_cli_fail(const char *cmd, lg_status s);
/* --precision fp32|bf16 into *bf16 (0 or 1); a usage error otherwise. */
int lg_cli_precision(const char *cmd, const char *flag, const char *s, int *bf16);
/* The backend a command runs: base (LG_BACKEND_CPU or _REF) in bf16 or
 * not. A CPU without bf16 instructions gets one line saying so and
 * LG_EXIT_FAIL; bf16 on ref is a usage error. Never a silent fp32. */
int lg_cli_backend(const char *cmd, int base, int bf16, lg_backend_kind *out);
/* Prints "lapgan CMD: <message>" and returns LG_EXIT_USAGE. */
int lg_cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Strict number parsing for flags: whole string, in range. */
int lg_cli_int(const char *cmd, const char *flag, const char *s, long lo, long hi, long *out);
int lg_cli_float(const char *cmd, const char *flag, const char *s, double lo, double hi,
                 double *out);
/* True when s is -h or --help. */
int lg_cli_is_help(const char *s);
/* The test split of a training data spec: "fashion[:DIR]" ->
 * "fashion-test[:DIR]", "cifar10:DIR" -> "cifar10-test:DIR", "stl10:DIR" ->
 * "stl10-test:DIR". 0 when the spec has none. */
int lg_cli_test_spec(const char *data, char *buf, size_t len);

/* --best (src/cli/best.c): RUN_DIR/best into buf when every level has a
 * best-model checkpoint there, else one line saying which is missing. */
lg_status lg_cli_best_dir(const char *run, char *buf, size_t len);

/* Option parsers of the subcommands, apart so they can be fuzzed: they
 * print usage errors but run nothing. They return LG_EXIT_OK,
 * LG_EXIT_USAGE (message printed) or LG_CLI_HELP (-h/--help seen). */
enum { LG_CLI_HELP = -1 };

typedef struct {
    const char *data, *preset, *model, *out, *filter, *momentum_style;
    int cc, dcgan, adam, authors_init, flip, resume, print_model, print_json, quiet, backend;
    int bf16; /* --precision bf16 */
    long levels_mask, steps, batch, threads, ckpt_every, sample_every, log_every;
    double epochs;
    unsigned long long seed;
    /* The validation split and best-model selection (val_set, every_set:
     * given on the command line; otherwise the defaults apply). */
    int val_set, val_every_set;
    long val, val_every, val_images, val_samples;
    double val_every_epochs;
    /* --force replaces the run in --out. preset_set, data_set, seed_set:
     * given on the command line; a --resume takes the run's own otherwise
     * (stored: its model, read from run.json by train_job). */
    int force, preset_set, data_set, seed_set;
    const lg_model_desc *stored;
} lg_train_opts;
int lg_cli_parse_train(int argc, char **argv, lg_train_opts *o);

typedef struct {
    const char *model, *out, *chain;
    long n, cls, per_row, rows, threads, seed;
    int best;                 /* --best: the weights of RUN_DIR/best/ */
    const char *from, *data;  /* --from LIST, --data SPEC: the variability figure */
    long variants;
    int bf16;                 /* --precision bf16 */
} lg_sample_opts;
/* sample --from/--variants (src/cli/sample_variants.c): rows of a real
 * image, its coarsest level I_K and `variants` draws of the finer levels
 * from that I_K, written to out. */
int lg_cli_sample_variants(const lg_sample_opts *o, lg_model *m, const char *weights,
                           const char *out);
int lg_cli_parse_sample(int argc, char **argv, lg_sample_opts *o);

int lg_cmd_selfcheck(int argc, char **argv);
int lg_cmd_pyramid(int argc, char **argv);
int lg_cmd_train(int argc, char **argv);
int lg_cmd_sample(int argc, char **argv);
int lg_cmd_info(int argc, char **argv);
int lg_cmd_diff(int argc, char **argv);
int lg_cmd_bench(int argc, char **argv);
int lg_cmd_classifier(int argc, char **argv);
int lg_cmd_serve(int argc, char **argv);
int lg_cmd_study(int argc, char **argv);
int lg_cmd_eval(int argc, char **argv);
/* eval fid|kid|prc|is (cmd_eval_fid.c), and what it shares with cmd_eval.c:
 * n samples clamped to [-1, 1] (class-conditional: classes 0, 1, ... in
 * turn) and the merge of one key into RUN_DIR/metrics.json (val stolen). */
int lg_cmd_eval_inception(int argc, char **argv);
struct json_t;
lg_status lg_cli_eval_draw(lg_model *m, int n, uint64_t seed, float *out, int *labels);
lg_status lg_cli_merge_metrics(const char *run_dir, const char *key, struct json_t *val);
/* eval nn --space (eval_nn_space.c): the space nearest neighbours are found
 * in. Images are rows [n, c, size, size] in [0, 1]. */
typedef enum { LG_NN_PIXEL, LG_NN_INCEPTION, LG_NN_CLASSIFIER, LG_NN_SPACE_COUNT } lg_nn_space;
typedef struct {
    lg_nn_space space;
    const char *classifier, *weights; /* --classifier; --weights (NULL: $LAPGAN_CACHE's) */
    lg_resize_kind resize;
    lg_inception *net;
    lg_classifier *clf;
    int dim, c, size; /* feature length; the images' channels and side */
} lg_nn_embed;
int lg_cli_nn_space_parse(const char *s); /* -1 when s names no space */
const char *lg_cli_nn_space_name(lg_nn_space s);
/* "pixels in [0, 1]", "Inception-v3 pool features (...)", ... into buf. */
const char *lg_cli_nn_space_label(const lg_nn_embed *e, char *buf, size_t len);
/* Loads the network of e->space for images c x size x size; sets e->dim. */
lg_status lg_cli_nn_embed_open(lg_nn_embed *e, int c, int size);
void lg_cli_nn_embed_close(lg_nn_embed *e);
/* *out: new [n, e->dim] features of x (lg_free), NULL in pixel space (the
 * rows are their own features). train: the training set, whose Inception
 * features come from and go to the cache, saying which on stdout. */
lg_status lg_cli_nn_embed(lg_nn_embed *e, const float *x, int n, const char *what, int train,
                          float **out);
int lg_cmd_report(int argc, char **argv);
int lg_cmd_export(int argc, char **argv);
#endif
