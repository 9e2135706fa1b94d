#!/usr/bin/env bash
# End-to-end performance of the release `tflq` binary on synthetic models:
#   - `tflq inspect` (default table view) on a ~6,700-op int8 model, against
#     `cat FILE > /dev/null` from the page cache: once with 64-byte weights
#     (the file is nearly all metadata) and once with 8 KB weights (~40 MB);
#   - peak RSS and wall time of `tflq inspect` on a ~400 MB weight-heavy float
#     model (the weights must never be read);
#   - `tflq inspect` on a ~50,000-op model;
#   - for comparison, when TFVENV names a TensorFlow venv: tf.lite.Interpreter
#     construction and a walk of every op and tensor with the `tflite` PyPI
#     package (flatc-generated Python bindings);
#   - real shapes: the 100x and 1000x replicas of a MobileNetV2 PTQ model made
#     by scripts/replicate.py (skipped with a message when they are missing):
#     cat, `tflq inspect`, `tflq inspect --format json`, `tflq compare R R`,
#     each with its median wall time and peak RSS, the TFLite interpreter
#     loading the model and listing its tensors (in process and as a whole
#     process), the ratios to cat and to the interpreter, and 1000x / 100x.
# See docs/performance.md for what the numbers mean and the figures measured.
#
# Usage: scripts/bench.sh
# Environment: REPS (default 30) repetitions of the small-model runs;
# TFVENV the Python venv with tensorflow (and, optionally, `pip install
# tflite`; the venv of testdata/README.md will do; unset, the comparisons are
# skipped); REPLICAS (default target/replicas) the directory of
# scripts/replicate.py's files; REAL_REPS (10), REAL_BIG_REPS
# (3), REAL_PY_PROCS (3) runs on the 100x, 1000x, and of the interpreter as a
# whole process; REAL_ONLY=1 runs the real-shape section alone.
# Models are written to a temporary directory that is removed on exit.
set -euo pipefail

REPS=${REPS:-30}
# `--ops` on the 50k-op model takes seconds per run; a few give a stable median.
BIG_REPS=${BIG_REPS:-5}
TFVENV=${TFVENV:-}
# The replicas of scripts/replicate.py (real converter output).
REPLICAS=${REPLICAS:-}
# Runs of each tflq command on the 100x / 1000x replica (cat gets $REPS),
# and whole-process runs of the Python interpreter load (TF import included).
REAL_REPS=${REAL_REPS:-10}
REAL_BIG_REPS=${REAL_BIG_REPS:-3}
REAL_PY_PROCS=${REAL_PY_PROCS:-3}
# REAL_ONLY=1: only the real-shape section (no synthetic models).
REAL_ONLY=${REAL_ONLY:-0}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
REPLICAS=${REPLICAS:-$root/target/replicas}

echo "== building (release)"
cargo build --release --quiet --bin tflq --example synth
tflq=$root/target/release/tflq
synth=$root/target/release/examples/synth

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tflq-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

small=$tmp/chain_6700.tflite # 2,233 blocks x 3 ops + QUANTIZE + DEQUANTIZE = 6,701 ops
# The same graph with 8 KB per weight tensor (~40 MB): the size class of real
# models with this many ops (MobileBERT-like), where weights dominate the file.
sized=$tmp/chain_6700_40mb.tflite
big=$tmp/chain_50k.tflite    # 16,667 blocks = 50,003 ops
heavy=$tmp/heavy_400mb.tflite

if ((!REAL_ONLY)); then
    echo "== writing models to $tmp"
    "$synth" chain 2233 "$small"
    "$synth" chain 16667 "$big"
    "$synth" chain 2233 "$sized" 8192
    "$synth" heavy 400 "$heavy"
fi

# Median and mean (ms) of the numbers on stdin, one per line.
stats() {
    sort -n | awk '{ v[NR] = $1; s += $1 }
        END {
            if (NR == 0) { print "n/a"; exit }
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "median %.2f ms, mean %.2f ms, min %.2f ms (n=%d)\n", m, s / NR, v[1], NR
        }'
}

