#!/usr/bin/python3
"""Writes tests/fixtures/nn_*.safetensors: PyTorch's answers for every layer,
loss and optimiser in include/lapgan/nn.h, checked by tests/test_fixtures.c.

Run from the repository root with Debian's torch:  /usr/bin/python3 tools/make_fixtures.py

Inputs and parameters are drawn in float32 (fixed seed per fixture); every
result is then computed in float64 from exactly those values and rounded to
float32 once, so a fixture is the true answer and not PyTorch's float32
rounding. Files are written by hand (struct + json): the safetensors package
need not be installed.

Each file's __metadata__ says what to build (parsed by tests/test_fixtures.c):
  kind    "net" (forward + backward), "dstep" (discriminator training steps),
          "concat" or "bce" (standalone ops)
  layers  "conv2d out=4 k=5 stride=1 pad=2; relu; ..." (lg_layer_spec fields)
  train   "1": batch statistics for batch norm; "0": running statistics
  optim   "sgd lr=0.02 momentum=0.5" or "adam lr=0.0002 beta1=0.5"
  steps   number of optimiser steps in a dstep fixture
Tensor names (layer index i, PyTorch parameter name n):
  x, dy, y, dx           input, upstream gradient, output, input gradient
  p.i.n / g.i.n          parameters before any step / their gradients
  b0.i.n / b.i.n         batch-norm running stats before / after the forward
  sK.x, sK.logits, sK.loss, sK.dx, sK.g.i.n, sK.p.i.n
                         step K of a dstep: batch, D output, mean BCE, input
                         gradient, gradients, parameters after the update
  t                      BCE targets (dstep and bce)
Dropout has no fixture: its mask comes from the RNG, and PyTorch's generator
is not lapgan's Philox, so there is nothing to agree on beyond what the unit
tests already check (mask scaling, identity in eval).
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")


def write_safetensors(path, tensors, meta):
    """tensors: list of (name, float32 numpy array); insertion order is kept."""
    header = {"__metadata__": meta}
    blobs, at = [], 0
    for name, a in tensors:
        a = np.ascontiguousarray(a, dtype="<f4")
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(path + ".tmp", path)


def f32(t):
    return t.detach().to(torch.float32).numpy()


def randn(*shape, scale=1.0):
    """float32 draws, returned in float64 (exactly representable)."""
    return (torch.randn(*shape) * scale).to(torch.float32).double()


class FlatLinear(nn.Linear):
    """lapgan's LINEAR flattens each sample first."""

    def forward(self, x):
        return super().forward(x.flatten(1))


class Reshape(nn.Module):
    def __init__(self, c, h, w):
        super().__init__()
        self.shape = (c, h, w)

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


