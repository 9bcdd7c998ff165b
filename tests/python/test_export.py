"""`lapgan export`: the torch module (to 1e-5) and the ONNX graph run by
onnxruntime (to 1e-4) reproduce lapgan's samples from lapgan's noise, for
the fashion and cifar10 presets, unconditional and class-conditional, and
lsun64 (grouped convolutions, L2 feature pooling, non-affine batch norm)."""
import importlib.util

import numpy as np
import pytest

import lapgan
from conftest import run

N = 12


@pytest.fixture(scope="module", params=[("fashion", False), ("fashion", True),
                                        ("cifar10", False), ("cifar10", True), ("lsun64", False)],
                ids=["fashion", "fashion-cc", "cifar10", "cifar10-cc", "lsun64"])
def trained(request, tmp_path_factory, fashion_small):
    """A few steps of the preset (batch 8): the weights only need to be
    away from their initial values."""
    preset, cc = request.param
    d = tmp_path_factory.mktemp(preset + ("-cc" if cc else ""))
    if preset == "fashion":
        images, labels = fashion_small[0][:64], fashion_small[1][:64]
    else:  # colour images of the preset's size, NHWC as image libraries give them
        rng = np.random.default_rng(1)
        side = 64 if preset == "lsun64" else 32
        images = rng.integers(0, 256, (64, side, side, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, 64)
    # lsun64's 64x64 step is about 20 G multiply-adds per image: batch 2
    m = lapgan.train(str(d / "run"), preset=preset, images=images, labels=labels,
                     layout="NCHW" if images.ndim == 3 else "NHWC", steps=2,
                     batch=2 if preset == "lsun64" else 8,
                     class_conditional=cc, adam=True, ckpt_every=0, sample_every=0)
    labels = np.arange(N) % 10 if cc else None
    return d, m, m.sample(N, seed=5, labels=labels), m.noise(N, seed=5), labels


def test_torch_export_reproduces_samples(bin, trained):
    torch = pytest.importorskip("torch")
    d, m, ref, noise, labels = trained
    run(bin, "export", "--format", "torch", d / "run", "-o", d / "torch")
    spec = importlib.util.spec_from_file_location("lapgan_model", d / "torch" / "lapgan_model.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    net = mod.load()
    assert isinstance(net, torch.nn.Module)
    with torch.no_grad():
        out = net([torch.from_numpy(z) for z in noise],
                  None if labels is None else torch.from_numpy(labels)).numpy()
    assert out.shape == ref.shape
    err = float(np.abs(out - ref).max())
    assert err <= 1e-5, f"max abs {err}"
    # the noise matters: other draws give other images
    other = m.noise(N, seed=6)
    with torch.no_grad():
        out2 = net([torch.from_numpy(z) for z in other],
                   None if labels is None else torch.from_numpy(labels)).numpy()
    assert np.abs(out2 - ref).max() > 1e-3


def test_onnx_export_reproduces_samples(bin, trained):
    ort = pytest.importorskip("onnxruntime")
    d, m, ref, noise, labels = trained
    run(bin, "export", "--format", "onnx", d / "run", "-o", d / "model.onnx")
    sess = ort.InferenceSession(str(d / "model.onnx"), providers=["CPUExecutionProvider"])
    feeds = {f"z_{k}": z for k, z in enumerate(noise)}
    if labels is not None:
        feeds["labels"] = labels.astype(np.int64)
    assert sorted(i.name for i in sess.get_inputs()) == sorted(feeds)
    (out,) = sess.run(["image"], feeds)
    err = float(np.abs(out - ref).max())
    assert err <= 1e-4, f"max abs {err}"


def test_export_errors_name_the_problem(bin, tmp_path):
    p = __import__("subprocess").run([bin, "export", "--format", "onnx", str(tmp_path / "none"),
                                      "-o", str(tmp_path / "m.onnx")], capture_output=True, text=True)
    assert p.returncode == 1 and "level_0.safetensors" in p.stderr
    assert not (tmp_path / "m.onnx").exists()
    p = __import__("subprocess").run([bin, "export", "--format", "tf", "x", "-o", "y"],
                                     capture_output=True, text=True)
    assert p.returncode == 2 and "torch or onnx" in p.stderr
