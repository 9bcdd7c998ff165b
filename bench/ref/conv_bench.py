#!/usr/bin/python3
"""PyTorch's side of bench/conv_bench.c: Conv2d(128, 128, 5, padding=2) with
bias, float32, on [64,128,16,16] and [64,128,32,32]; `--set cifar` the
cifar10 preset's 5x5 layers, as conv_bench.c's set of that name.

Directions are timed separately through aten.convolution_backward (what
autograd calls), with output_mask selecting the input gradient or the
weight+bias gradients, so each matches one of our op-table calls; "total" is
a real autograd step (forward with grad, then backward for input, weight and
bias), the way a training step runs it. Each case is timed in both NCHW and
channels-last and the faster one is reported (named in the last column).
oneDNN (mkldnn) is on, as it is by default.

    /usr/bin/python3 bench/ref/conv_bench.py [--threads N] [--reps R] [--shape HW]
        [--set main|cifar] [--batch N] [--dirs fwd,bwd_data,bwd_weights,total]

--batch replaces every shape's batch (tiny smoke runs); --dirs times only
those cases (bench/run.sh needs only "total").

Prints "RESULT torch shape direction median_ms gflops gflop format" lines, as
bench/conv_bench does.
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

DIRS = ("fwd", "bwd_data", "bwd_weights", "total")
# (batch, in channels, out channels, size), as in bench/conv_bench.c
SETS = {
    "main": [(64, 128, 128, 16), (64, 128, 128, 32)],
    "cifar": [(128, 4, 128, 28), (128, 128, 128, 28), (128, 128, 3, 28), (128, 3, 128, 28),
              (128, 6, 128, 28), (128, 4, 128, 14), (128, 128, 128, 14), (128, 128, 3, 14),
              (128, 3, 128, 14), (128, 6, 128, 14)],
}


def median_s(fn, reps):
    fn()
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def cases(x, w, b, dy):
    conv_bwd = torch.ops.aten.convolution_backward
    common = (b.shape, [1, 1], [2, 2], [1, 1], False, [0, 0], 1)

    def fwd():
        with torch.no_grad():
            F.conv2d(x, w, b, padding=2)

    def bwd_data():
        conv_bwd(dy, x, w, *common, [True, False, False])

    def bwd_weights():
        conv_bwd(dy, x, w, *common, [False, True, True])

    xg, wg, bg = (t.detach().requires_grad_(True) for t in (x, w, b))

    def total():
        xg.grad = wg.grad = bg.grad = None
        F.conv2d(xg, wg, bg, padding=2).backward(dy)

    return {"fwd": fwd, "bwd_data": bwd_data, "bwd_weights": bwd_weights, "total": total}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--shape", type=int, default=0)
    ap.add_argument("--set", choices=sorted(SETS), default="main")
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--dirs", default=",".join(DIRS))
    args = ap.parse_args()
    dirs = [d for d in DIRS if d in args.dirs.split(",")]
    torch.set_num_threads(args.threads)
    torch.backends.mkldnn.enabled = True
    torch.manual_seed(7)
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"mkldnn {torch.backends.mkldnn.is_available()}, median of {args.reps}")
    for n, ci, co, hw in SETS[args.set]:
        if args.shape and args.shape != hw:
            continue
        n = args.batch or n
        flops = 2.0 * n * co * hw * hw * ci * 25
        x = torch.randn(n, ci, hw, hw)
        dy = torch.randn(n, co, hw, hw)
        w = torch.randn(co, ci, 5, 5) * 0.02
        b = torch.randn(co)
        best = {}
        for fmt in ("nchw", "channels_last"):
            mf = torch.channels_last if fmt == "channels_last" else torch.contiguous_format
            xs, dys, ws = (t.contiguous(memory_format=mf) for t in (x, dy, w))
            for d, fn in cases(xs, ws, b, dys).items():
                if d not in dirs:
                    continue
                t = median_s(fn, args.reps)
                if d not in best or t < best[d][0]:
                    best[d] = (t, fmt)
        for d in dirs:
            t, fmt = best[d]
            f = 3 * flops if d == "total" else flops
            print(f"RESULT torch {n}x{ci}x{hw}x{hw}>{co} {d} {1e3 * t:.3f} {f / t * 1e-9:.1f} "
                  f"{f * 1e-9:.4f} {fmt}", flush=True)


if __name__ == "__main__":
    main()
