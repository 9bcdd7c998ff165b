"""cffi API mode: the C compiler reads include/lapgan.h, so the structs the
package fills (lg_train_cfg, lg_model_desc, ...) always have the library's
layout; "...;" marks fields this package leaves at zero."""
import os

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("LAPGAN_ROOT", os.path.dirname(HERE))
BUILD = os.environ.get("LAPGAN_BUILD_DIR", os.path.join(ROOT, "build"))
BUILD = BUILD if os.path.isabs(BUILD) else os.path.join(ROOT, BUILD)

CDEF = r"""
typedef enum { LG_OK, LG_ERR_ARG, LG_ERR_INTERRUPTED, ... } lg_status;
typedef enum { LG_BACKEND_CPU, LG_BACKEND_REF, LG_BACKEND_CPU_BF16, ... } lg_backend_kind;
typedef enum { LG_DTYPE_U8, LG_DTYPE_F32, ... } lg_dtype;
typedef enum { LG_LAYOUT_NCHW, LG_LAYOUT_NHWC, ... } lg_layout;

const char *lg_version(void);
const char *lg_errmsg(void);
const char *lg_status_name(lg_status s);
void lg_set_threads(int n);
int lg_get_threads(void);
const char *lg_blas_core(void);

typedef struct { int size; int fc; int zdim; ...; } lg_level_desc;
typedef struct {
    char name[...]; int c; int levels; lg_level_desc level[...]; int crop; int nclasses;
    int batch; int flip; ...;
} lg_model_desc;
lg_status lg_preset(const char *name, lg_model_desc *out);
void lg_model_desc_adam(lg_model_desc *m);
void lg_model_desc_dcgan(lg_model_desc *m);
void lg_model_desc_authors_init(lg_model_desc *m);
void lg_model_desc_class_conditional(lg_model_desc *m, int nclasses);
lg_status lg_model_desc_validate(const lg_model_desc *m);
lg_status lg_model_desc_to_json(const lg_model_desc *m, char **json);
lg_status lg_model_desc_from_json(lg_model_desc *m, const char *json, const char *source);
void free(void *p);

typedef struct { int n, c, h, w; int nclasses; ...; } lg_dataset;
void lg_dataset_free(lg_dataset *ds);
lg_status lg_dataset_open(lg_dataset **out, const char *spec, int c, int size);
lg_status lg_dataset_from_memory(lg_dataset **out, const void *pixels, lg_dtype dtype,
                                 lg_layout layout, int n, int c, int h, int w,
                                 const int *labels, int nclasses, const char *source);

typedef struct lg_model lg_model;
typedef struct { const float *img[...]; const float *up[...]; const float *h[...]; } lg_chain;
lg_status lg_model_load(lg_model **out, const char *run_dir, lg_backend_kind backend);
lg_status lg_backend_check(lg_backend_kind k);
void lg_model_free(lg_model *m);
const lg_model_desc *lg_model_desc_of(const lg_model *m);
lg_status lg_model_sample(lg_model *m, int n, uint64_t seed, const int *labels, float *out,
                          lg_chain *chain);
lg_status lg_model_noise(const lg_model *m, int n, uint64_t seed, int k, float *z, size_t *len);

typedef struct { float d_loss, g_loss; float d_real_acc, d_fake_acc; ...; } lg_level_stats;
typedef struct {
    int level; int64_t step, total; double img_per_s; double eta_s; double epoch;
    lg_level_stats stats; ...;
} lg_progress;
typedef struct {
    const char *run_dir; unsigned levels_mask; int64_t steps; int batch; uint64_t seed;
    int ckpt_every; int sample_every; int log_every; int resume; lg_backend_kind backend;
    void (*progress)(void *ud, const lg_progress *p); void *progress_ud;
    volatile int *stop; int force; const char *data_spec; ...;
} lg_train_cfg;
lg_status lg_train(const lg_model_desc *m, const lg_dataset *ds, const lg_train_cfg *cfg);
extern "Python" void lgpy_progress(void *ud, const lg_progress *p);

typedef struct { int n; double mean, std, sem; ...; } lg_ll_summary;
lg_status lg_parzen_ll(const float *samples, int n, const float *test, int m, int d,
                       double sigma, double *out_ll);
lg_status lg_parzen_select_sigma(const float *samples, int n, const float *valid, int m, int d,
                                 const double *grid, int ngrid, double *best_sigma,
                                 double *mean_ll);
lg_status lg_ll_summarize(const double *ll, int n, lg_ll_summary *out);

typedef struct { int w, h, c; uint8_t *px; ...; } lg_image;
typedef struct { int nrow_items; int pad; uint8_t pad_value; float lo, hi; int scale; ...; } lg_grid_opts;
lg_status lg_grid_make(lg_image **out, const float *x, int n, int c, int h, int w,
                       const lg_grid_opts *opts);
lg_status lg_png_write(const char *path, const lg_image *im);
void lg_image_free(lg_image *im);

lg_status lg_frechet_stats(const float *feats, int n, int d, double *mu, double *cov);
lg_status lg_frechet_distance(const double *mu1, const double *cov1, const double *mu2,
                              const double *cov2, int d, double *fd);
#define LG_INCEPTION_FEATURES ...
typedef struct lg_inception lg_inception;
lg_status lg_inception_default_path(char *buf, size_t len);
lg_status lg_inception_load(lg_inception **out, const char *path);
void lg_inception_free(lg_inception *net);
typedef enum { LG_RESIZE_NV_BILINEAR, ... } lg_resize_kind;
typedef int (*lg_inception_progress)(void *user, int done, int total);
int lg_resize_parse(const char *s);
lg_status lg_inception_features(lg_inception *net, const uint8_t *px, int n, int c, int h, int w,
                                lg_resize_kind r, lg_inception_progress progress, void *user,
                                float *feats);

lg_status lg_export_torch(const char *run_dir, const char *out_dir);
lg_status lg_export_onnx(const char *run_dir, const char *out_path);

/* the thread pools lapgan shares with numpy and torch (see threads.py) */
int lgpy_omp_threads(void);
void lgpy_set_omp_threads(int n);
int lgpy_blas_threads(void);
void lgpy_set_blas_threads(int n);
"""

SOURCE = r"""
#include <stdlib.h>
#include "lapgan.h"
/* OpenMP's and OpenBLAS's thread counts, resolved through liblapgan's own
 * dependencies (libgomp, libopenblas). */
int omp_get_max_threads(void);
void omp_set_num_threads(int n);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int n);
static int lgpy_omp_threads(void) { return omp_get_max_threads(); }
static void lgpy_set_omp_threads(int n) { omp_set_num_threads(n); }
static int lgpy_blas_threads(void) { return openblas_get_num_threads(); }
static void lgpy_set_blas_threads(int n) { openblas_set_num_threads(n); }
"""

ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source("lapgan._lapgan", SOURCE, include_dirs=[os.path.join(ROOT, "include")],
                      library_dirs=[BUILD], libraries=["lapgan"],
                      extra_link_args=["-Wl,-rpath,$ORIGIN"])

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
