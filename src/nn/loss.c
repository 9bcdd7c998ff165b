/* Binary cross-entropy on logits. log(1 + e^-|x|) never overflows and
 * sigmoid is evaluated from e^-|x| <= 1, so any finite logit is safe. */
#include <math.h>

#include "core/check.h"
#include "lapgan/nn.h"

lg_status lg_bce_logits(const float *logits, const float *targets, int n, float scale,
                        float *loss, float *dlogits) {
    LG_CHECK(logits && targets && loss, LG_ERR_ARG, "lg_bce_logits: NULL argument");
    LG_CHECK(n > 0, LG_ERR_ARG, "lg_bce_logits: n must be positive, got %d", n);
    double sum = 0;
    const float g = scale / (float)n;
    for (int i = 0; i < n; i++) {
        const float x = logits[i], t = targets[i];
        const float e = expf(-fabsf(x)); /* in (0, 1] */
        sum += (double)fmaxf(x, 0.0f) - (double)x * t + log1p((double)e);
        if (dlogits) {
            const float sig = x >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
            dlogits[i] = (sig - t) * g;
        }
    }
    *loss = (float)(sum / n);
    LG_CHECK(isfinite(*loss), LG_ERR_NUMERIC, "lg_bce_logits: loss is not finite (NaN logit?)");
    return LG_OK;
}
