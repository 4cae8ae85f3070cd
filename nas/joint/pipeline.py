"""``accelsim joint`` end to end: cost table → warm-up → joint search → derive → fine-tune → export.

Artifacts written to the output directory:

* ``network.onnx`` — the derived network (float graph, batch 1; BatchNorm folded into the convs);
* ``bitwidths.json`` — per-layer (weights, activations) bits keyed by ONNX node name
  (:mod:`nas.joint.precision`);
* ``accelerator.yaml`` — the derived accelerator, a config :func:`accel.arch.load_arch` accepts;
* ``summary.json`` — ``accuracy`` (top-1 test accuracy, a fraction), ``latency_ms``, ``energy_mj`` and ``edp``
  (pJ·s, as ``accelsim eval``'s ``total.edp``) of the derived network on the derived accelerator, computed by
  importing ``network.onnx`` and :func:`~nas.joint.precision.evaluate_with_bitwidths` — the same
  computation as ``accelsim eval network.onnx --hw accelerator.yaml --bitwidths bitwidths.json`` with the
  sweep spec's mapping objective, seed and batch (recorded under ``"mapping"``); plus details and, with
  ``compare=True``, the two baselines: the same network on the reference accelerator, and the decoupled
  flow (hardware-aware NAS on the reference accelerator, then the best design of the space for the
  searched network);
* ``curves.png``, ``history.parquet`` (one row per step / epoch), ``cost_table.parquet``.
"""

from __future__ import annotations

import json
import math
import time
from concurrent.futures import Executor
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import yaml

from accel.arch import Arch, area_mm2, load_arch
from nas.joint.costtable import build_cost_table
from nas.joint.data import ImageData
from nas.joint.hwspace import HwSpace
from nas.joint.precision import BITWIDTHS_FORMAT, BitPair, BitwidthsFile, PrecisionLaw, evaluate_with_bitwidths, write_bitwidths
from nas.joint.search import JointConfig, hw_objective, power_mw
from nas.joint.space import OPS, FBNetSpace

__all__ = ["run_joint", "accelerator_yaml", "network_bitwidths"]

Progress = Callable[[str, int, int], None]


def accelerator_yaml(arch: Arch, path: str | Path, note: str) -> Arch:
    """Write ``arch``'s validated config as YAML (``note`` appended to its sources) and load it back."""
    cfg = arch.config.model_dump(mode="json", exclude_none=True)
    cfg["sources"] = list(cfg.get("sources", [])) + [note]
    Path(path).write_text(yaml.safe_dump(cfg, sort_keys=False, width=110))
    return load_arch(path)


def network_bitwidths(space: FBNetSpace, ops: list[int], bits: list[BitPair], law: PrecisionLaw) -> BitwidthsFile:
    """Bitwidths of :meth:`FBNetSpace.build_network`'s layers (keyed by its layer names ``L{l}.<part>``)."""
    net = space.build_network(ops)
    layers = {}
    for layer in net.layers:
        if layer.name.startswith("L"):
            l = int(layer.name[1:].split(".")[0])
            layers[layer.name] = {"weights": bits[l][0], "activations": bits[l][1], "block": f"L{l}", "op": OPS[ops[l]].name}
    return BitwidthsFile.model_validate({"format": BITWIDTHS_FORMAT, "law": law.to_json(), "layers": layers})


def _totals(res) -> dict:
    return {"latency_ms": 1e3 * res.latency_s, "energy_mj": 1e-9 * res.energy_pj, "edp": res.edp,
            "latency_cycles": res.latency_cycles, "energy_pj": res.energy_pj, "edp_pj_s": res.edp}


