"""tflq.measure and `tflq measure` on the committed fixtures, run by LiteRT (ai-edge-litert).

The QuantizationDebugger numbers come from testdata/measure/qd_ptq_int8.json, which
testdata/generate_measure.py writes with TensorFlow; TensorFlow is never needed here.
"""

import json
import os
import stat

import pytest

from conftest import ROOT, fixture, run

pytest.importorskip("numpy")
pytest.importorskip("ai_edge_litert")

import numpy as np  # noqa: E402

import tflq  # noqa: E402
from tflq import _measure  # noqa: E402

INPUTS = fixture("measure/inputs.npy")

#: tflq's RMSE / scale must be within this of QuantizationDebugger's: 0.5% of its value plus 0.001
#: (measured: within 3e-6; the float kernels' last bits may differ between CPUs).
QD_RELATIVE, QD_ABSOLUTE = 0.005, 0.001


@pytest.fixture(scope="module")
def ptq_int8():
    return tflq.measure(fixture("float.tflite"), fixture("ptq_int8.tflite"), inputs=INPUTS)


def rows(doc, role="ptq"):
    (side,) = [s for s in doc["sides"] if s["role"] == role]
    return side["layers"]


def test_rmse_over_scale_agrees_with_quantization_debugger(ptq_int8):
    reference = json.loads(fixture("measure/qd_ptq_int8.json").read_text())["layers"]
    mine = [r for r in rows(ptq_int8) if r["layerwise"] is not None and r["opcode"] != "QUANTIZE"]
    assert [r["opcode"] for r in mine] == [q["op_name"] for q in reference]
    for r, q in zip(mine, reference):
        assert r["scale"] == pytest.approx(q["scale"], rel=1e-6), r["layer"]
        assert r["layerwise"]["elements"] == q["num_elements"] * 16
        got, want = r["layerwise"]["rmse_over_scale"], q["rmse_over_scale"]
        assert abs(got - want) <= QD_ABSOLUTE + QD_RELATIVE * want, (r["layer"], got, want)
    # A well-quantized op is off by about plain rounding: 1/sqrt(12) of a step.
    softmax = [r for r in mine if r["opcode"] == "SOFTMAX"][0]
    assert softmax["layerwise"]["rmse_over_scale"] == pytest.approx(12 ** -0.5, abs=0.01)


def test_a_float_model_against_itself_has_no_error():
    doc = tflq.measure(fixture("float.tflite"), fixture("float.tflite"), inputs=INPUTS, max_samples=4)
    assert doc["samples"] == 4
    layers = rows(doc)
    assert len(layers) == 7
    for r in layers:
        for view in ("accumulated", "local", "layerwise"):
            assert r[view]["exact"], (r["layer"], view, r[view])
            assert r[view]["max_abs_error"] == 0
    (out,) = rows(doc) and [s for s in doc["sides"]][0]["outputs"]
    assert out["metrics"]["exact"]
    assert doc["sides"][0]["keep_float"]["layers"] == []


def test_ptq_report(ptq_int8):
    side = ptq_int8["sides"][0]
    assert side["paired_ops"] == side["float_ops"] == 7
    assert ptq_int8["samples"] == 16 and "ai-edge-litert" in ptq_int8["runtime"]
    assert 35 < side["output_total"]["sqnr_db"] < 45
    ranks = sorted(r["rank"] for r in side["layers"])
    assert ranks == list(range(1, len(side["layers"]) + 1))
    for r in side["layers"]:
        assert r["accumulated"] is not None and r["local"] is not None
        # Local error never exceeds what accumulates from the input by much.
        assert r["local"]["sqnr_db"] >= r["accumulated"]["sqnr_db"] - 1.0, r["layer"]


def test_inputs_from_an_iterable_equal_inputs_from_a_file(ptq_int8):
    x = np.load(INPUTS)
    batches = [x[:10], x[10:]]  # a batch axis is split into samples

    def dataset():
        for b in batches:
            yield [b]

    doc = tflq.measure(fixture("float.tflite"), fixture("ptq_int8.tflite"), inputs=dataset)
    assert doc["samples"] == 16
    assert rows(doc) == rows(ptq_int8)


def test_random_inputs_come_with_a_warning(capfd):
    doc = tflq.measure(fixture("float.tflite"), fixture("ptq_int8.tflite"), random_samples=2)
    assert doc["samples"] == 2 and "RANDOM" in doc["inputs"]
    assert "WARNING: measuring on RANDOM inputs" in capfd.readouterr().err


def test_inputs_are_required():
    with pytest.raises(ValueError, match="inputs="):
        tflq.measure(fixture("float.tflite"), fixture("ptq_int8.tflite"))


def test_a_bad_input_shape_is_named():
    with pytest.raises(tflq.TflqError, match=r"does not fit the model input \[1, 16, 16, 3\]"):
        tflq.measure(fixture("float.tflite"), fixture("ptq_int8.tflite"), inputs=[np.zeros((5, 5), np.float32)])


def test_a_quantized_first_model_is_refused():
    with pytest.raises(tflq.TflqError, match="must be a float model"):
        tflq.measure(fixture("ptq_int8.tflite"), fixture("ptq_int8.tflite"), inputs=INPUTS)


