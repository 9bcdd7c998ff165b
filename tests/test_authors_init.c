/* --authors-init (lg_model_desc_authors_init): the authors' CIFAR-10 script
 * draws G's weights N(0, 0.05^2) and D's N(0, 0.005^2), biases 0; the model
 * file's d_init_scale carries D's factor (format 3; earlier files mean 1). */
#include <math.h>

#include "gan/level_internal.h"
#include "test.h"

/* Standard deviation and largest |bias| of a net's first linear layer. */
static void first_layer(lg_net *net, int fan_in, int out, double *sd, float *bias_max) {
    const float *p = lg_net_params(net, NULL);
    const size_t nw = (size_t)fan_in * out;
    double s2 = 0;
    for (size_t i = 0; i < nw; i++) s2 += (double)p[i] * p[i];
    *sd = sqrt(s2 / (double)nw);
    *bias_max = 0;
    for (int i = 0; i < out; i++) *bias_max = fmaxf(*bias_max, fabsf(p[nw + (size_t)i]));
}

static void check_level_init(const lg_model_desc *m, double g_sd, double d_sd) {
    const int k = m->levels - 1; /* the fully connected level */
    const lg_level_desc *l = &m->level[k];
    lg_level *lv = NULL;
    CHECK_OK(lg_level_new(&lv, m, k, 16, 7, LG_BACKEND_CPU));
    if (!lv) return;
    double sd;
    float bmax;
    first_layer(lv->part[LG_PART_G].net, l->zdim, l->g_width[0], &sd, &bmax);
    CHECK_MSG(fabs(sd / g_sd - 1) < 0.02 && bmax == 0, "G: sd %g (want %g), |bias| %g", sd, g_sd,
              bmax);
    first_layer(lv->part[LG_PART_D].net, m->c * l->size * l->size, l->d_width[0], &sd, &bmax);
    CHECK_MSG(fabs(sd / d_sd - 1) < 0.02 && bmax == 0, "D: sd %g (want %g), |bias| %g", sd, d_sd,
              bmax);
    lg_level_free(lv);
}

static void test_authors_init(void) {
    lg_model_desc m;
    CHECK_OK(lg_preset("cifar10-32", &m));
    lg_model_desc_authors_init(&m);
    CHECK_OK(lg_model_desc_validate(&m));
    check_level_init(&m, 0.05, 0.005);
    /* Scale 1: D drawn as G is (every other recipe). */
    m.d_init_scale = 1;
    check_level_init(&m, 0.05, 0.05);
}

static void test_json(void) {
    lg_model_desc m, back;
    CHECK_OK(lg_preset("tiny", &m));
    lg_model_desc_authors_init(&m);
    char *j = NULL;
    CHECK_OK(lg_model_desc_to_json(&m, &j));
    CHECK(j && strstr(j, "\"d_init_scale\":0.1"));
    CHECK(j && strstr(j, "\"format\":\"lapgan-model-5\""));
    if (j) CHECK_OK(lg_model_desc_from_json(&back, j, "a.json"));
    CHECK(back.d_init_scale == 0.1f && back.init_std == 0.05f && back.init == LG_INIT_NORMAL);
    free(j);
    /* Out of range, written in code: refused before it reaches a file. */
    m.d_init_scale = 0;
    CHECK_ERR(lg_model_desc_validate(&m), LG_ERR_ARG);
    CHECK(strstr(lg_errmsg(), "d_init_scale"));
    /* A format 2 file (no d_init_scale) means 1. */
    CHECK_OK(lg_preset("tiny", &m));
    j = NULL;
    CHECK_OK(lg_model_desc_to_json(&m, &j));
    char *at = j ? strstr(j, ",\"d_init_scale\":1.0") : NULL;
    char *f = j ? strstr(j, "lapgan-model-5") : NULL;
    CHECK(at && f);
    if (at && f) {
        memmove(at, at + strlen(",\"d_init_scale\":1.0"), strlen(at + strlen(",\"d_init_scale\":1.0")) + 1);
        f[strlen("lapgan-model-")] = '2';
        char *fl = strstr(j, ",\"flip\":0"); /* format 4's key */
        CHECK(fl != NULL);
        if (fl) memmove(fl, fl + strlen(",\"flip\":0"), strlen(fl + strlen(",\"flip\":0")) + 1);
        const char *arch = ",\"arch\":\"plain\""; /* format 5's key, in every level */
        for (char *a; (a = strstr(j, arch));) memmove(a, a + strlen(arch), strlen(a + strlen(arch)) + 1);
        memset(&back, 0xff, sizeof back);
        CHECK_OK(lg_model_desc_from_json(&back, j, "v2.json"));
        CHECK(back.d_init_scale == 1.0f);
    }
    free(j);
}

int main(void) {
    RUN(test_authors_init);
    RUN(test_json);
    return TEST_END();
}
