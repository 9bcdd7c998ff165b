#!/usr/bin/python3
"""PyTorch's side of `lapgan bench`: the same LAPGAN training step per level
and the same coarse-to-fine sampler, written the way PyTorch is meant to be
used, as the yardstick for our C implementation.

The nets are built from the JSON that `lapgan bench --print-json` prints for
the same flags, so architectures cannot drift; each net's parameter count is
checked against the counts lapgan prints with it. What one training step of
level k does (mirrors src/gan/level.c, lg_level_train_step):
  - the real batch goes down the pyramid to I_k (and I_{k+1}), l = u(I_{k+1})
  - D step: G (train mode, no autograd) makes h~ for the second half of the
    batch from its coarse images; D sees [I_k of the first half; h~ + l of the
    second half], BCE-with-logits against 1/0, D's optimiser steps
  - G step: fresh noise for the whole batch, D (train mode: dropout on, its
    weights frozen so no weight gradients are computed) judges h~ + l against
    "real", the gradient flows into G, G's optimiser steps.
Sampling runs G_K, then u and G_k level by level, in eval mode under
torch.inference_mode(). Pyramid d(.) and u(.) are the exact separable
filters of src/pyramid/resample.c (cv2.pyrDown / pyrUp where the sizes halve
or double) applied as two small matrix products.

Conv levels run in NCHW or channels-last: --layout auto (default) times a
few steps of each per level and keeps the faster for that level (printed as
`layout <S>x<S> fmt`); bench/run.sh does that once in its warm-up run and
passes the choice on as --layout 28x28=nchw,14x14=channels_last.

--autocast bf16 runs every forward pass (and so its backward) under
torch.autocast("cpu", dtype=torch.bfloat16), PyTorch's own mixed precision,
the yardstick for `lapgan bench --precision bf16`; weights, optimiser state
and the pyramid stay float32 on both sides.

    /usr/bin/python3 bench/ref/lapgan_ref.py --lapgan build/lapgan [--preset P]
        [--batch B] [--sample-batch N] [--threads T] [--steps N] [--warmup N]
        [--adam] [--dcgan] [--layout auto|nchw|channels_last|SxS=FMT,...]
        [--autocast bf16]
    /usr/bin/python3 bench/ref/lapgan_ref.py --parzen N M D [--threads T]

Prints the lines `lapgan bench` prints (train_img_per_s <S>x<S> v, coarsest
first; train_img_per_s total v; sample_img_per_s v), plus
`train_conv_gflop <S>x<S> v` (nominal convolution GFLOP in one training step
of that level, both sides do the same work) and `layout <S>x<S> fmt`.
With --parzen: `parzen_sigma_s v` and `parzen_ll_s v` as parzen_bench does.
"""
import argparse
import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

AUTOCAST = None  # torch dtype under torch.autocast, or None (--autocast)


def amp():
    if AUTOCAST is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type="cpu", dtype=AUTOCAST)


# ---- pyramid filters (src/pyramid/resample.c) ------------------------------

BINOM5 = (1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16)


def reflect101(i, n):
    if n == 1:
        return 0
    while i < 0 or i >= n:
        i = -i if i < 0 else 2 * n - 2 - i
    return i


def kern_down(t):
    t = abs(t)
    return 6 - 2 * t if t < 1 else 4 - 3 * (t - 1) if t < 2 else 1 - (t - 2) if t < 3 else 0


def kern_up(t):
    t = abs(t)
    if t < 0.5:
        return 0.75 - 0.5 * t
    if t < 1:
        return 0.5 - 0.75 * (t - 0.5)
    return 0.125 - 0.25 * (t - 1) if t < 1.5 else 0