# Median in ms alone, for ratios.
median_ms() {
    sort -n | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f", m }'
}

# Wall time in ms of each of N runs of a command, stdout to /dev/null.
# EPOCHREALTIME is read by bash itself, so no extra process is timed; the
# fork+exec of the command is, for cat and tflq alike.
time_runs() {
    local n=$1
    shift
    local i t0 t1
    for ((i = 0; i < n; i++)); do
        t0=$EPOCHREALTIME
        "$@" >/dev/null
        t1=$EPOCHREALTIME
        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }'
    done
}

# Is every page of the file in the page cache? Prints "yes", "no (...)" or
# "unknown" when fincore (util-linux) is missing.
cached() {
    if ! command -v fincore >/dev/null; then
        echo unknown
        return
    fi
    local res size
    # fincore --bytes prints RES (bytes resident) and SIZE.
    read -r res size < <(fincore --bytes --noheadings --output RES,SIZE "$1")
    if [[ $res -ge $size ]]; then echo "yes ($res of $size bytes)"; else echo "no ($res of $size bytes)"; fi
}

# Largest peak RSS (MiB) of N runs of `tflq inspect FILE`, from GNU time.
# It counts the mapped file pages tflq touches: reading the weights of the
# heavy model would add ~400 MB.
peak_rss_mib() {
    local n=$1 file=$2 i kb max=0
    if [[ ! -x /usr/bin/time ]]; then
        echo "n/a" # GNU time missing: apt-get install time
        return
    fi
    for ((i = 0; i < n; i++)); do
        kb=$(/usr/bin/time -v "$tflq" inspect "$file" 2>&1 >/dev/null |
            awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }')
        ((kb > max)) && max=$kb
    done
    awk -v k="$max" 'BEGIN { printf "%.1f", k / 1024 }'
}

# Peak RSS (MiB) of one run of any command, from GNU time.
peak_rss_cmd() {
    if [[ ! -x /usr/bin/time ]]; then
        echo "n/a"
        return
    fi
    /usr/bin/time -v "$@" 2>&1 >/dev/null |
        awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); printf "%.1f", $2 / 1024 }'
}

size_of() { stat -c %s "$1"; }
# A / B to one decimal, "n/a" when either is missing.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.1f", a / b }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }

summary=()
add() { summary+=("$1"); }

# `tflq inspect FILE` (default view) against `cat FILE`, both from a warm page
# cache; prints both, adds the ratio to the summary under LABEL, and leaves the
# tflq median (ms) in $tflq_med.
versus_cat() {
    local label=$1 file=$2 cat_times tflq_times cat_med ratio verdict
    # Warm the page cache for both commands, and make sure it is warm: a cold
    # cat would read from disk and make tflq look good for the wrong reason.
    cat "$file" >/dev/null
    "$tflq" inspect "$file" >/dev/null
    echo "   in page cache: $(cached "$file")"
    cat_times=$(time_runs "$REPS" cat "$file")
    tflq_times=$(time_runs "$REPS" "$tflq" inspect "$file")
    cat_med=$(median_ms <<<"$cat_times")
    tflq_med=$(median_ms <<<"$tflq_times")
    ratio=$(awk -v a="$tflq_med" -v b="$cat_med" 'BEGIN { printf "%.1f", a / b }')
    echo "   cat > /dev/null:           $(stats <<<"$cat_times")"
    echo "   tflq inspect (table):      $(stats <<<"$tflq_times")  [$("$tflq" inspect "$file" | wc -c) bytes of output]"
    verdict=$(awk -v r="$ratio" 'BEGIN { print (r <= 3) ? "met" : "NOT met" }')
    add "$label inspect (table)  ${tflq_med} ms vs cat ${cat_med} ms: ${ratio}x cat (target <= 3x: $verdict)"
}

