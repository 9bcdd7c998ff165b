"""The Python package against the CLI of the same build."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import lapgan
from conftest import run, write_idx


def test_version_is_the_library_s(bin):
    out = run(bin, "--version").stdout.split()
    assert lapgan.__version__ == out[1]


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory, bin, fashion_small):
    """A tiny unconditional and a class-conditional run, trained by the CLI
    on the same 512 images (as IDX files)."""
    d = tmp_path_factory.mktemp("runs")
    x, y = fashion_small
    write_idx(d / "img.idx", x)
    write_idx(d / "lab.idx", y)
    data = f"idx:{d / 'img.idx'},{d / 'lab.idx'}"
    for name, extra in (("u", []), ("cc", ["--class-conditional"])):
        run(bin, "train", "--preset", "tiny", "--data", data, "--steps", "4", "--val", "0",
            "--quiet", "--out", d / name, "--threads", "2", *extra)
    return d, data


@pytest.mark.parametrize("name", ["u", "cc"])
def test_sample_grid_is_byte_identical_to_lapgan_sample(bin, tiny_runs, name):
    d, _ = tiny_runs
    run(bin, "sample", "--model", d / name, "-n", "30", "--seed", "7", "-o", d / f"{name}.png")
    m = lapgan.Model.load(str(d / name))
    labels = [i // 10 % m.nclasses for i in range(30)] if m.nclasses else None
    x = m.sample(30, seed=7, labels=labels)
    lapgan.save_grid(x, str(d / f"{name}_py.png"), per_row=10)
    assert (d / f"{name}.png").read_bytes() == (d / f"{name}_py.png").read_bytes()
    # and the floats: the same seed gives the same bytes, another does not
    assert np.array_equal(x, m.sample(30, seed=7, labels=labels))
    assert not np.array_equal(x, m.sample(30, seed=8, labels=labels))


def test_chain_ends_in_the_samples(tiny_runs):
    d, _ = tiny_runs
    m = lapgan.Model.load(str(d / "u"))
    ch = m.chain(5, seed=3)
    assert np.array_equal(ch["image"], m.sample(5, seed=3))
    assert np.array_equal(ch["img"][0], ch["image"])
    for k in range(m.levels - 1):  # I_k = u(I_{k+1}) + h_k
        np.testing.assert_array_equal(ch["img"][k], ch["up"][k] + ch["h"][k])
    assert ch["up"][m.levels - 1] is None


@pytest.mark.parametrize("layout", ["NCHW", "NHWC", "float"])
def test_train_from_numpy_equals_cli_run(bin, tiny_runs, fashion_small, tmp_path, layout):
    d, _ = tiny_runs
    x, y = fashion_small
    if layout == "NCHW":
        imgs = x[:, None]
    elif layout == "NHWC":
        imgs = x[..., None]
    else:  # floats in [0, 1] round back to the same bytes
        imgs, layout = x[:, None].astype(np.float32) / 255, "NCHW"
    m = lapgan.train(str(tmp_path / "py"), preset="tiny", images=imgs, labels=y, layout=layout,
                     steps=4, class_conditional=True, threads=2)
    assert m.nclasses == 10
    run(bin, "diff", d / "cc", tmp_path / "py")  # every tensor bit for bit


def test_flip_as_the_cli(bin, tiny_runs, fashion_small, tmp_path):
    """flip=True is `lapgan train --flip`: the same tensors bit for bit, and
    not those of the run without it."""
    d, data = tiny_runs
    run(bin, "train", "--preset", "tiny", "--data", data, "--steps", "4", "--val", "0",
        "--quiet", "--out", tmp_path / "cli", "--threads", "2", "--flip")
    x, y = fashion_small
    lapgan.train(str(tmp_path / "py"), preset="tiny", images=x[:, None], labels=y, steps=4,
                 threads=2, flip=True)
    run(bin, "diff", tmp_path / "cli", tmp_path / "py")
    p = subprocess.run([bin, "diff", d / "u", tmp_path / "py"], capture_output=True, text=True)
    assert p.returncode != 0, "flip=True trained the same tensors as no flip"


def test_wait_policy_defaults_to_passive():
    """Importing lapgan makes OpenMP threads sleep at barriers unless the
    user chose otherwise (libgomp reads the variable when it loads)."""
    code = "import os, lapgan; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "passive", out.stderr
    env["OMP_WAIT_POLICY"] = "active"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "active", out.stderr


def test_blas_kernels_are_the_clis(bin):
    """Importing lapgan names OpenBLAS's kernel family for this CPU before
    the library loads, as the CLI does (OpenBLAS gives CPUs newer than its
    table generic SSE3 kernels), so Python and the CLI multiply alike; a
    user's OPENBLAS_CORETYPE wins in both."""
    code = "import lapgan; print(lapgan.blas_core())"
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    cli = subprocess.run([bin, "selfcheck"], env=env, capture_output=True, text=True)
    core = re.search(r"OpenBLAS (\w+);", cli.stdout).group(1)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == core, out.stderr
    flags = open("/proc/cpuinfo").read()
    if " avx2 " in flags and " fma " in flags:
        assert core in ("SkylakeX", "Cooperlake", "SapphireRapids", "Haswell", "Zen"), core
    env["OPENBLAS_CORETYPE"] = "Haswell"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "Haswell", out.stderr


