#!/usr/bin/env python3
"""Table of bench/run.sh's runs (no torch needed).

    bench/summarize.py DIR BATCH

DIR holds one file per program, each run's output ending with a "--" line:
ours / ref (`lapgan bench`, lapgan_ref.py), ours_parzen / ref_parzen,
ours_conv / ref_conv (RESULT lines), the same names with .rss (peak RSS in
KiB, one line per run) and peak (peak_fma's output). Runs pair up in order:
ours run i with ref run i. Prints a Markdown table: each metric's median
over the runs on each side, and the median and min-max of the per-pair ratio
ours/PyTorch.
"""
import os
import re
import statistics
import sys


def runs(path):
    """The file's runs, each as a list of split lines."""
    if not os.path.exists(path):
        return []
    out, cur = [], []
    for line in open(path):
        f = line.split()
        if f == ["--"]:
            out.append(cur)
            cur = []
        elif f:
            cur.append(f)
    return out


def values(run_list, pick):
    """{key: [value per run]} from pick(fields) -> (key, value) or None."""
    res = {}
    for run in run_list:
        for f in run:
            kv = pick(f)
            if kv:
                res.setdefault(kv[0], []).append(kv[1])
    return res


def peak_gflops(path):
    text = open(path).read()
    for isa in ("avx512", "avx2"):
        found = re.findall(isa + r" .*threads:\s*([\d.]+)", text)
        if found:
            return max(float(v) for v in found), isa
    return 0.0, "none"


