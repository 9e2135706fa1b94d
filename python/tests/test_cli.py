"""The wheel's `tflq` command: the same stdout, stderr and exit status as the Rust binary."""

import json
import os
import subprocess
import sys

import pytest

import tflq
import tflq.cli
from conftest import ROOT, run

# (arguments, exit status), run from the repository root.
CASES = [
    (["inspect", "testdata/ptq_int8.tflite"], 0),
    (["inspect", "testdata/qat_partial.tflite", "--findings", "--format", "text"], 0),
    (["inspect", "testdata/control_flow.tflite", "--subgraph", "1", "--format", "json"], 0),
    (["inspect", "testdata/ptq_int8.tflite", "--subgraph", "7"], 2),
    (["compare", "testdata/ptq_int8.tflite", "testdata/qat_partial.tflite"], 0),
    (["compare", "testdata/ptq_int8.tflite", "testdata/qat_partial.tflite", "--format", "markdown"], 0),
    (["inspect", "testdata/qat_partial.tflite", "--format", "model-explorer"], 0),
    (["compare", "testdata/ptq_int8.tflite", "testdata/qat_partial.tflite", "--format", "model-explorer", "--side", "ptq"], 0),
    (["compare", "testdata/ptq_int8.tflite", "testdata/qat_partial.tflite", "--side", "ptq"], 2),
    (["compare", "testdata/ptq_int8.tflite", "testdata/qat_partial.tflite", "--fail-on", "add-quantizer"], 1),
    (["compare", "testdata/ptq_int8.tflite", "testdata/qat_full.tflite", "--fail-on", "nonsense"], 2),
    (["compare", "testdata/qat_full.tflite", "testdata/ptq_int8.tflite"], 2),
    (["compare", "testdata/float.tflite", "testdata/qat_full.tflite", "--format", "json"], 2),
    (["plan", "testdata/ptq_maximum.tflite"], 0),
    (["plan", "testdata/ptq_maximum.tflite", "--format", "python"], 0),
    (["snapshot", "testdata/ptq_int8.tflite", "--with-scales"], 0),
    (["snapshot", "testdata/ptq_int8.tflite", "--check", "tests/data/ptq_int8.tflq-snapshot"], 0),
    (["snapshot", "testdata/qat_partial.tflite", "--check", "tests/data/ptq_int8.tflq-snapshot"], 1),
    (["inspect", "testdata/no_such_model.tflite"], 2),
    (["inspect", "testdata/README.md"], 2),
    (["inspect", "testdata"], 2),
    ([], 2),
    (["inspect"], 2),
    (["--help"], 0),
    (["compare", "--help"], 0),
    (["--version"], 0),
]


def ids(case):
    return " ".join(case[0]) or "(no arguments)"


@pytest.mark.parametrize("args,code", CASES, ids=[ids(c) for c in CASES])
def test_console_script_is_the_binary(rust_tflq, console_script, args, code):
    theirs = run([rust_tflq], *args)
    ours = run(console_script, *args)
    assert theirs.returncode == code, theirs.stderr.decode()
    assert (ours.returncode, ours.stdout.decode(), ours.stderr.decode()) == (
        theirs.returncode,
        theirs.stdout.decode(),
        theirs.stderr.decode(),
    )


def test_python_dash_m_is_the_console_script(console_script):
    for args in (["inspect", "testdata/qat_partial.tflite", "--format", "text"], ["compare", "--fail-on", "x"]):
        script = run(console_script, *args)
        module = run([sys.executable, "-m", "tflq"], *args)
        assert (module.returncode, module.stdout, module.stderr) == (script.returncode, script.stdout, script.stderr)


def test_standard_input(rust_tflq, console_script):
    model = (ROOT / "testdata/ptq_int8.tflite").read_bytes()
    theirs = run([rust_tflq], "inspect", "-", "--format", "text", stdin=model)
    ours = run(console_script, "inspect", "-", "--format", "text", stdin=model)
    assert ours.returncode == theirs.returncode == 0
    assert ours.stdout == theirs.stdout


def test_exit_statuses_without_the_binary(console_script):
    """The statuses on their own, so they are checked even where no Rust binary was built."""
    assert run(console_script, "inspect", "testdata/ptq_int8.tflite").returncode == 0
    gate = ["compare", "testdata/ptq_int8.tflite", "testdata/qat_partial.tflite", "--fail-on", "add-quantizer"]
    assert run(console_script, *gate).returncode == 1
    missing = run(console_script, "inspect", "testdata/no_such_model.tflite")
    assert missing.returncode == 2
    assert missing.stdout == b""
    assert missing.stderr.decode().startswith("error: cannot read testdata/no_such_model.tflite: ")


