"""``accelsim calibrate``: micro-benchmarks of this machine written as a device config (:mod:`accel.device`).

Only the standard library at import time (the CLI imports this module to build its parser); numpy, torch and
onnxruntime are imported by :func:`calibrate`."""

from __future__ import annotations

import math
import statistics
import os
import platform
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


def describe_machine() -> dict:
    """This machine: ``lscpu`` fields, the /sys cache hierarchy of cpu0, core count, kernel, Python."""
    out: dict = {"cores": os.cpu_count() or 1, "kernel": platform.release(), "python": platform.python_version(),
                 "machine": platform.machine()}
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10,
                              env={**os.environ, "LC_ALL": "C"}).stdout
        lscpu = {}
        for line in text.splitlines():
            k, sep, v = line.partition(":")
            if sep and k.strip() != "Flags":
                lscpu[k.strip()] = v.strip()
        flags = [f for line in text.splitlines() if line.startswith("Flags:") for f in line.split()[1:]]
        lscpu["simd_flags"] = " ".join(f for f in flags if f.startswith(("avx", "fma", "sse4", "amx")))
        out["lscpu"] = lscpu
    except (OSError, subprocess.SubprocessError) as e:
        out["lscpu"] = {"error": str(e)}
    caches = []
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    for idx in sorted(base.glob("index*")):
        entry = {}
        for key in ("level", "type", "size", "ways_of_associativity", "coherency_line_size", "shared_cpu_list"):
            try:
                entry[key] = (idx / key).read_text().strip()
            except OSError:
                pass
        caches.append(entry)
    out["caches"] = caches
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                out["cpu_mhz"] = float(line.split(":")[1])
                break
    except (OSError, ValueError):
        pass
    return out


# ---------------------------------------------------------------------------------------------------------
# machine description → hierarchy skeleton
# ---------------------------------------------------------------------------------------------------------
def _size_bytes(text: str) -> int:
    t = text.strip().upper()
    mult = {"K": 1024, "M": 1024**2, "G": 1024**3}
    return int(float(t[:-1]) * mult[t[-1]]) if t and t[-1] in mult else int(t)


def cache_levels(desc: dict) -> list[dict]:
    """Data / unified caches of cpu0 from /sys: [{"name": "L1", "size_bytes", "shared"}] (shared: seen by more
    than one CPU of the machine)."""
    out = []
    for c in desc.get("caches", []):
        if c.get("type") not in ("Data", "Unified") or "size" not in c:
            continue
        cpus = c.get("shared_cpu_list", "0")
        n = sum((int(b) - int(a) + 1) if "-" in part else 1 for part in cpus.split(",")
                for a, _, b in [part.partition("-")]) if cpus else 1
        out.append({"name": f"L{c['level']}", "size_bytes": _size_bytes(c["size"]), "shared": n > 1})
    return out


def simd_fp32_lanes(desc: dict) -> int:
    """fp32 lanes of one vector register: 16 with AVX-512F, 8 with AVX2/AVX, 4 otherwise (SSE)."""
    flags = set(desc.get("lscpu", {}).get("simd_flags", "").split())
    return 16 if "avx512f" in flags else (8 if {"avx2", "avx"} & flags else 4)


def physical_cores(desc: dict) -> int:
    ls = desc.get("lscpu", {})
    try:
        return int(ls["Core(s) per socket"]) * int(ls.get("Socket(s)", "1"))
    except (KeyError, ValueError):
        return int(desc.get("cores", 1))


# ---------------------------------------------------------------------------------------------------------
# micro-benchmarks
# ---------------------------------------------------------------------------------------------------------
def _depthwise_7x7():
    """The large-kernel depthwise micro-benchmark (``efficiency.depthwise_7x7``)."""
    from torch import nn

    return nn.Conv2d(64, 64, 7, padding=3, groups=64, bias=False)


# the class whose per-operator overhead a secondary efficiency's micro-benchmark pays
EFFICIENCY_OVERHEAD_CLASS = {"pool_unblocked": "pool", "depthwise_7x7": "depthwise"}


@dataclass
class Budget:
    """How long the micro-benchmarks run: chain lengths, repeats, array sizes (``quick``: the tests' budget)."""

    chain: int = 16
    repeats: int = 15
    bw_seconds: float = 0.4
    dram_factor: float = 4.0  # DRAM test array = dram_factor x the last cache
    # warm-weight ladder: chains of n Linear(side, side) layers (batch 1: each reads its weights once per call)
    weight_side: int = 1024  # 4 MiB of fp32 weights per layer
    weight_layers: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 12)  # 4 … 48 MiB of weights

    # probe networks (accel/app/probes.py: the in-network scale): warm-up calls, then the median of `probe_repeats`
    probe_warmup: int = 3
    probe_repeats: int = 11
    probes: tuple[str, ...] | None = None  # names of accel.app.probes.PROBES to run (None: all)

    @classmethod
    def quick(cls) -> "Budget":
        return cls(chain=4, repeats=3, bw_seconds=0.03, dram_factor=1.5, weight_side=256, weight_layers=(1, 2),
                   probe_warmup=1, probe_repeats=3, probes=("cifar-res-narrow", "cifar-cat-24"))


def _best_time(fn, repeats: int) -> float:
    fn()
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


