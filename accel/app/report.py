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
    fz = res.fusion
    if fz is not None:  # inter-layer on-chip reuse (mapper.fusion)
        saved = fz.dram_bits_saved / fz.dram_bits_unfused if fz.dram_bits_unfused else 0.0
        lines.append(f"fusion {fz.policy}" + (f" (tile_rows {fz.tile_rows})" if fz.tile_rows else "") +
                     f" in {fz.level}: {fz.edges_on_chip}/{len(fz.edges)} edges on chip, DRAM traffic "
                     f"{_si(fz.dram_bits_unfused / 8, 'B')} -> {_si(fz.dram_bits / 8, 'B')} ({saved:.1%} saved)")
    return "\n".join(lines)


def render_result(res: NetworkResult, fmt: str, path: str | None) -> None:
    """Render ``res`` as ``fmt`` (table | csv | json | parquet) to ``path`` (atomically, after rendering;
    ``wrote PATH`` on stderr) or to stdout (parquet needs a path)."""
    from accel.app.output import emit_text, report_written, write_frame

    if fmt == "table":
        text = network_table(res)
    elif fmt == "json":
        text = json.dumps(res.to_json(), indent=1)
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
