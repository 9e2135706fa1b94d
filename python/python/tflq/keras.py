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
"""

from __future__ import annotations

import os
import sys
import types
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Optional

from . import compare, plan_python

if TYPE_CHECKING:
    from . import Model

__all__ = ["check", "plan_module", "quantize_model"]

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
