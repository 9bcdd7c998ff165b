#include "check.h"

lg_status lg_tensor_check(const lg_tensor *t, const char *what) {
    LG_CHECK(t, LG_ERR_ARG, "%s: tensor is NULL", what);
    LG_CHECK(t->data, LG_ERR_ARG, "%s: tensor data is NULL", what);
    LG_CHECK(t->n > 0 && t->c > 0 && t->h > 0 && t->w > 0, LG_ERR_SHAPE,
             "%s: dims must be positive, got [%d,%d,%d,%d]", what, t->n, t->c, t->h, t->w);
    size_t s;
    LG_CHECK(!lg_mul_overflow((size_t)t->n * (size_t)t->c, (size_t)t->h * (size_t)t->w, &s),
             LG_ERR_NOMEM, "%s: element count overflows", what);
    return LG_OK;
}

lg_status lg_tensor_same_shape(const lg_tensor *a, const lg_tensor *b, const char *what) {
    LG_TRY(lg_tensor_check(a, what));
    LG_TRY(lg_tensor_check(b, what));
    LG_CHECK(a->n == b->n && a->c == b->c && a->h == b->h && a->w == b->w, LG_ERR_SHAPE,
             "%s: shapes differ, [%d,%d,%d,%d] vs [%d,%d,%d,%d]", what, a->n, a->c, a->h, a->w,
             b->n, b->c, b->h, b->w);
    return LG_OK;
}
