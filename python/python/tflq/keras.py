"""Helpers for a QAT training script: the plan applied to a Keras model, and the check.

They need TensorFlow, tf-keras and tensorflow-model-optimization (tfmot), which
``import tflq`` does not: they are imported when a function here is called.
tfmot works on tf-keras (Keras 2) models, so when TensorFlow is not imported
yet this module sets ``TF_USE_LEGACY_KERAS=1`` (unless the environment sets it)
before importing it, making ``tf.keras`` tf-keras.

The workflow::

    ptq = converter_with_representative_dataset.convert()   # PTQ of the float model
    qat = tflq.keras.quantize_model(float_model, ptq)        # annotated as PTQ places quantizers
    qat.compile(...); qat.fit(...)                           # fine-tune
    result = tflq.keras.check(float_model, qat, representative_dataset)
    assert result["placement_matches"], result["verdict"]

and, once the QAT model is converted, where the conversion computes something
else than what training saw::

    gap = tflq.keras.conversion_gap(qat, qat_tflite, samples)
    print(tflq.keras.conversion_gap_text(gap))   # per layer, worst first; where the gap opens
"""

from __future__ import annotations

import os
import sys
import types
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from . import compare, plan_python

if TYPE_CHECKING:
    from . import Model

__all__ = [
    "check",
    "conversion_gap",
    "conversion_gap_text",
    "gap_from_outputs",
    "plan_module",
    "quantize_model",
]

_INSTALL = "pip install tensorflow tf-keras tensorflow-model-optimization"


def _require(what: str) -> None:
    """Import TensorFlow, tf-keras and tfmot, or raise an ImportError that says what to install."""
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    missing = []
    for module, package in (
        ("tensorflow", "tensorflow"),
        ("tf_keras", "tf-keras"),
        ("tensorflow_model_optimization", "tensorflow-model-optimization"),
    ):
        try:
            __import__(module)
        except ImportError:
            missing.append(package)
    if missing:
        raise ImportError(
            f"tflq.keras.{what} needs TensorFlow, tf-keras and tensorflow-model-optimization; "
            f"missing: {', '.join(missing)}. Install them with: {_INSTALL}"
        )


def plan_module(ptq: Model) -> types.ModuleType:
    """The plan module of ``tflq plan PTQ --format python``, executed in a fresh module.

    Use it where the generated file would be imported: ``PLAN`` (layer ->
    QuantizeConfig class), ``SCOPE`` (for
    ``tfmot.quantization.keras.quantize_scope`` when loading a saved QAT
    model), ``CALIBRATE``, ``annotate(model)``, ``quantize_model(model)``.

    >>> plan = tflq.keras.plan_module("ptq.tflite")
    >>> with tfmot.quantization.keras.quantize_scope(plan.SCOPE):
    ...     model = tf_keras.models.load_model("qat.keras")
    """
    _require("plan_module")
    source = plan_python(ptq)
    label = os.fspath(ptq) if isinstance(ptq, (str, os.PathLike)) else "<bytes>"
    module = types.ModuleType("tflq_plan", f"tflq plan for {label}")
    module.__file__ = f"<tflq plan {label}>"
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def quantize_model(model: Any, ptq: Model) -> Any:
    """``tfmot.quantization.keras.quantize_model(model)``, but with PTQ's quantizer placement.

    ``model`` is the float tf-keras model, ``ptq`` its full-integer PTQ
    conversion (a path or the converter's bytes). Generates the plan
    (:func:`tflq.plan_python`), runs it in a fresh module and returns
    ``module.quantize_model(model)``: a QAT model to compile and fine-tune.

    >>> ptq = converter.convert()            # Optimize.DEFAULT + representative dataset
    >>> qat = tflq.keras.quantize_model(float_model, ptq)
    >>> qat.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    >>> qat.fit(x, y, epochs=1)

    Raises ImportError naming what to install when TensorFlow, tf-keras or
    tfmot is missing, and :class:`tflq.TflqError` when ``ptq`` cannot be read.
    """
    return plan_module(ptq).quantize_model(model)


