/* Frechet distance between Gaussians fitted to two feature sets (the FID
 * formula, on whatever features the caller brings). Tr sqrtm(S1 S2) is
 * computed without a non-symmetric square root: with A = sqrtm(S1), S1 S2 is
 * similar to A S2 A (A^-1 (A A S2) A), which is symmetric PSD, so its
 * eigenvalues come from LAPACK's dsyevd and Tr sqrtm = sum sqrt(eig). */
#include <cblas.h>
#include <math.h>

#include "core/check.h"
#include "lapgan/eval.h"

/* LAPACK (bundled in OpenBLAS), Fortran calling convention; the trailing
 * lengths of the character arguments are what gfortran passes. */
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
                    double *w, double *work, const int *lwork, int *iwork, const int *liwork,
                    int *info, size_t jobz_len, size_t uplo_len);

lg_status lg_frechet_stats(const float *feats, int n, int d, double *mu, double *cov) {
    LG_CHECK(feats && mu && cov, LG_ERR_ARG, "frechet stats: NULL argument");
    LG_CHECK(n >= 2, LG_ERR_ARG, "frechet stats: %d feature rows (need >= 2)", n);
    LG_CHECK(d >= 1, LG_ERR_ARG, "frechet stats: dimension %d (need >= 1)", d);
    size_t dd;
    LG_CHECK(!lg_mul_overflow((size_t)d, (size_t)d, &dd), LG_ERR_NOMEM,
             "frechet stats: %d x %d covariance overflows", d, d);
    enum { BLOCK = 256 };
    double *blk = lg_alloc((size_t)BLOCK * (size_t)d * sizeof(double));
    if (!blk) return lg_error(LG_ERR_NOMEM, "frechet stats: out of memory (%d dims)", d);

    for (int k = 0; k < d; k++) mu[k] = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < d; k++) mu[k] += feats[(size_t)i * (size_t)d + (size_t)k];
    for (int k = 0; k < d; k++) mu[k] /= n;
    for (size_t i = 0; i < dd; i++) cov[i] = 0;
    /* Centred rows in double, BLOCK at a time, summed into the upper triangle
     * by DSYRK (a fixed order of blocks, so the sum is reproducible). */
    for (int r0 = 0; r0 < n; r0 += BLOCK) {
        int rows = n - r0 < BLOCK ? n - r0 : BLOCK;
#pragma omp parallel for schedule(static)
        for (int i = 0; i < rows; i++)
            for (int k = 0; k < d; k++)
                blk[(size_t)i * d + k] = (double)feats[(size_t)(r0 + i) * d + k] - mu[k];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, rows, 1.0, blk, d, 1.0, cov, d);
    }
    lg_free(blk);
    for (int i = 0; i < d; i++)
        for (int j = i; j < d; j++) {
            double v = cov[(size_t)i * d + j] / (n - 1);
            cov[(size_t)i * d + j] = cov[(size_t)j * d + i] = v;
        }
    for (size_t i = 0; i < dd; i++)
        LG_CHECK(isfinite(cov[i]), LG_ERR_NUMERIC,
                 "frechet stats: covariance is not finite (NaN or Inf in the features?)");
    return LG_OK;
}

/* Eigenvalues of the symmetric a[d*d] (overwritten with eigenvectors when
 * vectors != 0, as columns of a column-major matrix, i.e. rows here). */
static lg_status eigh(double *a, int d, int vectors, double *w) {
    const char jobz = vectors ? 'V' : 'N', uplo = 'U';
    int info = 0, lwork = -1, liwork = -1, iw_query = 0;
    double w_query = 0;
    dsyevd_(&jobz, &uplo, &d, a, &d, w, &w_query, &lwork, &iw_query, &liwork, &info, 1, 1);
    LG_CHECK(info == 0, LG_ERR_NUMERIC, "frechet: dsyevd workspace query failed (info %d)", info);
    lwork = (int)w_query + 1;
    liwork = iw_query > 1 ? iw_query : 1;
    double *work = lg_alloc((size_t)lwork * sizeof(double));
    int *iwork = lg_alloc((size_t)liwork * sizeof(int));
    if (!work || !iwork) {
        lg_free(work), lg_free(iwork);
        return lg_error(LG_ERR_NOMEM, "frechet: out of memory for the eigensolver");
    }
    dsyevd_(&jobz, &uplo, &d, a, &d, w, work, &lwork, iwork, &liwork, &info, 1, 1);
    lg_free(work), lg_free(iwork);
    LG_CHECK(info == 0, LG_ERR_NUMERIC, "frechet: eigendecomposition did not converge (info %d)",
             info);
    return LG_OK;
}

