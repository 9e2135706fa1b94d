#!/usr/bin/env python3
"""The Keras-applications zoo closed loop: tflq plan and tflq compare's advice on real networks.

Usage (from the repository root, in the TensorFlow venv of testdata/README.md):

    TF_USE_LEGACY_KERAS=1 CUDA_VISIBLE_DEVICES= TF_CPP_MIN_LOG_LEVEL=2 \\
        python testdata/zoo.py [--only NET[,NET]] [--fresh] [--out DIR]

The tflq binary is $TFLQ (default target/release/tflq of the repository); it is copied into
the output directory when the run starts, so a rebuild during the run does not change it.

For every network of NETS (each family of tf_keras.applications by its smallest variant and
input, weights=None, plus small networks of the shapes people build themselves):

1. float model, a few training steps on deterministic synthetic data, full-integer PTQ
   (Optimize.DEFAULT + representative dataset, float I/O) -> <net>_ptq.tflite;
2. tfmot's own quantize_model: raises (recorded), or converts, with or without PTQ's placement;
3. `tflq plan <net>_ptq.tflite --format python` -> module.quantize_model(float model), a few
   QAT steps, conversion (with the representative dataset too when module.CALIBRATE is not
   empty) -> <net>_planned.tflite, placement judged against PTQ;
4. the advice loop: Conv2D and Dense layers annotated (as tutorials do), converted, `tflq
   compare --format json`, every finding's culprits applied as their fields say (`config`;
   `fallback` where tfmot's default does not take the layer; `calibrate`: the QAT model
   converted with the representative dataset, an unsupported layer left unannotated; `twins`:
   the same for the layers the plan module's identical_layers(model) gives it), rebuilt; up to
   ADVICE_ROUNDS rounds.

Placement is judged by TensorFlow's own flatbuffer reader (schema_py_generated), not by tflq:
per subgraph, the multiset of (op, how it computes) -- int8, int16, float, hybrid; QUANTIZE
float->int or int->int (requantize); DEQUANTIZE of an activation or of a constant -- from the
dtypes of each op's tensors.  tflq compare's own placement_matches is recorded beside it.

Float weights, PTQ files and tfmot's quantize_model result are cached per network in the
output directory (default target/zoo/), so a rerun after a tflq change redoes steps 3 and 4
only (--fresh redoes everything).  Results: testdata/zoo/results.json and
testdata/zoo/RESULTS.md; each network's entry replaces its own in results.json as soon as it is
done, and the other entries are kept, so two processes may run disjoint --only lists side by
side (the converter runs on one core).  Diagnostic files (plan modules, plan and compare JSON, every .tflite) stay in
the output directory, one folder per network.
"""

import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import collections  # noqa: E402
import contextlib  # noqa: E402
import gc  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
import zlib  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
from tf_keras.src import backend as keras_backend  # noqa: E402 -- layer-name counters
import tensorflow_model_optimization as tfmot  # noqa: E402
from tensorflow.lite.python import conversion_metadata_schema_py_generated as conversion_metadata_fb  # noqa: E402
from tensorflow.lite.python import schema_py_generated as schema_fb  # noqa: E402
from tensorflow_model_optimization.python.core.quantization.keras import (  # noqa: E402
    quantize_aware_activation as _quantize_aware_activation)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tflite_reference import OP_NAMES, TYPE_NAMES, _s, reference_reading, write_reference  # noqa: E402

if not tf.keras.__name__.startswith("tf_keras"):
    sys.exit("tf.keras is not tf-keras: run with TF_USE_LEGACY_KERAS=1 and tf-keras installed")

tf.config.experimental.enable_op_determinism()
tf.get_logger().setLevel("ERROR")
quantize = tfmot.quantization.keras

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS_DIR = os.path.join(REPO_ROOT, "testdata", "zoo")

# Training lengths: placement, not accuracy, is under test.
BATCH = 8
FLOAT_STEPS = 4
QAT_STEPS = 4
N_CALIBRATION = 8
FLOAT_LR = 1e-3
QAT_LR = 1e-4
ADVICE_ROUNDS = 3
NUM_CLASSES = 10
PLACEMENT_KINDS = ("add-quantizer", "remove-quantizer")
LIST_CAP = 60           # longest list of names kept per field in results.json


# ----------------------------------------------------------------------------
# The networks
# ----------------------------------------------------------------------------
def _classifier(base, name):
    """A keras.applications backbone (include_top=False, pooling='avg') with a Dense(10) "fc" +
    Softmax "softmax" head, as one flat functional model."""
    x = keras.layers.Dense(NUM_CLASSES, name="fc")(base.output)
    out = keras.layers.Softmax(name="softmax")(x)
    return keras.Model(base.input, out, name=name)


def _app(fn_name, size, **kw):
    def build():
        fn = getattr(keras.applications, fn_name)
        base = fn(input_shape=(size, size, 3), include_top=False, pooling="avg", weights=None, **kw)
        return _classifier(base, "zoo_" + fn_name.lower())
    args = ", ".join(f"{k}={v!r}" for k, v in kw.items())
    desc = (f"keras.applications.{fn_name}({args + ', ' if args else ''}input {size}x{size}, "
            "include_top=False, pooling='avg') + Dense(10) + Softmax")
    return build, desc


def build_unet():
    """A small U-Net: two encoder levels, Conv2DTranspose and UpSampling2D decoders with skip
    Concatenates, a sigmoid mask."""
    L = keras.layers
    inp = keras.Input((32, 32, 3), name="input")
    e1 = L.Conv2D(8, 3, padding="same", activation="relu", name="enc1")(inp)
    p1 = L.MaxPooling2D(name="pool1")(e1)
    e2 = L.Conv2D(16, 3, padding="same", activation="relu", name="enc2")(p1)
    p2 = L.MaxPooling2D(name="pool2")(e2)
    b = L.Conv2D(32, 3, padding="same", activation="relu", name="bottleneck")(p2)
    u2 = L.Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu", name="up2")(b)
    c2 = L.Concatenate(name="skip2")([u2, e2])
    d2 = L.Conv2D(16, 3, padding="same", activation="relu", name="dec2")(c2)
    u1 = L.UpSampling2D(2, name="up1")(d2)
    c1 = L.Concatenate(name="skip1")([u1, e1])
    d1 = L.Conv2D(8, 3, padding="same", activation="relu", name="dec1")(c1)
    out = L.Conv2D(1, 1, activation="sigmoid", name="mask")(d1)
    return keras.Model(inp, out, name="zoo_unet")


def build_detection_head():
    """A two-level detection head: per level a box and a class conv, each reshaped to
    (anchors, 4) / (anchors, classes); boxes and scores concatenated over the levels; two
    outputs (raw boxes, sigmoid scores)."""
    L = keras.layers
    anchors, classes = 3, 4
    inp = keras.Input((32, 32, 3), name="input")
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="stem")(inp)
    p3 = L.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="c3")(x)
    p4 = L.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="c4")(p3)
    boxes, scores = [], []
    for level, feat in (("p3", p3), ("p4", p4)):
        b = L.Conv2D(anchors * 4, 3, padding="same", name=f"{level}_box")(feat)
        boxes.append(L.Reshape((-1, 4), name=f"{level}_box_reshape")(b))
        c = L.Conv2D(anchors * classes, 3, padding="same", name=f"{level}_cls")(feat)
        scores.append(L.Reshape((-1, classes), name=f"{level}_cls_reshape")(c))
    box_out = L.Concatenate(axis=1, name="boxes")(boxes)
    cls = L.Concatenate(axis=1, name="cls_concat")(scores)
    score_out = L.Activation("sigmoid", name="scores")(cls)
    return keras.Model(inp, [box_out, score_out], name="zoo_detection_head")


