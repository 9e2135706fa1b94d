"""Type stubs of the tflq package (the implementation and its docstrings are in __init__.py)."""

import os
from typing import Any, Dict, Optional, Union

from ._tflq import TflqError as TflqError

__all__ = ["TflqError", "compare", "inspect", "measure", "plan", "plan_python", "snapshot", "__version__"]

__version__: str

#: A model: a path (mapped like the command line maps it), or the bytes of a ``.tflite`` file.
Model = Union[str, os.PathLike[str], bytes, bytearray, memoryview]

#: A JSON document of docs/json.md (schema version 2), parsed by ``json.loads``.
Document = Dict[str, Any]

def inspect(model: Model) -> Document:
    """``tflq inspect MODEL --format json``, parsed."""

def compare(ptq: Model, qat: Model, *, range_ratio: float = 4.0) -> Document:
    """``tflq compare PTQ QAT --format json``, parsed; raises TflqError for a pair the CLI refuses."""

def plan(ptq: Model) -> Document:
    """``tflq plan PTQ --format json``, parsed."""

def plan_python(ptq: Model) -> str:
    """The text of ``tflq plan PTQ --format python``."""

def snapshot(model: Model, with_scales: Union[bool, int] = False, exact_names: bool = False) -> str:
    """The text of ``tflq snapshot MODEL [--with-scales[=DIGITS]] [--exact-names]``."""

def measure(
    float: Model,
    ptq: Model,
    qat: Optional[Model] = None,
    *,
    inputs: object = None,
    qat_float: Optional[Model] = None,
    random_samples: Optional[int] = None,
    max_samples: Optional[int] = None,
    target_sqnr: float = 30.0,
) -> Document:
    """``tflq measure FLOAT PTQ [QAT] --format json``, parsed; runs LiteRT in a child process."""
