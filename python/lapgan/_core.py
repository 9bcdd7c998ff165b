"""Model loading, sampling and training over the C library."""
import json
import os

import numpy as np

from ._lapgan import ffi, lib
from .threads import threads_for_call


class Error(Exception):
    """A lapgan failure; str() is the library's one-line message."""

    def __init__(self, message, status="error"):
        super().__init__(message)
        self.status = status


def check(status):
    if status != lib.LG_OK:
        raise Error(ffi.string(lib.lg_errmsg()).decode("utf-8", "replace"),
                    ffi.string(lib.lg_status_name(status)).decode())


def version():
    """The version of the liblapgan this package loaded."""
    return ffi.string(lib.lg_version()).decode()


def blas_core():
    """The OpenBLAS kernel family the loaded library runs ("SkylakeX", ...)."""
    return ffi.string(lib.lg_blas_core()).decode()


def _desc_json(desc):
    p = ffi.new("char **")
    check(lib.lg_model_desc_to_json(desc, p))
    try:
        return json.loads(ffi.string(p[0]).decode())
    finally:
        lib.free(p[0])


def _labels(labels, n, nclasses):
    """int32 labels for n samples, or NULL for unconditional models."""
    if labels is None:
        if nclasses:
            raise Error(f"class-conditional model ({nclasses} classes): give labels")
        return None
    arr = np.ascontiguousarray(np.broadcast_to(np.asarray(labels, dtype=np.int64), (n,)))
    if nclasses and (arr.min() < 0 or arr.max() >= nclasses):
        raise Error(f"labels must be in [0, {nclasses}), got {arr.min()}..{arr.max()}")
    return np.ascontiguousarray(arr, dtype=np.int32)


def _ptr(arr, ctype):
    return ffi.cast(ctype, ffi.from_buffer(arr)) if arr is not None else ffi.NULL


def _backend(precision):
    """The op table for precision "fp32" or "bf16" (bf16 raises Error on a
    CPU without AVX512-BF16 or AMX-BF16, as `--precision bf16` exits)."""
    kinds = {"fp32": lib.LG_BACKEND_CPU, "bf16": lib.LG_BACKEND_CPU_BF16}
    if precision not in kinds:
        raise Error(f"precision '{precision}': fp32 or bf16")
    check(lib.lg_backend_check(kinds[precision]))
    return kinds[precision]


class Model:
    """A trained LAPGAN (every level of a run directory)."""

    def __init__(self, handle, run_dir):
        self._m = ffi.gc(handle, lib.lg_model_free)
        self.run_dir = run_dir
        d = lib.lg_model_desc_of(self._m)
        self.desc = _desc_json(d)
        self.channels, self.levels, self.nclasses = d.c, d.levels, d.nclasses
        self.sizes = [d.level[k].size for k in range(d.levels)]
        self._zshape = [(d.level[k].zdim,) if d.level[k].fc else
                        (d.level[k].zdim, d.level[k].size, d.level[k].size) for k in range(d.levels)]

    @classmethod
    def load(cls, run_dir, precision="fp32"):
        """Loads every level_<k>.safetensors of run_dir; precision="bf16"
        samples with bf16 convolutions (`lapgan sample --precision bf16`)."""
        be = _backend(precision)
        out = ffi.new("lg_model **")
        check(lib.lg_model_load(out, os.fsencode(run_dir), be))
        return cls(out[0], run_dir)

    def _run(self, n, seed, labels, chain, threads):
        if not 1 <= n <= 1 << 20:
            raise Error(f"sample count {n} outside [1, 1048576]")
        s = self.sizes[0]
        out = np.empty((n, self.channels, s, s), dtype=np.float32)
        lab = _labels(labels, n, self.nclasses)
        with threads_for_call(threads):
            check(lib.lg_model_sample(self._m, n, seed, _ptr(lab, "int *"),
                                      _ptr(out, "float *"), chain))
        return out

    def sample(self, n, seed=1, labels=None, threads=None):
        """n images [n, c, s0, s0] (float32, in about [-1, 1]); the same
        seed and labels give the same bytes as `lapgan sample`."""
        return self._run(n, seed, labels, ffi.NULL, threads)

    def chain(self, n, seed=1, labels=None, threads=None):
        """The coarse-to-fine chain: {"image": I_0, "img": [I_k], "up":
        [u(I_{k+1}) or None], "h": [h_k or None]}, lists indexed by level."""
        ch = ffi.new("lg_chain *")
        image = self._run(n, seed, labels, ch, threads)
        res = {"image": image, "img": [], "up": [], "h": []}
        for k, s in enumerate(self.sizes):
            shape = (n, self.channels, s, s)
            for key, ptrs in (("img", ch.img), ("up", ch.up), ("h", ch.h)):
                if ptrs[k] == ffi.NULL:
                    res[key].append(None)
                    continue
                buf = ffi.buffer(ptrs[k], 4 * int(np.prod(shape)))
                res[key].append(np.frombuffer(buf, dtype=np.float32).reshape(shape).copy())
        return res

    def noise(self, n, seed=1):
        """The noise sample(n, seed) feeds each level's G, finest first:
        [n, zdim] at the fully connected level, [n, zdim, s, s] at conv levels
        (the inputs of `lapgan export` models)."""
        zs = []
        length = ffi.new("size_t *")
        for k in range(self.levels):
            check(lib.lg_model_noise(self._m, n, seed, k, ffi.NULL, length))
            z = np.empty(length[0], dtype=np.float32)
            check(lib.lg_model_noise(self._m, n, seed, k, _ptr(z, "float *"), length))
            zs.append(z.reshape((n,) + self._zshape[k]))
        return zs

    def export(self, path, format):
        """`lapgan export --format torch|onnx` of this run."""
        fn = {"torch": lib.lg_export_torch, "onnx": lib.lg_export_onnx}.get(format)
        if fn is None:
            raise Error(f"export format '{format}': torch or onnx")
        check(fn(os.fsencode(self.run_dir), os.fsencode(path)))


