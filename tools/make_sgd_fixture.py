#!/usr/bin/python3
"""Writes tests/fixtures/optim_sgd.safetensors: SGD trajectories with the
paper's lr/momentum schedule, as Torch7's optim.sgd (the LAPGAN authors'
optimiser) and torch.optim.SGD compute them, checked by tests/test_optim_sgd.c.

Run from the repository root with Debian's torch:  /usr/bin/python3 tools/make_sgd_fixture.py

Torch7's optim.sgd (optim/sgd.lua), as eyescream calls it (no dampening and
no weight decay passed, so dampening = momentum):
    g' = g + wd * p
    if mu != 0:  v = g' on the first such call, else v = mu * v + (1 - damp) * g'
                 g' = v
    p = p - lr * g'
This script transcribes that in float64 and checks, at every step, that
torch.optim.SGD(dampening=momentum) on the same float64 parameters gives the
same p and momentum buffer (to 1e-12): PyTorch reproduces optim.sgd. The
fixture stores PyTorch's values. The "pytorch" case (dampening 0) is the
documented alternative (--momentum-style pytorch).

The schedule is lapgan's (lg_optim_schedule): during epoch e,
lr = max(lr_min, lr0 / (1 + lr_decay)^e), mu = min(mom_max, mu0 + mom_step * e),
computed in float64 from the float32 settings and rounded to float32, as the
C code does; the authors change both after each epoch.

Gradients are real: a small MLP (6 -> 5 tanh -> 1) with BCE on a fixed
batch, differentiated at the current parameters in float64 and rounded to
float32 before the step (the C test replays exactly those float32 values).
Tensors, for each case C and step k (1-based):
  C.p0          flat parameters before the first step
  C.sk.g        the gradient the step used
  C.sk.p        parameters after the step
  C.sk.v        momentum buffer after the step (zeros while none exists)
Metadata: "cases" (comma-separated names) and per case "C" =
  "style=torch7 lr=.. momentum=.. weight_decay=.. lr_decay=.. lr_min=..
   mom_step=.. mom_max=.. epochs=e1,e2,.. t=N" (t: steps that wrote the buffer).
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

from make_fixtures import write_safetensors  # same folder: the one safetensors writer of the fixture scripts

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")

# name, style, settings (float32 values, as lg_optim_cfg holds them), epoch of each step.
CASES = [
    # The cifar10/fashion presets' recipe, verbatim (the C test checks the
    # preset holds exactly these): momentum 0.5 and its cap 0.8 reached at
    # epoch 375, lr 0.02 / 1.00004^e.
    ("paper", "torch7", dict(lr=0.02, momentum=0.5, weight_decay=0.0, lr_decay=4e-5, lr_min=1e-6,
                             mom_step=0.0008, mom_max=0.8), [0, 0, 0, 1, 2, 300, 375, 1000]),
    # The authors' classcond coarse-to-fine script: momentum starts at 0, so
    # the first epoch keeps no buffer and the first step of epoch 1 sets it.
    ("authors_mu0", "torch7", dict(lr=0.02, momentum=0.0, weight_decay=0.0, lr_decay=4e-5,
                                   lr_min=1e-6, mom_step=0.0008, mom_max=0.7), [0, 0, 1, 1, 2, 900]),
    # Exaggerated schedule with weight decay: the lr floor and momentum cap bind.
    ("torch7_wd", "torch7", dict(lr=0.1, momentum=0.3, weight_decay=0.01, lr_decay=0.5,
                                 lr_min=0.03, mom_step=0.1, mom_max=0.8), [0, 1, 2, 3, 4, 6, 9]),
    # PyTorch-style momentum (dampening 0) on the paper's schedule.
    ("pytorch", "pytorch", dict(lr=0.02, momentum=0.5, weight_decay=0.0, lr_decay=4e-5,
                                lr_min=1e-6, mom_step=0.0008, mom_max=0.8), [0, 0, 1, 2, 375]),
]


def f32(x):
    return float(np.float32(x))


def schedule(s, epoch):
    """lg_optim_schedule: float64 from the float32 settings, rounded to float32."""
    lr = max(f32(s["lr_min"]), f32(s["lr"]) / (1.0 + f32(s["lr_decay"])) ** epoch)
    mu = f32(s["momentum"]) + f32(s["mom_step"]) * epoch
    mu = min(mu, f32(s["mom_max"]))
    return f32(lr), f32(mu)


def torch7_sgd(p, g, state, lr, mu, wd, damp):
    """optim.sgd's update, line by line (float64 numpy)."""
    d = g + wd * p if wd != 0 else g.copy()
    if mu != 0:
        if "dfdx" not in state:
            state["dfdx"] = d.copy()
        else:
            state["dfdx"] = state["dfdx"] * mu + (1 - damp) * d
        d = state["dfdx"]
    return p - lr * d