def test_errors_raise_with_the_library_message(tmp_path, fashion_small):
    with pytest.raises(lapgan.Error, match="level_0.safetensors: cannot open"):
        lapgan.Model.load(str(tmp_path / "missing"))
    with pytest.raises(lapgan.Error, match="unknown preset|preset 'nope'"):
        lapgan.train(str(tmp_path / "r"), preset="nope", images=fashion_small[0], steps=1)
    bad = np.full((4, 1, 28, 28), 2.0, dtype=np.float32)
    with pytest.raises(lapgan.Error, match=r"outside \[0, 1\]"):
        lapgan.train(str(tmp_path / "r"), preset="tiny", images=bad, steps=1)


def test_authors_init_as_the_cli(bin, fashion_small, tmp_path):
    x, _ = fashion_small
    lapgan.train(str(tmp_path / "a"), preset="tiny", images=x[:, None], steps=2,
                 authors_init=True, threads=2, levels=[2])
    info = run(bin, "info", tmp_path / "a").stdout
    assert "N(0, 0.05^2) in G, N(0, 0.005^2) in D" in info
    with pytest.raises(lapgan.Error, match="not both"):
        lapgan.train(str(tmp_path / "b"), preset="tiny", images=x[:, None], steps=1,
                     authors_init=True, dcgan=True)


def test_class_conditional_needs_labels(tiny_runs):
    m = lapgan.Model.load(str(tiny_runs[0] / "cc"))
    with pytest.raises(lapgan.Error, match="class-conditional"):
        m.sample(4)
    with pytest.raises(lapgan.Error, match="labels must be in"):
        m.sample(4, labels=[0, 1, 2, 10])


def test_progress_callback_and_stop(tmp_path, fashion_small):
    seen = []
    lapgan.train(str(tmp_path / "a"), preset="tiny", images=fashion_small[0], steps=4,
                 log_every=2, progress=seen.append, levels=[2])
    assert [(p["level"], p["step"]) for p in seen] == [(2, 2), (2, 4)]
    assert all(np.isfinite(p["d_loss"]) for p in seen)

    def stop(p):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        lapgan.train(str(tmp_path / "b"), preset="tiny", images=fashion_small[0], steps=50,
                     log_every=1, progress=stop, levels=[2])
    m = lapgan.Model.load  # the interrupted level saved a checkpoint to resume from
    assert (tmp_path / "b" / "level_2.safetensors").exists()
    del m


def test_thread_pools_are_left_alone(tiny_runs):
    from lapgan._lapgan import lib
    torch = pytest.importorskip("torch")
    before = (lib.lgpy_omp_threads(), lib.lgpy_blas_threads(), torch.get_num_threads())
    m = lapgan.Model.load(str(tiny_runs[0] / "u"))
    m.sample(8, seed=1)
    m.sample(8, seed=1, threads=1)
    assert (lib.lgpy_omp_threads(), lib.lgpy_blas_threads(), torch.get_num_threads()) == before


