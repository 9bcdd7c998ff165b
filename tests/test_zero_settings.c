/* A 0 in a layer spec is a setting, not "the default" (include/lapgan/nn.h):
 * batch-norm momentum 0 keeps the running statistics where they are, eps 0
 * normalises exactly, a LeakyReLU slope of 0 is a ReLU. lg_layer_defaults
 * holds the usual values. (Adam's beta1 = 0 and an SGD momentum cap of 0:
 * tests/test_nn.c, test_optim_zero_settings and test_schedule.) */
#include "test.h"

static lg_net *one_layer(lg_layer_spec s, int c, int h, int w, int batch) {
    lg_net_cfg cfg = {.c = c, .h = h, .w = w, .max_batch = batch, .seed = 3};
    lg_net *net = NULL;
    CHECK_OK(lg_net_new(&net, &s, 1, &cfg));
    return net;
}

static void test_defaults(void) {
    lg_layer_spec b = lg_layer_defaults(LG_LAYER_BATCHNORM);
    CHECK(b.kind == LG_LAYER_BATCHNORM && b.eps == 1e-5f && b.momentum == 0.1f && !b.no_affine);
    lg_layer_spec l = lg_layer_defaults(LG_LAYER_LEAKY_RELU);
    CHECK(l.kind == LG_LAYER_LEAKY_RELU && l.slope == 0.2f);
    lg_layer_spec c = lg_layer_defaults(LG_LAYER_CONV2D);
    CHECK(c.stride == 1 && c.pad == 0 && c.out == 0);
}

/* x: 4 samples x 2 channels with a non-zero mean and a variance far from 1. */
static void fill_batch(float *x) {
    for (int i = 0; i < 8; i++) x[i] = 3.0f + 2.0f * (float)((i * 5) % 7) - (float)(i % 2);
}

static void test_batchnorm_momentum_zero(void) {
    lg_layer_spec s = lg_layer_defaults(LG_LAYER_BATCHNORM);
    s.momentum = 0;
    lg_net *net = one_layer(s, 2, 1, 1, 4);
    if (!net) return;
    float x[8];
    fill_batch(x);
    const float *y;
    for (int k = 0; k < 3; k++) CHECK_OK(lg_net_forward(net, x, 4, 1, &y));
    size_t nb;
    const float *buf = lg_net_buffers(net, &nb);
    /* running mean 0 and var 1 as initialised: momentum 0 never moves them */
    CHECK(nb == 4 && buf[0] == 0 && buf[1] == 0 && buf[2] == 1 && buf[3] == 1);
    lg_net_free(net);
    /* The usual momentum does move them (the test above can fail). */
    net = one_layer(lg_layer_defaults(LG_LAYER_BATCHNORM), 2, 1, 1, 4);
    if (!net) return;
    CHECK_OK(lg_net_forward(net, x, 4, 1, &y));
    buf = lg_net_buffers(net, &nb);
    CHECK(buf[0] != 0 && buf[2] != 1);
    lg_net_free(net);
}

static void test_batchnorm_eps_zero(void) {
    float x[8];
    fill_batch(x);
    double out_var[2];
    for (int e = 0; e < 2; e++) {
        lg_layer_spec s = lg_layer_defaults(LG_LAYER_BATCHNORM);
        s.eps = e ? 20.0f : 0.0f; /* channel 0 has variance 19 */
        lg_net *net = one_layer(s, 2, 1, 1, 4);
        if (!net) return;
        const float *y;
        CHECK_OK(lg_net_forward(net, x, 4, 1, &y));
        double v = 0;
        for (int i = 0; i < 4; i++) v += (double)y[2 * i] * y[2 * i] / 4; /* channel 0, mean 0 */
        out_var[e] = v;
        lg_net_free(net);
    }
    CHECK_NEAR(out_var[0], 1.0, 1e-5); /* eps 0: exactly unit variance */
    CHECK(out_var[1] < 0.6);           /* eps 20 halves it: eps is used */
}

static void test_leaky_slope_zero(void) {
    lg_layer_spec s = lg_layer_defaults(LG_LAYER_LEAKY_RELU);
    s.slope = 0;
    lg_net *net = one_layer(s, 4, 1, 1, 1);
    if (!net) return;
    const float x[4] = {-2.0f, -0.5f, 0.75f, 3.0f}, dy[4] = {1, 1, 1, 1};
    const float *y;
    float dx[4];
    CHECK_OK(lg_net_forward(net, x, 1, 1, &y));
    CHECK(y[0] == 0 && y[1] == 0 && y[2] == 0.75f && y[3] == 3.0f);
    CHECK_OK(lg_net_backward(net, dy, dx, 1));
    CHECK(dx[0] == 0 && dx[1] == 0 && dx[2] == 1 && dx[3] == 1);
    lg_net_free(net);
    /* The usual slope keeps 0.2 of the negatives. */
    net = one_layer(lg_layer_defaults(LG_LAYER_LEAKY_RELU), 4, 1, 1, 1);
    if (!net) return;
    CHECK_OK(lg_net_forward(net, x, 1, 1, &y));
    CHECK_NEAR(y[0], -0.4, 1e-7);
    lg_net_free(net);
}

int main(void) {
    RUN(test_defaults);
    RUN(test_batchnorm_momentum_zero);
    RUN(test_batchnorm_eps_zero);
    RUN(test_leaky_slope_zero);
    return TEST_END();
}
