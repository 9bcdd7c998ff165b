/* Binary cross-entropy on logits, float32 in both cpu tables. log(1 +
 * e^-|x|) never overflows and sigmoid is evaluated from e^-|x| <= 1, so any
 * finite logit is safe. The sum runs in one thread, in order: n is a batch. */
#include <math.h>

#include "backend/cpu/cpu.h"

lg_status lg_cpu_bce_logits(int n, const float *logits, const float *targets, float scale,
                            double *sum, float *dlogits) {
    double acc = 0;
    const float g = scale / (float)n;
    for (int i = 0; i < n; i++) {
        const float x = logits[i], t = targets[i];
        const float e = expf(-fabsf(x)); /* in (0, 1] */
        acc += (double)fmaxf(x, 0.0f) - (double)x * t + log1p((double)e);
        if (dlogits) {
            const float sig = x >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
            dlogits[i] = (sig - t) * g;
        }
    }
    *sum = acc;
    return LG_OK;
}
