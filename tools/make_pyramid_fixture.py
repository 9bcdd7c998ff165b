#!/usr/bin/python3
"""Writes tests/fixtures/pyramid_ref.bin: inputs and reference outputs of
lapgan's d(.) and u(.) computed by independent implementations.

References:
  binomial, exact halving / doubling  cv2.pyrDown / cv2.pyrUp (BORDER_REFLECT_101)
  binomial, other ratios               numpy, straight from the definition in pyramid.h
  area shrink                          cv2.resize(INTER_AREA) (fractional overlaps);
                                       torch adaptive_avg_pool2d agrees on integer ratios
  bilinear enlarge                     torch F.interpolate(bilinear, align_corners=True)

File format (all little-endian):
  char magic[4] = "LGPF"; u32 version = 1; u32 ncases;
  per case: u32 filter (0 binomial, 1 area-bilinear), u32 op (0 down, 1 up),
            u32 n, c, h, w, oh, ow; f32 x[n*c*h*w]; f32 y[n*c*oh*ow]
Run: /usr/bin/python3 tools/make_pyramid_fixture.py  (needs python3-opencv, torch, numpy)
"""
import struct
import sys

import cv2
import numpy as np
import torch
import torch.nn.functional as F

BINOMIAL, AREA_BILINEAR = 0, 1
DOWN, UP = 0, 1


def per_plane(x, fn):
    n, c = x.shape[:2]
    return np.stack([np.stack([fn(x[i, j]) for j in range(c)]) for i in range(n)])


def cv_pyr_down(x, oh, ow):
    return per_plane(x, lambda p: cv2.pyrDown(p, dstsize=(ow, oh)))


def cv_pyr_up(x, oh, ow):
    return per_plane(x, lambda p: cv2.pyrUp(p, dstsize=(ow, oh)))


def cv_area(x, oh, ow):
    return per_plane(x, lambda p: cv2.resize(p, (ow, oh), interpolation=cv2.INTER_AREA))


def torch_bilinear(x, oh, ow):
    t = F.interpolate(torch.from_numpy(x).double(), size=(oh, ow), mode="bilinear",
                      align_corners=True)
    return t.numpy().astype(np.float32)


def kern_down(t):
    t = abs(t)
    return np.interp(t, [0, 1, 2, 3], [6, 4, 1, 0]) if t < 3 else 0.0


def kern_up(t):
    t = abs(t)
    return np.interp(t, [0, 0.5, 1, 1.5], [0.75, 0.5, 0.125, 0]) if t < 1.5 else 0.0


def gen_matrix(n_in, n_out, down):
    """Dense [n_out, n_in] matrix of the generalised binomial resampler."""
    r = n_in / n_out
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        c = (i + 0.5) * r - 0.5
        for x in range(n_in):
            m[i, x] = kern_down((x - c) * 2 / r) if down else kern_up(x - c)
        m[i] /= m[i].sum()
    return m


def np_generalised(x, oh, ow, down):
    my = gen_matrix(x.shape[2], oh, down)
    mx = gen_matrix(x.shape[3], ow, down)
    y = np.einsum("ph,nchw,qw->ncpq", my, x.astype(np.float64), mx)
    return y.astype(np.float32)


CASES = [  # filter, op, h, w, oh, ow, reference
    (BINOMIAL, DOWN, 28, 28, 14, 14, cv_pyr_down),
    (BINOMIAL, DOWN, 14, 14, 7, 7, cv_pyr_down),
    (BINOMIAL, DOWN, 7, 7, 4, 4, cv_pyr_down),
    (BINOMIAL, DOWN, 9, 16, 5, 8, cv_pyr_down),
    (BINOMIAL, UP, 7, 7, 14, 14, cv_pyr_up),
    (BINOMIAL, UP, 14, 14, 28, 28, cv_pyr_up),
    (BINOMIAL, UP, 5, 8, 10, 16, cv_pyr_up),
    (BINOMIAL, UP, 4, 4, 7, 7, cv_pyr_up),
    (BINOMIAL, DOWN, 14, 14, 8, 8, lambda x, oh, ow: np_generalised(x, oh, ow, True)),
    (BINOMIAL, DOWN, 32, 32, 14, 14, lambda x, oh, ow: np_generalised(x, oh, ow, True)),
    (BINOMIAL, UP, 8, 8, 14, 14, lambda x, oh, ow: np_generalised(x, oh, ow, False)),
    (AREA_BILINEAR, DOWN, 28, 28, 14, 14, cv_area),
    (AREA_BILINEAR, DOWN, 14, 14, 7, 7, cv_area),
    (AREA_BILINEAR, DOWN, 14, 14, 8, 8, cv_area),
    (AREA_BILINEAR, DOWN, 32, 32, 14, 14, cv_area),
    (AREA_BILINEAR, DOWN, 7, 7, 4, 4, cv_area),
    (AREA_BILINEAR, UP, 7, 7, 14, 14, torch_bilinear),
    (AREA_BILINEAR, UP, 14, 14, 28, 28, torch_bilinear),
    (AREA_BILINEAR, UP, 8, 8, 14, 14, torch_bilinear),
    (AREA_BILINEAR, UP, 4, 4, 7, 7, torch_bilinear),
]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/pyramid_ref.bin"
    rng = np.random.default_rng(20150618)
    n, c = 1, 2
    blob = [b"LGPF", struct.pack("<II", 1, len(CASES))]
    for filt, op, h, w, oh, ow, ref in CASES:
        x = rng.uniform(-1, 1, size=(n, c, h, w)).astype(np.float32)
        y = np.ascontiguousarray(ref(x, oh, ow), dtype=np.float32)
        assert y.shape == (n, c, oh, ow), (y.shape, oh, ow)
        if filt == AREA_BILINEAR and op == DOWN and h % oh == 0 and w % ow == 0:
            t = F.adaptive_avg_pool2d(torch.from_numpy(x).double(), (oh, ow)).numpy()
            assert np.abs(t - y).max() < 1e-6, "cv2 INTER_AREA and torch area disagree"
        blob.append(struct.pack("<8I", filt, op, n, c, h, w, oh, ow))
        blob.append(x.astype("<f4").tobytes())
        blob.append(y.astype("<f4").tobytes())
    with open(out, "wb") as f:
        f.write(b"".join(blob))
    print(f"{out}: {len(CASES)} cases")


if __name__ == "__main__":
    main()