def main():
    d, batch = sys.argv[1], int(sys.argv[2])
    peak, isa = peak_gflops(os.path.join(d, "peak"))
    rows = []  # (metric, unit format, ours list, ref list, better)

    def add(name, fmt, ours, ref, better):
        if ours and ref:
            rows.append((name, fmt, ours, ref, better))

    ours, ref = runs(os.path.join(d, "ours")), runs(os.path.join(d, "ref"))
    rate = lambda f: (f[1], float(f[2])) if f[0] == "train_img_per_s" else None
    o_tr, r_tr = values(ours, rate), values(ref, rate)
    flop = values(ref, lambda f: (f[1], float(f[2])) if f[0] == "train_conv_gflop" else None)
    for key in o_tr:
        label = "whole model" if key == "total" else key
        add(f"train img/s, {label}", "{:.1f}", o_tr[key], r_tr.get(key), "higher")
    for key in o_tr:
        g = flop.get(key, [0])[0]
        if g > 0:
            add(f"train conv GFLOP/s, {key}", "gflops", [g * x / batch for x in o_tr[key]],
                [g * x / batch for x in r_tr.get(key, [])], "higher")
    samp = lambda f: ("s", float(f[1])) if f[0] == "sample_img_per_s" else None
    add("sample img/s", "{:.1f}", values(ours, samp).get("s"), values(ref, samp).get("s"), "higher")

    pz = lambda f: (f[0], float(f[1])) if f[0] in ("parzen_sigma_s", "parzen_ll_s") else None
    o_pz = values(runs(os.path.join(d, "ours_parzen")), pz)
    r_pz = values(runs(os.path.join(d, "ref_parzen")), pz)
    add("Parzen sigma search, s", "{:.2f}", o_pz.get("parzen_sigma_s"), r_pz.get("parzen_sigma_s"), "lower")
    add("Parzen log-likelihood, s", "{:.2f}", o_pz.get("parzen_ll_s"), r_pz.get("parzen_ll_s"), "lower")

    def rss(name):
        p = os.path.join(d, name + ".rss")
        return [int(l) / 1024 for l in open(p) if l.strip().isdigit()] if os.path.exists(p) else []

    add("peak RSS MB, train + sample", "{:.0f}", rss("ours"), rss("ref"), "lower")

    # bf16 (BF16=1): lapgan bench --precision bf16 against PyTorch's autocast
    o16, r16 = runs(os.path.join(d, "ours_bf16")), runs(os.path.join(d, "ref_bf16"))
    o16_tr, r16_tr = values(o16, rate), values(r16, rate)
    for key in o16_tr:
        label = "whole model" if key == "total" else key
        add(f"bf16 train img/s, {label} (PyTorch: autocast)", "{:.1f}", o16_tr[key],
            r16_tr.get(key), "higher")
    add("bf16 sample img/s", "{:.1f}", values(o16, samp).get("s"), values(r16, samp).get("s"),
        "higher")
    add("bf16 peak RSS MB, train + sample", "{:.0f}", rss("ours_bf16"), rss("ref_bf16"), "lower")
    # the same two programs against their own fp32 runs (same pair)
    self_rows = []
    for name, a, b in (("ours", o16_tr.get("total"), o_tr.get("total")),
                       ("PyTorch", r16_tr.get("total"), r_tr.get("total"))):
        if a and b:
            self_rows.append((f"{name} bf16 / {name} fp32, train whole model", a, b))
    for name, a, b in (("ours", values(o16, samp).get("s"), values(ours, samp).get("s")),
                       ("PyTorch", values(r16, samp).get("s"), values(ref, samp).get("s"))):
        if a and b:
            self_rows.append((f"{name} bf16 / {name} fp32, sampling", a, b))
    if o16_tr.get("total") and r_tr.get("total"):
        self_rows.append(("ours bf16 / PyTorch fp32, train whole model", o16_tr["total"],
                          r_tr["total"]))
    add("peak RSS MB, Parzen", "{:.0f}", rss("ours_parzen"), rss("ref_parzen"), "lower")

    # conv: per run, each shape's total (fwd + bwd-data + bwd-weights) time
    def conv(name):
        per_run = []
        for run in runs(os.path.join(d, name)):
            per_run.append({f[2]: (float(f[4]), float(f[6])) for f in run
                            if f[0] == "RESULT" and f[3] == "total"})
        return per_run

    o_cv, r_cv = conv("ours_conv"), conv("ref_conv")
    if o_cv and r_cv:
        shapes = [s for s in o_cv[0] if all(s in r for r in r_cv)]
        gf = lambda run, ss: sum(run[s][1] for s in ss) / sum(run[s][0] for s in ss) * 1e3
        for s in shapes:
            ci, co = int(s.split("x")[1]), int(s.split(">")[1])
            if min(ci, co) >= 64:
                add(f"conv {s} GFLOP/s", "gflops", [gf(r, [s]) for r in o_cv],
                    [gf(r, [s]) for r in r_cv], "higher")
        add(f"conv, all {len(shapes)} cifar10 layer shapes, GFLOP/s", "gflops",
            [gf(r, shapes) for r in o_cv], [gf(r, shapes) for r in r_cv], "higher")

    def show(fmt, v):
        if fmt == "gflops":
            return f"{v:.0f} ({100 * v / peak:.0f}%)" if peak else f"{v:.0f}"
        return fmt.format(v)

    print(f"\nfp32 FMA peak ({isa}, best run of bench/peak_fma): {peak:.0f} GFLOP/s; "
          "GFLOP/s columns show (% of it).")
    print("Ratio = ours / PyTorch per pair: above 1 is ours faster for img/s and GFLOP/s, "
          "below 1 is ours better for s and MB.\n")
    print("| metric | ours | PyTorch | ours/PyTorch median [min-max] |")
    print("|---|---:|---:|---|")
    for name, fmt, o, r, better in rows:
        ratios = [a / b for a, b in zip(o, r) if b > 0]
        rs = (f"{statistics.median(ratios):.2f} [{min(ratios):.2f}-{max(ratios):.2f}]"
              if ratios else "n/a")
        print(f"| {name} | {show(fmt, statistics.median(o))} | {show(fmt, statistics.median(r))} "
              f"| {rs} |")
    if self_rows:
        print("\n| speed-up (img/s ratio per pair) | median [min-max] |")
        print("|---|---|")
        for name, a, b in self_rows:
            q = [x / y for x, y in zip(a, b) if y > 0]
            print(f"| {name} | {statistics.median(q):.2f} [{min(q):.2f}-{max(q):.2f}] |")


if __name__ == "__main__":
    main()
