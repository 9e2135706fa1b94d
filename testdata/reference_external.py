#!/usr/bin/env python3
"""Write TensorFlow's reference reading for the fixtures made by other producers.

The .tflite files of litert-torch, MediaPipe and onnx2tf are made in their own
environments (generate_torch.py, extract_mediapipe.py, generate_onnx2tf.py),
which have no TensorFlow or another version of it.  This script, run in the
TensorFlow venv of requirements.txt, reads each of them with TensorFlow's own
flatbuffer reader (tflite_reference.reference_reading, the same code
generate.py uses) and writes `<name>.ref.json` next to it.

Usage (from the repository root):

    CUDA_VISIBLE_DEVICES="" /path/to/tfvenv/bin/python testdata/reference_external.py [DIR]

DIR defaults to testdata/.  Checks (exits non-zero if one fails):
1. each file is loaded with tf.lite.Interpreter and allocated (for those the
   TF 2.21 interpreter can allocate; the others must fail the way recorded in
   EXPECTED_ALLOCATE_ERROR, so a change is noticed);
2. fixture-specific properties (check_properties below);
3. the reference reading is cross-checked against flatbuffer_utils and the
   interpreter (tflite_reference.cross_check_reference);
4. numerics: torch_float and onnx2tf_float32 are the same trained network
   through two producers: both are run on the same image and must agree.
"""

import os
import sys

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tflite_reference import (  # noqa: E402
    cross_check_reference, op_summary, reference_reading, structure, write_reference)

# fixture -> producer, in the order of testdata/README.md
FIXTURES = {
    "torch_float": "litert-torch",
    "torch_ptq": "litert-torch",
    "torch_qat": "litert-torch",
    "mediapipe_hand_recrop": "mediapipe",
    "mediapipe_face_detection_short_range": "mediapipe",
    "mediapipe_face_landmark": "mediapipe",
    "mediapipe_face_detection_full_range_sparse": "mediapipe",
    "onnx2tf_float32": "onnx2tf",
    "onnx2tf_float16": "onnx2tf",
    "onnx2tf_int8": "onnx2tf",
    "onnx2tf_tfconv_int8": "onnx2tf",
}

# Fixtures the TF 2.21 interpreter loads but cannot allocate, with a piece of
# the error it gives.  Filled from observation; see testdata/README.md.
EXPECTED_ALLOCATE_ERROR = {
    # float16 compute graph: the builtin CONV_2D kernel has no float16 path
    "onnx2tf_float16": "Node number 1 (CONV_2D) failed to prepare",
}


def _dq_chain_ok(sg, producer_op, consumer_op):
    """Every output of a `producer_op` op is consumed by a `consumer_op` op."""
    ops = sg["operators"]
    consumers = {}
    for o in ops:
        for i in o["inputs"]:
            consumers.setdefault(i, []).append(o["opcode"])
    outs = [o["outputs"][0] for o in ops if o["opcode"] == producer_op]
    return bool(outs) and all(consumers.get(t) == [consumer_op] for t in outs)