def check(
    float_model: Any,
    qat_model: Any,
    representative_dataset: Callable[[], Iterable[Any]],
    *,
    calibrate_qat: bool = False,
    range_ratio: float = 4.0,
) -> Dict[str, Any]:
    """Convert both models with your TensorFlow and compare them: ``tflq.compare(ptq, qat)``.

    The float model is converted with PTQ (``optimizations=[Optimize.DEFAULT]``
    and ``representative_dataset``), the QAT model with
    ``optimizations=[Optimize.DEFAULT]``; ``calibrate_qat=True`` gives the QAT
    conversion the representative dataset too (when the plan module's
    ``CALIBRATE`` is not empty). Returns the comparison (see
    :func:`tflq.compare`); ``result["placement_matches"]`` says whether QAT
    places its quantizers where PTQ does.

    >>> result = tflq.keras.check(float_model, qat, representative_dataset)
    >>> result["placement_matches"], result["verdict"]
    (True, 'QAT quantizer placement matches PTQ: nothing to add or remove.')
    """
    _require("check")
    tf: Any = sys.modules["tensorflow"]

    def convert(model: Any, dataset: Optional[Callable[[], Iterable[Any]]]) -> bytes:
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if dataset is not None:
            converter.representative_dataset = dataset
        flatbuffer: bytes = converter.convert()
        return flatbuffer

    ptq = convert(float_model, representative_dataset)
    qat = convert(qat_model, representative_dataset if calibrate_qat else None)
    return compare(ptq, qat, range_ratio=range_ratio)


#: A layer is where the conversion diverges from training when its SQNR (converted tensor against the
#: layer's output in training) is below this many dB ...
MIN_SQNR_DB = 30.0
#: ... and its largest error is more than this many quantization steps of the converted tensor: one step
#: is a rounding tie broken the other way, which a faithful conversion makes too.
ROUNDING_STEPS = 1.0


