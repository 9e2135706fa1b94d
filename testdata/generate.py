#!/usr/bin/env python3
"""Generate the tflq test fixtures (.tflite files + TensorFlow-made reference readings).

Usage (from the repository root, inside the venv described in testdata/README.md):

    TF_USE_LEGACY_KERAS=1 python testdata/generate.py [OUTPUT_DIR] [--no-closed-loop]

OUTPUT_DIR defaults to the directory containing this script (testdata/).
The closed loop (step 6) runs the tflq binary: $TFLQ, default
target/release/tflq under the repository root.  --no-closed-loop skips it.
TFLQ_PLAN_DIR=DIR (development only) loads DIR/plan_<net>.py instead of
running `tflq plan`.

What it does
------------
1. Builds small Keras models ("net A", a tiny CNN used for the whole PTQ/QAT
   family; "net B", a tiny CNN with an element-wise Maximum; a tiny LSTM) and
   two tf.Module/tf.function programs (control flow, Select-TF-ops).
2. Trains the Keras models briefly on deterministic synthetic data (fixed
   seeds everywhere, TF op determinism on, oneDNN off).
3. Converts each with the real tf.lite.TFLiteConverter in the mode the fixture
   is meant to exercise, and writes `<name>.tflite`.
4. Reads every written file back with TensorFlow's OWN flatbuffer reader
   (tensorflow.lite.python.schema_py_generated, i.e. the flatc-generated
   Python API shipped inside TensorFlow) and writes `<name>.ref.json`: the
   reference reading tflq's Rust parser is compared against.  No hand-written
   flatbuffer parsing happens here.
5. Sanity checks: every model is loaded with tf.lite.Interpreter and allocated
   (except select_tf_ops: the pip interpreter does not apply the Flex
   delegate), fixture-specific properties are asserted (e.g. WHILE and IF
   really exist, qat_partial really has a float island between DEQUANTIZE and
   QUANTIZE, qat_maximum_output really has a requantize feeding MAXIMUM,
   ptq_int8_retrained is structurally identical to ptq_int8), the reference
   reading is cross-checked against flatbuffer_utils' object API and the
   interpreter's tensor details, and a per-model op listing is printed.
6. Plan networks (plan_<net>_ptq, and plan_<net>_qat_default where tfmot's
   default quantize_model works) and advice fixtures (advice_*_qat, real QAT
   variants for each `tflq compare` advice situation).  Then the closed loop:
   for each plan network, `tflq plan plan_<net>_ptq.tflite --format python`
   -> import the module -> module.quantize_model(float model) -> one epoch of
   QAT -> QAT conversion -> plan_<net>_planned.tflite, which must give
   `placement_matches: true` in `tflq compare ... --format json`.
7. After everything else: advice followed once (every
   partial QAT fixture with add-/remove-quantizer findings, re-annotated as
   the findings' culprits say -> <name>_fixed: convergence is printed, not
   fatal), advice_clipping_qat (range-clipping), advice_mobilenet_bn_qat
   (unannotated BatchNormalization, still the same network), and
   session_first/session_second (two Keras auto-numberings, equal
   `tflq snapshot`).  The advice and MobileNet steps run tflq and are
   skipped with --no-closed-loop.

Reproducibility: with the pinned versions in requirements.txt, two runs on
the same machine produce byte-identical files (checked when these fixtures were
made).  Other TF/numpy versions, other CPUs or other BLAS/oneDNN settings may
give different weights and therefore different bytes; the *structure* (ops,
dtypes, which tensors are quantized) is what tests should rely on.
"""

import os
import sys

# --- environment: must be set before TensorFlow is imported -----------------
# tfmot 0.8.x only works with Keras 2 (tf-keras); TF 2.16+ needs this switch to
# make `tf.keras` be tf-keras.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")      # CPU only
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# oneDNN kernels may reorder float reductions; switch them off for determinism.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402

import numpy as np  # noqa: E402
import tf_keras  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_model_optimization as tfmot  # noqa: E402
# TensorFlow's own reading of a .tflite file (shared with reference_external.py)
from tflite_reference import (  # noqa: E402
    cross_check_reference, op_summary, reference_reading, structure, write_reference)

if os.environ.get("TF_USE_LEGACY_KERAS") != "1" or not tf.keras.__name__.startswith("tf_keras"):
    sys.exit("tf.keras is not tf-keras: run with TF_USE_LEGACY_KERAS=1 and tf-keras installed")

keras = tf.keras
tf.config.experimental.enable_op_determinism()
tf.config.threading.set_inter_op_parallelism_threads(1)
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.get_logger().setLevel("ERROR")

quantize = tfmot.quantization.keras

# ----------------------------------------------------------------------------
# Deterministic synthetic data
# ----------------------------------------------------------------------------
IMG_SHAPE = (16, 16, 3)
NUM_CLASSES = 10


def make_images(seed, n):
    """n images in [0,1) plus labels from a fixed random linear 'teacher'.

    The labels are a deterministic function of the pixels (argmax of a fixed
    random projection of 4x4-average-pooled images), so training actually
    learns something and activation ranges are data-shaped rather than
    arbitrary.  Everything depends only on `seed` (numpy PCG64).
    """
    rng = np.random.default_rng(seed)
    x = rng.random((n,) + IMG_SHAPE, dtype=np.float32)
    pooled = x.reshape(n, 4, 4, 4, 4, 3).mean(axis=(2, 4)).reshape(n, -1)
    teacher = np.random.default_rng(1000 + seed).standard_normal((pooled.shape[1], NUM_CLASSES))
    y = np.argmax((pooled - 0.5) @ teacher, axis=1).astype(np.int64)
    return x, y


def representative_dataset(seed, n=48):
    """Calibration generator for PTQ: n single-sample batches, float32."""
    x, _ = make_images(seed, n)

    def gen():
        for i in range(n):
            yield [x[i:i + 1]]
    return gen


# Seeds. net A uses SEED_A for weights/data and SEED_REP_A for calibration data;
# the "retrained" fixture uses different seeds for all three.
SEED_A, SEED_DATA_A, SEED_REP_A = 1234, 11, 21
SEED_A2, SEED_DATA_A2, SEED_REP_A2 = 4321, 12, 22
SEED_B, SEED_DATA_B, SEED_REP_B = 777, 13, 23
N_TRAIN = 256

# QAT fine-tuning length.  tfmot's MovingAverageQuantizer starts its min/max at
# -6/+6 and moves them with an EMA of decay 0.999 per training STEP.  A single
# epoch (256 samples / batch 32 = 8 steps) leaves every activation range at
# ~[-6, 6] (scale ~0.047 everywhere), which is useless for comparing ranges
# with PTQ.  400 epochs = 3200 steps leaves 0.999**3200 ~ 4% of the initial
# value: ranges are data-driven, yet ReLU outputs keep a small negative min
# (-0.24, zero point ~-101 instead of -128) -- a genuine QAT artefact tflq's
# heuristics are meant to notice.  A small learning rate keeps the weights
# close to the float model.  Takes a few seconds per model on a CPU.
QAT_EPOCHS = 400
QAT_LR = 1e-4


# ----------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------
def build_net_a():
    """Net A: the shared small CNN of the PTQ/QAT family.

    Input(16,16,3) -> Conv2D(8,3,same) -> BatchNormalization -> ReLU
      -> MaxPooling2D -> Conv2D(16,3,relu) -> Flatten -> Dense(32,relu)
      -> Dense(10) -> Softmax

    Fully supported by tfmot quantize_model (Conv+BN+ReLU is folded by the
    Conv2DBatchNormReLUQuantize transform).  Flatten gives Dense(32) a
    576x32 = 18432-element kernel and conv2 has 3*3*8*16 = 1152 elements, so
    both exceed the converter's 1024-element threshold and really get int8
    weights in dynamic-range mode.
    """
    inp = keras.Input(shape=IMG_SHAPE, name="input")
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv1")(inp)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU(name="relu1")(x)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(16, 3, activation="relu", name="conv2")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(32, activation="relu", name="fc1")(x)
    x = keras.layers.Dense(NUM_CLASSES, name="fc2")(x)
    out = keras.layers.Softmax(name="softmax")(x)
    return keras.Model(inp, out, name="net_a")


def build_net_b():
    """Net B: small CNN with an element-wise Maximum (not in tfmot's registry).

    Input(16,16,3) -> Conv2D(8,3,relu) -> {branch1 Conv2D(8,1), branch2 Conv2D(8,1)}
      -> Maximum -> Add(maximum, branch1) -> MaxPooling2D -> Flatten -> Dense(10) -> Softmax

    Why the Add: MAXIMUM is a same-scale op in TFLite (inputs and output must
    share scale/zero point).  When a Maximum input is produced by a conv with a
    single consumer, the converter simply gives the conv output the Maximum's
    parameters (a conv can requantize for free), so no extra op ever shows up.
    Making branch1 ALSO feed an ADD pins branch1's own (trained) range; then a
    disagreeing output quantizer on the Maximum forces a real requantize
    QUANTIZE(int8->int8) between branch1 and the MAXIMUM.  (Verified: without
    the Add, qat_maximum_output and qat_maximum_noop have identical op lists.)
    """
    inp = keras.Input(shape=IMG_SHAPE, name="input")
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv1")(inp)
    b1 = keras.layers.Conv2D(8, 1, name="branch1")(x)
    b2 = keras.layers.Conv2D(8, 1, name="branch2")(x)
    m = keras.layers.Maximum(name="maximum")([b1, b2])
    s = keras.layers.Add(name="add")([m, b1])          # second consumer of branch1
    x = keras.layers.MaxPooling2D(name="pool")(s)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(NUM_CLASSES, name="fc")(x)
    out = keras.layers.Softmax(name="softmax")(x)
    return keras.Model(inp, out, name="net_b")


