"""Processor (CPU / GPU) device model: a sibling of the accelerator schema (:mod:`accel.arch`) for general-purpose
hardware running a DNN runtime (PyTorch eager, onnxruntime, TVM).

A device config is a YAML file with ``kind: cpu`` or ``kind: gpu`` (an accelerator config has no ``kind``);
:func:`accel.arch.load_arch` dispatches on that key, so every ``--hw CONFIG`` that evaluates networks
(``eval``, ``rankcorr``, ``xcheck``, NAS tables) accepts a device config, and
:class:`mapper.network.NetworkEvaluator` costs networks with :class:`DeviceModel` instead of the mapper.

Schema (``version: 1``, pydantic strict, ``extra="forbid"``, every error listed with its YAML path; read with
:func:`accel.schema.read_yaml`)
-------------------------------------------------------------------------------------------------------------
* ``kind`` (cpu | gpu), ``name``, ``description``, ``sources`` (the source of every number), ``dtype`` (the
  data type networks run in: fp32, tf32, fp16, bf16, int8).
* ``clock_mhz``: sustained clock under vector load (CPU: all-core AVX-512 / AVX2 turbo; GPU: boost clock).
* ``cores``: physical cores (CPU) or streaming multiprocessors (GPU); ``threads`` (CPU only): threads the runtime
  uses, 1 … ``cores`` (``with_threads`` changes it; a GPU always spreads over all SMs).
* ``macs_per_cycle_per_core``: ``{dtype: MACs/cycle}`` of one core (SIMD FMA units × lanes; GPU: tensor cores
  × MACs per tensor core, or CUDA cores for fp32 without tensor cores); ``ops_per_cycle_per_core``:
  ``{dtype: ops/cycle}`` for element-wise and pooling work (vector lanes × units; GPU: CUDA cores).
* ``register_bytes_per_core``: the register file that holds the innermost (register) tile.
* ``levels``: memory hierarchy from the core outwards (L1, L2, L3, DRAM / shared memory, L2, HBM); each with
  ``size_bytes`` (per core, or in total if ``shared: true``; the last level is the backing store and has
  ``size_bytes: null``), ``bandwidth_gbs_per_core`` (what one core / SM streams from it, GB/s = 1e9 B/s) and
  ``bandwidth_gbs`` (all cores together; null = ``cores`` × per-core).
* ``runtimes``: ``{name: profile}``, ``runtime``: the profile used by default.  A profile: ``op_overhead_us``
  (per executed operator: framework dispatch on a CPU, dispatch + kernel launch on a GPU; ``class_overhead_us``,
  optional, gives it per op class: ``conv``, ``depthwise``, ``gemm``, ``pool``, ``eltwise``),
  ``inference_overhead_us`` (default 0: not modelled; the fixed cost of one inference call, paid once per network
  even when its graph is empty: onnxruntime's ``session.run`` binding inputs and outputs, the top-level
  ``nn.Module`` call; calibrated as the intercept of the empty-operator chain),
  ``parallel_overhead_us`` (per operator that runs on more than one thread: fork/join), ``batchnorm``
  (``folded`` into the conv's weights, or ``separate``: an extra element-wise pass), ``activation`` (``fused``
  into the producing conv, or ``separate``), ``parallel_grain_elements`` (output elements per thread / per
  thread block below which another thread / SM gets no work), ``efficiency`` (fraction of peak per op class:
  ``conv``, ``depthwise``, ``gemm``, ``pool``, ``eltwise``; up to 16, above 1 when the runtime does less work than
  the loop nest counts, e.g. sliding-window pooling sums), ``conv_channel_block`` (output channels one micro-kernel
  computes at once: a conv with K output channels per group uses K / (ceil(K / B) · B) of it),
  ``nchwc_block`` (optional, default none: not modelled; onnxruntime's NCHWc channel block, MLAS
  ``NchwcBlockSize``: 16 with AVX-512F, else 8 — equation 2a), ``efficiency.pool_unblocked`` (optional, default:
  ``pool``'s; the efficiency of a pool that does not run in the NCHWc layout, equation 2a),
  ``efficiency.depthwise_7x7`` (optional, default: ``depthwise``'s at every kernel size; the efficiency of a 7×7
  depthwise conv, equation 2), ``graph_fusion`` (default false; onnxruntime's graph rewrites of element-wise
  layers, equation 2c), ``concat`` (``free``, the default, or ``copy``: the runtime materialises channel
  concatenations, equation 5).
* ``warm_cache`` (default true: repeated inference, as latency benchmarks measure; weights stay resident in the
  smallest level that holds all of the network's weights), ``warm_weight_bytes`` (optional, default none: the
  level sizes alone; the largest weight footprint the caches keep warm between inferences — a shared last-level
  cache of a busy or virtualised machine keeps less than its size; measured by ``accelsim calibrate`` with a
  ladder of batch-1 Linear chains, equation 3), ``area_mm2``, ``tdp_w`` (die area and TDP for
  area / power columns; not used for latency).

The per-layer model (every equation; b = bytes per element of ``dtype``, f = clock)
----------------------------------------------------------------------------------
Op class: conv with one input channel per group and more than one group → ``depthwise``; other convs →
``conv``; fc / matmul → ``gemm``; max / avg pool → ``pool``; element-wise → ``eltwise``.

1. Threads used: ``u = clamp(ceil(E_out / grain), 1, T)`` with E_out = output elements (G·N·K·P·Q), grain =
   the profile's ``parallel_grain_elements`` and T = ``threads`` (CPU) or ``cores`` (GPU): a runtime splits the
   output among threads / thread blocks, and a small tensor does not fill them.  With ``parallel_grain_macs`` set,
   MAC operators (conv, depthwise, gemm) use ``u = clamp(ceil(MACs / parallel_grain_macs), 1, T)`` instead: CPU
   convolution libraries split work items (output-channel blocks × rows: oneDNN, MLAS), so a 64-channel 8×8 conv
   of 4 Ki outputs runs on two threads (torch, this machine: 1.65× faster) while a ReLU of 16 Ki elements does not
   (ATen's element-wise grain); with ``parallel_grain_pool_elements`` set, pooling splits by output elements with
   that grain (ATen's pooling kernels split over channel planes with no grain: a 16×8×8 average pool runs 1.43×
   faster on two threads here).  ``accelsim calibrate`` measures the three grains.
2. Compute: ``t_compute = W / (u · peak · eff[class] · f)``, W = MACs (conv, depthwise, gemm) or loop points
   (pool: one op per window point; element-wise: one op per element), peak = ``macs_per_cycle_per_core`` or
   ``ops_per_cycle_per_core`` of ``dtype``.  A ``conv`` additionally uses only K / (ceil(K / B) · B) of the
   micro-kernel, B = ``conv_channel_block``: CPU convolution kernels (oneDNN, MLAS NCHWc) vectorise over output
   channels and register-block several SIMD vectors of them, so a 16-channel conv runs a 64-channel kernel a
   quarter full.  A ``depthwise`` conv with R × S taps, when ``efficiency.depthwise_7x7`` is given, runs at
   ``taps / c(taps)`` where the time per output element c is linear in the taps through the two calibrated points
   (9 taps at ``efficiency.depthwise``, 49 at ``efficiency.depthwise_7x7``): PyTorch's ATen depthwise kernel costs
   about the same per output at 7×7 as at 3×3 (510 µs for a 64×56×56 7×7 against ~5.4× the 3×3's MACs' share on
   the calibration machine), so a per-MAC efficiency from the 3×3 alone over-costs 5×5 / 7×7 convs up to ~9×
   (torch.profiler on MBConv net 500: a 128×56×56 7×7 depthwise runs 635 µs where the 3×3 rate predicts 5.6 ms).

   2a. onnxruntime's NCHWc layout (``nchwc_block`` b_c set; onnxruntime/core/optimizer/nchwc_transformer.cc,
   ``TransformConv`` / ``TransformPool``, and the optimised graphs ``bench/ort_node_profile.py`` saves): inside
   the NCHWc graph every channel count is rounded up to a multiple of b_c (``nchwc_output_channels``; the
   reordered weights of a 36-channel 1×1 conv are 48 × 48), so a ``conv`` with C ≥ b_c input channels (one group)
   also computes C / (ceil(C / b_c) · b_c) useless MACs' share — its efficiency is multiplied by that fraction (a
   conv with C < b_c, the stem, reads the NCHW input directly and is not padded) — and a ``depthwise`` conv of G
   channels by G / (ceil(G / b_c) · b_c).  A pool runs in NCHWc only when its channels are a multiple of b_c;
   otherwise it runs MLAS's NCHW pooling kernel at ``efficiency.pool_unblocked`` (3–4× slower per point on the
   calibration machine).

   2b. NCHWc reorders (``nchwc_block`` set; ``DeviceModel.network``, which sees the network's graph): the
   transformer converts every conv (one group, or per-group channels that are multiples of b_c), every depthwise
   conv and every pool of block-aligned channels to NCHWc; an element-wise layer is NCHWc when all of its
   inputs are NCHWc layer outputs (``TransformBinary`` / ``TransformActivation``; not a per-channel broadcast
   such as a squeeze-excite scale, not a binary layer with fewer than two producers: it adds a constant or the
   network input), a gemm never.  A single-input operator fed by several producers reads their channel
   concatenation, which stays NCHWc only when every part's channels are block-aligned (``TransformConcat``).
   Where an NCHWc operator reads an NCHW tensor (the network input, an NCHW producer, an NCHW concat; not the
   NCHW-input conv with C < b_c) onnxruntime inserts one ``ReorderInput`` of that tensor (once per tensor);
   where an NCHWc tensor is read by an NCHW operator (or an NCHW concat) or leaves the network, one
   ``ReorderOutput`` of it.  Each reorder is costed as a memory-bound element-wise copy of the tensor (a unary
   element-wise operator of its elements by 1–4, with the element-wise overhead) and charged to the layer it
   serves (``reorder_s``, ``reorders``: the consumer of a ReorderInput, the producer of a ReorderOutput).  The
   profile of the study's networks (``bench/ort_node_profile.py``) counts 27 / 29 / 122 reorders in an MBConv /
   FBNet / DARTS network where this rule places 25 / 23 / 108.
   2c. onnxruntime's graph fusions (``graph_fusion: true``; ``DeviceModel.network``): (1) element-wise unary layers
   of one op on the same tensor run once (``common_subexpression_elimination.cc``: a DARTS state read by several
   ReLU-first ops gets one ReLU); (2) with ``activation: fused``, an activation whose producer is a conv with no
   other consumer (after (1)) runs inside that conv (``conv_activation_fusion.cc``, and the NCHWc conv's
   activation: the ReLU between a DARTS ``sep_conv``'s halves); (3) with ``nchwc_block`` set, an Add of two NCHWc
   tensors one of which is a conv's only output runs inside that conv as its ``Sum`` input
   (``nchwc_transformer.cc``, ``NchwcTransformerImpl::TransformBinary``: the residual Adds of MBConv / FBNet and
   most DARTS node sums), and an activation of such an Add becomes that conv's activation.  A fused layer costs 0
   (its reorders, 2b, stay) and names its host (``fused_into``).  On the 11 profiled study networks
   (``bench/ort_node_profile.py``) the rules leave 93 / 77 / 61 ReLUs and 34 / 19 / 15 Adds in the three DARTS
   networks where onnxruntime runs 93 / 77 / 61 and 35 / 19 / 17, 0 Adds in the MBConv ones (0), 30 / 45 in
   NB201 (30 / 45).  The Sum input's read is not charged to the conv (approximation).
   With u > 1 threads the compute runs on ``1 + (u - 1) · parallel_efficiency`` threads' worth of
   throughput (``parallel_efficiency``, measured: the speedup of a conv on all cores; below 1 when threads share
   a core, memory or a busy machine).
3. Traffic.  Levels 0 … L-1 (``levels``); level i serves the misses of the storage inside it, whose capacity is
   S_in(0) = ``register_bytes_per_core`` and S_in(i) = size of level i-1 (per thread: a shared level's size
   divided by u).  The data a storage of capacity S pulls from outside for one layer (reuse model: output-
   stationary tiles of t × t outputs with t = max(1, floor(sqrt(S / (2b)))): half the capacity holds the output
   tile, the rest streams the operand panels — the classic blocked-GEMM traffic, Hong & Kung 1981; Goto & van de
   Geijn, ACM TOMS 2008):

   * MAC layers (the per-group GEMM view: M = N·P·Q output pixels, K output channels):
     ``D_w(S) = w·b·ceil(M / t)`` (weights re-read once per tile row of output pixels),
     ``D_a(S) = x·b·ceil(K / t) + y·b`` (inputs re-read once per tile column of output channels, outputs
     written once), where w, x, y are the distinct elements of weights, inputs, outputs
     (:meth:`accel.workload.Layer.operand_sizes`); if the whole footprint F = (w + x + y)·b ≤ S, the
     traffic is compulsory: ``D_w = w·b``, ``D_a = (x + y)·b``.
   * pool / element-wise: compulsory, ``D_w = w·b`` (a binary op's second input), ``D_a = (x + y)·b``.

   Residency (``warm_cache``): weights live in the smallest level ``h_w`` whose capacity holds the whole
   network's weights (repeated inference keeps them warm; DRAM with ``warm_cache: false``, and when the weights
   exceed ``warm_weight_bytes``), activations in the
   smallest level ``h_a`` that holds the layer's input and output (its producer just wrote them).  Level i
   serves ``T_i = D_w(S_in(i))·[i ≤ h_w] + D_a(S_in(i))·[i ≤ h_a]`` bytes (levels beyond a tensor's home never
   see it: compulsory + capacity misses up to the home level, nothing beyond).
   ``t_i = T_i / BW_i``, ``BW_i = min(u · bandwidth_gbs_per_core, bandwidth_gbs)`` · 1e9.
4. ``latency = max(t_compute, max_i t_i) + overhead[class] + [u > 1] · parallel_overhead`` (compute and data
   movement overlap — the roofline — and the runtime's fixed per-operator cost adds).

   4b. In-network scale (``network_scale``, optional, default none: 1): every operator costs
   ``s(T) ×`` the above (with its separate BN / activation passes, 5, its reorders, 2b, and concatenation
   copies, 5), where T = ``threads`` and ``s(1) = network_scale.one_thread``, ``s(cores) =
   network_scale.all_threads``, linear in T between them (an assumption: a calibration measures the two ends).
   The per-call inference overhead (6) is not scaled.  The efficiencies and overheads come from chains of one
   operator repeated; inside a network every operator has its own weights, reads what another kernel wrote, and
   shares the caches with the whole graph, so it costs more than in the chain (on the Xeon guests of the second
   and third device studies the networks ran 1.3–1.9× slower than the chain-built model predicted, in every
   operator class: README, device study).  ``accelsim calibrate`` measures it: it times eight small probe
   networks (:mod:`accel.app.probes`, built from accelsim's torch block library, not from any NAS space or
   benchmark) in the runtime on 1 and all threads, and each factor is the median over the probes of
   (measured − per-call overhead) / (modelled − per-call overhead).  One factor for every op class: it moves
   every network's prediction by the same ratio and leaves the model's ranking as it is (per-class factors
   fitted to eight probes did not reproduce between calibration runs — a gemm factor of 0.06, 2.6 and 0.6 in
   three runs — and cost the torch ranking 0.06–0.12 in Spearman ρ on the third study).

5. Runtime execution: a conv whose runtime keeps BatchNorm ``separate`` (PyTorch eager) executes one more
   element-wise pass over its output (a unary op costed by 1–4, with its own overhead — ``class_overhead_us.
   batchnorm`` instead of ``eltwise``'s when the profile gives it), and one more for an activation that is not
   ``fused``.  Element-wise layers and pooling of the network are executed as their
   own operators in every runtime (onnxruntime: less those fused, 2c).  Reshape / flatten / concat are free (they
   are not layers of accelsim networks) unless the profile says ``concat: copy`` (both runtimes materialise a
   Concat: DARTS cell outputs, ~470 µs over the 72 Concats of the profiled networks): then a single-input layer fed
   by several producers reads their channel concatenation, copied once per concatenation (an element-wise copy of
   its elements, costed as a reorder, 2b, and charged to its first reader as ``concat_s``; a concatenation read
   only by a binary layer, such as ``FactorizedReduce``'s into a DARTS node sum, is not seen and stays free).
   Known approximations: NAS-Bench-201's ReLU-Conv-BN ReLUs are not
   layers (DARTS' are: :mod:`nas.darts`), and the BN / activation passes of ``separate`` are charged to every
   conv, also to those the network runs without them (DARTS' depthwise convs).
6. Network: ``latency = Σ_layers latency + inference_overhead`` (layers run one after another on the calling
   thread's runtime; the per-call cost once).  A network with no layers (an NB201 cell with a constant output
   under ``--prune-dead``: the exporter folds the whole graph) costs the inference overhead alone.

Energy is not modelled for processors: ``energy_pj`` is NaN (columns stay, empty).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import Field, ValidationError, field_validator

from accel.arch import ConfigError
from accel.schema import (MAX_AREA_MM2, MAX_CLOCK_MHZ, MAX_SIZE_BYTES, MIN_CLOCK_MHZ, Name, Strict, pydantic_errors,
                          read_yaml)
from accel.workload import Layer, Network

__all__ = ["DeviceError", "DeviceConfig", "CpuConfig", "GpuConfig", "RuntimeProfile", "MemoryLevel", "Device",
           "DeviceModel", "DeviceCost", "DeviceLayerResult", "NetworkScale", "network_scale", "DeviceNetworkResult", "parse_device", "load_device",
           "is_device_config", "DTYPE_BYTES", "OP_CLASSES", "op_class", "nchwc_padding", "nchwc_pool"]

SCHEMA_VERSION = 1
DTYPE_BYTES = {"fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2, "int8": 1}
DType = Literal["fp32", "tf32", "fp16", "bf16", "int8"]
OP_CLASSES = ("conv", "depthwise", "gemm", "pool", "eltwise")
MAX_CORES = 2**20
MAX_BANDWIDTH_GBS = 1e7  # 10 PB/s
MAX_OVERHEAD_US = 1e6


class DeviceError(ConfigError):
    """Invalid device config; ``errors`` lists (yaml_path, message).  A :class:`accel.arch.ConfigError`, so
    every ``--hw`` handler reports it like an invalid accelerator config."""

    what = "device config"


MAX_EFFICIENCY = 16.0
MAX_NETWORK_SCALE = 16.0


class DeviceAttributeError(DeviceError, AttributeError):
    """An accelerator-only attribute asked of a device (``hasattr`` still answers False)."""


class Efficiency(Strict):
    """Throughput each op class reaches in this runtime as a fraction of peak (calibrated or assumed).  Above 1
    (up to 16) when the runtime does less work than the loop nest counts: e.g. a pooling kernel that slides a
    running window sum performs fewer adds than R × S per output."""

    conv: float = Field(gt=0, le=MAX_EFFICIENCY)
    depthwise: float = Field(gt=0, le=MAX_EFFICIENCY)
    gemm: float = Field(gt=0, le=MAX_EFFICIENCY)
    pool: float = Field(gt=0, le=MAX_EFFICIENCY)
    eltwise: float = Field(gt=0, le=MAX_EFFICIENCY)
    pool_unblocked: float | None = Field(None, gt=0, le=MAX_EFFICIENCY)
    depthwise_7x7: float | None = Field(None, gt=0, le=MAX_EFFICIENCY)


class ClassOverhead(Strict):
    """Per-operator fixed cost (µs) of each op class in this runtime (dispatch, argument checks, allocation);
    ``batchnorm`` (optional, default: ``eltwise``'s): the fixed cost of a separate BatchNorm pass (``batchnorm:
    separate``), which PyTorch eager dispatches through several ATen layers (``batch_norm`` →
    ``_batch_norm_impl_index`` → ``native_batch_norm``): 3–4× a ReLU's on the calibration machine."""

    conv: float = Field(ge=0, le=MAX_OVERHEAD_US)
    depthwise: float = Field(ge=0, le=MAX_OVERHEAD_US)
    gemm: float = Field(ge=0, le=MAX_OVERHEAD_US)
    pool: float = Field(ge=0, le=MAX_OVERHEAD_US)
    eltwise: float = Field(ge=0, le=MAX_OVERHEAD_US)
    batchnorm: float | None = Field(None, ge=0, le=MAX_OVERHEAD_US)


