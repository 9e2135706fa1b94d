"""Type stubs of ``tflq._tflq``, the native half of the package (use ``tflq``)."""

import os
from typing import List, Optional, Union

_Model = Union[str, os.PathLike[str], bytes, bytearray, memoryview]

__all__ = ["TflqError", "__version__", "compare_json", "inspect_json", "plan_text", "run_cli", "snapshot"]

__version__: str

class TflqError(ValueError):
    """A model that cannot be read, or a pair ``compare`` cannot judge."""

def inspect_json(model: _Model) -> str: ...
def compare_json(ptq: _Model, qat: _Model, range_ratio: float = 4.0) -> str: ...
def plan_text(ptq: _Model, python: bool = False) -> str: ...
def snapshot(model: _Model, with_scales: Optional[int] = None, exact_names: bool = False) -> str: ...
def run_cli(argv: List[str]) -> int: ...
