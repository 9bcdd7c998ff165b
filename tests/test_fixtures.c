/* Agreement with PyTorch: every layer, the concat and BCE ops, a LAPGAN
 * generator and a discriminator training step (SGD and Adam) against the
 * fixtures tools/make_fixtures.py wrote (tests/fixtures/README.md). Each net
 * fixture runs on the CPU and REF backends through the public API only.
 *
 * Agreement rule: tests/fixture_agree.h (1e-4 relative, with a floor of
 * 1e-6 of the tensor's largest magnitude). */
#include "fixture_agree.h"

/* The PyTorch fixtures are float32 results: they hold the float32 tables
 * (cpu, ref) to float32 tolerances. cpu-bf16 is held to the bounds that
 * bf16 rounding predicts, in test_bf16.c. */
#define LG_FP32_BACKENDS (LG_BACKEND_REF + 1)

#define FIXDIR "tests/fixtures/"
#define MAX_LAYERS 16

static lg_safetensors *open_fixture(const char *name) {
    char path[256];
    snprintf(path, sizeof path, FIXDIR "nn_%s.safetensors", name);
    lg_safetensors *st = NULL;
    CHECK_OK(lg_st_read(&st, path));
    g_fix = name;
    return st;
}

/* "conv2d out=4 k=5 stride=1 pad=2; relu" -> specs. */
static int parse_layers(const char *text, lg_layer_spec *specs) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text ? text : "");
    int n = 0;
    for (char *save1 = NULL, *item = strtok_r(buf, ";", &save1); item;
         item = strtok_r(NULL, ";", &save1)) {
        if (n == MAX_LAYERS) return -1;
        lg_layer_spec *s = &specs[n];
        memset(s, 0, sizeof *s);
        char *save2 = NULL, *tok = strtok_r(item, " ", &save2);
        int k = 0;
        while (tok && k < LG_LAYER_KIND_COUNT && strcmp(tok, lg_layer_kind_name(k)) != 0) k++;
        if (!tok || k == LG_LAYER_KIND_COUNT) return -1;
        *s = lg_layer_defaults((lg_layer_kind)k); /* the fixtures' torch defaults */
        while ((tok = strtok_r(NULL, " ", &save2))) {
            char *eq = strchr(tok, '=');
            if (!eq) return -1;
            *eq = 0;
            double v = atof(eq + 1);
            if (!strcmp(tok, "out")) s->out = (int)v;
            else if (!strcmp(tok, "k")) s->k = (int)v;
            else if (!strcmp(tok, "stride")) s->stride = (int)v;
            else if (!strcmp(tok, "pad")) s->pad = (int)v;
            else if (!strcmp(tok, "groups")) s->groups = (int)v;
            else if (!strcmp(tok, "c")) s->c = (int)v;
            else if (!strcmp(tok, "h")) s->h = (int)v;
            else if (!strcmp(tok, "w")) s->w = (int)v;
            else if (!strcmp(tok, "no_bias")) s->no_bias = (int)v;
            else if (!strcmp(tok, "no_affine")) s->no_affine = (int)v;
            else if (!strcmp(tok, "slope")) s->slope = (float)v;
            else return -1;
        }
        n++;
    }
    return n;
}

/* Builds the fixture's net for input tensor x ([n, c], [n, c, h, w], ...). */
static lg_net *build_net(const lg_safetensors *st, const lg_st_tensor *x, lg_backend_kind be) {
    lg_layer_spec specs[MAX_LAYERS];
    int nl = parse_layers(lg_st_meta(st, "layers"), specs);
    CHECK_MSG(nl > 0, "%s: bad \"layers\" metadata", g_fix);
    if (nl <= 0 || !x) return NULL;
    lg_net_cfg cfg = {.c = (int)x->shape[1],
                      .h = x->ndim > 2 ? (int)x->shape[2] : 1,
                      .w = x->ndim > 3 ? (int)x->shape[3] : 1,
                      .max_batch = (int)x->shape[0],
                      .seed = 1,
                      .backend = be};
    lg_net *net = NULL;
    CHECK_OK(lg_net_new(&net, specs, nl, &cfg));
    return net;
}

