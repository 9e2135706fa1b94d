"""Snapshot tests as a model repository writes them: the placement text of each model, committed
next to the test (snapshots/*.tflq-snapshot), compared with `==`.

After an intended change (a new converter, a moved quantizer), rewrite them and commit the diff:

    TFLQ_UPDATE_SNAPSHOTS=1 python -m pytest tests/test_snapshot.py
"""

import os
import pathlib

import pytest

import tflq
from conftest import ROOT, TESTDATA

SNAPSHOTS = pathlib.Path(__file__).parent / "snapshots"
MODELS = ["ptq_int8", "qat_partial", "ptq_maximum", "control_flow", "torch_ptq", "mediapipe_hand_recrop"]


def expected(name: str, text: str) -> str:
    path = SNAPSHOTS / f"{name}.tflq-snapshot"
    if os.environ.get("TFLQ_UPDATE_SNAPSHOTS") == "1":
        path.write_text(text, encoding="utf-8", newline="\n")
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", MODELS)
def test_quantizer_placement(name):
    text = tflq.snapshot(TESTDATA / f"{name}.tflite")
    assert text == expected(name, text)


def test_a_model_repository_test():
    """The example of docs/ci-snapshots.md, word for word."""
    model = TESTDATA / "ptq_int8.tflite"
    assert tflq.snapshot(model) == (SNAPSHOTS / "ptq_int8.tflq-snapshot").read_text()
    # The converter's bytes, before they are ever written to a file, give the same text.
    assert tflq.snapshot(model.read_bytes()) == (SNAPSHOTS / "ptq_int8.tflq-snapshot").read_text()


@pytest.mark.parametrize("name", MODELS)
def test_the_same_text_as_the_rust_snapshot_tests(name):
    """The Rust library's own insta snapshot of the fixture (tests/snapshots) holds the same text."""
    snap = ROOT / "tests" / "snapshots" / f"snapshot_of_every_fixture@{name}.tflite.snap"
    header, _, body = snap.read_text(encoding="utf-8").partition("\n---\n")
    assert header.startswith("---\n")
    assert body.rstrip("\n") == (SNAPSHOTS / f"{name}.tflq-snapshot").read_text().rstrip("\n")
