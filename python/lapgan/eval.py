"""Evaluation on numpy arrays with the library's own estimators: the
Parzen-window log-likelihood (LAPGAN's Table 1 metric) and the Frechet
Inception Distance."""
import numpy as np

from ._core import Error, check
from ._lapgan import ffi, lib


def _rows(x, name):
    a = np.asarray(x, dtype=np.float32)
    if a.ndim < 2:
        raise Error(f"{name}: expected [n, ...] rows, got shape {list(a.shape)}")
    return np.ascontiguousarray(a.reshape(a.shape[0], -1))


def parzen(samples, test, sigma=None, valid=None):
    """Parzen log-likelihood of the rows of `test` under an isotropic
    Gaussian window on `samples` (nats; pixels as given, e.g. in [0, 1]).
    sigma: a bandwidth, or None to pick the best of the default grid on
    `valid` (default: test itself). Returns {"mean", "std", "sem", "sigma",
    "ll"} (ll: per test row)."""
    s, t = _rows(samples, "samples"), _rows(test, "test")
    if s.shape[1] != t.shape[1]:
        raise Error(f"samples have {s.shape[1]} values per row, test {t.shape[1]}")
    d = s.shape[1]
    fp = lambda a: ffi.cast("float *", ffi.from_buffer(a))  # noqa: E731
    if sigma is None:
        v = t if valid is None else _rows(valid, "valid")
        best = ffi.new("double *")
        check(lib.lg_parzen_select_sigma(fp(s), s.shape[0], fp(v), v.shape[0], d, ffi.NULL, 0,
                                         best, ffi.NULL))
        sigma = best[0]
    ll = np.empty(t.shape[0], dtype=np.float64)
    check(lib.lg_parzen_ll(fp(s), s.shape[0], fp(t), t.shape[0], d, float(sigma),
                           ffi.cast("double *", ffi.from_buffer(ll))))
    summ = ffi.new("lg_ll_summary *")
    check(lib.lg_ll_summarize(ffi.cast("double *", ffi.from_buffer(ll)), ll.shape[0], summ))
    return {"mean": summ.mean, "std": summ.std, "sem": summ.sem, "sigma": float(sigma), "ll": ll}


def frechet_distance(a, b):
    """Frechet distance between the Gaussians fitted to the feature rows of
    a and b (FID when they are Inception pool features)."""
    fa, fb = _rows(a, "a"), _rows(b, "b")
    if fa.shape[1] != fb.shape[1]:
        raise Error(f"a has {fa.shape[1]} features per row, b {fb.shape[1]}")
    d = fa.shape[1]
    stats = []
    for f in (fa, fb):
        mu, cov = np.empty(d), np.empty((d, d))
        check(lib.lg_frechet_stats(ffi.cast("float *", ffi.from_buffer(f)), f.shape[0], d,
                                   ffi.cast("double *", ffi.from_buffer(mu)),
                                   ffi.cast("double *", ffi.from_buffer(cov))))
        stats.append((mu, cov))
    out = ffi.new("double *")
    dp = lambda a: ffi.cast("double *", ffi.from_buffer(a))  # noqa: E731
    check(lib.lg_frechet_distance(dp(stats[0][0]), dp(stats[0][1]), dp(stats[1][0]),
                                  dp(stats[1][1]), d, out))
    return out[0]


def inception_features(images, weights=None, resize="nv_bilinear_float"):
    """Inception-v3 pool features [n, 2048] of uint8 images [n, c, h, w]
    (`lapgan eval fid`'s network; weights: scripts/setup-inception.sh's file,
    default $LAPGAN_CACHE or ~/.cache/lapgan)."""
    x = np.ascontiguousarray(images)
    if x.dtype != np.uint8 or x.ndim != 4:
        raise Error(f"images: expected uint8 [n, c, h, w], got {x.dtype} {list(x.shape)}")
    r = lib.lg_resize_parse(resize.encode())
    if r < 0:
        raise Error(f"resize '{resize}' is not a resizer lapgan knows")
    if weights is None:
        buf = ffi.new("char[4096]")
        check(lib.lg_inception_default_path(buf, 4096))
        weights = ffi.string(buf).decode()
    net = ffi.new("lg_inception **")
    check(lib.lg_inception_load(net, weights.encode()))
    try:
        feats = np.empty((x.shape[0], lib.LG_INCEPTION_FEATURES), dtype=np.float32)
        check(lib.lg_inception_features(net[0], ffi.cast("uint8_t *", ffi.from_buffer(x)),
                                        *x.shape, r, ffi.NULL, ffi.NULL,
                                        ffi.cast("float *", ffi.from_buffer(feats))))
    finally:
        lib.lg_inception_free(net[0])
    return feats


def fid(images_a, images_b, weights=None, resize="nv_bilinear_float"):
    """FID between two sets of uint8 images [n, c, h, w] (n >= 2 each)."""
    return frechet_distance(inception_features(images_a, weights, resize),
                            inception_features(images_b, weights, resize))
