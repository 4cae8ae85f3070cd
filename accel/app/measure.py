"""Real runs for the cross-check: ONNX → apache-tvm (Relax, MetaSchedule-tuned kernels) and onnxruntime, timed.

Measurement protocol (``accelsim xcheck``; used for every latency this module reports)
-------------------------------------------------------------------------------------
* One process; all candidates are compiled / loaded first, then measured **interleaved**: every repeat
  visits every candidate once (in a rotated order), so slow drift (frequency, a neighbour's load) hits all
  candidates alike instead of biasing the ones measured last.
* ``warmup`` (≥ 3) untimed calls per candidate before the first repeat.
* ``repeats`` (≥ 5) × ``number`` (≥ 10) runs: a repeat times ``number`` back-to-back calls with
  ``time.perf_counter`` and divides; the reported latency is the **minimum** over repeats (the least-disturbed
  estimate of the run time; noise only ever adds time).
* One intra-op thread: onnxruntime ``intra_op_num_threads=1, inter_op_num_threads=1`` with sequential
  execution; TVM is compiled for ``num-cores: 1`` and its runtime thread pool is configured to one thread.
* The whole set is measured twice (two independent passes of the above); the Spearman ρ between the two
  passes is the test-retest ceiling — no predictor can rank the candidates better than the measurement
  reproduces its own ranking.

Kernel tuning (CHaNAS, Zhang et al., "block-based pre-scheduling": tune each block once, look it up
afterwards): :func:`union_tasks` extracts the MetaSchedule tasks of *all* candidates and deduplicates them
by structural hash, :func:`tune_union` tunes each distinct kernel once and stores a pruned database (best
record per kernel) in a directory that is committed as data; :func:`missing_kernels` lists the kernels of a
network that the database lacks — a network with any missing kernel gets no TVM latency.

Per-kernel latency: the Relax VM has no profiler, so :func:`kernel_times` times each kernel call of a real
network execution through the VM instrument hook (called before and after every packed call).

Pitfalls of apache-tvm 0.27 on these machines, handled here: MetaSchedule's builder workers import TVM's
tensor-intrinsic library (35–49 s) in ``default_build`` and hit the 30 s build timeout, so
:func:`_build_no_intrin` builds without that import (fp32 LLVM schedules use no tensor intrinsics);
``apache-tvm-ffi`` must be 0.1.14.post1; target strings are JSON dicts.

``tvm`` and ``onnxruntime`` are imported lazily.
"""

from __future__ import annotations

from accel.errors import ExternalToolError
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

MIN_WARMUP, MIN_REPEATS, MIN_NUMBER = 3, 5, 10
DB_TARGET_FILE = "target.json"
# Kernels are identified by their anchor block (the conv / matmul / pool at the heart of a fused kernel,
# tensor values ignored): fused variants with different element-wise epilogues share one tuning record, the
# CHaNAS "tune each block once" reuse.  Tasks, database and the apply pass all use this equality.
MODULE_EQUALITY = "anchor-block"


class MeasureError(ExternalToolError):
    """A real run could not be set up (missing backend, missing tuned kernels, bad ONNX file)."""


# ---------------------------------------------------------------------------------------------------------
# the C allocator
# ---------------------------------------------------------------------------------------------------------
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc <malloc.h>
RETAIN_MMAP_THRESHOLD = 32 << 20  # glibc's largest (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit)
RETAIN_TRIM_THRESHOLD = 1 << 30


