/* The paper's SGD recipe against tests/fixtures/optim_sgd.safetensors
 * (tools/make_sgd_fixture.py): Torch7's optim.sgd, as the LAPGAN authors
 * call it (dampening = momentum), and torch.optim.SGD for the pytorch
 * momentum style, over several steps of a real gradient trajectory with the
 * lr/momentum schedule moving between steps. Each step replays the
 * fixture's float32 gradient through lg_optim_step at the fixture's epoch
 * and compares the parameters and the momentum buffer.
 *
 * Agreement rule as tests/test_fixtures.c: per element
 * |ours - torch| <= 1e-4 * (|torch| + 1e-2 * max|torch|). */
#include "test.h"

#define FIXTURE "tests/fixtures/optim_sgd.safetensors"
#define REL_TOL 1e-4
#define FLOOR_FRAC 1e-2
#define MAX_STEPS 16

typedef struct {
    lg_optim_cfg cfg;
    double epoch[MAX_STEPS];
    int steps;
    long t; /* steps that wrote the momentum buffer */
} sgd_case;

/* Largest error of got against the fixture tensor under the rule above
 * (INFINITY when the tensor is missing or its size differs). */
static double rel_err(const lg_safetensors *st, const char *name, const float *got, size_t n) {
    const lg_st_tensor *t = lg_st_find(st, name);
    if (!t || t->numel != n) return INFINITY;
    double mx = 0, worst = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(t->data[i]));
    for (size_t i = 0; i < n; i++) {
        const double d = fabs((double)got[i] - t->data[i]);
        double e = d == 0 ? 0 : d / (fabs(t->data[i]) + FLOOR_FRAC * mx); /* an all-zero buffer */
        if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
    }
    return worst;
}

/* "style=torch7 lr=0.02 momentum=0.5 ... epochs=0,0,1 t=3" -> c. */
static int parse_case(const char *text, sgd_case *c) {
    memset(c, 0, sizeof *c);
    c->cfg.kind = LG_OPT_SGD;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text ? text : "");
    int seen = 0;
    for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) return 0;
        *eq++ = 0;
        float v = strtof(eq, NULL);
        lg_optim_cfg *o = &c->cfg;
        if (!strcmp(tok, "style")) {
            if (lg_sgd_style_parse(eq, &o->sgd_style) != LG_OK) return 0;
        } else if (!strcmp(tok, "lr")) o->lr = v;
        else if (!strcmp(tok, "momentum")) o->momentum = v;
        else if (!strcmp(tok, "weight_decay")) o->weight_decay = v;
        else if (!strcmp(tok, "lr_decay")) o->lr_decay = v;
        else if (!strcmp(tok, "lr_min")) o->lr_min = v;
        else if (!strcmp(tok, "mom_step")) o->mom_step = v;
        else if (!strcmp(tok, "mom_max")) o->mom_max = v;
        else if (!strcmp(tok, "t")) c->t = atol(eq);
        else if (!strcmp(tok, "epochs")) {
            for (char *s2 = NULL, *e = strtok_r(eq, ",", &s2); e && c->steps < MAX_STEPS;
                 e = strtok_r(NULL, ",", &s2))
                c->epoch[c->steps++] = atof(e);
        } else return 0;
        seen++;
    }
    return seen == 10 && c->steps > 0;
}

/* Replays case `name` with cfg; returns the worst error over every step's
 * parameters and buffer (and sets *t to the optimiser's step count). */
static double replay(const lg_safetensors *st, const char *name, const sgd_case *c,
                     const lg_optim_cfg *cfg, int64_t *t) {
    char nm[64];
    snprintf(nm, sizeof nm, "%s.p0", name);
    const lg_st_tensor *p0 = lg_st_find(st, nm);
    CHECK_MSG(p0 != NULL, "%s: no %s", FIXTURE, nm);
    if (!p0) return INFINITY;
    const size_t n = p0->numel;
    float *p = lg_alloc_floats(n);
    lg_optim *o = NULL;
    double worst = INFINITY;
    if (p) CHECK_OK(lg_optim_new(&o, cfg, n));
    if (o) {
        memcpy(p, p0->data, n * sizeof(float));
        worst = 0;
        for (int k = 1; k <= c->steps; k++) {
            snprintf(nm, sizeof nm, "%s.s%d.g", name, k);
            const lg_st_tensor *g = lg_st_find(st, nm);
            if (!g || g->numel != n) {
                worst = INFINITY;
                break;
            }
            CHECK_OK(lg_optim_step(o, p, g->data, c->epoch[k - 1]));
            size_t nv;
            const float *v = lg_optim_state(o, &nv);
            snprintf(nm, sizeof nm, "%s.s%d.p", name, k);
            worst = fmax(worst, rel_err(st, nm, p, n));
            snprintf(nm, sizeof nm, "%s.s%d.v", name, k);
            worst = fmax(worst, nv == n ? rel_err(st, nm, v, n) : INFINITY);
        }
        *t = *lg_optim_t(o);
    }
    lg_optim_free(o);
    lg_free(p);
    return worst;
}