# No venv given: no interpreter to compare with.
py=${TFVENV:+$TFVENV/bin/python}

# The synthetic sections (not indented: their here-documents must start at
# column 0).
if ((!REAL_ONLY)); then
# ---------------------------------------------------------------- 6,700 ops
echo "== 6,700-op model: $(mb "$(size_of "$small")"), $REPS runs each"
versus_cat "6,700-op" "$small"
small_med=$tflq_med
# The default view of a subgraph this large lists only its non-integer ops;
# `--ops` is one table row per op, the worst case for the table renderer.
ops_times=$(time_runs "$REPS" "$tflq" inspect --ops "$small")
echo "   tflq inspect --ops:        $(stats <<<"$ops_times")  [$("$tflq" inspect --ops "$small" | wc -c) bytes of output]"
add "6,700-op inspect --ops (every op)  $(median_ms <<<"$ops_times") ms"

# ------------------------------------------ 6,700 ops, realistic weight size
echo "== 6,700-op model with 8 KB weights: $(mb "$(size_of "$sized")"), $REPS runs each"
versus_cat "6,700-op 40 MB" "$sized"

# --------------------------------------------------------------- 50,000 ops
echo "== 50,000-op model: $(mb "$(size_of "$big")"), $REPS runs ($BIG_REPS of --ops)"
cat "$big" >/dev/null
echo "   in page cache: $(cached "$big")"
big_cat=$(time_runs "$REPS" cat "$big")
big_times=$(time_runs "$REPS" "$tflq" inspect "$big")
big_ops=$(time_runs "$BIG_REPS" "$tflq" inspect --ops "$big")
echo "   cat > /dev/null:           $(stats <<<"$big_cat")"
echo "   tflq inspect (table):      $(stats <<<"$big_times")"
echo "   tflq inspect --ops:        $(stats <<<"$big_ops")"
big_rss=$(peak_rss_mib 1 "$big")
echo "   tflq inspect peak RSS:     $big_rss MiB"
add "50,003-op inspect (table)  $(median_ms <<<"$big_times") ms (--ops $(median_ms <<<"$big_ops") ms; cat $(median_ms <<<"$big_cat") ms), peak RSS $big_rss MiB"

# ------------------------------------------------------------------ 400 MB
echo "== weight-heavy model: $(mb "$(size_of "$heavy")")"
cat "$heavy" >/dev/null
echo "   in page cache: $(cached "$heavy")"
heavy_cat=$(time_runs 5 cat "$heavy")
heavy_times=$(time_runs "$REPS" "$tflq" inspect "$heavy")
rss_mb=$(peak_rss_mib 3 "$heavy")
echo "   cat > /dev/null:           $(stats <<<"$heavy_cat")"
echo "   tflq inspect (table):      $(stats <<<"$heavy_times")"
echo "   tflq inspect peak RSS:     $rss_mb MiB"
if [[ $rss_mb == n/a ]]; then
    verdict="not measured: no /usr/bin/time"
else
    verdict=$(awk -v r="$rss_mb" 'BEGIN { print (r < 40) ? "met" : "NOT met" }')
fi
add "400 MB model inspect      $(median_ms <<<"$heavy_times") ms, peak RSS $rss_mb MiB (target < 40 MB: $verdict); cat $(median_ms <<<"$heavy_cat") ms"

# ------------------------------------------------------------ comparisons
if [[ -x $py ]]; then
    cat >"$tmp/walk.py" <<'EOF'
# Times, in-process (Python start-up and imports excluded), either the
# construction of tf.lite.Interpreter or a walk of every op and tensor with
# the `tflite` package reading what tflq's default view shows: names,
# types, shapes, quantization scales and zero points, op codes and operands.
import statistics
import sys
import time

mode, path, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])

if mode == "interpreter":
    import warnings

    warnings.filterwarnings("ignore")
    import tensorflow as tf

    def run():
        tf.lite.Interpreter(model_path=path)