def set_allocator(mode: str) -> str:
    """Put this process's C allocator in ``mode`` (:data:`accel.app.options.ALLOCATORS`) and describe what was set
    (for a config's ``sources`` or a measurement's protocol).  ``retain`` calls glibc's ``mallopt``:
    ``M_MMAP_THRESHOLD`` 32 MiB (blocks up to that size come from the heap) and ``M_TRIM_THRESHOLD`` 1 GiB (freed heap
    memory is kept) — for the rest of the process's life (glibc's adaptive thresholds cannot be switched back on); :class:`MeasureError`
    where there is no glibc.  ``system`` changes nothing."""
    from accel.app.options import ALLOCATORS
    from accel.errors import InputError

    if mode not in ALLOCATORS:
        raise InputError(f"--allocator must be one of {', '.join(ALLOCATORS)}, got {mode!r}")
    if mode == "system":
        return "allocator system: the C library's malloc defaults (freed blocks may go back to the OS)"
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        raise MeasureError("--allocator retain needs glibc's mallopt (Linux with glibc); use --allocator system") \
            from None
    if mallopt(M_MMAP_THRESHOLD, RETAIN_MMAP_THRESHOLD) != 1 or mallopt(M_TRIM_THRESHOLD, RETAIN_TRIM_THRESHOLD) != 1:
        raise MeasureError("--allocator retain: glibc's mallopt refused the thresholds")
    return (f"allocator retain: glibc mallopt M_MMAP_THRESHOLD {RETAIN_MMAP_THRESHOLD} B, M_TRIM_THRESHOLD "
            f"{RETAIN_TRIM_THRESHOLD} B (freed memory stays in the process; accel.app.measure.set_allocator)")


# ---------------------------------------------------------------------------------------------------------
# backends
# ---------------------------------------------------------------------------------------------------------
def tvm_available() -> str | None:
    """None when apache-tvm (with MetaSchedule's dependencies) imports, else the reason it does not."""
    try:
        import tvm  # noqa: F401
        from tvm import relax  # noqa: F401
        from tvm.relax.frontend.onnx import from_onnx  # noqa: F401
    except Exception as e:  # ImportError, or a broken tvm-ffi pairing
        return f"apache-tvm is not usable ({type(e).__name__}: {e}); pip install 'accelsim[xcheck]'"
    return None


def ort_available() -> str | None:
    try:
        import onnxruntime  # noqa: F401
    except ImportError as e:
        return f"onnxruntime is not installed ({e}); pip install 'accelsim[xcheck]'"
    return None


def gpu_available() -> str | None:
    """None when TVM sees a CUDA device, else why not (the GPU cross-check is then skipped)."""
    why = tvm_available()
    if why:
        return why
    import tvm

    try:
        if tvm.cuda(0).exist:
            return None
    except Exception as e:  # a CPU-only TVM build
        return f"no CUDA device visible to TVM ({type(e).__name__}: {e})"
    return "no CUDA device visible to TVM (this TVM build or machine has no GPU)"


def cpu_target(threads: int = 1) -> dict:
    """The LLVM target of this host as a JSON-dict target (TVM 0.27 syntax), ``threads`` cores."""
    from tvm.target import codegen

    return {"kind": "llvm", "num-cores": int(threads), "mcpu": str(codegen.llvm_get_system_cpu())}


def gpu_target() -> str:
    """H100/H200 (both sm_90): TVM's ``nvidia/nvidia-h100`` target tag."""
    return "nvidia/nvidia-h100"


def set_tvm_threads(threads: int) -> None:
    """Configure TVM's runtime thread pool to ``threads`` workers (affinity mode 0: big cores)."""
    import tvm

    os.environ["TVM_NUM_THREADS"] = str(threads)
    tvm.get_global_func("runtime.config_threadpool")(0, int(threads))


# ---------------------------------------------------------------------------------------------------------
# ONNX → Relax
# ---------------------------------------------------------------------------------------------------------
def relax_module(onnx_path: str | os.PathLike, target):
    """Import ``onnx_path`` with the Relax ONNX frontend (weights bound as constants), decompose BatchNorm for
    inference, legalize and fuse (TVM's ``zero`` pipeline without a database): the IRModule whose fused
    PrimFuncs are the kernels that get tuned and run."""
    import onnx
    import tvm
    from tvm import relax
    from tvm.relax.frontend.onnx import from_onnx

    try:
        model = onnx.load(str(onnx_path))
    except Exception as e:
        raise MeasureError(f"{onnx_path}: not a readable ONNX model ({e})") from None
    try:
        mod = from_onnx(model, keep_params_in_input=False)
    except Exception as e:
        raise MeasureError(f"{onnx_path}: TVM's ONNX frontend failed: {type(e).__name__}: {e}") from None
    with tvm.target.Target(target):
        mod = relax.transform.DecomposeOpsForInference()(mod)
        mod = relax.transform.CanonicalizeBindings()(mod)
        mod = relax.get_pipeline("zero")(mod)
    return mod


