#!/usr/bin/env python3
"""Real converter output at benchmark scale: a MobileNetV2 PTQ model replicated N times.

Usage (from the repository root, with the TensorFlow venv of testdata/README.md):

    CUDA_VISIBLE_DEVICES="" /path/to/tfvenv/bin/python scripts/replicate.py [--copies 100,1000] [--out target/replicas]

`--copies` takes a number or a comma-separated list and may be repeated
(default 100 and 1000); `--out` defaults to target/replicas under the
repository root, where scripts/bench.sh and `cargo bench` look for the files.
`--no-check` skips the checks below (for a quick rewrite).

Why: tflq's synthetic benchmark models (`tflq::synth`) carry almost no
quantization data. Real converter output is heavier: per-channel weights carry
one scale and one int64 zero point per output channel, and tensor names are long
Keras paths. This script makes files with exactly that shape, at the sizes the benchmark
targets ("MobileNetV2 PTQ replicated 100 times: 6,700 ops, 17,301 tensors,
20 MB"; the 1000x about 200 MB).

What it writes, in --out:

* `mobilenetv2_ptq.tflite`, the base model (cached: reruns reuse it and only
  replicate, in seconds). tf-keras MobileNetV2 (weights=None, 224x224x3, 1000
  classes, Keras initialisers seeded with SEED), converted by
  tf.lite.TFLiteConverter with full-integer PTQ: Optimize.DEFAULT,
  TFLITE_BUILTINS_INT8 (no op may stay float) and a
  representative dataset of REP_SAMPLES seeded uniform [-1, 1) images. Inputs
  and outputs stay float (QUANTIZE first, DEQUANTIZE last), as the converter's
  default. Delete the file to rebuild it.
* `mobilenetv2_ptq_x<N>.tflite` for each N: one subgraph holding N copies of the
  base graph. Copy k (1-based) is the base subgraph with
  - every tensor renamed `replica_<k>/<name>` (each ';'-joined part of a fused
    name prefixed, so `tflq`'s layer names stay unique per copy and as long as
    a real nested Keras model's), operator operand indices offset to the copy's
    tensors;
  - weights shared: a copy's constant tensors point at the base model's buffers,
    so the file grows by the metadata only (names, shapes, per-channel scales,
    operators), which is what tflq reads;
  - zero points shared: each tensor's zero-point vector is written once and the
    N copies' tables point at it (flatbuffers allows several references to one
    vector). MobileNetV2 has 35,178 scales and as many int64 zero points; with
    all of them written per copy (--distinct-zero-points, as N separately
    converted networks would be) the 100x is 49 MB instead of the 21 MB that
    the benchmark targets. Readers still see, and tflq still decodes, one scale
    and one zero point per channel for every copy;
  - the one float graph input shared: every copy's QUANTIZE reads tensor 0, the
    base model's input. One input keeps the model runnable with one
    `set_tensor` and gives the benchmark's tensor count (173 per copy + 1);
    separate inputs would only add N-1 identical input tensors.
  The subgraph outputs are all copies' outputs (copy order); the signature
  `serving_default` keeps its input and lists every output as
  `replica_<k>/<output name>`.

Checks (unless --no-check): every file written is loaded by
tf.lite.Interpreter(model_path=...) and lists all its tensors, and, up to
--allocate-max copies (default 100), allocate_tensors() succeeds; `tflq
inspect` ($TFLQ, default target/release/tflq, when it exists) reads it and
reports the expected op and tensor counts.

Determinism: the replicas are a pure function of the base model (the Python
flatbuffers builder is deterministic), so rerunning gives the same bytes.
Whether two conversions of the base model give the same bytes depends on
TensorFlow; see docs/performance.md ("Real converter output, replicated").
"""

import argparse
import os
import re
import subprocess
import sys
import time

# Must be set before TensorFlow is imported (as in testdata/generate.py).
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import warnings  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.lite.python import schema_py_generated as schema_fb  # noqa: E402
from tensorflow.lite.tools import flatbuffer_utils  # noqa: E402

warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")

SEED = 15  # any fixed value: the same base model, and replicas, on every run
REP_SAMPLES = 8
IMG = (224, 224, 3)
BASE_NAME = "mobilenetv2_ptq.tflite"

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log(msg):
    print(msg, flush=True)


