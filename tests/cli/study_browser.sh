#!/usr/bin/env bash
# A real browser runs the study: Debian's chromium + chromium-driver, driven
# by selenium (from PyPI, into a venv in the build dir), completes 20 trials
# by clicks and keys; the database must hold exactly those 20 judgements
# (tests/study/browser.py). Screenshots of the page and of the report go to
# BUILD/study-shots/. Prints SKIP when the browser or selenium is missing.
# Usage: study_browser.sh LAPGAN
set -u
bin=${1:?usage: study_browser.sh LAPGAN}
here=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$(dirname "$bin")" && pwd)
tmp=$(mktemp -d /tmp/lapgan-study-browser.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if [ ! -d /usr/share/datasets/fashion-mnist ]; then echo "SKIP study_browser: no Fashion-MNIST"; exit 0; fi
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  echo "SKIP study_browser: chromium and chromium-driver are not installed (scripts/deps.sh test)"; exit 0
fi
venv="$build/pyenv-study"  # its own: safetensors_interop.sh has build/pyenv
if ! "$venv/bin/python" -c "import selenium" 2>/dev/null; then
  # Up to three tries: a registry hiccup should not turn the test into a skip.
  pip_ok() { /usr/bin/python3 -m venv "$venv" && for t in 1 2 3; do
    "$venv/bin/pip" install -q selenium && return 0; sleep 5; done; return 1; }
  if ! pip_ok >"$tmp/pip.log" 2>&1; then
    echo "SKIP study_browser: cannot install selenium: $(tail -1 "$tmp/pip.log")"; exit 0
  fi
fi
if ! { "$bin" train --preset tiny --steps 5 --out "$tmp/tiny" --quiet &&
       "$bin" train --preset tiny --steps 5 --class-conditional --out "$tmp/cc" --quiet; } >/dev/null 2>"$tmp/err"; then
  echo "FAIL study_browser_train: $(cat "$tmp/err")"; exit 1
fi
"$venv/bin/python" "$here/tests/study/browser.py" "$bin" "$tmp" "$tmp/tiny" "$tmp/cc" "$build/study-shots"
