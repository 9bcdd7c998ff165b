/* Binary cross-entropy on logits: argument checks and the mean here, the
 * arithmetic as the backend's bce_logits op. */
#include <math.h>

#include "core/check.h"
#include "nn/layer.h"

lg_status lg_bce_logits_on(const lg_backend *be, const float *logits, const float *targets, int n,
                           float scale, float *loss, float *dlogits) {
    LG_CHECK(be && logits && targets && loss, LG_ERR_ARG, "lg_bce_logits: NULL argument");
    LG_CHECK(n > 0, LG_ERR_ARG, "lg_bce_logits: n must be positive, got %d", n);
    double sum;
    LG_TRY(be->bce_logits(n, logits, targets, scale, &sum, dlogits));
    *loss = (float)(sum / n);
    LG_CHECK(isfinite(*loss), LG_ERR_NUMERIC, "lg_bce_logits: loss is not finite (NaN logit?)");
    return LG_OK;
}

lg_status lg_bce_logits(const float *logits, const float *targets, int n, float scale,
                        float *loss, float *dlogits) {
    return lg_bce_logits_on(lg_backend_get(LG_BACKEND_CPU), logits, targets, n, scale, loss,
                            dlogits);
}