def build_conv_bn_relu():
    """Conv2D without bias + BatchNormalization + ReLU (layer and Activation('relu') forms)."""
    L = keras.layers
    inp = keras.Input((32, 32, 3), name="input")
    x = L.Conv2D(8, 3, padding="same", use_bias=False, name="conv1")(inp)
    x = L.BatchNormalization(name="bn1")(x)
    x = L.ReLU(name="relu1")(x)
    x = L.Conv2D(16, 3, strides=2, padding="same", use_bias=False, name="conv2")(x)
    x = L.BatchNormalization(name="bn2")(x)
    x = L.ReLU(6.0, name="relu2")(x)
    x = L.Conv2D(16, 3, strides=2, padding="same", use_bias=False, name="conv3")(x)
    x = L.BatchNormalization(name="bn3")(x)
    x = L.Activation("relu", name="act3")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Dense(NUM_CLASSES, name="fc")(x)
    out = L.Softmax(name="softmax")(x)
    return keras.Model(inp, out, name="zoo_conv_bn_relu")


def build_dense_bn():
    """An MLP on 32 features: Dense + BatchNormalization (+ ReLU), Dense + BatchNormalization."""
    L = keras.layers
    inp = keras.Input((32,), name="features")
    x = L.Dense(64, name="fc1")(inp)
    x = L.BatchNormalization(name="bn1")(x)
    x = L.ReLU(name="relu1")(x)
    x = L.Dense(32, name="fc2")(x)
    x = L.BatchNormalization(name="bn2")(x)
    x = L.Dense(NUM_CLASSES, name="fc3")(x)
    out = L.Softmax(name="softmax")(x)
    return keras.Model(inp, out, name="zoo_dense_bn")


def build_separable():
    """SeparableConv2D with a fused ReLU, followed by BatchNormalization + ReLU, and strided."""
    L = keras.layers
    inp = keras.Input((32, 32, 3), name="input")
    x = L.Conv2D(8, 3, padding="same", activation="relu", name="stem")(inp)
    x = L.SeparableConv2D(16, 3, padding="same", activation="relu", name="sep1")(x)
    x = L.SeparableConv2D(16, 3, padding="same", name="sep2")(x)
    x = L.BatchNormalization(name="sep2_bn")(x)
    x = L.ReLU(name="sep2_relu")(x)
    x = L.MaxPooling2D(name="pool")(x)
    x = L.SeparableConv2D(32, 3, strides=2, padding="same", activation="relu", name="sep3")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Dense(NUM_CLASSES, name="fc")(x)
    out = L.Softmax(name="softmax")(x)
    return keras.Model(inp, out, name="zoo_separable")


def build_kws_conv1d():
    """A keyword spotter on 49 frames x 10 MFCCs: Conv1D (ReLU; then without activation +
    BatchNormalization + ReLU), pooling, a 12-word classifier."""
    L = keras.layers
    inp = keras.Input((49, 10), name="mfcc")
    x = L.Conv1D(16, 3, activation="relu", name="conv1")(inp)
    x = L.MaxPooling1D(2, name="pool1")(x)
    x = L.Conv1D(32, 3, name="conv2")(x)
    x = L.BatchNormalization(name="bn2")(x)
    x = L.ReLU(name="relu2")(x)
    x = L.GlobalAveragePooling1D(name="gap")(x)
    x = L.Dense(12, name="fc")(x)
    out = L.Softmax(name="softmax")(x)
    return keras.Model(inp, out, name="zoo_kws_conv1d")


def build_preprocessing():
    """Rescaling(1/255) and Normalization inside the model, on raw 0..255 pixels."""
    L = keras.layers
    inp = keras.Input((32, 32, 3), name="input")
    x = L.Rescaling(1.0 / 255.0, name="rescale")(inp)
    x = L.Normalization(mean=[0.485, 0.456, 0.406], variance=[0.229 ** 2, 0.224 ** 2, 0.225 ** 2],
                        name="normalize")(x)
    x = L.Conv2D(8, 3, activation="relu", name="conv1")(x)
    x = L.MaxPooling2D(name="pool")(x)
    x = L.Conv2D(16, 3, activation="relu", name="conv2")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Dense(NUM_CLASSES, name="fc")(x)
    out = L.Softmax(name="softmax")(x)
    return keras.Model(inp, out, name="zoo_preprocessing")


# name -> (builder, description, input value range).  Networks with their own preprocessing
# layers (Rescaling/Normalization inside) get raw 0..255 pixels, the others [0, 1) (a vector or
# MFCC input: standard normal values, range None).
NETS = {}


def _net(name, builder, desc, value_range=(0.0, 1.0)):
    NETS[name] = {"build": builder, "description": desc, "range": value_range}


RAW = (0.0, 255.0)
_net("mobilenet", *_app("MobileNet", 32, alpha=0.25))
_net("mobilenetv2", *_app("MobileNetV2", 32, alpha=0.35))
_net("mobilenetv3small", *_app("MobileNetV3Small", 32, alpha=0.35), RAW)
_net("mobilenetv3large", *_app("MobileNetV3Large", 32, alpha=0.35), RAW)
_net("efficientnetb0", *_app("EfficientNetB0", 32), RAW)
_net("efficientnetv2b0", *_app("EfficientNetV2B0", 32), RAW)
_net("resnet50", *_app("ResNet50", 32))
_net("resnet50v2", *_app("ResNet50V2", 32))
_net("resnetrs50", *_app("ResNetRS50", 32), RAW)
_net("densenet121", *_app("DenseNet121", 32))
_net("nasnetmobile", *_app("NASNetMobile", 32))
_net("inceptionv3", *_app("InceptionV3", 75))
_net("inceptionresnetv2", *_app("InceptionResNetV2", 75))
_net("xception", *_app("Xception", 71))
_net("convnexttiny", *_app("ConvNeXtTiny", 32), RAW)
_net("regnetx002", *_app("RegNetX002", 32), RAW)
_net("regnety002", *_app("RegNetY002", 32), RAW)
_net("vgg16", *_app("VGG16", 32))
_net("unet", build_unet, build_unet.__doc__.split("\n")[0])
_net("detection_head", build_detection_head, build_detection_head.__doc__.split(";")[0])
_net("conv_bn_relu", build_conv_bn_relu, build_conv_bn_relu.__doc__.split("\n")[0])
_net("dense_bn", build_dense_bn, build_dense_bn.__doc__.split("\n")[0], None)
_net("separable", build_separable, build_separable.__doc__.split("\n")[0])
_net("kws_conv1d", build_kws_conv1d, build_kws_conv1d.__doc__.split(":")[0], None)
_net("preprocessing", build_preprocessing, build_preprocessing.__doc__.split("\n")[0], RAW)


def net_seed(name):
    return zlib.crc32(name.encode()) % 100_000


def build(name):
    """The float network, built in a fresh Keras session with its own seed (so auto-named layers
    such as TFOpLambda get the same names on every build)."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(net_seed(name))
    return NETS[name]["build"]()


# ----------------------------------------------------------------------------
# Deterministic synthetic data
# ----------------------------------------------------------------------------
def make_inputs(name, model, n, seed):
    rng = np.random.default_rng(seed)
    xs = []
    for t in model.inputs:
        shape = (n,) + tuple(t.shape[1:])
        value_range = NETS[name]["range"]
        if value_range is None:
            xs.append(rng.standard_normal(shape, dtype=np.float32))
        else:
            lo, hi = value_range
            xs.append((lo + (hi - lo) * rng.random(shape, dtype=np.float32)).astype(np.float32))
    return xs


def make_targets(model, xs, seed):
    """One target per output: one-hot labels of a fixed random linear 'teacher' of the input for
    a classifier (rank 2, softmax), values in [0, 1) of the output's shape otherwise."""
    rng = np.random.default_rng(seed)
    n = xs[0].shape[0]
    flat = xs[0].reshape(n, -1)
    flat = (flat - flat.mean()) / (flat.std() + 1e-6)
    ys = []
    for t in model.outputs:
        shape = (n,) + tuple(t.shape[1:])
        if len(shape) == 2:
            teacher = rng.standard_normal((flat.shape[1], shape[1])).astype(np.float32)
            ys.append(np.eye(shape[1], dtype=np.float32)[np.argmax(flat @ teacher, axis=1)])
        else:
            ys.append(rng.random(shape, dtype=np.float32))
    return ys