def axis_matrix(filt, down, n_in, n_out):
    """[n_out, n_in] weights of one axis, as fill_axis builds its taps."""
    a = torch.zeros(n_out, n_in, dtype=torch.float64)
    for i in range(n_out):
        if n_in == n_out:
            a[i, i] = 1
        elif filt == "area-bilinear" and down:
            lo, hi = i * n_in, (i + 1) * n_in
            x = lo // n_out
            while x * n_out < hi and x < n_in:
                a[i, x] += (min((x + 1) * n_out, hi) - max(x * n_out, lo)) / n_in
                x += 1
        elif filt == "area-bilinear":
            s = i * (n_in - 1) / (n_out - 1) if n_out > 1 else 0
            x0 = min(int(math.floor(s)), n_in - 1)
            f = s - x0
            a[i, x0] += 1 - f
            if x0 + 1 < n_in:
                a[i, x0 + 1] += f
        elif down and n_out == (n_in + 1) // 2:  # cv2.pyrDown
            for t in range(5):
                a[i, reflect101(2 * i + t - 2, n_in)] += BINOM5[t]
        elif not down and n_out in (2 * n_in, 2 * n_in - 1):  # cv2.pyrUp
            for t in range(5):
                p = reflect101(i + t - 2, 2 * n_in)
                if not p & 1:
                    a[i, p // 2] += 2 * BINOM5[t]
        else:  # generalised binomial, normalised over the samples that exist
            r = n_in / n_out
            c = (i + 0.5) * r - 0.5
            reach = 1.5 * r if down else 1.5
            for x in range(max(0, math.ceil(c - reach)), min(n_in - 1, math.floor(c + reach)) + 1):
                v = kern_down((x - c) * 2 / r) if down else kern_up(x - c)
                if v > 0:
                    a[i, x] = v
            a[i] /= a[i].sum()
    return a.float()


class Resample:
    """y = A x A^T on the last two axes (square images)."""

    def __init__(self, filt, down, n_in, n_out):
        self.a = axis_matrix(filt, down, n_in, n_out)
        self.at = self.a.t().contiguous()

    def __call__(self, x):
        return torch.matmul(self.a, torch.matmul(x, self.at))


# ---- networks (src/gan/level.c: g_specs, d_specs) --------------------------


class FlattenNHWC(nn.Module):
    """Flatten without a copy in either layout: channels-last tensors are
    flattened in HWC order (the linear layer's weight columns are simply
    permuted relative to CHW, which costs nothing)."""

    def forward(self, x):
        if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
            return x.permute(0, 2, 3, 1).flatten(1)
        return x.flatten(1)


def act(leaky):
    return nn.LeakyReLU(0.2, inplace=True) if leaky else nn.ReLU(inplace=True)


class FeatureL2Pool(nn.Module):
    """Every k consecutive maps -> sqrt of their sum of squares (Torch's
    FeatureLPPooling with p = 2; src/nn/featpool.c)."""

    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, x):
        n, c, h, w = x.shape
        return x.reshape(n, c // self.k, self.k, h, w).pow(2).sum(2).sqrt()


# The authors' LSUN model (level arch "lsun_large"; src/gan/level.c)
LSUN_G = ((7, 1), (7, 4), (7, 4), (5, 2))  # (kernel, groups) per hidden layer
LSUN_D = ((3, 1), (5, 4), (7, 16))


def g_net_lsun(m, lv, gin):
    layers = []
    for i, (w, (k, g)) in enumerate(zip(lv["g_width"], LSUN_G)):
        layers += [nn.Conv2d(gin, w, k, padding=k // 2, groups=g), act(False),
                   nn.BatchNorm2d(w, affine=False)]
        if i in (1, 3) and lv["g_dropout"] > 0:
            layers.append(nn.Dropout2d(lv["g_dropout"]))
        gin = w
        if i == 2:
            layers.append(FeatureL2Pool(2))
            gin = w // 2
    k = lv["g_out_kernel"]
    layers += [nn.Conv2d(gin, m["channels"], k, padding=k // 2),
               nn.BatchNorm2d(m["channels"], affine=False)]
    return nn.Sequential(*layers)


def d_net_lsun(m, lv, din):
    layers, s = [], lv["size"]
    for i, (w, (k, g)) in enumerate(zip(lv["d_width"], LSUN_D)):
        layers.append(nn.Conv2d(din, w, k, groups=g))
        s -= k - 1
        if lv["d_bn"] and i > 0:
            layers.append(nn.BatchNorm2d(w))
        layers.append(act(m["leaky_d"]))
        if i == 2 and lv["d_dropout"] > 0:
            layers.append(nn.Dropout(lv["d_dropout"]))
        din = w
    layers += [FlattenNHWC(), nn.Linear(din * s * s, 1)]
    return nn.Sequential(*layers)


def g_net(m, lv, gin):
    if not lv["fc"] and lv.get("arch", "plain") == "lsun_large":
        return g_net_lsun(m, lv, gin)
    layers, c, s = [], m["channels"], lv["size"]
    for w in lv["g_width"]:
        if lv["fc"]:
            layers.append(nn.Linear(gin, w))
        else:
            layers.append(nn.Conv2d(gin, w, lv["g_kernel"], padding=lv["g_kernel"] // 2))
        if lv["g_bn"]:
            layers.append(nn.BatchNorm1d(w) if lv["fc"] else nn.BatchNorm2d(w))
        layers.append(act(False))
        if lv["g_dropout"] > 0:
            layers.append(nn.Dropout(lv["g_dropout"]))
        gin = w
    if lv["fc"]:
        layers.append(nn.Linear(gin, c * s * s))
    else:
        layers.append(nn.Conv2d(gin, c, lv["g_out_kernel"], padding=lv["g_out_kernel"] // 2))
    return nn.Sequential(*layers)


def d_net(m, lv, din):
    if not lv["fc"] and lv.get("arch", "plain") == "lsun_large":
        return d_net_lsun(m, lv, din)
    layers, s, nw = [], lv["size"], len(lv["d_width"])
    for i, w in enumerate(lv["d_width"]):
        last = i == nw - 1
        if lv["fc"]:
            layers.append(nn.Linear(din, w))
        else:
            k, stride = lv["d_kernel"], lv["d_last_stride"] if last else 1
            layers.append(nn.Conv2d(din, w, k, stride=stride, padding=k // 2))
            s = (s + 2 * (k // 2) - k) // stride + 1
        if lv["d_bn"] and i > 0:
            layers.append(nn.BatchNorm1d(w) if lv["fc"] else nn.BatchNorm2d(w))
        layers.append(act(m["leaky_d"]))
        if (lv["fc"] or last) and lv["d_dropout"] > 0:
            layers.append(nn.Dropout(lv["d_dropout"]))
        din = w
    if not lv["fc"]:
        layers.append(FlattenNHWC())
        din = din * s * s
    layers.append(nn.Linear(din, 1))
    return nn.Sequential(*layers)


def init_normal(net, std):
    for mod in net.modules():
        if isinstance(mod, (nn.Linear, nn.Conv2d)):
            nn.init.normal_(mod.weight, 0, std)
            nn.init.zeros_(mod.bias)


def optimiser(m, params):
    o = m["optim"]
    if o["kind"] == "adam":
        return torch.optim.Adam(params, lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"],
                                weight_decay=o["weight_decay"])
    return torch.optim.SGD(params, lr=o["lr"], momentum=o["momentum"],
                           weight_decay=o["weight_decay"])


def conv_flops(net, n, s):
    """Nominal forward flops of the net's convolutions for n images of s x s,
    and of its first convolution alone (whose input gradient nobody needs)."""
    total, first = 0.0, None
    for mod in net:
        if isinstance(mod, nn.Conv2d):
            so = (s + 2 * mod.padding[0] - mod.kernel_size[0]) // mod.stride[0] + 1
            f = (2.0 * n * mod.out_channels * so * so * mod.in_channels // mod.groups
                 * mod.kernel_size[0] ** 2)
            total += f
            first = f if first is None else first
            s = so
    return total, first or 0.0


class Level:
    def __init__(self, m, k, batch, layout):
        self.m, self.k, self.K = m, k, len(m["levels"]) - 1
        self.lv = lv = m["levels"][k]
        self.c, self.s, self.fc = m["channels"], lv["size"], lv["fc"]
        sizes = [l["size"] for l in m["levels"]]
        self.down = [Resample(m["filter"], True, sizes[j - 1], sizes[j]) for j in range(1, len(sizes))]
        self.up = Resample(m["filter"], False, sizes[k + 1], sizes[k]) if k < self.K else None
        self.zshape = (lv["zdim"],) if self.fc else (lv["zdim"], self.s, self.s)
        gin = lv["zdim"] if self.fc else lv["zdim"] + self.c
        din = self.c * self.s * self.s if self.fc else self.c
        self.G, self.D = g_net(m, lv, gin), d_net(m, lv, din)
        if m["init"] == "normal":
            init_normal(self.G, m["init_std"])
            init_normal(self.D, m["init_std"])
        self.set_layout(layout)
        self.optG = optimiser(m, self.G.parameters())
        self.optD = optimiser(m, self.D.parameters())
        half = batch // 2
        self.t_d = torch.cat([torch.ones(half, 1), torch.zeros(batch - half, 1)])
        self.t_g = torch.ones(batch, 1)

    def set_layout(self, layout):
        self.mf = torch.channels_last if layout == "channels_last" and not self.fc \
            else torch.contiguous_format
        self.layout = "channels_last" if self.mf == torch.channels_last else "nchw"
        for net in (self.G, self.D):
            net.to(memory_format=self.mf)

    def params(self, net):
        return sum(p.numel() for p in net.parameters())

    def noise(self, n):
        lo, hi = self.m["noise"]
        z = torch.empty((n,) + self.zshape).uniform_(lo, hi)
        return z if self.fc else z.contiguous(memory_format=self.mf)

    def g_input(self, z, l):
        return z if l is None else torch.cat([z, l], 1)

    def prepare_real(self, images):
        """I_k (flattened at the FC level) and l = u(I_{k+1}) (None at K)."""
        chain, x = [images], images
        for j in range(1, min(self.k + 1, self.K) + 1):
            x = self.down[j - 1](x)
            chain.append(x)
        l = self.up(chain[self.k + 1]).contiguous(memory_format=self.mf) if self.up else None
        ik = chain[self.k]
        ik = ik.flatten(1) if self.fc else ik.contiguous(memory_format=self.mf)
        return ik, l

    def train_step(self, images):
        B = images.shape[0]
        half = B // 2
        with torch.no_grad():
            ik, l = self.prepare_real(images)
            lf = None if l is None else l[half:]
            with amp():
                h = self.G(self.g_input(self.noise(half), lf))
            fake = h.float() if lf is None else h.float() + lf
            x = torch.cat([ik[:half], fake])
        self.optD.zero_grad(set_to_none=True)
        with amp():
            out = self.D(x)
        F.binary_cross_entropy_with_logits(out.float(), self.t_d).backward()
        self.optD.step()

        self.D.requires_grad_(False)
        with amp():
            h = self.G(self.g_input(self.noise(B), l))
            x = h if l is None else h + l
            out = self.D(x)
        self.optG.zero_grad(set_to_none=True)
        F.binary_cross_entropy_with_logits(out.float(), self.t_g).backward()
        self.optG.step()
        self.D.requires_grad_(True)

    def generate(self, coarse, n):
        """Eval-mode sample of this level from the coarser image (None at K)."""
        l = None if coarse is None else self.up(coarse).contiguous(memory_format=self.mf)
        with amp():
            h = self.G(self.g_input(self.noise(n), l)).float()
        if self.fc:
            return h.view(n, self.c, self.s, self.s)
        return h + l

    def conv_gflop(self, B):
        """Nominal conv GFLOP of one train_step: D step = G fwd (B/2), D fwd,
        D bwd-weights, D bwd-data below the first layer; G step = G fwd, D
        fwd, D bwd-data (all layers: G needs the image gradient), G
        bwd-weights, G bwd-data below the first layer."""
        if self.fc:
            return 0.0
        g, g1 = conv_flops(self.G, 1, self.s)
        d, d1 = conv_flops(self.D, 1, self.s)
        return B * (g / 2 + d + d + (d - d1) + g + d + d + g + (g - g1)) * 1e-9


LAYOUTS = ("auto", "nchw", "channels_last")


def median_step_s(fn, warmup, steps):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def load_model(args):
    cmd = [args.lapgan, "bench", "--preset", args.preset, "--batch", str(args.batch), "--print-json"]
    cmd += ["--adam"] * args.adam + ["--dcgan"] * args.dcgan
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()
    m = json.loads(out[0])
    counts = {}
    for line in out[1:]:
        f = line.split()
        if f and f[0] == "params":
            counts[(f[1], f[2])] = int(f[3])
    if m["classes"]:
        sys.exit("lapgan_ref.py: class-conditional models are not mirrored")
    return m, counts


def bench_train(args, m, counts, images):
    K = len(m["levels"]) - 1
    levels, per_s = {}, {}
    chosen = dict(kv.split("=", 1) for kv in args.layout.split(",") if "=" in kv)
    for k in range(K, -1, -1):
        s = m["levels"][k]["size"]
        name = f"{s}x{s}"
        fmt = chosen.get(name, "auto" if chosen else args.layout)
        if fmt not in LAYOUTS:
            sys.exit(f"lapgan_ref.py: --layout: '{fmt}' for {name} is not one of {LAYOUTS}")
        layouts = ["nchw", "channels_last"] if fmt == "auto" else [fmt]
        if m["levels"][k]["fc"]:
            layouts = ["nchw"]
        best = None
        for fmt in layouts:
            lv = Level(m, k, args.batch, fmt)
            for net, part in ((lv.G, "G"), (lv.D, "D")):
                ours = counts.get((name, part))
                assert ours == lv.params(net), f"{name} {part}: {lv.params(net)} params, lapgan {ours}"
            if len(layouts) > 1:  # a short trial of each layout
                t = median_step_s(lambda: lv.train_step(images), 1, 2)
                if best is None or t < best[0]:
                    best = (t, fmt)
        if len(layouts) > 1:
            lv = Level(m, k, args.batch, best[1])
        per_s[k] = median_step_s(lambda: lv.train_step(images), args.warmup, args.steps)
        print(f"params {name} G {lv.params(lv.G)}\nparams {name} D {lv.params(lv.D)}")
        print(f"layout {name} {lv.layout}\ntrain_conv_gflop {name} {lv.conv_gflop(args.batch):.3f}",
              flush=True)
        levels[k] = lv
    return levels, per_s


def bench_sample(levels, n):
    K = len(levels) - 1
    for lv in levels.values():
        lv.G.eval()

    def sample():
        with torch.inference_mode():
            img = None
            for k in range(K, -1, -1):
                img = levels[k].generate(img, n)
        return img

    return median_step_s(sample, 1, 5)


def bench_parzen(n, m, d):
    """Parzen log-likelihood as bench/parzen_bench.c times it: sigma chosen
    from 10 values on 1,000 validation rows, then the log-likelihood of m
    test rows. Distances by ||x||^2 + ||s||^2 - 2 x s^T (one GEMM per chunk
    of test rows), then logsumexp over the samples."""
    g = torch.Generator().manual_seed(1)
    s = torch.rand(n, d, generator=g) * 2 - 1
    t = 0.5 * (torch.rand(m, d, generator=g) * 2 - 1) + 0.5 * s[torch.arange(m) % n]
    s_sq = (s * s).sum(1)
    st = s.t().contiguous()
    chunk = max(1, min(m, (64 << 20) // (4 * n)))  # 64 MiB of distances at a time

    def sq_dists(x):
        d2 = torch.addmm(s_sq, x, st, beta=1, alpha=-2)
        return d2.add_((x * x).sum(1, keepdim=True)).clamp_(min=0)

    def ll(x, sigmas):
        out = []
        for i in range(0, x.shape[0], chunk):
            d2 = sq_dists(x[i:i + chunk])
            out.append(torch.stack([torch.logsumexp(d2 * (-0.5 / sg ** 2), 1)
                                    - math.log(n) - 0.5 * d * math.log(2 * math.pi * sg ** 2)
                                    for sg in sigmas]))
        return torch.cat(out, 1)

    grid = [10 ** (-1 + i / 9) for i in range(10)]
    t0 = time.perf_counter()
    sigma = grid[int(ll(t[:min(m, 1000)], grid).mean(1).argmax())]
    t1 = time.perf_counter()
    res = ll(t, [sigma])
    t2 = time.perf_counter()
    print(f"parzen: sigma {sigma:.4f}, mean log-likelihood {res.mean():.2f}")
    print(f"parzen_sigma_s {t1 - t0:.4f}\nparzen_ll_s {t2 - t1:.4f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lapgan", default="build/lapgan", help="lapgan binary (model description)")
    ap.add_argument("--preset", default="cifar10")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--sample-batch", type=int, default=256)
    ap.add_argument("--threads", type=int, default=0, help="default: all cores")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--adam", action="store_true")
    ap.add_argument("--dcgan", action="store_true")
    ap.add_argument("--layout", default="auto",
                    help="auto, nchw, channels_last, or SxS=FMT,... per level (others: auto)")
    ap.add_argument("--parzen", type=int, nargs=3, metavar=("N", "M", "D"))
    ap.add_argument("--autocast", choices=("none", "bf16"), default="none",
                    help="bf16: forward passes under torch.autocast (CPU, bfloat16)")
    args = ap.parse_args()
    global AUTOCAST
    AUTOCAST = torch.bfloat16 if args.autocast == "bf16" else None
    torch.set_num_threads(args.threads or os.cpu_count())
    torch.manual_seed(1)
    if args.parzen:
        print(f"# lapgan_ref parzen: torch {torch.__version__}, {torch.get_num_threads()} threads")
        with torch.inference_mode():
            bench_parzen(*args.parzen)
        return
    m, counts = load_model(args)
    print(f"# lapgan_ref: preset {m['name']}{' adam' if args.adam else ''}"
          f"{' dcgan' if args.dcgan else ''}, batch {args.batch}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {args.steps} steps after {args.warmup} warm-up"
          f"{', autocast bf16' if AUTOCAST else ''}",
          flush=True)
    s0 = m["levels"][0]["size"]
    images = torch.rand(args.batch, m["channels"], s0, s0) * 2 - 1
    levels, per_s = bench_train(args, m, counts, images)
    sample_s = bench_sample(levels, args.sample_batch)
    for k in sorted(per_s, reverse=True):
        s = m["levels"][k]["size"]
        print(f"train_img_per_s {s}x{s} {args.batch / per_s[k]:.1f}")
    print(f"train_img_per_s total {args.batch / sum(per_s.values()):.1f}")
    print(f"sample_img_per_s {args.sample_batch / sample_s:.1f}")


if __name__ == "__main__":
    main()