@pytest.mark.parametrize(
    "ptq,qat",
    [("qat_full.tflite", "ptq_int8.tflite"), ("dynamic_range.tflite", "qat_full.tflite"), ("ptq_int8.tflite", "ptq_maximum.tflite")],
)
def test_refused_pairs_give_the_api_the_cli_message(console_script, ptq, qat, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = run(console_script, "compare", f"testdata/{ptq}", f"testdata/{qat}")
    assert out.returncode == 2
    with pytest.raises(tflq.TflqError) as caught:
        tflq.compare(f"testdata/{ptq}", f"testdata/{qat}")
    assert out.stderr.decode() == f"error: {caught.value}\n"


def test_the_api_returns_what_the_cli_prints_as_json(console_script, monkeypatch):
    monkeypatch.chdir(ROOT)
    model, ptq, qat = "testdata/qat_partial.tflite", "testdata/ptq_int8.tflite", "testdata/qat_partial.tflite"
    printed = run(console_script, "inspect", model, "--format", "json")
    assert json.loads(printed.stdout) == tflq.inspect(model)
    printed = run(console_script, "compare", ptq, qat, "--format", "json")
    assert json.loads(printed.stdout) == tflq.compare(ptq, qat)
    printed = run(console_script, "plan", "testdata/ptq_maximum.tflite", "--format", "json")
    assert json.loads(printed.stdout) == tflq.plan("testdata/ptq_maximum.tflite")
    printed = run(console_script, "plan", "testdata/ptq_maximum.tflite", "--format", "python")
    assert printed.stdout.decode() == tflq.plan_python("testdata/ptq_maximum.tflite")
    printed = run(console_script, "snapshot", model, "--with-scales=6", "--exact-names")
    assert printed.stdout.decode() == tflq.snapshot(model, with_scales=6, exact_names=True)


@pytest.mark.parametrize(
    "args,code",
    [
        (["inspect", "testdata/mediapipe_face_detection_full_range_sparse.tflite", "--format", "json"], 0),
        (["inspect", "testdata/mediapipe_face_detection_full_range_sparse.tflite", "--ops"], 0),
        (["compare", "testdata/ptq_int8.tflite", "testdata/qat_partial.tflite", "--fail-on", "add-quantizer"], 1),
    ],
)
def test_a_closed_pipe_is_quiet(console_script, args, code):
    """`tflq ... | head -c 10`: the reader is gone; no error, and the command's own status."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        out = subprocess.run(
            [*console_script, *args], cwd=ROOT, stdout=writer, stderr=subprocess.PIPE, timeout=120
        )
    finally:
        os.close(writer)
    assert (out.returncode, out.stderr.decode()) == (code, "")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_ends_the_command_as_it_ends_the_binary(rust_tflq, console_script):
    """Both die of SIGINT while blocked reading standard input (Python's own handler would leave
    the console script waiting for Rust to return)."""
    import signal
    import time

    codes = []
    for cmd in ([rust_tflq], console_script):
        proc = subprocess.Popen([*map(str, cmd), "inspect", "-"], cwd=ROOT, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        finally:
            proc.stdin.close()
            proc.wait(timeout=20)
            proc.stdout.close()
            proc.stderr.close()
        codes.append(proc.returncode)
    assert codes == [-signal.SIGINT, -signal.SIGINT]


def test_cli_run_in_process(capfd, monkeypatch):
    """tflq.cli.run writes to the process's file descriptors and returns the status."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("NO_COLOR", "1")
    print("before", flush=False)
    assert tflq.cli.run(["snapshot", "testdata/ptq_int8.tflite"]) == 0
    out, err = capfd.readouterr()
    assert out == "before\n" + tflq.snapshot("testdata/ptq_int8.tflite")
    assert tflq.cli.run(["inspect", "testdata/no_such_model.tflite"]) == 2
    out, err = capfd.readouterr()
    assert out == "" and err.startswith("error: cannot read testdata/no_such_model.tflite")
    with pytest.raises(SystemExit) as exited:
        tflq.cli.main(["compare", "testdata/ptq_int8.tflite", "testdata/qat_partial.tflite", "--fail-on", "add-quantizer"])
    assert exited.value.code == 1
    capfd.readouterr()
