"""The ``tflq`` command of the wheel: the Rust command line, run in this process.

The console script ``tflq`` and ``python -m tflq`` call :func:`main`, which
hands ``sys.argv`` to the same argument parser, commands and exit codes as the
``tflq`` binary. Output goes to the process's standard output and error (file
descriptors 1 and 2), as the binary writes it, not through ``sys.stdout``.
"""

from __future__ import annotations

import os
import sys

from . import _tflq

__all__ = ["main", "run"]


def run(args: list[str]) -> int:
    """Run ``tflq ARGS...`` in process and return its exit status.

    0 fine, 1 findings a ``--fail-on`` gate asked for (or a snapshot that
    differs), 2 usage or input error.

    >>> tflq.cli.run(["snapshot", "testdata/ptq_int8.tflite", "--check", "model.tflq-snapshot"])
    0
    """
    # `tflq measure` starts its runner with this Python, which has tflq.
    os.environ.setdefault("TFLQ_PYTHON", sys.executable)
    # What Python buffered so far goes out before Rust writes to the same
    # file descriptors.
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    return _tflq.run_cli(["tflq", *args])


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``tflq`` console script: exits with the command's status.

    Ctrl-C ends the command at once, as it ends the binary: Python's own
    SIGINT handler would only raise KeyboardInterrupt after Rust returned.
    """
    # `_signal`, the C module under `signal`, is loaded at start-up; `signal`
    # itself would import enum (several milliseconds) for nothing.
    signals = sys.modules.get("_signal") or __import__("signal")
    previous = signals.signal(signals.SIGINT, signals.SIG_DFL)
    try:
        code = run(sys.argv[1:] if argv is None else argv)
    finally:
        signals.signal(signals.SIGINT, previous)
    sys.exit(code)


if __name__ == "__main__":
    main()
