"""tflq's Python API on the committed fixtures: every call with a path and with bytes, and its errors."""

import concurrent.futures
import doctest
import os
import pathlib

import pytest

import tflq
from conftest import ROOT, TESTDATA

PTQ = "testdata/ptq_int8.tflite"
QAT_FULL = "testdata/qat_full.tflite"
QAT_PARTIAL = "testdata/qat_partial.tflite"
PTQ_MAX = "testdata/ptq_maximum.tflite"


@pytest.fixture(autouse=True)
def _at_repository_root(monkeypatch):
    """Paths are given as a user gives them, relative to the repository root."""
    monkeypatch.chdir(ROOT)


def as_str(p):
    return p


def as_path(p):
    return pathlib.Path(p)


def as_bytes(p):
    return pathlib.Path(p).read_bytes()


def as_bytearray(p):
    return bytearray(pathlib.Path(p).read_bytes())


def as_memoryview(p):
    return memoryview(pathlib.Path(p).read_bytes())


def as_memoryview_slice(p):
    """A view into the middle of a larger buffer: the model does not start at offset 0."""
    return memoryview(b"\0" * 7 + pathlib.Path(p).read_bytes() + b"\0" * 5)[7:-5]


PATHS = [as_str, as_path]
DATA = [as_bytes, as_bytearray, as_memoryview, as_memoryview_slice]
ALL = PATHS + DATA


def label(kind, path):
    return path if kind in PATHS else "<bytes>"


# --- inspect ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL, ids=lambda k: k.__name__)
def test_inspect(kind):
    report = tflq.inspect(kind(PTQ))
    assert report["schema_version"] == 2
    assert report["file"] == label(kind, PTQ)
    assert report["scheme"]["kind"] == "full-integer"
    assert report["scheme"]["qat"] is False
    assert report["producer"] == "tf-keras"
    ops = report["subgraphs"][0]["operators"]
    assert [op["opcode"] for op in ops][:2] == ["QUANTIZE", "CONV_2D"]


def test_inspect_is_the_same_document_from_a_path_and_from_bytes():
    by_path = tflq.inspect(PTQ)
    by_bytes = tflq.inspect(as_bytes(PTQ))
    assert by_path.pop("file") == PTQ and by_bytes.pop("file") == "<bytes>"
    assert by_path == by_bytes


def test_inspect_every_committed_fixture_from_bytes():
    names = sorted(p.name for p in TESTDATA.glob("*.tflite"))
    assert len(names) > 40
    for name in names:
        report = tflq.inspect((TESTDATA / name).read_bytes())
        assert report["schema_version"] == 2, name
        assert report["subgraphs"], name


def test_inspect_findings_of_a_partial_qat_model():
    report = tflq.inspect(QAT_PARTIAL)
    assert report["scheme"]["kind"] == "mixed-int8" and report["scheme"]["qat"] is True
    kinds = [f["kind"] for f in report["subgraphs"][0]["findings"]]
    assert "float-island" in kinds


# --- compare ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL, ids=lambda k: k.__name__)
def test_compare(kind):
    result = tflq.compare(kind(PTQ), kind(QAT_FULL))
    assert result["schema_version"] == 2
    assert result["comparable"] is True
    assert result["placement_matches"] is True
    assert result["ptq"]["role"] == "ptq" and result["qat"]["role"] == "qat"
    if kind in DATA:
        assert (result["ptq"]["file"], result["qat"]["file"]) == ("<ptq bytes>", "<qat bytes>")
    else:
        assert (result["ptq"]["file"], result["qat"]["file"]) == (PTQ, QAT_FULL)


def test_compare_a_path_with_bytes():
    result = tflq.compare(PTQ, as_bytes(QAT_PARTIAL))
    assert result["placement_matches"] is False
    assert result["findings"][0]["kind"] == "add-quantizer"
    assert result["findings"][0]["severity"] == "float-compute"
    assert (result["ptq"]["file"], result["qat"]["file"]) == (PTQ, "<qat bytes>")