# ----------------------------------------------------------------------------
# The base model
# ----------------------------------------------------------------------------
def convert_base():
    """tf-keras MobileNetV2 with seeded random weights -> full-integer PTQ bytes."""
    tf.config.experimental.enable_op_determinism()
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    keras = tf.keras
    if not keras.__name__.startswith("tf_keras"):
        sys.exit("tf.keras is not tf-keras: install tf-keras and run with TF_USE_LEGACY_KERAS=1")
    keras.utils.set_random_seed(SEED)
    model = keras.applications.MobileNetV2(input_shape=IMG, weights=None, classes=1000)

    def representative_dataset():
        rng = np.random.default_rng(SEED)
        for _ in range(REP_SAMPLES):
            yield [rng.uniform(-1.0, 1.0, size=(1, *IMG)).astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative_dataset
    # Full integer: every op int8 (conversion fails rather than leave one in float).
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return conv.convert()


def base_model(out_dir):
    path = os.path.join(out_dir, BASE_NAME)
    if os.path.exists(path):
        log(f"base model: {path} (cached; delete it to convert again)")
    else:
        log("base model: converting tf-keras MobileNetV2 with full-integer PTQ (a minute or two)")
        t = time.perf_counter()
        data = convert_base()
        write_atomically(path, data)
        log(f"base model: wrote {path}, {len(data):,} bytes, {time.perf_counter() - t:.0f} s")
    with open(path, "rb") as f:
        return path, f.read()


# ----------------------------------------------------------------------------
# Replication (TensorFlow's flatbuffer object API: schema_py_generated *T classes)
# ----------------------------------------------------------------------------
def prefixed(name, prefix):
    """`replica_0007/` before each ';'-joined part of a converter tensor name."""
    if name is None:
        return None
    if isinstance(name, bytes):
        name = name.decode("utf-8")
    return ";".join(prefix + part for part in name.split(";"))


class SharedZeroPoints(schema_fb.QuantizationParametersT):
    """QuantizationParametersT whose zero-point vector is written once per builder
    and referenced by every copy's table (a flatbuffer may point several tables at
    one vector). Everything else, the per-channel scales included, is written per
    copy. Pack mirrors the generated QuantizationParametersT.Pack."""

    def Pack(self, builder):
        fb = schema_fb
        cached = getattr(self, "_zp", None)
        if self.zeroPoint is not None and (cached is None or cached[0] is not builder):
            self._zp = (builder, builder.CreateNumpyVector(np.asarray(self.zeroPoint, dtype=np.int64)))
        vec = {}
        for field in ("min", "max", "scale"):
            v = getattr(self, field)
            if v is not None:
                vec[field] = builder.CreateNumpyVector(np.asarray(v, dtype=np.float32))
        details = self.details.Pack(builder) if self.details is not None else None
        fb.QuantizationParametersStart(builder)
        if "min" in vec:
            fb.QuantizationParametersAddMin(builder, vec["min"])
        if "max" in vec:
            fb.QuantizationParametersAddMax(builder, vec["max"])
        if "scale" in vec:
            fb.QuantizationParametersAddScale(builder, vec["scale"])
        if self.zeroPoint is not None:
            fb.QuantizationParametersAddZeroPoint(builder, self._zp[1])
        fb.QuantizationParametersAddDetailsType(builder, self.detailsType)
        if details is not None:
            fb.QuantizationParametersAddDetails(builder, details)
        fb.QuantizationParametersAddQuantizedDimension(builder, self.quantizedDimension)
        return fb.QuantizationParametersEnd(builder)


def copy_tensor(t, name):
    """A new TensorT sharing t's shape, buffer and quantization objects (they are
    packed again for each copy, so each copy carries its own arrays in the file)."""
    n = schema_fb.TensorT()
    n.__dict__.update(t.__dict__)
    n.name = name
    return n


def replicate(base_bytes, copies, share_zero_points=True):
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(base_bytes))
    if len(model.subgraphs) != 1:
        sys.exit(f"the base model has {len(model.subgraphs)} subgraphs; expected 1")
    sg = model.subgraphs[0]
    if share_zero_points:
        for t in sg.tensors:
            if t.quantization is not None:
                t.quantization.__class__ = SharedZeroPoints
    if len(sg.inputs) != 1:
        sys.exit(f"the base model has {len(sg.inputs)} inputs; expected 1")
    shared_input = int(sg.inputs[0])
    n_tensors = len(sg.tensors)
    width = max(4, len(str(copies)))

    tensors = [sg.tensors[shared_input]]  # tensor 0: the one graph input, name unchanged
    operators = []
    outputs = []
    copies_index = []  # per copy: (prefix, base tensor index -> new index)
    for k in range(1, copies + 1):
        prefix = f"replica_{k:0{width}d}/"
        index = {}
        for i, t in enumerate(sg.tensors):
            if i == shared_input:
                index[i] = 0
                continue
            index[i] = len(tensors)
            tensors.append(copy_tensor(t, prefixed(t.name, prefix)))
        index[-1] = -1  # an omitted optional operand stays omitted

        def remap(v):
            return None if v is None else [index[int(i)] for i in v]

        for op in sg.operators:
            n = schema_fb.OperatorT()
            n.__dict__.update(op.__dict__)
            n.inputs = remap(op.inputs)
            n.outputs = remap(op.outputs)
            n.intermediates = remap(op.intermediates)
            operators.append(n)
        for o in sg.outputs:
            outputs.append(index[int(o)])
        copies_index.append((prefix, index))
    assert len(tensors) == 1 + copies * (n_tensors - 1)

    sg.tensors = tensors
    sg.operators = operators
    sg.inputs = [0]
    sg.outputs = outputs
    # The signature: same input, every copy's outputs under prefixed keys.
    for sig in model.signatureDefs or []:
        if sig.subgraphIndex != 0:
            continue
        for m in sig.inputs:
            m.tensorIndex = 0
        new_outputs = []
        for prefix, index in copies_index:
            for m in sig.outputs:
                n = schema_fb.TensorMapT()
                n.name = prefixed(m.name, prefix)
                n.tensorIndex = index[m.tensorIndex]
                new_outputs.append(n)
        sig.outputs = new_outputs

    return flatbuffer_utils.convert_object_to_bytearray(model)


