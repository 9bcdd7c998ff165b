#!/usr/bin/env bash
# Safetensors interop with Python's reference package: our writer's file is
# loaded by safetensors.numpy and theirs by our reader (the cases live in
# test_safetensors' test_python_interop). $1: the lapgan binary; its build
# dir holds the test program. Without the package (and no way to pip-install
# it into a venv under the build dir) this prints SKIP, not FAIL.
set -u
cd "$(dirname "$0")/../.."
build=$(dirname "$1")
prog="$build/tests/test_safetensors"
name=safetensors_interop
if [ ! -x "$prog" ]; then echo "FAIL $name: $prog not built"; exit 1; fi
has_st() { "$1" -c 'import safetensors.numpy' >/dev/null 2>&1; }
py=/usr/bin/python3
if ! has_st "$py"; then
  venv="$build/pyenv"
  if [ ! -x "$venv/bin/python" ]; then
    timeout 120 /usr/bin/python3 -m venv --system-site-packages "$venv" >/dev/null 2>&1
  fi
  if [ -x "$venv/bin/python" ] && ! has_st "$venv/bin/python"; then
    timeout 300 "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      safetensors >/dev/null 2>&1
  fi
  py="$venv/bin/python"
fi
if ! has_st "$py"; then
  echo "SKIP $name: Python package safetensors not importable and not installable"
  exit 0
fi
out=$(LG_ST_PYTHON="$py" "$prog" 2>&1)
if grep -q '^PASS test_python_interop$' <<<"$out"; then
  echo "PASS $name"
else
  grep -v '^\(PASS\|SKIP\|#\)' <<<"$out" | tail -20
  echo "FAIL $name"
  exit 1
fi
