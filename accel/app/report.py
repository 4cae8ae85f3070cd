"""Rendering results: terminal tables, CSV, JSON, Parquet."""

from __future__ import annotations

import json
import math

from mapper.network import NetworkResult

# A layer whose DRAM traffic exceeds its compulsory traffic (every operand moved once) by more than this factor
# and whose DRAM transfers set its latency is "capacity"-bound: the on-chip levels are too small for its reuse.
CAPACITY_EXCESS = 1.10


def level_bytes(cost, arch) -> dict[str, float]:
    """Bytes moved per memory level (reads + writes of every operand at the level's operand bitwidths)."""
    bits = arch.arrays.op_bits
    out = {}
    for i, lv in enumerate(arch.level_names):
        out[lv] = sum((cost.reads[lv][o] + cost.writes[lv][o]) * bits[i][k] / 8
                      for k, o in enumerate(("weights", "inputs", "outputs")))
    return out


def layer_bound(layer, cost, arch) -> dict:
    """What sets a layer's latency, and its arithmetic intensity.

    ``bound``: ``compute`` when no memory level's transfer time (``cost.bandwidth_cycles``) exceeds the busy time
    of the array (compute + psum accumulation + systolic folds); else the slowest level: ``bandwidth:LEVEL``, or
    ``capacity`` when that level is DRAM and the DRAM traffic exceeds the compulsory traffic (each operand once,
    :meth:`Layer.operand_sizes`) by more than :data:`CAPACITY_EXCESS` (reuse is lost to refetches because the
    on-chip levels cannot hold the tiles).  ``arithmetic_intensity_macs_per_byte``: MACs (ops for pooling /
    element-wise layers) per byte of DRAM traffic; ``arithmetic_intensity_per_level_macs_per_byte``: the same
    per memory level (None where nothing moves, NaN in tables)."""
    if getattr(arch, "is_device", False):  # CPU / GPU (accel/device.py): the device model names its bound
        byts = dict(cost.traffic_bytes)  # levels from the core outward; the last is DRAM
        ai = {lv: (layer.points / b if b > 0 else None) for lv, b in byts.items()}
        bound = "compute" if cost.bound == "compute" else f"bandwidth:{cost.bound}"
        return {"bound": bound, "arithmetic_intensity_macs_per_byte": ai[list(byts)[-1]] if byts else None,
                "arithmetic_intensity_per_level_macs_per_byte": ai}
    byts = level_bytes(cost, arch)
    ai = {lv: (cost.points / b if b > 0 else None) for lv, b in byts.items()}
    busy = cost.compute_cycles + cost.accumulate_cycles + cost.fold_overhead_cycles
    bw = cost.bandwidth_cycles
    worst = max(bw, key=bw.get) if bw else None
    dram = arch.level_names[0]
    if worst is None or bw[worst] <= busy:
        bound = "compute"
    else:
        bound = f"bandwidth:{worst}"
        if worst == dram:
            bits = arch.arrays.op_bits[0]
            compulsory = sum(n * bits[k] / 8 for k, n in enumerate(layer.operand_sizes()))
            if byts[dram] > CAPACITY_EXCESS * compulsory:
                bound = "capacity"
    return {"bound": bound, "arithmetic_intensity_macs_per_byte": ai[dram],
            "arithmetic_intensity_per_level_macs_per_byte": ai}


def _bounds(res: NetworkResult) -> list[dict]:
    return [layer_bound(r.layer, r.cost, res.arch) for r in res.layers]


def result_json(res: NetworkResult) -> dict:
    """``res.to_json()`` with each layer's :func:`layer_bound` keys."""
    out = res.to_json()
    for row, b in zip(out["layers"], _bounds(res)):  # unsupported rows (costed as zero) come last, unchanged
        row.update(b)
    return out


def result_frame(res: NetworkResult):
    """``res.to_frame()`` with the columns ``bound``, ``arithmetic_intensity_macs_per_byte`` (DRAM) and
    ``arithmetic_intensity_<LEVEL>_macs_per_byte`` per memory level."""
    df = res.to_frame()
    bounds = _bounds(res)
    n = len(bounds)
    extra = {"bound": [b["bound"] for b in bounds],
             "arithmetic_intensity_macs_per_byte": [b["arithmetic_intensity_macs_per_byte"] for b in bounds]}
    for lv in (bounds[0]["arithmetic_intensity_per_level_macs_per_byte"] if bounds else ()):
        extra[f"arithmetic_intensity_{lv}_macs_per_byte"] = [
            b["arithmetic_intensity_per_level_macs_per_byte"][lv] for b in bounds]
    for col, vals in extra.items():
        vals = [math.nan if v is None else v for v in vals]
        pad = [None if col == "bound" else math.nan] * (len(df) - n)
        df[col] = vals + pad
    return df


