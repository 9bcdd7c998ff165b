/* Whole level training steps against PyTorch: tests/fixtures/level_*.safetensors,
 * written by tools/make_level_fixtures.py, rebuild an FC level, a conv level,
 * a class-conditional conv level and a --dcgan level in PyTorch and run three
 * steps (D update, then G update). Here lg_level_train_step runs the same
 * steps from the same weights and data, drawing its own noise and dropout
 * masks (the script reproduces lapgan's Philox), and after each step D's and
 * G's losses, D's accuracies, every weight, batch-norm buffer and optimiser
 * state tensor must agree to the rule of tests/fixture_agree.h. CPU and REF
 * backends. */
#include "fixture_agree.h"
#include "gan/level_internal.h"

/* The PyTorch fixtures are float32 results: they hold the float32 tables
 * (cpu, ref) to float32 tolerances. cpu-bf16 is held to the bounds that
 * bf16 rounding predicts, in test_bf16.c. */
#define LG_FP32_BACKENDS (LG_BACKEND_REF + 1)

#define FIXDIR "tests/fixtures/"

static const char *const part_names[LG_PART_COUNT] = {"G", "D", "GL", "DL"};

static int meta_int(const lg_safetensors *st, const char *key) {
    const char *v = lg_st_meta(st, key);
    CHECK_MSG(v != NULL, "%s: no \"%s\" metadata", g_fix, key);
    return v ? atoi(v) : -1;
}

/* "6,5" -> widths; returns the count. */
static int parse_list(const char *s, int *out, int cap) {
    int n = 0;
    for (const char *p = s; p && *p && n < cap; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        out[n++] = atoi(p);
    return n;
}

/* "zdim=1 g=6,6 d=6,5 gk=3 ..." (make_level_fixtures.py level_meta) -> l. */
static int parse_level(const char *text, lg_level_desc *l) {
    char buf[512];
    if (!text) return 0;
    snprintf(buf, sizeof buf, "%s", text);
    for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) return 0;
        *eq++ = 0;
        if (!strcmp(tok, "zdim")) l->zdim = atoi(eq);
        else if (!strcmp(tok, "g")) l->g_nw = parse_list(eq, l->g_width, LG_MAX_WIDTHS);
        else if (!strcmp(tok, "d")) l->d_nw = parse_list(eq, l->d_width, LG_MAX_WIDTHS);
        else if (!strcmp(tok, "gk")) l->g_kernel = atoi(eq);
        else if (!strcmp(tok, "gok")) l->g_out_kernel = atoi(eq);
        else if (!strcmp(tok, "dk")) l->d_kernel = atoi(eq);
        else if (!strcmp(tok, "dstride")) l->d_last_stride = atoi(eq);
        else if (!strcmp(tok, "gdrop")) l->g_dropout = (float)atof(eq);
        else if (!strcmp(tok, "ddrop")) l->d_dropout = (float)atof(eq);
        else if (!strcmp(tok, "gbn")) l->g_bn = atoi(eq);
        else if (!strcmp(tok, "dbn")) l->d_bn = atoi(eq);
        else return 0;
    }
    return 1;
}

/* The optimiser the fixture assumed ("sgd lr=0.02 momentum=0.5 ...") must be
 * the one the model description gives: a changed default recipe means the
 * fixture is stale, said plainly rather than as a weight mismatch. */