def compile_and_fit(model, seed_data, epochs, lr=1e-2):
    x, y = make_images(seed_data, N_TRAIN)
    model.compile(optimizer=keras.optimizers.Adam(lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=["accuracy"])
    model.fit(x, y, batch_size=32, epochs=epochs, shuffle=False, verbose=0)
    return model


def train_float(builder, seed, seed_data, epochs=2):
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)   # seeds python `random`, numpy and TF
    model = builder()
    return compile_and_fit(model, seed_data, epochs)


def clone_with_weights(model):
    """Independent copy of a trained float model (QAT must not touch the original)."""
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


# ---- custom QuantizeConfigs for the Maximum layer of net B -----------------
class MaximumNoOpQuantizeConfig(quantize.QuantizeConfig):
    """No quantizers at all: the layer is wrapped but adds no fake-quant."""

    def get_weights_and_quantizers(self, layer):
        return []

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        pass

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        return []

    def get_config(self):
        return {}


class MaximumOutputQuantizeConfig(MaximumNoOpQuantizeConfig):
    """Puts exactly one OUTPUT quantizer on the layer (no weights, no activations)."""

    def get_output_quantizers(self, layer):
        return [quantize.quantizers.MovingAverageQuantizer(
            num_bits=8, per_axis=False, symmetric=False, narrow_range=False)]


# ----------------------------------------------------------------------------
# Conversion helpers
# ----------------------------------------------------------------------------
def convert_keras(model, optimize=False, rep=None, supported_ops=None,
                  supported_types=None, in_type=None, out_type=None):
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if optimize:
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if rep is not None:
        conv.representative_dataset = rep
    if supported_ops is not None:
        conv.target_spec.supported_ops = supported_ops
    if supported_types is not None:
        conv.target_spec.supported_types = supported_types
    if in_type is not None:
        conv.inference_input_type = in_type
    if out_type is not None:
        conv.inference_output_type = out_type
    return conv.convert()


# ----------------------------------------------------------------------------
# Fixture builders. Each returns the .tflite bytes.
# ----------------------------------------------------------------------------
def fixtures_net_a():
    """The PTQ/QAT family, all from the same trained float net A."""
    out = {}
    net_a = train_float(build_net_a, SEED_A, SEED_DATA_A)
    rep = representative_dataset(SEED_REP_A)

    # float.tflite: plain float conversion, the baseline structure.
    out["float"] = convert_keras(net_a)
    # dynamic_range.tflite: Optimize.DEFAULT without dataset -> hybrid: float
    # activations, int8 weights for conv2 (1152 el.) and fc1 (18432 el.);
    # conv1 (216 el.) and fc2 (320 el.) stay float (< 1024 elements).
    out["dynamic_range"] = convert_keras(net_a, optimize=True)
    # float16.tflite: FLOAT16 constants + DEQUANTIZE (fp16 weights).
    out["float16"] = convert_keras(net_a, optimize=True, supported_types=[tf.float16])
    # ptq_int8.tflite: full-integer PTQ, float I/O (QUANTIZE in, DEQUANTIZE out).
    out["ptq_int8"] = convert_keras(net_a, optimize=True, rep=rep)
    # ptq_int8_io.tflite: same but int8 model input/output (no Q/DQ at the ends).
    out["ptq_int8_io"] = convert_keras(
        net_a, optimize=True, rep=rep,
        supported_ops=[tf.lite.OpsSet.TFLITE_BUILTINS_INT8],
        in_type=tf.int8, out_type=tf.int8)
    # ptq_int16x8.tflite: 16x8 mode (int16 activations, int8 weights, int64 bias).
    out["ptq_int16x8"] = convert_keras(
        net_a, optimize=True, rep=rep,
        supported_ops=[
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8,
            tf.lite.OpsSet.TFLITE_BUILTINS])

    # qat_full.tflite: tfmot quantize_model over the whole net, fine-tuned
    # (QAT_EPOCHS, see above), converted with Optimize.DEFAULT (QAT mode, float I/O).
    keras.backend.clear_session()   # fresh Keras name counters per QAT model
    keras.utils.set_random_seed(SEED_A + 1)
    qat = quantize.quantize_model(clone_with_weights(net_a))
    compile_and_fit(qat, SEED_DATA_A, epochs=QAT_EPOCHS, lr=QAT_LR)
    out["qat_full"] = convert_keras(qat, optimize=True)

    # qat_partial.tflite: only SOME layers annotated: conv1 on its own (NOT
    # its bn1/relu1), conv2, fc1, fc2.  bn1/relu1/pool1/flatten/softmax are
    # not annotated.  Effects (checked in check_properties):
    #  * conv1 is annotated alone, so it gets its own linear output
    #    fake-quant; BN can no longer be folded into it -> int8 CONV_2D
    #    (no fused activation), then DEQUANTIZE -> float MUL, ADD[RELU]
    #    (= unfolded bn1 + relu1).
    #  * conv2 is annotated, but its input comes from pool1 (MaxPooling2D, not
    #    annotated).  tfmot gives such a boundary producer an output-only
    #    config, yet MaxPooling2D's registry config has no output quantizer, so
    #    conv2's input has no range: the converter keeps MAX_POOL_2D and conv2
    #    float (float weights) and only QUANTIZEs conv2's fake-quantized
    #    output.  The float island therefore "grows" over an annotated layer.
    # (Annotating conv2/fc1/fc2 only, as first planned, gives a float prefix
    # with no DEQUANTIZE in front of it; annotating conv1 is what creates a
    # DEQUANTIZE ... float ... QUANTIZE island.)
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED_A + 2)
    partial_layers = {"conv1", "conv2", "fc1", "fc2"}
    base = clone_with_weights(net_a)
    annotated = keras.models.clone_model(
        base,
        clone_function=lambda layer: (quantize.quantize_annotate_layer(layer)
                                      if layer.name in partial_layers else layer))
    annotated.set_weights(base.get_weights())
    qat_p = quantize.quantize_apply(annotated)
    compile_and_fit(qat_p, SEED_DATA_A, epochs=QAT_EPOCHS, lr=QAT_LR)
    out["qat_partial"] = convert_keras(qat_p, optimize=True)

    # ptq_int8_retrained.tflite: same architecture, different init seed,
    # different training data and different calibration data; converted
    # exactly like ptq_int8.  Structure must be identical, numbers differ.
    net_a2 = train_float(build_net_a, SEED_A2, SEED_DATA_A2)
    out["ptq_int8_retrained"] = convert_keras(
        net_a2, optimize=True, rep=representative_dataset(SEED_REP_A2))
    return out


def fixtures_net_b():
    """Custom QuantizeConfig cases around an element-wise Maximum."""
    out = {}
    net_b = train_float(build_net_b, SEED_B, SEED_DATA_B)
    # ptq_maximum.tflite: full-int8 PTQ, float I/O (placement baseline).
    out["ptq_maximum"] = convert_keras(net_b, optimize=True, rep=representative_dataset(SEED_REP_B))

    def qat_with(config_cls, seed):
        keras.backend.clear_session()   # fresh Keras name counters per QAT model
        keras.utils.set_random_seed(seed)
        base = clone_with_weights(net_b)
        # Annotate the Maximum with the custom config first, then let
        # quantize_annotate_model annotate every other layer (it leaves
        # already-annotated layers alone).
        pre = keras.models.clone_model(
            base,
            clone_function=lambda layer: (
                quantize.quantize_annotate_layer(layer, quantize_config=config_cls())
                if isinstance(layer, keras.layers.Maximum) else layer))
        pre.set_weights(base.get_weights())
        annotated = quantize.quantize_annotate_model(pre)
        with quantize.quantize_scope({config_cls.__name__: config_cls}):
            qat = quantize.quantize_apply(annotated)
        compile_and_fit(qat, SEED_DATA_B, epochs=QAT_EPOCHS, lr=QAT_LR)
        return convert_keras(qat, optimize=True)

    # qat_maximum_output.tflite: Maximum gets an extra OUTPUT quantizer.
    out["qat_maximum_output"] = qat_with(MaximumOutputQuantizeConfig, SEED_B + 1)
    # qat_maximum_noop.tflite: Maximum gets a no-op config.
    out["qat_maximum_noop"] = qat_with(MaximumNoOpQuantizeConfig, SEED_B + 2)
    return out


