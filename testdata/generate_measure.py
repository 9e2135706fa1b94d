"""Fixtures of `tflq measure`: sample inputs, QuantizationDebugger's numbers on them, and the
float twins of two QAT fixtures.

Run from the repository root with the TensorFlow venv of README.md:

    TF_USE_LEGACY_KERAS=1 CUDA_VISIBLE_DEVICES="" python testdata/generate_measure.py          # inputs + reference
    TF_USE_LEGACY_KERAS=1 CUDA_VISIBLE_DEVICES="" python testdata/generate_measure.py --twins  # also the twins (minutes; --twins-only: them alone)

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
  `advice_bn_unfolded_qat`) and `clipping_qat.tflite` (ranges trained on inputs scaled by
  0.1, as `advice_clipping_qat`), each with `..._float.tflite`.
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


def twins():
    quantize = gen.quantize
    keras.backend.clear_session()
    net_a = gen.train_float(gen.build_net_a, gen.SEED_A, gen.SEED_DATA_A)

    # advice_bn_unfolded_qat: every layer annotated but bn1 (generate.py's recipe, seed 5004).
    keras.backend.clear_session()
    keras.utils.set_random_seed(5004)
    base = gen.clone_with_weights(net_a)
    annotation = gen._all_layers(net_a, skip={"bn1"})

    def wrap(layer):
        if isinstance(layer, keras.layers.InputLayer) or layer.name not in annotation:
            return layer
        return quantize.quantize_annotate_layer(layer)
    annotated = keras.models.clone_model(base, clone_function=wrap)
    annotated.set_weights(base.get_weights())
    with quantize.quantize_scope(gen.CONFIG_SCOPE):
        qat = quantize.quantize_apply(annotated)
    gen.compile_and_fit(qat, gen.SEED_DATA_A, epochs=gen.QAT_EPOCHS, lr=gen.QAT_LR)
    write_pair(qat, net_a, "bn_unfolded")

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
    if "--twins" in sys.argv[1:] or "--twins-only" in sys.argv[1:]:
        twins()


if __name__ == "__main__":
    main()
