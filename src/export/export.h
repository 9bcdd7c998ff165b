/* Internals shared by the torch and ONNX exporters: a run's levels loaded
 * for generation, each G (and label net) with its layers, and u(.) of each
 * finer level as a matrix. */
#ifndef LG_EXPORT_EXPORT_H
#define LG_EXPORT_EXPORT_H
#include "gan/level_internal.h"
#include "lapgan/export.h"

typedef struct {
    int k, fc, size, sc, zdim; /* sc: coarser size (0 at level K) */
    lg_net *g, *gl;            /* gl: the label plane's net (CC conv levels) */
    float *up;                 /* [size, sc]: u(x) = U x U^T per plane */
} lg_exp_level;

typedef struct {
    lg_model_desc d;
    lg_level *lv[LG_PYR_MAX_LEVELS];
    lg_exp_level L[LG_PYR_MAX_LEVELS];
} lg_exp;

lg_status lg_exp_open(lg_exp **out, const char *run_dir);
void lg_exp_free(lg_exp *e);
#endif
