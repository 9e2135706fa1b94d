"""tflq.keras.conversion_gap: a QAT model's own layer outputs against its conversion, per layer.

The first tests need no TensorFlow: `gap_from_outputs` takes layer outputs computed anywhere, here the
converted fixture's own tensors (read with LiteRT in this process, by op index, not through tflq), exact
or moved by a known number of steps. The last test builds, trains and converts a tiny tfmot QAT model; it
needs TensorFlow, tf-keras and tensorflow-model-optimization and is skipped without them (CI).
"""

import stat

import pytest

import tflq
import tflq.keras
from conftest import fixture

np = pytest.importorskip("numpy", reason="tflq.keras.conversion_gap needs numpy (pip install 'tflq[measure]')")
litert = pytest.importorskip(
    "ai_edge_litert.interpreter", reason="tflq.keras.conversion_gap runs LiteRT (pip install 'tflq[measure]')"
)

QAT_FULL = fixture("qat_full.tflite")
# Net A's layers in its Keras order (testdata/generate.py), and the op of qat_full.tflite whose output
# each one is, as the file's op list shows it (conv1 and bn1 are folded into relu1's CONV_2D).
NET_A = ["quantize_layer", "conv1", "bn1", "relu1", "pool1", "conv2", "flatten", "fc1", "fc2", "softmax"]
OP_OF = {"quantize_layer": 0, "relu1": 1, "pool1": 2, "conv2": 3, "flatten": 4, "fc1": 5, "fc2": 6, "softmax": 7}


def _tensors_by_op(path, n_samples, seed=0):
    """Per sample: the input, and each layer's tensor of OP_OF dequantized, read with LiteRT here."""
    it = litert.Interpreter(
        model_path=str(path),
        experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        experimental_preserve_all_tensors=True,
    )
    it.allocate_tensors()
    ops = {op["index"]: op for op in it._get_ops_details()}
    details = {d["index"]: d for d in it.get_tensor_details()}
    inp = it.get_input_details()[0]
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(n_samples):
        x = rng.random(tuple(inp["shape"]), dtype=np.float32)
        it.set_tensor(inp["index"], x)
        it.invoke()
        values = {}
        for layer, op in OP_OF.items():
            t = int(ops[op]["outputs"][0])
            scale, zero = details[t]["quantization"]
            values[layer] = ((it.get_tensor(t).astype(np.float64) - zero) * scale).astype(np.float32)
        samples.append((x, values))
    return samples, {layer: details[int(ops[op]["outputs"][0])]["quantization"][0] for layer, op in OP_OF.items()}


@pytest.fixture(scope="module")
def net_a_tensors():
    return _tensors_by_op(QAT_FULL, 6)


def _source(samples, moved=None):
    """`samples` as gap_from_outputs wants them, with `moved` (layer -> function of the values) applied."""
    moved = moved or {}

    def produce(compared):
        for x, values in samples:
            yield [x], [moved.get(layer, lambda v: v)(values[layer]) for layer in compared]

    return produce


def test_the_file_against_its_own_tensors_has_no_gap(net_a_tensors):
    samples, _ = net_a_tensors
    seen = []

    def produce(compared):
        seen.append(list(compared))
        return _source(samples)(compared)

    gap = tflq.keras.gap_from_outputs(QAT_FULL, NET_A, produce)
    # The layers with a tensor, asked for once, in the model's order; each is read from the op the file's
    # op list gives it.
    assert seen == [[layer for layer in NET_A if layer in OP_OF]]
    assert {r["layer"]: r["op"] for r in gap["layers"]} == OP_OF
    assert gap["samples"] == 6 and gap["runtime"].startswith("ai-edge-litert ")
    assert gap["first_divergence"] is None
    for r in gap["layers"]:
        assert r["sqnr_db"] is None and r["max_abs_error"] == 0.0 and r["cosine"] == pytest.approx(1.0), r
        assert r["dtype"] == "INT8" and r["scale"] > 0 and not r["diverges"]
    assert {r["layer"]: r["folded"] for r in gap["layers"]}["relu1"] == ["bn1", "conv1"]
    assert [(r["layer"], r["why"]) for r in gap["not_compared"]] == [
        ("conv1", "folded into 'relu1' (CONV_2D #1)"),
        ("bn1", "folded into 'relu1' (CONV_2D #1)"),
    ]
    text = tflq.keras.conversion_gap_text(gap)
    assert "no gap: every compared layer holds 30 dB or is within 1 step(s) of rounding" in text
    assert "the gap opens" not in text