def check_properties(name, ref):
    sg = ref["subgraphs"][0]
    T = sg["tensors"]
    ops = [o["opcode"] for o in sg["operators"]]
    quantized = [t for t in T if t["quantization"]]

    def out_dt(o):
        return T[o["outputs"][0]]["dtype"]

    def island(sg):
        """A DEQUANTIZE ... float compute ... QUANTIZE run in file order."""
        seen_dq = False
        float_ops = 0
        for o in sg["operators"]:
            if o["opcode"] == "DEQUANTIZE":
                seen_dq, float_ops = True, 0
            elif o["opcode"] == "QUANTIZE" and seen_dq and float_ops:
                return True
            elif seen_dq and out_dt(o) == "FLOAT32":
                float_ops += 1
        return False

    if name == "torch_float":
        assert not quantized and "QUANTIZE" not in ops and "DEQUANTIZE" not in ops
        assert "CONVERSION_METADATA" not in ref["metadata"], ref["metadata"]
        assert any("torch.nn.modules.conv.Conv2d_conv" in t["name"] for t in T)
    elif name in ("torch_ptq", "torch_qat"):
        # int8 model input and output (no QUANTIZE at the start), int8 convs,
        # and a float island around the LayerNorm (the PT2E quantizer does not
        # annotate layer_norm).
        assert T[sg["inputs"][0]]["dtype"] == "INT8" and T[sg["outputs"][0]]["dtype"] == "INT8"
        assert ops[0] != "QUANTIZE" and ops[-1] != "DEQUANTIZE"
        convs = [o for o in sg["operators"] if o["opcode"] == "CONV_2D"]
        assert convs and all(out_dt(o) == "INT8" for o in convs)
        assert all(len(T[o["inputs"][1]]["quantization"]["scale"]) > 1 for o in convs), "conv weights not per-channel"
        assert island(sg), "no DEQUANTIZE ... float ... QUANTIZE island"
    elif name == "mediapipe_hand_recrop":
        assert not quantized and {t["dtype"] for t in T} <= {"FLOAT32", "INT32"}
        assert "PRELU" in ops and ref["metadata"] == []
    elif name == "mediapipe_face_detection_short_range":
        assert not quantized and any(t["dtype"] == "FLOAT16" for t in T)
        assert _dq_chain_ok(sg, "DEQUANTIZE", "CONV_2D") or "DEQUANTIZE" in ops
        assert "CONVERSION_METADATA" not in ref["metadata"] and "DENSIFY" not in ops
    elif name == "mediapipe_face_landmark":
        assert not quantized and any(t["dtype"] == "FLOAT16" for t in T)
        assert "PRELU" in ops and "CONVERSION_METADATA" not in ref["metadata"]
    elif name == "mediapipe_face_detection_full_range_sparse":
        # sparse FLOAT16 weights: DENSIFY (FLOAT16 -> FLOAT16) -> DEQUANTIZE (-> FLOAT32)
        assert "DENSIFY" in ops and _dq_chain_ok(sg, "DENSIFY", "DEQUANTIZE")
        assert all(T[o["inputs"][0]]["dtype"] == "FLOAT16" for o in sg["operators"] if o["opcode"] == "DENSIFY")
        assert not quantized
    elif name == "onnx2tf_float32":
        assert ref["description"] == "onnx2tf flatbuffer_direct" and not quantized
        assert all(t["dtype"] in ("FLOAT32", "INT32") for t in T)
    elif name == "onnx2tf_float16":
        # a float16 COMPUTE graph: float16 input/output and activations, no DEQUANTIZE
        assert T[sg["inputs"][0]]["dtype"] == "FLOAT16" and "DEQUANTIZE" not in ops
        assert all(out_dt(o) == "FLOAT16" for o in sg["operators"]), op_summary(ref)
    elif name == "onnx2tf_int8":
        assert ref["description"] == "onnx2tf flatbuffer_direct (strict_integer_quantized)"
        assert ops[0] == "QUANTIZE" and ops[-1] == "DEQUANTIZE"
        assert all(out_dt(o) == "INT8" for o in sg["operators"][1:-1])
        # onnx2tf writes version 1 for int8 kernels (the TF converter writes 3 for CONV_2D)
        assert all(o["version"] == 1 for o in sg["operators"])
    elif name == "onnx2tf_tfconv_int8":
        assert "CONVERSION_METADATA" in ref["metadata"]
        assert ops[0] == "QUANTIZE" and ops[-1] == "DEQUANTIZE"
        assert all(out_dt(o) == "INT8" for o in sg["operators"][1:-1])


def run_one(interp, x):
    interp.allocate_tensors()
    d = interp.get_input_details()[0]
    interp.set_tensor(d["index"], x.astype(d["dtype"]))
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"])


def check_same_network(d):
    """torch_float (NCHW input) and onnx2tf_float32 (NHWC) are one trained TinyNet."""
    x = np.random.default_rng(5).random((1, 3, 32, 32), dtype=np.float32)
    a = run_one(tf.lite.Interpreter(model_path=os.path.join(d, "torch_float.tflite")), x)
    b = run_one(tf.lite.Interpreter(model_path=os.path.join(d, "onnx2tf_float32.tflite")),
                np.transpose(x, (0, 2, 3, 1)))
    assert np.allclose(a, b, atol=1e-4), (a, b)
    return float(np.abs(a - b).max())


def main():
    d = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
    print(f"TensorFlow {tf.__version__}; reading {d}")
    failures = []
    refs = {}
    for name, producer in FIXTURES.items():
        fname = name + ".tflite"
        path = os.path.join(d, fname)
        with open(path, "rb") as f:
            data = f.read()
        ref = reference_reading(fname, data)
        refs[name] = ref
        write_reference(os.path.join(d, name + ".ref.json"), ref)
        try:
            check_properties(name, ref)
        except AssertionError as e:
            failures.append(f"{name}: property check failed: {e}")
        interp = tf.lite.Interpreter(model_path=path)
        alloc = "allocated"
        try:
            interp.allocate_tensors()
            if name in EXPECTED_ALLOCATE_ERROR:
                failures.append(f"{name}: allocated, but an error was expected")
        except RuntimeError as e:
            want = EXPECTED_ALLOCATE_ERROR.get(name)
            if want is None or want not in str(e):
                failures.append(f"{name}: allocate_tensors failed: {e}")
            alloc = "allocate_tensors fails: " + str(e).strip().splitlines()[0]
        try:
            cross_check_reference(ref, data, interp)
        except AssertionError as e:
            failures.append(f"{name}: cross-check failed: {e!r}")
        ops = " ".join(f"{o}:{t}" for o, t in op_summary(ref))
        print(f"- {fname} [{producer}] ({len(data)} bytes, {len(ref['subgraphs'])} subgraph(s), "
              f"{len(ref['signatures'])} signature(s), {alloc})")
        print(f"    {ops}")
    if structure(refs["torch_ptq"]) != structure(refs["torch_qat"]):
        failures.append("torch_qat: structure differs from torch_ptq")
    try:
        diff = check_same_network(d)
        print(f"torch_float and onnx2tf_float32 agree (max abs diff {diff:.2e})")
    except AssertionError as e:
        failures.append(f"torch_float vs onnx2tf_float32: {e!r}")
    if failures:
        print("\nFAILURES:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print(f"\n{len(FIXTURES)} reference readings written; all checks passed.")


if __name__ == "__main__":
    main()
