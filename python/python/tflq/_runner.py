"""The measuring process of ``tflq.measure`` and ``tflq measure``.

It runs in a child process of its own, so that an interpreter that aborts
(LiteRT kernels call ``abort()`` on some models) takes only this process down
and the caller reports it. ``python -m tflq._runner JOB`` reads the JSON job
(the models, where the samples come from, the report wanted), asks the Rust
extension (``tflq._tflq.MeasureSession``) which interpreter runs a sample
needs, runs them with LiteRT's builtin kernels and no delegates, hands every
tensor it reads to the extension, and writes the report the extension
renders. Samples come from ``.npy``/``.npz`` files, from random numbers, or
from the parent process on standard input: a ``b"S"`` and one ``.npy``
array per model input for each sample, then ``b"E"``.

A job of kind ``conversion-gap`` (``tflq.keras.conversion_gap``) runs one
converted model against layer outputs its caller computed: per sample a
``b"S"``, one ``.npy`` array per model input and one per watched tensor (the
values the source framework computed for it), then ``b"E"``; the extension
(``tflq._tflq.GapSession``) folds each tensor into running sums, and the
output is their metrics as JSON.

Exit status: 0 done, 2 anything that stopped it (with one ``error:`` line on
standard error).
"""

from __future__ import annotations

import json
import os
import sys
from typing import IO, Any, Dict, Iterable, Iterator, List, Optional, Sequence

#: The version of the job format; the command line and the API write it.
JOB_VERSION = 2

WARNING_RANDOM = (
    "WARNING: measuring on RANDOM inputs (uniform in [0, 1)), not on real data.\n"
    "WARNING: quantization error depends on the data: these numbers say little about the model.\n"
    "WARNING: pass real samples (--inputs FILE.npy|FILE.npz|DIR, or inputs= in Python)."
)


class JobError(Exception):
    """A problem with the job or its data: reported as one error line."""


def check() -> str:
    """Import what measuring needs; return the runtime's name and version."""
    import importlib.metadata

    import numpy  # noqa: F401
    from ai_edge_litert import interpreter  # type: ignore[import-untyped]  # noqa: F401

    return "ai-edge-litert " + importlib.metadata.version("ai-edge-litert")


def _fit(array: Any, shape: Sequence[int], what: str) -> List[Any]:
    """Split `array` into samples of the model input `shape` (batch first)."""
    import numpy as np

    a = np.asarray(array)
    if a.dtype.kind not in "fiub":
        raise JobError(f"{what}: {a.dtype} values cannot feed a float32 input")
    a = a.astype(np.float32, copy=False)
    shape = tuple(int(d) for d in shape)
    if a.shape == shape:
        return [a]
    if len(shape) >= 1 and a.ndim == len(shape) and a.shape[1:] == shape[1:] and shape[0] == 1:
        return [a[i : i + 1] for i in range(a.shape[0])]
    if len(shape) >= 1 and shape[0] == 1 and a.shape == shape[1:]:
        return [a[None]]
    raise JobError(f"{what}: an array of shape {list(a.shape)} does not fit the model input {list(shape)}")


def samples_of(arrays: Any, shapes: Sequence[Sequence[int]], what: str) -> List[List[Any]]:
    """One item of data (an array, or one per input) as a list of samples."""
    if not isinstance(arrays, (list, tuple)):
        arrays = [arrays]
    if len(arrays) != len(shapes):
        raise JobError(f"{what}: {len(arrays)} array(s) for a model with {len(shapes)} input(s)")
    per_input = [_fit(a, s, f"{what} (input {k})") for k, (a, s) in enumerate(zip(arrays, shapes))]
    counts = {len(p) for p in per_input}
    if len(counts) != 1:
        raise JobError(f"{what}: the inputs hold different numbers of samples ({sorted(counts)})")
    return [list(s) for s in zip(*per_input)]