def conversion_gap(
    qat_model: Any,
    qat_tflite: Model,
    inputs: Any,
    *,
    max_samples: Optional[int] = None,
    min_sqnr: float = MIN_SQNR_DB,
    rounding_steps: float = ROUNDING_STEPS,
    python: Optional[str] = None,
) -> Dict[str, Any]:
    """Where the conversion of a QAT model stops computing what training saw, layer by layer.

    Runs the tf-keras QAT model (tfmot's fake-quant, ``training=False``) and
    its conversion ``qat_tflite`` (a path or the converter's bytes) on the
    same samples, and compares each layer's output in Keras with the tensor
    tflq attributes to that layer in the file (dequantized with its scale and
    zero point). The file runs with LiteRT (builtin kernels, no delegates) in
    a child process, as :func:`tflq.measure` runs it: an interpreter that
    aborts raises :class:`tflq.TflqError` here. The statistics are running
    sums: memory does not grow with the number of samples.

    ``inputs`` is a ``.npy``/``.npz`` path, or an iterable (or a callable
    returning one, such as a converter's ``representative_dataset``) of
    samples: an array, or one per model input, with or without a batch axis
    (a batch is split into samples). ``max_samples`` stops early.

    Returns a dict (see :func:`gap_from_outputs`): per layer, worst first, the
    SQNR in dB, RMSE / scale, cosine and largest error of the converted tensor
    against the Keras layer's output, and ``first_divergence``, the first
    layer in the model's order below ``min_sqnr`` dB whose largest error is
    more than ``rounding_steps`` steps of its tensor's scale (more than a
    rounding tie broken the other way; float tensors: SQNR only): where the
    gap opens. :func:`conversion_gap_text` renders it.

    >>> gap = tflq.keras.conversion_gap(qat, qat_tflite, x_test[:64])
    >>> gap["first_divergence"]       # None when every layer holds min_sqnr dB
    'conv2'
    >>> print(tflq.keras.conversion_gap_text(gap))

    The Keras model's inputs are fed to the file's inputs in order.
    """
    _require("conversion_gap")
    tf: Any = sys.modules["tensorflow"]
    wrapped = [(layer, _source_name(layer)) for layer in qat_model.layers]
    candidates = [(layer, name) for layer, name in wrapped if type(layer).__name__ != "InputLayer"]
    keras_names = {name: layer.name for layer, name in candidates}
    usable: List[Tuple[Any, str]] = []
    unusable: Dict[str, str] = {}
    for layer, name in candidates:
        try:
            out = layer.output
        except (AttributeError, RuntimeError, ValueError):
            unusable[name] = "it is called more than once, so it has no one output"
            continue
        if isinstance(out, (list, tuple)):
            unusable[name] = "it has several outputs"
            continue
        usable.append((out, name))
    n_inputs = len(qat_model.inputs)

    def select(layers: Sequence[str]) -> Iterator[Tuple[List[Any], List[Any]]]:
        import numpy as np

        chosen = set(layers)
        wanted = [out for out, name in usable if name in chosen]
        probe = tf.keras.Model(qat_model.inputs, wanted)
        ranks = [len(t.shape) for t in qat_model.inputs]
        for item in _items(inputs):
            arrays = list(item) if isinstance(item, (list, tuple)) else [item]
            if len(arrays) != n_inputs:
                raise ValueError(f"a sample holds {len(arrays)} array(s) for a model with {n_inputs} input(s)")
            batch = [np.asarray(a, dtype=np.float32) for a in arrays]
            batch = [a[None] if a.ndim == r - 1 else a for a, r in zip(batch, ranks)]
            outs = probe(batch if n_inputs > 1 else batch[0], training=False)
            outs = [np.asarray(o) for o in (outs if isinstance(outs, (list, tuple)) else [outs])]
            for i in range(batch[0].shape[0]):
                yield [a[i : i + 1] for a in batch], [o[i : i + 1] for o in outs]

    order = [name for _, name in candidates]
    gap = gap_from_outputs(
        qat_tflite,
        order,
        select,
        max_samples=max_samples,
        min_sqnr=min_sqnr,
        rounding_steps=rounding_steps,
        python=python,
        unusable=unusable,
    )
    gap["keras_model"] = str(qat_model.name)
    for row in gap["layers"] + gap["not_compared"]:
        row["keras_layer"] = keras_names.get(row["layer"])
    return gap


def _source_name(layer: Any) -> str:
    """The name tflq reads in the converted file: a tfmot wrapper's is the wrapped layer's."""
    inner = getattr(layer, "layer", None)
    if inner is not None and hasattr(layer, "quantize_config"):
        return str(inner.name)
    return str(layer.name)


def _items(inputs: Any) -> Iterator[Any]:
    """The items of ``inputs``: a .npy/.npz path, an iterable, or a callable returning one."""
    import numpy as np

    if isinstance(inputs, (str, os.PathLike)):
        path = os.fspath(inputs)
        if path.endswith(".npz"):
            with np.load(path, allow_pickle=False) as z:
                yield [z[k] for k in z.files]
            return
        yield np.load(path, allow_pickle=False)
        return
    yield from (inputs() if callable(inputs) else inputs)


