#!/usr/bin/env bash
# A real browser runs the study: Debian's chromium + chromium-driver, driven
# by selenium (from PyPI, into a venv in the build dir), completes 20 trials
# by clicks and keys; the database must hold exactly those 20 judgements
# (tests/study/browser.py). Screenshots of the page and of the report go to
# BUILD/study-shots/. Without the browser or selenium it skips, a FAIL under
# CI=true (scripts/deps.sh test installs the browser; pip, selenium).
# Usage: study_browser.sh LAPGAN
set -u
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$(dirname "$bin")" && pwd)
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  skip_all study_browser "no Fashion-MNIST (scripts/deps.sh installs dataset-fashion-mnist)"
fi
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  skip_all study_browser "chromium and chromium-driver are not installed (scripts/deps.sh test)"
fi
venv="$build/pyenv-study"  # its own: safetensors_interop.sh has build/pyenv
if ! "$venv/bin/python" -c "import selenium" 2>/dev/null; then
  # Up to three tries: a registry hiccup should not fail the suite.
  pip_ok() { /usr/bin/python3 -m venv "$venv" && for t in 1 2 3; do
    "$venv/bin/pip" install -q selenium && return 0; sleep 5; done; return 1; }
  if ! pip_ok >"$tmp/pip.log" 2>&1; then
    skip_all study_browser "cannot install selenium from PyPI: $(tail -1 "$tmp/pip.log")"
  fi
fi
if ! { "$bin" train --preset tiny --steps 5 --out "$tmp/tiny" --quiet &&
       "$bin" train --preset tiny --steps 5 --class-conditional --out "$tmp/cc" --quiet; } >/dev/null 2>"$tmp/err"; then
  fail study_browser_train "$(cat "$tmp/err")"; finish; exit
fi
"$venv/bin/python" "$here/tests/study/browser.py" "$bin" "$tmp" "$tmp/tiny" "$tmp/cc" "$build/study-shots"
