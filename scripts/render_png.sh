#!/usr/bin/env bash
# Renders `tflq graph --format html` of committed fixtures to PNG with headless
# Chromium, the way a person would see the page: a QAT model's float island
# (testdata/qat_partial.tflite, finding 3 selected) and a PTQ/QAT pair side by
# side (the add-quantizer finding selected).
#
#   scripts/render_png.sh [OUTDIR]     # default: target/graph-png
#
# Needs Chromium (Debian: apt-get install -y chromium) and builds tflq in
# release mode unless TFLQ names a binary. docs/graph-float-island.png is the
# first picture, committed.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/graph-png}
mkdir -p "$out"
out=$(cd "$out" && pwd)

chromium=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$chromium" ]; then
    echo "error: Chromium not found: apt-get install -y chromium" >&2
    exit 2
fi
tflq=${TFLQ:-}
if [ -z "$tflq" ]; then
    cargo build --release --quiet --bin tflq
    tflq="${CARGO_TARGET_DIR:-$PWD/target}/release/tflq"
fi

# render NAME FINDING WIDTHxHEIGHT MODEL [MODEL]: NAME.html, then NAME.png
# with finding FINDING selected (the page's #fN anchor).
render() {
    local name=$1 finding=$2 size=$3
    shift 3
    "$tflq" graph "$@" --format html -o "$out/$name.html"
    # --no-sandbox: Chromium refuses to run as root otherwise (CI, containers).
    "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --force-device-scale-factor=1 --window-size="${size/x/,}" \
        --screenshot="$out/$name.png" "file://$out/$name.html#f$finding" 2>/dev/null
    echo "$out/$name.png"
}

render float-island 3 1200x760 testdata/qat_partial.tflite
render pair 1 1600x900 testdata/ptq_int8.tflite testdata/qat_partial.tflite
