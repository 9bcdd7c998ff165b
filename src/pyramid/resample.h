/* Shared resampling kernel behind lg_pyr_down / lg_pyr_up. */
#ifndef LG_PYRAMID_RESAMPLE_H
#define LG_PYRAMID_RESAMPLE_H
#include "backend/ops.h"
#include "lapgan/pyramid.h"

/* y = alpha * R(x) + beta * y, where R is d(.) (down != 0) or u(.) of
 * filter f. beta = 0 overwrites y (its old contents may be garbage). Its
 * workspace of about (taps*(oh+ow) + threads*h*ow) floats is cached between
 * calls (allocated only when a call needs more than any before it);
 * concurrent calls take turns. */
lg_status lg_pyr_resample(lg_pyr_filter f, int down, const float *x, int n, int c, int h,
                          int w, float *y, int oh, int ow, float alpha, float beta);
/* lg_pyr_resample with backend be's resample op (lg_pyr_resample: cpu). */
lg_status lg_pyr_resample_on(const lg_backend *be, lg_pyr_filter f, int down, const float *x,
                             int n, int c, int h, int w, float *y, int oh, int ow, float alpha,
                             float beta);
#endif