def _si(v: float, unit: str) -> str:
    if v == 0 or not math.isfinite(v):
        return f"{v:g} {unit}"
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""), (1e-3, "m"), (1e-6, "µ"),
                          (1e-9, "n"), (1e-12, "p")):
        if abs(v) >= scale:
            return f"{v / scale:.3g} {prefix}{unit}"
    return f"{v:g} {unit}"


def _num(v) -> str:
    return "-" if v is None else f"{v:.3g}"
# ---- area and power (issue 15) --------------------------------------------------------------------------------
def hardware_report(arch, energy_pj: float, latency_s: float, peak_power_mw: float | None = None) -> dict:
    """Area and power of a run: total area (mm², NaN when a component's is unknown), the power drawn whenever the
    accelerator runs (leakage + always-on extras + ``static_power_mw``), average power (energy / latency) and peak
    power (the most power-hungry layer; one layer: the average), and per component its area, leakage and where
    each number came from (``config`` | ``component-model`` | ``unknown``; :func:`accel.arch.area_power_breakdown`).
    Average and peak power are None when nothing runs (0 s: a network whose every layer was pruned as constant)."""
    from accel.arch import area_mm2, area_power_breakdown, static_power_mw

    avg = energy_pj / latency_s * 1e-9 if latency_s > 0 else None  # pJ/s → mW
    area = area_mm2(arch)
    if getattr(arch, "is_device", False):  # CPU / GPU (accel/device.py): die area and TDP, no energy model
        tdp = arch.config.tdp_w
        return {"area_mm2": area if math.isfinite(area) else None, "static_power_mw": None,
                "average_power_mw": None, "peak_power_mw": None if tdp is None else tdp * 1e3,
                "technology_node_nm": None, "components": []}
    return {"area_mm2": area if math.isfinite(area) else None, "static_power_mw": static_power_mw(arch),
            "average_power_mw": avg, "peak_power_mw": avg if peak_power_mw is None else peak_power_mw,
            "technology_node_nm": arch.config.technology.node_nm if arch.config.technology else None,
            "components": [{"component": r.component, "count": r.count,
                            "area_mm2": r.total_area_mm2 if math.isfinite(r.area_mm2) else None,
                            "leakage_mw": r.total_leakage_mw if math.isfinite(r.leakage_mw) else None,
                            "area_from": r.area_from, "leakage_from": r.leakage_from, "detail": r.detail}
                           for r in area_power_breakdown(arch)]}


def network_hardware_report(res: NetworkResult) -> dict:
    peak = max((r.cost.energy_pj / r.cost.latency_s * 1e-9 for r in res.layers if r.cost and r.cost.latency_s > 0),
               default=None)
    return hardware_report(res.arch, res.energy_pj, res.latency_s, peak)


def hardware_lines(hw: dict) -> list[str]:
    """The area / power block of ``eval`` and ``map`` tables."""
    area = "unknown (no area_mm2 and no technology block)" if hw["area_mm2"] is None else f"{hw['area_mm2']:.4g} mm²"
    node = f" @ {hw['technology_node_nm']:g} nm" if hw["technology_node_nm"] else ""
    if hw["static_power_mw"] is None:  # a CPU / GPU device: die area and TDP only
        tdp = "unknown" if hw["peak_power_mw"] is None else f"{hw['peak_power_mw'] / 1e3:.4g} W"
        return [f"die area {area}; TDP {tdp} (the device model has no energy model)"]
    def mw(v) -> str:
        return "- (nothing runs)" if v is None else f"{v:.4g} mW"

    lines = [f"area {area}{node}; power: average {mw(hw['average_power_mw'])}, peak {mw(hw['peak_power_mw'])}, "
             f"static (leakage + always-on) {hw['static_power_mw']:.4g} mW"]
    for c in hw["components"]:
        a = "?" if c["area_mm2"] is None else f"{c['area_mm2']:.4g} mm²"
        lk = "?" if c["leakage_mw"] is None else f"{c['leakage_mw']:.4g} mW"
        lines.append(f"  {c['component']:>24} x{c['count']:<6} {a:>12} [{c['area_from']}]  {lk:>10} [{c['leakage_from']}]"
                     + (f"  {c['detail'][:120]}" if c["detail"] else ""))
    return lines