/* "<prefix>.<layer>.<what>" for net tensor "<layer>.<kind>.<what>". */
static void fixture_name(char *out, size_t cap, const char *prefix, const char *net_name) {
    const char *what = strrchr(net_name, '.');
    snprintf(out, cap, "%s.%d%s", prefix, atoi(net_name), what ? what : "");
}

static int count_prefix(const lg_safetensors *st, const char *prefix) {
    int n = 0;
    for (int i = 0; i < lg_st_count(st); i++)
        n += strncmp(lg_st_at(st, i)->name, prefix, strlen(prefix)) == 0;
    return n;
}

/* Copies fixture parameters ("p.*") and batch-norm statistics ("b0.*") into
 * the net, checking that the two sides have the same tensors and shapes. */
static int load_state(lg_net *net, const lg_safetensors *st, const char *pprefix) {
    float *params = lg_net_params(net, NULL), *bufs = lg_net_buffers(net, NULL);
    int np = 0, ok = 1;
    for (int i = 0; i < lg_net_tensor_count(net); i++) {
        lg_net_tensor_info in;
        CHECK_OK(lg_net_tensor_info_at(net, i, &in));
        char name[96];
        fixture_name(name, sizeof name, in.kind == 0 ? pprefix : "b0", in.name);
        const lg_st_tensor *t = lg_st_find(st, name);
        int same = t && t->ndim == in.ndim && t->numel == in.numel;
        for (int d = 0; same && d < in.ndim; d++) same = t->shape[d] == in.shape[d];
        CHECK_MSG(same, "%s: net tensor %s (%zu values) has no same-shaped fixture tensor %s",
                  g_fix, in.name, in.numel, name);
        if (!same) {
            ok = 0;
            continue;
        }
        memcpy((in.kind == 0 ? params : bufs) + in.offset, t->data, in.numel * sizeof(float));
        np += in.kind == 0;
    }
    char dotted[16];
    snprintf(dotted, sizeof dotted, "%s.", pprefix);
    CHECK_MSG(np == count_prefix(st, dotted), "%s: net has %d parameter tensors, fixture %d",
              g_fix, np, count_prefix(st, dotted));
    return ok && np == count_prefix(st, dotted);
}

/* Compares every net tensor of a kind with "<prefix>.<layer>.<what>". */
static void agree_state(lg_net *net, const lg_safetensors *st, int kind, const char *prefix,
                        const float *base) {
    for (int i = 0; i < lg_net_tensor_count(net); i++) {
        lg_net_tensor_info in;
        CHECK_OK(lg_net_tensor_info_at(net, i, &in));
        if (in.kind != kind) continue;
        char name[96];
        fixture_name(name, sizeof name, prefix, in.name);
        agree(st, name, base + in.offset, in.numel);
    }
}

static void run_net_fixture(const char *fix, lg_backend_kind be) {
    lg_safetensors *st = open_fixture(fix);
    if (!st) return;
    g_backend = lg_backend_name(be);
    const lg_st_tensor *x = lg_st_find(st, "x"), *dy = lg_st_find(st, "dy");
    CHECK_MSG(x && dy, "%s: no x or dy", fix);
    lg_net *net = x && dy ? build_net(st, x, be) : NULL;
    float *dx = x ? lg_alloc_floats(x->numel) : NULL;
    if (net && dx && load_state(net, st, "p")) {
        const char *tr = lg_st_meta(st, "train");
        const float *y = NULL;
        lg_net_zero_grad(net);
        CHECK_OK(lg_net_forward(net, x->data, (int)x->shape[0], tr && atoi(tr), &y));
        int c, h, w;
        lg_net_out_shape(net, &c, &h, &w);
        if (y) agree(st, "y", y, (size_t)x->shape[0] * c * h * w);
        CHECK_OK(lg_net_backward(net, dy->data, dx, 1));
        agree(st, "dx", dx, x->numel);
        agree_state(net, st, 0, "g", lg_net_grads(net, NULL));
        agree_state(net, st, 1, "b", lg_net_buffers(net, NULL));
    }
    lg_free(dx);
    lg_net_free(net);
    lg_st_free(st);
}

static void run_net_fixtures(const char *const *names, int n) {
    for (int b = 0; b < LG_FP32_BACKENDS; b++)
        for (int i = 0; i < n; i++) run_net_fixture(names[i], (lg_backend_kind)b);
}