class NetworkScale(Strict):
    """Factor on every operator's modelled time inside a network (equation 4b): what a calibration's probe
    networks measured against the model built from its operator chains (``accelsim calibrate``), on one thread
    (``one_thread``) and on all cores (``all_threads``)."""

    one_thread: float = Field(gt=0, le=MAX_NETWORK_SCALE)
    all_threads: float = Field(gt=0, le=MAX_NETWORK_SCALE)


class RuntimeProfile(Strict):
    description: str = ""
    op_overhead_us: float = Field(ge=0, le=MAX_OVERHEAD_US)
    class_overhead_us: ClassOverhead | None = None
    inference_overhead_us: float = Field(0.0, ge=0, le=MAX_OVERHEAD_US)
    parallel_overhead_us: float = Field(0.0, ge=0, le=MAX_OVERHEAD_US)
    batchnorm: Literal["folded", "separate"]
    activation: Literal["fused", "separate"]
    parallel_grain_elements: int = Field(ge=1, le=2**40)
    parallel_grain_macs: int | None = Field(None, ge=1, le=2**50)
    parallel_grain_pool_elements: int | None = Field(None, ge=1, le=2**40)
    conv_channel_block: int = Field(1, ge=1, le=4096)
    nchwc_block: int | None = Field(None, ge=1, le=4096)
    graph_fusion: bool = False
    concat: Literal["free", "copy"] = "free"
    parallel_efficiency: float = Field(1.0, gt=0, le=1)
    efficiency: Efficiency
    network_scale: NetworkScale | None = None


