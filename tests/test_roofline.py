"""Per-layer bound and arithmetic intensity (accel.app.report.layer_bound) and the hierarchical roofline plot
(accel.app.plots.plot_roofline): one roof per memory level, every point under its level's roof."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from accel.app import plots
from accel.app.report import CAPACITY_EXCESS, layer_bound, level_bytes, result_frame, result_json
from accel.arch import load_arch
from accel.workload import parse_layer_spec
from accel.zoo import get_network
from mapper.network import NetworkEvaluator


@pytest.fixture(scope="module")
def simba():
    return load_arch("simba-like")


@pytest.fixture(scope="module")
def decode_result(simba):
    return NetworkEvaluator(simba, "latency", 0).network(get_network("llama2_7b_layer", phase="decode", context=512))


def test_bound_follows_its_definition(decode_result, simba):
    """Every label is what the cost record says: compute iff no level's transfer time exceeds the busy time;
    otherwise the slowest level, capacity when DRAM is slowest and moves > CAPACITY_EXCESS x the compulsory bytes."""
    seen = set()
    for r in decode_result.layers:
        c = r.cost
        b = layer_bound(r.layer, c, simba)
        busy = c.compute_cycles + c.accumulate_cycles + c.fold_overhead_cycles
        worst = max(c.bandwidth_cycles, key=c.bandwidth_cycles.get)
        dram_bytes = level_bytes(c, simba)["DRAM"]
        compulsory = sum(n * simba.arrays.op_bits[0][k] / 8 for k, n in enumerate(r.layer.operand_sizes()))
        if c.bandwidth_cycles[worst] <= busy:
            assert b["bound"] == "compute"
        elif worst == "DRAM" and dram_bytes > CAPACITY_EXCESS * compulsory:
            assert b["bound"] == "capacity"
        else:
            assert b["bound"] == f"bandwidth:{worst}"
        assert b["arithmetic_intensity_macs_per_byte"] == pytest.approx(c.points / dram_bytes)
        assert dram_bytes >= compulsory * (1 - 1e-9)  # nothing moves less than once
        seen.add(b["bound"])
    assert "bandwidth:DRAM" in seen  # decode streams its weights


def test_bound_labels_of_known_layers(simba):
    # a 4096-token projection runs at the compute roof (within 5 %): "compute", or "capacity" where the 64 KiB
    # global buffer makes the mapping refetch weights and inputs (measured: 1.09 GB vs 50 MB compulsory, DRAM
    # time 1.6 % past compute)
    big = parse_layer_spec("fc K=4096 C=4096 P=4096")
    ev = NetworkEvaluator(simba, "latency", 0)
    r = ev.layer(big)
    b = layer_bound(big, r.cost, simba)
    assert b["bound"] in ("compute", "capacity")
    assert r.cost.latency_cycles <= 1.05 * big.macs / simba.peak_macs_per_cycle
    # one token: 1 MAC per weight byte, far below the ridge (1024 MAC/cycle / 16 B/cycle = 64 MAC/B)
    small = parse_layer_spec("fc K=4096 C=4096")
    b = layer_bound(small, ev.layer(small).cost, simba)
    assert b["bound"] == "bandwidth:DRAM" and b["arithmetic_intensity_macs_per_byte"] == pytest.approx(1, rel=0.01)
    per_level = b["arithmetic_intensity_per_level_macs_per_byte"]
    assert list(per_level) == simba.level_names
    assert per_level["DRAM"] == b["arithmetic_intensity_macs_per_byte"]


def test_report_columns(decode_result, simba):
    df = result_frame(decode_result)
    assert {"bound", "arithmetic_intensity_macs_per_byte"} <= set(df.columns)
    for lv in simba.level_names:
        assert f"arithmetic_intensity_{lv}_macs_per_byte" in df.columns
    assert (df["bound"] == [layer_bound(r.layer, r.cost, simba)["bound"] for r in decode_result.layers]).all()
    js = result_json(decode_result)
    json.loads(json.dumps(js, allow_nan=False))  # valid JSON: no inf / NaN
    row = js["layers"][0]
    assert set(row["arithmetic_intensity_per_level_macs_per_byte"]) == set(simba.level_names)


def test_cli_csv_and_table_have_the_columns(capsys):
    from accel.app.cli import main

    assert main(["eval", "layer:fc K=256 C=256", "--hw", "tpu-v1", "--format", "csv", "--effort", "fast"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0]["bound"] == "bandwidth:DRAM" and float(rows[0]["arithmetic_intensity_macs_per_byte"]) > 0
    assert main(["eval", "layer:fc K=256 C=256", "--hw", "tpu-v1", "--effort", "fast"]) == 0
    head = capsys.readouterr().out.splitlines()[0].split()
    assert head[-2:] == ["bound", "MAC/B"]


def test_roofline_draws_every_level(decode_result, simba):
    fig = plots.plot_roofline(decode_result)
    ax = fig.axes[0]
    roofs = plots.level_roofs_bytes_per_cycle(simba)
    finite = [lv for lv, bw in roofs.items() if np.isfinite(bw)]
    assert len(finite) >= 3  # DRAM, GlobalBuffer, PEBuffers at least
    labels = [line.get_label() for line in ax.get_lines()]
    for lv in finite:
        assert any(lab.startswith(f"{lv}: ") for lab in labels), lv
    peak = simba.peak_macs_per_cycle
    gids = set()
    for coll in ax.collections:
        lv = coll.get_gid().split(":", 1)[1]
        gids.add(lv)
        for x, y in np.asarray(coll.get_offsets()):
            assert y <= min(peak, x * roofs[lv]) * (1 + 1e-9)
    assert gids == set(simba.level_names)
    # decode projections sit on the DRAM roof (shared-port DRAM: the roof is the read bandwidth)
    dram = [c for c in ax.collections if c.get_gid() == "roofline:DRAM"]
    pts = np.concatenate([np.asarray(c.get_offsets()) for c in dram])
    on_roof = np.isclose(pts[:, 1], pts[:, 0] * roofs["DRAM"], rtol=0.02)
    assert on_roof.sum() >= 7  # q, k, v, o, gate, up, down