static void test_linear(void) {
    static const char *const f[] = {"linear", "linear_nobias"};
    run_net_fixtures(f, 2);
}

static void test_conv2d(void) {
    static const char *const f[] = {"conv5x5_pad2", "conv3x3_s2", "conv7x7_pad3", "conv5x5_g4"};
    run_net_fixtures(f, 4);
}

static void test_activations(void) {
    static const char *const f[] = {"relu", "leaky_relu", "sigmoid", "tanh"};
    run_net_fixtures(f, 4);
}

static void test_batchnorm(void) {
    static const char *const f[] = {"batchnorm1d", "batchnorm2d", "batchnorm2d_noaffine",
                                    "batchnorm2d_eval"};
    run_net_fixtures(f, 4);
}

static void test_shape_layers(void) {
    static const char *const f[] = {"flatten", "reshape", "upsample_nearest",
                                    "upsample_bilinear", "feature_l2pool"};
    run_net_fixtures(f, 5);
}

static void test_composite_nets(void) {
    static const char *const f[] = {"generator", "mlp_bn", "lsun_block"};
    run_net_fixtures(f, 3);
}

/* "sgd lr=0.02 momentum=0.5" / "adam lr=0.0002 beta1=0.5". */
static int parse_optim(const char *s, lg_optim_cfg *cfg) {
    memset(cfg, 0, sizeof *cfg);
    if (!s) return 0;
    float a, b;
    if (sscanf(s, "sgd lr=%f momentum=%f", &a, &b) == 2) {
        *cfg = lg_optim_defaults(LG_OPT_SGD, a); /* torch.optim.SGD: dampening 0 */
        cfg->momentum = b;
    } else if (sscanf(s, "adam lr=%f beta1=%f", &a, &b) == 2) {
        *cfg = lg_optim_defaults(LG_OPT_ADAM, a);
        cfg->beta1 = b;
    } else {
        return 0;
    }
    return 1;
}

/* D steps exactly as a training loop does them: forward on half real / half
 * fake, mean BCE on logits, backward, optimiser; twice, so momentum and
 * Adam's moment estimates carry over. */
static void run_dstep_fixture(const char *fix, lg_backend_kind be) {
    lg_safetensors *st = open_fixture(fix);
    if (!st) return;
    g_backend = lg_backend_name(be);
    const lg_st_tensor *x1 = lg_st_find(st, "s1.x"), *t = lg_st_find(st, "t");
    const char *steps_s = lg_st_meta(st, "steps");
    int steps = steps_s ? atoi(steps_s) : 0;
    lg_optim_cfg oc;
    CHECK_MSG(x1 && t && steps > 0 && parse_optim(lg_st_meta(st, "optim"), &oc),
              "%s: incomplete fixture", fix);
    lg_net *net = x1 && t && steps > 0 ? build_net(st, x1, be) : NULL;
    lg_optim *opt = NULL;
    size_t np = 0;
    float *params = net ? lg_net_params(net, &np) : NULL;
    float *grads = net ? lg_net_grads(net, NULL) : NULL;
    int n = x1 ? (int)x1->shape[0] : 0;
    float *dl = lg_alloc_floats((size_t)n + 1), *dx = x1 ? lg_alloc_floats(x1->numel) : NULL;
    if (net && dx && load_state(net, st, "p")) CHECK_OK(lg_optim_new(&opt, &oc, np));
    if (opt) {
        for (int k = 1; k <= steps; k++) {
            char nm[32];
            snprintf(nm, sizeof nm, "s%d.x", k);
            const lg_st_tensor *x = lg_st_find(st, nm);
            CHECK_MSG(x && x->numel == x1->numel && t->numel == (size_t)n, "%s: bad %s", fix, nm);
            if (!x || x->numel != x1->numel || t->numel != (size_t)n) break;
            const float *y = NULL;
            float loss = NAN;
            lg_net_zero_grad(net);
            CHECK_OK(lg_net_forward(net, x->data, n, 1, &y));
            if (!y) break;
            snprintf(nm, sizeof nm, "s%d.logits", k);
            agree(st, nm, y, (size_t)n);
            CHECK_OK(lg_bce_logits(y, t->data, n, 1.0f, &loss, dl));
            snprintf(nm, sizeof nm, "s%d.loss", k);
            agree(st, nm, &loss, 1);
            CHECK_OK(lg_net_backward(net, dl, dx, 1));
            snprintf(nm, sizeof nm, "s%d.dx", k);
            agree(st, nm, dx, x->numel);
            snprintf(nm, sizeof nm, "s%d.g", k);
            agree_state(net, st, 0, nm, grads);
            CHECK_OK(lg_optim_step(opt, params, grads, 0.0));
            snprintf(nm, sizeof nm, "s%d.p", k);
            agree_state(net, st, 0, nm, params);
        }
    }
    lg_optim_free(opt);
    lg_free(dl);
    lg_free(dx);
    lg_net_free(net);
    lg_st_free(st);
}