class MemoryLevel(Strict):
    name: Name
    size_bytes: float | None = Field(gt=0, le=MAX_SIZE_BYTES)
    shared: bool = False
    bandwidth_gbs_per_core: float = Field(gt=0, le=MAX_BANDWIDTH_GBS)
    bandwidth_gbs: float | None = Field(None, gt=0, le=MAX_BANDWIDTH_GBS)


class _DeviceBase(Strict):
    version: int
    name: Name
    description: str = ""
    sources: list[str] = Field(default_factory=list)
    dtype: DType = "fp32"
    clock_mhz: float = Field(ge=MIN_CLOCK_MHZ, le=MAX_CLOCK_MHZ)
    cores: int = Field(ge=1, le=MAX_CORES)
    macs_per_cycle_per_core: dict[DType, float]
    ops_per_cycle_per_core: dict[DType, float]
    register_bytes_per_core: float = Field(gt=0, le=MAX_SIZE_BYTES)
    levels: list[MemoryLevel] = Field(min_length=1)
    runtimes: dict[str, RuntimeProfile] = Field(min_length=1)
    runtime: str
    warm_cache: bool = True
    warm_weight_bytes: float | None = Field(None, gt=0, le=MAX_SIZE_BYTES)
    area_mm2: float | None = Field(None, ge=0, le=MAX_AREA_MM2)
    tdp_w: float | None = Field(None, ge=0, le=1e6)

    @field_validator("version")
    @classmethod
    def _version(cls, v):
        if v != SCHEMA_VERSION:
            raise ValueError(f"unsupported device schema version {v}; this accelsim reads version {SCHEMA_VERSION}")
        return v

    @field_validator("macs_per_cycle_per_core", "ops_per_cycle_per_core")
    @classmethod
    def _rates(cls, v):
        for k, x in v.items():
            if not 0 < x <= 2**24:
                raise ValueError(f"{k}: must be > 0 and ≤ 2^24 per cycle per core, got {x!r}")
        return v


