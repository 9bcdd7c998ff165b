"""Python half of the safetensors interop test (driven by test_safetensors).

  check PATH      load a file lapgan wrote and verify its tensors and metadata
  write PATH      write the file lapgan's reader then verifies
  write-f16 PATH  write a float16 tensor (lapgan must refuse it by dtype)
"""
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file


def check(path):
    t = load_file(path)
    want_w = (np.arange(12, dtype=np.float32) * np.float32(0.25) - 1).reshape(3, 4)
    want_b = np.float32(1) / np.arange(1, 6, dtype=np.float32)
    assert sorted(t) == ["layer.bias", "layer.weight"], sorted(t)
    assert t["layer.weight"].dtype == np.float32 and t["layer.weight"].shape == (3, 4)
    assert np.array_equal(t["layer.weight"], want_w), t["layer.weight"]
    assert np.array_equal(t["layer.bias"], want_b), t["layer.bias"]
    with safe_open(path, framework="np") as f:
        meta = f.metadata()
    assert meta == {"format": "lapgan-test", "note": "\u00fcn\u00efcode"}, meta


def write(path):
    save_file({"x": (np.arange(24, dtype=np.float32) * np.float32(0.5)).reshape(2, 3, 4),
               "s": np.array(-2.5, dtype=np.float32),
               "e": np.zeros((0, 3), dtype=np.float32)},
              path, metadata={"writer": "python"})


def write_f16(path):
    save_file({"h": np.ones(3, dtype=np.float16)}, path)


if __name__ == "__main__":
    {"check": check, "write": write, "write-f16": write_f16}[sys.argv[1]](sys.argv[2])