def fit(name, model, steps, lr, seed):
    xs = make_inputs(name, model, steps * BATCH, seed)
    ys = make_targets(model, xs, seed + 1)
    # Eager steps: for a handful of steps, tracing a train function costs far more than it saves.
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="mse", run_eagerly=True)
    model.fit(xs if len(xs) > 1 else xs[0], ys if len(ys) > 1 else ys[0],
              batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    return model


def representative(name, model):
    xs = make_inputs(name, model, N_CALIBRATION, net_seed(name) + 7)

    def gen():
        for i in range(N_CALIBRATION):
            yield [x[i:i + 1] for x in xs]
    return gen


KERAS_CONVERTER = False     # --keras-converter: TFLiteConverter.from_keras_model itself


def convert(model, rep=None):
    """TFLiteConverter with Optimize.DEFAULT (and `rep` as representative dataset).

    By default the model's serving function (the model called with training=False, its outputs
    keyed by output name, as tf-keras exports it) is converted with from_concrete_functions and a
    trackable holding only the model's variables, and the CONVERSION_METADATA model type is set to
    KERAS_MODEL.  from_keras_model writes a Keras SavedModel first, which traces every layer's
    functions (about 85% of a QAT conversion's time); this skips that and gives the same bytes
    (checked with --keras-converter on the small networks and the MobileNets, PTQ and QAT)."""
    if KERAS_CONVERTER:
        conv = tf.lite.TFLiteConverter.from_keras_model(model)
    else:
        specs = [tf.TensorSpec(t.shape, t.dtype, name=t.name.split(":")[0]) for t in model.inputs]

        def serve(*xs):
            outs = model(list(xs) if len(xs) > 1 else xs[0], training=False)
            return dict(zip(model.output_names, outs if isinstance(outs, (list, tuple)) else [outs]))
        holder = tf.Module()
        holder.model_variables = list(model.variables)
        conv = tf.lite.TFLiteConverter.from_concrete_functions(
            [tf.function(serve).get_concrete_function(*specs)], holder)
        conv._metadata.environment.modelType = conversion_metadata_fb.ModelType.KERAS_MODEL
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if rep is not None:
        conv.representative_dataset = rep
    return conv.convert()


def clone_with_weights(model):
    with custom_objects(model):
        clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def fresh_session(model, seed):
    """clear_session and seed, with Keras' layer-name counters moved past the model's own names,
    as they are in a script that builds its model and quantizes it in one session.  Without
    that, a layer tfmot creates (a SeparableConv2D split into DepthwiseConv2D and Conv2D) takes
    a name the model holds (Xception's `conv2d`), and tf-keras rebuilding the transformed model
    loops forever."""
    keras.backend.clear_session()
    taken = collections.defaultdict(lambda: -1)
    for layer in model.layers:
        match = re.fullmatch(r"(.+?)(?:_(\d+))?", layer.name)
        prefix, index = match.group(1), int(match.group(2) or 0)
        taken[prefix] = max(taken[prefix], index)
    for prefix, index in taken.items():
        # Keras names the n-th unnamed layer of a class `<prefix>_<n>` (the first bare).
        for _ in range(index + 1):
            keras_backend.unique_object_name(prefix, zero_based=True)
    keras.utils.set_random_seed(seed)


def custom_objects(model):
    """A scope that knows the model's own layer classes (some applications define layers of
    their own: LayerScale, CustomScaleLayer), as a user's script would register them."""
    return keras.utils.custom_object_scope({type(layer).__name__: type(layer) for layer in model.layers})


# ----------------------------------------------------------------------------
# The placement signature, read by TensorFlow's own flatbuffer reader
# ----------------------------------------------------------------------------
FLOAT_TYPES = {"FLOAT32", "FLOAT16", "FLOAT64", "BFLOAT16"}
INT8_TYPES = {"INT8", "UINT8"}
WEIGHT_TYPES = {"INT8", "INT4", "UINT8"}


def read_ops(buf):
    """Per subgraph, the list of ops as (index, opcode, kind, output names, input names), with
    `kind` judged from tensor dtypes as schema_py_generated reads them."""
    model = schema_fb.Model.GetRootAs(buf, 0)
    opcodes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        opcodes.append(("CUSTOM:" + _s(oc.CustomCode())) if code == schema_fb.BuiltinOperator.CUSTOM
                       else OP_NAMES.get(code, str(code)))

    def has_data(buffer_index):
        if buffer_index <= 0 or buffer_index >= model.BuffersLength():
            return False
        b = model.Buffers(buffer_index)
        return b.DataLength() > 0 or b.Offset() > 1

    subgraphs = []
    for si in range(model.SubgraphsLength()):
        sg = model.Subgraphs(si)
        tensors = []
        for ti in range(sg.TensorsLength()):
            t = sg.Tensors(ti)
            tensors.append((TYPE_NAMES.get(t.Type(), str(t.Type())), has_data(t.Buffer()), _s(t.Name())))
        ops = []
        for oi in range(sg.OperatorsLength()):
            op = sg.Operators(oi)
            name = opcodes[op.OpcodeIndex()]
            ins = [op.Inputs(k) for k in range(op.InputsLength()) if op.Inputs(k) >= 0]
            outs = [op.Outputs(k) for k in range(op.OutputsLength()) if op.Outputs(k) >= 0]
            ops.append((oi, name, op_kind(name, [tensors[i] for i in ins], [tensors[o] for o in outs]),
                        [tensors[o][2] for o in outs], [tensors[i][2] for i in ins]))
        subgraphs.append(ops)
    return subgraphs


def _width(dtypes):
    if dtypes & FLOAT_TYPES:
        return "float"
    if "INT16" in dtypes:
        return "int16"
    if dtypes & INT8_TYPES:
        return "int8"
    return None


def op_kind(name, ins, outs):
    """How an op computes, from its tensors' (dtype, is-constant, name)."""
    act_in = {d for d, const, _ in ins if not const}
    const_in = {d for d, const, _ in ins if const}
    out = {d for d, _, _ in outs}
    if name == "QUANTIZE":
        src, dst = _width(act_in | const_in) or "?", "/".join(sorted(out)).lower()
        return f"float->{dst}" if src == "float" else f"requantize {'/'.join(sorted(act_in)).lower()}->{dst}"
    if name == "DEQUANTIZE":
        if ins and all(const for _, const, _ in ins):
            return f"of constant {'/'.join(sorted(const_in)).lower()}"
        return f"of activation {'/'.join(sorted(act_in)).lower()}"
    width = _width(act_in | out)
    if width == "float" and const_in & WEIGHT_TYPES:
        return "hybrid"
    return width or "other"


def signature(subgraphs):
    return [collections.Counter((name, kind) for _, name, kind, _, _ in ops) for ops in subgraphs]


def signature_json(sig):
    return [[[op, kind, n] for (op, kind), n in sorted(c.items())] for c in sig]


def signature_difference(ptq_sig, qat_sig):
    """[{subgraph, op, kind, ptq, qat}] for every (op, kind) whose count differs."""
    diff = []
    for si in range(max(len(ptq_sig), len(qat_sig))):
        p = ptq_sig[si] if si < len(ptq_sig) else collections.Counter()
        q = qat_sig[si] if si < len(qat_sig) else collections.Counter()
        for key in sorted(set(p) | set(q)):
            if p[key] != q[key]:
                diff.append({"subgraph": si, "op": key[0], "kind": key[1], "ptq": p[key], "qat": q[key]})
    return diff


def describe_difference(diff):
    """'QAT has +3 CONV_2D float, -3 CONV_2D int8, +2 QUANTIZE requantize int8->int8'."""
    parts = [f"{d['qat'] - d['ptq']:+d} {d['op']} {d['kind']}" + (f" (subgraph {d['subgraph']})" if d["subgraph"] else "")
             for d in diff]
    return "QAT vs PTQ: " + ", ".join(parts) if parts else "equal"


def difference_summary(diff):
    """Counts of the kinds of difference that matter most: requantizes, float ops, extra
    QUANTIZE/DEQUANTIZE."""
    s = collections.Counter()
    for d in diff:
        delta = d["qat"] - d["ptq"]
        if d["op"] == "QUANTIZE" and d["kind"].startswith("requantize"):
            s["requantize"] += delta
        elif d["op"] == "QUANTIZE":
            s["quantize float->int"] += delta
        elif d["op"] == "DEQUANTIZE":
            s["dequantize " + d["kind"]] += delta
        elif d["kind"] in ("float", "hybrid"):
            s[d["kind"] + " ops"] += delta
        else:
            s[d["kind"] + " ops"] += delta
    return {k: v for k, v in sorted(s.items()) if v}


def layers_of_tensor(name):
    """Keras layer names a TF-converter tensor name mentions: each ';' part is
    '<model scope>/<layer>/<op>...'; tfmot's 'quant_' prefix is dropped."""
    found = []
    for part in name.split(";"):
        comps = part.split("/")
        if len(comps) < 3:
            continue
        layer = comps[1]
        if layer.startswith("quant_"):
            layer = layer[len("quant_"):]
        if layer not in found:
            found.append(layer)
    return found


def layer_facts(model):
    """layer name -> (class name, inbound layer names)."""
    facts = {}
    for layer in model.layers:
        inbound = []
        for node in layer._inbound_nodes:
            ils = node.inbound_layers
            for il in (ils if isinstance(ils, (list, tuple)) else [ils]):
                if il.name not in inbound:
                    inbound.append(il.name)
        facts[layer.name] = (type(layer).__name__, inbound)
    return facts


def difference_ops(diff, ptq_ops, qat_ops, facts):
    """For each (op, kind) a side has more of, that side's ops of that kind, with the layers
    their tensors name (class and inbound layers from the float model)."""
    out = []
    for d in diff:
        side, ops = ("qat", qat_ops) if d["qat"] > d["ptq"] else ("ptq", ptq_ops)
        if d["subgraph"] >= len(ops):
            continue
        matching = [o for o in ops[d["subgraph"]] if (o[1], o[2]) == (d["op"], d["kind"])]
        for idx, op, kind, outs, ins in matching[:12]:
            names = outs if op != "QUANTIZE" or not outs else outs + ins[:1]
            layers = []
            for tname in names:
                for layer in layers_of_tensor(tname):
                    if layer not in [x["layer"] for x in layers]:
                        cls, inbound = facts.get(layer, ("?", []))
                        layers.append({"layer": layer, "class": cls, "inbound": inbound[:4]})
            out.append({"side": side, "subgraph": d["subgraph"], "index": idx, "op": op, "kind": kind,
                        "output": (outs[0] if outs else "")[:160], "layers": layers[:6]})
        if len(matching) > 12:
            out.append({"side": side, "subgraph": d["subgraph"], "op": d["op"], "kind": d["kind"],
                        "more": len(matching) - 12})
    return out


def judge(ptq_buf, qat_buf, facts):
    """TensorFlow's reader's verdict on a QAT file against its PTQ file."""
    ptq_ops, qat_ops = read_ops(ptq_buf), read_ops(qat_buf)
    diff = signature_difference(signature(ptq_ops), signature(qat_ops))
    return {"signature_matches": not diff, "difference": describe_difference(diff),
            "summary": difference_summary(diff), "difference_table": diff,
            "difference_ops": difference_ops(diff, ptq_ops, qat_ops, facts)}


# ----------------------------------------------------------------------------
# tflq
# ----------------------------------------------------------------------------
class Tflq:
    def __init__(self, path):
        self.path = path

    def run(self, *args):
        return subprocess.run([self.path, *args], capture_output=True, text=True)

    def version(self):
        return self.run("--version").stdout.strip()

    def compare(self, ptq, qat, out_json):
        """tflq compare --format json, written to out_json; (document or None, error line)."""
        r = self.run("compare", ptq, qat, "--format", "json")
        if r.returncode not in (0, 1) or not r.stdout.strip():
            return None, first_line(r.stderr) or f"exit {r.returncode}"
        with open(out_json, "w") as f:
            f.write(r.stdout)
        return json.loads(r.stdout), None


def first_line(text):
    text = (text or "").strip()
    return text.split("\n")[0][:400] if text else ""


def exception_record(e, stage):
    """type, first line of the message and the stage; machine paths taken out."""
    msg = " ".join(str(e).split())
    tb = traceback.extract_tb(e.__traceback__)
    where = tb[-1] if tb else None
    return {"stage": stage, "type": type(e).__name__, "message": scrub(msg[:400]),
            "raised_in": scrub(f"{os.path.basename(where.filename)}:{where.lineno} {where.name}") if where else ""}


SCRUB = []


def scrub(text):
    for path, label in SCRUB:
        text = text.replace(path, label)
    return text


def finding_records(doc):
    """The findings of a compare document, shortened: kind, severity, layer, places, culprits."""
    out = []
    for f in doc.get("findings", []):
        rec = {"kind": f["kind"], "severity": f["severity"], "layer": f.get("layer"),
               "places": len(f.get("places", [])) or 1,
               "culprits": [{k: c.get(k) for k in ("layer", "action", "annotated", "folded_into", "config")
                             if c.get(k) is not None}
                            for c in f.get("culprits", [])],
               "message": f.get("message", "")[:500]}
        detail = f.get("detail")
        if isinstance(detail, dict) and detail.get("what") == "requantize":
            rec["requantize"] = {k: detail.get(k) for k in ("same_scale_op", "producer_layer", "consumer_layer",
                                                             "scale_ratio")}
        if isinstance(detail, dict) and "unsupported" in detail:
            rec["unsupported"] = detail.get("unsupported")
            rec["batchnorm_unfolded"] = detail.get("batchnorm_unfolded")
        out.append(rec)
    return out


# ----------------------------------------------------------------------------
# QuantizeConfigs for the advice loop: what a culprit's action asks for
# ----------------------------------------------------------------------------
class _AdviceConfig(quantize.QuantizeConfig):
    """WEIGHTS: a symmetric 8-bit LastValueQuantizer (per output channel if PER_AXIS) on the
    layer's depthwise_kernel or kernel; OUTPUT: one asymmetric 8-bit MovingAverageQuantizer on the output; neither: the
    layer is wrapped and gets no quantizer."""

    WEIGHTS = False
    PER_AXIS = True
    OUTPUT = False

    def _names(self, layer):
        if not self.WEIGHTS:
            return []
        return [n for n in ("depthwise_kernel", "kernel") if hasattr(layer, n)][:1]

    def get_weights_and_quantizers(self, layer):
        return [(getattr(layer, n), quantize.quantizers.LastValueQuantizer(
            num_bits=8, per_axis=self.PER_AXIS, symmetric=True, narrow_range=True)) for n in self._names(layer)]

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        for n, w in zip(self._names(layer), quantize_weights):
            setattr(layer, n, w)

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        if not self.OUTPUT:
            return []
        return [quantize.quantizers.MovingAverageQuantizer(
            num_bits=8, per_axis=False, symmetric=False, narrow_range=False)]

    def get_config(self):
        return {}


class AdviceOutput(_AdviceConfig):
    WEIGHTS = True
    OUTPUT = True


class AdviceWeightsOnly(_AdviceConfig):
    WEIGHTS = True


class AdviceNoQuantizer(_AdviceConfig):
    pass


ADVICE_SCOPE = {c.__name__: c for c in (AdviceOutput, AdviceWeightsOnly, AdviceNoQuantizer)}
# culprit action -> annotation: a config class, None (registry default), or a word
ACTIONS = {
    "default": None,
    "output": AdviceOutput,
    "weights-only": AdviceWeightsOnly,
    "no-quantizer": AdviceNoQuantizer,
    "float": "unannotated",
    "unsupported": "unsupported",
}


def config_from_field(field, plan_module):
    """A culprit's own `config` field: a class name of the plan module's SCOPE, or an object
    {weights, per_axis, output}.  None when it cannot be read (recorded by the caller)."""
    if isinstance(field, str):
        scope = dict(getattr(plan_module, "SCOPE", {}) or {}) if plan_module else {}
        scope.update(ADVICE_SCOPE)
        return scope.get(field)
    if isinstance(field, dict):
        attrs = {"WEIGHTS": bool(field.get("weights")), "PER_AXIS": bool(field.get("per_axis")),
                 "OUTPUT": bool(field.get("output"))}
        name = ("AdviceField" + ("W" if attrs["WEIGHTS"] else "") + ("A" if attrs["PER_AXIS"] else "")
                + ("O" if attrs["OUTPUT"] else ""))
        # One class per field value: the same field in a later round is no change.
        if name not in ADVICE_SCOPE:
            ADVICE_SCOPE[name] = type(name, (_AdviceConfig,), attrs)
        return ADVICE_SCOPE[name]
    return None


# What tfmot's default config accepts, read from tfmot itself: the registry's layers, and the
# activations its QuantizeAwareActivation wraps (a relu6 activation inside a conv is not one).
_REGISTRY = quantize.default_8bit.Default8BitQuantizeRegistry()
_AWARE = _quantize_aware_activation.QuantizeAwareActivation
_ACCEPTED_ACTIVATIONS = (_AWARE._PRE_QUANT_ACTIVATIONS | _AWARE._POST_QUANT_ACTIVATIONS
                         | _AWARE._NO_QUANTIZE_ACTIVATIONS)


def default_takes(layer):
    """Whether tfmot's registry default quantizes `layer` as it is: the culprit's `fallback`
    field is for the layers where it does not."""
    # tfmot's layout transforms split a SeparableConv2D/1D into layers the registry takes, and
    # fold a BatchNormalization into the conv or Dense before it when that one takes the default.
    if isinstance(layer, keras.layers.BatchNormalization):
        inbound = [n.inbound_layers for n in layer._inbound_nodes]
        owner = inbound[0] if len(inbound) == 1 and not isinstance(inbound[0], list) else None
        return (isinstance(owner, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense,
                                   keras.layers.SeparableConv2D))
                and not isinstance(owner, (keras.layers.Conv1D, keras.layers.Conv2DTranspose))
                and default_takes(owner))
    separable = isinstance(layer, (keras.layers.SeparableConv2D, keras.layers.SeparableConv1D))
    if not (_REGISTRY.supports(layer) or separable):
        return False
    activation = getattr(layer, "activation", None)
    if activation is None:
        return True
    name = keras.activations.serialize(activation)
    if isinstance(name, dict):
        name = name.get("config", name.get("class_name"))
    return name in _ACCEPTED_ACTIVATIONS


