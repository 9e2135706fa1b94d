"""Shared paths and helpers. The fixtures are the repository's committed models (../../testdata)."""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TESTDATA = ROOT / "testdata"


def fixture(name: str) -> pathlib.Path:
    path = TESTDATA / name
    assert path.is_file(), f"missing fixture {path}"
    return path


def _candidates():
    given = os.environ.get("TFLQ_BIN")
    if given:
        yield pathlib.Path(given)
        return
    for profile in ("release", "debug"):
        yield ROOT / "target" / profile / "tflq"


@pytest.fixture(scope="session")
def rust_tflq() -> pathlib.Path:
    """The Rust binary to compare the console script with: $TFLQ_BIN (CI sets it; then it must
    exist), else target/release/tflq or target/debug/tflq of this checkout."""
    for path in _candidates():
        if path.is_file() and os.access(path, os.X_OK):
            return path
        if os.environ.get("TFLQ_BIN"):
            pytest.fail(f"TFLQ_BIN={path} is not an executable")
    pytest.skip("no Rust tflq binary: run `cargo build` (or set TFLQ_BIN) to compare the console script with it")


@pytest.fixture(scope="session")
def console_script() -> list:
    """The wheel's `tflq` console script, next to this interpreter (or on PATH)."""
    beside = pathlib.Path(sys.executable).with_name("tflq")
    found = str(beside) if beside.is_file() else shutil.which("tflq")
    assert found, "the wheel's tflq console script is not installed"
    return [found]


def run(cmd, *args, stdin=None):
    """Run a command from the repository root with a fixed environment (no colour, 100 columns)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR")}
    env.update(NO_COLOR="1", COLUMNS="100")
    return subprocess.run(
        [*map(str, cmd), *map(str, args)],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        timeout=120,
    )


@pytest.fixture(scope="session")
def generate():
    """testdata/generate.py as a module (it sets TF_USE_LEGACY_KERAS before importing TensorFlow, and
    pins TensorFlow's threads, which only works before TensorFlow runs anything: every test that needs
    TensorFlow asks for this fixture first). Skips without TensorFlow, tf-keras and tfmot."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    pytest.importorskip(
        "tensorflow_model_optimization",
        reason="tflq.keras needs TensorFlow, tf-keras and tensorflow-model-optimization "
        "(pip install -r testdata/requirements.txt); not installed here",
    )
    sys.path.insert(0, str(TESTDATA))
    try:
        import generate as module
    finally:
        sys.path.remove(str(TESTDATA))
    return module