def _file_samples(path: str, shapes: Sequence[Sequence[int]], names: Sequence[str]) -> List[List[Any]]:
    import numpy as np

    if path.endswith(".npy"):
        return samples_of(np.load(path, allow_pickle=False), shapes, path)
    with np.load(path, allow_pickle=False) as z:
        keys = list(z.files)
        if len(keys) != len(shapes):
            raise JobError(f"{path}: {len(keys)} array(s) for a model with {len(shapes)} input(s)")
        if set(names) == set(keys):
            keys = list(names)
        return samples_of([z[k] for k in keys], shapes, path)


def file_samples(paths: Sequence[str], shapes: Sequence[Sequence[int]], names: Sequence[str]) -> Iterator[List[Any]]:
    """Samples from `.npy`/`.npz` files and directories of them, in order."""
    files = []
    for p in paths:
        if os.path.isdir(p):
            found = sorted(
                os.path.join(p, f) for f in os.listdir(p) if f.endswith((".npy", ".npz"))
            )
            if not found:
                raise JobError(f"{p}: no .npy or .npz file in this directory")
            files.extend(found)
        elif p.endswith((".npy", ".npz")):
            if not os.path.isfile(p):
                raise JobError(f"{p}: no such file")
            files.append(p)
        else:
            raise JobError(f"{p}: inputs must be .npy or .npz files or a directory of them")
    for f in files:
        try:
            yield from _file_samples(f, shapes, names)
        except (OSError, ValueError) as e:
            raise JobError(f"{f}: cannot read it: {e}") from e


def random_samples(count: int, shapes: Sequence[Sequence[int]], seed: int) -> Iterator[List[Any]]:
    import numpy as np

    rng = np.random.default_rng(seed)
    for _ in range(count):
        yield [rng.random(tuple(int(d) for d in s), dtype=np.float32) for s in shapes]


class _Exact:
    """A pipe read through `read` only (numpy reads a real file through its position)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw

    def read(self, n: Optional[int] = -1) -> bytes:
        if n is None or n < 0:
            return self.raw.read()
        parts, left = [], n
        while left > 0:
            chunk = self.raw.read(left)
            if not chunk:
                break
            parts.append(chunk)
            left -= len(chunk)
        return b"".join(parts)


def stream_frames(stream: IO[bytes], count: int) -> Iterator[List[Any]]:
    """The frames the parent writes on standard input, `count` arrays each: a
    frame is b"S" and the arrays in .npy format; b"E" ends the stream."""
    import numpy as np

    exact = _Exact(stream)
    while True:
        tag = exact.read(1)
        if tag == b"E":
            return
        if tag != b"S":
            raise JobError("the sample stream ended early (the caller's data iterator raised?)")
        yield [np.lib.format.read_array(exact, allow_pickle=False) for _ in range(count)]


def stream_samples(stream: IO[bytes], shapes: Sequence[Sequence[int]]) -> Iterator[List[Any]]:
    """Samples the parent writes on standard input."""
    for n, arrays in enumerate(stream_frames(stream, len(shapes)), 1):
        yield from samples_of(arrays, shapes, f"sample {n}")


def _quantize_into(x: Any, detail: Dict[str, Any]) -> Any:
    """A float sample for an integer model input, rounded as TFLite's
    QuantizationDebugger feeds it."""
    import numpy as np

    dtype = detail["dtype"]
    q = detail.get("quantization_parameters") or {}
    scales, zeros = q.get("scales", []), q.get("zero_points", [])
    if np.issubdtype(dtype, np.floating):
        return x.astype(dtype, copy=False)
    if len(scales) != 1:
        raise JobError(f"model input '{detail['name']}' is {np.dtype(dtype).name} without one scale")
    info = np.iinfo(dtype)
    v = np.round(x / scales[0]) + zeros[0]
    return np.clip(v, info.min, info.max).astype(dtype)


def _interpreter(what: str, preserve_all_tensors: bool, **model: Any) -> Any:
    """A LiteRT interpreter (builtin kernels, no delegates, one thread) of ``model_path=`` or
    ``model_content=``, its tensors allocated; ``what`` names the model in the error."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType  # type: ignore[import-untyped]

    try:
        it = Interpreter(
            experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
            experimental_preserve_all_tensors=preserve_all_tensors,
            num_threads=1,
            **model,
        )
        it.allocate_tensors()
    except (RuntimeError, ValueError) as e:
        raise JobError(f"{what}: LiteRT cannot load it: {str(e).strip()}") from e
    return it


