"""Cold start of ``accelsim eval resnet18 --hw eyeriss`` in fresh processes (issue 13).

Scenarios, each a fresh process with its own empty NUMBA_CACHE_DIR:

* ``cold_compile``: no prebuilt kernels (``ACCELSIM_PREBUILT_KERNELS=0``): numba compiles every kernel;
* ``cold_prebuilt``: the prebuilt kernels of ``accel/_kernel_cache``, (re)built first by ``accelsim warmup
  --force`` (that build's time is reported as ``warmup``);
* ``warm_compile``: a second process on ``cold_compile``'s numba cache (kernels compiled for this CPU);
* ``warm_prebuilt``: a second process on ``cold_prebuilt``'s numba cache.

CPU time (user + sys of the child, from ``wait4``) is the figure to compare on a loaded machine; wall time and
the 1-minute load average are recorded with it.  The warm scenarios run ``--repeat`` times (default 5): their
``wall_s`` / ``cpu_s`` are the medians, with the minima and every run alongside.  The children write and reuse
the tree's ``__pycache__`` as a user's processes do (``PYTHONDONTWRITEBYTECODE`` is dropped from their
environment; without bytecode files every fresh process compiles accelsim's modules again, ≈ 0.08 s).
``python bench/cold_start.py --tree DIR --label NAME -o bench/results/cold_start.json`` measures the source tree
DIR (default: this checkout) and adds its figures under NAME to the JSON file (other labels are kept).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMAND = ("eval", "resnet18", "--hw", "eyeriss")


def _timed(args: list[str], env: dict, cwd: Path) -> dict:
    """Run ``args``; wall seconds, CPU seconds (user, sys) of the child, load average at the end."""
    t = time.perf_counter()
    proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{args} failed: {proc.stderr.read().decode()[-2000:]}")
    return {"cpu_s": round(ru.ru_utime + ru.ru_stime, 2), "user_s": round(ru.ru_utime, 2),
            "sys_s": round(ru.ru_stime, 2), "wall_s": round(wall, 2), "load_1min": os.getloadavg()[0]}


def _repeated(args: list[str], env: dict, cwd: Path, repeat: int) -> dict:
    """``repeat`` runs of ``args``: medians as ``wall_s`` / ``cpu_s`` (user / sys: medians too), minima, every
    run, and the load average before and after."""
    load_before = os.getloadavg()[0]
    runs = [_timed(args, env, cwd) for _ in range(repeat)]
    out = {k: round(statistics.median(r[k] for r in runs), 2) for k in ("cpu_s", "user_s", "sys_s", "wall_s")}
    out.update(cpu_s_min=min(r["cpu_s"] for r in runs), wall_s_min=min(r["wall_s"] for r in runs), repeat=repeat,
               load_1min=[load_before, os.getloadavg()[0]], runs=runs)
    return out


def measure(tree: Path = ROOT, python: str = sys.executable, prebuilt: bool = True, repeat: int = 5) -> dict:
    """Figures of every scenario for the source tree ``tree`` (``prebuilt=False``: the compile ones only,
    e.g. for a tree from before the prebuilt kernels); the warm scenarios ``repeat`` times each."""
    base = {k: v for k, v in os.environ.items()
            if k not in ("NUMBA_CACHE_DIR", "ACCELSIM_PREBUILT_KERNELS", "PYTHONDONTWRITEBYTECODE")}
    base["PYTHONPATH"] = str(tree)
    cmd = [python, "-m", "accel", *COMMAND]
    out: dict = {}
    with tempfile.TemporaryDirectory() as d:
        env = dict(base, NUMBA_CACHE_DIR=d, ACCELSIM_PREBUILT_KERNELS="0")
        out["cold_compile"] = _timed(cmd, env, tree)
        out["warm_compile"] = _repeated(cmd, env, tree, repeat)
    if prebuilt:
        with tempfile.TemporaryDirectory() as d:
            out["warmup"] = _timed([python, "-m", "accel", "warmup", "--force"], dict(base, NUMBA_CACHE_DIR=d), tree)
        with tempfile.TemporaryDirectory() as d:
            env = dict(base, NUMBA_CACHE_DIR=d)
            out["cold_prebuilt"] = _timed(cmd, env, tree)
            out["warm_prebuilt"] = _repeated(cmd, env, tree, repeat)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tree", type=Path, default=ROOT, help="source tree to measure (default: this checkout)")
    p.add_argument("--label", default="current", help="name of these figures in the JSON file")
    p.add_argument("--no-prebuilt", action="store_true", help="compile scenarios only (a tree without warmup)")
    p.add_argument("--repeat", type=int, default=5, help="runs of each warm scenario (default 5; min and median "
                                                          "are reported)")
    p.add_argument("-o", "--output", type=Path, help="JSON file to add the figures to (else: print them)")
    a = p.parse_args(argv)
    if a.repeat < 1:
        p.error(f"--repeat: at least 1, got {a.repeat}")
    import numba

    figures = {"command": "accelsim " + " ".join(COMMAND), "commit": subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=a.tree, capture_output=True, text=True).stdout.strip() or None,
        "cpu_count": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(),
        "numba": numba.__version__, "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python_bytecode_cache": True, **measure(a.tree.resolve(), prebuilt=not a.no_prebuilt, repeat=a.repeat)}
    if a.output is None:
        print(json.dumps(figures, indent=1))
        return 0
    doc = json.loads(a.output.read_text()) if a.output.exists() else {}
    doc[a.label] = figures
    a.output.write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