static lg_status check_cov(const double *cov, int d, const char *what) {
    for (int i = 0; i < d; i++)
        for (int j = 0; j <= i; j++) {
            double a = cov[(size_t)i * d + j], b = cov[(size_t)j * d + i];
            LG_CHECK(isfinite(a), LG_ERR_NUMERIC, "frechet: %s[%d][%d] is not finite", what, i, j);
            LG_CHECK(fabs(a - b) <= 1e-9 * (fabs(a) + fabs(b)) + 1e-300, LG_ERR_ARG,
                     "frechet: %s is not symmetric at [%d][%d] (%g vs %g)", what, i, j, a, b);
        }
    return LG_OK;
}

/* Tr sqrtm(S1 S2) = sum sqrt(eig(A S2 A)), A = sqrtm(S1). */
static lg_status trace_sqrt_product(const double *s1, const double *s2, int d, double *work,
                                    double *out) {
    size_t dd = (size_t)d * d;
    double *v = work, *t = work + dd, *a = work + 2 * dd, *w = work + 3 * dd;
    for (size_t i = 0; i < dd; i++) v[i] = s1[i];
    LG_TRY(eigh(v, d, 1, w));
    /* Row r of v is eigenvector r; scale it by lambda^(1/4), then A = V'^T V'. */
    for (int r = 0; r < d; r++) {
        double f = sqrt(sqrt(w[r] > 0 ? w[r] : 0));
        for (int k = 0; k < d; k++) v[(size_t)r * d + k] *= f;
    }
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, d, d, 1.0, v, d, v, d, 0.0, a, d);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, a, d, s2, d, 0.0, t, d);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, t, d, a, d, 0.0, v, d);
    for (int i = 0; i < d; i++) /* symmetrise away the rounding */
        for (int j = i + 1; j < d; j++) {
            double m = 0.5 * (v[(size_t)i * d + j] + v[(size_t)j * d + i]);
            v[(size_t)i * d + j] = v[(size_t)j * d + i] = m;
        }
    LG_TRY(eigh(v, d, 0, w));
    double tr = 0;
    for (int i = 0; i < d; i++) tr += sqrt(w[i] > 0 ? w[i] : 0);
    *out = tr;
    return LG_OK;
}

lg_status lg_frechet_distance(const double *mu1, const double *cov1, const double *mu2,
                              const double *cov2, int d, double *fd) {
    LG_CHECK(mu1 && cov1 && mu2 && cov2 && fd, LG_ERR_ARG, "frechet: NULL argument");
    LG_CHECK(d >= 1, LG_ERR_ARG, "frechet: dimension %d (need >= 1)", d);
    size_t dd, need;
    LG_CHECK(!lg_mul_overflow((size_t)d, (size_t)d, &dd) &&
                 !lg_mul_overflow(dd, 4 * sizeof(double), &need),
             LG_ERR_NOMEM, "frechet: %d x %d matrices overflow", d, d);
    LG_TRY(check_cov(cov1, d, "cov1"));
    LG_TRY(check_cov(cov2, d, "cov2"));
    double diff = 0, tr = 0;
    for (int i = 0; i < d; i++) {
        LG_CHECK(isfinite(mu1[i]) && isfinite(mu2[i]), LG_ERR_NUMERIC,
                 "frechet: mean %d is not finite", i);
        diff += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]);
        tr += cov1[(size_t)i * d + i] + cov2[(size_t)i * d + i];
    }
    double *work = lg_alloc(need); /* 3 d*d matrices + d eigenvalues */
    if (!work) return lg_error(LG_ERR_NOMEM, "frechet: out of memory (%d dims)", d);
    double trs = 0;
    lg_status st = trace_sqrt_product(cov1, cov2, d, work, &trs);
    lg_free(work);
    LG_TRY(st);
    double v = diff + tr - 2.0 * trs;
    *fd = v > 0 ? v : 0;
    return LG_OK;
}
