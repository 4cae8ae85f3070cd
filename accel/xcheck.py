"""``accelsim xcheck``: the analytical model against real compiled runs (TVM with MetaSchedule-tuned kernels,
onnxruntime), per network and per layer, with the BBSSP layer-adaptive correction.

Flow (measurement protocol and tuning: :mod:`accel.measure`):

1. Candidates: NAS-Bench-201 cells (``nb201:<arch>``, sampled uniformly with a seeded generator), small
   MBConv networks (``mbconv:...``, :mod:`accel.xcheck_models`), zoo networks (``resnet18`` ...) or ONNX files.
2. Each is exported to ONNX (torch 2.13, offline TorchScript exporter, BatchNorm folded) and the *same* ONNX
   file feeds every party: accelsim's ONNX importer (the model's layers), TVM's Relax ONNX frontend, and
   onnxruntime — so the model predicts exactly the graph that runs.
3. Model: every network is mapped and costed on the hardware config (``configs/cpu-host.yaml``) with the PE
   array narrowed to the number of measurement threads (one core: 1 PE of ``macs_per_pe`` SIMD lanes), as
   the runs use one intra-op thread.
4. TVM: kernels tuned CHaNAS-style (union of tasks over the candidate set, each tuned once, database kept in
   the repo); a network with a kernel missing from the database gets no TVM latency (refused, listed).
5. Statistics: Spearman ρ and Kendall τ-b (ties are common: many NB201 cells share MACs) of predicted vs
   measured latency, MAPE, the same for MACs as a naive proxy, and the test-retest ρ of two measurement passes.
6. Per-layer: measured per-kernel latencies are mapped back to accelsim layers (:func:`kernel_layer_table`),
   and the BBSSP layer-adaptive correction (Zeng et al., ASP-DAC 2020: per-layer-type correction of the
   latency LUT against measured networks) is fitted on a training subset and evaluated on held-out networks.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

DEFAULT_DB = Path(__file__).resolve().parent.parent / "bench" / "tvm_tuning_db"


def sample_nb201(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct NAS-Bench-201 cells drawn uniformly (``numpy.random.default_rng(seed)``), as
    ``nb201:<arch string>`` network names."""
    from nas.nb201 import NB201Space, arch_str

    rng = np.random.default_rng(seed)
    space, out = NB201Space(), []
    while len(out) < n:
        name = "nb201:" + arch_str(space.sample(rng))
        if name not in out:
            out.append(name)
    return out


def _slug(name: str) -> str:
    h = hashlib.sha1(name.encode()).hexdigest()[:12]
    head = "".join(c if c.isalnum() else "_" for c in name)[:40]
    return f"{head}-{h}"


def export_network(name: str, cache_dir: str | os.PathLike) -> Path:
    """ONNX file of network ``name`` (an existing ``.onnx`` path is returned as is; zoo names, ``nb201:`` and
    ``mbconv:`` names are exported into ``cache_dir`` once and reused)."""
    p = Path(name)
    if p.suffix.lower() == ".onnx":
        if not p.exists():
            raise FileNotFoundError(f"{name}: no such ONNX file")
        return p
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    out = cache / f"{_slug(name)}.onnx"
    if out.exists():
        return out
    tmp = out.with_suffix(".tmp.onnx")
    if ":" in name:
        from accel.xcheck_models import export_module_onnx, input_shape_for, module_for

        export_module_onnx(module_for(name), input_shape_for(name), tmp)
    else:
        from accel.torch_zoo import export_onnx

        export_onnx(name, tmp)
    tmp.replace(out)
    return out
