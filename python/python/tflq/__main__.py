"""``python -m tflq ...``: the same command line as the ``tflq`` console script."""

from .cli import main

if __name__ == "__main__":
    main()