def _task_key(task) -> str:
    """Identity of a kernel under :data:`MODULE_EQUALITY`: the structural hash of its anchor block (of the
    whole function when it has none)."""
    import tvm_ffi
    from tvm.s_tir.analysis import find_anchor_sblock

    mod = task.dispatched[0]
    anchor = find_anchor_sblock(mod)
    return f"{tvm_ffi.structural_hash(anchor if anchor is not None else mod) & 0xFFFFFFFFFFFFFFFF:016x}"


def extract_tasks(mod, target) -> list:
    """MetaSchedule tasks (one per distinct fused kernel) of a fused Relax module."""
    import tvm
    from tvm.s_tir import meta_schedule as ms

    return ms.relax_integration.extract_tasks(mod, tvm.target.Target(target), module_equality=MODULE_EQUALITY)


def union_tasks(mods: dict[str, object], target) -> tuple[list, dict[str, list[str]]]:
    """CHaNAS-style task union over the candidate set: ``(tasks, kernels_of)`` where ``tasks`` holds each
    distinct kernel once (structural hash; the first network's task object) and ``kernels_of[name]`` lists
    the kernel keys of network ``name``."""
    seen: dict[str, object] = {}
    kernels_of: dict[str, list[str]] = {}
    for name, mod in mods.items():
        keys = []
        for t in extract_tasks(mod, target):
            k = _task_key(t)
            keys.append(k)
            seen.setdefault(k, t)
        kernels_of[name] = keys
    return list(seen.values()), kernels_of


def _build_no_intrin(mod, target, _params):
    """MetaSchedule builder without ``import tvm.s_tir.tensor_intrin`` (35–49 s per worker on these machines,
    beyond the 30 s build timeout); otherwise TVM's ``default_build``."""
    from tvm.driver import build as tvm_build
    from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock

    mod = RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(mod)
    return tvm_build(mod, target=target)


def open_database(db_dir: str | os.PathLike, create: bool = False):
    """The JSON tuning database in ``db_dir`` (``database_workload.json`` + ``database_tuning_record.json``)."""
    from tvm.s_tir import meta_schedule as ms

    d = Path(db_dir)
    wl, rec = d / "database_workload.json", d / "database_tuning_record.json"
    if not create and not (wl.exists() and rec.exists()):
        raise MeasureError(f"{d}: no MetaSchedule tuning database here (expected {wl.name} and {rec.name}); "
                           f"tune with --trials N")
    d.mkdir(parents=True, exist_ok=True)
    return ms.database.JSONDatabase(path_workload=str(wl), path_tuning_record=str(rec), allow_missing=create,
                                    module_equality=MODULE_EQUALITY)


def database_target(db_dir: str | os.PathLike) -> dict | None:
    p = Path(db_dir) / DB_TARGET_FILE
    return json.loads(p.read_text()) if p.exists() else None