def _model_desc(preset, model, class_conditional, nclasses, adam, dcgan, batch,
                authors_init=False):
    d = ffi.new("lg_model_desc *")
    if model is not None:
        text = model if isinstance(model, str) and model.lstrip().startswith("{") else None
        if text is None and isinstance(model, dict):
            text = json.dumps(model)
        if text is None:
            with open(model) as f:
                text = f.read()
        check(lib.lg_model_desc_from_json(d, text.encode(), b"model"))
    else:
        check(lib.lg_preset(preset.encode(), d))
    if adam:
        lib.lg_model_desc_adam(d)
    if dcgan:
        lib.lg_model_desc_dcgan(d)
    if authors_init:
        if dcgan:
            raise Error("dcgan has its own initialisation; give dcgan or authors_init, not both")
        lib.lg_model_desc_authors_init(d)
    if batch:
        d.batch = batch
    if class_conditional:
        if nclasses < 2:
            raise Error(f"class_conditional needs a labelled data set; this one has {nclasses} classes")
        lib.lg_model_desc_class_conditional(d, nclasses)
    check(lib.lg_model_desc_validate(d))
    return d


def _dataset(data, images, labels, layout, c, size):
    out = ffi.new("lg_dataset **")
    if images is None:
        check(lib.lg_dataset_open(out, data.encode(), c, size))
        return ffi.gc(out[0], lib.lg_dataset_free)
    x = np.asarray(images)
    if x.ndim == 3:  # [n, h, w] grey
        x = x[:, None] if layout == "NCHW" else x[..., None]
    if x.ndim != 4:
        raise Error(f"images: expected [n, c, h, w] or [n, h, w, c], got shape {list(x.shape)}")
    if x.dtype == np.uint8:
        dtype = lib.LG_DTYPE_U8
    elif x.dtype in (np.float32, np.float64):
        dtype, x = lib.LG_DTYPE_F32, x.astype(np.float32)
    else:
        raise Error(f"images: dtype {x.dtype} (uint8, or floats in [0, 1])")
    x = np.ascontiguousarray(x)
    n, (ch, h, w) = x.shape[0], (x.shape[1:] if layout == "NCHW" else
                                 (x.shape[3], x.shape[1], x.shape[2]))
    lab, ncls = None, 0
    if labels is not None:
        lab = np.ascontiguousarray(labels, dtype=np.int32)
        if lab.shape != (n,):
            raise Error(f"labels: expected shape [{n}], got {list(lab.shape)}")
        ncls = int(lab.max()) + 1 if n else 0
    check(lib.lg_dataset_from_memory(out, ffi.from_buffer(x), dtype,
                                     lib.LG_LAYOUT_NCHW if layout == "NCHW" else lib.LG_LAYOUT_NHWC,
                                     n, ch, h, w, _ptr(lab, "int *"), ncls, b"numpy"))
    return ffi.gc(out[0], lib.lg_dataset_free)


class _Progress:
    """Forwards lg_progress to the user's callback, or to a tqdm bar."""

    def __init__(self, callback, total_steps, levels):
        self.callback, self.error, self.bar = callback, None, None
        if callback is True:
            try:
                from tqdm import tqdm
                self.bar = tqdm(total=total_steps * levels, unit="step")
                self.seen = {}
            except ImportError:
                self.callback = None
        self.stop = ffi.new("volatile int *")

    def __call__(self, p):
        info = {"level": p.level, "step": p.step, "total": p.total, "img_per_s": p.img_per_s,
                "eta_s": p.eta_s, "epoch": p.epoch, "d_loss": p.stats.d_loss,
                "g_loss": p.stats.g_loss, "d_real_acc": p.stats.d_real_acc,
                "d_fake_acc": p.stats.d_fake_acc}
        try:
            if self.bar is not None:
                self.bar.update(p.step - self.seen.get(p.level, 0))
                self.seen[p.level] = p.step
                self.bar.set_postfix(level=p.level, d=f"{p.stats.d_loss:.3f}", g=f"{p.stats.g_loss:.3f}")
            elif callable(self.callback):
                self.callback(info)
        except BaseException as e:  # stop training; re-raised after lg_train saves
            self.error = e
            self.stop[0] = 1

    def close(self):
        if self.bar is not None:
            self.bar.close()


