"""TensorFlow's own reading of a .tflite file, shared by the fixture scripts.

`reference_reading` builds the `<name>.ref.json` dict (format in testdata/README.md)
with `tensorflow.lite.python.schema_py_generated`, the flatc-generated Python
API shipped inside TensorFlow; no hand-written flatbuffer parsing happens here.
`cross_check_reference` compares that reading with two other TensorFlow views
of the same file (flatbuffer_utils' object API and the interpreter).

Used by generate.py (TF-converter fixtures) and reference_external.py (fixtures
made by other producers).  Needs TensorFlow (the pinned venv of
requirements.txt); importing it does not import Keras.
"""

import json

import numpy as np
from tensorflow.lite.python import schema_py_generated as schema_fb
from tensorflow.lite.tools import flatbuffer_utils


def _enum_names(cls):
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


OP_NAMES = _enum_names(schema_fb.BuiltinOperator)
TYPE_NAMES = _enum_names(schema_fb.TensorType)


def _s(b):
    return "" if b is None else b.decode("utf-8")


def reference_reading(file_name, buf):
    """Build the <name>.ref.json dict from schema_py_generated's Model reader.

    Layout and conventions are documented in testdata/README.md.
    """
    model = schema_fb.Model.GetRootAs(buf, 0)
    assert schema_fb.Model.ModelBufferHasIdentifier(buf, 0), "missing TFL3 identifier"

    opcodes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        name = ("CUSTOM:" + _s(oc.CustomCode())) if code == schema_fb.BuiltinOperator.CUSTOM \
            else OP_NAMES.get(code, str(code))
        opcodes.append((name, oc.Version()))

    def buffer_bytes(idx):
        if idx >= model.BuffersLength():
            return 0
        b = model.Buffers(idx)
        if b.DataLength() > 0:
            return b.DataLength()
        if b.Offset() > 1:
            return b.Size()
        return 0

    subgraphs = []
    for si in range(model.SubgraphsLength()):
        sg = model.Subgraphs(si)
        tensors = []
        for ti in range(sg.TensorsLength()):
            t = sg.Tensors(ti)
            q = t.Quantization()
            if q is None or q.ScaleLength() == 0:
                quant = None
            else:
                quant = {
                    # schema_fb reads each float32 and returns a Python float
                    # (exact widening), so repr round-trips to the same f32.
                    "scale": [float(q.Scale(k)) for k in range(q.ScaleLength())],
                    "zero_point": [int(q.ZeroPoint(k)) for k in range(q.ZeroPointLength())],
                    "quantized_dimension": int(q.QuantizedDimension()),
                }
            tensors.append({
                "index": ti,
                "name": _s(t.Name()),
                "shape": [int(t.Shape(k)) for k in range(t.ShapeLength())],
                "shape_signature": None if t.ShapeSignatureIsNone()
                else [int(t.ShapeSignature(k)) for k in range(t.ShapeSignatureLength())],
                "dtype": TYPE_NAMES.get(t.Type(), str(t.Type())),
                "buffer": int(t.Buffer()),
                "buffer_bytes": int(buffer_bytes(t.Buffer())),
                "is_variable": bool(t.IsVariable()),
                "quantization": quant,
            })
        operators = []
        for oi in range(sg.OperatorsLength()):
            op = sg.Operators(oi)
            name, version = opcodes[op.OpcodeIndex()]
            operators.append({
                "index": oi,
                "opcode": name,
                "version": int(version),
                "inputs": [int(op.Inputs(k)) for k in range(op.InputsLength())],
                "outputs": [int(op.Outputs(k)) for k in range(op.OutputsLength())],
            })
        subgraphs.append({
            "index": si,
            "name": _s(sg.Name()),
            "inputs": [int(sg.Inputs(k)) for k in range(sg.InputsLength())],
            "outputs": [int(sg.Outputs(k)) for k in range(sg.OutputsLength())],
            "tensors": tensors,
            "operators": operators,
        })

    signatures = []
    for k in range(model.SignatureDefsLength()):
        sd = model.SignatureDefs(k)
        signatures.append({
            "key": _s(sd.SignatureKey()),
            "subgraph": int(sd.SubgraphIndex()),
            "inputs": [{"name": _s(sd.Inputs(j).Name()), "tensor": int(sd.Inputs(j).TensorIndex())}
                       for j in range(sd.InputsLength())],
            "outputs": [{"name": _s(sd.Outputs(j).Name()), "tensor": int(sd.Outputs(j).TensorIndex())}
                        for j in range(sd.OutputsLength())],
        })

    return {
        "file": file_name,
        "version": int(model.Version()),
        "description": _s(model.Description()),
        "subgraphs": subgraphs,
        "signatures": signatures,
        "metadata": [_s(model.Metadata(k).Name()) for k in range(model.MetadataLength())],
    }