def gap_from_outputs(
    tflite: Model,
    layers: Sequence[str],
    samples: Callable[[Sequence[str]], Iterable[Tuple[Sequence[Any], Sequence[Any]]]],
    *,
    max_samples: Optional[int] = None,
    min_sqnr: float = MIN_SQNR_DB,
    rounding_steps: float = ROUNDING_STEPS,
    python: Optional[str] = None,
    unusable: Optional[Dict[str, str]] = None,
) -> Dict[str, Any]:
    """The conversion gap of :func:`conversion_gap` for layer outputs computed anywhere (no TensorFlow).

    ``layers`` are the source model's layer names in its order (a tfmot
    wrapper by the layer it wraps, as the converted file names it).
    ``samples(compared)`` is called once with the layers that have a tensor
    in the file, in that order, and yields per sample ``(inputs, outputs)``:
    one array per model input, and each compared layer's output (float32,
    one sample each). The file runs with LiteRT in a child process; each
    output is compared with its tensor there, in running sums.

    The dict: ``model`` (the file's label), ``runtime``, ``samples``,
    ``min_sqnr_db``, ``rounding_steps``, ``first_divergence`` (the first
    compared layer in ``layers`` order that ``diverges``: its SQNR is below
    ``min_sqnr`` and, for a quantized tensor, its largest error more than
    ``rounding_steps`` steps; or None), ``layers``
    (the compared layers, worst first: ``layer``, ``position`` in ``layers``,
    ``op``, ``opcode``, ``tensor``, ``dtype``, ``scale``, ``zero_point``,
    ``folded``, ``count``, ``sqnr_db`` (None: no error at all; ``-inf``: a
    layer output of zeros), ``rmse``, ``rmse_over_scale``, ``cosine``,
    ``max_abs_error``, ``mean_error``, ``diverges``) and ``not_compared``
    (``layer``, ``position``, ``why``; the file's layers the list does not
    name have ``position`` None).
    """
    from . import _measure, _tflq
    from ._runner import JOB_VERSION

    import tempfile

    if not (isinstance(min_sqnr, (int, float)) and min_sqnr == min_sqnr and abs(min_sqnr) != float("inf")):
        raise ValueError("min_sqnr must be a finite number of dB")
    if not (isinstance(rounding_steps, (int, float)) and 0 <= rounding_steps < float("inf")):
        raise ValueError("rounding_steps must be a finite number of steps, 0 or more")
    unusable = unusable or {}
    with tempfile.TemporaryDirectory(prefix="tflq_gap_") as tmp:
        path, label = _measure._model_path(tflite, "qat", tmp)
        carried = {o["layer"]: o for o in _tflq.GapSession(path, label, []).layers()}
        folded_into = {f: o for o in carried.values() for f in o["folded"]}
        compared: List[str] = []
        position_of: Dict[str, int] = {}  # each compared layer's first position in `layers`
        not_compared: List[Dict[str, Any]] = []
        for position, name in enumerate(layers):
            if name in unusable:
                why = unusable[name]
            elif name in carried:
                if name not in position_of:
                    position_of[name] = position
                    compared.append(name)
                continue
            elif name in folded_into:
                o = folded_into[name]
                why = f"folded into '{o['layer']}' ({o['opcode']} #{o['op']})"
            else:
                why = "no op of the converted model carries it"
            not_compared.append({"layer": name, "position": position, "why": why})
        named = set(layers)
        for name, o in carried.items():
            if name not in named:
                not_compared.append({"layer": name, "position": None,
                                     "why": f"the converted model's {o['opcode']} #{o['op']} names it; the source model has no such layer"})
        if not compared:
            raise ValueError(f"{label}: no layer of the source model has a tensor in the converted model")

        def stream() -> Iterator[List[Any]]:
            n = 0
            for ins, outs in samples(list(compared)):
                if max_samples is not None and n >= max_samples:
                    return
                outs = list(outs)
                if len(outs) != len(compared):
                    raise ValueError(f"a sample holds {len(outs)} layer output(s) for {len(compared)} compared layer(s)")
                yield list(ins) + outs
                n += 1

        job = {
            "version": JOB_VERSION,
            "kind": "conversion-gap",
            "model": path,
            "label": label,
            "tensors": [carried[name]["tensor"] for name in compared],
        }
        import json

        done = json.loads(_measure.run_child(job, stream(), python))
    rows: List[Dict[str, Any]] = []
    for name, metrics in zip(compared, done["results"]):
        o = carried[name]
        row: Dict[str, Any] = {"layer": name, "position": position_of[name]}
        row.update({k: o[k] for k in ("op", "opcode", "tensor", "dtype", "scale", "zero_point", "folded")})
        row.update(metrics or {})
        sqnr, scale = row.get("sqnr_db"), row.get("scale")
        # (a step off is exactly one scale, give or take float32 rounding)
        beyond_rounding = scale is None or row.get("max_abs_error", 0.0) > rounding_steps * scale * (1 + 1e-4)
        row["diverges"] = sqnr is not None and sqnr < min_sqnr and beyond_rounding
        rows.append(row)
    first = next((r["layer"] for r in rows if r["diverges"]), None)
    rows.sort(key=_worst_first)
    not_compared.sort(key=lambda r: (r["position"] is None, r["position"] or 0))
    return {
        "model": label,
        "runtime": done["runtime"],
        "samples": done["samples"],
        "min_sqnr_db": float(min_sqnr),
        "rounding_steps": float(rounding_steps),
        "first_divergence": first,
        "layers": rows,
        "not_compared": not_compared,
    }