else:
    import tflite

    def run():
        with open(path, "rb") as f:
            buf = f.read()
        m = tflite.Model.GetRootAsModel(buf, 0)
        codes = []
        for i in range(m.OperatorCodesLength()):
            c = m.OperatorCodes(i)
            codes.append(max(c.BuiltinCode(), c.DeprecatedBuiltinCode()))
        seen = 0
        for s in range(m.SubgraphsLength()):
            sg = m.Subgraphs(s)
            for i in range(sg.TensorsLength()):
                t = sg.Tensors(i)
                t.Name()
                t.Type()
                t.ShapeAsNumpy()
                q = t.Quantization()
                if q is not None:
                    q.ScaleAsNumpy()
                    q.ZeroPointAsNumpy()
                seen += 1
            for i in range(sg.OperatorsLength()):
                op = sg.Operators(i)
                codes[op.OpcodeIndex()]
                op.InputsAsNumpy()
                op.OutputsAsNumpy()
                seen += 1
        return seen

run()  # warm-up: first-call imports and caches
times = []
for _ in range(reps):
    t = time.perf_counter()
    run()
    times.append((time.perf_counter() - t) * 1e3)
print(f"{statistics.median(times):.2f} {statistics.mean(times):.2f} {min(times):.2f}")
EOF
    pyrun() {
        TF_CPP_MIN_LOG_LEVEL=3 TF_USE_LEGACY_KERAS=1 CUDA_VISIBLE_DEVICES='' \
            "$py" "$tmp/walk.py" "$@" 2>/dev/null
    }
    py_reps=$((REPS < 10 ? REPS : 10))
    echo "== comparisons on the 6,700-op model ($py_reps runs, in-process, imports excluded)"
    if out=$(pyrun interpreter "$small" "$py_reps"); then
        read -r med mean min <<<"$out"
        echo "   tf.lite.Interpreter(model_path=...): median $med ms, mean $mean ms, min $min ms"
        add "tf.lite.Interpreter construction (6,700 ops)  $med ms (tflq inspect: $small_med ms)"
    else
        echo "   tf.lite.Interpreter: skipped (tensorflow not importable in $TFVENV)"
        add "tf.lite.Interpreter: skipped"
    fi
    if out=$(pyrun walk "$small" "$py_reps"); then
        read -r med mean min <<<"$out"
        echo "   tflite package walk:       median $med ms, mean $mean ms, min $min ms"
        add "tflite package walk (6,700 ops)  $med ms (tflq inspect: $small_med ms)"
    else
        echo "   tflite package walk: skipped (run '$TFVENV/bin/pip install tflite')"
        add "tflite package walk: skipped (package not installed)"
    fi
else
    echo "== comparisons skipped: no Python venv at '${TFVENV:-}' (set TFVENV to one with tensorflow)"
    add "Python comparisons: skipped (no venv at '${TFVENV:-}')"
fi
fi