class CpuConfig(_DeviceBase):
    kind: Literal["cpu"]
    threads: int = Field(ge=1, le=MAX_CORES)


class GpuConfig(_DeviceBase):
    kind: Literal["gpu"]


DeviceConfig = CpuConfig | GpuConfig


def _semantic_errors(cfg: DeviceConfig) -> list[tuple[str, str]]:
    errs: list[tuple[str, str]] = []
    if cfg.dtype not in cfg.macs_per_cycle_per_core:
        errs.append(("macs_per_cycle_per_core", f"no rate for the device's dtype {cfg.dtype!r}"))
    if cfg.dtype not in cfg.ops_per_cycle_per_core:
        errs.append(("ops_per_cycle_per_core", f"no rate for the device's dtype {cfg.dtype!r}"))
    if cfg.runtime not in cfg.runtimes:
        errs.append(("runtime", f"{cfg.runtime!r} is not one of the runtimes ({', '.join(cfg.runtimes)})"))
    if isinstance(cfg, CpuConfig) and cfg.threads > cfg.cores:
        errs.append(("threads", f"{cfg.threads} threads exceed the {cfg.cores} cores"))
    for i, lv in enumerate(cfg.levels):
        last = i == len(cfg.levels) - 1
        if last and lv.size_bytes is not None:
            errs.append((f"levels[{i}].size_bytes", "the last level is the backing store (DRAM / HBM): write null"))
        if not last and lv.size_bytes is None:
            errs.append((f"levels[{i}].size_bytes", "only the last level (the backing store) may be unbounded"))
    names = [lv.name for lv in cfg.levels]
    for n in {n for n in names if names.count(n) > 1}:
        errs.append(("levels", f"level name {n!r} given twice"))
    return errs


def is_device_config(data: object) -> bool:
    """A parsed YAML mapping that declares a ``kind`` (device configs do; accelerator configs do not)."""
    return isinstance(data, dict) and "kind" in data


def parse_device(data: object, source: str = "<device>") -> "Device":
    """Validate a parsed YAML mapping (``kind: cpu|gpu`` picks the schema); raise :class:`DeviceError` listing
    every problem with its YAML path."""
    if not isinstance(data, dict):
        raise DeviceError(source, [("<root>", "the config must be a YAML mapping")])
    kind = data.get("kind")
    model = {"cpu": CpuConfig, "gpu": GpuConfig}.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise DeviceError(source, [("kind", f"must be 'cpu' or 'gpu', got {kind!r}")])
    try:
        cfg = model.model_validate(data)
    except ValidationError as e:
        raise DeviceError(source, pydantic_errors(e)) from None
    errs = _semantic_errors(cfg)
    if errs:
        raise DeviceError(source, errs)
    return Device(cfg, source)


def load_device(path: str | Path) -> "Device":
    """Load and validate a device YAML (a bare name looks in the shipped ``configs/``)."""
    p = Path(path)
    if not p.exists() and not p.suffix:
        from accel.arch import CONFIG_DIR

        p = CONFIG_DIR / f"{path}.yaml"
    return parse_device(read_yaml(p, DeviceError), str(p))