static void test_dstep_sgd(void) {
    for (int b = 0; b < LG_FP32_BACKENDS; b++) run_dstep_fixture("dstep_sgd", (lg_backend_kind)b);
}

static void test_dstep_adam(void) {
    for (int b = 0; b < LG_FP32_BACKENDS; b++) run_dstep_fixture("dstep_adam", (lg_backend_kind)b);
}

static lg_tensor tensor_of(const lg_st_tensor *t, float *data) {
    return lg_tensor4(data, (int)t->shape[0], (int)t->shape[1], (int)t->shape[2],
                      (int)t->shape[3]);
}

static void test_concat(void) {
    lg_safetensors *st = open_fixture("concat");
    if (!st) return;
    g_backend = "-";
    const lg_st_tensor *a = lg_st_find(st, "a"), *b = lg_st_find(st, "b"),
                       *out = lg_st_find(st, "out"), *dout = lg_st_find(st, "dout");
    CHECK(a && b && out && dout && a->ndim == 4 && b->ndim == 4 && out->ndim == 4);
    if (a && b && out && dout && a->ndim == 4 && b->ndim == 4 && out->ndim == 4) {
        float *o = lg_alloc_floats(out->numel), *da = lg_alloc_floats(a->numel),
              *db = lg_alloc_floats(b->numel);
        lg_tensor ta = tensor_of(a, (float *)a->data), tb = tensor_of(b, (float *)b->data);
        lg_tensor to = tensor_of(out, o), tdo = tensor_of(out, (float *)dout->data);
        lg_tensor tda = tensor_of(a, da), tdb = tensor_of(b, db);
        CHECK_OK(lg_concat_forward(&ta, &tb, &to));
        agree(st, "out", o, out->numel);
        CHECK_OK(lg_concat_backward(&tdo, &tda, &tdb));
        agree(st, "da", da, a->numel);
        agree(st, "db", db, b->numel);
        lg_free(o);
        lg_free(da);
        lg_free(db);
    }
    lg_st_free(st);
}

static void test_bce_logits(void) {
    lg_safetensors *st = open_fixture("bce");
    if (!st) return;
    g_backend = "-";
    const lg_st_tensor *x = lg_st_find(st, "logits"), *t = lg_st_find(st, "t"),
                       *dref = lg_st_find(st, "dlogits");
    CHECK(x && t && dref && x->numel == t->numel);
    if (x && t && dref && x->numel == t->numel) {
        int n = (int)x->numel;
        float loss = NAN, *d = lg_alloc_floats((size_t)n);
        CHECK_OK(lg_bce_logits(x->data, t->data, n, 1.0f, &loss, d));
        agree(st, "loss", &loss, 1);
        agree(st, "dlogits", d, (size_t)n);
        /* `scale` multiplies the gradient only. */
        float loss2 = NAN;
        CHECK_OK(lg_bce_logits(x->data, t->data, n, 2.0f, &loss2, d));
        CHECK(loss2 == loss);
        for (int i = 0; i < n; i++) d[i] *= 0.5f;
        agree(st, "dlogits", d, (size_t)n);
        lg_free(d);
    }
    lg_st_free(st);
}

int main(void) {
    RUN(test_linear);
    RUN(test_conv2d);
    RUN(test_activations);
    RUN(test_batchnorm);
    RUN(test_shape_layers);
    RUN(test_composite_nets);
    RUN(test_dstep_sgd);
    RUN(test_dstep_adam);
    RUN(test_concat);
    RUN(test_bce_logits);
    return TEST_END();
}
