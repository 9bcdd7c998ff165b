#!/usr/bin/env python3
"""Independent PyTorch check of the CIFAR-10 8x8 fully connected GAN level.

Does the paper's SGD recipe collapse the coarsest (FC) level whatever the
implementation? This trains the `cifar10` preset's FC level (G 100-1200-1200-192,
D 192-600-600-1 with dropout 0.5, 64 real + 64 generated per D step, a G step on
128 fresh noise vectors, BCE, SGD lr 0.02 momentum 0.5) in plain PyTorch on the
8x8 binomial low-pass of CIFAR-10 and prints how far apart its samples are
(mean pairwise L2 of 500 samples) beside the same figure for 500 real images.
A collapsed G has a spread far below the real one.

  /usr/bin/python3 tools/fc_level_check.py DIR [--style torch7|pytorch]
      [--scale pm1|z] [--sigmoid] [--init torch|authors] [--steps N]

DIR holds CIFAR-10 binary batches (data_batch_*.bin). --init authors is
eyescream's train_cifar.lua: G weights N(0, 0.05), D weights N(0, 0.005), biases 0;
--sigmoid puts a sigmoid after G's second hidden layer, as that script does;
--scale z is the authors' per-pixel z-scoring. Results: docs/presets.md.
"""
import argparse
import glob

import cv2
import numpy as np
import torch
import torch.nn as nn


def load(d, n):
    raw = [np.fromfile(f, np.uint8).reshape(-1, 3073)[:, 1:] for f in sorted(glob.glob(d + '/data_batch_*.bin'))]
    x = np.concatenate(raw)[:n].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).astype(np.float32)
    x8 = np.stack([cv2.pyrDown(cv2.pyrDown(im)) for im in x]).transpose(0, 3, 1, 2).reshape(len(x), -1)
    return x8


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('dir')
    ap.add_argument('--style', default='torch7', choices=['torch7', 'pytorch'])
    ap.add_argument('--scale', default='pm1', choices=['pm1', 'z'])
    ap.add_argument('--sigmoid', action='store_true')
    ap.add_argument('--init', default='torch', choices=['torch', 'authors'])
    ap.add_argument('--steps', type=int, default=2000)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(1)
    x8 = load(a.dir, 25000)
    x8 = x8 / 127.5 - 1 if a.scale == 'pm1' else (x8 - x8.mean(0)) / (x8.std(0) + 1e-7)
    x8 = torch.tensor(x8, dtype=torch.float32)
    G = nn.Sequential(nn.Linear(100, 1200), nn.ReLU(), nn.Linear(1200, 1200),
                      nn.Sigmoid() if a.sigmoid else nn.ReLU(), nn.Linear(1200, 192))
    D = nn.Sequential(nn.Linear(192, 600), nn.ReLU(), nn.Dropout(0.5), nn.Linear(600, 600), nn.ReLU(),
                      nn.Dropout(0.5), nn.Linear(600, 1))
    if a.init == 'authors':
        for net, sd in ((G, 0.05), (D, 0.005)):
            for m in net:
                if isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, sd)
                    nn.init.zeros_(m.bias)
    damp = 0.5 if a.style == 'torch7' else 0.0  # Torch7 optim.sgd: dampening = momentum
    oG = torch.optim.SGD(G.parameters(), lr=0.02, momentum=0.5, dampening=damp)
    oD = torch.optim.SGD(D.parameters(), lr=0.02, momentum=0.5, dampening=damp)
    bce = nn.BCEWithLogitsLoss()
    B = 64
    rdiv = torch.cdist(x8[:500], x8[:500]).mean().item()
    for step in range(a.steps + 1):
        real = x8[torch.randint(0, len(x8), (B,))]
        fake = G(torch.rand(B, 100) * 2 - 1)
        t = torch.cat([torch.ones(B, 1), torch.zeros(B, 1)])
        oD.zero_grad()
        bce(D(torch.cat([real, fake.detach()])), t).backward()
        oD.step()
        oG.zero_grad()
        lg = bce(D(G(torch.rand(2 * B, 100) * 2 - 1)), torch.ones(2 * B, 1))
        lg.backward()
        oG.step()
        if step % 500 == 0:
            with torch.no_grad():
                s = G(torch.rand(500, 100) * 2 - 1)
                div = torch.cdist(s, s).mean().item()
            print(f'step {step} g_loss {lg.item():.3f} sample spread {div:.3f} real spread {rdiv:.3f}', flush=True)


if __name__ == '__main__':
    main()
