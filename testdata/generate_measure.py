"""Fixtures of `tflq measure`: sample inputs, QuantizationDebugger's numbers on them, and the
float twins of two QAT fixtures.

Run from the repository root with the TensorFlow venv of README.md:

    TF_USE_LEGACY_KERAS=1 CUDA_VISIBLE_DEVICES="" python testdata/generate_measure.py          # inputs + reference
    TF_USE_LEGACY_KERAS=1 CUDA_VISIBLE_DEVICES="" python testdata/generate_measure.py --twins  # also the twins (minutes; --twins-only: them alone)
    TF_USE_LEGACY_KERAS=1 CUDA_VISIBLE_DEVICES="" python testdata/generate_measure.py --twins-only bn_unfolded  # one pair

Writes into testdata/measure/:

* `inputs.npy`: 16 samples of net A's input (16x16x3 in [0, 1), `make_images` seed 31:
  neither a training nor a calibration seed);
* `inputs_tinynet_nchw.npy` / `_nhwc.npy`: 8 images of 32x32x3 in [0, 1) (numpy seed 32) for
  the litert-torch files (NCHW) and the onnx2tf files (NHWC), the same images in both layouts;
* `qd_ptq_int8.json`: TensorFlow's `tf.lite.experimental.QuantizationDebugger` on
  `float.tflite` and `ptq_int8.tflite` with `measure/inputs.npy`. QuantizationDebugger needs a
  debug model from the converter: `float.tflite` is calibrated with `ptq_int8`'s own calibration data
  (`make_images` seed 21, 48 samples) and quantized twice by `mlir_quantize`, without and with
  NumericVerify ops. The script checks that the plain one has `ptq_int8.tflite`'s tensors, names,
  scales and zero points exactly, so the debug model instruments the committed file;
* with `--twins`: two QAT files with their float twins. QAT fine-tuning moves the weights, so a
  QAT file is measured against the float model of its own trained weights (its "twin": net A with the
  QAT model's trained weights copied in, converted without optimization). Net A does not retrain to
  `float.tflite`'s bytes on every machine (float reductions differ between CPUs), so the committed
  `advice_*` files have no twin; these are rebuilt with `generate.py`'s recipes instead, from a net A
  trained here: `bn_unfolded_qat.tflite` (every layer annotated but bn1, as
  `advice_bn_unfolded_qat`, after `spread_channels`) and `clipping_qat.tflite` (ranges trained
  on inputs scaled by 0.1, as `advice_clipping_qat`), each with `..._float.tflite`.
  `--twins bn_unfolded` (or `clipping`) rebuilds one pair only.

Why `spread_channels`: an unfolded BatchNorm costs precision where the conv's output channels
have ranges far apart that the BatchNorm evens out (the conv output is quantized per tensor
before the BatchNorm rescales each channel; folded, the per-channel weight scales absorb the
difference). Net A's conv1 channels have similar ranges and bn1 multiplies them by about 1, so
its unfolded BatchNorm costs little: fine-tuned as `advice_bn_unfolded_qat`, its segment's
local SQNR was 35.9 dB, and the worst layer was fc2 at 21.5 dB, whose logits had grown past the
moving-average range that lags behind them while fine-tuning (real clipping: 2.5% of the
logits of measure/inputs.npy fall outside it). So the script divides every other output
channel of conv1 by 16 and rescales bn1 to match (the float function is the same; PTQ's folded
conv is not affected) and trains the QAT model's ranges only. Measured: the unfolded segment
21.5 dB local, the next worst layer 38.9 dB, and the same float model quantized by PTQ (bn1
folded) 46.4 dB at that layer.
"""

import json
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import generate as gen  # noqa: E402  (sets up TensorFlow deterministically)

tf = gen.tf
keras = gen.keras


def path(name):
    """Fixtures of tflq's other tests are read from testdata/ itself; these go to testdata/measure/."""
    if name in ("float.tflite", "ptq_int8.tflite"):
        return os.path.join(HERE, name)
    os.makedirs(os.path.join(HERE, "measure"), exist_ok=True)
    return os.path.join(HERE, "measure", name)