class Runner:
    """The interpreters of one measurement, created once, run per sample."""

    def __init__(self, session: Any, paths: Sequence[Optional[str]], labels: Sequence[str]) -> None:
        self.session = session
        self.runs = session.runs()
        self.interpreters: List[Any] = []
        self.inputs: List[Dict[int, Dict[str, Any]]] = []
        for run in self.runs:
            what = labels[run["model"]] if run["model"] is not None else f"the {run['name']} cut of the models"
            preserve = bool(run["preserve_all_tensors"])
            if run["content"] is None:
                it = _interpreter(what, preserve, model_path=paths[run["model"]])
            else:
                it = _interpreter(what, preserve, model_content=bytes(run["content"]))
            self.interpreters.append((it, what))
            self.inputs.append({d["index"]: d for d in it.get_input_details()})

    def sample_shapes(self, count: int) -> List[List[int]]:
        """The float model's input shapes as its interpreter allocated them (a
        dynamic batch dimension becomes 1)."""
        shapes: List[List[int]] = [[] for _ in range(count)]
        for tensor, kind, k, _ in self.runs[0]["inputs"]:
            if kind == "sample" and 0 <= k < count:
                shapes[k] = [int(d) for d in self.inputs[0][tensor]["shape"]]
        return shapes

    def run(self, sample: Sequence[Any]) -> None:
        values: Dict[Any, Any] = {}
        session = self.session
        for r, run in enumerate(self.runs):
            it, what = self.interpreters[r]
            details = self.inputs[r]
            for tensor, kind, a, b in run["inputs"]:
                d = details.get(tensor)
                if d is None:
                    raise JobError(f"{what}: tensor {tensor} is not a graph input")
                if kind == "sample":
                    x = _quantize_into(sample[a], d)
                else:
                    x = values[(a, b)]
                it.set_tensor(tensor, x.reshape(d["shape"]).astype(d["dtype"], copy=False))
            try:
                it.invoke()
            except RuntimeError as e:
                raise JobError(f"{what}: LiteRT failed to run it: {str(e).strip()}") from e
            for t in run["reads"]:
                v = it.get_tensor(t)
                values[(r, t)] = v
                session.put(r, t, v if v.flags.c_contiguous else v.tobytes())
        session.end_sample()


def run_gap_job(job: Dict[str, Any], stdin: Optional[IO[bytes]]) -> str:
    """Run a ``conversion-gap`` job: the model on the samples of ``stdin``, each watched tensor against
    the values sent with it. Returns JSON: ``runtime``, ``samples`` and per watched tensor its metrics."""
    import numpy as np

    from . import _tflq

    if job.get("version") != JOB_VERSION:
        raise JobError(f"this tflq Python package reads measurement jobs of version {JOB_VERSION}, not {job.get('version')}")
    runtime = check()
    path, label = job["model"], job["label"]
    tensors = [int(t) for t in job["tensors"]]
    session = _tflq.GapSession(path, label, tensors)
    it = _interpreter(label, True, model_path=path)
    inputs = it.get_input_details()
    if stdin is None:
        raise JobError("no sample stream")
    n = 0
    for arrays in stream_frames(stdin, len(inputs) + len(tensors)):
        n += 1
        for d, x in zip(inputs, arrays):
            x = np.asarray(x, dtype=np.float32)
            if x.size != int(np.prod(d["shape"])):
                raise JobError(f"sample {n}: an input of shape {list(x.shape)} does not fit the model input {list(d['shape'])}")
            it.set_tensor(d["index"], _quantize_into(x.reshape(d["shape"]), d))
        try:
            it.invoke()
        except RuntimeError as e:
            raise JobError(f"{label}: LiteRT failed to run it: {str(e).strip()}") from e
        for k, (t, reference) in enumerate(zip(tensors, arrays[len(inputs):])):
            v = it.get_tensor(t)
            session.put(k, np.ascontiguousarray(reference, dtype=np.float32), v if v.flags.c_contiguous else v.tobytes())
    if n == 0:
        raise JobError("no samples: the inputs hold no data")
    return json.dumps({"runtime": runtime, "samples": n, "results": session.results()})