static int check_optim(const char *text, const lg_optim_cfg *o) {
    char buf[512];
    CHECK_MSG(text != NULL, "%s: no \"optim\" metadata", g_fix);
    if (!text) return 0;
    snprintf(buf, sizeof buf, "%s", text);
    char *save = NULL, *tok = strtok_r(buf, " ", &save);
    int ok = tok && !strcmp(tok, o->kind == LG_OPT_ADAM ? "adam" : "sgd");
    CHECK_MSG(ok, "%s: fixture optimiser '%s', the model's is %s", g_fix, text,
              o->kind == LG_OPT_ADAM ? "adam" : "sgd");
    const struct {
        const char *key;
        float v;
    } fields[] = {{"lr", o->lr},           {"momentum", o->momentum}, {"beta1", o->beta1},
                  {"beta2", o->beta2},     {"eps", o->eps},           {"lr_decay", o->lr_decay},
                  {"lr_min", o->lr_min},   {"mom_step", o->mom_step}, {"mom_max", o->mom_max},
                  {"weight_decay", o->weight_decay}};
    while (ok && (tok = strtok_r(NULL, " ", &save))) {
        char *eq = strchr(tok, '=');
        if (!eq) continue;
        *eq++ = 0;
        if (!strcmp(tok, "momentum_style")) {
            ok = !strcmp(eq, lg_sgd_style_name(o->sgd_style));
            CHECK_MSG(ok, "%s: fixture made with momentum style %s, the model has %s: "
                      "regenerate it (tools/make_level_fixtures.py)", g_fix, eq,
                      lg_sgd_style_name(o->sgd_style));
        }
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
            if (strcmp(tok, fields[i].key)) continue;
            double want = atof(eq);
            int same = fabs(fields[i].v - want) <= 1e-6 * fabs(want);
            CHECK_MSG(same, "%s: fixture made with %s=%s, the model has %g: regenerate it "
                      "(tools/make_level_fixtures.py)", g_fix, tok, eq, fields[i].v);
            ok = ok && same;
        }
    }
    return ok;
}

/* The fixture's model: two levels (conv at sizes[0], FC at sizes[1]),
 * area-bilinear pyramid, the preset recipe (the DCGAN one when asked). */
static int build_desc(const lg_safetensors *st, lg_model_desc *m) {
    CHECK_OK(lg_preset("tiny", m));
    int sizes[LG_PYR_MAX_LEVELS];
    m->levels = parse_list(lg_st_meta(st, "sizes"), sizes, LG_PYR_MAX_LEVELS);
    m->c = meta_int(st, "c");
    m->nclasses = meta_int(st, "nclasses");
    m->batch = meta_int(st, "batch");
    m->crop = 0;
    CHECK_OK(lg_pyr_filter_parse(lg_st_meta(st, "filter"), &m->filter));
    int ok = m->levels == 2;
    for (int j = 0; ok && j < m->levels; j++) {
        char key[16]; /* "l" and any int */
        snprintf(key, sizeof key, "l%d", j);
        memset(&m->level[j], 0, sizeof m->level[j]);
        m->level[j].size = sizes[j];
        m->level[j].fc = j == m->levels - 1;
        ok = parse_level(lg_st_meta(st, key), &m->level[j]);
    }
    CHECK_MSG(ok, "%s: bad level metadata", g_fix);
    if (meta_int(st, "dcgan") == 1) {
        lg_model_desc_dcgan(m);
        /* the fixture's Adam eps (make_level_fixtures.py DCGAN_EPS says why) */
        const char *eps = lg_st_meta(st, "adam_eps");
        CHECK_MSG(eps != NULL, "%s: no \"adam_eps\" metadata", g_fix);
        if (eps) m->opt.eps = (float)atof(eps);
    }
    CHECK_OK(lg_model_desc_validate(m));
    return ok && check_optim(lg_st_meta(st, "optim"), &m->opt);
}

/* Name of net tensor `t` of part p in the fixture: "<prefix>.<part>.<t>". */
static void tname(char *out, size_t cap, const char *prefix, int p, const char *t) {
    snprintf(out, cap, "%s.%s.%s", prefix, part_names[p], t);
}

static int count_prefix(const lg_safetensors *st, const char *prefix) {
    int n = 0;
    for (int i = 0; i < lg_st_count(st); i++)
        n += strncmp(lg_st_at(st, i)->name, prefix, strlen(prefix)) == 0;
    return n;
}

/* Copies p0.* / b0.* into the level's nets, checking both sides hold the
 * same tensors, and starts every net's RNG at the fixture's offset. */
