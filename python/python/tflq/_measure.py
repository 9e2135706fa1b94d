"""``tflq.measure``: start the measuring process and hand it the samples.

The models run in a child process (``python -m tflq._runner``), so that an
interpreter that aborts takes only that process down; this one then raises
:class:`tflq.TflqError` saying so. Samples from a Python iterable go to the
child one at a time over a pipe, so neither process holds the whole dataset.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tempfile
from typing import IO, Any, Dict, List, Optional, Tuple

from ._runner import JOB_VERSION
from ._tflq import TflqError


def _model_path(model: Any, role: str, tmp: str) -> Tuple[str, str]:
    """A path for the model (bytes are written to a temporary file) and its label."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        path = os.path.join(tmp, f"{role}.tflite")
        with open(path, "wb") as f:
            f.write(bytes(model))
        return path, f"<{role} bytes>"
    path = os.fspath(model)
    return path, str(path)


def _died(code: int, stderr: str) -> str:
    tail = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        msg = f"the measuring process was killed by {name}: the LiteRT interpreter aborted on one of the models"
        return msg + (f" ({tail})" if tail else "")
    return tail[len("error: "):] if tail.startswith("error: ") else (tail or f"the measuring process exited with status {code}")


def _send(stdin: IO[bytes], data: Any, count_hint: Optional[int]) -> None:
    import numpy as np

    progress = sys.stderr is not None and sys.stderr.isatty()
    n = 0
    for item in data:
        arrays = list(item) if isinstance(item, (list, tuple)) else [item]
        buf = io.BytesIO(b"S")
        buf.seek(1)
        for a in arrays:
            # Into memory first: numpy writes a pipe only through a file position.
            np.lib.format.write_array(buf, np.ascontiguousarray(np.asarray(a)), allow_pickle=False)
        stdin.write(buf.getvalue())
        n += 1
        if progress:
            of = f"/{count_hint}" if count_hint else ""
            print(f"\rmeasuring: {n}{of} item(s) sent", end="", file=sys.stderr, flush=True)
    stdin.write(b"E")
    if progress and n:
        print(file=sys.stderr, flush=True)


def run(
    float_model: Any,
    ptq: Any,
    qat: Any = None,
    *,
    inputs: Any = None,
    qat_float: Any = None,
    random_samples: Optional[int] = None,
    max_samples: Optional[int] = None,
    target_sqnr: float = 30.0,
    format: str = "json",
    python: Optional[str] = None,
) -> str:
    """Measure; return the report text (``format``) of the child process."""
    if inputs is None and random_samples is None:
        raise ValueError("give inputs= (a .npy/.npz path, a directory of them, or an iterable of arrays), "
                         "or random_samples=N to measure on random data")
    if inputs is not None and random_samples is not None:
        raise ValueError("give inputs= or random_samples=, not both")
    with tempfile.TemporaryDirectory(prefix="tflq_measure_") as tmp:
        paths: List[Optional[str]] = []
        labels: List[str] = []
        for model, role in ((float_model, "float"), (ptq, "ptq"), (qat, "qat"), (qat_float, "qat-float")):
            if model is None:
                paths.append(None)
                labels.append("")
            else:
                p, label = _model_path(model, role, tmp)
                paths.append(p)
                labels.append(label)
        stream = None
        if random_samples is not None:
            source = {"kind": "random", "count": int(random_samples), "seed": 0}
        elif isinstance(inputs, (str, os.PathLike)):
            source = {"kind": "files", "paths": [os.fspath(inputs)]}
        else:
            stream = inputs() if callable(inputs) else inputs
            source = {"kind": "stream", "description": "a Python iterable"}
        job = {
            "version": JOB_VERSION,
            "models": paths,
            "labels": labels,
            "inputs": source,
            "max_samples": None if max_samples is None else int(max_samples),
            "format": format,
            "target_sqnr": float(target_sqnr),
            "progress": False,
        }
        return run_child(job, stream, python)


def run_child(job: Dict[str, Any], stream: Any, python: Optional[str] = None) -> str:
    """Run ``job`` in ``python -m tflq._runner`` and return what it writes; ``stream`` (an iterable of
    samples, or None) goes to its standard input. A child that fails or dies raises :class:`TflqError`."""
    proc = subprocess.Popen(
        [python or sys.executable, "-m", "tflq._runner", json.dumps(job)],
        stdin=subprocess.PIPE if stream is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    send_error: Optional[BaseException] = None
    if stream is not None and proc.stdin is not None:
        try:
            hint = len(stream) if hasattr(stream, "__len__") else None
            _send(proc.stdin, stream, hint)
        except BrokenPipeError:
            pass  # the child stopped: its status says why
        except BaseException as e:  # the caller's iterator raised: stop the child, re-raise
            send_error = e
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass
            proc.stdin = None  # closed: communicate() must not flush it
    if send_error is not None:
        proc.kill()
        proc.wait()
        raise send_error
    out, err = proc.communicate()
    err_text = err.decode("utf-8", "replace")
    for line in err_text.splitlines():
        if line.startswith("WARNING"):
            print(line, file=sys.stderr)
    if proc.returncode != 0:
        raise TflqError(_died(proc.returncode, err_text))
    return out.decode("utf-8")
