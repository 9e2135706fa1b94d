"""tflq reads TensorFlow Lite models and tells you where the quantizers belong.

The functions here are the ``tflq`` command line's commands, run in process by
the same Rust library: ``inspect``, ``compare`` and ``plan`` return the JSON
documents of ``--format json`` as plain dicts and lists (schema version 2, see
docs/json.md in the repository), ``plan_python`` the module of
``tflq plan --format python`` and ``snapshot`` the text of ``tflq snapshot``.

A model is a path (``str`` or ``os.PathLike``), which is memory-mapped as the
command line maps it, or the bytes of one (``bytes``, ``bytearray``,
``memoryview``: what ``tf.lite.TFLiteConverter.convert()`` returns), which are
read where they are, without a copy. Errors raise :class:`TflqError` (a
``ValueError``) with the command line's error message.

>>> import tflq
>>> tflq.inspect("testdata/ptq_int8.tflite")["scheme"]["kind"]
'full-integer'
>>> tflq.compare("testdata/ptq_int8.tflite", "testdata/qat_full.tflite")["placement_matches"]
True

``tflq.keras`` (imported on its own) has the helpers that need TensorFlow:
``quantize_model`` (the plan applied to a Keras model), ``check`` (convert
both and compare) and ``conversion_gap`` (the QAT model's layer outputs
against its conversion's tensors).
"""

# Types live in __init__.pyi; `typing` and `json` (which imports `re`) are
# left out of `import tflq`, which then costs about a millisecond: json is
# imported by the first call that returns a document.
from __future__ import annotations

from . import _tflq
from ._tflq import TflqError

__all__ = ["TflqError", "compare", "inspect", "measure", "plan", "plan_python", "snapshot", "__version__"]

__version__ = _tflq.__version__


def _parse(text):
    import json

    return json.loads(text)


def __getattr__(name):
    # The type aliases of __init__.pyi, made on first use so that `import
    # tflq` does not import typing.
    if name in ("Model", "Document"):
        import os
        from typing import Any, Dict, Union

        aliases = {
            "Model": Union[str, os.PathLike[str], bytes, bytearray, memoryview],
            "Document": Dict[str, Any],
        }
        globals().update(aliases)
        return aliases[name]
    raise AttributeError(f"module 'tflq' has no attribute {name!r}")


def inspect(model: Model) -> Document:
    """The quantization picture of one model: ``tflq inspect MODEL --format json``.

    Every subgraph with its tensors (dtype, shape, quantization) and operators
    (how each computes, the Keras layer it came from), the summary, the
    quantization scheme with its evidence, and the findings (QUANTIZE and
    DEQUANTIZE ops, float islands, hybrid ops, int8-spec breaks).

    >>> report = tflq.inspect("testdata/qat_partial.tflite")
    >>> report["scheme"]["kind"], report["scheme"]["qat"]
    ('mixed-int8', True)
    >>> [f["kind"] for f in report["subgraphs"][0]["findings"]]
    ['quantize-input', 'dequantize', 'float-island', 'quantize', 'dequantize-output']

    Raises :class:`TflqError` when the model cannot be read.
    """
    return _parse(_tflq.inspect_json(model))


def compare(ptq: Model, qat: Model, *, range_ratio: float = 4.0) -> Document:
    """Where a QAT model's quantizers differ from PTQ's: ``tflq compare PTQ QAT --format json``.

    ``ptq`` is a full-integer post-training-quantized conversion, ``qat`` a
    conversion of the same network after quantization-aware training. The
    result has the ``verdict``, ``placement_matches`` and the ``findings``
    (most severe first), each with the layers to change and how.
    ``range_ratio`` is ``--range-ratio``: learned ranges this many times wider
    or narrower than PTQ's calibrated ones are reported.

    >>> result = tflq.compare("testdata/ptq_int8.tflite", "testdata/qat_partial.tflite")
    >>> result["placement_matches"], result["findings"][0]["kind"]
    (False, 'add-quantizer')

    A pair the command line refuses (the files swapped, a float, float16 or
    dynamic-range baseline, two different networks) raises :class:`TflqError`
    with the command line's one-line message, as does a model that cannot be
    read.
    """
    return _parse(_tflq.compare_json(ptq, qat, float(range_ratio)))