def _network_json(space: FBNetSpace, ops: list[int], bits: list[BitPair]) -> dict:
    return {"ops": [OPS[o].name for o in ops], "bits": [list(b) for b in bits], "macs": space.macs(ops)}


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def run_joint(out_dir: str | Path, space: FBNetSpace, train: ImageData, val: ImageData, test: ImageData, hw: HwSpace,
              config: JointConfig, bits: tuple[BitPair, ...], law: PrecisionLaw = PrecisionLaw(),
              compare: bool = False, executor: Executor | None = None, progress: Progress | None = None) -> dict:
    """Run the whole joint search and write the artifacts (module docstring); returns the summary dict.

    ``executor`` runs the cost table's mapping searches; ``progress(message, done, total)`` reports each
    finished stage / epoch (and table progress).  Designs on which some candidate layer has no valid mapping
    are left out of the search; raises :class:`mapper.mapspace.NoValidMapping` when the reference
    accelerator is one of them or no design is left, and :class:`nas.joint.precision.BitwidthsError` when a
    bitwidth exceeds an accelerator's reference precision.
    """
    import matplotlib.pyplot as plt
    import torch

    from accel.onnx_import import load_onnx_network
    from mapper.mapspace import NoValidMapping
    from nas.joint.engine import DesignEngine
    from nas.joint.export import export_onnx
    from nas.joint.plots import plot_curves
    from nas.joint.search import Batches, accuracy, calibrate, copy_model, finetune, joint_search, warmup_supernet
    from nas.joint.supernet import FBNetSupernet, derive_network

    t_start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log = progress or (lambda msg, done, total: None)
    P = hw.n_designs
    archs = list(hw.archs) + [hw.reference]
    labels = [hw.label(p) for p in range(P)] + [f"reference ({hw.reference.name})"]
    ref_col = P

    # 1. accelsim costs of every (layer, op, bits, design)
    last = [0.0]

    def table_progress(done: int, total: int) -> None:
        if done == total or time.perf_counter() - last[0] > 5.0:
            last[0] = time.perf_counter()
            log(f"cost table: {done}/{total} mapping searches", done, total)

    table = build_cost_table(space, bits, archs, labels, law, hw.objective, hw.seed, hw.batch, executor, table_progress)
    log(f"cost table: {table.meta['mapping_searches']} mapping searches over {P} design(s) + reference in "
        f"{table.meta['build_s']:.1f} s", 1, 1)
    ok = table.valid_designs()
    if not ok[ref_col]:
        raise NoValidMapping(f"the reference accelerator {hw.reference.name!r} cannot run every candidate layer: "
                             + table.meta["unmappable"][0])
    keep = np.flatnonzero(ok[:P])  # designs that run every candidate (the engine samples only these)
    if not len(keep):
        raise NoValidMapping(f"no design of {hw.source} runs every candidate layer, e.g. {table.meta['unmappable'][0]}")
    if len(keep) < P:
        log(f"cost table: {P - len(keep)} design(s) dropped: some candidate layer has no valid mapping on them", 1, 1)
    ref = table.uniform_expectation(ref_col)

    # 2. warm-up
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    supernet = FBNetSupernet(space, bits)
    tr = Batches(train, config.batch_size, space.resolution, gen, augment=config.augment)
    va = Batches(val, config.batch_size, space.resolution, gen)
    te = Batches(test, config.batch_size, space.resolution, gen)
    history = warmup_supernet(supernet, tr, va, config, gen, log)
    warm = copy_model(supernet) if compare else None

    # 3. joint search
    engine = DesignEngine([len(d.values) for d in hw.dims], hw.index[keep])
    outcome = joint_search(supernet, tr, va, table, engine, keep, config, ref, gen, log=log, max_power_mw=hw.max_power_mw)
    history += outcome.history
    ops, bit_idx, design = outcome.ops, outcome.bits, outcome.design
    net_bits = [bits[b] for b in bit_idx]

    # 4. derive, fine-tune, test accuracy
    calibrate(supernet, lambda x: supernet(x, ops, bit_idx), tr)
    derived = derive_network(supernet, ops, bit_idx)
    history += finetune(derived, tr, va, config, "finetune", log)
    acc = accuracy(derived, te)

    # 5. artifacts and the exact evaluation of the exported network
    nodes = export_onnx(derived, out / "network.onnx")
    bw_layers = {}
    for i, names in nodes.items():
        w, a = net_bits[i]
        for n in names:
            bw_layers[n] = {"weights": w, "activations": a, "block": f"L{i}", "op": OPS[ops[i]].name}
    write_bitwidths(out / "bitwidths.json", bw_layers, law)
    arch = accelerator_yaml(hw.archs[design], out / "accelerator.yaml",
                            f"Derived by accelsim joint from {hw.source}: design {design} ({hw.label(design)})")
    onnx_net = load_onnx_network(out / "network.onnx", batch=hw.batch)
    res = evaluate_with_bitwidths(onnx_net, arch, out / "bitwidths.json", hw.objective, hw.seed)
    lat_pred, en_pred = table.totals(ops, bit_idx)
    summary = {"accuracy": acc, **_totals(res),
               "predicted_latency_ms": 1e3 * float(lat_pred[design]), "predicted_energy_mj": 1e-9 * float(en_pred[design]),
               "predicted_power_mw": float(power_mw(lat_pred[design], en_pred[design])), "max_power_mw": hw.max_power_mw,
               "network": _network_json(space, ops, net_bits),
               "accelerator": {"design": design, "label": hw.label(design), "params": hw.params[design],
                               "area_mm2": _finite_or_none(area_mm2(hw.archs[design])),
                               "summary": arch.summary(),
                               "probability": float(outcome.design_probs[int(np.flatnonzero(keep == design)[0])])},
               "mapping": {"objective": hw.objective, "seed": hw.seed, "batch": hw.batch},
               "search": {"space": space.describe(), "epochs": config.epochs, "warmup_epochs": config.n_warmup,
                          "finetune_epochs": config.finetune_epochs, "objective": config.objective,
                          "gen_gap_lambda": config.gen_gap_lambda, "latency_weight": config.latency_weight,
                          "energy_weight": config.energy_weight, "bits": [list(b) for b in bits], "law": law.to_json(),
                          "designs": len(keep), "dropped_designs": hw.dropped + P - len(keep), "hw_space": hw.source,
                          "mapping_searches": table.meta["mapping_searches"], "cost_table_s": table.meta["build_s"],
                          "train_images": len(train), "val_images": len(val), "test_images": len(test),
                          "data": train.name, "reference_latency_s": ref[0], "reference_energy_pj": ref[1]}}

    # 6. baselines
    if compare:
        ref_res = evaluate_with_bitwidths(onnx_net, hw.reference, out / "bitwidths.json", hw.objective, hw.seed)
        summary_ref = {"accuracy": acc, **_totals(ref_res), "accelerator": hw.reference.name}
        dec = joint_search(warm, tr, va, table, None, keep, config, ref, gen, fixed_design=ref_col,
                           log=lambda m, d, t: log("decoupled " + m, d, t))
        for row in dec.history:
            row["phase"] = "decoupled-" + row["phase"]
        history += dec.history
        lat_d, en_d = table.totals(dec.ops, dec.bits)
        score = hw_objective(lat_d[keep], en_d[keep], config, ref) if (config.latency_weight or config.energy_weight) \
            else lat_d[keep] * en_d[keep]
        best = int(keep[int(np.argmin(score))])  # the accelerator sweep over the searched network
        dec_bits = [bits[b] for b in dec.bits]
        calibrate(warm, lambda x: warm(x, dec.ops, dec.bits), tr)
        dnet = derive_network(warm, dec.ops, dec.bits)
        history += finetune(dnet, tr, va, config, "decoupled-finetune", log)
        dacc = accuracy(dnet, te)
        dres = evaluate_with_bitwidths(space.build_network(dec.ops, hw.batch), hw.archs[best],
                                       network_bitwidths(space, dec.ops, dec_bits, law), hw.objective, hw.seed)
        dres_ref = evaluate_with_bitwidths(space.build_network(dec.ops, hw.batch), hw.reference,
                                           network_bitwidths(space, dec.ops, dec_bits, law), hw.objective, hw.seed)
        summary["baselines"] = {
            "reference_accelerator": summary_ref,
            "decoupled": {"accuracy": dacc, **_totals(dres), "network": _network_json(space, dec.ops, dec_bits),
                          "accelerator": {"design": best, "label": hw.label(best), "params": hw.params[best]},
                          "on_reference_accelerator": _totals(dres_ref)},
        }

    hist = pd.DataFrame(history)
    hist.attrs.update({"space": space.describe(), "hw_space": hw.source})
    hist.to_parquet(out / "history.parquet")
    table.to_frame().to_parquet(out / "cost_table.parquet")
    fig = plot_curves(hist)
    fig.savefig(out / "curves.png", dpi=110)
    plt.close(fig)
    summary["wall_s"] = time.perf_counter() - t_start
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=_json_default) + "\n")
    return summary


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