def run_job(job: Dict[str, Any], stdin: Optional[IO[bytes]] = None, failed: Optional[List[str]] = None) -> str:
    """Run a measurement job; return the rendered report (str). With the job's ``fail_below``, why
    each quantized model's output falls below it is printed and added to ``failed``."""
    if failed is None:
        failed = []
    from . import _tflq

    if job.get("version") != JOB_VERSION:
        raise JobError(f"this tflq Python package reads measurement jobs of version {JOB_VERSION}, not {job.get('version')}")
    runtime = check()
    paths, labels = job["models"], job["labels"]
    session = _tflq.MeasureSession(paths, labels)
    runner = Runner(session, paths, labels)
    shapes = runner.sample_shapes(len(session.inputs()))
    names = job.get("input_names") or []
    source = job["inputs"]
    kind = source["kind"]
    samples: Iterable[List[Any]]
    if kind == "files":
        samples = file_samples(source["paths"], shapes, names)
        described = ", ".join(source["paths"])
    elif kind == "random":
        print(WARNING_RANDOM, file=sys.stderr, flush=True)
        samples = random_samples(int(source["count"]), shapes, int(source.get("seed", 0)))
        described = f"RANDOM inputs (uniform [0, 1), seed {int(source.get('seed', 0))})"
    elif kind == "stream":
        if stdin is None:
            raise JobError("no sample stream")
        samples = stream_samples(stdin, shapes)
        described = source.get("description") or "the caller's data"
    else:
        raise JobError(f"unknown input kind {kind!r}")
    limit = job.get("max_samples")
    progress = bool(job.get("progress")) and sys.stderr.isatty()
    total = source.get("count")
    n = 0
    for sample in samples:
        if limit is not None and n >= limit:
            break
        runner.run(sample)
        n += 1
        if progress:
            of = f"/{total}" if total else ""
            print(f"\rmeasuring: {n}{of} sample(s)", end="", file=sys.stderr, flush=True)
    if progress and n:
        print(file=sys.stderr, flush=True)
    if n == 0:
        raise JobError("no samples: the inputs hold no data")
    text: str = session.render(
        job.get("format", "json"),
        float(job.get("target_sqnr", 30.0)),
        described,
        runtime,
        int(job.get("width", 100)),
        job.get("side", "qat"),
    )
    fail_below = job.get("fail_below")
    if fail_below is not None:
        failed.extend(session.below(float(fail_below)))
    return text


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv == ["--check"]:
            print(check())
            return 0
        if len(argv) != 1:
            raise JobError("usage: python -m tflq._runner JOB_JSON")
        job = json.loads(argv[0])
        failed: List[str] = []
        if job.get("kind") == "conversion-gap":
            text = run_gap_job(job, sys.stdin.buffer)
        else:
            text = run_job(job, sys.stdin.buffer, failed)
        out = job.get("output")
        if out:
            with open(out, "w", encoding="utf-8") as f:
                f.write(text)
        else:
            sys.stdout.write(text)
            sys.stdout.flush()
        # 1: the report is written, and the gate failed.
        for why in failed:
            print(f"tflq measure: --fail-below: {why}", file=sys.stderr)
        return 1 if failed else 0
    except ImportError as e:
        print(f"error: tflq measure needs numpy and ai-edge-litert: {e}", file=sys.stderr)
        return 2
    except JobError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - one error line, whatever went wrong
        named = "" if type(e).__name__ == "TflqError" else f"{type(e).__name__}: "
        print(f"error: {named}{e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