static lg_safetensors *open_fixture(void) {
    lg_safetensors *st = NULL;
    CHECK_OK(lg_st_read(&st, FIXTURE));
    return st;
}

/* Every case agrees with PyTorch (and so with optim.sgd) at every step. */
static void test_cases(void) {
    lg_safetensors *st = open_fixture();
    if (!st) return;
    const char *cases = lg_st_meta(st, "cases");
    CHECK_MSG(cases != NULL, "%s: no 'cases' metadata", FIXTURE);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", cases ? cases : "");
    int ncase = 0;
    for (char *save = NULL, *name = strtok_r(buf, ",", &save); name;
         name = strtok_r(NULL, ",", &save), ncase++) {
        sgd_case c;
        CHECK_MSG(parse_case(lg_st_meta(st, name), &c), "%s: bad metadata for case %s", FIXTURE,
                  name);
        int64_t t = -1;
        double e = replay(st, name, &c, &c.cfg, &t);
        CHECK_MSG(e <= REL_TOL, "case %s (%s): max rel err %.3g", name,
                  lg_sgd_style_name(c.cfg.sgd_style), e);
        CHECK_MSG(t == c.t, "case %s: %lld buffer writes, torch %ld", name, (long long)t, c.t);
    }
    CHECK(ncase == 4);
    lg_st_free(st);
}

/* The presets' recipe is the fixture's "paper" case, and the fixture tells
 * the two momentum styles apart (a 2x step at momentum 0.5). */
static void test_paper_preset(void) {
    lg_safetensors *st = open_fixture();
    if (!st) return;
    sgd_case c;
    CHECK(parse_case(lg_st_meta(st, "paper"), &c));
    const char *presets[] = {"cifar10", "fashion", "stl10", "lsun64"};
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        lg_model_desc m;
        CHECK_OK(lg_preset(presets[i], &m));
        const lg_optim_cfg *o = &m.opt;
        CHECK_MSG(o->kind == LG_OPT_SGD && o->sgd_style == LG_SGD_TORCH7 && o->lr == c.cfg.lr &&
                      o->momentum == c.cfg.momentum && o->weight_decay == 0 &&
                      o->lr_decay == c.cfg.lr_decay && o->lr_min == c.cfg.lr_min &&
                      o->mom_step == c.cfg.mom_step && o->mom_max == c.cfg.mom_max,
                  "preset %s: optimiser is not the paper's recipe", presets[i]);
        int64_t t;
        CHECK_MSG(replay(st, "paper", &c, o, &t) <= REL_TOL, "preset %s: SGD steps differ from "
                  "Torch7's optim.sgd", presets[i]);
    }
    lg_optim_cfg pt = c.cfg;
    pt.sgd_style = LG_SGD_PYTORCH;
    int64_t t;
    CHECK_MSG(replay(st, "paper", &c, &pt, &t) > 0.1,
              "PyTorch-style momentum should not match optim.sgd's trajectory");
    lg_st_free(st);
}

static void test_style_names(void) {
    lg_sgd_style s = LG_SGD_PYTORCH;
    CHECK_OK(lg_sgd_style_parse("torch7", &s));
    CHECK(s == LG_SGD_TORCH7 && !strcmp(lg_sgd_style_name(s), "torch7"));
    CHECK_OK(lg_sgd_style_parse("pytorch", &s));
    CHECK(s == LG_SGD_PYTORCH && !strcmp(lg_sgd_style_name(s), "pytorch"));
    CHECK_ERR(lg_sgd_style_parse("Torch7", &s), LG_ERR_ARG);
    CHECK(strstr(lg_errmsg(), "torch7 or pytorch") != NULL);
    lg_optim_cfg bad = {.kind = LG_OPT_SGD, .sgd_style = (lg_sgd_style)7, .lr = 0.1f};
    lg_optim *o = NULL;
    CHECK_ERR(lg_optim_new(&o, &bad, 4), LG_ERR_ARG);
    CHECK(o == NULL);
}

/* The authors' epoch: one pass of the batch's real half, ceil(n / (B/2)). */
static void test_epoch_length(void) {
    CHECK(lg_train_steps_per_epoch(45000, 128) == 704);
    CHECK(lg_train_steps_per_epoch(40, 16) == 5);
    CHECK(lg_train_steps_per_epoch(41, 16) == 6);
    CHECK_NEAR(lg_train_epoch(1408, 45000, 128), 2.0, 1e-12);
    CHECK_NEAR(lg_train_epoch(703, 45000, 128), 703.0 / 704, 1e-12);
}

int main(void) {
    RUN(test_cases);
    RUN(test_paper_preset);
    RUN(test_style_names);
    RUN(test_epoch_length);
    return TEST_END();
}