def annotation_word(annotation, layer):
    if layer not in annotation:
        return "unannotated"
    return "default" if annotation[layer] is None else annotation[layer].__name__


def build_annotated(model, annotation, extra_scope):
    """The QAT model of an annotation ({layer: config class or None}; other layers unannotated)."""
    def fresh(layer):
        return layer.__class__.from_config(layer.get_config())

    def wrap(layer):
        if isinstance(layer, keras.layers.InputLayer) or layer.name not in annotation:
            return fresh(layer)
        config = annotation[layer.name]
        return quantize.quantize_annotate_layer(fresh(layer), quantize_config=config() if config else None)

    with custom_objects(model):
        annotated = keras.models.clone_model(model, clone_function=wrap)
    annotated.set_weights(model.get_weights())
    scope = dict(ADVICE_SCOPE)
    scope.update(extra_scope)
    with custom_objects(model), quantize.quantize_scope(scope):
        return quantize.quantize_apply(annotated)


# ----------------------------------------------------------------------------
# The steps
# ----------------------------------------------------------------------------
class Net:
    def __init__(self, name, out_dir, tflq, fresh):
        self.name = name
        self.dir = os.path.join(out_dir, name)
        self.out_dir = out_dir
        self.tflq = tflq
        self.fresh = fresh
        os.makedirs(self.dir, exist_ok=True)
        self.ptq_path = self.path(f"{name}_ptq.tflite")
        self.cached = []

    def path(self, fname):
        return os.path.join(self.dir, fname)

    def rel(self, path):
        return os.path.relpath(path, self.out_dir)

    def float_model(self, rec):
        weights = self.path("float.weights.h5")
        model = build(self.name)
        if os.path.exists(weights) and not self.fresh:
            model.load_weights(weights)
            self.cached.append("float")
        else:
            fit(self.name, model, FLOAT_STEPS, FLOAT_LR, net_seed(self.name) + 1)
            model.save_weights(weights)
        return model

    def ptq(self, model, rec):
        if os.path.exists(self.ptq_path) and not self.fresh:
            with open(self.ptq_path, "rb") as f:
                buf = f.read()
            self.cached.append("ptq")
        else:
            buf = convert(model, representative(self.name, model))
            with open(self.ptq_path, "wb") as f:
                f.write(buf)
        return buf

    def compare(self, qat_path, tag):
        doc, err = self.tflq.compare(self.ptq_path, qat_path, self.path(f"compare_{tag}.json"))
        if doc is None:
            return {"tflq_error": scrub(err)}, None
        return {"tflq_placement_matches": doc.get("placement_matches"),
                "tflq_verdict": doc.get("verdict", "")[:300],
                "compare_json": self.rel(self.path(f"compare_{tag}.json")),
                "findings": finding_records(doc)}, doc

    def judge_file(self, ptq_buf, qat_buf, qat_path, tag, facts):
        res = judge(ptq_buf, qat_buf, facts)
        res["file"] = self.rel(qat_path)
        res["bytes"] = len(qat_buf)
        cmp_rec, doc = self.compare(qat_path, tag)
        res.update(cmp_rec)
        if "tflq_placement_matches" in res:
            res["judges_agree"] = res["tflq_placement_matches"] == res["signature_matches"]
        return res, doc