# ----------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------
def counts(data):
    m = schema_fb.Model.GetRootAsModel(data, 0)
    sg = m.Subgraphs(0)
    return sg.OperatorsLength(), sg.TensorsLength()


def check(path, copies, base_ops, base_tensors, allocate_max):
    with open(path, "rb") as f:
        ops, tensors = counts(f.read())
    want = (copies * base_ops, 1 + copies * (base_tensors - 1))
    if (ops, tensors) != want:
        sys.exit(f"{path}: {ops} ops, {tensors} tensors; expected {want}")
    t = time.perf_counter()
    interp = tf.lite.Interpreter(model_path=path)
    n = len(interp.get_tensor_details())
    if n != tensors:
        sys.exit(f"{path}: the interpreter lists {n} tensors, the file has {tensors}")
    msg = f"   tf.lite.Interpreter loads it ({n:,} tensor details"
    if copies <= allocate_max:
        interp.allocate_tensors()
        msg += ", allocate_tensors() ok"
    else:
        msg += f", allocate_tensors() not tried: over --allocate-max {allocate_max}"
    log(msg + f", {time.perf_counter() - t:.1f} s)")
    del interp
    tflq = os.environ.get("TFLQ", os.path.join(ROOT, "target", "release", "tflq"))
    if not os.path.exists(tflq):
        log(f"   tflq inspect: not checked ({tflq} missing; cargo build --release)")
        return
    # The default view (its JSON lists every per-channel value: 1.8 GB for the 1000x).
    r = subprocess.run([tflq, "inspect", path], capture_output=True)
    if r.returncode != 0:
        sys.exit(f"{path}: tflq inspect failed: {r.stderr.decode(errors='replace')}")
    m = re.search(r'subgraph 0 .*"[^"]*": (\d+) ops, (\d+) tensors', r.stdout.decode())
    got = (int(m.group(1)), int(m.group(2))) if m else None
    if got != (ops, tensors):
        sys.exit(f"{path}: tflq inspect reports {got} (ops, tensors), the file has {(ops, tensors)}")
    log(f"   tflq inspect reads it: {got[0]:,} ops, {got[1]:,} tensors")


# ----------------------------------------------------------------------------
def write_atomically(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def parse_copies(values):
    out = []
    for v in values or ["100,1000"]:
        for part in v.split(","):
            n = int(part)
            if n < 1:
                raise argparse.ArgumentTypeError("--copies must be positive")
            if n not in out:
                out.append(n)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--copies", action="append", metavar="N[,N...]",
                    help="copies per replica (repeatable, comma lists; default 100,1000)")
    ap.add_argument("--out", default=os.path.join(ROOT, "target", "replicas"), metavar="DIR")
    ap.add_argument("--distinct-zero-points", action="store_true",
                    help="write every copy's zero-point vectors (as the converter would): "
                         "~2.4x the file size; files named *_distinctzp.tflite")
    ap.add_argument("--no-check", action="store_true", help="skip the interpreter and tflq checks")
    ap.add_argument("--allocate-max", type=int, default=100, metavar="N",
                    help="call allocate_tensors() on replicas of at most N copies (default 100)")
    args = ap.parse_args()
    copies = parse_copies(args.copies)
    os.makedirs(args.out, exist_ok=True)

    base_path, base = base_model(args.out)
    base_ops, base_tensors = counts(base)
    log(f"base model: {base_ops} ops, {base_tensors} tensors, {len(base):,} bytes")
    if not args.no_check:
        check(base_path, 1, base_ops, base_tensors, args.allocate_max)

    for n in copies:
        suffix = "_distinctzp" if args.distinct_zero_points else ""
        path = os.path.join(args.out, f"mobilenetv2_ptq_x{n}{suffix}.tflite")
        t = time.perf_counter()
        data = replicate(base, n, share_zero_points=not args.distinct_zero_points)
        write_atomically(path, data)
        ops, tensors = counts(data)
        log(f"x{n}: {path}: {ops:,} ops, {tensors:,} tensors, {len(data) / 1e6:.1f} MB "
            f"({len(data):,} bytes), {time.perf_counter() - t:.1f} s")
        del data
        if not args.no_check:
            check(path, n, base_ops, base_tensors, args.allocate_max)


if __name__ == "__main__":
    main()
