"""A LAPGAN generator pyramid exported by `lapgan export --format torch`.

Self-contained: only torch is needed. The weights are in
weights.safetensors beside this file (read here without the safetensors
package). Usage:

    import lapgan_model
    net = lapgan_model.load()                 # a torch.nn.Module, in eval mode
    z = net.noise_shapes(16)                  # one noise shape per level, finest first
    img = net([torch.rand(s) * 2 - 1 for s in z], labels=None)   # [16, c, s0, s0]

Sampling runs coarse to fine: I_K = G_K(z_K), I_k = u(I_{k+1}) + G_k(z_k,
u(I_{k+1})), with u(.) the run's own resampling as two constant matrices.
With the noise lapgan draws (the Python package's Model.noise), the images
equal `lapgan sample`'s to float rounding.
"""
import json
import os
import struct

import torch
from torch import nn

MODEL = json.loads(r'''@MODEL_JSON@''')


def read_safetensors(path):
    """name -> float32 tensor, from the safetensors layout (little-endian)."""
    with open(path, "rb") as f:
        data = f.read()
    (hlen,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + hlen])
    base = 8 + hlen
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} is {t['dtype']}, expected F32")
        a, b = t["data_offsets"]
        buf = bytearray(data[base + a:base + b])
        out[name] = torch.frombuffer(buf, dtype=torch.float32).reshape(t["shape"]).clone()
    return out


class Reshape(nn.Module):
    def __init__(self, shape):
        super().__init__()
        self.shape = list(shape)

    def forward(self, x):
        return x.reshape([x.shape[0]] + self.shape)


class Flatten(nn.Module):
    def forward(self, x):
        return x.reshape(x.shape[0], -1)


class FeatureL2Pool(nn.Module):
    """Every k consecutive maps -> the root of their sum of squares."""

    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, x):
        n, c, h, w = x.shape
        return x.reshape(n, c // self.k, self.k, h, w).pow(2).sum(2).sqrt()


def make_layer(spec):
    """One lapgan layer as a torch module (eval semantics: dropout is the
    identity, batch norm uses its running statistics)."""
    kind = spec["kind"]
    if kind == "linear":
        return nn.Sequential(Flatten(), nn.Linear(spec["in_features"], spec["out"], bias=spec["bias"]))
    if kind == "conv2d":
        return nn.Conv2d(spec["in"][0], spec["out"], spec["k"], stride=spec["stride"],
                         padding=spec["pad"], groups=spec.get("groups", 1), bias=spec["bias"])
    if kind == "batchnorm":
        bn = nn.BatchNorm2d if spec["in"][1] * spec["in"][2] > 1 else nn.BatchNorm1d
        return nn.Sequential(Reshape(spec["in"]) if bn is nn.BatchNorm2d else Flatten(),
                             bn(spec["in"][0], eps=spec["eps"], affine=spec["affine"]))
    if kind == "relu":
        return nn.ReLU()
    if kind == "leaky_relu":
        return nn.LeakyReLU(spec["slope"])
    if kind == "sigmoid":
        return nn.Sigmoid()
    if kind == "tanh":
        return nn.Tanh()
    if kind == "dropout":
        return nn.Identity()
    if kind == "flatten":
        return Flatten()
    if kind == "reshape":
        return Reshape(spec["shape"])
    if kind == "feature_l2pool":
        return FeatureL2Pool(spec["k"])
    raise ValueError(f"layer kind {kind} is not supported by this exporter")


class Net(nn.Module):
    """A lapgan sequential net; parameter names follow lapgan's
    "<index>.<kind>.<weight|bias|running_mean|running_var>"."""

    def __init__(self, layers):
        super().__init__()
        self.specs = layers
        self.layers = nn.ModuleList(make_layer(s) for s in layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def load(self, tensors, prefix):
        for i, (spec, layer) in enumerate(zip(self.specs, self.layers)):
            mod = layer[-1] if isinstance(layer, nn.Sequential) else layer
            for what in ("weight", "bias", "running_mean", "running_var"):
                name = f"{prefix}{i}.{spec['kind']}.{what}"
                if name in tensors:
                    dst = getattr(mod, what)
                    if dst is None or dst.shape != tensors[name].shape:
                        raise ValueError(f"{name}: shape {list(tensors[name].shape)} does not fit")
                    dst.data.copy_(tensors[name])


class Level(nn.Module):
    def __init__(self, spec, c, nclasses):
        super().__init__()
        self.k, self.fc, self.size = spec["k"], spec["fc"], spec["size"]
        self.zdim, self.c, self.nclasses = spec["zdim"], c, nclasses
        self.g = Net(spec["G"])
        self.gl = Net(spec["GL"]) if spec["GL"] else None
        up = torch.tensor(spec["up"], dtype=torch.float32) if spec["up"] else torch.zeros(0)
        self.register_buffer("up", up)

    def noise_shape(self, n):
        return (n, self.zdim) if self.fc else (n, self.zdim, self.size, self.size)

    def forward(self, z, coarse, onehot):
        n = z.shape[0]
        if self.fc:
            x = torch.cat([z, onehot], 1) if onehot is not None else z
            return self.g(x).reshape(n, self.c, self.size, self.size)
        # u(I_{k+1}) = U I U^T on each plane
        low = torch.matmul(torch.matmul(self.up, coarse), self.up.t())
        parts = [z.reshape(self.noise_shape(n)), low]
        if self.gl is not None:
            parts.append(self.gl(onehot).reshape(n, 1, self.size, self.size))
        return low + self.g(torch.cat(parts, 1))


class Pyramid(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.c, self.nclasses = model["c"], model["nclasses"]
        self.levels = nn.ModuleList(Level(s, self.c, self.nclasses) for s in model["level"])

    def noise_shapes(self, n):
        """The shape of z_k for each level k (0 = finest)."""
        return [lv.noise_shape(n) for lv in self.levels]

    def forward(self, noise, labels=None):
        """noise: one tensor per level, finest first; labels: int [n] for
        class-conditional models. Returns I_0 [n, c, s0, s0]."""
        if len(noise) != len(self.levels):
            raise ValueError(f"{len(noise)} noise tensors for {len(self.levels)} levels")
        onehot = None
        if self.nclasses:
            if labels is None:
                raise ValueError("class-conditional model: give labels")
            onehot = torch.nn.functional.one_hot(torch.as_tensor(labels).long(),
                                                 self.nclasses).float()
        img = None
        for lv in reversed(self.levels):
            img = lv(noise[lv.k], img, onehot)
        return img


def load(directory=None):
    """The pyramid with weights from directory/weights.safetensors
    (default: beside this file), in eval mode."""
    directory = directory or os.path.dirname(os.path.abspath(__file__))
    net = Pyramid(MODEL)
    tensors = read_safetensors(os.path.join(directory, "weights.safetensors"))
    for lv in net.levels:
        lv.g.load(tensors, f"level_{lv.k}.G.")
        if lv.gl is not None:
            lv.gl.load(tensors, f"level_{lv.k}.GL.")
    return net.eval()
