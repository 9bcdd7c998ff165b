/* Channel concatenation between networks (e.g. noise plane + coarse image
 * into G): shape checks here, the copies as the backend's concat / split. FLATTEN and RESHAPE need no code: net.c aliases their output to
 * their input and passes gradients straight through. */
#include "core/check.h"
#include "nn/layer.h"

/* Dims of a, b and out fit out = concat(a, b) along channels; a/b data may be
 * NULL when allow_null (the skipped halves of a backward). */
static lg_status check_concat(const lg_tensor *a, const lg_tensor *b, const lg_tensor *out,
                              int allow_null, const char *fn) {
    LG_CHECK(a && b && out, LG_ERR_ARG, "%s: NULL tensor", fn);
    LG_TRY(lg_tensor_check(out, fn));
    const lg_tensor *ab[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        lg_tensor t = *ab[i];
        if (allow_null && !t.data) t.data = out->data; /* dims are still checked */
        LG_TRY(lg_tensor_check(&t, fn));
        LG_CHECK(t.n == out->n && t.h == out->h && t.w == out->w, LG_ERR_SHAPE,
                 "%s: input %d is [%d,%d,%d,%d] but the concatenation is [%d,%d,%d,%d]", fn, i,
                 t.n, t.c, t.h, t.w, out->n, out->c, out->h, out->w);
    }
    LG_CHECK(a->c + b->c == out->c, LG_ERR_SHAPE, "%s: channels %d + %d != %d", fn, a->c, b->c,
             out->c);
    return LG_OK;
}

lg_status lg_concat_forward_on(const lg_backend *be, const lg_tensor *a, const lg_tensor *b,
                               lg_tensor *out) {
    LG_TRY(check_concat(a, b, out, 0, "lg_concat_forward"));
    const size_t s = (size_t)out->h * out->w;
    return be->concat(out->n, a->c * s, b->c * s, a->data, b->data, out->data);
}

lg_status lg_concat_backward_on(const lg_backend *be, const lg_tensor *dout, lg_tensor *da,
                                lg_tensor *db) {
    LG_TRY(check_concat(da, db, dout, 1, "lg_concat_backward"));
    const size_t s = (size_t)dout->h * dout->w;
    return be->split(dout->n, da->c * s, db->c * s, dout->data, da->data, db->data);
}

lg_status lg_concat_forward(const lg_tensor *a, const lg_tensor *b, lg_tensor *out) {
    return lg_concat_forward_on(lg_backend_get(LG_BACKEND_CPU), a, b, out);
}

lg_status lg_concat_backward(const lg_tensor *dout, lg_tensor *da, lg_tensor *db) {
    return lg_concat_backward_on(lg_backend_get(LG_BACKEND_CPU), dout, da, db);
}