def fixture_lstm():
    """lstm.tflite: Keras LSTM -> fused UNIDIRECTIONAL_SEQUENCE_LSTM (float)."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(99)
    # A static batch size is required: with batch=None the Keras LSTM's
    # TensorList ops have a dynamic element shape and the converter refuses to
    # lower them (it asks for Select TF ops) instead of fusing the LSTM.
    inp = keras.Input(shape=(8, 4), batch_size=1, name="seq")
    x = keras.layers.LSTM(8, name="lstm")(inp)
    out = keras.layers.Dense(2, name="head")(x)
    model = keras.Model(inp, out, name="lstm_net")
    rng = np.random.default_rng(31)
    xs = rng.standard_normal((128, 8, 4)).astype(np.float32)
    ys = np.stack([xs[:, :, 0].sum(1), xs[:, -1, 1]], axis=1).astype(np.float32)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    model.fit(xs, ys, batch_size=32, epochs=1, shuffle=False, verbose=0)
    return {"lstm": convert_keras(model)}


class ControlFlow(tf.Module):
    """Two tf.functions, exported as two signatures.

    `serving_default`: tf.while_loop with a data-dependent trip count (input
    `n`), so it cannot be unrolled -> WHILE op with cond/body subgraphs.
    `branch`: tf.cond on a predicate computed from the input -> IF op with
    then/else subgraphs.
    """

    def __init__(self):
        super().__init__()
        self.w = tf.constant(np.linspace(-1.0, 1.0, 16, dtype=np.float32).reshape(4, 4))

    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32, name="x"),
                                  tf.TensorSpec([], tf.int32, name="n")])
    def loop(self, x, n):
        def cond(i, acc):
            return i < n

        def body(i, acc):
            return i + 1, tf.tanh(tf.matmul(acc, self.w) + 0.5)

        _, y = tf.while_loop(cond, body, [tf.constant(0), x])
        return {"y": y}

    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32, name="x")])
    def branch(self, x):
        pred = tf.reduce_sum(x) > 0.0
        # NOTE: the then-branch deliberately has a bias.  With TF 2.21 a bare
        # relu(matmul(x, w)) inside an IF branch is converted to a single
        # BATCH_MATMUL named "cond/MatMul;cond/Relu" and the ReLU is silently
        # lost (checked numerically); matmul+bias+relu becomes a proper
        # FULLY_CONNECTED with fused RELU.
        y = tf.cond(pred,
                    lambda: tf.nn.relu(tf.matmul(x, self.w) + 0.25),
                    lambda: tf.sigmoid(x) * 3.0 - 1.0)
        return {"y": y}


def fixture_control_flow(tmp):
    module = ControlFlow()
    path = os.path.join(tmp, "control_flow_sm")
    tf.saved_model.save(module, path, signatures={
        "serving_default": module.loop.get_concrete_function(),
        "branch": module.branch.get_concrete_function()})
    conv = tf.lite.TFLiteConverter.from_saved_model(
        path, signature_keys=["serving_default", "branch"])
    return {"control_flow": conv.convert()}


class SelectOps(tf.Module):
    """A TF op without a TFLite builtin (MatrixDeterminant) -> Flex custom op."""

    @tf.function(input_signature=[tf.TensorSpec([1, 3, 3], tf.float32, name="m")])
    def serve(self, m):
        d = tf.linalg.det(m * 2.0)          # -> CUSTOM "FlexMatrixDeterminant"
        return {"det": d + 1.0}             # builtin ops around it


def fixture_select_tf_ops(tmp):
    module = SelectOps()
    path = os.path.join(tmp, "select_sm")
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve.get_concrete_function()})
    conv = tf.lite.TFLiteConverter.from_saved_model(path)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    return {"select_tf_ops": conv.convert()}


# ----------------------------------------------------------------------------
# Plan networks: models where tfmot's default quantize_model does
# NOT reproduce PTQ's quantizer placement.  Built AFTER every older fixture
# (and after keras.backend.clear_session()), with explicit layer names, so the
# older fixtures' bytes do not move.
# ----------------------------------------------------------------------------
SEED_DATA_PLAN, SEED_REP_PLAN = 14, 24
PLAN_LR = 1e-2           # float training: 2 epochs, like net A
PLAN_QAT_LR = 1e-4       # QAT fine-tuning: ONE epoch (8 steps), see testdata/README.md


@keras.utils.register_keras_serializable(package="tflq_fixtures")
class ChannelSplit(keras.layers.Layer):
    """A layer with TWO outputs: the channels cut in two halves (tf.split).

    Registered as serializable so clone_model / quantize_apply can rebuild it
    from its config without a custom_objects dict.
    """

    def call(self, inputs):
        a, b = tf.split(inputs, 2, axis=-1)
        return [a, b]

    def compute_output_shape(self, input_shape):
        half = tf.TensorShape(input_shape).as_list()
        half[-1] //= 2
        return [tf.TensorShape(half), tf.TensorShape(half)]


def _head(x, pool="gap"):
    """Shared classifier head: pooling, Dense(10) "fc", Softmax "softmax"."""
    if pool == "gap":
        x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    else:
        x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(NUM_CLASSES, name="fc")(x)
    return keras.layers.Softmax(name="softmax")(x)


def build_plan_eltwise():
    """Element-wise layers tfmot's registry lacks: Multiply, Subtract, Maximum, Minimum."""
    inp = keras.Input(shape=IMG_SHAPE, name="input")
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inp)
    a = keras.layers.Conv2D(8, 1, name="proj_a")(x)
    b = keras.layers.Conv2D(8, 1, name="proj_b")(x)
    m = keras.layers.Multiply(name="mul")([a, b])
    s = keras.layers.Subtract(name="sub")([a, b])
    hi = keras.layers.Maximum(name="max")([m, s])
    lo = keras.layers.Minimum(name="min")([m, s])
    x = keras.layers.Add(name="add")([hi, lo])
    return keras.Model(inp, _head(x), name="plan_eltwise")


def build_plan_preproc():
    """Input preprocessing layers at the model input (raw pixels 0..255)."""
    inp = keras.Input(shape=IMG_SHAPE, name="input")
    x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(inp)
    x = keras.layers.Normalization(mean=[0.5, 0.5, 0.5], variance=[1.0 / 12] * 3,
                                   name="normalize")(x)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv1")(x)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.Conv2D(16, 3, activation="relu", name="conv2")(x)
    return keras.Model(inp, _head(x), name="plan_preproc")


def build_plan_twoout():
    """A custom layer with two outputs feeding two branches."""
    inp = keras.Input(shape=IMG_SHAPE, name="input")
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inp)
    a, b = ChannelSplit(name="split")(x)
    a = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="branch_a")(a)
    b = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu", name="branch_b_dw")(b)
    b = keras.layers.Conv2D(8, 1, name="branch_b_pw")(b)
    x = keras.layers.Add(name="merge")([a, b])
    x = keras.layers.MaxPooling2D(name="pool")(x)
    return keras.Model(inp, _head(x, pool="flatten"), name="plan_twoout")


def build_plan_residual():
    """Residual block (Add + ReLU) and a skip Concatenate."""
    inp = keras.Input(shape=IMG_SHAPE, name="input")
    stem = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="stem")(inp)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="res_conv1")(stem)
    x = keras.layers.Conv2D(8, 3, padding="same", name="res_conv2")(x)
    x = keras.layers.Add(name="res_add")([x, stem])
    x = keras.layers.ReLU(name="res_relu")(x)
    x = keras.layers.Concatenate(name="skip_concat")([x, stem])
    x = keras.layers.Conv2D(16, 1, activation="relu", name="mix")(x)
    return keras.Model(inp, _head(x), name="plan_residual")


def build_plan_upsample():
    """UpSampling2D (nearest and bilinear) and Conv2DTranspose."""
    inp = keras.Input(shape=IMG_SHAPE, name="input")
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="down")(inp)
    x = keras.layers.UpSampling2D(2, name="up_nearest")(x)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="mid")(x)
    x = keras.layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu",
                                     name="deconv")(x)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.UpSampling2D(2, interpolation="bilinear", name="up_bilinear")(x)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="head_conv")(x)
    return keras.Model(inp, _head(x), name="plan_upsample")


def build_plan_samescale():
    """A chain of same-scale ops: pad, max-pool, crop, permute, slice, transpose, reshape."""
    inp = keras.Input(shape=IMG_SHAPE, name="input")
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv1")(inp)              # 14x14
    x = keras.layers.ZeroPadding2D(1, name="pad")(x)                                  # 16x16
    x = keras.layers.MaxPooling2D(name="pool")(x)                                     # 8x8
    x = keras.layers.Cropping2D(1, name="crop")(x)                                    # 6x6
    x = keras.layers.Permute((2, 1, 3), name="permute")(x)
    x = keras.layers.Lambda(lambda t: t[:, 1:, 1:, :], name="slice")(x)               # 5x5
    x = keras.layers.Lambda(lambda t: tf.transpose(t, (0, 2, 1, 3)), name="transpose")(x)
    x = keras.layers.Reshape((25, 8), name="reshape")(x)
    return keras.Model(inp, _head(x, pool="flatten"), name="plan_samescale")


def build_plan_bn():
    """BatchNormalization after Conv2D and DepthwiseConv2D, in foldable and unfoldable spots."""
    inp = keras.Input(shape=IMG_SHAPE, name="input")
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv1")(inp)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU(name="relu1")(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = keras.layers.BatchNormalization(name="dw_bn")(x)
    x = keras.layers.ReLU(6.0, name="dw_relu6")(x)
    x = keras.layers.Conv2D(16, 1, name="pw")(x)
    x = keras.layers.BatchNormalization(name="pw_bn")(x)
    x = keras.layers.Conv2D(16, 3, activation="relu", name="conv_act")(x)
    x = keras.layers.BatchNormalization(name="post_bn")(x)
    return keras.Model(inp, _head(x), name="plan_bn")


def build_plan_mobilenet():
    """keras.applications MobileNetV3Small backbone (smallest width, 32x32 input, random init)
    with a Dense(10) "fc" + Softmax head on its pooled features.

    The backbone is used whole and flat (its input and output tensors, no nested model): its own
    Rescaling, hard-swish (TFOpLambda add/multiply + ReLU(6) + Multiply) and squeeze-excite
    blocks are what tfmot's default registry cannot handle.  include_top=False leaves out the
    576->1024 1x1 conv of the classifier top, which would triple the file size.
    """
    base = keras.applications.MobileNetV3Small(
        input_shape=(32, 32, 3), alpha=0.35, include_top=False, pooling="avg", weights=None)
    x = keras.layers.Dense(NUM_CLASSES, name="fc")(base.output)
    out = keras.layers.Softmax(name="softmax")(x)
    return keras.Model(base.input, out, name="plan_mobilenet")


def _x16(x):
    return x


def _x255(x):
    return x * np.float32(255.0)


def _x32(x):
    return np.repeat(np.repeat(x, 2, axis=1), 2, axis=2)


# name -> (builder, float-training seed, transform of the 16x16 [0,1) images)
PLAN_NETS = {
    "eltwise": (build_plan_eltwise, 3001, _x16),
    "preproc": (build_plan_preproc, 3002, _x255),
    "twoout": (build_plan_twoout, 3003, _x16),
    "residual": (build_plan_residual, 3004, _x16),
    "upsample": (build_plan_upsample, 3005, _x16),
    "samescale": (build_plan_samescale, 3006, _x16),
    "bn": (build_plan_bn, 3007, _x16),
    "mobilenet": (build_plan_mobilenet, 3008, _x32),
}


