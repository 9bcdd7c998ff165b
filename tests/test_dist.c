/* Several processes without starting any: the rank plan, row-keyed dropout
 * (a slice of a batch draws the masks the whole batch gives those rows) and
 * nets whose gradients live in the caller's flat buffer. The runs across
 * real processes are tests/cli/mpi.sh. */
#include <string.h>

#include "dist/dist.h"
#include "lapgan/gan.h"
#include "test.h"

static void test_plan_one_rank_per_level(void) {
    lg_model_desc m;
    CHECK_OK(lg_preset("fashion", &m));
    int first[LG_PYR_MAX_LEVELS], count[LG_PYR_MAX_LEVELS];
    /* 2 ranks, 3 levels: the 28x28 level costs more than the other two. */
    CHECK_OK(lg_train_plan(&m, 0, 2, 128, first, count));
    CHECK(count[0] == 1 && count[1] == 1 && count[2] == 1 && count[3] == 0);
    CHECK(first[0] == 0 && first[1] == 1 && first[2] == 1);
    CHECK_OK(lg_train_plan(&m, 0, 3, 128, first, count));
    CHECK(first[0] != first[1] && first[1] != first[2] && first[0] != first[2]);
    /* One process: everything on rank 0. */
    CHECK_OK(lg_train_plan(&m, 0, 1, 128, first, count));
    CHECK(first[0] == 0 && first[1] == 0 && first[2] == 0 && count[0] == 1);
    /* Only the levels asked for. */
    CHECK_OK(lg_train_plan(&m, 1u << 1, 2, 128, first, count));
    CHECK(count[0] == 0 && count[1] == 2 && count[2] == 0 && first[1] == 0);
}

static void test_plan_extra_ranks_go_to_costly_levels(void) {
    lg_model_desc m;
    CHECK_OK(lg_preset("fashion", &m));
    int first[LG_PYR_MAX_LEVELS], count[LG_PYR_MAX_LEVELS];
    CHECK_OK(lg_train_plan(&m, 0, 4, 128, first, count));
    CHECK(count[0] == 2 && count[1] == 1 && count[2] == 1);
    CHECK(first[0] == 0 && first[1] == 2 && first[2] == 3);
    CHECK_OK(lg_train_plan(&m, 0, 16, 128, first, count));
    CHECK(count[0] + count[1] + count[2] == 16 && count[0] > count[1] && count[1] >= count[2]);
    /* A rank needs a real and a generated row: batch 4 feeds 2 per level. */
    CHECK_ERR(lg_train_plan(&m, 0, 7, 4, first, count), LG_ERR_ARG);
    CHECK(strstr(lg_errmsg(), "7 processes") != NULL);
    CHECK_OK(lg_train_plan(&m, 0, 6, 4, first, count));
    CHECK_ERR(lg_train_plan(&m, 1u << 5, 2, 128, first, count), LG_ERR_ARG);
}

static lg_net *dropout_net(void) {
    lg_layer_spec s[] = {{.kind = LG_LAYER_LINEAR, .out = 40}, {.kind = LG_LAYER_DROPOUT, .p = 0.5f}};
    lg_net_cfg cfg = {.c = 6, .h = 1, .w = 1, .max_batch = 8, .seed = 9, .stream = 3};
    lg_net *net = NULL;
    CHECK_OK(lg_net_new(&net, s, 2, &cfg));
    return net;
}

static void test_dropout_rows_keyed(void) {
    lg_net *a = dropout_net(), *b = dropout_net();
    if (!a || !b) goto done;
    float x[8 * 6];
    for (int i = 0; i < 8 * 6; i++) x[i] = 1.0f + (float)i / 7;
    const float *ya, *yb;
    CHECK_OK(lg_net_forward(a, x, 8, 1, &ya));
    /* Rows 5..7 alone, told where they sit in the batch. */
    const uint64_t rows[3] = {5, 6, 7};
    lg_net_set_rows(b, rows);
    CHECK_OK(lg_net_forward(b, x + 5 * 6, 3, 1, &yb));
    CHECK(memcmp(ya + 5 * 40, yb, sizeof(float) * 3 * 40) == 0);
    int zeros = 0;
    for (int i = 0; i < 8 * 40; i++) zeros += ya[i] == 0;
    CHECK(zeros > 60 && zeros < 260); /* p = 0.5 of 320 */
    /* Next forward: new masks. */
    CHECK_OK(lg_net_forward(b, x + 5 * 6, 3, 1, &yb));
    CHECK(memcmp(ya + 5 * 40, yb, sizeof(float) * 3 * 40) != 0);
done:
    lg_net_free(a);
    lg_net_free(b);
}

static void test_bound_grads(void) {
    lg_net *net = dropout_net();
    if (!net) return;
    size_t n;
    float x[2 * 6] = {1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6}, dy[2 * 40];
    for (int i = 0; i < 80; i++) dy[i] = 0.01f * (float)i;
    const float *y;
    CHECK_OK(lg_net_forward(net, x, 2, 0, &y));
    CHECK_OK(lg_net_backward(net, dy, NULL, 1));
    float before[6 * 40 + 40];
    memcpy(before, lg_net_grads(net, &n), sizeof before);
    CHECK(n == 6 * 40 + 40);
    float *flat = lg_alloc_floats(n + 16);
    lg_net_bind_grads(net, flat + 16);
    CHECK(lg_net_grads(net, NULL) == flat + 16);
    CHECK(memcmp(flat + 16, before, sizeof before) == 0); /* moved with their values */
    lg_net_zero_grad(net);
    CHECK_OK(lg_net_backward(net, dy, NULL, 1));
    CHECK(memcmp(flat + 16, before, sizeof before) == 0); /* backward writes there */
    CHECK(flat[0] == 0);
    lg_net_free(net);
    lg_free(flat);
}

static void test_serial_dist(void) {
    lg_dist_comm *c = (lg_dist_comm *)1;
    CHECK(lg_dist_size() >= 1 && lg_dist_rank() == 0); /* not started by mpirun */
    CHECK_OK(lg_dist_split(0, &c));
    CHECK(c == NULL && lg_dist_comm_size(c) == 1 && lg_dist_comm_rank(c) == 0);
    float v[2] = {1.5f, -2};
    CHECK_OK(lg_dist_allreduce_sum(NULL, v, 2));
    CHECK(v[0] == 1.5f && v[1] == -2);
    int same = 0;
    CHECK_OK(lg_dist_all_same(NULL, 42, &same));
    CHECK(same);
}

int main(void) {
    RUN(test_plan_one_rank_per_level);
    RUN(test_plan_extra_ranks_go_to_costly_levels);
    RUN(test_dropout_rows_keyed);
    RUN(test_bound_grads);
    RUN(test_serial_dist);
    return TEST_END();
}