# ---------------------------------------- real shapes (converter output)
# MobileNetV2 full-integer PTQ, real converter output replicated 100 and
# 1000 times into one model by scripts/replicate.py (per-channel scales and
# int64 zero points, long Keras tensor names, weights shared between copies).
# Each command against `cat` of the same file, with its peak RSS, and the
# TFLite interpreter loading the model and listing its tensors.
real_section() {
    local r100=$REPLICAS/mobilenetv2_ptq_x100.tflite
    local r1000=$REPLICAS/mobilenetv2_ptq_x1000.tflite
    local missing=()
    [[ -f $r100 ]] || missing+=("$r100")
    [[ -f $r1000 ]] || missing+=("$r1000")
    if ((${#missing[@]} == 2)); then
        echo "== real shapes skipped: no replicas in $REPLICAS; make them with"
        echo "   CUDA_VISIBLE_DEVICES= ${TFVENV:-/path/to/tfvenv}/bin/python scripts/replicate.py --out $REPLICAS"
        add "real shapes (replicated MobileNetV2 PTQ): skipped, no replicas in $REPLICAS"
        return
    fi
    ((${#missing[@]} == 0)) || echo "== real shapes: missing ${missing[*]}; measuring the others"

    local have_py=0
    if [[ -x $py ]] && TF_CPP_MIN_LOG_LEVEL=3 "$py" -c 'import tensorflow' 2>/dev/null; then
        have_py=1
        cat >"$tmp/interp.py" <<'EOF'
# tf.lite.Interpreter(model_path).get_tensor_details(), timed in process
# (Python start-up and the tensorflow import excluded): median, mean, min
# in ms, and the number of tensors listed.
import statistics
import sys
import time
import warnings

warnings.filterwarnings("ignore")
import tensorflow as tf

path, reps = sys.argv[1], int(sys.argv[2])
times = []
for _ in range(reps):
    t = time.perf_counter()
    n = len(tf.lite.Interpreter(model_path=path).get_tensor_details())
    times.append((time.perf_counter() - t) * 1e3)
print(f"{statistics.median(times):.2f} {statistics.mean(times):.2f} {min(times):.2f} {n}")
EOF
    else
        echo "== real shapes: TFLite interpreter skipped (no tensorflow in $TFVENV)"
    fi
    local pyenv=(env TF_CPP_MIN_LOG_LEVEL=3 CUDA_VISIBLE_DEVICES=)

    # Results by "<replica> <command>": median ms and peak RSS MiB.
    declare -gA real_ms=() real_rss=()
    local tag file reps label
    for tag in x100 x1000; do
        file=$REPLICAS/mobilenetv2_ptq_$tag.tflite
        [[ -f $file ]] || continue
        if [[ $tag == x100 ]]; then reps=$REAL_REPS; else reps=$REAL_BIG_REPS; fi
        echo "== real shapes, MobileNetV2 PTQ $tag: $(mb "$(size_of "$file")"), $reps runs each (cat: $REPS)"
        cat "$file" >/dev/null
        "$tflq" inspect "$file" >/dev/null
        echo "   in page cache: $(cached "$file")"
        local -a names=(cat inspect json compare)
        local -A cmds=(
            [cat]="cat $file"
            [inspect]="$tflq inspect $file"
            [json]="$tflq inspect --format json $file"
            [compare]="$tflq compare $file $file"
        )
        local -A titles=(
            [cat]="cat > /dev/null"
            [inspect]="tflq inspect (table)"
            [json]="tflq inspect --format json"
            [compare]="tflq compare R R"
        )
        local name times n
        for name in "${names[@]}"; do
            # shellcheck disable=SC2206 # the paths have no spaces: word splitting is wanted
            local -a cmd=(${cmds[$name]})
            if [[ $name == cat ]]; then n=$REPS; else n=$reps; fi
            times=$(time_runs "$n" "${cmd[@]}")
            real_ms[$tag $name]=$(median_ms <<<"$times")
            real_rss[$tag $name]=$(peak_rss_cmd "${cmd[@]}")
            printf '   %-28s %s  peak RSS %s MiB\n' "${titles[$name]}:" "$(stats <<<"$times")" "${real_rss[$tag $name]}"
        done
        if ((have_py)); then
            local out med mean min count py_reps=$reps
            if out=$("${pyenv[@]}" "$py" "$tmp/interp.py" "$file" "$py_reps" 2>/dev/null); then
                read -r med mean min count <<<"$out"
                real_ms[$tag interp]=$med
                printf '   %-28s median %.2f ms, mean %.2f ms, min %.2f ms (n=%d), %d tensors listed\n' \
                    "Interpreter + tensor list:" "$med" "$mean" "$min" "$py_reps" "$count"
            else
                echo "   Interpreter + tensor list: failed"
            fi
            local script="import tensorflow as tf; tf.lite.Interpreter(model_path='$file').get_tensor_details()"
            # TensorFlow's start-up chatter goes to stderr: drop it.
            times=$(time_runs "$REAL_PY_PROCS" "${pyenv[@]}" "$py" -c "$script" 2>/dev/null)
            real_ms[$tag interp_proc]=$(median_ms <<<"$times")
            real_rss[$tag interp_proc]=$(peak_rss_cmd "${pyenv[@]}" "$py" -c "$script")
            printf '   %-28s %s  peak RSS %s MiB\n' "  the same, whole process:" "$(stats <<<"$times")" "${real_rss[$tag interp_proc]}"
        fi
        label="real $tag"
        add "$label ($(mb "$(size_of "$file")")): cat ${real_ms[$tag cat]} ms; inspect ${real_ms[$tag inspect]} ms ($(ratio "${real_ms[$tag inspect]}" "${real_ms[$tag cat]}")x cat, RSS ${real_rss[$tag inspect]} MiB); json ${real_ms[$tag json]} ms (RSS ${real_rss[$tag json]} MiB); compare R R ${real_ms[$tag compare]} ms (RSS ${real_rss[$tag compare]} MiB)"
        if [[ -n ${real_ms[$tag interp]:-} ]]; then
            add "$label interpreter + tensor list ${real_ms[$tag interp]} ms in process (${real_ms[$tag interp_proc]} ms whole process, RSS ${real_rss[$tag interp_proc]} MiB): $(ratio "${real_ms[$tag interp]}" "${real_ms[$tag inspect]}")x tflq inspect"
        fi
    done
    if [[ -f $r100 && -f $r1000 ]]; then
        local line="real 1000x / 100x (10x the ops; linear <= 13x):" name
        for name in cat inspect json compare interp; do
            [[ -n ${real_ms[x100 $name]:-} && -n ${real_ms[x1000 $name]:-} ]] || continue
            line+=" $name $(ratio "${real_ms[x1000 $name]}" "${real_ms[x100 $name]}")x"
        done
        echo "   $line"
        add "$line"
    fi
    # The targets for real converter output, one verdict each (benchmark
    # figures, not tests; 400 MB of RSS is 381 MiB).
    verdict() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { if (v == "" || v == "n/a") print "not measured"; else if ((op == "<=" && v + 0 <= t + 0) || (op == ">=" && v + 0 >= t + 0)) print "met"; else print "NOT met" }'; }
    local r
    if [[ -f $r100 ]]; then
        r=$(ratio "${real_ms[x100 inspect]}" "${real_ms[x100 cat]}")
        add "target: x100 inspect <= 3x cat: ${r}x, $(verdict "$r" "<=" 3)"
        r=$(ratio "${real_ms[x100 interp]:-}" "${real_ms[x100 inspect]}")
        add "target: x100 inspect >= 20x faster than the interpreter load: ${r}x, $(verdict "$r" ">=" 20)"
    fi
    if [[ -f $r1000 ]]; then
        add "target: x1000 compare < 1000 ms: ${real_ms[x1000 compare]} ms, $(verdict "${real_ms[x1000 compare]}" "<=" 1000); peak RSS < 400 MB: ${real_rss[x1000 compare]} MiB, $(verdict "${real_rss[x1000 compare]}" "<=" 381)"
        add "target: x1000 inspect --format json < 1000 ms: ${real_ms[x1000 json]} ms, $(verdict "${real_ms[x1000 json]}" "<=" 1000)"
    fi
    if [[ -f $r100 && -f $r1000 ]]; then
        for r in inspect json compare; do
            local g
            g=$(ratio "${real_ms[x1000 $r]}" "${real_ms[x100 $r]}")
            add "target: $r x1000 / x100 <= 13x: ${g}x, $(verdict "$g" "<=" 13)"
        done
    fi
}
real_section

echo
echo "================ summary ($(date -u +%Y-%m-%d), $(nproc) cores) ================"
printf '%s\n' "${summary[@]}"