def plan_data(net, seed_data=SEED_DATA_PLAN, n=N_TRAIN):
    x, y = make_images(seed_data, n)
    return PLAN_NETS[net][2](x), y


def plan_representative(net, seed=SEED_REP_PLAN, n=48):
    x, _ = plan_data(net, seed, n)

    def gen():
        for i in range(n):
            yield [x[i:i + 1]]
    return gen


def fit_plan(model, net, epochs, lr):
    x, y = plan_data(net)
    model.compile(optimizer=keras.optimizers.Adam(lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=["accuracy"])
    model.fit(x, y, batch_size=32, epochs=epochs, shuffle=False, verbose=0)
    return model


def train_plan_float(net):
    builder, seed, _ = PLAN_NETS[net]
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    return fit_plan(builder(), net, epochs=2, lr=PLAN_LR)


# What tfmot's default quantize_model does on each plan network (checked on every run, so a
# tfmot/TF upgrade that changes it is noticed): the exception type it raises, or None when it
# converts (then plan_<net>_qat_default.tflite is written).
PLAN_DEFAULT_EXPECTED = {
    "eltwise": "RuntimeError",      # Multiply not supported
    "preproc": "RuntimeError",      # Rescaling not supported
    "twoout": "RuntimeError",       # custom ChannelSplit not supported
    "residual": None,
    "upsample": None,
    "samescale": "ValueError",      # tf_keras safe mode refuses the Lambda layers' Python lambdas
    "bn": "RuntimeError",           # BatchNormalization after a conv with an activation
    "mobilenet": "AttributeError",  # QuantizeAnnotate cannot re-call a TFOpLambda
}
PLAN_DEFAULT_RESULTS = {}           # net -> "converts" or "<Exception>: <message>"


def fixtures_plan(plan_models):
    """plan_<net>_ptq (full-integer PTQ, float I/O) and, where tfmot's default quantize_model
    works, plan_<net>_qat_default (fine-tuned one epoch, QAT conversion)."""
    out = {}
    for net, (_, seed, _) in PLAN_NETS.items():
        model = train_plan_float(net)
        plan_models[net] = model
        out[f"plan_{net}_ptq"] = convert_keras(model, optimize=True, rep=plan_representative(net))
        keras.backend.clear_session()
        keras.utils.set_random_seed(seed + 100)
        try:
            qat = quantize.quantize_model(clone_with_weights(model))
        except Exception as e:  # noqa: BLE001 -- recorded and checked against PLAN_DEFAULT_EXPECTED
            PLAN_DEFAULT_RESULTS[net] = f"{type(e).__name__}: {' '.join(str(e).split())}"
            continue
        PLAN_DEFAULT_RESULTS[net] = "converts"
        fit_plan(qat, net, epochs=1, lr=PLAN_QAT_LR)
        out[f"plan_{net}_qat_default"] = convert_keras(qat, optimize=True)
    return out


# ----------------------------------------------------------------------------
# The closed loop: tflq plan -> Python module -> tfmot QAT -> conversion -> tflq compare.
# ----------------------------------------------------------------------------
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tflq_binary():
    """$TFLQ, default target/release/tflq; a relative path is taken from the repository root."""
    path = os.environ.get("TFLQ", os.path.join("target", "release", "tflq"))
    return path if os.path.isabs(path) else os.path.join(REPO_ROOT, path)


def load_plan_module(net, ptq_path, tmp):
    """The plan module for one network: made by `tflq plan`, or, for development only while
    `tflq plan` does not exist, read from $TFLQ_PLAN_DIR/plan_<net>.py."""
    plan_dir = os.environ.get("TFLQ_PLAN_DIR")
    if plan_dir:
        path = os.path.join(plan_dir, f"plan_{net}.py")
    else:
        path = os.path.join(tmp, f"plan_{net}.py")
        subprocess.run([tflq_binary(), "plan", ptq_path, "--format", "python", "-o", path], check=True)
    spec = importlib.util.spec_from_file_location(f"tflq_plan_{net}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, path


def closed_loop(plan_models, out_dir, tmp):
    """For each plan network: plan module -> quantize_model(float model) -> one epoch of QAT ->
    QAT conversion.  Returns {plan_<net>_planned: bytes}.  A module may list in CALIBRATE the
    layers whose int8 tensors tfmot cannot give a range (one Keras layer lowered to several int8
    ops, or a TFOpLambda); then the QAT model is converted with the representative dataset too,
    so the converter calibrates exactly those tensors (fake-quant ranges are kept)."""
    out = {}
    for net, (_, seed, _) in PLAN_NETS.items():
        module, path = load_plan_module(net, os.path.join(out_dir, f"plan_{net}_ptq.tflite"), tmp)
        keras.backend.clear_session()
        keras.utils.set_random_seed(seed + 200)
        qat = module.quantize_model(plan_models[net])
        fit_plan(qat, net, epochs=1, lr=PLAN_QAT_LR)
        calibrate = list(getattr(module, "CALIBRATE", []))
        out[f"plan_{net}_planned"] = convert_keras(
            qat, optimize=True, rep=plan_representative(net) if calibrate else None)
        print(f"  plan_{net}: {path}" + (f" (calibrates {len(calibrate)} layer(s))" if calibrate else ""))
    return out


def tflq_compare(ptq_path, qat_path, fmt):
    return subprocess.run([tflq_binary(), "compare", ptq_path, qat_path, "--format", fmt],
                          capture_output=True, text=True, check=True).stdout


def annotate_by_name(model, configs=None, skip=()):
    """Clone `model` (with its weights) and annotate every layer for QAT, except InputLayers and
    the layers named in `skip` (left float); `configs` maps a layer name to a QuantizeConfig
    instance, the other layers get tfmot's registry default."""
    configs = configs or {}
    base = clone_with_weights(model)

    def wrap(layer):
        if isinstance(layer, keras.layers.InputLayer) or layer.name in skip:
            return layer
        return quantize.quantize_annotate_layer(layer, quantize_config=configs.get(layer.name))
    annotated = keras.models.clone_model(base, clone_function=wrap)
    annotated.set_weights(base.get_weights())
    return annotated


def apply_annotations(annotated, scheme=None):
    """quantize_apply inside a scope that knows this script's QuantizeConfig classes."""
    scope = {c.__name__: c for c in (MaximumNoOpQuantizeConfig, MaximumOutputQuantizeConfig)}
    with quantize.quantize_scope(scope):
        if scheme is None:
            return quantize.quantize_apply(annotated)
        return quantize.quantize_apply(annotated, scheme=scheme)


# ----------------------------------------------------------------------------
# Advice fixtures: real QAT variants that bring `tflq compare`
# to each advice situation.  Each is paired with the PTQ file of the same
# network (ptq_int8 for net A, plan_<net>_ptq for a plan network).
# ----------------------------------------------------------------------------
ADVICE_PAIRS = {
    "advice_untrained_qat": "ptq_int8",
    "advice_unsupported_float_qat": "plan_eltwise_ptq",
    "advice_float_input_qat": "ptq_int8",
    "advice_bn_unfolded_qat": "ptq_int8",
    "advice_concat_requantize_qat": "plan_residual_ptq",
    "advice_per_tensor_qat": "plan_twoout_ptq",
    "advice_per_tensor_bn_qat": "ptq_int8",
    "advice_io_int8_qat": "ptq_int8",
    "advice_round_trip_qat": "ptq_int8",
}
ADVICE_QAT_EPOCHS = QAT_EPOCHS   # trained ranges (see QAT_EPOCHS): only the untrained one keeps [-6, 6]


def fixtures_advice(plan_models, qat_epochs=ADVICE_QAT_EPOCHS):
    """The advice fixtures; `plan_models` holds the trained float plan networks (net A, trained
    here, is added to it as "net_a" for the fixtures built after the closed loop).  The
    annotations below are repeated as data in partial_recipes: change both together."""
    out = {}
    # net A again, trained exactly as in fixtures_net_a (same seeds, same data): the PTQ file
    # these are compared with is ptq_int8 (main() checks that this model converts to the same bytes).
    net_a = train_float(build_net_a, SEED_A, SEED_DATA_A)
    plan_models["net_a"] = net_a
    out["_net_a_ptq_again"] = convert_keras(net_a, optimize=True, rep=representative_dataset(SEED_REP_A))

    def start(seed):
        keras.backend.clear_session()
        keras.utils.set_random_seed(seed)

    def fit_a(qat):
        return compile_and_fit(qat, SEED_DATA_A, epochs=qat_epochs, lr=QAT_LR)

    def fit_net(qat, net):
        return fit_plan(qat, net, epochs=qat_epochs, lr=QAT_LR)

    # Quantizers never trained: net A converted right after quantize_model.
    start(5001)
    out["advice_untrained_qat"] = convert_keras(
        quantize.quantize_model(clone_with_weights(net_a)), optimize=True)

    # The unsupported element-wise layers (Multiply, Subtract, Maximum, Minimum) left
    # unannotated, every supported layer annotated: what a user gets after quantize_model raised.
    start(5002)
    qat = apply_annotations(annotate_by_name(plan_models["eltwise"], skip={"mul", "sub", "max", "min"}))
    out["advice_unsupported_float_qat"] = convert_keras(fit_net(qat, "eltwise"), optimize=True)

    # The first layers (conv1, bn1, relu1) unannotated: no quantize_layer after the input, the
    # model starts in float and is quantized after relu1 (its output-only boundary quantizer).
    start(5003)
    qat = apply_annotations(annotate_by_name(net_a, skip={"conv1", "bn1", "relu1"}))
    out["advice_float_input_qat"] = convert_keras(fit_a(qat), optimize=True)

    # BatchNormalization unannotated between an annotated conv1 and relu1: no Conv+BN fold.
    start(5004)
    qat = apply_annotations(annotate_by_name(net_a, skip={"bn1"}))
    out["advice_bn_unfolded_qat"] = convert_keras(fit_a(qat), optimize=True)

    # tfmot's default on the residual net, trained: the stem conv keeps its own output range,
    # the Concatenate gets another one, so the converter requantizes in front of CONCATENATION.
    start(5005)
    qat = quantize.quantize_model(clone_with_weights(plan_models["residual"]))
    out["advice_concat_requantize_qat"] = convert_keras(fit_net(qat, "residual"), optimize=True)

    # Per-tensor conv and depthwise weights (tfmot scheme with disable_per_axis=True) on the
    # two-output net (its ChannelSplit gets a no-quantizer config, as in its plan).
    start(5006)
    qat = apply_annotations(annotate_by_name(plan_models["twoout"],
                                             configs={"split": MaximumNoOpQuantizeConfig()}),
                            scheme=quantize.default_8bit.Default8BitQuantizeScheme(disable_per_axis=True))
    out["advice_per_tensor_qat"] = convert_keras(fit_net(qat, "twoout"), optimize=True)

    # The same scheme on net A: with per-tensor kernel quantizers the Conv+BN fold of conv1 no
    # longer yields int8 weights and the converter keeps conv1 in float.
    start(5007)
    qat = apply_annotations(annotate_by_name(net_a),
                            scheme=quantize.default_8bit.Default8BitQuantizeScheme(disable_per_axis=True))
    out["advice_per_tensor_bn_qat"] = convert_keras(fit_a(qat), optimize=True)

    # I/O type: the default QAT net A converted with int8 model input and output.
    start(5008)
    qat = fit_a(quantize.quantize_model(clone_with_weights(net_a)))
    out["advice_io_int8_qat"] = convert_keras(qat, optimize=True, in_type=tf.int8, out_type=tf.int8)

    # A QUANTIZE -> DEQUANTIZE round trip between two float ops: conv2, flatten, fc2 and softmax
    # unannotated; fc1 annotated, so it gets an output quantizer but, with no range on its input
    # (flatten has none), runs in float itself.
    start(5009)
    qat = apply_annotations(annotate_by_name(net_a, skip={"conv2", "flatten", "fc2", "softmax"}))
    out["advice_round_trip_qat"] = convert_keras(fit_a(qat), optimize=True)
    return out


# ----------------------------------------------------------------------------
# Built after everything above, the closed loop included, so that no older
# fixture moves.  Every step starts with keras.backend.clear_session() and a seed of its own.
# ----------------------------------------------------------------------------
class _CulpritConfig(quantize.QuantizeConfig):
    """The QuantizeConfig a `tflq compare` culprit action names, built as the action reads:
    WEIGHTS: a per-axis symmetric 8-bit LastValueQuantizer on the layer's `depthwise_kernel` or
    `kernel` (when it has one); OUTPUT: one 8-bit asymmetric MovingAverageQuantizer on the
    output.  No activation quantizers.  Without either it is the no-quantizer config."""

    WEIGHTS = False
    OUTPUT = False

    def _weight_names(self, layer):
        if not self.WEIGHTS:
            return []
        return [n for n in ("depthwise_kernel", "kernel") if hasattr(layer, n)][:1]

    def get_weights_and_quantizers(self, layer):
        return [(getattr(layer, n), quantize.quantizers.LastValueQuantizer(
            num_bits=8, per_axis=True, symmetric=True, narrow_range=True))
            for n in self._weight_names(layer)]

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        for n, w in zip(self._weight_names(layer), quantize_weights):
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


class CulpritOutputConfig(_CulpritConfig):
    """action `output`: weights per-axis (if any) and an output quantizer."""
    WEIGHTS = True
    OUTPUT = True


class CulpritWeightsOnlyConfig(_CulpritConfig):
    """action `weights-only`: weight quantizers only."""
    WEIGHTS = True


class CulpritNoQuantizerConfig(_CulpritConfig):
    """action `no-quantizer`: no quantizer at all."""


CONFIG_SCOPE = {c.__name__: c for c in (MaximumNoOpQuantizeConfig, MaximumOutputQuantizeConfig,
                                        CulpritOutputConfig, CulpritWeightsOnlyConfig,
                                        CulpritNoQuantizerConfig)}
# action -> what to put in the annotation: a config class, None (tfmot's registry default),
# "unannotated", or "unsupported" (left as it is, recorded).
CULPRIT_ACTIONS = {
    "default": None,
    "output": CulpritOutputConfig,
    "no-quantizer": CulpritNoQuantizerConfig,
    "weights-only": CulpritWeightsOnlyConfig,
    "float": "unannotated",
    "unsupported": "unsupported",
}
PLACEMENT_KINDS = ("add-quantizer", "remove-quantizer")


def _all_layers(model, skip=()):
    """Every layer but the InputLayers and `skip`, with tfmot's registry default."""
    return {layer.name: None for layer in model.layers
            if not isinstance(layer, keras.layers.InputLayer) and layer.name not in skip}


def partial_recipes(models):
    """The annotation of every partially annotated QAT fixture above, as data, so that
    follow_advice can change it and rebuild it exactly as it was made: the float model, the PTQ
    file compare pairs it with, the seed set before annotating, the annotation ({layer:
    QuantizeConfig class or None for the registry default}; layers not in it stay unannotated),
    the quantize scheme, the fine-tuning and the conversion's I/O types.  Mirrors
    fixtures_net_a (qat_partial) and fixtures_advice; quantize_model is written as "every layer
    with the registry default"."""
    net_a = models["net_a"]
    per_tensor = lambda: quantize.default_8bit.Default8BitQuantizeScheme(disable_per_axis=True)  # noqa: E731

    def fit_a(qat):
        return compile_and_fit(qat, SEED_DATA_A, epochs=QAT_EPOCHS, lr=QAT_LR)

    def fit_net(net):
        return lambda qat: fit_plan(qat, net, epochs=ADVICE_QAT_EPOCHS, lr=QAT_LR)

    def recipe(model, ptq, seed, annotation, fit, scheme=None, convert=None):
        return {"model": model, "ptq": ptq, "seed": seed, "annotation": annotation, "fit": fit,
                "scheme": scheme, "convert": convert or {}}

    return {
        "qat_partial": recipe(net_a, "ptq_int8", SEED_A + 2,
                              {n: None for n in ("conv1", "conv2", "fc1", "fc2")}, fit_a),
        "advice_untrained_qat": recipe(net_a, "ptq_int8", 5001, _all_layers(net_a), None),
        "advice_unsupported_float_qat": recipe(
            models["eltwise"], "plan_eltwise_ptq", 5002,
            _all_layers(models["eltwise"], skip={"mul", "sub", "max", "min"}), fit_net("eltwise")),
        "advice_float_input_qat": recipe(net_a, "ptq_int8", 5003,
                                         _all_layers(net_a, skip={"conv1", "bn1", "relu1"}), fit_a),
        "advice_bn_unfolded_qat": recipe(net_a, "ptq_int8", 5004, _all_layers(net_a, skip={"bn1"}), fit_a),
        "advice_concat_requantize_qat": recipe(models["residual"], "plan_residual_ptq", 5005,
                                               _all_layers(models["residual"]), fit_net("residual")),
        "advice_per_tensor_qat": recipe(
            models["twoout"], "plan_twoout_ptq", 5006,
            dict(_all_layers(models["twoout"]), split=MaximumNoOpQuantizeConfig), fit_net("twoout"),
            scheme=per_tensor),
        "advice_per_tensor_bn_qat": recipe(net_a, "ptq_int8", 5007, _all_layers(net_a), fit_a,
                                           scheme=per_tensor),
        "advice_io_int8_qat": recipe(net_a, "ptq_int8", 5008, _all_layers(net_a), fit_a,
                                     convert={"in_type": tf.int8, "out_type": tf.int8}),
        "advice_round_trip_qat": recipe(net_a, "ptq_int8", 5009,
                                        _all_layers(net_a, skip={"conv2", "flatten", "fc2", "softmax"}),
                                        fit_a),
    }


def fixed_name(name):
    """qat_partial -> qat_partial_fixed, advice_<situation>_qat -> advice_<situation>_fixed_qat."""
    return name[:-len("_qat")] + "_fixed_qat" if name.endswith("_qat") else name + "_fixed"


def build_annotated_qat(r, annotation):
    """Rebuild a recipe's QAT model with `annotation`: same seed, scheme, fine-tuning, conversion."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(r["seed"])
    base = clone_with_weights(r["model"])

    def wrap(layer):
        if isinstance(layer, keras.layers.InputLayer) or layer.name not in annotation:
            return layer
        config = annotation[layer.name]
        return quantize.quantize_annotate_layer(layer, quantize_config=config() if config else None)
    annotated = keras.models.clone_model(base, clone_function=wrap)
    annotated.set_weights(base.get_weights())
    with quantize.quantize_scope(CONFIG_SCOPE):
        if r["scheme"] is None:
            qat = quantize.quantize_apply(annotated)
        else:
            qat = quantize.quantize_apply(annotated, scheme=r["scheme"]())
    if r["fit"] is not None:
        r["fit"](qat)
    return convert_keras(qat, optimize=True, **r["convert"])


def placement_findings(result):
    return [f for f in result["findings"] if f["kind"] in PLACEMENT_KINDS]


def describe_finding(f):
    culprits = ", ".join(f"{c['layer']} -> {c['action']}"
                         + (" (annotated)" if c["annotated"] else "")
                         + (f" (folded into {c['folded_into']})" if c["folded_into"] else "")
                         for c in f.get("culprits", [])) or "no culprits"
    return f"{f['kind']} at {f['layer']}: {culprits}"


def follow_advice(models, out_dir):
    """Advice followed once converges: for every partial QAT fixture whose compare
    with its PTQ file has add-/remove-quantizer findings, change the original annotation as
    those findings' culprits say, literally (CULPRIT_ACTIONS), keep everything else, rebuild and
    convert.  Returns ({fixed name: bytes}, [record per fixture]); main() compares each result."""
    out, records = {}, []
    for name, r in partial_recipes(models).items():
        result = json.loads(tflq_compare(os.path.join(out_dir, r["ptq"] + ".tflite"),
                                         os.path.join(out_dir, name + ".tflite"), "json"))
        findings = placement_findings(result)
        if not findings:
            continue
        layers = {layer.name for layer in r["model"].layers}
        annotation = dict(r["annotation"])
        rec = {"name": name, "ptq": r["ptq"], "fixed": fixed_name(name),
               "culprits": [describe_finding(f) for f in findings],
               "changed": [], "unsupported": [], "not_in_model": []}
        for f in findings:
            for c in f.get("culprits", []):
                layer, todo = c["layer"], CULPRIT_ACTIONS[c["action"]]
                if layer not in layers:
                    rec["not_in_model"].append(layer)
                elif todo == "unsupported":
                    rec["unsupported"].append(layer)
                elif todo == "unannotated":
                    annotation.pop(layer, None)
                else:
                    annotation[layer] = todo
        rec["changed"] = [f"{n}: {_annotation_word(r['annotation'], n)} -> {_annotation_word(annotation, n)}"
                          for n in sorted(set(r["annotation"]) | set(annotation))
                          if r["annotation"].get(n, "-") != annotation.get(n, "-")]
        records.append(rec)
        if not rec["changed"]:      # nothing to follow: the rebuild would be the original
            continue
        try:
            out[rec["fixed"]] = build_annotated_qat(r, annotation)
        except Exception as e:  # noqa: BLE001 -- reported: the advice does not even build
            rec["error"] = f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"
    return out, records


def _annotation_word(annotation, layer):
    if layer not in annotation:
        return "unannotated"
    return "default" if annotation[layer] is None else annotation[layer].__name__


# Clipping: QAT net A fine-tuned on inputs scaled by CLIP_INPUT_SCALE, so its moving
# averages narrow to ~1/10 of the ranges PTQ calibrated on the normal data.  Two things are needed
# besides the scaled data (both checked, see testdata/README.md):
#  * bn1 is frozen (trainable = False, so it normalizes with its moving statistics as in PTQ).
#    In training mode BN normalizes by the batch statistics and undoes the input scale: with bn1
#    training, every range after it stayed as wide as in qat_full (relu1 [-0.02, 4.0]).
#  * a 10x smaller learning rate (CLIP_QAT_LR): with QAT_LR the weights grow back over the 6400
#    steps (relu1 0.50 wide instead of 0.15, 0.30x PTQ's width: not below the 1/4 threshold).
# The EMA (decay 0.999 per step) must also forget tfmot's initial [-6, 6]: after
# CLIP_QAT_EPOCHS x 8 steps 0.999**6400 (0.2 %) of it is left.
CLIP_INPUT_SCALE = np.float32(0.1)
CLIP_QAT_EPOCHS = 800
CLIP_QAT_LR = 1e-5


def fixture_clipping(models, epochs=CLIP_QAT_EPOCHS):
    keras.backend.clear_session()
    keras.utils.set_random_seed(5101)
    qat = quantize.quantize_model(clone_with_weights(models["net_a"]))
    for layer in qat.layers:        # freeze bn1 (inside its QuantizeWrapper)
        if _is_batchnorm(getattr(layer, "layer", None)):
            layer.layer.trainable = False
    x, y = make_images(SEED_DATA_A, N_TRAIN)
    qat.compile(optimizer=keras.optimizers.Adam(CLIP_QAT_LR),
                loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    qat.fit(x * CLIP_INPUT_SCALE, y, batch_size=32, epochs=epochs, shuffle=False, verbose=0)
    return {"advice_clipping_qat": convert_keras(qat, optimize=True)}


def _is_batchnorm(layer):
    return isinstance(layer, keras.layers.BatchNormalization)


def fixture_mobilenet_bn(models, out_dir, tmp, epochs=1):
    """The plan_mobilenet network annotated as `tflq plan` says, EXCEPT its 34
    BatchNormalization layers, which are left unannotated: nothing folds them, so QAT keeps them as
    float MUL/ADD.  Fine-tuned like plan_mobilenet_planned (one epoch) and converted WITHOUT the
    representative dataset: with it (what the plan's CALIBRATE asks for) the converter calibrates
    the BN tensors too and runs every MUL/ADD in int8 (checked: 293 768 B, compare finds only
    structure-mismatch), which is not the float-BN case wanted here.  Without it the plan's
    CALIBRATE layers (rescaling, the TFOpLambda multiplies) run in float as well."""
    model = models["mobilenet"]
    module, _ = load_plan_module("mobilenet", os.path.join(out_dir, "plan_mobilenet_ptq.tflite"), tmp)
    bn = sorted(layer.name for layer in model.layers if _is_batchnorm(layer))
    module.PLAN = {k: v for k, v in module.PLAN.items() if k not in bn}
    module.FLOAT = list(module.FLOAT) + bn
    keras.backend.clear_session()
    keras.utils.set_random_seed(5102)
    qat = module.quantize_model(model)
    fit_plan(qat, "mobilenet", epochs=epochs, lr=PLAN_QAT_LR)
    return {"advice_mobilenet_bn_qat": convert_keras(qat, optimize=True)}, len(bn)


def build_session_net():
    """A small CNN with NO layer names: Keras numbers them per Python session."""
    inp = keras.Input(shape=IMG_SHAPE)
    x = keras.layers.Conv2D(8, 3, activation="relu")(inp)
    x = keras.layers.Conv2D(16, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(NUM_CLASSES)(x)
    return keras.Model(inp, keras.layers.Softmax()(x))


SESSION_NAMES = {   # the auto names each build must get (checked): two different numberings
    "session_first": ["input_1", "conv2d", "conv2d_1", "global_average_pooling2d", "dense", "softmax"],
    "session_second": ["input_2", "conv2d_2", "conv2d_3", "global_average_pooling2d_1", "dense_1",
                       "softmax_1"],
}


def fixtures_sessions():
    """Two sessions: the same network built twice in one session (one clear_session before the
    first build only, so the second gets the next auto numbers), trained and calibrated with
    other seeds and data, full-integer PTQ."""
    keras.backend.clear_session()
    out = {}
    for name, seed, seed_data, seed_rep in (("session_first", 6001, 15, 25),
                                            ("session_second", 6002, 16, 26)):
        keras.utils.set_random_seed(seed)
        model = build_session_net()
        got = [layer.name for layer in model.layers]
        assert got == SESSION_NAMES[name], f"{name}: Keras auto names {got}"
        compile_and_fit(model, seed_data, epochs=2)
        out[name] = convert_keras(model, optimize=True, rep=representative_dataset(seed_rep))
    return out


# ----------------------------------------------------------------------------
# Sanity checks (the reference reading itself lives in tflite_reference.py)
# ----------------------------------------------------------------------------
def _is_const(sg, i):
    return sg["tensors"][i]["buffer_bytes"] > 0


def check_properties(name, ref):
    """Fixture-specific assertions: fail loudly if the converter changed behaviour."""
    sg = ref["subgraphs"][0]
    ops = [o["opcode"] for o in sg["operators"]]
    T = sg["tensors"]

    def out_dt(op):
        return T[op["outputs"][0]]["dtype"]

    def act_in_dt(op):  # dtype of the first non-constant input
        for i in op["inputs"]:
            if i >= 0 and not _is_const(sg, i):
                return T[i]["dtype"]
        return None

    if name == "float":
        assert not any(t["quantization"] for t in T), "float model has quantized tensors"
        assert "QUANTIZE" not in ops and "DEQUANTIZE" not in ops
    elif name == "dynamic_range":
        int8_w = [t for t in T if t["dtype"] == "INT8" and t["buffer_bytes"] >= 1024]
        assert int8_w, "no int8 weight >= 1024 elements"
        assert "QUANTIZE" not in ops
    elif name == "float16":
        assert any(t["dtype"] == "FLOAT16" for t in T) and "DEQUANTIZE" in ops
    elif name in ("ptq_int8", "ptq_int8_retrained"):
        assert ops[0] == "QUANTIZE" and ops[-1] == "DEQUANTIZE"
        assert T[sg["inputs"][0]]["dtype"] == "FLOAT32"
    elif name == "ptq_int8_io":
        assert "QUANTIZE" not in ops and "DEQUANTIZE" not in ops
        assert T[sg["inputs"][0]]["dtype"] == "INT8" and T[sg["outputs"][0]]["dtype"] == "INT8"
    elif name == "ptq_int16x8":
        assert any(t["dtype"] == "INT16" for t in T)
    elif name == "qat_full":
        assert ops[0] == "QUANTIZE" and ops[-1] == "DEQUANTIZE"
        assert all(out_dt(o) == "INT8" for o in sg["operators"][1:-1]), "float op inside qat_full"
        for o in sg["operators"]:   # tfmot quantizes Dense kernels per-tensor
            if o["opcode"] == "FULLY_CONNECTED":
                assert len(T[o["inputs"][1]]["quantization"]["scale"]) == 1, "FC weight not per-tensor"
    elif name == "qat_partial":
        # a float island: DEQUANTIZE, then >= 1 float compute op, then QUANTIZE
        float_compute = [o for o in sg["operators"]
                         if o["opcode"] not in ("QUANTIZE", "DEQUANTIZE")
                         and out_dt(o) == "FLOAT32" and act_in_dt(o) == "FLOAT32"]
        assert float_compute, "qat_partial has no float compute op"
        dq = [k for k, o in enumerate(ops) if o == "DEQUANTIZE"]
        q = [k for k, o in enumerate(ops) if o == "QUANTIZE"]
        assert any(a < b for a in dq for b in q if any(a < c < b for c in
                   [sg["operators"].index(f) for f in float_compute])), \
            "no DEQUANTIZE ... float op ... QUANTIZE island"
        assert any(out_dt(o) == "INT8" and o["opcode"] not in ("QUANTIZE",)
                   for o in sg["operators"]), "qat_partial has no int8 compute op"
    elif name in ("ptq_maximum", "qat_maximum_output", "qat_maximum_noop"):
        requant = [o for o in sg["operators"] if o["opcode"] == "QUANTIZE"
                   and act_in_dt(o) == "INT8" and out_dt(o) == "INT8"]
        if name == "qat_maximum_output":
            assert requant, "expected a requantize QUANTIZE int8->int8"
            requant_out = {o["outputs"][0] for o in requant}
            assert any(o["opcode"] == "MAXIMUM" and requant_out & set(o["inputs"])
                       for o in sg["operators"]), "requantize does not feed the MAXIMUM"
        else:
            assert not requant, "unexpected requantize"
    elif name == "lstm":
        assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in ops
    elif name == "control_flow":
        all_ops = {o["opcode"] for s in ref["subgraphs"] for o in s["operators"]}
        assert {"WHILE", "IF"} <= all_ops, all_ops
        assert len(ref["signatures"]) == 2 and len(ref["subgraphs"]) >= 5
    elif name == "select_tf_ops":
        assert any(o.startswith("CUSTOM:Flex") for o in ops), ops
    elif name.startswith("plan_") and name.endswith(("_ptq", "_planned")):
        assert ops[0] == "QUANTIZE" and ops[-1] == "DEQUANTIZE", ops
        floats = [o["opcode"] for o in sg["operators"][1:-1] if out_dt(o) == "FLOAT32"]
        assert not floats, f"float ops inside: {floats}"
    elif name.endswith("_qat_default"):           # residual, upsample: one requantize PTQ does not have
        assert requantizes(sg), "expected a requantize QUANTIZE int8->int8"
    elif name == "advice_untrained_qat":
        ranges = [(q["scale"][0] * (-128 - q["zero_point"][0]), q["scale"][0] * (127 - q["zero_point"][0]))
                  for t in T if t["dtype"] == "INT8" and t["buffer_bytes"] == 0
                  for q in [t["quantization"]] if q and len(q["scale"]) == 1]
        assert any(abs(lo + 6) < 0.05 and abs(hi - 6) < 0.05 for lo, hi in ranges), "no [-6, 6] range left"
    elif name == "advice_unsupported_float_qat":
        assert {"MUL", "SUB", "MAXIMUM", "MINIMUM"} <= float_ops(sg), float_ops(sg)
    elif name == "advice_float_input_qat":
        assert ops[0] == "CONV_2D" and out_dt(sg["operators"][0]) == "FLOAT32", ops
    elif name == "advice_bn_unfolded_qat":
        assert {"MUL", "ADD"} <= float_ops(sg), float_ops(sg)
    elif name == "advice_concat_requantize_qat":
        outs = {o["outputs"][0] for o in requantizes(sg)}
        assert any(o["opcode"] == "CONCATENATION" and outs & set(o["inputs"]) for o in sg["operators"]), \
            "no requantize feeding CONCATENATION"
    elif name in ("advice_per_tensor_qat", "advice_per_tensor_bn_qat"):
        convs = [o for o in sg["operators"] if o["opcode"] in ("CONV_2D", "DEPTHWISE_CONV_2D")
                 and T[o["inputs"][1]]["dtype"] == "INT8"]
        assert convs and all(len(T[o["inputs"][1]]["quantization"]["scale"]) == 1 for o in convs), \
            "int8 conv weights not per-tensor"
        if name == "advice_per_tensor_bn_qat":
            assert "CONV_2D" in float_ops(sg), "conv1 expected in float"
    elif name == "advice_io_int8_qat":
        assert T[sg["inputs"][0]]["dtype"] == "INT8" and T[sg["outputs"][0]]["dtype"] == "INT8"
    elif name == "advice_round_trip_qat":
        consumers = {}
        for o in sg["operators"]:
            for i in o["inputs"]:
                consumers.setdefault(i, []).append(o["opcode"])
        producer = {o["outputs"][0]: o for o in sg["operators"]}
        assert any(o["opcode"] == "QUANTIZE" and consumers.get(o["outputs"][0]) == ["DEQUANTIZE"]
                   and o["inputs"][0] in producer and out_dt(producer[o["inputs"][0]]) == "FLOAT32"
                   and producer[o["inputs"][0]]["opcode"] != "DEQUANTIZE"
                   for o in sg["operators"]), "no float op -> QUANTIZE -> DEQUANTIZE round trip"
    elif name in ("advice_clipping_qat", "session_first", "session_second"):
        assert ops[0] == "QUANTIZE" and ops[-1] == "DEQUANTIZE", ops
        assert not [o for o in sg["operators"][1:-1] if out_dt(o) == "FLOAT32"], "float op inside"
    elif name == "advice_mobilenet_bn_qat":
        assert {"MUL", "ADD"} <= float_ops(sg), float_ops(sg)


def requantizes(sg):
    """QUANTIZE ops from an integer tensor to an integer tensor."""
    T = sg["tensors"]
    return [o for o in sg["operators"] if o["opcode"] == "QUANTIZE"
            and T[o["inputs"][0]]["dtype"] in ("INT8", "INT16") and T[o["outputs"][0]]["dtype"] in ("INT8", "INT16")]


def float_ops(sg):
    """Opcodes of compute ops (not QUANTIZE/DEQUANTIZE) with a FLOAT32 output."""
    T = sg["tensors"]
    return {o["opcode"] for o in sg["operators"] if o["opcode"] not in ("QUANTIZE", "DEQUANTIZE")
            and T[o["outputs"][0]]["dtype"] == "FLOAT32"}


def interpreter_check(name, path):
    """Load (and, except for Flex models, allocate) with the TFLite interpreter.

    The pip tensorflow package's tf.lite.Interpreter does not apply the Flex
    delegate, so select_tf_ops.tflite is only loaded, not allocated; its Flex
    custom op is asserted in check_properties instead.
    """
    interp = tf.lite.Interpreter(model_path=path)
    if name != "select_tf_ops":
        interp.allocate_tensors()
    if name == "control_flow":
        check_control_flow_numerics(interp)
    return interp


def check_control_flow_numerics(interp):
    """Run both signatures and compare with the math they implement."""
    w = np.linspace(-1.0, 1.0, 16, dtype=np.float32).reshape(4, 4)
    for x in (np.array([[1.0, 0.5, -0.2, 0.3]], np.float32), np.array([[-1.0, -0.5, 0.2, -0.3]], np.float32)):
        got = interp.get_signature_runner("branch")(x=x)["y"]
        want = np.maximum(x @ w + 0.25, 0.0) if x.sum() > 0 else 3.0 / (1.0 + np.exp(-x)) - 1.0
        assert np.allclose(got, want, atol=1e-5), ("branch", got, want)
        y = x.copy()
        for _ in range(3):
            y = np.tanh(y @ w + 0.5)
        got = interp.get_signature_runner("serving_default")(x=x, n=np.array(3, np.int32))["y"]
        assert np.allclose(got, y, atol=1e-5), ("loop", got, y)


# ----------------------------------------------------------------------------
FIXTURE_ORDER = [
    "float", "dynamic_range", "float16", "ptq_int8", "ptq_int8_io",
    "ptq_int8_retrained", "ptq_int16x8", "qat_full", "qat_partial",
    "ptq_maximum", "qat_maximum_output", "qat_maximum_noop",
    "lstm", "control_flow", "select_tf_ops",
]


PLAN_ORDER = ([f"plan_{net}_ptq" for net in PLAN_NETS]
              + [f"plan_{net}_qat_default" for net, exc in PLAN_DEFAULT_EXPECTED.items() if exc is None])
ADVICE_ORDER = list(ADVICE_PAIRS)


def emit(name, data, out_dir, refs, failures):
    """Write <name>.tflite and <name>.ref.json, run the checks, print the op summary."""
    fname = name + ".tflite"
    path = os.path.join(out_dir, fname)
    with open(path, "wb") as f:
        f.write(data)
    ref = reference_reading(fname, data)
    refs[name] = ref
    write_reference(os.path.join(out_dir, name + ".ref.json"), ref)
    try:
        check_properties(name, ref)
    except AssertionError as e:
        failures.append(f"{name}: {e}")
    interp = interpreter_check(name, path)
    nsig = len(interp.get_signature_list())
    cross_check_reference(ref, data, interp)
    ops = " ".join(f"{o}:{d}" for o, d in op_summary(ref))
    print(f"- {fname} ({len(data)} bytes, {len(ref['subgraphs'])} subgraph(s), {nsig} signature(s))")
    print(f"    {ops}")
    for si in range(1, len(ref["subgraphs"])):
        sops = " ".join(f"{o}:{d}" for o, d in op_summary(ref, si))
        print(f"    subgraph {si} ({ref['subgraphs'][si]['name']}): {sops}")
    return len(data)


def _compare_json(out_dir, ptq, qat):
    return json.loads(tflq_compare(os.path.join(out_dir, ptq + ".tflite"),
                                   os.path.join(out_dir, qat + ".tflite"), "json"))


def _snapshot(out_dir, name, *flags):
    return subprocess.run([tflq_binary(), "snapshot", os.path.join(out_dir, name + ".tflite"), *flags],
                          capture_output=True, check=True).stdout


# Size limits of the fixtures built by later_fixtures (bytes of .tflite).
LATE_SIZE_LIMIT = 150_000
LATE_SIZE_LIMIT_MOBILENET = 360_000   # asked: ~300 KB; it is 349 KB, see README


def later_fixtures(models, out_dir, tmp, refs, failures, with_tflq):
    """Built last: advice followed once (needs tflq), clipping, MobileNet with unannotated
    BatchNormalization (needs tflq plan), two sessions.  Emits each fixture, runs its checks
    (failures are fatal, except that advice followed once may not converge: that is printed and
    returned).  Returns (count, bytes, names that did not converge)."""
    count, size, not_converged = 0, 0, []
    have_tflq = os.path.exists(tflq_binary())

    def put(name, data, limit=LATE_SIZE_LIMIT):
        nonlocal count, size
        count += 1
        size += emit(name, bytes(data), out_dir, refs, failures)
        if len(data) >= limit:
            failures.append(f"{name}: {len(data)} bytes, limit {limit}")

    if with_tflq:
        print("\nAdvice followed once: every placement finding's culprits applied to the "
              "original annotation, same fine-tuning, compared again:")
        fixed, records = follow_advice(models, out_dir)
        for rec in records:
            print(f"  {rec['name']} vs {rec['ptq']}:")
            for c in rec["culprits"]:
                print(f"    compare said: {c}")
            for what in ("changed", "unsupported", "not_in_model"):
                if rec[what]:
                    print(f"    {what.replace('_', ' ')}: {'; '.join(rec[what])}")
            if "error" in rec:
                print(f"    NOT CONVERGED: the changed annotation does not build: {rec['error']}")
                not_converged.append(rec["name"])
                continue
            if rec["fixed"] not in fixed:
                print("    NOT CONVERGED: nothing to change (no culprit the script can follow)")
                not_converged.append(rec["name"])
                continue
            put(rec["fixed"], fixed[rec["fixed"]])
            twins = [n for n in refs if n != rec["fixed"]
                     and open(os.path.join(out_dir, n + ".tflite"), "rb").read() == fixed[rec["fixed"]]]
            if twins:
                print(f"    (byte-identical to {', '.join(n + '.tflite' for n in twins)})")
            result = _compare_json(out_dir, rec["ptq"], rec["fixed"])
            if result["placement_matches"] is True:
                print(f"    CONVERGED in one round: {result['verdict']}")
            else:
                print(f"    NOT CONVERGED: {result['verdict']}")
                for f in placement_findings(result):
                    print(f"      remaining: {describe_finding(f)}")
                    print(f"        {f['message']}")
                not_converged.append(rec["name"])

    print("\nClipping:")
    put("advice_clipping_qat", fixture_clipping(models)["advice_clipping_qat"])
    if have_tflq:
        result = _compare_json(out_dir, "ptq_int8", "advice_clipping_qat")
        clipping = [f for f in result["findings"] if f["kind"] == "range-clipping"]
        for f in clipping:
            print(f"    compare: range-clipping at {f['layer']}: {f['message']}")
        if not clipping:
            failures.append("advice_clipping_qat: no range-clipping finding against ptq_int8")

    if with_tflq:
        print("\nMobileNet with unannotated BatchNormalization:")
        data, nbn = fixture_mobilenet_bn(models, out_dir, tmp)
        print(f"    {nbn} BatchNormalization layers left unannotated")
        put("advice_mobilenet_bn_qat", data["advice_mobilenet_bn_qat"], LATE_SIZE_LIMIT_MOBILENET)
        result = _compare_json(out_dir, "plan_mobilenet_ptq", "advice_mobilenet_bn_qat")
        print(f"    compare: comparable {result['comparable']}, same_network {result['same_network']}: "
              f"{result['verdict']}")
        for f in result["findings"]:
            print(f"      {f['kind']} at {f['layer']} ({len(f['places'])} place(s))")
        if result["comparable"] is not True or result["same_network"] is not True:
            failures.append("advice_mobilenet_bn_qat: compare with plan_mobilenet_ptq is not comparable "
                            f"and same_network: {result.get('problem') or result['verdict']}")

    print("\nTwo sessions:")
    for name, data in fixtures_sessions().items():
        put(name, data)
    if have_tflq:
        same = _snapshot(out_dir, "session_first") == _snapshot(out_dir, "session_second")
        exact = (_snapshot(out_dir, "session_first", "--exact-names")
                 != _snapshot(out_dir, "session_second", "--exact-names"))
        print(f"    tflq snapshot identical: {same}; tflq snapshot --exact-names differs: {exact}")
        if not same:
            failures.append("session_first/second: tflq snapshot differs")
        if not exact:
            failures.append("session_first/second: tflq snapshot --exact-names does not differ")
    return count, size, not_converged


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", nargs="?", default=os.path.dirname(os.path.abspath(__file__)),
                        help="where to write the fixtures (default: testdata/)")
    parser.add_argument("--no-closed-loop", action="store_true",
                        help="skip the tflq plan -> QAT -> tflq compare step (plan_<net>_planned.tflite)")
    args = parser.parse_args()
    out_dir = os.path.abspath(args.out_dir)
    os.makedirs(out_dir, exist_ok=True)
    print(f"TensorFlow {tf.__version__}, tf-keras {tf_keras.__version__}, tfmot {tfmot.__version__}, "
          f"numpy {np.__version__}; writing to {out_dir}")

    tmp = tempfile.mkdtemp(prefix="tflq_gen_")
    plan_models = {}
    try:
        models = {}
        models.update(fixtures_net_a())
        models.update(fixtures_net_b())
        models.update(fixture_lstm())
        models.update(fixture_control_flow(tmp))
        models.update(fixture_select_tf_ops(tmp))
        # Everything below is built after the older fixtures, so their bytes do not move.
        models.update(fixtures_plan(plan_models))
        models.update(fixtures_advice(plan_models))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    net_a_again = models.pop("_net_a_ptq_again")
    assert sorted(models) == sorted(FIXTURE_ORDER + PLAN_ORDER + ADVICE_ORDER), sorted(models)

    print("\nSummary (subgraph 0 ops as opcode:output-dtype):")
    total = 0
    failures = []
    refs = {}
    for name in FIXTURE_ORDER + PLAN_ORDER + ADVICE_ORDER:
        total += emit(name, bytes(models[name]), out_dir, refs, failures)
    if structure(refs["ptq_int8"]) != structure(refs["ptq_int8_retrained"]):
        failures.append("ptq_int8_retrained: structure differs from ptq_int8")
    if bytes(net_a_again) != bytes(models["ptq_int8"]):
        failures.append("advice fixtures: net A retrained at the end does not convert to ptq_int8's bytes")
    print("\ntfmot's default quantize_model on the plan networks:")
    for net, expected in PLAN_DEFAULT_EXPECTED.items():
        got = PLAN_DEFAULT_RESULTS[net]
        print(f"  {net}: {got}")
        if (expected is None) != (got == "converts") or (expected and not got.startswith(expected + ":")):
            failures.append(f"plan_{net}: tfmot default expected {expected or 'to convert'}, got {got}")

    tflq = tflq_binary()
    if os.path.exists(tflq):
        print(f"\ntflq compare verdicts ({tflq}):")
        for qat, ptq in ([(f"plan_{n}_qat_default", f"plan_{n}_ptq") for n in PLAN_NETS
                          if f"plan_{n}_qat_default" in models] + list(ADVICE_PAIRS.items())):
            verdict = json.loads(tflq_compare(os.path.join(out_dir, ptq + ".tflite"),
                                              os.path.join(out_dir, qat + ".tflite"), "json"))["verdict"]
            print(f"  {qat} vs {ptq}: {verdict}")

    planned = 0
    if not args.no_closed_loop:
        if not os.path.exists(tflq):
            sys.exit(f"closed loop: no tflq binary at {tflq} (set TFLQ, or run with --no-closed-loop)")
        print("\nClosed loop (plan -> QAT -> compare):" + (
            f" plan modules from TFLQ_PLAN_DIR={os.environ['TFLQ_PLAN_DIR']} (development override)"
            if os.environ.get("TFLQ_PLAN_DIR") else ""))
        tmp = tempfile.mkdtemp(prefix="tflq_plan_")
        try:
            loop = closed_loop(plan_models, out_dir, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        for net in PLAN_NETS:
            name = f"plan_{net}_planned"
            total += emit(name, bytes(loop[name]), out_dir, refs, failures)
            result = json.loads(tflq_compare(os.path.join(out_dir, f"plan_{net}_ptq.tflite"),
                                             os.path.join(out_dir, name + ".tflite"), "json"))
            print(f"    compare: {result['verdict']}")
            if result["placement_matches"] is not True:
                failures.append(f"{name}: placement does not match plan_{net}_ptq: {result['verdict']}")
            planned += 1

    # Built after everything above (the closed loop included).
    tmp = tempfile.mkdtemp(prefix="tflq_late_")
    try:
        late, late_bytes, not_converged = later_fixtures(plan_models, out_dir, tmp, refs, failures,
                                                         with_tflq=not args.no_closed_loop)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    total += late_bytes
    if failures:
        print("\nPROPERTY CHECK FAILURES:\n  " + "\n  ".join(failures))
        sys.exit(1)
    if not_converged:
        print("\nNot fatal -- advice followed once did NOT converge for: " + ", ".join(not_converged)
              + " (see 'Advice followed once' above)")
    count = len(FIXTURE_ORDER) + len(PLAN_ORDER) + len(ADVICE_ORDER) + planned + late
    print(f"\n{count} fixtures, {total} bytes of .tflite; all loaded, all but select_tf_ops allocated; "
          "property checks and reference cross-checks passed"
          + ("; every planned model matches its PTQ placement." if planned else
             "; closed loop skipped (--no-closed-loop)."))


if __name__ == "__main__":
    main()