class Device:
    """A validated device config (the ``Arch`` of a CPU or GPU): ``name``, ``digest()``, ``summary()``."""

    is_device = True

    def __init__(self, config: DeviceConfig, source: str = "<device>"):
        self.config = config
        self.source = source

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def kind(self) -> str:
        return self.config.kind

    @property
    def threads(self) -> int:
        """Threads (CPU) or SMs (GPU) a layer may spread over."""
        return self.config.threads if isinstance(self.config, CpuConfig) else self.config.cores

    @property
    def clock_hz(self) -> float:
        return self.config.clock_mhz * 1e6

    @property
    def profile(self) -> RuntimeProfile:
        return self.config.runtimes[self.config.runtime]

    @property
    def peak_macs_per_s(self) -> float:
        c = self.config
        return c.macs_per_cycle_per_core[c.dtype] * self.threads * self.clock_hz

    def digest(self) -> str:
        blob = json.dumps(self.config.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def summary(self) -> str:
        c = self.config
        lv = ", ".join(f"{x.name} {x.size_bytes / 1024:g} KiB" if x.size_bytes else
                       f"{x.name} {x.bandwidth_gbs or x.bandwidth_gbs_per_core * c.cores:g} GB/s" for x in c.levels)
        unit = "threads" if c.kind == "cpu" else "SMs"
        return (f"{c.kind} {self.threads}/{c.cores} {unit}, {c.macs_per_cycle_per_core[c.dtype]:g} {c.dtype} "
                f"MAC/cycle/core @ {c.clock_mhz:g} MHz = {self.peak_macs_per_s / 1e9:.1f} GMAC/s, {lv}, "
                f"runtime {c.runtime}")

    def __getattr__(self, name: str):
        # accelerator-only attributes (the mapper's compiled arrays, PE array, mapping constraints): one clear error
        # instead of an AttributeError deep inside the mapper
        if name.startswith("__"):
            raise AttributeError(name)
        raise DeviceAttributeError(self.source, [("kind", (
            f"a {self.config.kind} device config has no accelerator attribute {name!r}: devices cost networks through "
            "the device model (eval, rankcorr, xcheck, nas); map, sweep, codesign and plot need an accelerator "
            "config"))])

    def _replace(self, **changes) -> "Device":
        data = self.config.model_dump(mode="python")
        data.update(changes)
        return parse_device(data, self.source)

    def with_threads(self, threads: int) -> "Device":
        """The same CPU running ``threads`` threads."""
        if self.config.kind != "cpu":
            raise DeviceError(self.source, [("threads", "a GPU config has no thread count (it uses every SM)")])
        return self._replace(threads=int(threads))

    def with_runtime(self, runtime: str) -> "Device":
        """The same device under another of its runtime profiles."""
        return self._replace(runtime=runtime)

    def without_network_scale(self) -> "Device":
        """The same device with no in-network scale in any runtime profile (module docstring, 4b): the model
        built from the operator chains alone (an ablation)."""
        rts = {k: {**v, "network_scale": None} for k, v in self.config.model_dump(mode="python")["runtimes"].items()}
        return self._replace(runtimes=rts)


def op_class(layer: Layer) -> str:
    """``conv``, ``depthwise``, ``gemm``, ``pool`` or ``eltwise`` (see the module docstring)."""
    if layer.op == "conv":
        return "depthwise" if layer.G > 1 and layer.C == 1 else "conv"
    if layer.op in ("fc", "matmul"):
        return "gemm"
    if layer.op in ("maxpool", "avgpool"):
        return "pool"
    return "eltwise"


@dataclass
class DeviceCost:
    """Cost of one layer on a device (same attribute names as :class:`accel.cost.CostRecord` where they mean the
    same thing; ``energy_pj`` is NaN)."""

    latency_s: float
    latency_cycles: float
    compute_s: float
    level_s: dict[str, float]
    traffic_bytes: dict[str, float]
    overhead_s: float
    epilogue_s: float
    threads_used: int
    op_class: str
    bound: str
    energy_pj: float = math.nan
    epilogue_ops: int = 0
    reorder_s: float = 0.0  # onnxruntime NCHWc layout reorders charged to this layer (module docstring, 2b)
    reorders: int = 0
    fused_into: str | None = None  # the layer whose operator executes this one (module docstring, 2c): costs 0
    concat_s: float = 0.0  # the copy of a concatenated input this layer reads first (module docstring, 5)

    @property
    def utilization(self) -> float:
        return self.compute_s / self.latency_s if self.latency_s > 0 else 0.0

    @property
    def active_pes(self) -> int:
        return self.threads_used

    @property
    def stall_cycles(self) -> dict[str, float]:
        """Cycles by which each level's transfer time exceeds the compute time (0 when compute-bound)."""
        f = self.latency_cycles / self.latency_s if self.latency_s > 0 else 0.0
        return {k: max(0.0, v - self.compute_s) * f for k, v in self.level_s.items()}


@dataclass
class DeviceLayerResult:
    layer: Layer
    cost: DeviceCost
    mapping: None = None
    evaluations: int = 0


def network_scale(device: Device) -> float:
    """The in-network factor of ``device``'s runtime at its thread count (module docstring, 4b): 1 without
    ``network_scale``; ``one_thread`` at 1 thread, ``all_threads`` at ``cores``, linear in between."""
    ns = device.profile.network_scale
    if ns is None:
        return 1.0
    cores = device.config.cores
    t = device.threads
    if cores <= 1 or t <= 1:
        return float(ns.one_thread)
    return float(ns.one_thread + (ns.all_threads - ns.one_thread) * (min(t, cores) - 1) / (cores - 1))


class DeviceModel:
    """Costs layers and networks on a :class:`Device` under its runtime profile (module docstring, 1–5)."""

    def __init__(self, device: Device):
        self.device = device
        self._cache: dict[tuple, DeviceCost] = {}
        self.scale = network_scale(device)

    # -- one operator -----------------------------------------------------------------------------------
    def _operator(self, layer: Layer, weight_home: int) -> tuple[float, float, dict, dict, float, int, str, str]:
        d = self.device
        c = d.config
        prof = d.profile
        b = DTYPE_BYTES[c.dtype]
        f = d.clock_hz
        cls = op_class(layer)
        out_elems = layer.G * layer.N * layer.K * layer.P * layer.Q
        mac = cls in ("conv", "depthwise", "gemm")
        work = layer.macs if mac else layer.ops
        if mac and prof.parallel_grain_macs is not None:
            u = int(min(max(1, math.ceil(work / prof.parallel_grain_macs)), d.threads))
        else:
            grain = (prof.parallel_grain_pool_elements if cls == "pool" and prof.parallel_grain_pool_elements is not None
                     else prof.parallel_grain_elements)
            u = int(min(max(1, math.ceil(out_elems / grain)), d.threads))
        peak = (c.macs_per_cycle_per_core if mac else c.ops_per_cycle_per_core)[c.dtype]
        eff = getattr(prof.efficiency, cls)
        if cls == "depthwise" and prof.efficiency.depthwise_7x7 is not None:
            eff = depthwise_efficiency(layer.R * layer.S, eff, prof.efficiency.depthwise_7x7)
        if cls == "conv":
            blk = prof.conv_channel_block
            eff *= layer.K / (math.ceil(layer.K / blk) * blk)
        eff *= nchwc_padding(layer, cls, prof.nchwc_block)
        if cls == "pool" and prof.efficiency.pool_unblocked is not None and not nchwc_pool(layer, prof.nchwc_block):
            eff = prof.efficiency.pool_unblocked
        u_eff = 1 + (u - 1) * prof.parallel_efficiency
        compute_s = work / (u_eff * peak * eff * f)
        w, x, y = layer.operand_sizes()
        act_bytes = (x + y) * b
        foot = (w + x + y) * b
        # activations' home: the smallest level holding the layer's input and output
        act_home = next((i for i, lv in enumerate(c.levels) if lv.size_bytes is not None and
                         act_bytes <= _capacity(lv, u)), len(c.levels) - 1)
        level_s, traffic = {}, {}
        for i, lv in enumerate(c.levels):
            s_in = c.register_bytes_per_core if i == 0 else _capacity(c.levels[i - 1], u)
            dw, da = _demand(layer, mac, w, x, y, b, foot, s_in)
            t = dw * (i <= weight_home) + da * (i <= act_home)
            bw = u * lv.bandwidth_gbs_per_core
            if lv.bandwidth_gbs is not None:
                bw = min(bw, lv.bandwidth_gbs)
            traffic[lv.name] = t
            level_s[lv.name] = t / (bw * 1e9)
        base_us = getattr(prof.class_overhead_us, cls) if prof.class_overhead_us is not None else prof.op_overhead_us
        overhead_s = (base_us + (prof.parallel_overhead_us if u > 1 else 0.0)) * 1e-6
        slowest = max(level_s, key=level_s.get)
        bound = "compute" if compute_s >= level_s[slowest] else slowest
        lat = max(compute_s, level_s[slowest]) + overhead_s
        return lat, compute_s, level_s, traffic, overhead_s, u, cls, bound

    def layer(self, layer: Layer, weight_home: int | None = None) -> DeviceCost:
        """Cost of one layer as the runtime executes it (its own operator plus separate BN / activation
        passes of a conv).  ``weight_home``: index of the level holding the network's weights (default: from
        this layer's weights alone)."""
        c = self.device.config
        if weight_home is None:
            weight_home = self.weight_home(layer.operand_sizes()[0] * DTYPE_BYTES[c.dtype])
        key = (layer.shape_key(), layer.binary, layer.broadcast, weight_home)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        lat, comp, lvl, traffic, ovh, u, cls, bound = self._operator(layer, weight_home)
        prof = self.device.profile
        extra = 0
        if cls in ("conv", "depthwise"):
            extra = (prof.batchnorm == "separate") + (prof.activation == "separate")
        epi = 0.0
        if extra:
            ep = Layer(f"{layer.name}.epilogue", "relu", N=layer.N, K=layer.G * layer.K, P=layer.P, Q=layer.Q)
            epi = extra * self._operator(ep, weight_home)[0]
            co = prof.class_overhead_us
            if prof.batchnorm == "separate" and co is not None and co.batchnorm is not None:
                epi += (co.batchnorm - co.eltwise) * 1e-6  # the BN pass's own fixed cost (docstring, 5)
        total = (lat + epi) * self.scale
        cost = DeviceCost(latency_s=total, latency_cycles=total * self.device.clock_hz, compute_s=comp, level_s=lvl,
                          traffic_bytes=traffic, overhead_s=ovh, epilogue_s=epi, threads_used=u, op_class=cls,
                          bound=bound, epilogue_ops=int(extra))
        self._cache[key] = cost
        return cost

    def weight_home(self, weight_bytes: float) -> int:
        """Level index where ``weight_bytes`` of weights stay resident across inferences (module docstring, 3)."""
        c = self.device.config
        last = len(c.levels) - 1
        if not c.warm_cache:
            return last
        if c.warm_weight_bytes is not None and weight_bytes > c.warm_weight_bytes:
            return last  # more weights than the caches keep across inferences (module docstring, 3)
        return next((i for i, lv in enumerate(c.levels) if lv.size_bytes is not None and weight_bytes <= lv.size_bytes),
                    last)

    # -- a network -------------------------------------------------------------------------------------
    def network(self, net: Network, objective: str = "latency") -> "DeviceNetworkResult":
        b = DTYPE_BYTES[self.device.config.dtype]
        layers = net.layers
        wh = self.weight_home(sum(layer.operand_sizes()[0] for layer in layers if layer.is_mac) * b)
        results = [DeviceLayerResult(layer, self.layer(layer, wh)) for layer in layers]
        if self.device.profile.nchwc_block is not None:
            results = self._with_reorders(net, results, wh)
        if self.device.profile.concat == "copy":
            results = self._with_concat_copies(net, results, wh)
        if self.device.profile.graph_fusion:
            results = self._with_graph_fusion(net, results)
        from accel._version import __version__

        meta = {"accelsim_version": __version__, "hw_digest": self.device.digest(), "device_kind": self.device.kind,
                "runtime": self.device.config.runtime, "threads": self.device.threads,
                "unique_layer_shapes": len({r.layer.shape_key() for r in results})}
        return DeviceNetworkResult(net.name, self.device, objective, results, meta,
                                   getattr(net, "import_report", None), inference_overhead_s=self.inference_overhead_s)

    def _reorder_s(self, elements: int, weight_home: int) -> float:
        """One ReorderInput / ReorderOutput of ``elements`` values: a memory-bound element-wise copy with the
        element-wise class's overhead (module docstring, 2b)."""
        key = ("reorder", elements, weight_home)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._operator(Layer("reorder", "relu", K=max(1, int(elements))), weight_home)[0] * self.scale
            self._cache[key] = hit
        return hit

    def _with_reorders(self, net: Network, results: list[DeviceLayerResult], weight_home: int
                       ) -> list[DeviceLayerResult]:
        """Charge the NCHWc layout reorders onnxruntime inserts (module docstring, 2b) to the layers they
        serve: a ReorderInput to its NCHWc consumer, a ReorderOutput to its NCHWc producer."""
        import dataclasses

        blk = self.device.profile.nchwc_block
        g = net.graph
        by_name = {r.layer.name: r for r in results}
        nchwc = _nchwc_layout(net, results, blk)
        extra_s = {r.layer.name: 0.0 for r in results}
        count = {r.layer.name: 0 for r in results}
        reorder_out: set[str] = set()
        reordered_in: set[tuple[str, ...]] = set()
        for r in results:
            layer = r.layer
            preds = tuple(g.predecessors(layer.name))
            succs = list(g.successors(layer.name))
            # a single-input operator fed by several producers reads their channel concatenation: it stays NCHWc
            # only when every part's channels are block-aligned (TransformConcat)
            concat = r.cost.op_class in ("conv", "depthwise", "pool") and len(preds) > 1
            unaligned = concat and any((by_name[q].layer.G * by_name[q].layer.K) % blk for q in preds)
            nchwc_input = bool(preds) and all(nchwc[q] for q in preds) and not unaligned
            if (concat and not nchwc_input) or not nchwc[layer.name]:
                # an NCHW consumer (or an NCHW concat) of an NCHWc tensor: the producer's output is reordered back
                reorder_out.update(q for q in preds if nchwc[q])
            direct = r.cost.op_class == "conv" and layer.G == 1 and layer.C < blk  # the NCHW-input path
            if nchwc[layer.name] and not nchwc_input and not direct and preds + ("",) not in reordered_in:
                reordered_in.add(preds + ("",))
                # the tensor reordered: its producers' outputs (a concatenation), or the network input
                x = (sum(_out_elements(by_name[q].layer) for q in preds) if preds else math.prod(net.input_shape))
                extra_s[layer.name] += self._reorder_s(x, weight_home)
                count[layer.name] += 1
            if nchwc[layer.name] and not succs:  # a network output leaves in NCHW
                reorder_out.add(layer.name)
        for q in reorder_out:
            extra_s[q] += self._reorder_s(_out_elements(by_name[q].layer), weight_home)
            count[q] += 1
        out = []
        f = self.device.clock_hz
        for r in results:
            e = extra_s[r.layer.name]
            if e == 0.0:
                out.append(r)
                continue
            c = r.cost
            out.append(DeviceLayerResult(r.layer, dataclasses.replace(
                c, latency_s=c.latency_s + e, latency_cycles=(c.latency_s + e) * f, reorder_s=e,
                reorders=count[r.layer.name])))
        return out

    def _with_concat_copies(self, net: Network, results: list[DeviceLayerResult], weight_home: int
                            ) -> list[DeviceLayerResult]:
        """``concat: copy`` (module docstring, 5): a single-input layer fed by several producers reads their
        channel concatenation, which the runtime materialises once (an element-wise copy, charged to the first
        such reader)."""
        import dataclasses

        g = net.graph
        by_name = {r.layer.name: r for r in results}
        done: set[tuple[str, ...]] = set()
        f = self.device.clock_hz
        out = []
        for r in results:
            layer = r.layer
            preds = tuple(sorted(g.predecessors(layer.name)))
            if len(preds) < 2 or layer.binary or preds in done:
                out.append(r)
                continue
            done.add(preds)
            e = self._reorder_s(sum(_out_elements(by_name[q].layer) for q in preds), weight_home)
            c = r.cost
            out.append(DeviceLayerResult(layer, dataclasses.replace(
                c, latency_s=c.latency_s + e, latency_cycles=(c.latency_s + e) * f, concat_s=e)))
        return out

    def _with_graph_fusion(self, net: Network, results: list[DeviceLayerResult]) -> list[DeviceLayerResult]:
        """onnxruntime's graph rewrites of element-wise layers (module docstring, 2c): a fused layer costs 0 and
        names the layer that executes it (``fused_into``)."""
        import dataclasses

        g = net.graph
        by_name = {r.layer.name: r for r in results}
        prof = self.device.profile
        fused: dict[str, str] = {}
        seen: dict[tuple, str] = {}

        nchwc = _nchwc_layout(net, results, prof.nchwc_block)

        def sole_conv_producer(name: str) -> str | None:
            """The conv / depthwise producer of ``name`` whose every consumer is ``name`` (or a common
            subexpression of it, already merged into ``name``)."""
            for q in g.predecessors(name):
                if by_name[q].cost.op_class in ("conv", "depthwise") and all(
                        fused.get(s, s) == name for s in g.successors(q)):
                    return q
            return None

        elt = [r.layer for r in results if r.cost.op_class == "eltwise"]
        for layer in elt:  # (1) common subexpressions: the same unary op on the same tensor runs once
            preds = tuple(sorted(g.predecessors(layer.name)))
            if not layer.binary and preds:
                key = (layer.op, preds, layer.shape_key())
                if key in seen:
                    fused[layer.name] = seen[key]
                else:
                    seen[key] = layer.name
        for layer in elt:
            if layer.name in fused:
                continue
            preds = tuple(g.predecessors(layer.name))
            if layer.op in FUSABLE_ACTIVATIONS and len(preds) == 1 and prof.activation == "fused":
                # (2) an activation read only from its conv's output: the conv's fused activation; (3b) one of an
                # Add fused into a conv: that conv's activation
                q = sole_conv_producer(layer.name)
                p = preds[0]
                if (q is None and p in fused and by_name[p].layer.op == "add"
                        and all(fused.get(s, s) == layer.name for s in g.successors(p))):
                    q = fused[p]
                if q is not None:
                    fused[layer.name] = q
            elif layer.op == "add" and prof.nchwc_block is not None and not layer.broadcast and len(preds) >= 2:
                # (3) an Add of an NCHWc conv's only output and another NCHWc tensor: the conv's Sum input
                q = sole_conv_producer(layer.name)
                if q is not None and all(nchwc[p] for p in preds):
                    fused[layer.name] = q
        if not fused:
            return results
        f = self.device.clock_hz
        out = []
        for r in results:
            host = fused.get(r.layer.name)
            if host is None:
                out.append(r)
                continue
            c = r.cost
            out.append(DeviceLayerResult(r.layer, dataclasses.replace(
                c, latency_s=c.reorder_s + c.concat_s, latency_cycles=(c.reorder_s + c.concat_s) * f, compute_s=0.0,
                level_s={k: 0.0 for k in c.level_s}, traffic_bytes={k: 0.0 for k in c.traffic_bytes},
                overhead_s=0.0, fused_into=host)))
        return out

    @property
    def inference_overhead_s(self) -> float:
        """The runtime's fixed cost of one inference call (module docstring, 6)."""
        return self.device.profile.inference_overhead_us * 1e-6


def _nchwc_layout(net: Network, results: list[DeviceLayerResult], blk: int | None) -> dict[str, bool]:
    """Layer name -> True when onnxruntime's NCHWc transformer runs it in NCHWc (module docstring, 2b)."""
    g = net.graph
    nchwc: dict[str, bool] = {}
    for r in results:
        layer, cls = r.layer, r.cost.op_class
        preds = list(g.predecessors(layer.name))
        if blk is None:
            nchwc[layer.name] = False
        elif cls in ("conv", "depthwise"):
            nchwc[layer.name] = nchwc_conv(layer, cls, blk)
        elif cls == "pool":
            nchwc[layer.name] = nchwc_pool(layer, blk)
        elif cls == "eltwise":  # NCHWc when every input is (TransformBinary / TransformActivation), same shape;
            # a binary layer with fewer than two producers adds a constant or the network input: NCHW
            nchwc[layer.name] = (bool(preds) and not layer.broadcast and all(nchwc[q] for q in preds)
                                 and (not layer.binary or len(preds) >= 2))
        else:
            nchwc[layer.name] = False
    return nchwc


FUSABLE_ACTIVATIONS = frozenset({"relu", "relu6", "sigmoid", "hardsigmoid", "act"})  # onnxruntime FusedConv's


def depthwise_efficiency(taps: int, eff_3x3: float, eff_7x7: float) -> float:
    """Efficiency of a depthwise conv with ``taps`` = R × S (module docstring, 2): the time per output element,
    taps / efficiency, is linear in the taps through the two calibrated points (9 taps at ``efficiency.depthwise``,
    49 at ``efficiency.depthwise_7x7``), floored at MAX_EFFICIENCY."""
    c9, c49 = 9 / eff_3x3, 49 / eff_7x7
    per_output = c9 + (c49 - c9) * (taps - 9) / 40
    return min(MAX_EFFICIENCY, taps / per_output) if per_output > 0 else MAX_EFFICIENCY


def nchwc_conv(layer: Layer, cls: str, block: int | None) -> bool:
    """True when onnxruntime runs this conv as an NCHWc conv (module docstring, 2b)."""
    if block is None or cls not in ("conv", "depthwise"):
        return False
    return cls == "depthwise" or layer.G == 1 or (layer.C % block == 0 and layer.K % block == 0)


def _out_elements(layer: Layer) -> int:
    return layer.G * layer.N * layer.K * layer.P * layer.Q


def nchwc_padding(layer: Layer, cls: str, block: int | None) -> float:
    """Fraction of the computed MACs that are the layer's own under onnxruntime's NCHWc layout (module docstring,
    2a): 1 without a block; a conv's input channels C ≥ block (one group) and a depthwise conv's channels rounded
    up to a multiple of the block (the output channels: ``conv_channel_block``)."""
    if block is None:
        return 1.0
    if cls == "conv" and layer.G == 1 and layer.C >= block:
        return layer.C / (math.ceil(layer.C / block) * block)
    if cls == "depthwise":
        return layer.G / (math.ceil(layer.G / block) * block)
    return 1.0


def nchwc_pool(layer: Layer, block: int | None) -> bool:
    """True when onnxruntime runs this pooling layer as an NCHWc pool: its channels are a multiple of the block
    (``TransformPool``, module docstring 2a); always True without a block."""
    return block is None or (layer.G * layer.K) % block == 0


def _capacity(lv: MemoryLevel, threads: int) -> float:
    """Capacity one thread can use: a private level's size, a shared level's size split among the threads."""
    if lv.size_bytes is None:
        return math.inf
    return lv.size_bytes / threads if lv.shared else lv.size_bytes


def _demand(layer: Layer, mac: bool, w: int, x: int, y: int, b: int, foot: float, s: float) -> tuple[float, float]:
    """(weight bytes, activation bytes) a storage of capacity ``s`` bytes pulls for one layer (docstring, 3)."""
    if not mac or foot <= s:
        return w * b, (x + y) * b
    t = max(1, math.floor(math.sqrt(s / (2 * b))))
    m = layer.N * layer.P * layer.Q
    return w * b * math.ceil(m / t), x * b * math.ceil(layer.K / t) + y * b


@dataclass
class DeviceNetworkResult:
    """Whole-network result on a device: the interface of :class:`mapper.network.NetworkResult` (``macs``,
    ``latency_cycles``, ``latency_s``, ``energy_pj`` = NaN, ``edp``, ``to_json``, ``to_frame``)."""

    network: str
    arch: Device
    objective: str
    layers: list[DeviceLayerResult]
    meta: dict = field(default_factory=dict)
    import_report: dict | None = None
    fusion: None = None  # layer fusion (mapper.fusion) is an accelerator feature: a runtime's own fusion is its profile
    inference_overhead_s: float = 0.0  # once per call, in latency_s / latency_cycles (module docstring, 6)

    @property
    def macs(self) -> int:
        return sum(r.layer.macs for r in self.layers)

    @property
    def latency_cycles(self) -> float:
        return sum(r.cost.latency_cycles for r in self.layers) + self.inference_overhead_s * self.arch.clock_hz

    @property
    def latency_s(self) -> float:
        return sum(r.cost.latency_s for r in self.layers) + self.inference_overhead_s

    @property
    def energy_pj(self) -> float:
        return math.nan

    @property
    def edp(self) -> float:
        return math.nan

    def to_json(self) -> dict:
        layers = []
        for r in self.layers:
            c = r.cost
            layers.append({
                "name": r.layer.name, "op": r.layer.op, "macs": r.layer.macs, "ops": r.layer.ops,
                "shape": r.layer.describe(), "latency_cycles": c.latency_cycles, "latency_s": c.latency_s,
                "energy_pj": None, "utilization": c.utilization, "active_pes": c.threads_used,
                "op_class": c.op_class, "bound": c.bound,
                "latency_breakdown_s": {"compute": c.compute_s, **{f"{k}": v for k, v in c.level_s.items()},
                                        "overhead": c.overhead_s, "epilogue": c.epilogue_s,
                                        "reorder": c.reorder_s},
                "traffic_bytes": c.traffic_bytes, "epilogue_ops": c.epilogue_ops,
                "mapping": None, "onnx_nodes": list(r.layer.source), "unsupported": False,
            })
        rep = self.import_report or {}
        for u in rep.get("unsupported", []):
            layers.append({"name": u["node"], "op": u["op_type"], "macs": 0, "ops": 0, "latency_cycles": 0.0,
                           "latency_s": 0.0, "energy_pj": None, "utilization": 0.0, "mapping": None,
                           "onnx_nodes": [u["node"]], "unsupported": True})
        out = {"network": self.network, "hw": self.arch.name, "objective": self.objective, "layers": layers,
               "total": {"macs": self.macs, "latency_cycles": self.latency_cycles, "latency_s": self.latency_s,
                         "energy_pj": None, "edp": None, "inference_overhead_s": self.inference_overhead_s},
               "meta": self.meta}
        if rep:
            out["onnx_import"] = {k: rep.get(k, []) for k in ("fused", "free", "unsupported", "notes")}
        return out

    def to_frame(self) -> pd.DataFrame:
        rows = []
        for r in self.layers:
            c = r.cost
            row = {"network": self.network, "hw": self.arch.name, "layer": r.layer.name, "op": r.layer.op,
                   "macs": r.layer.macs, "ops": r.layer.ops, "latency_cycles": c.latency_cycles,
                   "latency_s": c.latency_s, "compute_cycles": c.compute_s * self.arch.clock_hz,
                   "stall_cycles": sum(c.stall_cycles.values()), "energy_pj": math.nan, "mac_energy_pj": math.nan,
                   "utilization": c.utilization, "active_pes": c.threads_used, "unsupported": False,
                   "op_class": c.op_class, "bound": c.bound, "overhead_s": c.overhead_s, "epilogue_s": c.epilogue_s,
                   "reorder_s": c.reorder_s}
            for k, v in c.level_s.items():
                row[f"time_{k}_s"] = v
            rows.append(row)
        for u in (self.import_report or {}).get("unsupported", []):
            rows.append({"network": self.network, "hw": self.arch.name, "layer": u["node"], "op": u["op_type"],
                         "macs": 0, "ops": 0, "latency_cycles": 0.0, "latency_s": 0.0, "energy_pj": math.nan,
                         "unsupported": True})
        df = pd.DataFrame(rows)
        df.attrs.update({"objective": self.objective, **self.meta, "inference_overhead_s": self.inference_overhead_s})
        return df