def step_tfmot(net, model, ptq_buf, facts):
    """tfmot's own quantize_model, cached: the exception or the converted file."""
    cache = net.path("tfmot.json")
    qat_path = net.path(f"{net.name}_tfmot.tflite")
    if os.path.exists(cache) and not net.fresh:
        with open(cache) as f:
            rec = json.load(f)
        net.cached.append("tfmot")
    else:
        rec = {}
        stage = "quantize_model"
        try:
            fresh_session(model, net_seed(net.name) + 100)
            with custom_objects(model):
                qat = quantize.quantize_model(clone_with_weights(model))
            stage = "fine-tune"
            fit(net.name, qat, QAT_STEPS, QAT_LR, net_seed(net.name) + 101)
            stage = "convert"
            buf = convert(qat)
            with open(qat_path, "wb") as f:
                f.write(buf)
            rec["converts"] = True
        except Exception as e:  # noqa: BLE001 -- recorded: what tfmot does is the result
            rec["converts"] = False
            rec["exception"] = exception_record(e, stage)
        with open(cache, "w") as f:
            json.dump(rec, f, indent=1)
    if rec.get("converts"):
        with open(qat_path, "rb") as f:
            buf = f.read()
        res, _ = net.judge_file(ptq_buf, buf, qat_path, "tfmot", facts)
        rec.update(res)
        rec["status"] = "matches" if res["signature_matches"] else "differs"
    else:
        rec["status"] = "raises" if rec["exception"]["stage"] == "quantize_model" else "crashes"
    return rec