def test_compare_range_ratio():
    loose = tflq.compare(PTQ, QAT_FULL, range_ratio=1000.0)
    assert not [f for f in loose["findings"] if f["kind"].startswith("range-")]
    with pytest.raises(ValueError, match="range_ratio must be a number above 1"):
        tflq.compare(PTQ, QAT_FULL, range_ratio=1.0)
    with pytest.raises(ValueError):
        tflq.compare(PTQ, QAT_FULL, range_ratio=float("nan"))


# The pairs `tflq compare` refuses (tests/cli.rs, compare_refuses_pairs_it_cannot_judge).
REFUSED = [
    ("qat_full.tflite", "ptq_int8.tflite", ["is a QAT conversion", "is a PTQ conversion", "swap them"]),
    ("float.tflite", "qat_full.tflite", ["is a float model", "needs a full-integer PTQ conversion"]),
    ("float16.tflite", "qat_full.tflite", ["is a float16-weights model"]),
    ("dynamic_range.tflite", "qat_full.tflite", ["is a dynamic-range model"]),
    ("ptq_int8.tflite", "ptq_maximum.tflite", ["are not conversions of one network", "only 4 of 7 PTQ and 4 of 9 QAT"]),
]


@pytest.mark.parametrize("ptq,qat,needles", REFUSED, ids=lambda x: x if isinstance(x, str) else "")
@pytest.mark.parametrize("kind", [as_str, as_bytes], ids=lambda k: k.__name__)
def test_compare_refuses_the_pairs_the_cli_refuses(kind, ptq, qat, needles):
    with pytest.raises(tflq.TflqError) as caught:
        tflq.compare(kind(f"testdata/{ptq}"), kind(f"testdata/{qat}"))
    message = str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert "\n" not in message
    for needle in needles:
        assert needle in message
    if kind is as_str:
        assert f"testdata/{ptq}" in message
    else:
        assert "<ptq bytes>" in message


# --- plan ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL, ids=lambda k: k.__name__)
def test_plan(kind):
    plan = tflq.plan(kind(PTQ_MAX))
    assert plan["schema_version"] == 2
    assert plan["file"] == label(kind, PTQ_MAX)
    actions = {entry["layer"]: entry["action"] for entry in plan["layers"]}
    assert actions["maximum"] == "output"
    assert actions["branch1"] == actions["branch2"] == "weights-only"
    assert actions["conv1"] == "default"


@pytest.mark.parametrize("kind", ALL, ids=lambda k: k.__name__)
def test_plan_python(kind):
    source = tflq.plan_python(kind(PTQ_MAX))
    assert source.startswith(f'"""QAT annotation that reproduces the PTQ placement of {label(kind, PTQ_MAX)}.')
    assert "def quantize_model(model):" in source
    assert '"maximum": TflqOutput' in source
    compile(source, "plan.py", "exec")  # valid Python, without importing TensorFlow


# --- snapshot --------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL, ids=lambda k: k.__name__)
def test_snapshot(kind):
    text = tflq.snapshot(kind(PTQ))
    assert text.startswith("tflq snapshot 2\n")
    assert text == tflq.snapshot(PTQ)
    assert " s=" not in text


def test_snapshot_options():
    plain = tflq.snapshot(PTQ)
    four = tflq.snapshot(PTQ, with_scales=True)
    assert " s=" in four and " zp=" in four and four != plain
    assert tflq.snapshot(PTQ, with_scales=4) == four
    assert tflq.snapshot(PTQ, with_scales=8) != four
    assert tflq.snapshot(PTQ, with_scales=False) == plain
    # A retrain leaves the structural snapshot unchanged, not the scales.
    assert tflq.snapshot("testdata/ptq_int8_retrained.tflite") == plain
    assert tflq.snapshot("testdata/ptq_int8_retrained.tflite", with_scales=True) != four
    assert tflq.snapshot(PTQ, exact_names=True).startswith("tflq snapshot 2\n")
    for bad in (0, 10, -1, "4", 2.5):
        with pytest.raises(ValueError, match="with_scales"):
            tflq.snapshot(PTQ, with_scales=bad)


# --- errors ----------------------------------------------------------------