def test_the_gap_opens_at_the_first_layer_whose_values_moved(net_a_tensors):
    samples, scales = net_a_tensors
    rng = np.random.default_rng(1)
    # pool1 three steps off everywhere; fc1 (later) noisy; everything else exact.
    moved = {
        "pool1": lambda v: v + 3 * scales["pool1"],
        "fc1": lambda v: v + rng.normal(0, 4 * scales["fc1"], v.shape).astype(np.float32),
    }
    gap = tflq.keras.gap_from_outputs(QAT_FULL, NET_A, _source(samples, moved), max_samples=4)
    assert gap["samples"] == 4
    assert gap["first_divergence"] == "pool1"
    rows = {r["layer"]: r for r in gap["layers"]}
    pool = rows["pool1"]
    # measured - reference = -3 steps on every element.
    assert pool["rmse_over_scale"] == pytest.approx(3.0, rel=1e-4)
    assert pool["max_abs_error"] == pytest.approx(3 * scales["pool1"], rel=1e-4)
    assert pool["mean_error"] == pytest.approx(-3 * scales["pool1"], rel=1e-4)
    assert pool["sqnr_db"] < 30 and pool["diverges"]
    assert rows["fc1"]["rmse_over_scale"] == pytest.approx(4.0, rel=0.1)
    assert {name for name, r in rows.items() if r["sqnr_db"] is None} == set(OP_OF) - {"pool1", "fc1"}
    # Worst first: the two moved layers lead, in SQNR order.
    assert {r["layer"] for r in gap["layers"][:2]} == {"pool1", "fc1"}
    assert gap["layers"][0]["sqnr_db"] <= gap["layers"][1]["sqnr_db"]
    text = tflq.keras.conversion_gap_text(gap)
    assert "the gap opens at 'pool1' (MAX_POOL_2D #2)" in text
    assert "pool1 <- gap opens" in text
    # A lower bar moves the verdict.
    assert tflq.keras.gap_from_outputs(QAT_FULL, NET_A, _source(samples, moved), min_sqnr=-100)["first_divergence"] is None


def test_one_step_off_is_rounding_unless_told_otherwise(net_a_tensors):
    samples, scales = net_a_tensors
    moved = {"pool1": lambda v: v + scales["pool1"]}
    # Whatever its SQNR, a layer at most one step off is a rounding tie broken the other way ...
    gap = tflq.keras.gap_from_outputs(QAT_FULL, NET_A, _source(samples, moved), min_sqnr=1000)
    pool = {r["layer"]: r for r in gap["layers"]}["pool1"]
    assert pool["max_abs_error"] == pytest.approx(scales["pool1"], rel=1e-4) and pool["sqnr_db"] < 1000
    assert gap["first_divergence"] is None and gap["rounding_steps"] == 1.0
    # ... unless rounding is not excused.
    strict = tflq.keras.gap_from_outputs(QAT_FULL, NET_A, _source(samples, moved), min_sqnr=1000, rounding_steps=0)
    assert strict["first_divergence"] == "pool1"


def test_layers_the_file_does_not_carry_and_names_it_does_not_know():
    samples, _ = _tensors_by_op(QAT_FULL, 1)
    names = ["quantize_layer", "extra", "relu1"]
    gap = tflq.keras.gap_from_outputs(QAT_FULL, names, _source(samples))
    assert {r["layer"] for r in gap["layers"]} == {"quantize_layer", "relu1"}
    why = {r["layer"]: (r["position"], r["why"]) for r in gap["not_compared"]}
    assert why["extra"] == (1, "no op of the converted model carries it")
    assert why["conv2"][0] is None and "the source model has no such layer" in why["conv2"][1]


def test_a_layer_output_of_the_wrong_size_is_an_error(net_a_tensors):
    samples, _ = net_a_tensors
    moved = {"conv2": lambda v: v[..., :-1]}
    with pytest.raises(tflq.TflqError, match=r"reference values for a tensor of \d+ elements"):
        tflq.keras.gap_from_outputs(QAT_FULL, NET_A, _source(samples, moved))


