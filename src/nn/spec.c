/* Layer specifications to start from: the usual values, set explicitly, so
 * that a 0 in a spec is always a real setting (include/lapgan/nn.h). */
#include <string.h>

#include "lapgan/nn.h"

lg_layer_spec lg_layer_defaults(lg_layer_kind kind) {
    lg_layer_spec s;
    memset(&s, 0, sizeof s);
    s.kind = kind;
    if (kind == LG_LAYER_CONV2D) s.stride = s.groups = 1;
    if (kind == LG_LAYER_LEAKY_RELU) s.slope = LG_LEAKY_RELU_SLOPE;
    if (kind == LG_LAYER_BATCHNORM) {
        s.eps = LG_BN_EPS;
        s.momentum = LG_BN_MOMENTUM;
    }
    return s;
}
