/* Model description files (src/gan/model_json.c): files and checkpoints
 * written by the previous release (tests/fixtures/release-0.1.0, format
 * lapgan-model-1) still load with the meaning they had; every key is
 * checked against the table (type, range, allowed names), unknown,
 * duplicate and missing keys are refused, each with one message naming the
 * file, the key and what is allowed; 0 is a real value in the current
 * format. */
#include "test.h"

#define OLD "tests/fixtures/release-0.1.0/"

static char *to_json(const lg_model_desc *m) {
    char *j = NULL;
    CHECK_OK(lg_model_desc_to_json(m, &j));
    return j;
}

/* Same description, compared as the JSON both write. */
static int same_desc(const lg_model_desc *a, const lg_model_desc *b) {
    char *ja = to_json(a), *jb = to_json(b);
    int same = ja && jb && !strcmp(ja, jb);
    if (!same) fprintf(stderr, "  %s\n  %s\n", ja ? ja : "?", jb ? jb : "?");
    free(ja);
    free(jb);
    return same;
}

/* The previous release's cifar10 file: its SGD had PyTorch's momentum and
 * 0 stood for Adam's default betas/eps; otherwise it is today's preset. */
static void test_old_cifar10_file(void) {
    lg_model_desc m, p;
    CHECK_OK(lg_model_desc_load(&m, OLD "cifar10.json"));
    CHECK_OK(lg_preset("cifar10", &p));
    CHECK(m.opt.kind == LG_OPT_SGD && m.opt.sgd_style == LG_SGD_PYTORCH);
    CHECK(m.opt.beta1 == LG_ADAM_BETA1 && m.opt.beta2 == LG_ADAM_BETA2 && m.opt.eps == LG_ADAM_EPS);
    CHECK(m.opt.mom_max == 0.8f);
    m.opt.sgd_style = LG_SGD_TORCH7;
    CHECK(same_desc(&m, &p));
}

/* --preset fashion --dcgan of the previous release: Adam, whose mom_max 0
 * meant "no cap" (it is 1 now); equal to today's preset with the recipe. */
static void test_old_dcgan_file(void) {
    lg_model_desc m, p;
    CHECK_OK(lg_model_desc_load(&m, OLD "fashion_dcgan.json"));
    CHECK_OK(lg_preset("fashion", &p));
    lg_model_desc_dcgan(&p);
    CHECK(m.opt.kind == LG_OPT_ADAM && m.opt.beta1 == 0.5f && m.opt.mom_max == 1.0f);
    CHECK(same_desc(&m, &p));
}

/* Checkpoints of the previous release load into a level built from their
 * own description. */
static void test_old_checkpoints(void) {
    const char *files[] = {OLD "tiny_adam/level_2.safetensors", OLD "tiny_sgd/level_2.safetensors"};
    for (int i = 0; i < 2; i++) {
        lg_model_desc m;
        int level = -1;
        int64_t step = -1;
        CHECK_OK(lg_checkpoint_peek(files[i], &m, &level, &step));
        CHECK(level == 2 && step == 3 && m.opt.kind == (i ? LG_OPT_SGD : LG_OPT_ADAM));
        CHECK(m.opt.sgd_style == LG_SGD_PYTORCH);
        lg_level *lv = NULL;
        CHECK_OK(lg_level_new(&lv, &m, 2, m.batch, 4, LG_BACKEND_CPU));
        lg_level_extra ex;
        memset(&ex, 0, sizeof ex);
        if (lv) CHECK_OK(lg_level_load(lv, &ex, files[i]));
        CHECK(lv && lg_level_step_count(lv) == 3);
        lg_level_free(lv);
    }
}

/* Every preset survives write -> read -> write unchanged. */
static void test_presets_round_trip(void) {
    char names[512];
    snprintf(names, sizeof names, "%s", lg_preset_names());
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(names, ", ", &save); tok;
         tok = strtok_r(NULL, ", ", &save), n++) {
        lg_model_desc m, back;
        CHECK_OK(lg_preset(tok, &m));
        char *j = to_json(&m);
        if (!j) continue;
        CHECK(strstr(j, "\"format\":\"lapgan-model-5\"") != NULL);
        CHECK_OK(lg_model_desc_from_json(&back, j, tok));
        CHECK_MSG(same_desc(&m, &back), "preset %s", tok);
        free(j);
    }
    CHECK(n >= 6);
}