def tune_union(tasks: list, target, db_dir: str | os.PathLike, trials_per_task: int,
               progress: Callable[[str], None] | None = None, max_workers: int | None = None,
               build_timeout_s: float = 120.0, search: str = "evolutionary") -> dict:
    """Tune every task in ``tasks`` (``trials_per_task`` MetaSchedule trials each) and merge the best record
    per kernel into the database in ``db_dir`` (kept small: only the top record per workload is stored).
    Tasks already in the database are skipped.  ``search``: MetaSchedule's "evolutionary" search (XGBoost
    cost model) or "replay-trace" (random schedules from the same design space, measured; far cheaper per
    trial on a loaded 2-core machine).  Returns ``{"tuned", "skipped", "seconds", "failed", "search",
    "trials_per_task"}``."""
    import tempfile

    import tvm
    from tvm.s_tir import meta_schedule as ms

    tgt = tvm.target.Target(target)
    db = open_database(db_dir, create=True)
    todo = [t for t in tasks if _needs_tuning(t) and db.query_tuning_record(t.dispatched[0], tgt, t.task_name) is None]
    info = {"tuned": len(todo), "skipped": len(tasks) - len(todo), "seconds": 0.0, "search": search,
            "trials_per_task": trials_per_task}
    if not todo:
        return info
    t0 = time.perf_counter()
    workers = max_workers or os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="accelsim-tune-") as work:
        ctxs, weights = ms.relax_integration.extracted_tasks_to_tune_contexts(todo, work_dir=work,
                                                                              num_threads=workers, seed=0,
                                                                              strategy=search)
        if progress:
            progress(f"tuning {len(todo)} kernels × {trials_per_task} trials")
        builder = ms.builder.LocalBuilder(max_workers=workers, timeout_sec=build_timeout_s, f_build=_build_no_intrin)
        runner = ms.runner.LocalRunner(timeout_sec=30)
        tuned = ms.tune_tasks(tasks=ctxs, task_weights=[float(w) for w in weights], work_dir=work,
                              max_trials_global=trials_per_task * len(todo), max_trials_per_task=trials_per_task,
                              num_trials_per_iter=min(64, trials_per_task), builder=builder, runner=runner,
                              module_equality=MODULE_EQUALITY)
        missing = [t.task_name for t in todo if tuned.query_tuning_record(t.dispatched[0], tgt, t.task_name) is None]
        tuned.dump_pruned(db)  # best record per workload only
    Path(db_dir, DB_TARGET_FILE).write_text(json.dumps(target if isinstance(target, dict) else str(target)) + "\n")
    info["seconds"] = time.perf_counter() - t0
    info["failed"] = missing
    return info


def _needs_tuning(task) -> bool:
    """False for kernels TVM already marks as scheduled (MetaSchedule skips them; they need no record)."""
    return not bool(task.mod.attrs.get("tirx.is_scheduled", False)) if task.mod.attrs is not None else True


def gpu_default_schedule(mod, target):
    """TVM's default GPU schedules (dlight rules: matmul, GEMV, reductions, fallback) for every kernel of a
    fused Relax module — the untuned CUDA baseline before MetaSchedule."""
    import tvm
    from tvm.s_tir import dlight as dl

    with tvm.target.Target(target):
        return dl.ApplyDefaultSchedule(dl.gpu.Matmul(), dl.gpu.GEMV(), dl.gpu.Reduction(),
                                       dl.gpu.GeneralReduction(), dl.gpu.Fallback())(mod)


def missing_kernels(mod, target, db) -> list[str]:
    """Names of the fused kernels of ``mod`` that have no tuning record in ``db`` (empty: fully tuned)."""
    import tvm

    tgt = tvm.target.Target(target)
    return [t.task_name for t in extract_tasks(mod, target)
            if _needs_tuning(t) and db.query_tuning_record(t.dispatched[0], tgt, t.task_name) is None]


def compile_tvm(mod, target, db=None):
    """Compile a fused Relax module (tuned kernels from ``db`` applied when given) → ``relax.VirtualMachine``."""
    import tvm
    from tvm import relax

    tgt = tvm.target.Target(target)
    if db is not None:
        with tgt, db:
            mod = relax.transform.MetaScheduleApplyDatabase()(mod)
    ex = tvm.compile(mod, target=tgt)
    dev = tvm.cuda(0) if tgt.kind.name == "cuda" else tvm.cpu(0)
    return relax.VirtualMachine(ex, dev), dev