def test_an_aborting_interpreter_is_reported_not_fatal(tmp_path):
    # A stand-in for a runner whose interpreter calls abort(): the caller survives and says so.
    script = tmp_path / "aborts"
    script.write_text("#!/bin/sh\nkill -ABRT $$\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(tflq.TflqError, match="SIGABRT"):
        _measure.run(fixture("float.tflite"), fixture("ptq_int8.tflite"), inputs=str(INPUTS), python=str(script))


def test_qat_findings_get_their_cost():
    doc = tflq.measure(
        fixture("float.tflite"), fixture("ptq_int8.tflite"), fixture("qat_partial.tflite"), inputs=INPUTS
    )
    assert [s["role"] for s in doc["sides"]] == ["ptq", "qat"]
    island = [f for f in doc["findings"] if f["kind"] == "add-quantizer"]
    assert island and island[0]["layer"] == "bn1"
    assert island[0]["ptq"]["exit"]["sqnr_db"] is not None
    assert island[0]["qat"]["exit"]["sqnr_db"] is not None
    # The unfolded BatchNorm's ADD is measured with its conv: one segment.
    add = [r for r in rows(doc, "qat") if r["opcode"] == "ADD"][0]
    assert add["layer"] == "relu1" and len(add["segment_ops"]) >= 3


def test_unfolded_batchnorm_costs_against_its_own_float_model():
    twin = fixture("measure/bn_unfolded_float.tflite")
    doc = tflq.measure(twin, fixture("measure/bn_unfolded_qat.tflite"), inputs=INPUTS)
    assert [s["role"] for s in doc["sides"]] == ["qat"]
    (bn,) = [r for r in rows(doc, "qat") if r["opcode"] == "ADD"]
    assert bn["layer"] == "relu1"
    ptq = {r["layer"]: r for r in rows(tflq.measure(fixture("float.tflite"), fixture("ptq_int8.tflite"), inputs=INPUTS))}
    # The float BatchNorm behind an int8 conv loses precision where PTQ's folded conv does not.
    assert bn["local"]["sqnr_db"] < ptq["relu1"]["local"]["sqnr_db"] - 5


@pytest.mark.parametrize(
    "float_name, ptq_name, inputs",
    [
        ("torch_float.tflite", "torch_ptq.tflite", "measure/inputs_tinynet_nchw.npy"),
        ("onnx2tf_float32.tflite", "onnx2tf_tfconv_int8.tflite", "measure/inputs_tinynet_nhwc.npy"),
    ],
)
def test_other_producers_are_measured_like_keras(float_name, ptq_name, inputs):
    doc = tflq.measure(fixture(float_name), fixture(ptq_name), inputs=fixture(inputs))
    side = doc["sides"][0]
    assert side["paired_ops"] >= 0.75 * side["float_ops"]
    assert 25 < side["output_total"]["sqnr_db"] < 60
    convs = [r for r in side["layers"] if r["opcode"] == "CONV_2D"]
    assert len(convs) >= 3
    for r in convs:
        assert r["local"]["sqnr_db"] > 25 and 0.2 < r["layerwise"]["rmse_over_scale"] < 1.0


def test_command_line(console_script, tmp_path):
    out = tmp_path / "m.json"
    r = run(console_script, "measure", "testdata/float.tflite", "testdata/ptq_int8.tflite",
            "--inputs", "testdata/measure/inputs.npy", "--format", "json", "-o", out)
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["samples"] == 16 and doc["sides"][0]["role"] == "ptq"
    r = run(console_script, "measure", "testdata/float.tflite", "testdata/ptq_int8.tflite",
            "--inputs", "testdata/measure/inputs.npy", "--max-samples", "2")
    assert r.returncode == 0, r.stderr
    assert "rank" in r.stdout.decode() and "2 sample(s)" in r.stdout.decode()
    r = run(console_script, "measure", "testdata/float.tflite", "testdata/ptq_int8.tflite",
            "--inputs", "testdata/measure/inputs.npy", "--format", "model-explorer")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    (graph,) = data.values()
    assert graph["results"] and all(isinstance(v["value"], float) for v in graph["results"].values())


def test_command_line_without_a_runner_says_how_to_install(rust_tflq):
    env = dict(os.environ, TFLQ_PYTHON=str(ROOT / "no-such-python"))
    import subprocess

    r = subprocess.run([str(rust_tflq), "measure", "testdata/float.tflite", "testdata/ptq_int8.tflite",
                        "--inputs", "testdata/measure/inputs.npy"], cwd=ROOT, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "pip install './python[measure]'" in r.stderr


def test_a_clipped_range_has_the_worst_local_error():
    # QAT ranges trained on inputs scaled by 0.1: relu1's output range clips real data.
    doc = tflq.measure(fixture("measure/clipping_float.tflite"), fixture("measure/clipping_qat.tflite"), inputs=INPUTS)
    layers = rows(doc, "qat")
    worst = min(layers, key=lambda r: r["rank"])
    assert worst["layer"] == "relu1" and worst["opcode"] == "CONV_2D"
    assert worst["layerwise"]["rmse_over_scale"] > 10  # far beyond rounding (0.29)
    assert doc["sides"][0]["keep_float"]["layers"][0]["layer"] == "relu1"


def test_an_unfolded_batchnorm_has_the_worst_local_error():
    # bn1 left unannotated after conv1's channels were spread 16x apart (the same float function):
    # conv1's output is quantized per tensor before bn1 evens the channels out.
    doc = tflq.measure(
        fixture("measure/bn_unfolded_float.tflite"), fixture("measure/bn_unfolded_qat.tflite"), inputs=INPUTS
    )
    layers = rows(doc, "qat")
    worst, second = sorted(layers, key=lambda r: r["rank"])[:2]
    # The segment from conv1's int8 output through bn1's float MUL and ADD (with relu1 fused).
    assert worst["opcode"] == "ADD" and worst["layer"] == "relu1"
    ops = tflq.inspect(fixture("measure/bn_unfolded_qat.tflite"))["subgraphs"][0]["operators"]
    kinds = sorted((ops[i]["opcode"], ops[i]["layer"]) for i in worst["segment_ops"])
    assert ("MUL", "bn1") in kinds and ("CONV_2D", "conv1") in kinds, kinds
    # Measured 21.5 dB against 38.9 dB for the next layer.
    assert worst["local"]["sqnr_db"] < second["local"]["sqnr_db"] - 10


def test_keep_float_choice_as_denylist_and_plan(console_script):
    doc = tflq.measure(fixture("float.tflite"), fixture("ptq_int8.tflite"), inputs=INPUTS, target_sqnr=42)
    keep = doc["sides"][0]["keep_float"]
    assert keep["reached"] and keep["layers"]
    assert keep["layers"][0]["predicted_sqnr_db"] < keep["layers"][-1]["predicted_sqnr_db"]
    assert keep["layers"][-1]["predicted_sqnr_db"] >= 42 > keep["measured_sqnr_db"]
    names = {r["float_tensor_name"] for r in rows(doc)}
    assert set(keep["denylisted_nodes"]) <= names
    r = run(console_script, "measure", "testdata/float.tflite", "testdata/ptq_int8.tflite",
            "--inputs", "testdata/measure/inputs.npy", "--target-sqnr", "42", "--format", "python")
    assert r.returncode == 0, r.stderr
    module = r.stdout.decode()
    floats = [line for line in module.splitlines() if line.startswith("FLOAT = [")]
    (line,) = floats
    assert sorted(json.loads(line[len("FLOAT = "):])) == sorted(keep["plan_float_layers"])
    assert "tflq measure keeps them there" in module
    compile(module, "plan.py", "exec")


def test_npz_files_and_directories(tmp_path, ptq_int8):
    x = np.load(INPUTS)
    (tmp_path / "dir").mkdir()
    np.save(tmp_path / "dir" / "a.npy", x[:9])
    np.savez(tmp_path / "dir" / "b.npz", input=x[9:])  # one array, named after the model input
    doc = tflq.measure(fixture("float.tflite"), fixture("ptq_int8.tflite"), inputs=tmp_path / "dir")
    assert doc["samples"] == 16
    assert rows(doc) == rows(ptq_int8)
    with pytest.raises(tflq.TflqError, match="no .npy or .npz file"):
        (tmp_path / "empty").mkdir()
        tflq.measure(fixture("float.tflite"), fixture("ptq_int8.tflite"), inputs=tmp_path / "empty")


def test_fail_below_gates_on_the_model_output(console_script, tmp_path):
    # The unfolded-BatchNorm QAT file's output reads 36.75 dB against its float twin.
    args = ["measure", "testdata/measure/bn_unfolded_float.tflite", "testdata/measure/bn_unfolded_qat.tflite",
            "--inputs", "testdata/measure/inputs.npy", "--format", "json"]
    out = tmp_path / "m.json"
    r = run(console_script, *args, "-o", out, "--fail-below", "40")
    assert r.returncode == 1, r.stderr
    assert "--fail-below: the qat model's output SQNR is 36.75 dB, below 40 dB" in r.stderr.decode()
    # The report is written all the same.
    assert json.loads(out.read_text())["sides"][0]["output_total"]["sqnr_db"] == 36.75
    r = run(console_script, *args, "--fail-below", "36")
    assert r.returncode == 0, r.stderr
    assert "--fail-below" not in r.stderr.decode()
    r = run(console_script, *args, "--fail-below", "nan")
    assert r.returncode == 2 and "--fail-below must be a number of dB" in r.stderr.decode()


def test_fail_below_through_the_rust_binary(rust_tflq):
    # The binary starts the runner and passes its gate status on.
    import subprocess
    import sys

    env = dict(os.environ, TFLQ_PYTHON=sys.executable)
    r = subprocess.run([str(rust_tflq), "measure", "testdata/measure/bn_unfolded_float.tflite",
                        "testdata/measure/bn_unfolded_qat.tflite", "--inputs", "testdata/measure/inputs.npy",
                        "--fail-below", "40"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 1, r.stderr
    assert "below 40 dB" in r.stderr and "rank" in r.stdout