class FeatureL2Pool(nn.Module):
    """Torch7's FeatureLPPooling(k, k, 2): every k consecutive maps -> the
    root of their sum of squares."""

    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, x):
        n, c, h, w = x.shape
        return x.reshape(n, c // self.k, self.k, h, w).pow(2).sum(2).sqrt()


def parse_layer(text, shape):
    """One lapgan layer spec -> (torch module, output shape of one sample)."""
    kind, *kv = text.split()
    o = {k: float(v) for k, v in (p.split("=") for p in kv)}
    c, h, w = shape
    if kind == "linear":
        out = int(o["out"])
        return FlatLinear(c * h * w, out, bias=not o.get("no_bias")), (out, 1, 1)
    if kind == "conv2d":
        k, s, p = int(o["k"]), int(o.get("stride", 1)), int(o.get("pad", 0))
        m = nn.Conv2d(c, int(o["out"]), k, stride=s, padding=p, groups=int(o.get("groups", 1)),
                      bias=not o.get("no_bias"))
        return m, (int(o["out"]), (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)
    if kind == "relu":
        return nn.ReLU(), shape
    if kind == "leaky_relu":
        return nn.LeakyReLU(o.get("slope", 0.2)), shape
    if kind == "sigmoid":
        return nn.Sigmoid(), shape
    if kind == "tanh":
        return nn.Tanh(), shape
    if kind == "batchnorm":
        cls = nn.BatchNorm1d if h == 1 and w == 1 else nn.BatchNorm2d
        m = cls(c, eps=o.get("eps", 1e-5), momentum=o.get("momentum", 0.1),
                affine=not o.get("no_affine"))
        return m, shape
    if kind == "flatten":
        return nn.Flatten(), (c * h * w, 1, 1)
    if kind == "reshape":
        t = (int(o["c"]), int(o["h"]), int(o["w"]))
        return Reshape(*t), t
    if kind == "feature_l2pool":
        return FeatureL2Pool(int(o["k"])), (c // int(o["k"]), h, w)
    if kind in ("upsample_nearest", "upsample_bilinear"):
        mode = kind.split("_")[1]
        m = nn.Upsample(scale_factor=2, mode=mode,
                        align_corners=False if mode == "bilinear" else None)
        return m, (c, 2 * h, 2 * w)
    raise ValueError(kind)


def build(layers, in_shape):
    mods, shape = [], in_shape
    for text in layers.split(";"):
        m, shape = parse_layer(text.strip(), shape)
        mods.append(m)
    net = nn.Sequential(*mods)
    # Non-trivial batch-norm affine parameters and running statistics, so a
    # swapped gamma/beta or a wrong momentum shows.
    for m in net:
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            if m.affine:
                m.weight.data = 1 + randn(m.num_features, scale=0.3).float()
                m.bias.data = randn(m.num_features, scale=0.3).float()
            m.running_mean = randn(m.num_features, scale=0.5).float()
            m.running_var = (0.5 + torch.rand(m.num_features)).float()
    return net.double()


def named(net, prefix, grads=False):
    """Parameters (or their gradients) as (prefix.i.name, array)."""
    out = []
    for name, p in net.named_parameters():
        t = p.grad if grads else p
        out.append((f"{prefix}.{name}", f32(t)))
    return out


def buffers(net, prefix):
    return [(f"{prefix}.{n}", f32(b)) for n, b in net.named_buffers() if "running" in n]


def meta(**kw):
    m = {"source": "tools/make_fixtures.py", "torch": torch.__version__}
    m.update({k: str(v) for k, v in kw.items()})
    return m


def fixture_net(name, seed, layers, x_shape, train=1):
    torch.manual_seed(seed)
    x = randn(*x_shape, scale=1.5)
    in_shape = tuple(x_shape[1:]) + (1,) * (4 - len(x_shape))
    net = build(layers, in_shape)
    net.train(bool(train))
    t = [("x", f32(x))] + named(net, "p") + buffers(net, "b0")
    x.requires_grad_(True)
    y = net(x)
    dy = randn(*y.shape)
    y.backward(dy)
    t += [("dy", f32(dy)), ("y", f32(y)), ("dx", f32(x.grad))]
    t += named(net, "g", grads=True) + buffers(net, "b")
    write_safetensors(os.path.join(OUT, f"nn_{name}.safetensors"), t,
                      meta(kind="net", layers=layers, train=train, seed=seed))


def fixture_dstep(name, seed, optim):
    """LAPGAN level-sized discriminator (3x14x14 input): steps of BCE on
    half real (target 1) / half fake (target 0) batches, then the optimiser."""
    torch.manual_seed(seed)
    layers = ("conv2d out=16 k=5 stride=1 pad=0; relu; conv2d out=16 k=5 stride=2 pad=0; relu;"
              " flatten; linear out=1")
    net = build(layers, (3, 14, 14))
    kind, *kv = optim.split()
    o = {k: float(v) for k, v in (p.split("=") for p in kv)}
    if kind == "sgd":
        opt = torch.optim.SGD(net.parameters(), lr=o["lr"], momentum=o["momentum"])
    else:
        opt = torch.optim.Adam(net.parameters(), lr=o["lr"], betas=(o["beta1"], 0.999), eps=1e-8)
    n, steps = 8, 2
    tgt = torch.cat([torch.ones(n // 2), torch.zeros(n // 2)]).double()
    t = [("t", f32(tgt))] + named(net, "p")
    for k in range(1, steps + 1):
        x = randn(n, 3, 14, 14).requires_grad_(True)
        opt.zero_grad()
        logits = net(x).view(-1)
        loss = F.binary_cross_entropy_with_logits(logits, tgt, reduction="mean")
        loss.backward()
        t += [(f"s{k}.x", f32(x)), (f"s{k}.logits", f32(logits)), (f"s{k}.loss", f32(loss.view(1))),
              (f"s{k}.dx", f32(x.grad))] + named(net, f"s{k}.g", grads=True)
        opt.step()
        t += named(net, f"s{k}.p")
    write_safetensors(os.path.join(OUT, f"nn_{name}.safetensors"), t,
                      meta(kind="dstep", layers=layers, optim=optim, steps=steps, seed=seed))


def fixture_concat(seed):
    torch.manual_seed(seed)
    a = randn(2, 3, 4, 4).requires_grad_(True)
    b = randn(2, 2, 4, 4).requires_grad_(True)
    out = torch.cat([a, b], dim=1)
    dout = randn(*out.shape)
    out.backward(dout)
    t = [("a", f32(a)), ("b", f32(b)), ("out", f32(out)), ("dout", f32(dout)),
         ("da", f32(a.grad)), ("db", f32(b.grad))]
    write_safetensors(os.path.join(OUT, "nn_concat.safetensors"), t, meta(kind="concat", seed=seed))


def fixture_bce(seed):
    """Extreme logits: exp(30) overflows nothing in the stable form but a
    naive log(sigmoid) loses everything."""
    torch.manual_seed(seed)
    x = torch.cat([torch.tensor([30.0, -30.0, 30.0, -30.0, 0.0, 88.0, -88.0]).double(),
                   randn(9, scale=4)]).requires_grad_(True)
    tgt = torch.cat([torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0]).double(),
                     (torch.rand(9) > 0.5).double()])
    loss = F.binary_cross_entropy_with_logits(x, tgt, reduction="mean")
    loss.backward()
    t = [("logits", f32(x)), ("t", f32(tgt)), ("loss", f32(loss.view(1))), ("dlogits", f32(x.grad))]
    write_safetensors(os.path.join(OUT, "nn_bce.safetensors"), t, meta(kind="bce", seed=seed))


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    nets = [
        ("linear", "linear out=5", (4, 2, 3, 3), 1),
        ("linear_nobias", "linear out=4 no_bias=1", (3, 7), 1),
        ("conv5x5_pad2", "conv2d out=4 k=5 stride=1 pad=2", (2, 3, 8, 8), 1),
        ("conv3x3_s2", "conv2d out=4 k=3 stride=2 pad=0", (2, 3, 10, 10), 1),
        ("conv7x7_pad3", "conv2d out=3 k=7 stride=1 pad=3", (2, 2, 9, 9), 1),
        ("relu", "relu", (3, 4, 5, 5), 1),
        ("leaky_relu", "leaky_relu slope=0.2", (3, 4, 5, 5), 1),
        ("sigmoid", "sigmoid", (3, 4, 5, 5), 1),
        ("tanh", "tanh", (3, 4, 5, 5), 1),
        ("batchnorm1d", "batchnorm", (8, 6), 1),
        ("batchnorm2d", "batchnorm", (4, 5, 6, 6), 1),
        ("batchnorm2d_noaffine", "batchnorm no_affine=1", (4, 3, 5, 5), 1),
        ("batchnorm2d_eval", "batchnorm", (4, 5, 6, 6), 0),
        ("flatten", "flatten", (2, 3, 4, 4), 1),
        ("reshape", "reshape c=3 h=2 w=2", (2, 12), 1),
        ("upsample_nearest", "upsample_nearest", (2, 3, 5, 4), 1),
        ("upsample_bilinear", "upsample_bilinear", (2, 3, 5, 4), 1),
        ("generator", "conv2d out=16 k=5 stride=1 pad=2; relu; conv2d out=16 k=5 stride=1 pad=2;"
                      " relu; conv2d out=3 k=5 stride=1 pad=2", (4, 4, 14, 14), 1),
        ("mlp_bn", "flatten; linear out=12 no_bias=1; batchnorm; leaky_relu slope=0.2;"
                   " linear out=1; sigmoid", (6, 3, 4, 4), 1),
        ("conv5x5_g4", "conv2d out=8 k=5 stride=1 pad=2 groups=4", (2, 8, 7, 7), 1),
        ("feature_l2pool", "feature_l2pool k=2", (3, 6, 4, 4), 1),
        # the authors' LSUN G in small: grouped convs, ReLU then plain BN, L2 pooling
        ("lsun_block", "conv2d out=8 k=3 stride=1 pad=1 groups=2; relu; batchnorm no_affine=1;"
                       " feature_l2pool k=2; conv2d out=4 k=3 stride=1 pad=0 groups=2",
         (4, 4, 7, 7), 1),
    ]
    for seed, (name, layers, shape, train) in enumerate(nets, start=1):
        fixture_net(name, seed, layers, shape, train)
    fixture_dstep("dstep_sgd", 101, "sgd lr=0.02 momentum=0.5")
    fixture_dstep("dstep_adam", 102, "adam lr=0.0002 beta1=0.5")
    fixture_concat(201)
    fixture_bce(202)
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT)
                if f.endswith(".safetensors"))
    print(f"wrote fixtures to {os.path.normpath(OUT)}: {total} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