/* Replaces the first `from` in the tiny preset's JSON with `to`. */
static char *edited(const char *from, const char *to) {
    lg_model_desc m;
    CHECK_OK(lg_preset("tiny", &m));
    char *j = NULL;
    CHECK_OK(lg_model_desc_to_json(&m, &j));
    const char *at = j ? strstr(j, from) : NULL;
    CHECK_MSG(at != NULL, "'%s' not in the tiny preset's JSON", from);
    char *out = NULL;
    if (at) {
        const int head = (int)(at - j);
        const size_t n = strlen(j) - strlen(from) + strlen(to) + 1;
        out = malloc(n);
        if (out) snprintf(out, n, "%.*s%s%s", head, j, to, j + head + strlen(from));
    }
    free(j);
    return out;
}

/* The edit is refused with a message holding each of want[]. */
static void refused(const char *from, const char *to, const char *const *want, int nwant) {
    char *j = edited(from, to);
    if (!j) return;
    lg_model_desc m;
    CHECK_ERR(lg_model_desc_from_json(&m, j, "my.json"), LG_ERR_FORMAT);
    const char *msg = lg_errmsg();
    CHECK_MSG(!strncmp(msg, "my.json: ", 9) && !strchr(msg, '\n'), "'%s' -> '%s': %s", from, to,
              msg);
    for (int i = 0; i < nwant; i++)
        CHECK_MSG(strstr(msg, want[i]) != NULL, "'%s' -> '%s': message '%s' lacks '%s'", from, to,
                  msg, want[i]);
    free(j);
}

#define REFUSED(from, to, ...)                                                        \
    do {                                                                              \
        const char *const w_[] = {__VA_ARGS__};                                       \
        refused(from, to, w_, (int)(sizeof w_ / sizeof w_[0]));                       \
    } while (0)

static void test_bad_values(void) {
    REFUSED("\"kind\":\"sgd\"", "\"kind\":\"Adam\"", "'optim.kind'", "\"Adam\"",
            "one of: sgd, adam");
    REFUSED("\"init\":\"torch\"", "\"init\":\"Normal\"", "'init'", "one of: torch, normal");
    REFUSED("\"filter\":\"binomial\"", "\"filter\":\"gauss\"", "'filter'", "binomial");
    REFUSED("\"momentum_style\":\"torch7\"", "\"momentum_style\":\"torch\"",
            "'optim.momentum_style'", "one of: pytorch, torch7");
    REFUSED("\"lr\":0.0199", "\"lr\":20.0199", "'optim.lr'", "(0, 10)");
    REFUSED("\"lr\":0.0199", "\"lr\":-0.0199", "'optim.lr'");
    REFUSED("\"beta1\":0.899", "\"beta1\":1.899", "'optim.beta1'", "[0, 1)");
    REFUSED("\"crop\":0", "\"crop\":\"none\"", "'crop'", "an integer in [0, 4096]");
    REFUSED("\"batch\":16", "\"batch\":16.5", "'batch'", "integer");
    REFUSED("\"g_bn\":false", "\"g_bn\":0", "'levels[0].g_bn'", "true or false");
    REFUSED("\"d_dropout\":0.5", "\"d_dropout\":1.0", "'levels[0].d_dropout'", "[0, 1)");
    REFUSED("\"g_width\":[8,8]", "\"g_width\":[8,0]", "'levels[0].g_width'", "1 to 6 integers");
    REFUSED("\"g_width\":[8,8]", "\"g_width\":[]", "'levels[0].g_width'");
    REFUSED("\"noise\":[-1.0,1.0]", "\"noise\":[-1.0]", "'noise'", "[lo, hi]");
    REFUSED("\"name\":\"tiny\"", "\"name\":\"a-name-longer-than-thirty-one-chars\"", "'name'",
            "1 to 31 characters");
    REFUSED("\"format\":\"lapgan-model-5\"", "\"format\":\"lapgan-model-6\"", "lapgan-model-6",
            "lapgan-model-1 to lapgan-model-5");
    REFUSED("\"arch\":\"plain\"", "\"arch\":\"large\"", "'levels[0].arch'",
            "one of: plain, lsun_large");
    REFUSED("\"flip\":0", "\"flip\":2", "'flip'", "an integer in [0, 1]");
    REFUSED("\"d_init_scale\":1.0", "\"d_init_scale\":0.0", "'d_init_scale'", "(0, 100]");
    /* The table's ranges, then how values fit together (validate). */
    REFUSED("\"channels\":1", "\"channels\":2", "channels must be 1 or 3");
}