def load_module(path, name):
    spec = importlib.util.spec_from_file_location(f"zoo_plan_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cap(names):
    names = list(names)
    return names if len(names) <= LIST_CAP else names[:LIST_CAP] + [f"... {len(names) - LIST_CAP} more"]


def step_plan(net, model, ptq_buf, facts):
    rec = {}
    module_path = net.path(f"plan_{net.name}.py")
    plan_json = net.path(f"plan_{net.name}.json")
    r = net.tflq.run("plan", net.ptq_path, "--format", "python", "-o", module_path)
    if r.returncode != 0:
        rec["status"] = "plan-error"
        rec["exception"] = {"stage": "tflq plan", "type": f"exit {r.returncode}", "message": scrub(first_line(r.stderr))}
        return rec, None
    r = net.tflq.run("plan", net.ptq_path, "--format", "json")
    if r.returncode == 0:
        with open(plan_json, "w") as f:
            f.write(r.stdout)
        plan = json.loads(r.stdout)
        rec["plan_json"] = net.rel(plan_json)
        rec["actions"] = dict(collections.Counter(e["action"] for e in plan["layers"]))
        rec["not_default"] = _cap(
            f"{e['layer']}: {e['action']} ({e['reasons'][0]['text'] if e['reasons'] else ''})"
            for e in plan["layers"] if e["action"] != "default")
    rec["module"] = net.rel(module_path)
    stage = "import"
    module = None
    try:
        module = load_module(module_path, net.name)
        rec["float"] = _cap(module.FLOAT)
        rec["unsupported"] = _cap(f"{k}: {v}" for k, v in module.UNSUPPORTED.items())
        rec["calibrate"] = _cap(module.CALIBRATE)
        rec["fallback"] = len(getattr(module, "FALLBACK", {}))
        stage = "quantize_model"
        fresh_session(model, net_seed(net.name) + 200)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            qat = module.quantize_model(model)
        rec["warnings"] = [scrub(" ".join(str(w.message).split()))[:2000] for w in caught
                           if "tflq" in str(w.message)]
        # quantize_model adds the layers it leaves unannotated whose ops PTQ fused into a neighbour's.
        rec["calibrate"] = _cap(module.CALIBRATE)
        rec["not_reproduced"] = _cap(f"{k}: {v}" for k, v in sorted(module.NOT_REPRODUCED.items()))
        stage = "fine-tune"
        fit(net.name, qat, QAT_STEPS, QAT_LR, net_seed(net.name) + 201)
        stage = "convert"
        calibrate = bool(module.CALIBRATE)
        buf = convert(qat, representative(net.name, model) if calibrate else None)
        rec["converted_with_representative_dataset"] = calibrate
    except Exception as e:  # noqa: BLE001 -- the plan crashing tfmot or the converter is a result
        rec["status"] = "crashes"
        rec["exception"] = exception_record(e, stage)
        return rec, module
    qat_path = net.path(f"{net.name}_planned.tflite")
    with open(qat_path, "wb") as f:
        f.write(buf)
    res, _ = net.judge_file(ptq_buf, buf, qat_path, "planned", facts)
    rec.update(res)
    rec["status"] = "matches" if res["signature_matches"] else "differs"
    return rec, module


def follow_culprit(c, layer, new, calibrate, notes, model, plan_module):
    """Apply one culprit to `layer` (the culprit's own layer, or a twin of it) in annotation `new`."""
    if c.get("calibrate"):
        # the QAT conversion gets the representative dataset; an unsupported (or float)
        # layer is left unannotated for the converter to calibrate, any other still
        # takes its action
        calibrate.add(layer)
        if ACTIONS.get(c["action"]) in ("unsupported", "unannotated"):
            new.pop(layer, None)
            return
    if c.get("config") is None and c["action"] == "default" and c.get("fallback") is not None \
            and not default_takes(model.get_layer(layer)):
        cls = config_from_field(c["fallback"], plan_module)
        if cls is None:
            notes["unreadable_config"].append(f"{layer}: {c['fallback']!r}")
            return
        new[layer] = cls
        notes["fallback"].append(layer)
        return
    if c.get("config") is not None:
        cls = config_from_field(c["config"], plan_module)
        if cls is None:
            notes["unreadable_config"].append(f"{layer}: {c['config']!r}")
            return
        new[layer] = cls
        return
    todo = ACTIONS.get(c["action"], "unknown")
    if todo == "unsupported":
        notes["unsupported"].append(layer)
    elif todo == "unknown":
        notes["unknown_action"].append(f"{layer}: {c['action']}")
    elif todo == "unannotated":
        new.pop(layer, None)
    else:
        new[layer] = todo


def step_advice(net, model, ptq_buf, facts, plan_module):
    """Conv2D and Dense annotated, then the culprits of every placement finding followed."""
    layer_names = {layer.name for layer in model.layers}
    annotation = {layer.name: None for layer in model.layers
                  if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))}
    rec = {"start": f"{len(annotation)} Conv2D/Dense layers annotated (registry default)", "rounds": []}
    extra_scope = dict(getattr(plan_module, "SCOPE", {}) or {}) if plan_module else {}
    calibrate = set()  # layers a culprit's `calibrate` field asked the converter to calibrate
    twins = plan_module.identical_layers(model) if plan_module is not None else {}
    for rnd in range(ADVICE_ROUNDS + 1):
        step = {"round": rnd}
        rec["rounds"].append(step)
        stage = "quantize_apply"
        try:
            fresh_session(model, net_seed(net.name) + 300 + rnd)
            qat = build_annotated(model, annotation, extra_scope)
            stage = "fine-tune"
            fit(net.name, qat, QAT_STEPS, QAT_LR, net_seed(net.name) + 301)
            stage = "convert"
            buf = convert(qat, representative(net.name, model) if calibrate else None)
            step["converted_with_representative_dataset"] = bool(calibrate)
        except Exception as e:  # noqa: BLE001 -- the advice not building is a result
            step["exception"] = exception_record(e, stage)
            rec["status"] = "crashes"
            rec["rounds_done"] = rnd
            return rec
        del qat
        qat_path = net.path(f"{net.name}_advice{rnd}.tflite")
        with open(qat_path, "wb") as f:
            f.write(buf)
        res, doc = net.judge_file(ptq_buf, buf, qat_path, f"advice{rnd}", facts)
        step.update(res)
        if doc is None:
            rec["status"] = "compare-error"
            rec["rounds_done"] = rnd
            return rec
        if res["tflq_placement_matches"]:
            rec["calibrated"] = _cap(sorted(calibrate))
            rec["status"] = "converged" if res["signature_matches"] else "tflq-matches-reader-differs"
            rec["rounds_done"] = rnd
            return rec
        if rnd == ADVICE_ROUNDS:
            break
        # follow the culprits
        new = dict(annotation)
        calibrated_before = set(calibrate)
        notes = collections.defaultdict(list)
        by_twin, direct = [], []
        for f in doc["findings"]:
            # Every finding's culprits are followed (a structure finding names the conv whose
            # output quantizer stops a fold); a placement finding without any is noted.
            if f["kind"] not in PLACEMENT_KINDS and not f.get("culprits"):
                continue
            if not f.get("culprits"):
                notes["no_culprits"].append(f"{f['kind']} at {f.get('layer')}")
            for c in f.get("culprits", []):
                if c["layer"] not in layer_names:
                    notes["not_in_model"].append(c["layer"])
                    continue
                # `twins`: the layers the converter merges into one op with this one take the
                # same annotation (the plan module lists them from the Keras model)
                for twin in twins.get(c["layer"], []) if c.get("twins") else []:
                    by_twin.append((twin, c))
                direct.append((c["layer"], c))
        # a culprit naming a layer itself comes after (and wins over) one naming its twin
        for layer, c in by_twin:
            notes["twins"].append(f"{layer} as {c['layer']}")
            follow_culprit(c, layer, new, calibrate, notes, model, plan_module)
        for layer, c in direct:
            follow_culprit(c, layer, new, calibrate, notes, model, plan_module)
        step["changes"] = _cap(f"{n}: {annotation_word(annotation, n)} -> {annotation_word(new, n)}"
                               for n in sorted(set(annotation) | set(new))
                               if annotation.get(n, "-") != new.get(n, "-"))
        step["changes"] += [f"{n}: calibrated by the converter" for n in sorted(calibrate - calibrated_before)]
        step.update({k: _cap(dict.fromkeys(v)) for k, v in notes.items()})
        if not step["changes"]:
            placement = [f for f in doc["findings"] if f["kind"] in PLACEMENT_KINDS or f.get("culprits")]
            only_unsupported = placement and all(
                f.get("culprits") and all(ACTIONS.get(c["action"]) == "unsupported" and not c.get("calibrate")
                                          for c in f["culprits"])
                for f in placement)
            rec["rounds_done"] = rnd
            if only_unsupported:
                # What is left is what tfmot cannot express, said so by the culprits themselves.
                rec["status"] = "unsupported"
                rec["why"] = "; ".join(sorted({f"{c['layer']}: {c['reasons'][0]['text'] if c.get('reasons') else ''}"
                                                for f in placement for c in f["culprits"]}))
                rec["unsupported_layers"] = sorted({c["layer"] for f in placement for c in f["culprits"]})
                return rec
            rec["status"] = "stuck"
            rec["why"] = "the culprits ask for no change"
            return rec
        annotation = new
    rec["status"] = "stuck"
    rec["why"] = f"placement still differs after {ADVICE_ROUNDS} rounds"
    rec["rounds_done"] = ADVICE_ROUNDS
    return rec


