"""The general loop-nest model on the SCALE-Sim-compatible configs reproduces SCALE-Sim's cycle counts.

For every layer × dataflow × array shape that the real simulator ran (tests/data/scalesim_reference.csv,
stall-free CALC mode), the mapper's best-latency mapping on configs/scalesim-<df>.yaml (array resized to the
run's shape) must give exactly SCALE-Sim's Total Cycles: folds × (T + per-fold fill/drain) − 1.
"""

import csv

import pytest

from accel.arch import load_arch
from accel.systolic import scalesim_ofmap_dims
from accel.workload import Layer
from mapper.search import search_mapping
from tests.conftest import ROOT

ROWS = [r for r in csv.DictReader((ROOT / "tests" / "data" / "scalesim_reference.csv").open())
        if r["bandwidth_mode"] == "CALC" and r["scalesim_version"].startswith("2.")]
SHAPES = sorted({(int(r["rows"]), int(r["cols"])) for r in ROWS})
_ARCH = {}


def arch_for(df, rows, cols):
    key = (df, rows, cols)
    if key not in _ARCH:
        base = load_arch(ROOT / "configs" / f"scalesim-{df}.yaml")
        pe = base.config.pe_array.model_dump()
        pe.update(rows=rows, cols=cols)
        _ARCH[key] = base.with_config(pe_array=pe)
    return _ARCH[key]


def layer_of(r):
    oh, ow = scalesim_ofmap_dims(int(r["ifmap_h"]), int(r["ifmap_w"]), int(r["filt_h"]), int(r["filt_w"]), int(r["stride"]))
    return Layer(r["layer"], "conv", K=int(r["num_filters"]), C=int(r["channels"]), P=oh, Q=ow, R=int(r["filt_h"]),
                 S=int(r["filt_w"]), stride=(int(r["stride"]),) * 2)


def test_reference_rows_present():
    assert len(ROWS) >= 12 * 3 * 2


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r['layer']}-{r['dataflow']}-{r['rows']}x{r['cols']}")
def test_model_equals_scalesim(row):
    arch = arch_for(row["dataflow"], int(row["rows"]), int(row["cols"]))
    res = search_mapping(layer_of(row), arch, objective="latency")
    c = res.cost
    assert sum(c.stall_cycles.values()) == 0
    assert c.latency_cycles == int(row["total_cycles"])