static void test_bad_keys(void) {
    REFUSED("\"g_bn\":false", "\"g_bn\":false,\"g_bn2\":true", "unknown model key 'levels[0].g_bn2'",
            "known: size, fc");
    REFUSED("\"kind\":\"sgd\"", "\"kind\":\"sgd\",\"Kind\":\"adam\"", "'optim.Kind'");
    REFUSED("\"crop\":0", "\"crop\":0,\"crops\":0", "'crops'", "format, optim, levels, name");
    REFUSED("\"crop\":0,", "", "'crop' is missing", "lapgan-model-5");
    REFUSED(",\"arch\":\"plain\"", "", "'levels[0].arch' is missing");
    REFUSED("\"flip\":0,", "", "'flip' is missing");
    REFUSED(",\"d_init_scale\":1.0", "", "'d_init_scale' is missing");
    REFUSED(",\"momentum_style\":\"torch7\"", "", "'optim.momentum_style' is missing");
    REFUSED("\"crop\":0", "\"crop\":0,\"crop\":28", "duplicate");
    /* A format 2 file has no d_init_scale, a format 1 file no momentum_style
     * either (they mean 1 and pytorch there). */
    char *j = edited("\"format\":\"lapgan-model-5\"", "\"format\":\"lapgan-model-3\"");
    lg_model_desc m;
    CHECK_ERR(lg_model_desc_from_json(&m, j ? j : "", "v3.json"), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), "unknown model key 'flip' in format lapgan-model-3"));
    free(j);
    j = edited("\"format\":\"lapgan-model-5\"", "\"format\":\"lapgan-model-4\"");
    CHECK_ERR(lg_model_desc_from_json(&m, j ? j : "", "v4.json"), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), "unknown model key 'levels[0].arch' in format lapgan-model-4"));
    free(j);
}

/* 0 is a value in format 2 (Adam's beta1 = 0); in format 1 it stood for
 * the default. */
static void test_zero_is_a_value(void) {
    char *j = edited("\"beta1\":0.89999997615814209", "\"beta1\":0.0");
    lg_model_desc m;
    memset(&m, 0xff, sizeof m);
    if (j) CHECK_OK(lg_model_desc_from_json(&m, j, "zero.json"));
    CHECK(m.opt.beta1 == 0);
    free(j);
    lg_model_desc old;
    CHECK_OK(lg_model_desc_load(&old, OLD "cifar10.json"));
    CHECK(old.opt.beta1 == LG_ADAM_BETA1); /* its "beta1":0.0 */
}

/* What validates can be written and read back: the table's ranges hold
 * for descriptions built in code too (a checkpoint is never unloadable). */
static void test_validate_uses_the_table(void) {
    lg_model_desc m;
    CHECK_OK(lg_preset("tiny", &m));
    m.opt.weight_decay = 200;
    CHECK_ERR(lg_model_desc_validate(&m), LG_ERR_ARG);
    CHECK(strstr(lg_errmsg(), "model 'tiny': model key 'optim.weight_decay' is 200"));
    CHECK_OK(lg_preset("tiny", &m));
    m.name[0] = 0;
    CHECK_ERR(lg_model_desc_validate(&m), LG_ERR_ARG);
    CHECK(strstr(lg_errmsg(), "'name'"));
    CHECK_OK(lg_preset("tiny", &m));
    m.level[1].g_kernel = 101;
    CHECK_ERR(lg_model_desc_validate(&m), LG_ERR_ARG);
    CHECK(strstr(lg_errmsg(), "'levels[1].g_kernel'"));
}

int main(void) {
    RUN(test_old_cifar10_file);
    RUN(test_old_dcgan_file);
    RUN(test_old_checkpoints);
    RUN(test_presets_round_trip);
    RUN(test_bad_values);
    RUN(test_bad_keys);
    RUN(test_zero_is_a_value);
    RUN(test_validate_uses_the_table);
    return TEST_END();
}
