"""Shared by the package's tests (run by tests/cli/python.sh): the lapgan
binary of the same build (LAPGAN_BIN) and small data sets."""
import gzip
import os
import subprocess

import numpy as np
import pytest

FASHION = "/usr/share/datasets/fashion-mnist"


@pytest.fixture(scope="session")
def bin():
    path = os.environ.get("LAPGAN_BIN")
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"LAPGAN_BIN={path!r}: set it to the build's lapgan binary")
    return path


def run(*args, **kw):
    """Runs a command; a failure shows its stderr."""
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kw)
    assert p.returncode == 0, f"{' '.join(map(str, args))}: exit {p.returncode}: {p.stderr[-800:]}"
    return p


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def write_idx(path, arr):
    with open(path, "wb") as f:
        f.write(bytes([0, 0, 8, arr.ndim]))
        for d in arr.shape:
            f.write(int(d).to_bytes(4, "big"))
        f.write(np.ascontiguousarray(arr, dtype=np.uint8).tobytes())


@pytest.fixture(scope="session")
def fashion_small():
    """The first 512 Fashion-MNIST training images [n, 28, 28] and labels."""
    images = os.path.join(FASHION, "train-images-idx3-ubyte.gz")
    if not os.path.exists(images):
        pytest.fail(f"{images} missing: scripts/deps.sh installs dataset-fashion-mnist")
    x = read_idx(images)[:512]
    y = read_idx(os.path.join(FASHION, "train-labels-idx1-ubyte.gz"))[:512]
    return x, y
