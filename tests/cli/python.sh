#!/usr/bin/env bash
# The Python package (python/) against this build: installed into a venv
# (Debian's python with its numpy, torch and pytest; onnxruntime, cffi and
# setuptools from PyPI), then tests/python/ by pytest, one PASS/FAIL line
# per test. Also a fresh, empty venv: `pip install` of the package and
# `import lapgan` printing the library's version. Under CI=true an install
# that fails is a FAIL (the set-up must make it possible), not a SKIP.
here=$(cd "$(dirname "$0")/../.." && pwd)
source "$here/tests/cli/lib.sh"
build=$(cd "$(dirname "$bin")" && pwd)
bin="$build/$(basename "$bin")"
ver=$("$bin" --version | awk '{print $2}')
venv="$build/pyenv-lapgan"
py=/usr/bin/python3
[ -x "$py" ] || skip_all python "no $py (scripts/deps.sh test installs python3)"

# A copy of python/, so pip's build files stay out of the tree and two
# builds never share them; LAPGAN_ROOT points it back at include/.
mkdir -p "$tmp/src" && cp -r "$here/python" "$tmp/src/python"
export LAPGAN_ROOT="$here" LAPGAN_BUILD_DIR="$build"
retry() { for t in 1 2 3; do "$@" && return 0; sleep 5; done; return 1; }

# A sanitizer build's library needs its runtimes loaded before Python.
san_env=()
if nm -D "$build/liblapgan.so" 2>/dev/null | grep -q __asan_init; then
  san_env=(LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
           ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0)
fi

install_venv() {
  { [ -x "$venv/bin/python" ] || "$py" -m venv --system-site-packages "$venv"; } &&
    { "$venv/bin/python" -c "import onnxruntime" 2>/dev/null ||
      retry "$venv/bin/pip" install -q onnxruntime; } &&
    retry "$venv/bin/pip" install -q --force-reinstall --no-deps "$tmp/src/python" &&
    { "$venv/bin/python" -c "import cffi" 2>/dev/null || retry "$venv/bin/pip" install -q cffi; }
}
if install_venv > "$tmp/pip.log" 2>&1; then pass python_install
else skip_all python_install "pip install failed: $(tail -2 "$tmp/pip.log" | tr '\n' ' ')"; fi

# Debian's numpy, which conftest imports first, loads the same OpenBLAS
# before lapgan can name its kernels (the package then warns): hand pytest
# the kernels the CLI runs, so the bit-for-bit comparisons with CLI runs
# compare like with like (test_blas_kernels_are_the_clis checks the
# package's own choice in a fresh interpreter).
blas_env=()
if [ -z "${OPENBLAS_CORETYPE+x}" ]; then
  core=$("$bin" selfcheck 2>/dev/null | sed -nE 's/.*; OpenBLAS ([A-Za-z0-9]+);.*/\1/p')
  [ -n "$core" ] && blas_env=(OPENBLAS_CORETYPE="$core")
fi

# pytest: its verdict per test becomes our PASS/FAIL line. COLUMNS keeps -v
# from cutting a skip reason short of its "(cannot exist here)" tag.
(cd "$here/tests/python" && env "${san_env[@]}" "${blas_env[@]}" LAPGAN_BIN="$bin" COLUMNS=1000 timeout 1800 \
   "$venv/bin/python" -m pytest -v -p no:cacheprovider -o console_output_style=classic . \
   > "$tmp/pytest.log" 2>&1); rc=$?
while read -r line; do
  name=$(echo "$line" | sed -E 's/^([^ ]*::[^ ]*) .*/\1/')
  case "$line" in
    *" PASSED"*) pass "py:$name" ;;
    *" FAILED"*|*" ERROR"*) fail "py:$name" ;;
    *" SKIPPED"*"$absent_tag"*) skip_absent "py:$name" "pytest skipped it: ${line%"$absent_tag"*}" ;;
    *" SKIPPED"*) skip_or_fail "py:$name" "pytest skipped it: $line" ;;
  esac
done < <(grep -E '::[^ ]+ (PASSED|FAILED|ERROR|SKIPPED)' "$tmp/pytest.log")
case $rc in
  0) pass pytest ;;
  5) fail pytest "pytest collected no tests" ;;
  *) fail pytest "exit $rc: $(grep -E '^(FAILED|ERROR|E ) ' "$tmp/pytest.log" | head -5 | tr '\n' ' ')" ;;
esac

# A fresh venv with nothing in it: the install alone brings what it needs.
fresh="$tmp/fresh"
if "$py" -m venv "$fresh" > "$tmp/fresh.log" 2>&1 &&
   retry "$fresh/bin/pip" install -q "$tmp/src/python" >> "$tmp/fresh.log" 2>&1; then
  pass fresh_venv_install
  got=$(cd "$tmp" && env "${san_env[@]}" "$fresh/bin/python" -c "import lapgan; print(lapgan.__version__)" 2>&1)
  [ "$got" = "$ver" ] && pass fresh_venv_version || fail fresh_venv_version "printed '$got', want $ver"
else
  skip_or_fail fresh_venv_install "pip install into an empty venv failed: $(tail -2 "$tmp/fresh.log" | tr '\n' ' ')"
fi
finish