def plan(ptq: Model) -> Document:
    """The QAT annotation that reproduces a PTQ model's placement: ``tflq plan PTQ --format json``.

    For every Keras layer the full-integer PTQ conversion names: the action
    (``default``, ``output``, ``no-quantizer``, ``weights-only``, ``float``,
    ``unsupported``), the facts read from the file and why.

    >>> layers = tflq.plan("testdata/ptq_maximum.tflite")["layers"]
    >>> {entry["layer"]: entry["action"] for entry in layers}["maximum"]
    'output'
    """
    return _parse(_tflq.plan_text(ptq, False))


def plan_python(ptq: Model) -> str:
    """The plan as a tfmot module: the text of ``tflq plan PTQ --format python``.

    The module defines ``PLAN``, ``SCOPE``, ``annotate(model)`` and
    ``quantize_model(model)``; it imports tensorflow, tf_keras and
    tensorflow_model_optimization. Write it next to the training script, or
    let :func:`tflq.keras.quantize_model` run it in memory.

    >>> source = tflq.plan_python("testdata/ptq_maximum.tflite")
    >>> "def quantize_model(model):" in source
    True
    """
    return _tflq.plan_text(ptq, True)


def snapshot(model: Model, with_scales: bool | int = False, exact_names: bool = False) -> str:
    """The canonical placement text of ``tflq snapshot MODEL``, for a model repository's tests.

    Structural facts only (ops, layers, dtypes, per-tensor or per-axis,
    QUANTIZE/DEQUANTIZE ops, float islands), so a retrain leaves it
    unchanged. ``with_scales=True`` adds scales and zero points to 4
    significant digits (``--with-scales``), an ``int`` from 1 to 9 to that
    many; ``exact_names=True`` keeps Keras' per-session layer numbers
    (``--exact-names``).

    Commit the text next to the model and assert it in a test::

        def test_quantizer_placement():
            expected = pathlib.Path("models/model.tflq-snapshot").read_text()
            assert tflq.snapshot("models/model.tflite") == expected
    """
    if with_scales is True:
        digits = 4
    elif with_scales is False or with_scales is None:
        digits = None
    elif isinstance(with_scales, int) and 1 <= with_scales <= 9:
        digits = with_scales
    else:
        raise ValueError("with_scales must be True, False or a number of digits from 1 to 9")
    return _tflq.snapshot(model, digits, bool(exact_names))


def measure(
    float: Model,
    ptq: Model,
    qat: Model | None = None,
    *,
    inputs: object = None,
    qat_float: Model | None = None,
    random_samples: int | None = None,
    max_samples: int | None = None,
    target_sqnr: float = 30.0,
) -> Document:
    """What each placement costs: ``tflq measure FLOAT PTQ [QAT] --format json``.

    Runs the float model and the quantized ones on the same samples with the
    LiteRT interpreter (``pip install ai-edge-litert``; builtin kernels, no
    delegates) in a child process, and returns per layer of each quantized
    model its error against the float model: SQNR, RMSE / scale, cosine and
    largest error, accumulated (end to end), local (the layer alone, fed the
    float model's values) and layer-wise (QuantizationDebugger's view); the
    model outputs; each ``compare`` finding's cost (QAT given); and the
    layers to keep in float to reach ``target_sqnr`` dB at the outputs.

    ``inputs`` is a ``.npy``/``.npz`` path, a directory of them, or any
    iterable of samples (an array, or one per model input; a batch axis is
    split into samples), such as a converter's ``representative_dataset``.
    ``random_samples=N`` measures on random data instead, with a warning.
    ``qat_float`` is the float model of the QAT model's own trained weights,
    which the QAT model is then measured against. With two models, the
    second may be PTQ or QAT. See docs/measure.md.

    Raises :class:`TflqError` when a model cannot be read or run (an
    interpreter that aborts takes down only the child process).
    """
    from . import _measure

    text = _measure.run(
        float,
        ptq,
        qat,
        inputs=inputs,
        qat_float=qat_float,
        random_samples=random_samples,
        max_samples=max_samples,
        target_sqnr=target_sqnr,
    )
    return _parse(text)