def test_an_interpreter_that_aborts_is_an_error_not_a_crash(net_a_tensors, tmp_path):
    script = tmp_path / "aborts"
    script.write_text("#!/bin/sh\nkill -ABRT $$\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(tflq.TflqError, match="SIGABRT"):
        tflq.keras.gap_from_outputs(QAT_FULL, NET_A, _source(net_a_tensors[0]), python=str(script))


def test_a_bad_threshold_is_refused(net_a_tensors):
    with pytest.raises(ValueError, match="min_sqnr"):
        tflq.keras.gap_from_outputs(QAT_FULL, NET_A, _source(net_a_tensors[0]), min_sqnr=float("nan"))


@pytest.fixture(scope="module")
def tiny_qat(generate):
    """A tiny tf-keras model, trained, annotated with tfmot's quantize_model, fine-tuned and converted
    (`generate`, testdata/generate.py, skips without TensorFlow and pins its threads first)."""
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot

    keras = tf.keras
    keras.utils.set_random_seed(5)
    rng = np.random.default_rng(5)
    x = rng.random((256, 12, 12, 3), dtype=np.float32)
    y = (x[:, :6].mean(axis=(1, 2, 3)) > x[:, 6:].mean(axis=(1, 2, 3))).astype(np.int64)
    inp = keras.Input((12, 12, 3), name="image")
    h = keras.layers.Conv2D(8, 3, padding="same", name="conv1")(inp)
    h = keras.layers.BatchNormalization(name="bn1")(h)
    h = keras.layers.ReLU(name="relu1")(h)
    h = keras.layers.Conv2D(8, 3, activation="relu", name="conv2")(h)
    h = keras.layers.MaxPooling2D(name="pool")(h)
    h = keras.layers.Flatten(name="flatten")(h)
    h = keras.layers.Dense(2, name="fc")(h)
    out = keras.layers.Softmax(name="softmax")(h)
    model = keras.Model(inp, out, name="tiny")
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=32, epochs=2, verbose=0)
    qat = tfmot.quantization.keras.quantize_model(model)
    qat.compile(keras.optimizers.Adam(1e-4), "sparse_categorical_crossentropy")
    qat.fit(x, y, batch_size=32, epochs=2, verbose=0)
    converter = tf.lite.TFLiteConverter.from_keras_model(qat)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return qat, converter.convert(), x[:24]


def test_a_tfmot_qat_model_against_its_conversion(tiny_qat):
    qat, tflite, x = tiny_qat
    # A batch is split into samples; max_samples stops early.
    gap = tflq.keras.conversion_gap(qat, tflite, [x[:16], x[16:]], max_samples=20)
    assert gap["model"] == "<qat bytes>" and gap["keras_model"] == "tiny" and gap["samples"] == 20
    rows = {r["layer"]: r for r in gap["layers"]}
    assert set(rows) == {"quantize_layer", "relu1", "conv2", "pool", "flatten", "fc", "softmax"}
    assert rows["relu1"]["keras_layer"] == "quant_relu1" and rows["relu1"]["folded"] == ["bn1", "conv1"]
    assert [(r["layer"], r["keras_layer"]) for r in gap["not_compared"]] == [("conv1", "quant_conv1"), ("bn1", "quant_bn1")]
    # The conversion computes what training saw: every layer but the softmax (whose fixed 1/256 steps
    # see its inputs' one-step flips magnified) within a step, or above 30 dB.
    assert gap["first_divergence"] is None
    for r in gap["layers"]:
        steps = r["max_abs_error"] / r["scale"]
        assert steps <= 1.0001 or (r["layer"] == "softmax" and r["sqnr_db"] > 30), r
        assert r["rmse_over_scale"] < 1 and not r["diverges"], r

    # Now the Keras model's conv2 clips at a thirtieth of the range its conversion holds (the file keeps
    # the range training had when it was converted): the gap opens at conv2, not before.
    variables = {v.name: v for v in qat.get_layer("quant_conv2").weights}
    low, high = variables["quant_conv2/post_activation_min:0"], variables["quant_conv2/post_activation_max:0"]
    low.assign(low / 30)
    high.assign(high / 30)
    broken = tflq.keras.conversion_gap(qat, tflite, x, max_samples=20)
    rows_b = {r["layer"]: r for r in broken["layers"]}
    assert broken["first_divergence"] == "conv2"
    assert rows_b["conv2"]["sqnr_db"] < min(30, rows["conv2"]["sqnr_db"] - 10)
    assert rows_b["conv2"]["max_abs_error"] > 3 * rows_b["conv2"]["scale"]
    for before in ("quantize_layer", "relu1"):
        assert rows_b[before]["sqnr_db"] == rows[before]["sqnr_db"]
    finite = [r["sqnr_db"] for r in broken["layers"] if r["sqnr_db"] is not None]
    assert broken["layers"][0]["sqnr_db"] == min(finite)
    text = tflq.keras.conversion_gap_text(broken)
    assert "the gap opens at 'conv2' (CONV_2D #2)" in text
