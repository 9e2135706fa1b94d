#!/usr/bin/env bash
# Renders `tflq graph --format html` pages to PNG with headless Chromium, the
# way a person would see them:
#
#   float-island.png     testdata/qat_partial.tflite, its float island selected
#   pair.png             testdata/ptq_int8.tflite beside qat_partial.tflite,
#                        the island (with compare's add-quantizer) selected
#   mobilenet.png        a partially quantized MobileNetV2 (212 ops, 30 float
#                        islands) as it opens: islands outlined, the minimap
#                        with a mark per island, the findings grouped
#   mobilenet-pair.png   its PTQ and QAT conversions side by side, island 4
#                        selected (two runs of ops, two outlines)
#
#   scripts/render_png.sh [OUTDIR]     # default: target/graph-png
#
# The MobileNetV2 pages need the models scripts/mobilenet_pair.py writes, in
# $MOBILENET (default target/mobilenet-pair); without them only the fixtures
# are drawn. docs/graph-mobilenet.png and docs/graph-mobilenet-pair.png are
# the last two pictures, committed.
#
# Needs Chromium (Debian: apt-get install -y chromium) and builds tflq in
# release mode unless TFLQ names a binary.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/graph-png}
mkdir -p "$out"
out=$(cd "$out" && pwd)
mobilenet=${MOBILENET:-target/mobilenet-pair}

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

# render NAME ANCHOR WIDTHxHEIGHT MODEL [MODEL]: NAME.html, then NAME.png
# opened at ANCHOR (`#f3` selects finding 3; empty: as the page opens).
render() {
    local name=$1 anchor=$2 size=$3 profile
    shift 3
    "$tflq" graph "$@" --format html -o "$out/$name.html"
    profile=$(mktemp -d)
    # --no-sandbox: Chromium refuses to run as root otherwise (CI, containers).
    # The rest keeps it from reaching the network or updating itself.
    "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --disable-background-networking --disable-component-update \
        --disable-sync --no-first-run --user-data-dir="$profile" \
        --force-device-scale-factor=1 --window-size="${size/x/,}" \
        --screenshot="$out/$name.png" "file://$out/$name.html$anchor" 2>/dev/null
    rm -rf "$profile"
    echo "$out/$name.png"
}

render float-island "#f1" 1200x760 testdata/qat_partial.tflite
render pair "#f1" 1600x900 testdata/ptq_int8.tflite testdata/qat_partial.tflite
if [ -f "$mobilenet/mobilenetv2_qat.tflite" ] && [ -f "$mobilenet/mobilenetv2_ptq.tflite" ]; then
    render mobilenet "" 1400x900 "$mobilenet/mobilenetv2_qat.tflite"
    render mobilenet-pair "#f4" 1600x900 \
        "$mobilenet/mobilenetv2_ptq.tflite" "$mobilenet/mobilenetv2_qat.tflite"
else
    echo "note: no MobileNetV2 pair in $mobilenet (scripts/mobilenet_pair.py writes it)" >&2
fi
