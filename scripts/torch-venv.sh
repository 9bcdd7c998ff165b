#!/usr/bin/env bash
# PyPI's current PyTorch in a venv of its own: the peer users pick, and the
# yardstick `make bench` measures against (Debian's python3-torch 1.13 stays
# the one the tests use). Prints the venv's python on stdout; installs what
# is missing (python3-venv from Debian, torch and numpy from PyPI, about
# 5 GB with the CUDA libraries PyPI's wheel depends on; nothing else).
# Usage: scripts/torch-venv.sh      env: LAPGAN_TORCH_VENV (default
#        ~/.cache/lapgan/torch-venv), TORCH_VERSION (default 2.15.0)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${LAPGAN_TORCH_VENV:-$HOME/.cache/lapgan/torch-venv}
version=${TORCH_VERSION:-2.15.0}
py=$venv/bin/python
if [ -x "$py" ] && "$py" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$version')" 2>/dev/null; then
    echo "$py"; exit 0
fi
python3 -m venv --help >/dev/null 2>&1 || scripts/deps.sh test >&2
mkdir -p "$(dirname "$venv")"
[ -x "$py" ] || python3 -m venv "$venv" >&2
"$py" -m pip install --quiet --disable-pip-version-check "torch==$version" numpy >&2
"$py" -c 'import torch' >&2
echo "$py"