CALLS = [
    ("inspect", lambda m: tflq.inspect(m)),
    ("compare-ptq", lambda m: tflq.compare(m, PTQ)),
    ("compare-qat", lambda m: tflq.compare(PTQ, m)),
    ("plan", lambda m: tflq.plan(m)),
    ("plan_python", lambda m: tflq.plan_python(m)),
    ("snapshot", lambda m: tflq.snapshot(m)),
]


@pytest.mark.parametrize("name,call", CALLS, ids=[c[0] for c in CALLS])
def test_a_missing_file(name, call):
    with pytest.raises(tflq.TflqError, match=r"^cannot read testdata/no_such_model\.tflite: No such file or directory"):
        call("testdata/no_such_model.tflite")


@pytest.mark.parametrize("name,call", CALLS, ids=[c[0] for c in CALLS])
def test_not_a_tflite_file(name, call):
    with pytest.raises(tflq.TflqError) as caught:
        call("testdata/README.md")
    assert str(caught.value).startswith('testdata/README.md: not a TFLite model: bytes 4..8 are "')


@pytest.mark.parametrize("name,call", CALLS, ids=[c[0] for c in CALLS])
def test_bytes_that_are_not_a_model(name, call):
    with pytest.raises(tflq.TflqError, match=r"not a TFLite model: bytes 4\.\.8 are \"a mo\""):
        call(b"not a model at all")
    with pytest.raises(tflq.TflqError, match="too short for a flatbuffer header"):
        call(b"")
    truncated = as_bytes(PTQ)[:200]
    with pytest.raises(tflq.TflqError, match="malformed model at .*the file looks truncated"):
        call(truncated)


def test_error_messages_name_bytes_by_role():
    with pytest.raises(tflq.TflqError, match=r"^<bytes>: not a TFLite model"):
        tflq.inspect(b"12345678")
    with pytest.raises(tflq.TflqError, match=r"^<bytes>: not a TFLite model"):
        tflq.compare(PTQ, b"12345678")


def test_a_directory_is_refused_by_name():
    with pytest.raises(tflq.TflqError, match=r"^cannot read testdata: it is a directory, not a regular file$"):
        tflq.inspect("testdata")


@pytest.mark.parametrize("bad", [42, None, 1.5, ["testdata/ptq_int8.tflite"], object()])
def test_what_is_neither_a_path_nor_bytes_is_a_type_error(bad):
    with pytest.raises(TypeError, match="model must be a path .* or a bytes-like object"):
        tflq.inspect(bad)


def test_tflq_error_is_a_value_error():
    assert issubclass(tflq.TflqError, ValueError)
    assert tflq.TflqError.__module__ == "tflq"
    assert tflq.TflqError.__name__ == "TflqError"


# --- concurrency, package ---------------------------------------------------


def test_calls_from_many_threads_agree():
    data = as_bytes(QAT_PARTIAL)
    expected = tflq.inspect(data)
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda m: tflq.inspect(m), [data, QAT_PARTIAL, bytearray(data), memoryview(data)] * 8))
    for r in results:
        r.pop("file")
    expected.pop("file")
    assert all(r == expected for r in results)


def test_version_and_typing_files():
    assert tflq.__version__ == tflq.inspect(PTQ)["tool"].split()[-1]
    package = pathlib.Path(tflq.__file__).parent
    assert (package / "py.typed").is_file()
    assert (package / "_tflq.pyi").is_file()


def test_import_is_light():
    """`import tflq` loads the native module and nothing heavy: no TensorFlow, and not even json,
    re or typing (imported by the first call that needs them)."""
    import subprocess
    import sys

    code = (
        "import sys, tflq, tflq.cli\n"
        "heavy = [m for m in ('tensorflow', 'json', 're', 'typing') if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    assert out.stdout.strip() == "[]", out.stderr


def test_type_aliases():
    assert tflq.Model.__args__ == (str, os.PathLike[str], bytes, bytearray, memoryview)
    assert tflq.Document.__args__[0] is str
    with pytest.raises(AttributeError):
        tflq.NoSuchThing


def test_docstring_examples():
    """The examples in tflq's docstrings run as written (from the repository root)."""
    failures, tried = doctest.testmod(tflq, optionflags=doctest.ELLIPSIS, globs={"tflq": tflq})
    assert tried >= 8
    assert failures == 0
