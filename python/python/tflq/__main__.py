"""``python -m tflq ...``: the same command line as the ``tflq`` console script."""

from .cli import main

main()