def test_parzen_matches_the_formula():
    rng = np.random.default_rng(0)
    s, t = rng.random((200, 12), dtype=np.float32), rng.random((50, 12), dtype=np.float32)
    r = lapgan.eval.parzen(s, t, sigma=0.3)
    d2 = ((t[:, None, :].astype(np.float64) - s[None].astype(np.float64)) ** 2).sum(-1)
    a = -d2 / (2 * 0.3 ** 2)
    mx = a.max(1, keepdims=True)
    ll = (mx[:, 0] + np.log(np.exp(a - mx).sum(1)) - np.log(200)
          - 6 * np.log(2 * np.pi * 0.3 ** 2))
    np.testing.assert_allclose(r["ll"], ll, rtol=1e-5, atol=1e-4)
    assert abs(r["mean"] - ll.mean()) < 1e-3
    best = lapgan.eval.parzen(s, t)  # sigma from the default grid
    assert 0.1 <= best["sigma"] <= 1.0


def test_frechet_distance_matches_the_formula():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(300, 6)).astype(np.float32)
    b = (rng.normal(size=(250, 6)) * 1.5 + 0.3).astype(np.float32)

    def sqrtm_psd(s):
        w, v = np.linalg.eigh(s)
        return (v * np.sqrt(np.clip(w, 0, None))) @ v.T

    ma, mb = a.mean(0, dtype=np.float64), b.mean(0, dtype=np.float64)
    ca, cb = np.cov(a.T.astype(np.float64)), np.cov(b.T.astype(np.float64))
    r = sqrtm_psd(ca)
    want = ((ma - mb) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * np.trace(sqrtm_psd(r @ cb @ r))
    got = lapgan.eval.frechet_distance(a, b)
    assert abs(got - want) <= 1e-6 * max(1.0, abs(want))
    assert abs(lapgan.eval.frechet_distance(a, a)) < 1e-6


def test_fid_names_missing_weights(tmp_path):
    imgs = np.zeros((2, 3, 8, 8), dtype=np.uint8)
    with pytest.raises(lapgan.Error, match="nope.safetensors"):
        lapgan.eval.fid(imgs, imgs, weights=str(tmp_path / "nope.safetensors"))


def test_precision_bf16(bin, fashion_small, tmp_path, monkeypatch):
    """precision= as `--precision`: bf16 trains reproducibly and differently
    from fp32 where the CPU has bf16; a CPU without it (LG_NO_BF16=1 plays
    one) and an unknown precision raise with the library's message."""
    x, _ = fashion_small
    imgs = x[:, None]
    with pytest.raises(lapgan.Error, match="fp32 or bf16"):
        lapgan.train(str(tmp_path / "x"), preset="tiny", images=imgs, steps=1, precision="fp16")
    monkeypatch.setenv("LG_NO_BF16", "1")
    with pytest.raises(lapgan.Error, match="bf16 needs a CPU with AVX512-BF16"):
        lapgan.train(str(tmp_path / "y"), preset="tiny", images=imgs, steps=1, precision="bf16")
    monkeypatch.delenv("LG_NO_BF16")
    flags = open("/proc/cpuinfo").read().split()
    if "avx512_bf16" not in flags and "amx_bf16" not in flags:
        pytest.skip("this CPU has no AVX512-BF16 or AMX-BF16 (cannot exist here)")
    for name, prec in (("a", "bf16"), ("b", "bf16"), ("c", "fp32")):
        m = lapgan.train(str(tmp_path / name), preset="tiny", images=imgs, steps=3, threads=2,
                         precision=prec)
    assert m is not None
    run(bin, "diff", tmp_path / "a", tmp_path / "b")  # the same bits twice
    p = subprocess.run([bin, "diff", tmp_path / "a", tmp_path / "c"], capture_output=True, text=True)
    assert p.returncode != 0, "bf16 and fp32 runs came out identical"
    s = lapgan.Model.load(str(tmp_path / "a"), precision="bf16").sample(4, seed=2)
    assert s.shape[0] == 4 and np.isfinite(s).all()