def _worst_first(row: Dict[str, Any]) -> Tuple[float, float, int]:
    sqnr = row.get("sqnr_db")
    return (float("inf") if sqnr is None else sqnr, -row.get("max_abs_error", 0.0), row["position"])


def conversion_gap_text(gap: Dict[str, Any]) -> str:
    """The result of :func:`conversion_gap` as text: the verdict, then one line per layer, worst first."""

    def num(v: Any, digits: int) -> str:
        if v is None:
            return "-"
        return f"{v:.{digits}f}"

    rows = gap["layers"]
    by_name = {r["layer"]: r for r in rows}
    source = gap.get("keras_model")
    lines = [
        "tflq conversion gap: "
        + (f"Keras model '{source}'" if source else "the source model")
        + f" against {gap['model']}, {gap['samples']} sample(s), {gap['runtime']}",
    ]
    first = gap["first_divergence"]
    if first is not None:
        r = by_name[first]
        before = [x for x in rows if x["position"] < r["position"]]
        worst_before = min((x["sqnr_db"] for x in before if x["sqnr_db"] is not None), default=None)
        held = (f"; the {len(before)} layer(s) before it hold {num(worst_before, 1)} dB or more"
                if before and worst_before is not None else
                f"; the {len(before)} layer(s) before it match exactly" if before else "")
        steps = r["max_abs_error"] / r["scale"] if r.get("scale") else None
        lines.append(
            f"the gap opens at '{first}' ({r['opcode']} #{r['op']}): SQNR {num(r['sqnr_db'], 1)} dB, "
            + (f"largest error {num(steps, 1)} steps, " if steps is not None else "")
            + f"below {gap['min_sqnr_db']:g} dB{held}"
        )
    else:
        worst = rows[0] if rows else None
        lines.append(
            f"no gap: every compared layer holds {gap['min_sqnr_db']:g} dB or is within "
            f"{gap['rounding_steps']:g} step(s) of rounding"
            + (f" (worst '{worst['layer']}', {num(worst['sqnr_db'], 1)} dB)" if worst and worst["sqnr_db"] is not None else "")
        )
    header = ("layer", "op", "SQNR dB", "RMSE/scale", "max err/scale", "cosine", "max abs err")
    table = [header] + [
        (
            r["layer"] + (" <- gap opens" if r["layer"] == first else " *" if r["diverges"] else ""),
            f"{r['opcode']} #{r['op']}",
            "exact" if r.get("sqnr_db") is None and r.get("count") else num(r.get("sqnr_db"), 1),
            num(r.get("rmse_over_scale"), 3),
            num(r["max_abs_error"] / r["scale"] if r.get("scale") and "max_abs_error" in r else None, 2),
            num(r.get("cosine"), 5),
            num(r.get("max_abs_error"), 4),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines.append("")
    for row in table:
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])] + [c.rjust(w) for c, w in zip(row[2:], widths[2:])]
        lines.append("  ".join(cells).rstrip())
    if any(r["diverges"] for r in rows):
        lines.append(f"(* below {gap['min_sqnr_db']:g} dB and more than {gap['rounding_steps']:g} step(s) off)")
    if gap["not_compared"]:
        lines.append("")
        for r in gap["not_compared"]:
            lines.append(f"not compared: '{r['layer']}': {r['why']}")
    return "\n".join(lines) + "\n"
