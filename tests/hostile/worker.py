"""A long-lived process that runs hostile cases through ``accel.app.cli.main`` in-process.

The test process starts it with ``python -m tests.hostile.worker``, waits for ``{"ready": true}`` (imports
and numba kernels loaded), then sends one JSON request per line: ``{"argv": [...], "cwd": "..."}``.  The
worker answers one JSON line: ``{"code", "stdout", "stderr", "seconds", "escaped"}``.  stdout and stderr are
captured at the file-descriptor level (C libraries' output too).  A case that overruns its time is ended by
killing this process — the only way to stop code that holds the GIL — and the next case gets a new worker.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import time
import traceback


def _exit_code(e: SystemExit) -> int:
    if e.code is None:
        return 0
    return e.code if isinstance(e.code, int) else 1


def run_one(argv: list[str], cwd: str) -> dict:
    from accel.app.cli import main

    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        saved = os.dup(1), os.dup(2)
        old = sys.stdout, sys.stderr
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(fo.fileno(), 1)
        os.dup2(fe.fileno(), 2)
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="replace",
                                      line_buffering=True)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="replace",
                                      line_buffering=True)
        cwd0 = os.getcwd()
        code, escaped = None, ""
        t0 = time.monotonic()
        try:
            os.chdir(cwd)
            code = main(list(argv))
        except SystemExit as e:
            code = _exit_code(e)
        except BaseException:  # noqa: BLE001 - what a user's terminal would show
            escaped = traceback.format_exc()
            code = 1
        finally:
            dt = time.monotonic() - t0
            for s in (sys.stdout, sys.stderr):
                try:
                    s.flush()
                except (OSError, ValueError):
                    pass
            sys.stdout, sys.stderr = old
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            os.chdir(cwd0)
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read().decode("utf-8", "replace"), fe.read().decode("utf-8", "replace")
    if code is not None and not isinstance(code, int):
        escaped = escaped or f"main() returned {code!r}, not an exit status"
        code = 1
    return {"code": code, "stdout": out, "stderr": err, "seconds": dt, "escaped": escaped}


def warm_up() -> None:
    """Load the numba kernels (compiled or from the cache) and the heavy modules once."""
    import contextlib

    from accel.app.cli import main
    from tests.hostile.generators import tiny_onnx_model

    with tempfile.TemporaryDirectory(prefix="hostile-warm-") as d:
        p = os.path.join(d, "tiny.onnx")
        with open(p, "wb") as f:
            f.write(tiny_onnx_model().SerializeToString())
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            main(["map", "--hw", "eyeriss", "--layer", "conv K=8 C=8 P=4 Q=4 R=3 S=3"])
            main(["eval", p, "--hw", "eyeriss", "--format", "json"])
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401


MEMORY_LIMIT_BYTES = 6 * 2 ** 30  # a blow-up (billion laughs, huge tensors) is a MemoryError, not the OOM killer


def serve() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_DATA, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    proto = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # nothing but answers may reach the protocol pipe
    warm_up()
    proto.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        req = json.loads(line)
        proto.write(json.dumps(run_one(req["argv"], req["cwd"])) + "\n")


if __name__ == "__main__":
    serve()