# ---- end of area and power ------------------------------------------------------------------------------------


def network_table(res: NetworkResult) -> str:
    """Per-layer table plus totals, as printed by ``accelsim eval``: ``bound`` and ``MAC/B`` (MACs or ops per
    DRAM byte) are :func:`layer_bound`'s."""
    head = ["layer", "op", "shape", "MACs", "cycles", "latency", "energy", "util", "PEs", "bound", "MAC/B"]
    rows = []
    for r in res.layers:
        c = r.cost
        b = layer_bound(r.layer, c, res.arch)
        rows.append([r.layer.name, r.layer.op, r.layer.describe().split(" ", 1)[-1], f"{r.layer.macs / 1e6:.1f}M",
                     f"{c.latency_cycles:,.0f}", _si(c.latency_s, "s"), _si(c.energy_pj * 1e-12, "J"),
                     f"{c.utilization:.2f}", str(c.active_pes), b["bound"],
                     _num(b["arithmetic_intensity_macs_per_byte"])])
    for u in (res.import_report or {}).get("unsupported", []):  # --allow-unsupported: costed as zero
        rows.append([u["node"], u["op_type"], "unsupported: costed as zero", "0.0M", "0", "0 s", "0 J", "", "", "", ""])
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(head)]
    widths[2] = min(widths[2], 44)
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths))]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        r[2] = r[2][:44]
        lines.append("  ".join(v.ljust(w) for v, w in zip(r, widths)))
    a = res.arch
    lines.append("")
    lines.append(f"network {res.network} on {a.name} ({a.summary()}), objective {res.objective}")
    lines.append(f"total: {res.macs / 1e9:.3f} GMACs in {len(res.layers)} layers "
                 f"({sum(1 for r in res.layers if r.layer.op == 'conv')} conv, "
                 f"{sum(1 for r in res.layers if r.layer.op in ('fc', 'matmul'))} fc/matmul), "
                 f"latency {res.latency_cycles:,.0f} cycles = {_si(res.latency_s, 's')}, "
                 f"energy {_si(res.energy_pj * 1e-12, 'J')}, EDP {res.edp:.4g} pJ·s")
    fz = res.fusion
    if fz is not None:  # inter-layer on-chip reuse (mapper.fusion)
        saved = fz.dram_bits_saved / fz.dram_bits_unfused if fz.dram_bits_unfused else 0.0
        lines.append(f"fusion {fz.policy}" + (f" (tile_rows {fz.tile_rows})" if fz.tile_rows else "") +
                     f" in {fz.level}: {fz.edges_on_chip}/{len(fz.edges)} edges on chip, DRAM traffic "
                     f"{_si(fz.dram_bits_unfused / 8, 'B')} -> {_si(fz.dram_bits / 8, 'B')} ({saved:.1%} saved)")
    lines += hardware_lines(network_hardware_report(res))
    return "\n".join(lines)


def render_result(res: NetworkResult, fmt: str, path: str | None) -> None:
    """Render ``res`` as ``fmt`` (table | csv | json | parquet) to ``path`` (atomically, after rendering;
    ``wrote PATH`` on stderr) or to stdout (parquet needs a path)."""
    from accel.app.output import emit_text, report_written, write_frame

    if fmt == "table":
        text = network_table(res)
    elif fmt == "json":
        text = json.dumps({**result_json(res), "hardware": network_hardware_report(res)}, indent=1)
    elif fmt == "csv":
        text = result_frame(res).to_csv(index=False)
    elif fmt == "parquet":
        if not path:
            raise ValueError("parquet output needs a file")
        df = result_frame(res)
        df.attrs = {k: str(v) for k, v in df.attrs.items()}
        write_frame(df, path, "parquet")
        report_written(path)
        return
    else:
        raise ValueError(f"unknown format {fmt!r}")
    emit_text(text, path)