class _Runner:
    """Runs a torch module in the chosen runtime at a thread count: ``time(module, shape)`` → seconds per call."""

    def __init__(self, runtime: str, budget: Budget, tmpdir: Path):
        self.runtime, self.budget, self.tmpdir = runtime, budget, tmpdir
        self._n = 0

    def time(self, module, shape, threads: int) -> float:
        """Seconds per call of ``module`` on an input of ``shape``: the best of the budget's repeats."""
        import torch

        with torch.inference_mode():
            return _best_time(self._call(module, shape, threads), self.budget.repeats)

    def export(self, module, shape) -> Path:
        """``module`` exported to ONNX (:func:`accel.nn.export_module_onnx`) in this runner's directory."""
        from accel.nn import export_module_onnx

        self._n += 1
        return export_module_onnx(module.eval(), tuple(shape), self.tmpdir / f"m{self._n}.onnx")

    def median_time(self, module, shape, threads: int, warmup: int, repeats: int, path: Path | None = None) -> float:
        """Seconds per call: the median of ``repeats`` calls after ``warmup`` calls (how latency benchmarks and
        the device study time whole networks); ``path``: ``module`` already exported (onnxruntime)."""
        import torch

        fn = self._call(module, shape, threads, path)
        times = []
        with torch.inference_mode():
            for _ in range(warmup):
                fn()
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
        return float(statistics.median(times))

    def _call(self, module, shape, threads: int, path: Path | None = None):
        """A no-argument function that runs ``module`` once in the runtime on ``threads`` threads."""
        import torch

        x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
        if self.runtime == "torch":
            torch.set_num_threads(threads)
            return lambda: module(x)  # called inside torch.inference_mode() (time, median_time)
        import onnxruntime as ort

        path = path or self.export(module, shape)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        feed = {sess.get_inputs()[0].name: x.numpy()}
        return lambda: sess.run(None, feed)

    def per_op(self, make, shape, threads: int) -> float:
        """Seconds per operator: slope between a chain of ``chain`` operators and a chain of one (removes the
        runtime's per-call cost)."""
        return self.line(make, shape, threads)[0]

    def line(self, make, shape, threads: int) -> tuple[float, float]:
        """(seconds per operator, seconds per call): the slope between a chain of ``chain`` operators and a
        chain of one, and the intercept (the chain of one minus one operator: the runtime's cost of an inference
        call that runs nothing, ≥ 0)."""
        import torch

        n = self.budget.chain
        t1 = self.time(torch.nn.Sequential(*[make() for _ in range(1)]), shape, threads)
        tn = self.time(torch.nn.Sequential(*[make() for _ in range(n)]), shape, threads)
        slope = max(tn - t1, 1e-9) / (n - 1)
        return slope, max(0.0, t1 - slope)


