#!/usr/bin/env python3
"""Regenerate ``tests/data/scalesim_reference.csv`` from the real SCALE-Sim.

This script is NOT run in CI.  It needs the PyPI package ``scalesim`` which we
deliberately keep out of the project's own environment.  Install it in a
throw-away venv and run this script with that interpreter, e.g.::

    python3 -m venv /tmp/scalesim-venv
    /tmp/scalesim-venv/bin/pip install scalesim==2.0.2
    /tmp/scalesim-venv/bin/python bench/scalesim_reference.py

    # optional cross-check against SCALE-Sim v3 (needs numpy<2: 3.0.0 calls
    # int() on 1-element arrays, which numpy>=2 rejects)
    python3 -m venv /tmp/scalesim3-venv
    /tmp/scalesim3-venv/bin/pip install scalesim==3.0.0 "numpy<2"
    /tmp/scalesim3-venv/bin/python bench/scalesim_reference.py

Each invocation (re)writes the rows of the *installed* scalesim version and
keeps the rows of other versions already in the CSV, so the file can hold
reference numbers from several SCALE-Sim releases side by side.

What is recorded, per (layer, dataflow, array rows, array cols, bandwidth mode):

* the layer's topology-CSV dims (ifmap_h, ifmap_w, filt_h, filt_w, channels,
  num_filters, stride),
* ``sim_sr``, ``sim_sc``, ``sim_t``: the Sr / Sc / T attributes of the
  simulator's own ``systolic_compute_{ws,os,is}`` object for that layer,
* ``stall_cycles`` and ``total_cycles``: the "Stall Cycles" and "Total Cycles"
  columns of the simulator's COMPUTE_REPORT.csv,
* ``scalesim_version``: ``importlib.metadata.version("scalesim")``.

Memory stalls.  ``InterfaceBandwidth: CALC`` ("estimate bandwidth" mode) makes
the ifmap/filter SRAMs always hit (``read_buffer_estimate_bw.service_reads``)
and drains the ofmap SRAM at ``ArrayWidth`` words/cycle, so every CALC row
has 0 stall cycles.  We additionally run one array shape in
``InterfaceBandwidth: USER`` mode with SRAMs far larger than any operand
(everything fits the active half of the double buffer, so the read buffers
never issue a demand prefetch) to show that cycles are identical there too.
"""

from __future__ import annotations

import argparse
import csv
import inspect
import os
import sys
import tempfile
from importlib.metadata import version as pkg_version
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "tests" / "data" / "scalesim_reference.csv"

# name, ifmap_h, ifmap_w, filt_h, filt_w, channels, num_filters, stride
# Names must not contain "DP" (SCALE-Sim expands such layers as depthwise).
LAYERS = [
    ("conv3x3_s1", 10, 10, 3, 3, 4, 12, 1),
    ("conv3x3_s2", 11, 11, 3, 3, 3, 10, 2),
    ("conv1x1", 7, 7, 1, 1, 16, 20, 1),
    ("fc50x10", 1, 1, 1, 1, 50, 10, 1),
    ("fc64x64", 1, 1, 1, 1, 64, 64, 1),
    ("conv5x5_rect", 9, 12, 5, 5, 2, 7, 1),
    ("conv7x7_s2", 20, 20, 7, 7, 3, 8, 2),    # (20-7)%2 != 0: ceil rule
    ("conv3x3_s3", 13, 13, 3, 3, 5, 9, 3),    # (13-3)%3 != 0: ceil rule
    ("single_ch_filt", 16, 16, 3, 3, 1, 1, 1),
    ("exact_fit", 8, 8, 1, 1, 8, 8, 1),
    ("conv1x3", 6, 10, 1, 3, 6, 5, 1),
    ("wide_k", 5, 5, 3, 3, 2, 33, 1),
    ("conv1x1_s2", 8, 8, 1, 1, 12, 24, 2),    # (8-1)%2 != 0: ceil rule
    ("asym3x2", 12, 5, 3, 2, 3, 17, 1),
    ("window1", 4, 4, 1, 1, 1, 3, 1),         # window size 1 (T = 1 for os)
]

ARRAYS_CALC = [(8, 8), (32, 32), (16, 4), (4, 16), (3, 5), (64, 16)]
ARRAYS_USER = [(8, 8)]
DATAFLOWS = ["ws", "os", "is"]
BIG_SRAM_KB = 8192        # >> 2 x largest operand; active half holds everything
USER_BANDWIDTH = 10       # words/cycle, only used in USER mode

FIELDS = [
    "layer", "ifmap_h", "ifmap_w", "filt_h", "filt_w", "channels",
    "num_filters", "stride", "dataflow", "rows", "cols", "bandwidth_mode",
    "sram_kb", "sim_sr", "sim_sc", "sim_t", "stall_cycles", "total_cycles",
    "scalesim_version",
]

