#!/usr/bin/env bash
# A real browser renders `lapgan report`: Debian's headless chromium parses
# the page (its DOM must hold the inline SVG charts and the inlined PNGs, as
# loaded images) and screenshots it to BUILD/report-shots/report.png, which
# must be a PNG of the window's size with more than blank content. Prints
# SKIP when chromium or Fashion-MNIST is missing.
# Usage: report_browser.sh LAPGAN
set -u
. "$(dirname "$0")/lib.sh"
fm=/usr/share/datasets/fashion-mnist
chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then skip_all report_browser "chromium is not installed (scripts/deps.sh test)"; fi
if [ ! -f "$fm/train-images-idx3-ubyte.gz" ]; then skip_all report_browser "no Fashion-MNIST (scripts/deps.sh installs dataset-fashion-mnist)"; fi
shots=$(cd "$(dirname "$bin")" && pwd)/report-shots
mkdir -p "$shots"
t=$tmp run=$t/run
# 300 training images as IDX, so the sanitizer build stays quick.
{ printf '\x00\x00\x08\x03\x00\x00\x01\x2c\x00\x00\x00\x1c\x00\x00\x00\x1c'
  zcat "$fm/train-images-idx3-ubyte.gz" | tail -c +17 | head -c $((300 * 784)); } >"$t/a.img"
data="idx:$t/a.img"
if ! { "$bin" train --preset tiny --data "$data" --steps 10 --log-every 1 --threads 2 --out "$run" --quiet &&
       "$bin" sample --model "$run" -n 30 --chain "$run/chain.png" &&
       "$bin" eval parzen --model "$run" --data "$data" --test-data "$data" --samples 200 --valid 50 --test 100 --threads 2 &&
       "$bin" eval nn --model "$run" --data "$data" -n 4 -k 3 --threads 2 &&
       "$bin" report "$run" -o "$t/report.html"; } >"$t/setup.log" 2>&1; then
  echo "FAIL report_browser_setup: $(tail -3 "$t/setup.log")"; exit 1
fi

# A private profile and no sandbox: tests may run as root, and must not touch ~/.config.
browse() { timeout 60 "$chromium" --headless --no-sandbox --disable-gpu --user-data-dir="$t/profile" "$@" 2>"$t/chromium.err"; }

# The DOM as the browser built it: charts, polylines and images with a decoded size.
browse --dump-dom --run-all-compositor-stages-before-draw --virtual-time-budget=5000 \
  "file://$t/report.html" >"$t/dom.html"
svgs=$(grep -o '<svg' "$t/dom.html" | wc -l)
imgs=$(grep -o '<img [^>]*src="data:image/png;base64,' "$t/dom.html" | wc -l)
if [ "$svgs" -eq 6 ] && [ "$imgs" -ge 4 ] && grep -q '</body>' "$t/dom.html"; then pass report_browser_dom
else fail report_browser_dom "$svgs svg, $imgs img in chromium's DOM: $(head -c 200 "$t/chromium.err")"; fi

rm -f "$shots/report.png"
(cd "$t" && browse --screenshot="$shots/report.png" --window-size=1200,2000 --hide-scrollbars \
  "file://$t/report.html" >/dev/null)
dims=$(file "$shots/report.png" 2>/dev/null | sed -n 's/.*PNG image data, \([0-9]*\) x \([0-9]*\).*/\1 \2/p')
size=$(stat -c %s "$shots/report.png" 2>/dev/null || echo 0)
# A blank 1200x2000 page compresses to a few kB; text, charts and sample grids do not.
if [ "$dims" = "1200 2000" ] && [ "$size" -gt 60000 ]; then pass report_browser_screenshot
else fail report_browser_screenshot "'$dims', $size bytes: $(head -c 200 "$t/chromium.err")"; fi
finish
