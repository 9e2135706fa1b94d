"""tflq.keras on a real tf-keras model: net B of testdata/generate.py (two convs meeting in a Maximum,
which tfmot's quantize_model cannot place as PTQ does), its committed PTQ conversion
(testdata/ptq_maximum.tflite), the plan applied, one epoch of QAT and the check.

Needs TensorFlow, tf-keras and tensorflow-model-optimization (testdata/requirements.txt); CI does not
install them, so there these tests are skipped. The ImportError test runs everywhere.
"""

import os
import sys

import pytest

import tflq
import tflq.keras
from conftest import TESTDATA

PTQ_MAX = TESTDATA / "ptq_maximum.tflite"


def test_a_missing_tfmot_is_an_import_error_that_says_what_to_install(monkeypatch):
    monkeypatch.setenv("TF_USE_LEGACY_KERAS", os.environ.get("TF_USE_LEGACY_KERAS", "1"))
    monkeypatch.setitem(sys.modules, "tensorflow_model_optimization", None)
    for call in (
        lambda: tflq.keras.quantize_model(object(), PTQ_MAX),
        lambda: tflq.keras.check(object(), object(), lambda: iter(())),
        lambda: tflq.keras.plan_module(PTQ_MAX),
        lambda: tflq.keras.conversion_gap(object(), PTQ_MAX, []),
    ):
        with pytest.raises(ImportError) as caught:
            call()
        message = str(caught.value)
        assert "tensorflow-model-optimization" in message
        assert "pip install tensorflow tf-keras tensorflow-model-optimization" in message


@pytest.fixture(scope="module")
def net_b(generate):
    """Net B trained as for the committed fixtures (same seeds, two epochs)."""
    return generate.train_float(generate.build_net_b, generate.SEED_B, generate.SEED_DATA_B)


def test_plan_module(generate):
    module = tflq.keras.plan_module(PTQ_MAX)
    assert module.PLAN["maximum"] is module.TflqOutput
    assert set(module.SCOPE) >= {"TflqOutput", "TflqKernelPerAxisOnly"}
    assert callable(module.quantize_model)


def test_a_layer_the_converter_merges_with_a_named_twin_is_planned_as_that_twin(generate):
    """Two Maximum layers on the same two tensors are one op after conversion, named after one of
    them: the plan module lists them as identical and gives the one the file cannot name the
    other's config (an unnamed layer otherwise gets tfmot's default, and the two would split)."""
    keras = generate.keras
    module = tflq.keras.plan_module(PTQ_MAX)
    inp = keras.Input(shape=generate.IMG_SHAPE, name="input")
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv1")(inp)
    b1 = keras.layers.Conv2D(8, 1, name="branch1")(x)
    b2 = keras.layers.Conv2D(8, 1, name="branch2")(x)
    m = keras.layers.Maximum(name="maximum")([b1, b2])
    twin = keras.layers.Maximum(name="maximum_twin")([b1, b2])
    other = keras.layers.Maximum(name="maximum_swapped")([b2, b1])  # other inputs: no twin
    s = keras.layers.Add(name="add")([m, twin, other, b1])
    model = keras.Model(inp, s)
    assert module.identical_layers(model) == {"maximum": ["maximum_twin"], "maximum_twin": ["maximum"]}
    chosen, alone = module.decide(model)
    assert chosen["maximum"][0] is module.TflqOutput
    assert chosen["maximum_twin"] == (module.TflqOutput, "the plan of its twin maximum")
    assert "maximum_swapped" not in chosen and "maximum_swapped" in alone  # not in the registry


@pytest.mark.parametrize("given", ["path", "bytes"])
def test_quantize_model_then_check(generate, net_b, given):
    """The closed loop of python/README.md's workflow: plan -> QAT -> check gives PTQ's placement."""
    ptq = PTQ_MAX if given == "path" else PTQ_MAX.read_bytes()
    generate.keras.utils.set_random_seed(generate.SEED_B + 300)
    qat = tflq.keras.quantize_model(net_b, ptq)
    wrapped = {layer.layer.name for layer in qat.layers if hasattr(layer, "quantize_config")}
    assert {"conv1", "branch1", "branch2", "maximum", "fc"} <= wrapped
    generate.compile_and_fit(qat, generate.SEED_DATA_B, epochs=1, lr=generate.QAT_LR)
    result = tflq.keras.check(net_b, qat, generate.representative_dataset(generate.SEED_REP_B))
    assert result["comparable"] is True
    assert result["placement_matches"] is True, result["verdict"]
    assert not [f for f in result["findings"] if f["kind"] in ("add-quantizer", "remove-quantizer")]


def test_check_reports_ranges_that_never_trained(generate, net_b):
    """The plan applied but not fine-tuned: the placement matches, and check says the quantizers
    still hold tfmot's initial [-6, 6], naming the layers."""
    qat = tflq.keras.quantize_model(net_b, PTQ_MAX)
    result = tflq.keras.check(net_b, qat, generate.representative_dataset(generate.SEED_REP_B))
    assert result["placement_matches"] is True
    untrained = [f for f in result["findings"] if f["kind"] == "range-untrained"]
    assert untrained, result["findings"]
    assert "branch1" in {place["layer"] for place in untrained[0]["places"]}
