/* Naive reference ops: plain loops that follow the definitions, accumulate
 * in double, and serve as the oracle the fast backends are tested against. */
#ifndef LG_BACKEND_REF_H
#define LG_BACKEND_REF_H
#include "backend/ops.h"

extern const lg_backend lg_backend_ref_table;
#endif