def run_case(name, style, s, epochs, seed):
    torch.manual_seed(seed)
    x = torch.randn(16, 6).double()
    y = (torch.rand(16) > 0.5).double()
    w1 = (torch.randn(5, 6) * 0.5).float().double()
    b1 = (torch.randn(5) * 0.1).float().double()
    w2 = (torch.randn(1, 5) * 0.5).float().double()
    b2 = (torch.randn(1) * 0.1).float().double()
    shapes = [w1.shape, b1.shape, w2.shape, b2.shape]
    flat = torch.cat([t.flatten() for t in (w1, b1, w2, b2)]).clone().requires_grad_(True)

    def unflat(v):
        out, at = [], 0
        for sh in shapes:
            n = int(np.prod(sh))
            out.append(v[at:at + n].view(sh))
            at += n
        return out

    opt = torch.optim.SGD([flat], lr=0.1, momentum=0.0, dampening=0.0,
                          weight_decay=f32(s["weight_decay"]))
    ref_p, ref_state = flat.detach().numpy().copy(), {}
    tensors = [(f"{name}.p0", flat.detach().numpy().astype(np.float32))]
    t = 0
    for k, e in enumerate(epochs, start=1):
        lr, mu = schedule(s, e)
        damp = mu if style == "torch7" else 0.0
        a1, c1, a2, c2 = unflat(flat)
        logits = (torch.tanh(x @ a1.T + c1) @ a2.T + c2).view(-1)
        loss = F.binary_cross_entropy_with_logits(logits, y)
        opt.zero_grad()
        loss.backward()
        flat.grad = flat.grad.float().double()  # the float32 gradient the C test replays
        g = flat.grad.numpy().copy()
        for grp in opt.param_groups:
            grp["lr"], grp["momentum"], grp["dampening"] = lr, mu, damp
        opt.step()
        t += mu != 0
        ref_p = torch7_sgd(ref_p, g, ref_state, lr, mu, f32(s["weight_decay"]), damp)
        p = flat.detach().numpy()
        buf = opt.state[flat].get("momentum_buffer")
        v = np.zeros_like(p) if buf is None else buf.numpy()
        assert np.max(np.abs(p - ref_p)) < 1e-12, (name, k, "optim.sgd and torch.optim.SGD differ")
        assert np.max(np.abs(v - ref_state.get("dfdx", np.zeros_like(p)))) < 1e-12, (name, k)
        tensors += [(f"{name}.s{k}.g", g.astype(np.float32)), (f"{name}.s{k}.p", p.astype(np.float32)),
                    (f"{name}.s{k}.v", v.astype(np.float32))]
    keys = ("lr", "momentum", "weight_decay", "lr_decay", "lr_min", "mom_step", "mom_max")
    # str(np.float32) is the shortest text that reads back as the same float32.
    desc = " ".join([f"style={style}"] + [f"{key}={str(np.float32(s[key]))}" for key in keys])
    desc += " epochs=" + ",".join(str(e) for e in epochs) + f" t={t}"
    return tensors, desc


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    tensors, meta = [], {"cases": ",".join(c[0] for c in CASES), "seed": "301"}
    for i, (name, style, s, epochs) in enumerate(CASES):
        t, desc = run_case(name, style, s, epochs, 301 + i)
        tensors += t
        meta[name] = desc
    path = os.path.join(OUT, "optim_sgd.safetensors")
    write_safetensors(path, tensors, meta)
    print(f"wrote {os.path.normpath(path)}: {os.path.getsize(path)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
