"""Whole-network evaluation: map every layer (once per unique shape) and add up the costs.

Layers execute one after another (no inter-layer pipelining), so network latency is the sum of layer
latencies and energy the sum of layer energies.  EDP is reported in pJ·s (energy_pj × latency_s).  With a
``fusion:`` policy in the config, :mod:`mapper.fusion` decides which intermediate tensors stay on chip and
adjusts the layer costs (``NetworkResult.fusion`` reports the edges and the DRAM traffic saved).
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from accel._version import __version__
from accel.arch import Arch
from accel.cost import CostRecord, Mapping
from accel.errors import AccelsimError, ConfigInputError, MappingError
from accel.workload import OPERANDS, Layer, Network

if TYPE_CHECKING:
    import pandas as pd

    from mapper.fusion import FusionReport


@dataclass
class LayerResult:
    layer: Layer
    mapping: Mapping | None
    cost: CostRecord | None
    evaluations: int = 0


@dataclass
class NetworkResult:
    network: str
    arch: Arch
    objective: str
    layers: list[LayerResult]
    meta: dict = field(default_factory=dict)
    import_report: dict | None = None  # ONNX import: fused / free / unsupported nodes
    fusion: "FusionReport | None" = None  # inter-layer on-chip reuse (mapper.fusion); None with policy none

    @property
    def macs(self) -> int:
        return sum(r.layer.macs for r in self.layers)

    @property
    def latency_cycles(self) -> float:
        return sum(r.cost.latency_cycles for r in self.layers if r.cost)

    @property
    def latency_s(self) -> float:
        return sum(r.cost.latency_s for r in self.layers if r.cost)

    @property
    def energy_pj(self) -> float:
        return sum(r.cost.energy_pj for r in self.layers if r.cost)

    @property
    def edp(self) -> float:
        return self.energy_pj * self.latency_s

    def to_json(self) -> dict:
        """The documented JSON contract of ``accelsim eval --format json``."""
        layers = []
        for r in self.layers:
            c = r.cost
            e_lvl = {}
            for lv, ops in c.energy_breakdown_pj.items():
                e_lvl[lv] = {o: ops[o] for o in OPERANDS}
            e_lvl["MAC"] = {"compute": c.mac_energy_pj}
            e_lvl["NoC"] = {"all": c.noc_energy_pj}
            e_lvl["static"] = {"all": c.static_energy_pj}
            layers.append({
                "name": r.layer.name, "op": r.layer.op, "macs": r.layer.macs, "ops": r.layer.ops,
                "shape": r.layer.describe(),
                "latency_cycles": c.latency_cycles, "latency_s": c.latency_s, "energy_pj": c.energy_pj,
                "utilization": c.utilization, "spatial_utilization": c.spatial_utilization,
                "active_pes": c.active_pes, "padded_points_ratio": c.padded_points_ratio,
                "latency_breakdown_cycles": {"compute": c.compute_cycles, "psum_accumulate": c.accumulate_cycles,
                                             "systolic_fold": c.fold_overhead_cycles, "fill_drain": c.fill_drain_cycles,
                                             "serial_onload": c.serial_onload_cycles, "stalls": c.stall_cycles},
                "accesses": {"reads": c.reads, "writes": c.writes},
                "mapping": r.mapping.to_dict(self.arch),
                "energy_breakdown_pj": e_lvl,
                "onnx_nodes": list(r.layer.source),
                "unsupported": False,
            })
            if self.fusion is not None:
                layers[-1]["fusion"] = self.fusion.layers[r.layer.name].to_json()
        rep = self.import_report or {}
        for u in rep.get("unsupported", []):  # costed as zero, marked
            layers.append({"name": u["node"], "op": u["op_type"], "macs": 0, "ops": 0, "latency_cycles": 0.0,
                           "latency_s": 0.0, "energy_pj": 0.0, "utilization": 0.0, "mapping": None,
                           "energy_breakdown_pj": {}, "onnx_nodes": [u["node"]], "unsupported": True})
        out = {
            "network": self.network, "hw": self.arch.name, "objective": self.objective, "layers": layers,
            "total": {"macs": self.macs, "latency_cycles": self.latency_cycles, "latency_s": self.latency_s,
                      "energy_pj": self.energy_pj, "edp": self.edp},
            "meta": self.meta,
        }
        if self.fusion is not None:
            out["fusion"] = self.fusion.to_json()
        if rep:
            out["onnx_import"] = {k: rep.get(k, []) for k in ("fused", "free", "unsupported", "notes")}
        return out

    def to_frame(self) -> pd.DataFrame:
        """Tidy per-layer table (one row per layer), units in column names, metadata in ``df.attrs``."""
        import pandas as pd  # not at import: a plain `accelsim eval` needs no DataFrame (pandas ~0.2 s)

        rows = []
        for r in self.layers:
            c = r.cost
            row = {"network": self.network, "hw": self.arch.name, "layer": r.layer.name, "op": r.layer.op,
                   "macs": r.layer.macs, "ops": r.layer.ops, "latency_cycles": c.latency_cycles,
                   "latency_s": c.latency_s, "compute_cycles": c.compute_cycles,
                   "stall_cycles": sum(c.stall_cycles.values()), "energy_pj": c.energy_pj,
                   "mac_energy_pj": c.mac_energy_pj, "utilization": c.utilization, "active_pes": c.active_pes,
                   "unsupported": False}
            if self.fusion is not None:
                fz = self.fusion.layers[r.layer.name]
                row.update(fusion_dram_bits=fz.dram_bits, fusion_dram_bits_saved=fz.dram_bits_saved,
                           fusion_reserved_bits=fz.reserved_bits, fusion_output_on_chip=fz.output_on_chip)
            for lv, ops in c.energy_breakdown_pj.items():
                for o, v in ops.items():
                    row[f"energy_{lv}_{o}_pj"] = v
            rows.append(row)
        for u in (self.import_report or {}).get("unsupported", []):
            rows.append({"network": self.network, "hw": self.arch.name, "layer": u["node"], "op": u["op_type"],
                         "macs": 0, "ops": 0, "latency_cycles": 0.0, "latency_s": 0.0, "energy_pj": 0.0,
                         "unsupported": True})
        df = pd.DataFrame(rows)
        df.attrs.update({"objective": self.objective, "hw_digest": self.arch.digest(), **self.meta})
        if self.fusion is not None:
            df.attrs.update(fusion_policy=self.fusion.policy, fusion_level=self.fusion.level,
                            fusion_dram_bits_saved=self.fusion.dram_bits_saved)
        return df


class NetworkEvaluator:
    """Maps and costs networks on one accelerator, caching mappings by unique layer shape."""

    def __init__(self, arch: Arch, objective: str = "edp", seed: int = 0, parallel: bool = False,
                 effort: str = "thorough"):
        """Evaluators of accelerators that differ only in their clock, static power and bandwidths map layers together
        with :meth:`map_group` (same results, faster)."""
        from mapper.search import BUDGETS

        if effort not in BUDGETS:
            raise ValueError(f"effort must be one of {sorted(BUDGETS)}, got {effort!r}")
        self.arch = arch
        self.objective = objective
        self.seed = seed
        self.parallel = parallel
        self.effort = effort
        self.budget = BUDGETS[effort]
        self._cache: dict[tuple, tuple[Mapping, CostRecord, int]] = {}
        self._reduced: dict[float, NetworkEvaluator] = {}  # fusion: evaluators with a reduced fusion level
        # --- processor devices (accel/device.py: a CPU / GPU config, ``kind: cpu|gpu``) ---------------------
        # costed by the device model instead of the mapper; results have NetworkResult's interface
        self._device = None
        if getattr(arch, "is_device", False):
            from accel.device import DeviceModel

            self._device = DeviceModel(arch)
        # --- end processor devices ---------------------------------------------------------------------------

    def layer(self, layer: Layer) -> LayerResult:
        """Best mapping and cost of one layer alone (cached by shape).  With a ``fusion`` policy other than none
        a per-layer cost would silently leave out the inter-layer reuse the config asks for, so it is refused
        (:class:`~accel.errors.ConfigInputError`): whole networks go through :meth:`network`."""
        policy = "none" if self._device is not None else self.arch.config.fusion.policy
        if policy != "none":
            raise ConfigInputError(
                f"{self.arch.source}: fusion.policy {policy} is a whole-network effect; per-layer costs (NAS "
                f"latency tables, NB201 sweep workloads, per-layer lookups) cannot include it — evaluate whole "
                f"networks (accelsim eval, sweep workloads other than nb201) or set fusion.policy: none")
        return self._layer(layer)

    def _layer(self, layer: Layer) -> LayerResult:
        from mapper.search import search_mapping

        if self._device is not None:  # processor device (see __init__)
            from accel.device import DeviceLayerResult

            return DeviceLayerResult(layer, self._device.layer(layer))
        key = layer.shape_key()
        hit = self._cache.get(key)
        if hit is None:
            b = self.budget
            res = search_mapping(layer, self.arch, objective=self.objective, seed=self.seed, parallel=self.parallel,
                                 samples=b.samples, rounds=b.rounds, restarts=b.restarts,
                                 exhaustive_limit=b.exhaustive_limit)
            hit = (res.mapping, res.cost, res.evaluations)
            self._cache[key] = hit
        return LayerResult(layer, hit[0], hit[1], hit[2])

    @staticmethod
    def map_group(evaluators: "list[NetworkEvaluator]", layers: "list[Layer]") -> None:
        """Map ``layers`` on the accelerators of ``evaluators`` at once and cache the results in each (what
        :meth:`layer` then returns): evaluators with the same objective, seed, effort and serial kernels whose
        accelerators differ only in their clock, static power and bandwidths share each layer's search
        (:func:`mapper.search.search_mapping_group`: the results a search on each would give).  Others are left
        alone, as are processor devices and layers whose search finds no valid mapping (:meth:`layer` raises
        then, as without this)."""
        from mapper.genome import price_free_digest
        from mapper.mapspace import NoValidMapping
        from mapper.search import search_mapping_group

        groups: dict[tuple, list[NetworkEvaluator]] = {}
        for ev in evaluators:
            if ev._device is None and not ev.parallel:
                key = (price_free_digest(ev.arch), ev.objective, ev.seed, ev.effort)
                groups.setdefault(key, []).append(ev)
        for grp in groups.values():
            if len(grp) < 2:
                continue
            todo = {layer.shape_key(): layer for layer in layers if layer.shape_key() not in grp[0]._cache}
            for key, layer in todo.items():
                try:
                    res = search_mapping_group(layer, [ev.arch for ev in grp], grp[0].objective, grp[0].seed,
                                               budget=grp[0].budget)
                except NoValidMapping:
                    continue
                for ev, r in zip(grp, res):
                    ev._cache.setdefault(key, (r.mapping, r.cost, r.evaluations))

    def network(self, net: Network, executor: Executor | None = None) -> NetworkResult:
        """Map and cost every layer.  With an ``executor`` (threads: the numba kernels release the GIL)
        the unique layer shapes are mapped concurrently; results are identical to the serial path."""
        if self._device is not None:  # processor device (see __init__)
            return self._device.network(net, self.objective)
        layers = net.layers
        if executor is not None:
            todo: dict[tuple, Layer] = {}
            for layer in layers:
                if layer.shape_key() not in self._cache:
                    todo.setdefault(layer.shape_key(), layer)
            for _ in executor.map(self._layer, list(todo.values())):
                pass
        fusion = None
        if self.arch.config.fusion.policy != "none":
            from mapper.fusion import fuse_network

            fused, fusion = fuse_network(net, self.arch, self._reserved_layer, self.objective)
            results = [LayerResult(layer, m, c, self._cache.get(layer.shape_key(), (0, 0, 0))[2])
                       for layer, m, c in fused]
        else:
            results = [self.layer(layer) for layer in layers]
        meta = {"accelsim_version": __version__, "hw_digest": self.arch.digest(), "seed": self.seed,
                "unique_layer_shapes": len({r.layer.shape_key() for r in results})}
        return NetworkResult(net.name, self.arch, self.objective, results, meta,
                             getattr(net, "import_report", None), fusion)

    def _reserved_layer(self, layer: Layer, reserved_bits: float) -> tuple[Mapping, CostRecord]:
        """Map ``layer`` with the fusion level's capacity reduced by ``reserved_bits`` (mapper.fusion)."""
        if reserved_bits <= 0:
            r = self._layer(layer)
            return r.mapping, r.cost
        ev = self._reduced.get(reserved_bits)
        if ev is None:
            from accel.arch import fusion_level

            cfg = self.arch.config
            x = fusion_level(cfg)
            levels = [lv.model_dump(mode="python") for lv in cfg.levels]
            levels[x]["size_bytes"] = cfg.levels[x].size_bytes - reserved_bits / 8
            try:
                arch = self.arch.with_config(levels=levels, fusion={"policy": "none"})
            except AccelsimError as e:  # too small to hold one value of each kept operand
                raise MappingError(f"{layer.name}: {e}") from None
            ev = NetworkEvaluator(arch, self.objective, self.seed, self.parallel, self.effort)
            self._reduced[reserved_bits] = ev
        r = ev.layer(layer)
        return r.mapping, r.cost


def evaluate_network(net: Network, arch: Arch, objective: str = "edp", seed: int = 0,
                     executor: Executor | None = None) -> NetworkResult:
    """Map and cost every layer of ``net`` on ``arch`` (unique shapes concurrently on ``executor``)."""
    return NetworkEvaluator(arch, objective, seed).network(net, executor)