static int load_level(lg_level *lv, const lg_safetensors *st) {
    int ok = 1, loaded = 0;
    const uint64_t offset = (uint64_t)meta_int(st, "rng_offset");
    for (int p = 0; p < LG_PART_COUNT; p++) {
        lg_net *net = lv->part[p].net;
        if (!net) continue;
        float *params = lg_net_params(net, NULL), *bufs = lg_net_buffers(net, NULL);
        for (int i = 0; i < lg_net_tensor_count(net); i++) {
            lg_net_tensor_info in;
            CHECK_OK(lg_net_tensor_info_at(net, i, &in));
            char name[128];
            tname(name, sizeof name, in.kind == 0 ? "p0" : "b0", p, in.name);
            const lg_st_tensor *t = lg_st_find(st, name);
            CHECK_MSG(t && t->numel == in.numel, "%s: level tensor %s (%zu values) has no "
                      "same-sized fixture tensor %s", g_fix, in.name, in.numel, name);
            if (!t || t->numel != in.numel) {
                ok = 0;
                continue;
            }
            memcpy((in.kind == 0 ? params : bufs) + in.offset, t->data, in.numel * sizeof(float));
            loaded++;
        }
        lg_net_rng(net)->offset = offset;
    }
    const int want = count_prefix(st, "p0.") + count_prefix(st, "b0.");
    CHECK_MSG(loaded == want, "%s: the level has %d tensors, the fixture %d", g_fix, loaded, want);
    return ok && loaded == want;
}

/* Whether net tensor `t` ("3.conv2d.bias") is the bias of a layer whose
 * output goes straight into a batch norm, which cancels it: its gradient is
 * zero, so PyTorch's float64 holds its optimiser state as ~1e-17 and ours is
 * float32 rounding noise, for which a relative error means nothing. */
static int feeds_batchnorm(lg_net *net, const char *t) {
    const char *dot = strrchr(t, '.');
    if (!dot || strcmp(dot, ".bias") != 0 || strstr(t, "batchnorm")) return 0;
    char next[64];
    snprintf(next, sizeof next, "%d.batchnorm.running_mean", atoi(t) + 1);
    for (int i = 0; i < lg_net_tensor_count(net); i++) {
        lg_net_tensor_info in;
        if (lg_net_tensor_info_at(net, i, &in) == LG_OK && !strcmp(in.name, next)) return 1;
    }
    return 0;
}

/* Largest |value| over the fixture tensors "<prefix>.<part>.*<suffix>". */
static double part_scale(const lg_safetensors *st, const char *prefix, int p, const char *suffix) {
    char head[64];
    snprintf(head, sizeof head, "%s.%s.", prefix, part_names[p]);
    double mx = 0;
    for (int i = 0; i < lg_st_count(st); i++) {
        const lg_st_tensor *t = lg_st_at(st, i);
        size_t nl = strlen(t->name), sl = strlen(suffix);
        if (strncmp(t->name, head, strlen(head)) || nl < sl || strcmp(t->name + nl - sl, suffix))
            continue;
        for (size_t k = 0; k < t->numel; k++) mx = fmax(mx, fabs(t->data[k]));
    }
    return mx;
}

/* A state tensor that should be zero (feeds_batchnorm): within 1e-4 of the
 * part's largest state value of the same kind, the rule's scale where the
 * tensor itself has none. */
static void agree_zero_state(const lg_safetensors *st, const char *name, const float *got,
                             size_t n, double scale) {
    const lg_st_tensor *t = lg_st_find(st, name);
    CHECK_MSG(t && t->numel == n, "%s [%s]: no %zu-value tensor %s", g_fix, g_backend, n, name);
    if (!t || t->numel != n) return;
    double worst = 0;
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)got[i] - t->data[i]));
    CHECK_MSG(worst <= REL_TOL * scale, "%s [%s] %s: off by %.3g, %.3g of the part's scale %.3g",
              g_fix, g_backend, name, worst, worst / scale, scale);
}