# A superset of the keys SCALE-Sim v2 and v3 read; each ignores what it does
# not know (configparser).
CONFIG_TEMPLATE = """\
[general]
run_name = {run_name}

[architecture_presets]
ArrayHeight : {rows}
ArrayWidth : {cols}
IfmapSramSzkB : {sram}
FilterSramSzkB : {sram}
OfmapSramSzkB : {sram}
IfmapOffset : 0
FilterOffset : 10000000
OfmapOffset : 20000000
Bandwidth : {bw}
Dataflow : {df}
MemoryBanks : 1
ReadRequestBuffer : 32
WriteRequestBuffer : 32

[layout]
IfmapCustomLayout : False
IfmapSRAMBankBandwidth : 10
IfmapSRAMBankNum : 10
IfmapSRAMBankPort : 2
FilterCustomLayout : False
FilterSRAMBankBandwidth : 10
FilterSRAMBankNum : 10
FilterSRAMBankPort : 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth : {mode}
UseRamulatorTrace : False
"""


def _write_inputs(workdir: Path, run_name, rows, cols, df, mode):
    cfg = workdir / "scale.cfg"
    cfg.write_text(CONFIG_TEMPLATE.format(
        run_name=run_name, rows=rows, cols=cols, sram=BIG_SRAM_KB,
        bw=USER_BANDWIDTH, df=df, mode=mode))

    # SCALE-Sim topology CSV: header line, then one line per layer with a
    # trailing comma (the parser drops the last comma-separated field).
    topo = workdir / "topo.csv"
    lines = ["Layer name, IFMAP Height, IFMAP Width, Filter Height, "
             "Filter Width, Channels, Num Filter, Strides,"]
    for layer in LAYERS:
        lines.append(", ".join(str(x) for x in layer) + ",")
    topo.write_text("\n".join(lines) + "\n")

    # SCALE-Sim v3 insists on a layout file even when custom layouts are off.
    layout = workdir / "layout.csv"
    lines = ["Layer name," + ",".join(f"f{i}" for i in range(20)) + ","]
    for layer in LAYERS:
        lines.append(layer[0] + "," + ",".join(["1"] * 20) + ",")
    layout.write_text("\n".join(lines) + "\n")
    return cfg, topo, layout


def _read_compute_report(path: Path):
    with open(path, newline="") as f:
        rows = [[c.strip() for c in r] for r in csv.reader(f) if r]
    header = rows[0]
    i_total = header.index("Total Cycles")
    i_stall = header.index("Stall Cycles")
    return [(int(float(r[i_total])), int(float(r[i_stall]))) for r in rows[1:]]


def run_one(df, rows, cols, mode):
    from scalesim.scale_sim import scalesim

    run_name = f"{df}_{rows}x{cols}_{mode}"
    old_cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cfg, topo, layout = _write_inputs(tmp, run_name, rows, cols, df, mode)
        os.chdir(tmp)     # v3 may write side files relative to cwd
        try:
            kwargs = dict(save_disk_space=True, verbose=False,
                          config=str(cfg), topology=str(topo))
            if "layout" in inspect.signature(scalesim.__init__).parameters:
                kwargs["layout"] = str(layout)
            sim = scalesim(**kwargs)
            sim.run_scale(top_path=str(tmp / "out"))
            report = _read_compute_report(
                tmp / "out" / run_name / "COMPUTE_REPORT.csv")
            layer_objs = sim.runner.single_layer_sim_object_list
            dims = [(o.compute_system.Sr, o.compute_system.Sc,
                     o.compute_system.T) for o in layer_objs]
        finally:
            os.chdir(old_cwd)
    assert len(report) == len(LAYERS) == len(dims)
    return report, dims


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)

    ver = pkg_version("scalesim")
    new_rows = []
    jobs = [(m, a) for m, arrs in (("CALC", ARRAYS_CALC), ("USER", ARRAYS_USER))
            for a in arrs]
    for mode, (rows, cols) in jobs:
        for df in DATAFLOWS:
            report, dims = run_one(df, rows, cols, mode)
            for layer, (total, stall), (sr, sc, t) in zip(LAYERS, report, dims):
                name, ih, iw, fh, fw, ch, nf, st = layer
                new_rows.append(dict(
                    layer=name, ifmap_h=ih, ifmap_w=iw, filt_h=fh, filt_w=fw,
                    channels=ch, num_filters=nf, stride=st, dataflow=df,
                    rows=rows, cols=cols, bandwidth_mode=mode,
                    sram_kb=BIG_SRAM_KB, sim_sr=sr, sim_sc=sc, sim_t=t,
                    stall_cycles=stall, total_cycles=total,
                    scalesim_version=ver))
            print(f"scalesim {ver} {mode} {df} {rows}x{cols}: done",
                  file=sys.stderr)

    kept = []
    if args.out.exists():
        with open(args.out, newline="") as f:
            kept = [r for r in csv.DictReader(f) if r["scalesim_version"] != ver]
    allrows = kept + new_rows
    allrows.sort(key=lambda r: (str(r["scalesim_version"]), r["bandwidth_mode"],
                                int(r["rows"]), int(r["cols"]), r["dataflow"],
                                [l[0] for l in LAYERS].index(r["layer"])
                                if r["layer"] in [l[0] for l in LAYERS] else 99,
                                r["layer"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
        w.writeheader()
        w.writerows(allrows)
    print(f"wrote {len(new_rows)} rows for scalesim {ver} "
          f"({len(allrows)} total) to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