def ort_session(onnx_path: str | os.PathLike, threads: int = 1):
    """onnxruntime CPU execution provider, ``threads`` intra-op threads, sequential execution."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    return ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])


@dataclass
class Runner:
    """One candidate ready to run: ``call()`` executes one inference on fixed inputs; ``output()`` returns
    its output as a numpy array (for the numerical check)."""

    name: str
    backend: str
    call: Callable[[], object]
    output: Callable[[], np.ndarray]
    meta: dict = field(default_factory=dict)


def tvm_runner(name: str, vm, dev, x: np.ndarray) -> Runner:
    import tvm

    xin = tvm.runtime.tensor(x, device=dev)
    f = vm["main"]
    on_cpu = str(dev).startswith("cpu")

    def call():
        out = f(xin)
        if not on_cpu:  # GPU launches are asynchronous: wait for the kernels
            dev.sync()
        return out

    def output():
        out = f(xin)
        out = out[0] if isinstance(out, (list, tuple)) or type(out).__name__ == "Array" else out
        return out.numpy()

    return Runner(name, "tvm", call, output, {"vm": vm, "dev": dev, "input": xin})


def ort_runner(name: str, sess, x: np.ndarray) -> Runner:
    feed = {sess.get_inputs()[0].name: x}
    return Runner(name, "ort", lambda: sess.run(None, feed), lambda: sess.run(None, feed)[0])


# ---------------------------------------------------------------------------------------------------------
# timing
# ---------------------------------------------------------------------------------------------------------
def check_protocol(warmup: int, repeats: int, number: int) -> None:
    if warmup < MIN_WARMUP or repeats < MIN_REPEATS or number < MIN_NUMBER:
        raise ValueError(f"measurement protocol needs warmup >= {MIN_WARMUP}, repeats >= {MIN_REPEATS}, "
                         f"number >= {MIN_NUMBER} (got {warmup}, {repeats}, {number})")


def measure_interleaved(runners: list[Runner], warmup: int = MIN_WARMUP, repeats: int = MIN_REPEATS,
                        number: int = MIN_NUMBER, progress: Callable[[str], None] | None = None) -> np.ndarray:
    """Latency in seconds per runner (shape ``(len(runners),)``) by the protocol in the module docstring:
    warm-up, then ``repeats`` rounds visiting every runner once in rotated order, each timing ``number``
    calls; minimum over rounds of the per-call mean."""
    check_protocol(warmup, repeats, number)
    n = len(runners)
    for r in runners:
        for _ in range(warmup):
            r.call()
    best = np.full(n, np.inf)
    for rep in range(repeats):
        for j in range(n):
            i = (j + rep) % n  # rotate the visiting order every round
            call = runners[i].call
            t0 = time.perf_counter()
            for _ in range(number):
                call()
            dt = (time.perf_counter() - t0) / number
            best[i] = min(best[i], dt)
        if progress:
            progress(f"repeat {rep + 1}/{repeats}")
    return best


def kernel_times(runner: Runner, runs: int = MIN_NUMBER) -> list[dict]:
    """Per-kernel latency of one TVM network: ``runs`` instrumented executions, each kernel call timed
    between the VM instrument hook's before/after callbacks; minimum over runs per call.  Returns one dict per
    kernel call in execution order: ``{"kernel", "index", "arg_shapes", "latency_s"}`` (VM builtins such as
    allocation and shape checks are left out)."""
    vm = runner.meta["vm"]
    calls: list[tuple[str, float, list]] = []
    starts: dict[str, float] = {}

    def hook(func, name, before, ret, *args):
        now = time.perf_counter()
        if name.startswith("vm.builtin."):
            return 0
        if before:
            starts[name] = now
        else:
            calls.append((name, now - starts.pop(name), [tuple(int(d) for d in a.shape) for a in args
                                                         if hasattr(a, "shape")]))
        return 0

    per_run: list[list] = []
    vm.set_instrument(hook)
    try:
        for _ in range(runs):
            calls.clear()
            runner.call()
            per_run.append(list(calls))
    finally:
        vm.set_instrument(None)
    first = per_run[0]
    lat = np.min(np.array([[c[1] for c in run] for run in per_run]), axis=0)
    return [{"kernel": c[0], "index": i, "arg_shapes": c[2], "latency_s": float(lat[i])} for i, c in enumerate(first)]
