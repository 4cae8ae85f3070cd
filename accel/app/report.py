"""Rendering results: terminal tables, CSV, JSON, Parquet."""

from __future__ import annotations

import json
import math

from mapper.network import NetworkResult


def _si(v: float, unit: str) -> str:
    if v == 0 or not math.isfinite(v):
        return f"{v:g} {unit}"
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""), (1e-3, "m"), (1e-6, "µ"),
                          (1e-9, "n"), (1e-12, "p")):
        if abs(v) >= scale:
            return f"{v / scale:.3g} {prefix}{unit}"
    return f"{v:g} {unit}"


# ---- area and power (issue 15) --------------------------------------------------------------------------------
def hardware_report(arch, energy_pj: float, latency_s: float, peak_power_mw: float | None = None) -> dict:
    """Area and power of a run: total area (mm², NaN when a component's is unknown), the power drawn whenever the
    accelerator runs (leakage + always-on extras + ``static_power_mw``), average power (energy / latency) and peak
    power (the most power-hungry layer; one layer: the average), and per component its area, leakage and where
    each number came from (``config`` | ``component-model`` | ``unknown``; :func:`accel.arch.area_power_breakdown`)."""
    from accel.arch import area_mm2, area_power_breakdown, static_power_mw

    avg = energy_pj / latency_s * 1e-9 if latency_s > 0 else 0.0  # pJ/s → mW
    area = area_mm2(arch)
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
               default=0.0)
    return hardware_report(res.arch, res.energy_pj, res.latency_s, peak)


def hardware_lines(hw: dict) -> list[str]:
    """The area / power block of ``eval`` and ``map`` tables."""
    area = "unknown (no area_mm2 and no technology block)" if hw["area_mm2"] is None else f"{hw['area_mm2']:.4g} mm²"
    node = f" @ {hw['technology_node_nm']:g} nm" if hw["technology_node_nm"] else ""
    lines = [f"area {area}{node}; power: average {hw['average_power_mw']:.4g} mW, peak {hw['peak_power_mw']:.4g} mW, "
             f"static (leakage + always-on) {hw['static_power_mw']:.4g} mW"]
    for c in hw["components"]:
        a = "?" if c["area_mm2"] is None else f"{c['area_mm2']:.4g} mm²"
        lk = "?" if c["leakage_mw"] is None else f"{c['leakage_mw']:.4g} mW"
        lines.append(f"  {c['component']:>24} x{c['count']:<6} {a:>12} [{c['area_from']}]  {lk:>10} [{c['leakage_from']}]"
                     + (f"  {c['detail'][:120]}" if c["detail"] else ""))
    return lines
# ---- end of area and power ------------------------------------------------------------------------------------


def network_table(res: NetworkResult) -> str:
    """Per-layer table plus totals, as printed by ``accelsim eval``."""
    head = ["layer", "op", "shape", "MACs", "cycles", "latency", "energy", "util", "PEs", "bound"]
    rows = []
    for r in res.layers:
        c = r.cost
        stalls = c.stall_cycles
        worst = max(stalls, key=stalls.get) if stalls else ""
        bound = f"{worst} BW" if worst and stalls[worst] > 0 else "compute"
        rows.append([r.layer.name, r.layer.op, r.layer.describe().split(" ", 1)[-1], f"{r.layer.macs / 1e6:.1f}M",
                     f"{c.latency_cycles:,.0f}", _si(c.latency_s, "s"), _si(c.energy_pj * 1e-12, "J"),
                     f"{c.utilization:.2f}", str(c.active_pes), bound])
    for u in (res.import_report or {}).get("unsupported", []):  # --allow-unsupported: costed as zero
        rows.append([u["node"], u["op_type"], "unsupported: costed as zero", "0.0M", "0", "0 s", "0 J", "", "", ""])
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
    lines += hardware_lines(network_hardware_report(res))
    return "\n".join(lines)


def render_result(res: NetworkResult, fmt: str, path: str | None) -> None:
    """Render ``res`` as ``fmt`` (table | csv | json | parquet) to ``path`` (atomically, after rendering;
    ``wrote PATH`` on stderr) or to stdout (parquet needs a path)."""
    from accel.app.output import emit_text, report_written, write_frame

    if fmt == "table":
        text = network_table(res)
    elif fmt == "json":
        text = json.dumps({**res.to_json(), "hardware": network_hardware_report(res)}, indent=1)
    elif fmt == "csv":
        text = res.to_frame().to_csv(index=False)
    elif fmt == "parquet":
        if not path:
            raise ValueError("parquet output needs a file")
        df = res.to_frame()
        df.attrs = {k: str(v) for k, v in df.attrs.items()}
        write_frame(df, path, "parquet")
        report_written(path)
        return
    else:
        raise ValueError(f"unknown format {fmt!r}")
    emit_text(text, path)
