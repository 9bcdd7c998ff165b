#!/usr/bin/env bash
# Safetensors interop with Python's reference package: our writer's file is
# loaded by safetensors.numpy and theirs by our reader (the cases live in
# test_safetensors' test_python_interop, which runs only when this script
# names the Python in LG_ST_PYTHON). $1: the lapgan binary; its build dir
# holds the test program. The package comes from PyPI into a venv under the
# build dir, made with --system-site-packages so that it uses Debian's
# python3-numpy (scripts/deps.sh test). When that cannot be set up this is a
# skip, and a FAIL under CI=true (tests/cli/lib.sh).
set -u
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.."
build=$(dirname "$bin")
prog="$build/tests/test_safetensors"
name=safetensors_interop
if [ ! -x "$prog" ]; then fail "$name" "$prog not built"; finish; exit; fi
has_st() { "$1" -c 'import safetensors.numpy, numpy' >/dev/null 2>&1; }
py=/usr/bin/python3
if ! has_st "$py"; then
  venv="$build/pyenv"
  if [ ! -x "$venv/bin/python" ]; then
    timeout 120 /usr/bin/python3 -m venv --system-site-packages "$venv" >"$tmp/venv.log" 2>&1
  fi
  if [ -x "$venv/bin/python" ] && ! has_st "$venv/bin/python"; then
    # Up to three tries: a registry hiccup should not fail the suite.
    for t in 1 2 3; do
      timeout 300 "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        safetensors >"$tmp/pip.log" 2>&1 && break
      sleep 5
    done
  fi
  py="$venv/bin/python"
fi
if ! has_st "$py"; then
  why=$("$py" -c 'import safetensors.numpy, numpy' 2>&1 | tail -1)
  skip_all "$name" "$py cannot import safetensors.numpy (${why:-no venv}; pip: $(tail -1 "$tmp/pip.log" 2>/dev/null))"
fi
out=$(LG_ST_PYTHON="$py" "$prog" 2>&1)
if grep -q '^PASS test_python_interop$' <<<"$out"; then
  pass "$name"
else
  grep -v '^\(PASS\|SKIP\|#\)' <<<"$out" | tail -20
  fail "$name" "$(grep 'test_python_interop' <<<"$out" | head -3)"
fi
finish