@ffi.def_extern()
def lgpy_progress(ud, p):
    ffi.from_handle(ud)(p)


def train(out, preset="fashion", model=None, data="fashion", images=None, labels=None,
          layout="NCHW", steps=1000, batch=None, seed=1, levels=None, class_conditional=False,
          adam=False, dcgan=False, authors_init=False, ckpt_every=500, sample_every=500, log_every=50,
          resume=False, force=False, progress=None, threads=None, precision="fp32", flip=False):
    """Trains a LAPGAN into run directory `out` and returns its Model (None
    while levels= leaves some level of the run untrained).

    The model: a preset name, or model= a JSON description (dict, text or
    file, as `lapgan train --print-json` writes). The data: a spec as
    `lapgan train --data` takes ("fashion", "cifar10:DIR", ...), or numpy
    images= (uint8, or floats in [0, 1]; [n, c, h, w] with layout="NCHW",
    [n, h, w, c] with "NHWC", [n, h, w] grey) with optional labels= (ints
    from 0). The defaults are `lapgan train`'s, without its validation split.
    progress: a callable receiving a dict per log line, or True for a tqdm
    bar (when tqdm is installed). authors_init=True: `lapgan train
    --authors-init` (the authors' CIFAR-10 initialisation). An exception in the callback (Ctrl-C
    included) stops training after a checkpoint and is re-raised. precision="bf16":
    `lapgan train --precision bf16` (bf16 convolutions, fp32 weights and checkpoints).
    flip=True: `lapgan train --flip` (each training image mirrored left-right with
    probability 1/2, drawn from the seed, so a resumed run stays bit-identical).
    """
    if layout not in ("NCHW", "NHWC"):
        raise Error(f"layout '{layout}': NCHW or NHWC")
    backend = _backend(precision)
    base = _model_desc(preset, model, False, 0, adam, dcgan, batch, authors_init)
    ds = _dataset(data, images, labels, layout, base.c, 0 if base.crop else base.level[0].size)
    d = _model_desc(preset, model, class_conditional, ds.nclasses, adam, dcgan, batch,
                    authors_init)
    if flip:
        d.flip = 1
    mask = 0
    for k in levels or []:
        mask |= 1 << k
    prog = _Progress(progress, steps, d.levels if not levels else len(levels))
    handle = ffi.new_handle(prog)
    run_dir = ffi.new("char[]", os.fsencode(out))  # alive until lg_train returns
    spec = ffi.new("char[]", (data if images is None else "numpy").encode())
    cfg = ffi.new("lg_train_cfg *", {
        "run_dir": run_dir, "levels_mask": mask, "steps": steps,
        "batch": d.batch, "seed": seed, "ckpt_every": ckpt_every, "sample_every": sample_every,
        "log_every": log_every, "resume": int(resume), "force": int(force),
        "backend": backend, "progress": lib.lgpy_progress if progress else ffi.NULL,
        "progress_ud": handle, "stop": prog.stop, "data_spec": spec})
    try:
        with threads_for_call(threads):
            status = lib.lg_train(d, ds, cfg)
    finally:
        prog.close()
    if prog.error is not None:
        raise prog.error
    check(status)
    # a run of some levels only is a Model once every level is trained
    done = all(os.path.exists(os.path.join(out, f"level_{k}.safetensors")) for k in range(d.levels))
    return Model.load(out, precision) if done else None


def save_grid(images, path, per_row=10):
    """Writes images [n, c, s, s] in [-1, 1] as one PNG grid, drawn as
    `lapgan sample` draws its grid."""
    x = np.ascontiguousarray(images, dtype=np.float32)
    if x.ndim != 4:
        raise Error(f"images: expected [n, c, s, s], got shape {list(x.shape)}")
    n, c, h, w = x.shape
    opts = ffi.new("lg_grid_opts *", {"nrow_items": per_row, "pad": 2, "pad_value": 255,
                                      "lo": -1.0, "hi": 1.0, "scale": 64 // h if h < 32 else 1})
    im = ffi.new("lg_image **")
    check(lib.lg_grid_make(im, ffi.cast("float *", ffi.from_buffer(x)), n, c, h, w, opts))
    try:
        check(lib.lg_png_write(os.fsencode(path), im[0]))
    finally:
        lib.lg_image_free(im[0])