/* After step j: every parameter, buffer and optimiser state tensor. */
static void agree_level(lg_level *lv, const lg_safetensors *st, int j) {
    for (int p = 0; p < LG_PART_COUNT; p++) {
        lg_net *net = lv->part[p].net;
        if (!net) continue;
        size_t np, ns;
        const float *params = lg_net_params(net, &np), *bufs = lg_net_buffers(net, NULL);
        const float *state = lg_optim_state(lv->part[p].opt, &ns);
        const int adam = ns == 2 * np;
        for (int i = 0; i < lg_net_tensor_count(net); i++) {
            lg_net_tensor_info in;
            CHECK_OK(lg_net_tensor_info_at(net, i, &in));
            char prefix[16], name[128];
            snprintf(prefix, sizeof prefix, "s%d.%s", j, in.kind == 0 ? "p" : "b");
            tname(name, sizeof name, prefix, p, in.name);
            agree(st, name, (in.kind == 0 ? params : bufs) + in.offset, in.numel);
            if (in.kind != 0) continue;
            snprintf(prefix, sizeof prefix, "s%d.o", j);
            char base[96];
            tname(base, sizeof base, prefix, p, in.name);
            const int zero = feeds_batchnorm(net, in.name);
            for (int v = 0; v < 1 + adam; v++) {
                const char *what = v ? "v" : adam ? "m" : "momentum";
                const float *got = state + (v ? np : 0) + in.offset;
                char suffix[16];
                snprintf(name, sizeof name, "%s.%s", base, what);
                snprintf(suffix, sizeof suffix, ".%s", what);
                if (zero)
                    agree_zero_state(st, name, got, in.numel, part_scale(st, prefix, p, suffix));
                else
                    agree(st, name, got, in.numel);
            }
        }
    }
}

static void agree_scalar(const lg_safetensors *st, int j, const char *what, float v) {
    char name[64];
    snprintf(name, sizeof name, "s%d.%s", j, what);
    agree(st, name, &v, 1);
}

static void run_level_fixture(const char *fix, lg_backend_kind be) {
    char path[256];
    snprintf(path, sizeof path, FIXDIR "level_%s.safetensors", fix);
    lg_safetensors *st = NULL;
    CHECK_OK(lg_st_read(&st, path));
    if (!st) return;
    g_fix = fix;
    g_backend = lg_backend_name(be);
    lg_model_desc m;
    lg_level *lv = NULL;
    const int k = meta_int(st, "k"), batch = meta_int(st, "batch"), steps = meta_int(st, "steps");
    int epochs[16];
    const int ne = parse_list(lg_st_meta(st, "epochs"), epochs, 16);
    CHECK_MSG(steps > 0 && ne == steps, "%s: bad steps/epochs metadata", fix);
    if (build_desc(st, &m) && ne == steps)
        CHECK_OK(lg_level_new(&lv, &m, k, batch, (uint64_t)meta_int(st, "seed"), be));
    int *labels = lg_alloc(sizeof(int) * (batch > 0 ? batch : 1));
    if (lv && labels && load_level(lv, st)) {
        for (int j = 1; j <= steps; j++) {
            char nm[32];
            snprintf(nm, sizeof nm, "s%d.x", j);
            const lg_st_tensor *x = lg_st_find(st, nm);
            snprintf(nm, sizeof nm, "s%d.y", j);
            const lg_st_tensor *y = lg_st_find(st, nm);
            const size_t s0 = (size_t)m.level[0].size;
            CHECK_MSG(x && y && x->numel == (size_t)batch * m.c * s0 * s0 &&
                          y->numel == (size_t)batch, "%s: bad step %d data", fix, j);
            if (!x || !y || x->numel != (size_t)batch * m.c * s0 * s0 || y->numel != (size_t)batch)
                break;
            for (int i = 0; i < batch; i++) labels[i] = (int)y->data[i];
            lg_level_stats s = {0};
            CHECK_OK(lg_level_train_step(lv, x->data, m.nclasses ? labels : NULL, batch,
                                         epochs[j - 1], &s));
            agree_scalar(st, j, "d_loss", s.d_loss);
            agree_scalar(st, j, "g_loss", s.g_loss);
            agree_scalar(st, j, "d_real_acc", s.d_real_acc);
            agree_scalar(st, j, "d_fake_acc", s.d_fake_acc);
            agree_level(lv, st, j);
        }
    }
    lg_free(labels);
    lg_level_free(lv);
    lg_st_free(st);
}

static void run_all(const char *fix) {
    for (int b = 0; b < LG_FP32_BACKENDS; b++) run_level_fixture(fix, (lg_backend_kind)b);
}

static void test_level_fc(void) { run_all("fc"); }
static void test_level_conv(void) { run_all("conv"); }
static void test_level_conv_cc(void) { run_all("conv_cc"); }
static void test_level_dcgan(void) { run_all("dcgan"); }

int main(void) {
    RUN(test_level_fc);
    RUN(test_level_conv);
    RUN(test_level_conv_cc);
    RUN(test_level_dcgan);
    return TEST_END();
}