def _bandwidth_gbs(nbytes: int, seconds: float, threads: int = 1) -> float:
    """Streaming read bandwidth (GB/s) of a float32 array of ``nbytes`` summed by torch on ``threads`` threads: the
    larger of (a) one ``sum`` over a stride-0 view that re-reads the array many times in a single call (no per-call
    cost; the array stays at its level) and (b) repeated ``sum`` calls; best of the passes that fit in ``seconds``.
    A vectorised reduction is a lower bound of the level's bandwidth (it may be limited by the adds)."""
    import torch

    torch.set_num_threads(threads)
    n = max(1024, nbytes // 4)
    a = torch.ones(n)
    reps = max(1, 2**24 // n)
    view = a.as_strided((reps, n), (0, 1))
    best_a = best_b = math.inf
    t_end = time.perf_counter() + seconds
    while True:
        t0 = time.perf_counter()
        view.sum()
        best_a = min(best_a, (time.perf_counter() - t0) / reps)
        t0 = time.perf_counter()
        for _ in range(reps):
            a.sum()
        best_b = min(best_b, (time.perf_counter() - t0) / reps)
        if time.perf_counter() > t_end:
            break
    torch.set_num_threads(1)
    return n * 4 / min(best_a, best_b) / 1e9


def calibrate(device: str = "cpu", runtime: str = "ort", budget: Budget | None = None,
              progress: Callable[[int, int, str], None] | None = None, name: str | None = None,
              allocator: str = "system") -> dict:
    """Micro-benchmark this machine and return a device config (a dict that :func:`accel.device.parse_device`
    accepts; written as YAML by the CLI).  ``progress(done, total, label)`` is called after every step.

    Steps (each number's source is written into ``sources``): machine description (lscpu, /sys caches);
    empty-operator overhead per runtime (slope of a chain of tiny sigmoid ops, 1 thread) and the per-call
    inference overhead (the intercept of that chain); parallel overhead
    (the same slope on a 64 Ki-element tensor with all threads, minus the 1-thread slope / cores); GEMM
    peak (torch ``mm`` 512³, 1 thread: the achievable MACs/cycle/core); conv, depthwise, fc, pool and
    element-wise per-operator times in the runtime (1 thread), turned into per-class efficiencies by
    inverting the device model (:func:`fit_efficiency`); read bandwidth of every cache level (torch
    reductions over an array of half the level's size, 1 thread; shared levels and DRAM also with all
    threads); onnxruntime only: the NCHWc block (MLAS ``NchwcBlockSize`` from the SIMD width) and the NCHW pooling
    kernel's efficiency (a 36-channel pool, ``efficiency.pool_unblocked``); the warm-weight ladder (batch-1
    Linear chains of 4–48 MiB of weights: ``warm_weight_bytes``, :func:`warm_weight_bytes`); last, the probe
    networks (:mod:`accel.app.probes`: eight small networks of accelsim's torch blocks, median of the calls after
    a warm-up, 1 and all threads) against the model built from all of the above: the in-network factors
    ``network_scale`` (accel/device.py 4b, :func:`network_scale`).

    ``allocator`` (:data:`accel.app.options.ALLOCATORS`): ``system`` leaves the C allocator as it is; ``retain``
    keeps freed memory in this process for the rest of its life (:func:`accel.app.measure.set_allocator`), so
    operator times carry no page faults of freshly mapped activations — measure the networks the config will be
    compared with the same way.  Recorded in ``sources``."""
    from accel.app.measure import MeasureError, ort_available, set_allocator
    from accel.errors import InputError

    if device == "gpu":
        why = _gpu_missing()
        raise MeasureError(f"--device gpu: no usable GPU on this machine ({why}); GPU calibration needs CUDA "
                           "(torch.cuda) — use a datasheet GPU config such as configs/gpu-h200.yaml")
    if device != "cpu":
        raise InputError(f"--device must be cpu or gpu, got {device!r}")
    if runtime == "tvm":
        raise MeasureError("--runtime tvm: TVM operator timings need MetaSchedule-tuned kernels for every "
                           "micro-benchmark shape (hours of tuning); calibrate with --runtime ort or torch")
    if runtime not in ("ort", "torch"):
        raise InputError(f"--runtime must be ort, torch or tvm, got {runtime!r}")
    why = ort_available() if runtime == "ort" else None
    if why:
        raise MeasureError(why)
    try:
        import torch
    except ImportError:
        raise MeasureError("calibration builds its micro-benchmarks with torch: pip install 'accelsim[torch]'") from None
    allocator_src = set_allocator(allocator)
    b = budget or Budget()
    steps = ["describe", "overhead", "parallel", "gemm", "conv", "depthwise", "fc", "pool", "eltwise", "bandwidth",
             "residency", "probes"]
    done = 0

    def step(label):
        nonlocal done
        done += 1
        if progress:
            progress(done, len(steps), label)

    desc = describe_machine()
    cores = physical_cores(desc)
    caches = cache_levels(desc)
    clock_mhz = float(desc.get("cpu_mhz") or 0) or float(desc.get("lscpu", {}).get("CPU max MHz", "0") or 0)
    if clock_mhz <= 0:
        raise MeasureError("cannot read the CPU clock (/proc/cpuinfo 'cpu MHz', lscpu 'CPU max MHz')")
    lanes = simd_fp32_lanes(desc)
    step("describe")
    threads_all = cores
    tmp = Path(tempfile.mkdtemp(prefix="accelsim-calibrate-"))
    try:
        torch.manual_seed(0)
        r = _Runner(runtime, b, tmp)
        nn = torch.nn
        sig = lambda: nn.Sigmoid()  # noqa: E731
        overhead_s, call_s = r.line(sig, (1, 1, 1, 1), 1)
        # per-class fixed cost: the same slope for a tiny operator of each class (compute negligible)
        tiny = {"conv": (lambda: nn.Conv2d(16, 16, 1, bias=False), (1, 16, 2, 2)),
                "depthwise": (lambda: nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False), (1, 16, 2, 2)),
                "gemm": (lambda: nn.Linear(16, 16, bias=False), (1, 16)),
                "pool": (lambda: nn.AvgPool2d(3, 1, 1), (1, 16, 2, 2)),
                "eltwise": (lambda: nn.ReLU(), (1, 16, 2, 2)),
                # eval-mode BatchNorm2d as PyTorch eager runs it after a conv (onnxruntime folds it into the conv)
                "batchnorm": (lambda: nn.BatchNorm2d(16).eval(), (1, 16, 2, 2))}
        class_ovh = {k: r.per_op(mk, shp, 1) for k, (mk, shp) in tiny.items()}
        step("overhead")
        mid = (1, 64, 32, 32)
        relu = lambda: nn.ReLU()  # noqa: E731
        par1 = r.per_op(relu, mid, 1)
        parn = r.per_op(relu, mid, threads_all) if threads_all > 1 else par1
        parallel_s = max(0.0, parn - overhead_s - (par1 - overhead_s) / threads_all)
        step("parallel")
        torch.set_num_threads(1)
        a = torch.randn(512, 512)
        t_mm = _best_time(lambda: torch.mm(a, a), b.repeats)
        macs_per_cycle = 512**3 / t_mm / (clock_mhz * 1e6)
        step("gemm")
        times = {}
        # NAS-sized convs (2.4 M MACs each, the NAS-Bench-201 cell conv at its three stages)
        times["conv"] = (r.per_op(lambda: nn.Conv2d(32, 32, 3, padding=1, bias=False), (1, 32, 16, 16), 1),
                         "conv K=32 C=32 P=16 Q=16 R=3 S=3")
        t_conv16 = r.per_op(lambda: nn.Conv2d(16, 16, 3, padding=1, bias=False), (1, 16, 32, 32), 1)
        t_conv64 = r.per_op(lambda: nn.Conv2d(64, 64, 3, padding=1, bias=False), (1, 64, 8, 8), 1)
        t_conv_all = (r.per_op(lambda: nn.Conv2d(32, 32, 3, padding=1, bias=False), (1, 32, 16, 16), threads_all)
                      if threads_all > 1 else times["conv"][0])
        # parallel grains (all threads vs 1): a conv ladder (MACs) and a ReLU ladder (elements)
        grain_convs = [(32, h) for h in GRAIN_CONV_SIDES]
        conv_ladder = [(32 * 32 * 9 * h * h,
                        r.per_op(lambda: nn.Conv2d(32, 32, 3, padding=1, bias=False), (1, 32, h, h), 1),
                        r.per_op(lambda: nn.Conv2d(32, 32, 3, padding=1, bias=False), (1, 32, h, h), threads_all))
                       for _, h in grain_convs] if threads_all > 1 else []
        relu_ladder = [(64 * h * h, r.per_op(relu, (1, 64, h, h), 1), r.per_op(relu, (1, 64, h, h), threads_all))
                       for h in GRAIN_RELU_SIDES] if threads_all > 1 else []
        pool = lambda: nn.AvgPool2d(3, 1, 1)  # noqa: E731
        pool_ladder = [(64 * h * h, r.per_op(pool, (1, 64, h, h), 1), r.per_op(pool, (1, 64, h, h), threads_all))
                       for h in GRAIN_POOL_SIDES] if threads_all > 1 else []
        step("conv")
        times["depthwise"] = (r.per_op(lambda: nn.Conv2d(64, 64, 3, padding=1, groups=64, bias=False),
                                       (1, 64, 56, 56), 1), "conv K=64 C=64 P=56 Q=56 R=3 S=3 groups=64")
        # torch: the same depthwise conv with 7x7 taps.  ATen's depthwise kernel spends its time per output element,
        # not per tap (a 7x7 costs about what a 3x3 does), so its rate per MAC rises with the kernel; the device
        # model interpolates per tap.  onnxruntime's MLAS NCHWc depthwise kernel scales with the taps (not measured)
        if runtime == "torch":
            times["depthwise_7x7"] = (r.per_op(_depthwise_7x7, (1, 64, 56, 56), 1),
                                      "conv K=64 C=64 P=56 Q=56 R=7 S=7 groups=64")
        step("depthwise")
        times["gemm"] = (r.per_op(lambda: nn.Linear(512, 512, bias=False), (64, 512), 1), "fc N=64 K=512 C=512")
        step("fc")
        times["pool"] = (r.per_op(lambda: nn.AvgPool2d(3, 1, 1), (1, 64, 32, 32), 1),
                         "avgpool K=64 P=32 Q=32 R=3 S=3")
        # onnxruntime's NCHWc layout runs a pool as an NCHWc pool only when its channels are a multiple of the
        # block (nchwc_transformer.cc TransformPool); 36 channels (a multiple of neither 8 nor 16) take the NCHW
        # pooling kernel
        if runtime == "ort":
            times["pool_unblocked"] = (r.per_op(lambda: nn.AvgPool2d(3, 1, 1), (1, UNBLOCKED_CHANNELS, 32, 32), 1),
                                       f"avgpool K={UNBLOCKED_CHANNELS} P=32 Q=32 R=3 S=3")
        step("pool")
        times["eltwise"] = (par1, "relu K=64 P=32 Q=32")
        step("eltwise")
        bws = []
        for c in caches:
            nbytes = int(c["size_bytes"] // 2)
            one = _bandwidth_gbs(nbytes, b.bw_seconds)
            allc = _bandwidth_gbs(nbytes, b.bw_seconds, threads_all) if c["shared"] and threads_all > 1 else None
            bws.append((one, allc, nbytes))
        last = caches[-1]["size_bytes"] if caches else 2**25
        dram_bytes = int(b.dram_factor * last)
        dram_one = _bandwidth_gbs(dram_bytes, b.bw_seconds)
        dram_all = _bandwidth_gbs(dram_bytes, b.bw_seconds, threads_all) if threads_all > 1 else dram_one
        step("bandwidth")
        ladder = weight_ladder(r, b, call_s, class_ovh["gemm"])
        step("residency")
        probe_runs = time_probes(r, b, threads_all)
        step("probes")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    levels = []
    for c, (one, allc, nbytes) in zip(caches, bws):
        lv = {"name": c["name"], "size_bytes": c["size_bytes"], "shared": c["shared"],
              "bandwidth_gbs_per_core": round(one, 2)}
        if allc is not None:
            lv["bandwidth_gbs"] = round(max(allc, one), 2)
        levels.append(lv)
    levels.append({"name": "DRAM", "size_bytes": None, "shared": True, "bandwidth_gbs_per_core": round(dram_one, 2),
                   "bandwidth_gbs": round(max(dram_all, dram_one), 2)})
    ls = desc.get("lscpu", {})
    model_name = ls.get("Model name", "unknown CPU")
    rt_name = {"ort": "onnxruntime", "torch": "torch"}[runtime]
    profile = {
        "description": f"{rt_name} on this machine, calibrated by accelsim calibrate",
        "op_overhead_us": round(overhead_s * 1e6, 3),
        "class_overhead_us": {k: round(v * 1e6, 3) for k, v in class_ovh.items()},
        "inference_overhead_us": round(call_s * 1e6, 3),
        "parallel_overhead_us": round(parallel_s * 1e6, 3),
        "batchnorm": "folded" if runtime == "ort" else "separate",
        "activation": "fused" if runtime == "ort" else "separate",
        **RUNTIME_SEMANTICS[runtime],
        "parallel_grain_elements": DEFAULT_GRAIN,
        "efficiency": {k: 1.0 for k in ("conv", "depthwise", "gemm", "pool", "eltwise")},
    }
    data = {
        "version": 1, "kind": "cpu", "name": name or f"{_slug(model_name)}-{rt_name}",
        "description": (f"{model_name}: {cores} cores, {lanes} fp32 SIMD lanes, calibrated by `accelsim calibrate "
                        f"--device cpu --runtime {runtime}` ({rt_name})"),
        "sources": [],
        "dtype": "fp32", "clock_mhz": round(clock_mhz, 1), "cores": cores, "threads": cores,
        "macs_per_cycle_per_core": {"fp32": round(macs_per_cycle, 2)},
        "ops_per_cycle_per_core": {"fp32": float(lanes)},
        "register_bytes_per_core": 32 * lanes * 4,
        "levels": levels, "runtimes": {rt_name: profile}, "runtime": rt_name, "warm_cache": True,
    }
    # the achievable peak: the fastest MAC rate seen (torch.mm, or the runtime's conv / fc if faster: the OS-reported
    # clock may be below the turbo clock the core actually runs at)
    from accel.workload import parse_layer_spec

    rates = {"torch.mm 512^3": 512**3 / t_mm}
    for k in ("conv", "gemm"):
        t, spec = times[k]
        if t > class_ovh[k]:
            rates[f"{rt_name} {spec}"] = parse_layer_spec(spec).macs / (t - class_ovh[k])
    peak_src = max(rates, key=rates.get)
    macs_per_cycle = rates[peak_src] / (clock_mhz * 1e6)
    data["macs_per_cycle_per_core"] = {"fp32": round(macs_per_cycle, 2)}
    # output-channel blocking: a 16-channel conv runs at 16 / B of the 64-channel conv's rate per MAC (same MACs)
    r64 = parse_layer_spec("conv K=64 C=64 P=8 Q=8 R=3 S=3").macs / max(t_conv64 - class_ovh["conv"], 1e-9)
    r16 = parse_layer_spec("conv K=16 C=16 P=32 Q=32 R=3 S=3").macs / max(t_conv16 - class_ovh["conv"], 1e-9)
    block = int(min(64, max(lanes, lanes * round(16 / min(1.0, r16 / r64) / lanes))))
    profile["conv_channel_block"] = block
    speedup = (times["conv"][0] - class_ovh["conv"]) / max(t_conv_all - class_ovh["conv"] - parallel_s, 1e-9)
    if conv_ladder:  # the median speedup of the NAS-sized and larger convs of the grain ladder, and this one
        big = [(t1 - class_ovh["conv"]) / max(tn - class_ovh["conv"] - parallel_s, 1e-9)
               for m, t1, tn in conv_ladder if m >= GRAIN_FULL_MACS]
        speedup = float(statistics.median(big + [speedup]))
    par_eff = 1.0 if threads_all == 1 else float(min(1.0, max(0.01, (speedup - 1) / (threads_all - 1))))
    profile["parallel_efficiency"] = round(par_eff, 3)
    grain_macs, conv_speedups = parallel_grain(conv_ladder, class_ovh["conv"], par_eff, threads_all, parallel_s)
    grain_elems, relu_speedups = parallel_grain(relu_ladder, class_ovh["eltwise"], par_eff, threads_all,
                                                 parallel_s)
    if grain_macs is not None:
        profile["parallel_grain_macs"] = grain_macs
    profile["parallel_grain_elements"] = grain_elems if grain_elems is not None else DEFAULT_GRAIN
    grain_pool, pool_speedups = parallel_grain(pool_ladder, class_ovh["pool"], par_eff, threads_all, parallel_s)
    if grain_pool is not None:
        profile["parallel_grain_pool_elements"] = grain_pool
    if runtime == "ort":  # MLAS NchwcBlockSize: 16 with AVX-512F, 8 otherwise (core/mlas/lib/platform.cpp)
        profile["nchwc_block"] = 16 if lanes >= 16 else 8
    eff = {k: fit_efficiency(data, spec, t, class_ovh[EFFICIENCY_OVERHEAD_CLASS.get(k, k)])
           for k, (t, spec) in times.items()}
    profile["efficiency"] = {k: round(v, 3) for k, v in eff.items()}
    cache_bw = levels[-2]["bandwidth_gbs_per_core"] if len(levels) > 1 else dram_one
    warm_bytes, warm_src = warm_weight_bytes(ladder, cache_bw, dram_one)
    if warm_bytes is not None:
        data["warm_weight_bytes"] = warm_bytes
    scale, scale_src = network_scale(data, probe_runs, b)
    profile["network_scale"] = scale
    data["sources"] = [
        f"Machine: lscpu 'Model name: {model_name}', {cores} physical cores ('Core(s) per socket' x 'Socket(s)'), "
        f"flags {ls.get('simd_flags', '')}; caches from /sys/devices/system/cpu/cpu0/cache "
        + ", ".join(f"{c['name']} {c['size_bytes'] // 1024} KiB{' shared' if c['shared'] else ''}" for c in caches),
        f"clock_mhz: /proc/cpuinfo 'cpu MHz' ({clock_mhz:g}); the clock the OS reports, not a measured turbo clock.",
        f"Measured with the {allocator_src} (accelsim calibrate --allocator {allocator}).",
        f"macs_per_cycle_per_core {macs_per_cycle:.2f}: measured, the fastest 1-thread fp32 MAC rate of "
        + ", ".join(f"{k} {v / 1e9:.1f} GMAC/s" for k, v in rates.items())
        + f" (best of {b.repeats}; operator chains minus the overhead) = {peak_src}, divided by the clock.",
        f"ops_per_cycle_per_core {lanes}: one {lanes}-lane fp32 vector op per cycle (SIMD width from the CPU flags; "
        "assumed one vector ALU op per cycle for element-wise work).",
        f"register_bytes_per_core {32 * lanes * 4}: 32 architectural vector registers x {lanes * 4} B.",
        f"op_overhead_us {overhead_s * 1e6:.2f}: measured, {rt_name}, slope between a chain of {b.chain} and a "
        f"chain of 1 Sigmoid ops on a 1-element tensor, 1 thread, best of {b.repeats}.",
        f"inference_overhead_us {call_s * 1e6:.2f}: measured, {rt_name}, the intercept of the same line (the chain "
        f"of 1 Sigmoid minus one op's slope: the cost of a call that runs nothing), 1 thread, best of {b.repeats}.",
        "class_overhead_us: measured, the same slope for a tiny operator of each class (1 thread): "
        + ", ".join(f"{k} {v * 1e6:.2f} us ({tiny[k][1]})" for k, v in class_ovh.items()) + ".",
        f"parallel_overhead_us {parallel_s * 1e6:.2f}: measured, the slope of a ReLU chain on a 64x32x32 tensor with "
        f"{threads_all} threads ({parn * 1e6:.2f} us) minus the overhead and the 1-thread compute share "
        f"({par1 * 1e6:.2f} us / {threads_all}).",
        *[f"efficiency.{k} {eff[k]:.3f}: measured, {rt_name} per-operator time of `{spec}` (1 thread, slope of a "
          f"{b.chain}-op chain) {t * 1e6:.1f} us; the model's compute time at efficiency 1 divided by the measured "
          "time minus its class overhead (1.0 when the model finds the op memory-bound)" for k, (t, spec) in times.items()],
        *[f"{lv['name']} bandwidth: measured, torch float32 sum over {nbytes // 1024} KiB (half the level), "
          f"1 thread: {one:.1f} GB/s" + (f"; {threads_all} threads: {allc:.1f} GB/s" if allc is not None else "")
          for lv, (one, allc, nbytes) in zip(levels, bws)],
        f"DRAM bandwidth: measured, torch float32 sum over {dram_bytes // 2**20} MiB ({b.dram_factor:g} x the "
        f"last cache), 1 thread {dram_one:.1f} GB/s, {threads_all} threads {dram_all:.1f} GB/s.",
        f"conv_channel_block {block}: measured, the 1-thread rate of `conv K=16 C=16 P=32 Q=32 R=3 S=3` "
        f"({r16 / 1e9:.1f} GMAC/s) vs `conv K=64 C=64 P=8 Q=8 R=3 S=3` ({r64 / 1e9:.1f} GMAC/s, the same MACs): "
        f"B = 16 / ratio, a multiple of "
        f"the {lanes} SIMD lanes, at most 64.",
        f"parallel_efficiency {par_eff:.3f}: measured, speedup {speedup:.2f} = 1 + ({threads_all} - 1) x efficiency on "
        f"{threads_all} threads (overheads removed), the median over `conv K=32 C=32 P=16 Q=16 R=3 S=3` "
        f"({times['conv'][0] * 1e6:.1f} us on 1 thread, {t_conv_all * 1e6:.1f} us on {threads_all})"
        + (" and the grain ladder's convs of at least 2.36 M MACs (below)" if conv_ladder else "") + ".",
        (f"parallel_grain_macs {grain_macs}: measured, the cut (below, between or above the sizes) with which the "
         f"model's {threads_all}-thread times (u = ceil(MACs / grain) threads, the parallel efficiency and overhead "
         f"above) best fit the measured ones (least squares of log ratios) on `conv K=32 C=32 R=3 S=3` with PxQ = "
         + ", ".join(f"{h}x{h} ({m / 1e6:.2f} M MACs) {sp:.2f}x" for (_, h), (m, sp) in zip(grain_convs, conv_speedups))
         + "." if grain_macs is not None else
         "parallel_grain_macs: not measured (one thread); MAC operators split by output elements."),
        (f"parallel_grain_elements {profile['parallel_grain_elements']}: measured the same way on a ReLU "
         f"(64 channels; speedups): " + ", ".join(f"{m} elements {sp:.2f}x" for m, sp in relu_speedups) + "."
         if grain_elems is not None else
         f"parallel_grain_elements {DEFAULT_GRAIN}: assumed (one thread: the intra-op splitting grain of MLAS / "
         "ATen, a thread gets no work below ~16 Ki output elements)."),
        (f"parallel_grain_pool_elements {grain_pool}: measured the same way on a 3x3 average pool (64 channels; "
         f"speedups): " + ", ".join(f"{m} elements {sp:.2f}x" for m, sp in pool_speedups) + "."
         if grain_pool is not None else "parallel_grain_pool_elements: not measured (one thread)."),
        *([f"nchwc_block {profile['nchwc_block']}: onnxruntime's NCHWc channel block, MLAS NchwcBlockSize "
           "(onnxruntime/core/mlas/lib/platform.cpp, MLAS_PLATFORM constructor: 16 when the CPU has AVX-512F, else 8; "
           f"this CPU: {lanes} fp32 lanes); the NCHWc transformer (onnxruntime/core/optimizer/nchwc_transformer.cc, "
           "TransformConv / TransformPool) rounds conv channels up to it and runs pools NCHWc only when their "
           "channels are a multiple of it."] if runtime == "ort" else []),
        warm_src,
        scale_src,
        "batchnorm/activation: " + ("ORT folds BatchNormalization into Conv and fuses Conv+Relu/Clip (graph "
                                    "optimizer, ORT_ENABLE_ALL)" if runtime == "ort" else
                                    "PyTorch eager executes BatchNorm2d and activations as separate ops"),
        RUNTIME_SEMANTICS_SOURCE[runtime],
    ]
    from accel.device import parse_device

    parse_device(data, "<calibrated>")  # what we write must load
    return data


def time_probes(r: "_Runner", b: Budget, threads_all: int) -> list[tuple[str, int, float, object]]:
    """Time the probe networks (:mod:`accel.app.probes`) in the runner's runtime on 1 and ``threads_all`` threads:
    [(probe name, threads, median seconds per call, the accelsim network imported from the exported ONNX)]."""
    from accel.app.probes import PROBES, build_probe
    from accel.onnx_import import load_onnx_network

    out = []
    for name, shape, blocks in PROBES:
        if b.probes is not None and name not in b.probes:
            continue
        module = build_probe(blocks, shape[0])
        path = r.export(module, (1, *shape))
        net = load_onnx_network(path)
        for th in sorted({1, threads_all}):
            t = r.median_time(module, (1, *shape), th, b.probe_warmup, b.probe_repeats,
                              path if r.runtime == "ort" else None)
            out.append((name, th, t, net))
    return out


def network_scale(data: dict, probe_runs: list, b: Budget) -> tuple[dict, str]:
    """The profile's ``network_scale`` (accel/device.py 4b): the device model of ``data`` (without the scale)
    costs each probe at its thread count; :func:`accel.app.probes.fit_network_scale` takes the median ratios.
    Returns ({"one_thread", "all_threads"} rounded to 3 decimals, the source line with every probe's measured and
    modelled time)."""
    from accel.app.probes import ProbeTiming, fit_network_scale
    from accel.device import DeviceModel, parse_device

    timings = []
    for name, th, t, net in probe_runs:
        dev = parse_device({**data, "threads": th}, "<calibrating>")
        res = DeviceModel(dev).network(net)
        call = res.inference_overhead_s
        timings.append(ProbeTiming(name, th, t, res.latency_s - call, call))
    scale = {k: round(v, 3) for k, v in fit_network_scale(timings).items()}
    rt = data["runtime"]
    desc = "; ".join(f"{t.name} {t.threads}t {t.latency_s * 1e3:.3f} ms (model {(t.modelled_s + t.call_s) * 1e3:.3f}, "
                     f"ratio {t.ratio:.2f})" for t in timings)
    src = (f"network_scale one_thread {scale['one_thread']:g}, all_threads {scale['all_threads']:g}: measured, the "
           f"median over {len({t.name for t in timings})} probe networks (accel/app/probes.py; {rt}, median of "
           f"{b.probe_repeats} calls after {b.probe_warmup} warm-up) of (measured - per-call overhead) / (this "
           f"config's model without the scale - per-call overhead), on 1 and on all threads: {desc}.")
    return scale, src


DEFAULT_GRAIN = 16384
# How each runtime executes a graph — properties of the runtime, not numbers of the machine (accel/device.py
# equations 2c and 5): written into every calibrated profile so a fresh calibration costs what the runtime runs.
RUNTIME_SEMANTICS = {"ort": {"graph_fusion": True, "concat": "copy"}, "torch": {"concat": "copy"}}
RUNTIME_SEMANTICS_SOURCE = {
    "ort": "graph_fusion true, concat copy: onnxruntime's behaviour, no measured number (ORT_ENABLE_ALL: one ReLU per "
           "tensor, common_subexpression_elimination.cc; Conv+Relu, conv_activation_fusion.cc; the residual Add into "
           "an NCHWc conv's Sum input, nchwc_transformer.cc TransformBinary; Concat copies its inputs).",
    "torch": "concat copy: PyTorch eager's torch.cat writes a new tensor (no measured number); no graph fusion "
             "(eager mode).",
}
UNBLOCKED_CHANNELS = 36  # a channel count that is a multiple of neither NCHWc block (8, 16): the NCHW pool


def weight_ladder(r: "_Runner", b: Budget, call_s: float, gemm_overhead_s: float) -> list[tuple[int, float]]:
    """(weight bytes of the chain, read bandwidth GB/s of one layer's weights) of chains of n
    ``Linear(side, side)`` layers at batch 1, one thread, in the calibrated runtime: every call reads each
    layer's weights once, so a chain whose weights stay in a cache between calls runs at that cache's bandwidth,
    and one whose weights do not fit runs at DRAM's.  The per-layer time is (call − per-call cost) / n − the gemm class overhead; the bandwidth one layer's weight bytes over it."""
    import torch

    side = b.weight_side
    out = []
    for n in b.weight_layers:
        t = r.time(torch.nn.Sequential(*[torch.nn.Linear(side, side, bias=False) for _ in range(n)]), (1, side), 1)
        per_layer_s = max(1e-9, (t - call_s) / n - gemm_overhead_s)
        out.append((n * side * side * 4, side * side * 4 / per_layer_s / 1e9))
    return out


def warm_weight_bytes(ladder: list[tuple[int, float]], cache_gbs: float, dram_gbs: float) -> tuple[int | None, str]:
    """The largest weight footprint repeated inference keeps warm: the largest size of the ladder (increasing
    sizes, :func:`weight_ladder`) up to which every chain streams its weights faster than the midpoint of the last
    cache's and DRAM's bandwidth.  None (with the source line saying why) when even the smallest chain does not,
    or when every chain does (the cache sizes then bound the residency, as without the field).  Returns (bytes or
    None, the source line)."""
    if not ladder:
        return None, "warm_weight_bytes: not measured (no ladder)."
    cut = (cache_gbs + dram_gbs) / 2
    rates = sorted(ladder)
    desc = ", ".join(f"{nb / 2**20:g} MiB {gbs:.1f} GB/s" for nb, gbs in rates)
    warm = None
    for nb, gbs in rates:
        if gbs < cut:
            break
        warm = nb
    if warm is None or warm == rates[-1][0]:
        why = "even the smallest chain streams below" if warm is None else "every chain streams above"
        return None, (f"warm_weight_bytes: not set ({why} the cut {cut:.1f} GB/s, the midpoint of the last cache's "
                      f"{cache_gbs:.1f} and DRAM's {dram_gbs:.1f} GB/s; batch-1 Linear chains, per-layer read "
                      f"bandwidth: {desc}).")
    return int(warm), (f"warm_weight_bytes {warm}: measured, the largest weight footprint whose batch-1 Linear "
                       f"chain (1 thread, best of the repeats, per-call and gemm overheads removed) still streams its "
                       f"weights above {cut:.1f} GB/s, the midpoint of the last cache's {cache_gbs:.1f} and DRAM's "
                       f"{dram_gbs:.1f} GB/s; per-layer read bandwidth: {desc}.")
GRAIN_FULL_MACS = 32 * 32 * 9 * 16 * 16  # convs this large split fully (the NAS-Bench-201 cell conv)
GRAIN_CONV_SIDES = (4, 8, 16, 32, 64)  # conv K=C=32 3x3 on PxQ = side x side: 0.15 … 37.7 M MACs
GRAIN_RELU_SIDES = (8, 16, 32, 64, 128)  # ReLU on 64 x side x side: 4 Ki … 1 Mi elements
GRAIN_POOL_SIDES = (4, 8, 16, 32, 64)  # 3x3 average pool on 64 x side x side: 1 Ki … 256 Ki elements


def parallel_grain(ladder: list[tuple[int, float, float]], overhead_s: float, par_eff: float, threads: int,
                   parallel_s: float) -> tuple[int | None, list[tuple[int, float]]]:
    """The grain of a size ladder ``(size, 1-thread s, all-thread s)`` (increasing sizes): of the cuts below,
    between (geometric mean of neighbours) and above the sizes, the one whose device model best reproduces the
    all-thread times — u = min(threads, ceil(size / grain)) threads; with u > 1, time = ``overhead_s`` +
    (1-thread time − ``overhead_s``) / (1 + (u − 1)·``par_eff``) + ``parallel_s`` (accel/device.py, step 1–2 and
    the fork/join overhead) — by least squares of the log time ratios (ties: the larger grain).  Returns (grain or
    None for an empty ladder, the measured (size, speedup) pairs, fixed cost removed from both times)."""
    if not ladder:
        return None, []
    sizes = [m for m, _, _ in ladder]
    cuts = [sizes[0] / 2] + [math.sqrt(a * b) for a, b in zip(sizes, sizes[1:])] + [2 * sizes[-1]]
    best = None
    for g in reversed(cuts):  # larger grains first: they win ties
        err = 0.0
        for m, t1, tn in ladder:
            u = min(threads, math.ceil(m / g))
            pred = t1 if u == 1 else overhead_s + (t1 - overhead_s) / (1 + (u - 1) * par_eff) + parallel_s
            err += math.log(pred / tn) ** 2
        if best is None or err < best[0] - 1e-12:
            best = (err, g)
    sp = [(m, (t1 - overhead_s) / max(tn - overhead_s, 1e-12)) for m, t1, tn in ladder]
    return max(1, int(round(best[1]))), sp


def fit_efficiency(data: dict, spec: str, measured_s: float, overhead_s: float) -> float:
    """The efficiency at which the device model of ``data`` (at efficiency 1) reproduces ``measured_s`` for the
    layer ``spec`` on 1 thread: compute time / (measured - overhead) when that exceeds every level's transfer
    time; 1.0 when the model finds the layer memory-bound (the efficiency then does not matter), clipped to
    [0.01, 16] (above 1: the runtime does less work than the loop nest counts)."""
    from accel.device import MAX_EFFICIENCY, DeviceModel, parse_device
    from accel.workload import parse_layer_spec

    dev = parse_device({**data, "threads": 1}, "<calibrating>")
    cost = DeviceModel(dev).layer(parse_layer_spec(spec))
    busy = measured_s - overhead_s
    if busy <= 0:
        return 1.0
    if max(cost.level_s.values()) >= busy:
        return 1.0
    return float(min(MAX_EFFICIENCY, max(0.01, cost.compute_s / busy)))


def merge_calibrations(runs: list[dict], name: str | None = None) -> dict:
    """One device config from calibrations of the same machine with different runtimes (:func:`calibrate` once
    per runtime, in order): the first run's machine figures (clock, peak, SIMD width, cache levels, DRAM, warm
    weights) and default runtime, every run's runtime profile, and every run's sources prefixed with its runtime
    ("onnxruntime run: ...").  A runtime calibrated twice is refused (:class:`InputError`)."""
    from accel.device import parse_device
    from accel.errors import InputError

    if not runs:
        raise InputError("no calibration to merge")
    if len(runs) == 1:
        return runs[0]
    seen = [r["runtime"] for r in runs]
    if len(set(seen)) != len(seen):
        raise InputError(f"--runtime: each runtime once, got {', '.join(seen)}")
    base = runs[0]
    data = {**base, "runtimes": {}, "sources": []}
    for r in runs:
        data["runtimes"].update(r["runtimes"])
        data["sources"] += [f"{r['runtime']} run: {s}" for s in r["sources"]]
    model_name = base["description"].split(":", 1)[0]
    data["name"] = name or _slug(model_name)
    data["description"] = (f"{model_name}: calibrated by `accelsim calibrate --device cpu "
                           + " ".join(f"--runtime {RUNTIME_FLAG[r['runtime']]}" for r in runs)
                           + f"` (profiles {', '.join(seen)}; the machine's figures from the {seen[0]} run)")
    parse_device(data, "<calibrated>")  # what we write must load
    return data


RUNTIME_FLAG = {"onnxruntime": "ort", "torch": "torch"}


def _num(v: int | float) -> str:
    return str(v) if isinstance(v, int) else f"{v:g}"


def median_of_runs(runs: list[dict]) -> dict:
    """One calibration from ``runs`` of the same runtime on the same machine (``--runs N``): every number is the
    median of the runs' values (an integer field stays an integer: the median of an odd number of runs is one of
    them, of an even number rounded), everything else the first run's; a field one run lacks (a grain it could
    not fit) is kept only where every run has it.  Single runs of the thread figures and of the short operator
    chains are not reproducible on a shared VM (README, device study: one of three torch runs measured a parallel
    efficiency of 0.01); the sources keep the first run's lines, prefixed, and add one line per number that
    differed between the runs with every run's value."""
    from accel.errors import InputError

    if not runs:
        raise InputError("no calibration run")
    if len(runs) == 1:
        return runs[0]
    spread: list[str] = []

    def med(path: str, vals: list):
        first = vals[0]
        if isinstance(first, dict):
            keys = [k for k in first if all(isinstance(v, dict) and k in v for v in vals)]
            return {k: med(f"{path}.{k}" if path else k, [v[k] for v in vals]) for k in keys}
        if isinstance(first, list) and all(isinstance(v, list) and len(v) == len(first) for v in vals):
            return [med(f"{path}[{i}]", [v[i] for v in vals]) for i in range(len(first))]
        if isinstance(first, bool) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            return first
        m = statistics.median(vals)
        out = int(round(m)) if all(isinstance(v, int) for v in vals) else round(float(m), 3)
        if len(set(vals)) > 1:
            spread.append(f"{path} {_num(out)} (runs: {', '.join(_num(v) for v in vals)})")
        return out

    body = {k: v for k, v in runs[0].items() if k != "sources"}
    data = med("", [{k: v for k, v in r.items() if k != "sources"} for r in runs])
    data = {k: data[k] for k in body if k in data}
    data["sources"] = ([f"the median of {len(runs)} runs (accelsim calibrate --runs {len(runs)}), per number; the "
                        "lines below are the first run's, with its own figures"]
                       + [f"run 1 of {len(runs)}: {s}" for s in runs[0]["sources"]]
                       + [f"per-run values (median first): {s}" for s in spread])
    data["description"] = runs[0]["description"] + f", the median of {len(runs)} runs per number"
    from accel.device import parse_device

    parse_device(data, "<calibrated>")  # what we write must load
    return data


UNSTABLE_SPREAD = 1.2  # runs whose probe networks ran further apart than this (max / min) get a warning


def scale_spread(runs: list[dict]) -> float:
    """How far apart the runs of one runtime (``--runs N``) found the probe networks: the largest max / min over the
    runs of ``network_scale.one_thread`` and of ``network_scale.all_threads`` (1.0 with fewer than two runs or no
    scale).  The probes are the same networks in every run, so their spread is the machine's own: a shared or
    virtual machine whose speed drifts between minutes (the third device study's guest: 1.35× between calibrations
    25 minutes apart, README) cannot be predicted more closely than that."""
    worst = 1.0
    for end in ("one_thread", "all_threads"):
        vals = [ns[end] for r in runs for ns in [r["runtimes"][r["runtime"]].get("network_scale")] if ns]
        if len(vals) >= 2 and min(vals) > 0:
            worst = max(worst, max(vals) / min(vals))
    return worst


def _slug(s: str) -> str:
    import re

    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-") or "cpu"


def _gpu_missing() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return "torch sees a CUDA device, but GPU micro-benchmarks are not implemented yet"
        return "torch.cuda.is_available() is False"
    except ImportError:
        return "torch is not installed"


def to_yaml(data: dict) -> str:
    """The config as YAML, comments stating where it came from."""
    import yaml

    head = "# Calibrated by `accelsim calibrate`; every number's source is listed under sources.\n"
    return head + yaml.safe_dump(data, sort_keys=False, width=110, allow_unicode=True)


# ---------------------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------------------
def add_parsers(sub) -> None:
    from accel.app.options import add_allocator_option, int_in, path_arg

    p = sub.add_parser(
        "calibrate", help="micro-benchmark this machine and write a CPU device config",
        description="Micro-benchmarks on this machine (empty-operator overhead, parallel overhead, GEMM peak, conv / "
                    "depthwise / fc / pool / element-wise operator times in the runtime, read bandwidth of every "
                    "cache level and DRAM, the weight footprint the caches keep warm between calls, onnxruntime's "
                    "NCHW pooling kernel, and the in-network scale of the operators from eight small probe "
                    "networks; about a minute per runtime and run, --quick a few seconds) written as a device config "
                    "(kind: cpu; accel/device.py) with the measured numbers, their sources and the machine "
                    "description.  The config loads wherever --hw takes one (eval, rankcorr, xcheck).")
    p.add_argument("--device", choices=("cpu", "gpu"), required=True,
                   help="cpu (gpu: refused with a clear error when no GPU is usable)")
    p.add_argument("--runtime", choices=("ort", "torch", "tvm"), action="append", default=None,
                   help="runtime whose operator overheads and efficiencies are measured (default ort = onnxruntime; "
                        "tvm is refused: it needs tuned kernels); repeat it (--runtime ort --runtime torch) for one "
                        "config with a profile per runtime, the machine's figures from the first")
    p.add_argument("--name", help="config name (default: derived from the CPU model and runtime)")
    p.add_argument("--runs", type=int_in(1, 99), default=1, metavar="N",
                   help="calibrate each runtime N times and keep the median of every number (default 1; 3 on a "
                        "shared or virtual machine, where single runs of the thread figures do not reproduce)")
    p.add_argument("--quick", action="store_true",
                   help="tiny budget (short chains, 3 repeats, small arrays; seconds): for tests, numbers are noisy")
    add_allocator_option(p)
    p.add_argument("-o", "--output", type=path_arg, required=True, metavar="CONFIG.yaml", help="config file to write")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.set_defaults(func=cmd_calibrate, outputs={"output": ("-o", "file")})


def cmd_calibrate(args) -> int:
    import sys

    from accel.app.cli_study import ProgressBar
    from accel.app.output import report_written, write_text

    from accel.errors import InputError

    runtimes = args.runtime or ["ort"]
    if len(set(runtimes)) != len(runtimes):
        raise InputError(f"--runtime: each runtime once, got {', '.join(runtimes)}")
    bar = ProgressBar("calibrate", "steps")
    per_runtime, spreads, n = [], {}, len(runtimes) * args.runs
    for j, rt in enumerate(runtimes):
        runs = []
        for k in range(args.runs):
            i = j * args.runs + k
            runs.append(calibrate(args.device, rt, Budget.quick() if args.quick else Budget(),
                                  progress=lambda done, total, label, i=i: bar(i * total + done, n * total),
                                  name=args.name, allocator=args.allocator))
        per_runtime.append(median_of_runs(runs))
        spreads[runs[0]["runtime"]] = scale_spread(runs)
    data = merge_calibrations(per_runtime, args.name)
    write_text(args.output, to_yaml(data))
    report_written(args.output)
    print(f"{data['name']}: {data['cores']} cores @ {data['clock_mhz']:g} MHz, "
          f"{data['macs_per_cycle_per_core']['fp32']:g} fp32 MAC/cycle/core, overhead "
          f"{data['runtimes'][data['runtime']]['op_overhead_us']:g} us/op", file=sys.stderr)
    for rt, prof in data["runtimes"].items():
        ns = prof.get("network_scale")
        if ns:
            spread = spreads.get(rt, 1.0)
            print(f"  {rt}: in-network scale {ns['one_thread']:g} (1 thread), {ns['all_threads']:g} "
                  f"({data['cores']} threads) from the probe networks"
                  + (f"; the {args.runs} runs {spread:.2f}x apart" if args.runs > 1 else ""), file=sys.stderr)
            if spread > UNSTABLE_SPREAD:
                print(f"warning: {rt}: the same probe networks ran up to {spread:.2f}x apart between the {args.runs} "
                      "runs: this machine's speed is not stable (shared or virtual); a prediction from this config is "
                      "uncertain by about that much. Calibrate again just before measuring, or on an idle machine.",
                      file=sys.stderr)
    return 0