def write_inputs():
    x, _ = gen.make_images(31, 16)
    np.save(path("inputs.npy"), x)
    rng = np.random.default_rng(32)
    images = rng.random((8, 32, 32, 3), dtype=np.float32)
    np.save(path("inputs_tinynet_nhwc.npy"), images)
    np.save(path("inputs_tinynet_nchw.npy"), np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
    return x


def tensor_params(model_bytes):
    it = tf.lite.Interpreter(model_content=model_bytes)
    out = {}
    for d in it.get_tensor_details():
        q = d["quantization_parameters"]
        out[d["name"]] = (str(d["dtype"]), list(d["shape"]), [float(s) for s in q["scales"]],
                          [int(z) for z in q["zero_points"]])
    return out


def qd_reference(samples):
    from tensorflow.lite.python import convert
    from tensorflow.lite.python.optimize import calibrator

    with open(path("float.tflite"), "rb") as f:
        float_model = f.read()
    with open(path("ptq_int8.tflite"), "rb") as f:
        ptq = f.read()
    calibration = gen.representative_dataset(gen.SEED_REP_A)
    calibrated = calibrator.Calibrator(float_model).calibrate(calibration)
    plain = convert.mlir_quantize(calibrated)
    debug = convert.mlir_quantize(calibrated, enable_numeric_verify=True)
    mine, theirs = tensor_params(plain), tensor_params(ptq)
    if mine != theirs:
        diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
        raise SystemExit(f"the re-quantized model differs from ptq_int8.tflite at {diff}")

    def dataset():
        for i in range(samples.shape[0]):
            yield [samples[i:i + 1]]

    def statistics(builtin):
        debugger = tf.lite.experimental.QuantizationDebugger(
            quant_debug_model_content=debug, float_model_content=float_model, debug_dataset=dataset)
        if builtin:
            # QuantizationDebugger's own interpreter applies XNNPACK, whose int8 kernels round
            # differently from the builtin ones; this one runs the builtin kernels tflq's runner uses.
            debugger._quant_interpreter = tf.lite.Interpreter(
                model_content=debug,
                experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        debugger.run()
        buf = io.StringIO()
        debugger.layer_statistics_dump(buf)
        buf.seek(0)
        return list(csv.DictReader(buf))

    import csv
    import io

    layers = []
    for row, xnn in zip(statistics(True), statistics(False)):
        mse = float(row["mean_squared_error"])
        scale = float(row["scale"])
        layers.append({
            "op_name": row["op_name"],
            "tensor_idx": int(row["tensor_idx"]),
            "tensor_name": row["tensor_name"],
            "scale": scale,
            "num_elements": int(float(row["num_elements"])),
            "mean_squared_error": mse,
            "max_abs_error": float(row["max_abs_error"]),
            "rmse_over_scale": float(np.sqrt(mse) / scale),
            "rmse_over_scale_xnnpack": float(np.sqrt(float(xnn["mean_squared_error"])) / scale),
        })
    doc = {
        "float": "float.tflite",
        "quantized": "ptq_int8.tflite",
        "inputs": "measure/inputs.npy",
        "tensorflow": tf.__version__,
        "how": "tf.lite.experimental.QuantizationDebugger, layer statistics, its debug model run with "
               "the builtin kernels and no delegate; rmse_over_scale = sqrt(mean_squared_error) / scale; "
               "rmse_over_scale_xnnpack: the same with QuantizationDebugger's default interpreter (XNNPACK)",
        "layers": layers,
    }
    with open(path("qd_ptq_int8.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    for layer in layers:
        print(f"  {layer['op_name']:16} {layer['tensor_name'][:50]:50} rmse/scale {layer['rmse_over_scale']:.4f}"
              f" (XNNPACK {layer['rmse_over_scale_xnnpack']:.4f})")


def float_twin(net_a, qat):
    """net A with the trained weights of `qat` (a tfmot QAT model of net A)."""
    twin = gen.clone_with_weights(net_a)
    by_name = {}
    for layer in qat.layers:
        by_name[getattr(layer, "layer", layer).name] = layer
    for layer in twin.layers:
        if not layer.weights:
            continue
        # A QuantizeWrapper holds the wrapped layer's variables (and its quantizers' ranges):
        # pick the layer's own by their last name component (kernel, bias, gamma, ...).
        held = {w.name.split("/")[-1]: w for w in by_name[layer.name].weights}
        layer.set_weights([held[w.name.split("/")[-1]].numpy() for w in layer.weights])
    return twin


#: conv1's output channels divided by SPREAD (every other one) in the unfolded-BatchNorm pair.
SPREAD = 16.0


def spread_channels(model, conv_name, bn_name, factor=SPREAD):
    """Divide every other output channel of `conv_name` by `factor` and rescale the BatchNorm
    `bn_name` after it so that the model computes the same function.

    BatchNorm computes gamma * (x - mean) / sqrt(var + eps) + beta per channel. With x scaled by
    a: mean -> a * mean, var -> a^2 * var, and gamma -> gamma * sqrt(a^2 var + eps) / (a *
    sqrt(var + eps)) keeps the eps term exact."""
    conv, bn = model.get_layer(conv_name), model.get_layer(bn_name)
    kernel, bias = conv.get_weights()
    gamma, beta, mean, var = bn.get_weights()
    eps = bn.epsilon
    a = np.ones_like(bias)
    a[1::2] = 1.0 / factor
    conv.set_weights([kernel * a, bias * a])
    gamma = gamma * np.sqrt(a * a * var + eps) / (a * np.sqrt(var + eps))
    bn.set_weights([gamma, beta, mean * a, var * a * a])


def twins(which=("bn_unfolded", "clipping")):
    quantize = gen.quantize
    keras.backend.clear_session()
    net_a = gen.train_float(gen.build_net_a, gen.SEED_A, gen.SEED_DATA_A)
    if "bn_unfolded" in which:
        bn_unfolded(net_a, quantize)
    if "clipping" in which:
        clipping(net_a, quantize)


def bn_unfolded(net_a, quantize):
    # advice_bn_unfolded_qat: every layer annotated but bn1 (generate.py's recipe, seed 5004),
    # from net A with conv1's channels spread (see spread_channels).
    keras.backend.clear_session()
    keras.utils.set_random_seed(5004)
    base = gen.clone_with_weights(net_a)
    x, _ = gen.make_images(gen.SEED_DATA_A, 32)
    before = base.predict(x, verbose=0)
    spread_channels(base, "conv1", "bn1")
    after = base.predict(x, verbose=0)
    if not np.allclose(before, after, atol=1e-5):
        raise SystemExit(f"spread_channels changed net A's outputs by {np.abs(before - after).max()}")
    annotation = gen._all_layers(net_a, skip={"bn1"})

    def wrap(layer):
        if isinstance(layer, keras.layers.InputLayer) or layer.name not in annotation:
            return layer
        return quantize.quantize_annotate_layer(layer)
    annotated = keras.models.clone_model(base, clone_function=wrap)
    annotated.set_weights(base.get_weights())
    with quantize.quantize_scope(gen.CONFIG_SCOPE):
        qat = quantize.quantize_apply(annotated)
    # Only the ranges are trained (learning rate 0, bn1 in inference mode): fine-tuning would undo
    # the spread (Adam moves small weights as fast as large ones, and in batch-statistics mode the
    # spread channels' variance falls under BatchNorm's epsilon), and it grows the logits past
    # the moving-average range that lags behind them (fc2 then clips, at 20 to 22 dB).
    qat.get_layer("bn1").trainable = False
    gen.compile_and_fit(qat, gen.SEED_DATA_A, epochs=gen.QAT_EPOCHS, lr=0.0)
    write_pair(qat, net_a, "bn_unfolded")


def clipping(net_a, quantize):
    # advice_clipping_qat: generate.fixture_clipping, keeping the Keras model.
    keras.backend.clear_session()
    keras.utils.set_random_seed(5101)
    qat = quantize.quantize_model(gen.clone_with_weights(net_a))
    for layer in qat.layers:
        if gen._is_batchnorm(getattr(layer, "layer", None)):
            layer.layer.trainable = False
    x, y = gen.make_images(gen.SEED_DATA_A, gen.N_TRAIN)
    qat.compile(optimizer=keras.optimizers.Adam(gen.CLIP_QAT_LR),
                loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    qat.fit(x * gen.CLIP_INPUT_SCALE, y, batch_size=32, epochs=gen.CLIP_QAT_EPOCHS, shuffle=False, verbose=0)
    write_pair(qat, net_a, "clipping")


def write_pair(qat, net_a, name):
    for suffix, data in (("_qat", gen.convert_keras(qat, optimize=True)),
                         ("_float", gen.convert_keras(float_twin(net_a, qat)))):
        with open(path(name + suffix + ".tflite"), "wb") as f:
            f.write(data)
        print(f"  {name}{suffix}.tflite: {len(data)} B")


def main():
    samples = write_inputs()
    if "--twins-only" not in sys.argv[1:]:
        qd_reference(samples)
    args = sys.argv[1:]
    if "--twins" in args or "--twins-only" in args:
        names = [a for a in args if not a.startswith("--")]
        twins(names or ("bn_unfolded", "clipping"))


if __name__ == "__main__":
    main()
