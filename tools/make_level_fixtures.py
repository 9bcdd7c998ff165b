#!/usr/bin/python3
"""Writes tests/fixtures/level_*.safetensors: whole LAPGAN level training
steps (D update, then G update) rebuilt in PyTorch, checked against
lg_level_train_step by tests/test_level_fixtures.c.

Run from the repository root with Debian's torch:
    /usr/bin/python3 tools/make_level_fixtures.py

What is rebuilt here, independently of src/gan/level.c (see docs/presets.md):
  - the pyramid of the batch (area shrink = 2x2 mean, corner-aligned
    bilinear enlarge: the `area-bilinear` filter) giving I_k and l = u(I_{k+1});
  - G and D as src/gan/level.c specifies them (hidden [linear|conv, BN?,
    ReLU or LeakyReLU(0.2) in D, dropout?], D's batch norm from its second
    hidden layer, conv D's dropout after its last hidden layer only), the
    label planes of a class-conditional conv level (one-hot -> linear ->
    ReLU -> s x s plane, concatenated after z and l in G and after the
    image in D) and the FC level's one-hot concatenation;
  - the D step: G makes the generated half from the coarse images and
    labels of the batch's second half; one BCE-with-logits over real
    (target 1) and generated (target 0) rows, averaged over the batch; with
    batch norm in D the two halves go through D as separate batches (per-
    source statistics, DCGAN); then D's optimiser;
  - the G step: fresh noise for every row of the batch with the batch's own
    coarse images and labels, D (train mode, no D update) judges h + l with
    target 1, gradients into G (and its label net), then G's optimiser.
lapgan's random numbers come from Philox4x32-10, reproduced below in numpy
(src/core/rng.c: lg_philox, lg_rng_uniform, lg_rng_keyed): the noise of row
r in draw 2*step (D step) or 2*step+1 (G step) of the level's noise stream,
and each dropout mask from the net's stream at draw offset*nlayers + layer,
keyed by the row's place in the batch. The C test does not read these from
the fixture: lapgan draws them itself, so a wrong key, row or draw shows as
a mismatch.

Parameters are drawn in float32 and every result computed in float64 from
them, rounded to float32 once (as tools/make_fixtures.py does). Each net's
RNG offset starts at `rng_offset` (the C test sets it, as a checkpoint
restore does, so the fixture does not depend on how many numbers the
weight initialisation consumed).

Tensor names (part P in G, D, GL, DL; T a lapgan net tensor name such as
"0.conv2d.weight", "1.batchnorm.running_mean"):
  p0.P.T / b0.P.T       parameters / batch-norm buffers before the first step
  sK.x, sK.y            step K's full-size images [B, c, s0, s0] and labels
  sK.d_loss, sK.g_loss, sK.d_real_acc, sK.d_fake_acc
  sK.p.P.T, sK.b.P.T    parameters / buffers after step K
  sK.o.P.T.momentum     SGD velocity after step K; Adam: sK.o.P.T.m and .v
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import OUT, f32, write_safetensors  # noqa: E402

M64 = (1 << 64) - 1
DT = torch.float64  # float32 only for --float32 (the calibration run)

# ---- Philox4x32-10 (src/core/rng.c) --------------------------------------


def philox(seed, stream, counters):
    """Blocks for an array of 64-bit counters: [len, 4] uint32."""
    ctr = np.asarray(counters, dtype=np.uint64)
    c0 = ctr & np.uint64(0xFFFFFFFF)
    c1 = ctr >> np.uint64(32)
    c2 = np.full_like(ctr, stream & 0xFFFFFFFF)
    c3 = np.full_like(ctr, stream >> 32)
    k0, k1 = seed & 0xFFFFFFFF, seed >> 32
    lo32 = np.uint64(0xFFFFFFFF)
    for _ in range(10):
        p0 = np.uint64(0xD2511F53) * c0
        p1 = np.uint64(0xCD9E8D57) * c2
        n0 = (p1 >> np.uint64(32)) ^ c1 ^ np.uint64(k0)
        n2 = (p0 >> np.uint64(32)) ^ c3 ^ np.uint64(k1)
        c0, c1, c2, c3 = n0, p1 & lo32, n2, p0 & lo32
        k0 = (k0 + 0x9E3779B9) & 0xFFFFFFFF
        k1 = (k1 + 0xBB67AE85) & 0xFFFFFFFF
    return np.stack([c0, c1, c2, c3], axis=1).astype(np.uint32)


def mix64(x):
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def keyed_uniform(seed, stream, draw, row, n, lo, hi):
    """lg_rng_uniform(lg_rng_keyed(seed, stream, draw, row), n, lo, hi), in
    float32 exactly as C computes it: lo + (hi - lo) * ((u >> 8) / 2^24)."""
    s = mix64(stream ^ mix64((draw + 0x9E3779B97F4A7C15) & M64))
    blocks = (n + 3) // 4
    x = philox(seed, s, [(row << 32) + b for b in range(blocks)]).reshape(-1)[:n]
    u = (x >> np.uint32(8)).astype(np.float32) * np.float32(1.0 / 16777216.0)
    return np.float32(lo) + np.float32(hi - lo) * u


# ---- nets as src/gan/level.c builds them ----------------------------------


class Net:
    """A lapgan net: layers (kind, spec, tensors) run on float64 tensors,
    with lapgan's dropout masks and its RNG offset."""

    def __init__(self, name, specs, in_shape, seed, stream, offset):
        self.name, self.specs, self.seed, self.stream = name, specs, seed, stream
        self.offset = offset
        self.params, self.buffers, self.shapes = {}, {}, []
        c, h, w = in_shape
        for i, s in enumerate(specs):
            kind = s["kind"]
            self.shapes.append((c, h, w))
            if kind == "linear":
                fan = c * h * w
                b = 1 / np.sqrt(fan)
                self._param(i, kind, "weight", (torch.rand(s["out"], fan) * 2 - 1) * b)
                self._param(i, kind, "bias", (torch.rand(s["out"]) * 2 - 1) * b)
                c, h, w = s["out"], 1, 1
            elif kind == "conv2d":
                k, st = s["k"], s.get("stride", 1)
                b = 1 / np.sqrt(c * k * k)
                self._param(i, kind, "weight", (torch.rand(s["out"], c, k, k) * 2 - 1) * b)
                self._param(i, kind, "bias", (torch.rand(s["out"]) * 2 - 1) * b)
                p = k // 2
                c, h, w = s["out"], (h + 2 * p - k) // st + 1, (w + 2 * p - k) // st + 1
            elif kind == "batchnorm":
                # Not 1/0: a swapped gamma/beta or running statistic shows.
                self._param(i, kind, "weight", 1 + 0.3 * torch.randn(c))
                self._param(i, kind, "bias", 0.3 * torch.randn(c))
                self.buffers[f"{i}.{kind}.running_mean"] = (0.5 * torch.randn(c)).float().to(DT)
                self.buffers[f"{i}.{kind}.running_var"] = (0.5 + torch.rand(c)).float().to(DT)
            elif kind == "flatten":
                c, h, w = c * h * w, 1, 1
            elif kind == "reshape":
                c, h, w = s["c"], s["h"], s["w"]
        self.out_shape = (c, h, w)

    def _param(self, i, kind, what, t):
        self.params[f"{i}.{kind}.{what}"] = t.float().to(DT).requires_grad_(True)

    def forward(self, x, rows, train=True):
        """x [n, ...]; rows: each row's place in the batch (dropout keys)."""
        n = x.shape[0]
        draw0 = self.offset * len(self.specs)
        for i, s in enumerate(self.specs):
            kind, pre = s["kind"], f"{i}.{s['kind']}."
            if kind == "linear":
                x = F.linear(x.reshape(n, -1), self.params[pre + "weight"], self.params[pre + "bias"])
            elif kind == "conv2d":
                x = F.conv2d(x, self.params[pre + "weight"], self.params[pre + "bias"],
                             stride=s.get("stride", 1), padding=s["k"] // 2)
            elif kind == "batchnorm":
                x = F.batch_norm(x, self.buffers[pre + "running_mean"], self.buffers[pre + "running_var"],
                                 self.params[pre + "weight"], self.params[pre + "bias"],
                                 training=train, momentum=0.1, eps=1e-5)
            elif kind == "relu":
                x = F.relu(x)
            elif kind == "leaky_relu":
                x = F.leaky_relu(x, s["slope"])
            elif kind == "dropout" and train:
                p = s["p"]
                per = int(np.prod(x.shape[1:]))
                u = np.stack([keyed_uniform(self.seed, self.stream, draw0 + i, int(r), per, 0, 1)
                              for r in rows])
                mask = np.where(u >= np.float32(p), 1.0 / (1.0 - p), 0.0)
                x = x * torch.from_numpy(mask.reshape(x.shape)).to(DT)
            elif kind == "flatten":
                x = x.reshape(n, -1)
            elif kind == "reshape":
                x = x.reshape(n, s["c"], s["h"], s["w"])
        if train:
            self.offset += 1
        return x


def act(leaky):
    return {"kind": "leaky_relu", "slope": 0.2} if leaky else {"kind": "relu"}


def g_specs(m, lv):
    v = []
    for wdt in lv["g"]:
        v.append({"kind": "linear", "out": wdt} if lv["fc"] else
                 {"kind": "conv2d", "out": wdt, "k": lv["gk"]})
        if lv["gbn"]:
            v.append({"kind": "batchnorm"})
        v.append(act(False))
        if lv["gdrop"] > 0:
            v.append({"kind": "dropout", "p": lv["gdrop"]})
    s = lv["size"]
    v.append({"kind": "linear", "out": m["c"] * s * s} if lv["fc"] else
             {"kind": "conv2d", "out": m["c"], "k": lv["gok"]})
    return v


def d_specs(m, lv):
    v = []
    for i, wdt in enumerate(lv["d"]):
        last = i == len(lv["d"]) - 1
        v.append({"kind": "linear", "out": wdt} if lv["fc"] else
                 {"kind": "conv2d", "out": wdt, "k": lv["dk"],
                  "stride": lv["dstride"] if last else 1})
        if lv["dbn"] and i > 0:
            v.append({"kind": "batchnorm"})
        v.append(act(m["leaky_d"]))
        if (lv["fc"] or last) and lv["ddrop"] > 0:
            v.append({"kind": "dropout", "p": lv["ddrop"]})
    if not lv["fc"]:
        v.append({"kind": "flatten"})
    v.append({"kind": "linear", "out": 1})
    return v


def label_specs(s):
    return [{"kind": "linear", "out": s * s}, {"kind": "relu"},
            {"kind": "reshape", "c": 1, "h": s, "w": s}]


# ---- the level ------------------------------------------------------------


def stream_of(k, purpose):
    return 1000 * (k + 1) + purpose


class Level:
    def __init__(self, m, k, seed, rng_offset):
        self.m, self.k, self.seed = m, k, seed
        lv = m["level"][k]
        self.lv, self.K = lv, len(m["level"]) - 1
        self.s, self.c, self.ncls, self.fc = lv["size"], m["c"], m["nclasses"], lv["fc"]
        self.zsize = lv["zdim"] if self.fc else lv["zdim"] * self.s * self.s
        img = self.c * self.s * self.s
        plane = self.ncls > 0 and not self.fc
        if self.fc:
            gin, din = (lv["zdim"] + self.ncls, 1, 1), (img + self.ncls, 1, 1)
        else:
            gin = (lv["zdim"] + self.c + plane, self.s, self.s)
            din = (self.c + plane, self.s, self.s)
        mk = lambda name, which, specs, shape: Net(name, specs, shape, seed, stream_of(k, which),
                                                   rng_offset)
        self.parts = {"G": mk("G", 0, g_specs(m, lv), gin), "D": mk("D", 1, d_specs(m, lv), din)}
        if plane:
            self.parts["GL"] = mk("GL", 2, label_specs(self.s), (self.ncls, 1, 1))
            self.parts["DL"] = mk("DL", 3, label_specs(self.s), (self.ncls, 1, 1))
        # D starts leaning "real" (its logit's bias +1): at a balanced start
        # the gradient of that bias, a sum over real and generated rows,
        # cancels to ~1e-3 of its terms, which float32 (PyTorch's as much as
        # lapgan's) resolves only to ~1e-4 relative, the rule's limit.
        with torch.no_grad():
            D = self.parts["D"]
            D.params[f"{len(D.specs) - 1}.linear.bias"] += 1.0
        self.opt = {p: make_optim(m["opt"], list(net.params.values()))
                    for p, net in self.parts.items()}
        self.step = 0

    def noise(self, rows, draw):
        lo, hi = self.m["noise"]
        z = np.stack([keyed_uniform(self.seed, stream_of(self.k, 9), draw, r, self.zsize, lo, hi)
                      for r in rows])
        z = torch.from_numpy(z).to(DT)
        return z if self.fc else z.reshape(len(rows), -1, self.s, self.s)

    def run_g(self, z, l, oh, rows):
        G = self.parts["G"]
        if self.fc:
            x = torch.cat([z, oh], 1) if self.ncls else z
        elif self.ncls:
            x = torch.cat([z, l, self.parts["GL"].forward(oh, rows)], 1)
        else:
            x = torch.cat([z, l], 1)
        return G.forward(x, rows).reshape(len(rows), self.c, self.s, self.s)

    def run_d(self, x, oh, rows):
        if self.fc:
            x = x.reshape(len(rows), -1)
            if self.ncls:
                x = torch.cat([x, oh], 1)
        elif self.ncls:
            x = torch.cat([x, self.parts["DL"].forward(oh, rows)], 1)
        return self.parts["D"].forward(x, rows).reshape(-1)

    def prepare(self, images):
        """I_k and l = u(I_{k+1}) (None at level K), area-bilinear filter."""
        chain = [images]
        last = self.k + 1 if self.k < self.K else self.k
        for j in range(1, last + 1):
            chain.append(F.adaptive_avg_pool2d(chain[-1], self.m["level"][j]["size"]))
        up = None
        if self.k < self.K:
            up = F.interpolate(chain[self.k + 1], size=(self.s, self.s), mode="bilinear",
                               align_corners=True)
        return chain[self.k], up

    def train_step(self, images, labels, epoch):
        B = images.shape[0]
        half = B // 2
        rows = list(range(B))
        oh = F.one_hot(labels, self.ncls).to(DT) if self.ncls else None
        ohs = lambda a, b: oh[a:b] if oh is not None else None
        ik, up = self.prepare(images)
        ups = lambda a, b: up[a:b] if up is not None else 0
        st = {}
        # D step: the generated half from the second half's coarse images.
        with torch.no_grad():
            h = self.run_g(self.noise(rows[half:], 2 * self.step), ups(half, B), ohs(half, B),
                           rows[half:])
        x = torch.cat([ik[:half], h + ups(half, B)], 0)
        for p in ("D", "DL"):
            if p in self.opt:
                self.opt[p].zero_grad()
        per_source = self.lv["dbn"] and len(self.lv["d"]) > 1
        passes = [(0, half, half), (half, B, 0)] if per_source else [(0, B, half)]
        d_loss, real_ok, fake_ok = 0.0, 0, 0
        for a, b, nreal in passes:
            logits = self.run_d(x[a:b], ohs(a, b), rows[a:b])
            t = torch.tensor([1.0] * nreal + [0.0] * (b - a - nreal)).to(DT)
            loss = F.binary_cross_entropy_with_logits(logits, t) * ((b - a) / B)
            loss.backward()
            d_loss += loss.item()
            real_ok += int((logits[:nreal] > 0).sum())
            fake_ok += int((logits[nreal:] < 0).sum())
        st["d_loss"], st["d_real_acc"], st["d_fake_acc"] = d_loss, real_ok / half, fake_ok / half
        for p in ("D", "DL"):
            if p in self.opt:
                optim_step(self.opt[p], self.m["opt"], epoch)
        # G step: fresh noise, the batch's own coarse images and labels.
        for p in ("G", "GL"):
            if p in self.opt:
                self.opt[p].zero_grad()
        h = self.run_g(self.noise(rows, 2 * self.step + 1), ups(0, B), oh, rows)
        logits = self.run_d(h + ups(0, B), oh, rows)
        loss = F.binary_cross_entropy_with_logits(logits, torch.ones(B).to(DT))
        gparams = [q for p in ("G", "GL") if p in self.parts for q in self.parts[p].params.values()]
        grads = torch.autograd.grad(loss, gparams)
        for q, g in zip(gparams, grads):
            q.grad = g
        st["g_loss"] = loss.item()
        for p in ("G", "GL"):
            if p in self.opt:
                optim_step(self.opt[p], self.m["opt"], epoch)
        self.step += 1
        return st


# ---- optimisers (src/nn/optim.c semantics, by torch.optim) -----------------


def schedule(o, epoch):
    lr = max(o["lr_min"], o["lr"] / (1 + o["lr_decay"]) ** epoch)
    if o["kind"] == "adam":
        return lr, o["beta1"]
    mom = o["momentum"] + o["mom_step"] * epoch
    return lr, min(mom, o["mom_max"]) if o["mom_max"] > 0 else mom


def make_optim(o, params):
    if o["kind"] == "adam":
        return torch.optim.Adam(params, lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"])
    return torch.optim.SGD(params, lr=o["lr"], momentum=o["momentum"])  # set per step


def optim_step(opt, o, epoch):
    lr, mom = schedule(o, epoch)
    for g in opt.param_groups:
        g["lr"] = lr
        if o["kind"] == "sgd":
            g["momentum"] = mom
            g["dampening"] = mom if o["momentum_style"] == "torch7" else 0.0
        else:
            g["betas"] = (mom, o["beta2"])
    opt.step()


def optim_state(opt, o, net):
    """(suffix, tensor) per parameter, in lapgan's names."""
    out = []
    for name, p in net.params.items():
        s = opt.state[p]
        if o["kind"] == "sgd":
            out.append((f"{name}.momentum", s["momentum_buffer"]))
        else:
            out += [(f"{name}.m", s["exp_avg"]), (f"{name}.v", s["exp_avg_sq"])]
    return out


# ---- cases ----------------------------------------------------------------

# The paper's SGD recipe as src/gan/preset.c's presets set it, and the DCGAN
# Adam (lg_model_desc_adam). "momentum_style" torch7: Torch7's optim.sgd as
# the authors call it, dampening = momentum (v = mu v + (1 - mu) g after a
# first v = g); pytorch: dampening 0.
SGD = {"kind": "sgd", "momentum_style": "torch7", "lr": 0.02, "momentum": 0.5, "lr_decay": 4e-5,
       "lr_min": 1e-6, "mom_step": 0.0008, "mom_max": 0.8}
ADAM = {"kind": "adam", "lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "eps": 1e-8, "lr_decay": 0.0,
        "lr_min": 0.0}

# Level 0: 8x8 conv; level 1: 4x4 FC (the coarsest). Three channels, so a
# wrong channel offset in a concatenation shows.
CONV = {"size": 8, "fc": 0, "zdim": 1, "g": [6, 6], "d": [6, 5], "gk": 3, "gok": 3, "dk": 3,
        "dstride": 2, "gdrop": 0.0, "ddrop": 0.5, "gbn": 0, "dbn": 0}
FC = {"size": 4, "fc": 1, "zdim": 8, "g": [16, 14], "d": [12, 10], "gk": 0, "gok": 0, "dk": 0,
      "dstride": 1, "gdrop": 0.0, "ddrop": 0.5, "gbn": 1, "dbn": 0}

CASES = [  # name, level trained, level-0 changes, classes, dcgan
    ("fc", 1, {}, 0, 0),
    ("conv", 0, {"gdrop": 0.25}, 0, 0),
    ("conv_cc", 0, {}, 3, 0),
    ("dcgan", 0, {}, 0, 1),
]


# Adam's eps in the dcgan fixture. A bias feeding a batch norm has a zero
# gradient (the normalisation cancels it), which float32 leaves as rounding
# noise of ~1e-8; with eps 1e-8 Adam turns that noise into steps of ~lr in
# a direction set by rounding, in PyTorch's float32 as in lapgan, so those
# biases (and the running means they shift) would be no test of anything.
# With eps 1e-4 the noise moves them by ~1e-4 lr and every other tensor is
# still checked; eps 1e-8 itself is covered by tests/fixtures/nn_dstep_adam.
DCGAN_EPS = 1e-4


def model(l0, ncls, dcgan):
    m = {"c": 3, "nclasses": ncls, "leaky_d": 0, "noise": (-1.0, 1.0), "opt": SGD,
         "level": [dict(CONV, **l0), dict(FC)]}
    if dcgan:  # lg_model_desc_dcgan
        m["opt"], m["leaky_d"] = dict(ADAM, eps=DCGAN_EPS), 1
        for lv in m["level"]:
            lv["gbn"] = lv["dbn"] = 1
    return m


def level_meta(lv):
    return (f"zdim={lv['zdim']} g={','.join(map(str, lv['g']))} d={','.join(map(str, lv['d']))}"
            f" gk={lv['gk']} gok={lv['gok']} dk={lv['dk']} dstride={lv['dstride']}"
            f" gdrop={lv['gdrop']} ddrop={lv['ddrop']} gbn={lv['gbn']} dbn={lv['dbn']}")


def state(level, prefix, buffers):
    t = []
    for p, net in level.parts.items():
        src = net.buffers if buffers else net.params
        t += [(f"{prefix}.{p}.{n}", f32(v).copy()) for n, v in src.items()]  # not a view
    return t


def fixture(name, seed, k, l0, ncls, dcgan, batch=8, steps=3, rng_offset=5):
    torch.manual_seed(seed)
    m = model(l0, ncls, dcgan)
    lvl = Level(m, k, seed, rng_offset)
    epochs = list(range(steps))
    t = state(lvl, "p0", False) + state(lvl, "b0", True)
    s0 = m["level"][0]["size"]
    for j in range(1, steps + 1):
        x = (torch.rand(batch, m["c"], s0, s0) * 2 - 1).float().to(DT)
        y = torch.randint(0, max(ncls, 1), (batch,))
        st = lvl.train_step(x, y, epochs[j - 1])
        t += [(f"s{j}.x", f32(x)), (f"s{j}.y", y.float().numpy())]
        t += [(f"s{j}.{key}", np.array([v], dtype=np.float32)) for key, v in st.items()]
        t += state(lvl, f"s{j}.p", False) + state(lvl, f"s{j}.b", True)
        for p, net in lvl.parts.items():
            t += [(f"s{j}.o.{p}.{n}", f32(v).copy())
                  for n, v in optim_state(lvl.opt[p], m["opt"], net)]
    meta = {"source": "tools/make_level_fixtures.py", "torch": torch.__version__,
            "kind": "level", "seed": str(seed), "k": str(k), "c": str(m["c"]),
            "sizes": ",".join(str(lv["size"]) for lv in m["level"]), "nclasses": str(ncls),
            "dcgan": str(dcgan), "filter": "area-bilinear", "batch": str(batch),
            "steps": str(steps), "epochs": ",".join(map(str, epochs)),
            "rng_offset": str(rng_offset), "adam_eps": str(m["opt"].get("eps", 0)), "l0": level_meta(dict(CONV, **l0)),
            "l1": level_meta(FC),
            "optim": " ".join([m["opt"]["kind"]] + [f"{key}={v}" for key, v in m["opt"].items()
                                                    if key != "kind"])}
    return t, meta


def rule_error(got, want):
    """The worst error under tests/fixture_agree.h's rule."""
    d = np.abs(got.astype(np.float64) - want)
    scale = np.abs(want) + 1e-2 * np.abs(want).max()
    return float(np.max(np.where(d == 0, 0, d / np.where(scale > 0, scale, 1))))


def calibrate():
    """PyTorch's own float32 run of every case against the float64 fixture,
    under the agreement rule: what a correct float32 implementation scores.
    Tensors whose float64 value is zero to rounding (biases feeding batch
    norm, their optimiser state) are left out here as the C test treats them
    apart."""
    global DT
    for seed, (name, k, l0, ncls, dcgan) in enumerate(CASES, start=301):
        DT = torch.float64
        ref, _ = fixture(name, seed, k, l0, ncls, dcgan)
        DT = torch.float32
        got, _ = fixture(name, seed, k, l0, ncls, dcgan)
        worst, at = 0.0, ""
        for (n, a), (n2, b) in zip(ref, got):
            assert n == n2
            if np.abs(a).max() <= 1e-12:
                continue
            e = rule_error(b, a.astype(np.float64))
            if e > worst:
                worst, at = e, n
        print(f"{name}: PyTorch float32 worst {worst:.3g} ({at})")
    DT = torch.float64


def main():
    torch.set_num_threads(1)
    if sys.argv[1:] == ["--float32"]:
        calibrate()
        return
    os.makedirs(OUT, exist_ok=True)
    total = 0
    for seed, (name, k, l0, ncls, dcgan) in enumerate(CASES, start=301):
        t, meta = fixture(name, seed, k, l0, ncls, dcgan)
        path = os.path.join(OUT, f"level_{name}.safetensors")
        write_safetensors(path, t, meta)
        total += os.path.getsize(path)
    print(f"wrote {len(CASES)} level fixtures to {os.path.normpath(OUT)}: {total} bytes",
          file=sys.stderr)


if __name__ == "__main__":
    main()