def run_net(name, out_dir, tflq, fresh):
    t0 = time.time()
    net = Net(name, out_dir, tflq, fresh)
    rec = {"network": name, "description": NETS[name]["description"]}
    times = {}
    t = time.time()
    model = net.float_model(rec)
    times["float"] = time.time() - t
    rec["input_shapes"] = [list(x.shape[1:]) for x in model.inputs]
    rec["params"] = int(model.count_params())
    rec["layers"] = len(model.layers)
    rec["layer_classes"] = dict(sorted(collections.Counter(type(layer).__name__ for layer in model.layers).items()))
    facts = layer_facts(model)
    t = time.time()
    ptq_buf = net.ptq(model, rec)
    times["ptq"] = time.time() - t
    ptq_ops = read_ops(ptq_buf)
    rec["ptq"] = {"file": net.rel(net.ptq_path), "bytes": len(ptq_buf),
                  "ops": sum(len(ops) for ops in ptq_ops), "signature": signature_json(signature(ptq_ops))}
    for step, fn in (("tfmot_quantize_model", lambda: step_tfmot(net, model, ptq_buf, facts)),):
        t = time.time()
        rec[step] = fn()
        times["tfmot"] = time.time() - t
    t = time.time()
    rec["tflq_plan"], module = step_plan(net, model, ptq_buf, facts)
    times["plan"] = time.time() - t
    t = time.time()
    rec["advice"] = step_advice(net, model, ptq_buf, facts, module)
    times["advice"] = time.time() - t
    times["total"] = time.time() - t0
    rec["seconds"] = {k: round(v, 1) for k, v in times.items()}
    if net.cached:
        print(f"   cached: {', '.join(net.cached)}", flush=True)
    del model
    keras.backend.clear_session()
    gc.collect()
    return rec


# ----------------------------------------------------------------------------
# Reporting
# ----------------------------------------------------------------------------
def _layer_text(ops):
    """'conv1 (Conv2D <- input), bn1 (BatchNormalization <- conv1)' for the ops of a difference."""
    seen = []
    for o in ops:
        for lay in o.get("layers", []):
            text = f"{lay['layer']} ({lay['class']} <- {', '.join(lay['inbound']) or '-'})"
            if text not in seen:
                seen.append(text)
    if len(seen) > 8:
        seen = seen[:8] + [f"{len(seen) - 8} more"]
    return "; ".join(seen)


def _judged_text(res):
    parts = [res["difference"]]
    ops = [o for o in res.get("difference_ops", []) if o["side"] == "qat"]
    if ops:
        parts.append("at " + _layer_text(ops))
    if "tflq_placement_matches" in res:
        parts.append(f"tflq compare placement_matches={str(res['tflq_placement_matches']).lower()}"
                     + ("" if res.get("judges_agree") else " (DISAGREES with TensorFlow's reader)"))
    elif "tflq_error" in res:
        parts.append(f"tflq compare failed: {res['tflq_error']}")
    return "; ".join(parts)


def _exc_text(e):
    return f"{e['type']} in {e['stage']}: {e['message'][:240]}"


def cell_tfmot(r):
    t = r["tfmot_quantize_model"]
    if t["status"] == "matches":
        return "converts, matches" + ("" if t.get("judges_agree", True) else " (tflq disagrees)"), None
    if t["status"] == "raises":
        e = t["exception"]
        return f"raises {e['type']}", _exc_text(e)
    if t["status"] == "crashes":
        return f"crashes ({t['exception']['stage']})", _exc_text(t["exception"])
    summary = ", ".join(f"{v:+d} {k}" for k, v in t["summary"].items())
    return f"differs ({summary})", _judged_text(t)


def cell_plan(r):
    p = r["tflq_plan"]
    warn = (" Warnings: " + " | ".join(p["warnings"])[:300]) if p.get("warnings") else ""
    if p["status"] == "matches":
        tail = "" if p.get("judges_agree", True) else " (tflq disagrees)"
        # Layers tfmot cannot express match only because the converter calibrates them: said so,
        # and the network counts as not reproduced by QAT alone.
        calibrated = _listed(p.get("calibrate", []))
        word = f"matches, {calibrated} unsupported calibrated by the converter" if calibrated else "matches"
        return word + tail + (" (warns)" if p.get("warnings") else ""), (warn.strip() or None) if tail or warn else None
    if p["status"] in ("crashes", "plan-error"):
        return f"crashes ({p['exception']['stage']})", _exc_text(p["exception"]) + warn
    summary = ", ".join(f"{v:+d} {k}" for k, v in p["summary"].items())
    if p.get("not_reproduced"):
        # The plan itself says where no annotation gives PTQ's placement, and why.
        names = ", ".join(n.split(":")[0] for n in p["not_reproduced"])
        return (f"differs at {_listed(p['not_reproduced'])} unsupported ({names}): {summary}",
                "not reproduced: " + "; ".join(p["not_reproduced"]) + ". " + _judged_text(p) + warn)
    return f"differs ({summary})", _judged_text(p) + warn


def cell_advice(r):
    a = r["advice"]
    last = a["rounds"][-1] if a["rounds"] else {}
    if a["status"] == "converged":
        calibrated = _listed(a.get("calibrated", []))
        return f"converged in {a['rounds_done']}" + (
            f"; {calibrated} calibrated by the converter" if calibrated else ""), None
    if a["status"] == "unsupported":
        names = ", ".join(a["unsupported_layers"])
        return (f"stops at {len(a['unsupported_layers'])} unsupported ({names}) after {a['rounds_done']}",
                a["why"] + ". " + _judged_text(last))
    if a["status"] == "crashes":
        return f"crashes in round {a['rounds_done']}", _exc_text(last["exception"]) + _changes_text(a)
    if a["status"] == "tflq-matches-reader-differs":
        return f"tflq: match in {a['rounds_done']}, reader differs", _judged_text(last)
    if a["status"] == "compare-error":
        return "compare error", last.get("tflq_error", "")
    remaining = [f"{f['kind']} at {f['layer']}: "
                 + (", ".join(f"{c['layer']} -> {c['action']}" for c in f["culprits"]) or "no culprits")
                 for f in last.get("findings", []) if f["kind"] in PLACEMENT_KINDS or f.get("culprits")]
    text = f"{a['why']}. Remaining: " + ("; ".join(remaining[:8]) or "none")
    if len(remaining) > 8:
        text += f"; {len(remaining) - 8} more"
    for k in ("unsupported", "not_in_model", "no_culprits"):
        if last.get(k):
            text += f". {k.replace('_', ' ')}: {', '.join(last[k][:10])}"
    return f"stuck after {a['rounds_done']}", text + ". " + _judged_text(last)