def op_summary(ref, sg_index=0):
    """[(opcode, output dtype)] for one subgraph of a reference reading."""
    sg = ref["subgraphs"][sg_index]
    res = []
    for op in sg["operators"]:
        dts = [sg["tensors"][o]["dtype"] for o in op["outputs"]]
        res.append((op["opcode"], "/".join(dts)))
    return res


def structure(ref):
    """Everything in a reference reading except the numbers that training changes."""
    def tensor(t):
        q = t["quantization"]
        return (t["name"], t["shape"], t["shape_signature"], t["dtype"], t["buffer"], t["buffer_bytes"],
                t["is_variable"], None if q is None else (len(q["scale"]), q["quantized_dimension"]))
    return [(sg["inputs"], sg["outputs"], [tensor(t) for t in sg["tensors"]],
             [(o["opcode"], o["version"], o["inputs"], o["outputs"]) for o in sg["operators"]])
            for sg in ref["subgraphs"]], ref["signatures"], ref["metadata"]


def cross_check_reference(ref, buf, interp):
    """Compare the reference reading with two other TensorFlow views of the file.

    * flatbuffer_utils' object API (ModelT): counts, dtypes, shapes, buffers,
      quantization scales/zero points, operator inputs/outputs, for every subgraph;
    * the TFLite interpreter's tensor details (subgraph 0): names, dtypes and
      quantization parameters.
    Also checks that every scale survives the JSON round trip bit-exactly as f32.
    """
    m = flatbuffer_utils.convert_bytearray_to_object(bytearray(buf))
    assert len(m.subgraphs) == len(ref["subgraphs"])
    for sg_t, sg in zip(m.subgraphs, ref["subgraphs"]):
        assert len(sg_t.tensors) == len(sg["tensors"]) and len(sg_t.operators) == len(sg["operators"])
        for t_t, t in zip(sg_t.tensors, sg["tensors"]):
            assert TYPE_NAMES[t_t.type] == t["dtype"] and t_t.buffer == t["buffer"]
            assert list(t_t.shape if t_t.shape is not None else []) == t["shape"]
            q_t = t_t.quantization
            if q_t is None or q_t.scale is None or len(q_t.scale) == 0:
                assert t["quantization"] is None
            else:
                assert [float(v) for v in q_t.scale] == t["quantization"]["scale"]
                assert [int(v) for v in q_t.zeroPoint] == t["quantization"]["zero_point"]
        for op_t, op in zip(sg_t.operators, sg["operators"]):
            assert list(op_t.inputs if op_t.inputs is not None else []) == op["inputs"]
            assert list(op_t.outputs if op_t.outputs is not None else []) == op["outputs"]
    roundtrip = json.loads(json.dumps(ref))
    for sg in roundtrip["subgraphs"]:
        for t in sg["tensors"]:
            for v in (t["quantization"] or {}).get("scale", []):
                assert float(np.float32(v)) == v, v
    dtype_names = {np.float32: "FLOAT32", np.float16: "FLOAT16", np.int32: "INT32", np.uint8: "UINT8",
                   np.int64: "INT64", np.int8: "INT8", np.int16: "INT16", np.bool_: "BOOL"}
    sg0 = ref["subgraphs"][0]
    for d in interp.get_tensor_details():
        if d["index"] >= len(sg0["tensors"]):
            continue  # runtime-created scratch tensors (e.g. in 16x8 kernels)
        t = sg0["tensors"][d["index"]]
        assert d["name"] == t["name"], (d["name"], t["name"])
        if d["dtype"] in dtype_names:
            assert dtype_names[d["dtype"]] == t["dtype"], (d["name"], d["dtype"], t["dtype"])
        scales = [float(v) for v in d["quantization_parameters"]["scales"]]
        assert scales == ((t["quantization"] or {}).get("scale") or []), d["name"]


def write_reference(path, ref):
    """Write a reference reading as generate.py always has: indent=1, trailing newline."""
    with open(path, "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")