def _listed(names):
    """How many names a capped list stands for ("... 12 more" counts 12)."""
    n = 0
    for name in names:
        if name.startswith("... ") and name.endswith(" more"):
            n += int(name.split()[1])
        else:
            n += 1
    return n


def _changes_text(a):
    prev = a["rounds"][-2] if len(a["rounds"]) > 1 else {}
    if prev.get("changes"):
        return ". After changes: " + ", ".join(prev["changes"][:10])
    return ""


# The representative subset committed as fixtures (tests/zoo.rs pins them): a network tfmot
# quantizes itself, and one it cannot (TFOpLambda hard-swish, squeeze-excite folds).
FIXTURE_NETS = ("mobilenetv2", "mobilenetv3small", "kws_conv1d")
FIXTURE_FILES = (("ptq", "ptq"), ("planned", "planned"), ("advice0", "partial"))


def write_fixtures(out_dir):
    testdata = os.path.join(REPO_ROOT, "testdata")
    for name in FIXTURE_NETS:
        for made, role in FIXTURE_FILES:
            src = os.path.join(out_dir, name, f"{name}_{made}.tflite")
            if not os.path.exists(src):
                print(f"   fixture: no {made} file of {name}; run the zoo on it first", flush=True)
                continue
            fname = f"zoo_{name}_{role}.tflite"
            with open(src, "rb") as f:
                buf = f.read()
            with open(os.path.join(testdata, fname), "wb") as f:
                f.write(buf)
            write_reference(os.path.join(testdata, fname[:-len(".tflite")] + ".ref.json"),
                            reference_reading(fname, buf))
            print(f"   fixture: testdata/{fname} ({len(buf)} bytes) and its .ref.json", flush=True)


def write_results(results, tflq_version):
    """Write results.json and RESULTS.md with `results` over the entries already in results.json
    (read again now, so that zoo processes running other networks side by side keep theirs)."""
    os.makedirs(RESULTS_DIR, exist_ok=True)
    path = os.path.join(RESULTS_DIR, "results.json")
    merged = {}
    if os.path.exists(path):
        with open(path) as f:
            merged = json.load(f).get("networks", {})
    merged.update(results)
    ordered = {n: merged[n] for n in NETS if n in merged}
    doc = {"tflq": tflq_version,
           "versions": {"tensorflow": tf.__version__, "tf_keras": keras.__version__,
                        "tfmot": tfmot.__version__},
           "settings": {"batch": BATCH, "float_steps": FLOAT_STEPS, "qat_steps": QAT_STEPS,
                        "calibration_samples": N_CALIBRATION, "advice_rounds": ADVICE_ROUNDS},
           "networks": ordered}
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(path + ".tmp", path)
    lines = ["# Keras-applications zoo: tflq plan and tflq compare's advice",
             "",
             f"Written by `testdata/zoo.py` ({tflq_version}; TensorFlow {tf.__version__}, tf-keras "
             f"{keras.__version__}, tfmot {tfmot.__version__}). Placement is judged by TensorFlow's "
             "own flatbuffer reader: per subgraph, the multiset of (op, int8/int16/float/hybrid; "
             "QUANTIZE float->int or requantize; DEQUANTIZE of an activation or a constant). "
             "Details of every entry: `results.json`.",
             "",
             "| network | input | params | tfmot quantize_model | tflq plan | advice rounds | seconds |",
             "|---|---|---|---|---|---|---|"]
    notes = []
    for name, r in ordered.items():
        cells = []
        for fn, what in ((cell_tfmot, "tfmot quantize_model"), (cell_plan, "tflq plan"),
                         (cell_advice, "advice")):
            text, note = fn(r)
            if note:
                notes.append(f"{name}, {what}: {note}")
                text += f" [{len(notes)}]"
            cells.append(text)
        shape = "x".join(str(d) for d in r["input_shapes"][0])
        lines.append(f"| {name} | {shape} | {r['params']:,} | " + " | ".join(cells)
                     + f" | {r['seconds']['total']:.0f} |")
    lines.append("")
    for i, note in enumerate(notes, 1):
        lines.append(f"[{i}] {note.replace('|', '/')}")
        lines.append("")
    with open(os.path.join(RESULTS_DIR, "RESULTS.md"), "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated network names (default: all): " + ", ".join(NETS))
    parser.add_argument("--fresh", action="store_true", help="retrain, reconvert PTQ and rerun tfmot")
    parser.add_argument("--keras-converter", action="store_true",
                        help="convert with TFLiteConverter.from_keras_model (slower, same bytes)")
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "target", "zoo"),
                        help="output directory (default: target/zoo of the repository)")
    parser.add_argument("--fixtures", action="store_true",
                        help="after the run, copy the PTQ, planned and partial (advice round 0) files of "
                             + ", ".join(FIXTURE_NETS) + " into testdata/ as zoo_<net>_*.tflite, each "
                             "with TensorFlow's reading (.ref.json)")
    parser.add_argument("--table", action="store_true",
                        help="only rewrite RESULTS.md from results.json (no network is run)")
    args = parser.parse_args()
    if args.table:
        with open(os.path.join(RESULTS_DIR, "results.json")) as f:
            doc = json.load(f)
        write_results({}, doc["tflq"])
        return
    names = list(NETS)
    if args.only:
        names = [n.strip().lower() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in NETS]
        if unknown:
            sys.exit(f"unknown network(s): {', '.join(unknown)}; known: {', '.join(NETS)}")
    global KERAS_CONVERTER
    KERAS_CONVERTER = args.keras_converter
    out_dir = os.path.abspath(args.out)
    os.makedirs(out_dir, exist_ok=True)
    SCRUB.extend([(out_dir, "<out>"), (REPO_ROOT, "<repo>"), (sys.prefix, "<venv>")])
    src = os.environ.get("TFLQ", os.path.join("target", "release", "tflq"))
    src = src if os.path.isabs(src) else os.path.join(REPO_ROOT, src)
    if not os.path.exists(src):
        sys.exit(f"no tflq binary at {src} (set TFLQ)")
    # Copied under a temporary name and renamed: another zoo process may be running the copy.
    copy = os.path.join(out_dir, "tflq")
    shutil.copy2(src, copy + f".{os.getpid()}")
    os.replace(copy + f".{os.getpid()}", copy)
    tflq = Tflq(copy)
    version = tflq.version()
    print(f"{version}; TensorFlow {tf.__version__}, tf-keras {keras.__version__}, tfmot {tfmot.__version__}; "
          f"output in {out_dir}", flush=True)

    results = {}
    start = time.time()
    for name in names:
        print(f"== {name}", flush=True)
        try:
            rec = run_net(name, out_dir, tflq, args.fresh)
        except Exception as e:  # noqa: BLE001 -- one network's failure must not stop the zoo
            rec = {"network": name, "description": NETS[name]["description"],
                   "error": exception_record(e, "float model or PTQ")}
            traceback.print_exc()
            print(f"   FAILED before the loop: {_exc_text(rec['error'])}", flush=True)
            results[name] = rec
            continue
        results[name] = rec
        for fn, what in ((cell_tfmot, "tfmot"), (cell_plan, "plan"), (cell_advice, "advice")):
            text, note = fn(rec)
            print(f"   {what}: {text}" + (f"\n      {note}" if note else ""), flush=True)
        print(f"   seconds: {rec['seconds']}", flush=True)
        write_results({n: r for n, r in results.items() if "seconds" in r}, version)
    print(f"total {time.time() - start:.0f} s", flush=True)
    if args.fixtures:
        write_fixtures(out_dir)


if __name__ == "__main__":
    main()
