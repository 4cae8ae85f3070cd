"""Execution semantics of dead NAS-Bench-201 cell edges (issue 14): costed by default (frameworks execute them),
removed with ``--prune-dead`` / ``prune=True``, the same way in every command and in the API."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from accel.app.cli import build_parser, main
from accel.app.options import PRUNE_DEAD_HELP
from nas import hwcost, nb201
from nas.registry import NB201SearchSpace, get_space, resolve_network, space_network
from tests.conftest import ROOT

EYERISS = str(ROOT / "configs" / "eyeriss.yaml")
# node 1 is computed by a conv but reaches the output only through none: dead code
DEAD = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
# node 1 reads no input (zero) but feeds node 3 through a conv
ZERO_SRC = "|none~0|+|none~0|none~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"
PRUNE_COMMANDS = ("eval", "nas", "nas-latency", "sweep", "codesign", "rankcorr", "xcheck", "plot", "table")


def test_default_costs_dead_edges_and_prune_removes_them():
    full, pruned = nb201.build_network(DEAD), nb201.build_network(DEAD, prune=True)
    assert full.macs > pruned.macs
    assert full.count("conv") - pruned.count("conv") == 15  # one conv per cell, 15 cells
    assert nb201.cell_signature(DEAD) == (0, 1, 0, 0) and nb201.cell_signature(DEAD, prune=True) == (0, 0, 0, 0)
    assert nb201.effective_edges(ZERO_SRC) == ((0, 3, "skip_connect"), (1, 3, "nor_conv_1x1"))
    assert nb201.effective_edges(ZERO_SRC, prune=True) == ((0, 3, "skip_connect"),)
    # the same default everywhere a network is built
    assert resolve_network(f"nb201:{DEAD}", 1).macs == full.macs
    assert resolve_network(f"nb201:{DEAD}", 1, prune_dead=True).macs == pruned.macs
    sp = get_space("nb201")
    assert sp.build_network(DEAD).macs == full.macs == space_network(sp, DEAD).macs
    assert space_network(sp, DEAD, prune_dead=True).macs == pruned.macs
    # other spaces have no dead branches: the option changes nothing
    darts = get_space("darts")
    a = darts.decode("DARTS_V2")
    assert space_network(darts, a, 1, True).macs == space_network(darts, a, 1, False).macs


def test_dead_conv_costs_latency_and_energy_on_hardware():
    """A cell with a dead conv costs more than the pruned one; --prune-dead reproduces the pruned numbers."""
    from mapper.network import NetworkEvaluator
    from accel.arch import load_arch

    ev = NetworkEvaluator(load_arch(EYERISS), effort="fast")
    full = hwcost.nb201_hwcost(evaluator=ev, archs=[DEAD])
    pruned = hwcost.nb201_hwcost(evaluator=ev, archs=[DEAD], prune=True)
    assert full.attrs["prune_dead"] is False and pruned.attrs["prune_dead"] is True
    for c in ("latency_cycles", "latency_s", "energy_pj", "macs"):
        assert full[c].iloc[0] > pruned[c].iloc[0], c
    # the fast path equals the network evaluation, either way
    for prune, df in ((False, full), (True, pruned)):
        res = ev.network(nb201.build_network(DEAD, prune=prune))
        assert res.latency_s == pytest.approx(df["latency_s"].iloc[0], rel=1e-9)
        assert res.energy_pj == pytest.approx(df["energy_pj"].iloc[0], rel=1e-9)
    # pruned = the old default: a dead-only cell costs exactly the skeleton (the all-none cell)
    all_none = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    none = hwcost.nb201_hwcost(evaluator=ev, archs=[all_none])
    assert pruned["latency_s"].iloc[0] == pytest.approx(none["latency_s"].iloc[0], rel=1e-12)
    # ... but with --prune-dead the all-none cell's output is a constant: nothing is executed
    const = hwcost.nb201_hwcost(evaluator=ev, archs=[all_none], prune=True)
    assert (const[["latency_cycles", "latency_s", "energy_pj", "macs"]].to_numpy() == 0).all()
    assert ev.network(nb201.build_network(all_none, prune=True)).latency_s == 0.0


def _cells_without_input_output_path() -> int:
    """Cells with no input→output path of non-``none`` edges, counted without :mod:`nas.nb201`: over the 2^6
    on/off patterns of the six edges (on = one of the 4 non-``none`` ops), the patterns in which node 3 is not
    reachable from node 0, each weighted by 4^(edges on)."""
    import itertools

    edges = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))  # the arch string's edge order
    n = 0
    for on in itertools.product((0, 1), repeat=6):
        reach = {0}
        for j in (1, 2, 3):
            if any(o and i in reach and jj == j for o, (i, jj) in zip(on, edges)):
                reach.add(j)
        n += 0 if 3 in reach else 4 ** sum(on)
    return n


def test_how_many_cells_pruning_changes():
    """Figures of the README / nas.nb201 docstring: pruning changes the cell signatures of 5,909 cells; with the
    341 cells whose output is a constant (no input→output path: no layers at all), the costed layers of 5,921
    and the MACs of 4,317 (3,976 cells with a live path whose dead convs go, and the 341 constant cells)."""
    off, on = hwcost.signatures(), hwcost.signatures(prune=True)
    assert int((off != on).any(axis=1).sum()) == 5909
    assert (off >= on).all()  # pruning only ever removes layers
    idx = np.arange(nb201.N_ARCHS)
    const = np.array([nb201.output_is_constant(nb201.index_to_arch(int(i))) for i in idx])
    assert int(const.sum()) == _cells_without_input_output_path() == 341
    st0, st1 = hwcost.cost_structure(), hwcost.cost_structure(prune=True)
    c0, c1 = st0.counts(idx), st1.counts(idx)
    m0, m1 = c0 @ st0.layer_macs, c1 @ st1.layer_macs
    assert (c1[const] == 0).all() and (c1[~const].sum(axis=1) > 0).all()  # constant output: no layer at all
    assert int(((off != on).any(axis=1) | const).sum()) == 5921
    assert int((m0[~const] != m1[~const]).sum()) == 3976 and int((m0 != m1).sum()) == 4317
    assert int((m0 == m0.min()).sum()) == 3 ** 6  # no conv on any edge
    live_min = m1[~const].min()
    assert live_min == m0.min() and int((m1[~const] == live_min).sum()) > 2 * 3 ** 6


def test_space_objects_default_to_every_edge():
    sp = NB201SearchSpace("cifar100")
    assert sp.build_network(DEAD).macs > sp.build_network(DEAD, prune=True).macs


@pytest.mark.parametrize("cmd", PRUNE_COMMANDS)
def test_every_command_accepts_prune_dead(cmd):
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    p = sub.choices[cmd]
    (a,) = [a for a in p._actions if "--prune-dead" in a.option_strings]
    assert a.default is False and a.help == PRUNE_DEAD_HELP  # one helper, one spelling, one text


def _eval_json(capsys, *extra) -> dict:
    rc = main(["eval", f"nb201:{DEAD}", "--hw", EYERISS, "--effort", "fast", "--format", "json", *extra])
    out = capsys.readouterr()
    assert rc == 0, out.err
    return json.loads(out.out)


def test_eval_prune_dead_changes_the_cost_and_is_recorded(capsys):
    full, pruned = _eval_json(capsys), _eval_json(capsys, "--prune-dead")
    assert full["meta"]["prune_dead"] is False and pruned["meta"]["prune_dead"] is True
    assert full["total"]["latency_s"] > pruned["total"]["latency_s"]
    assert full["total"]["macs"] == nb201.build_network(DEAD).macs
    assert pruned["total"]["macs"] == nb201.build_network(DEAD, prune=True).macs


def test_nas_latency_and_rankcorr_record_prune_dead(capsys):
    rc = main(["nas-latency", "--hw", EYERISS, "--measured-hw", "tpu-v1", "--networks", "6", "--effort", "fast",
               "--prune-dead", "--splits", "3", "--format", "json"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    doc = json.loads(out.out)
    assert doc["prune_dead"] is True and doc["few_shot"]["k"] == 3 and doc["few_shot"]["splits"] == 3
    rc = main(["rankcorr", "--hw", EYERISS, "--hw", "tpu-v1", "--sample", "5", "--effort", "fast", "--prune-dead",
               "--format", "json"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert json.loads(out.out)["prune_dead"] is True
    rc = main(["nas", "--hw", EYERISS, "--strategy", "random", "--budget", "4", "--effort", "fast", "--prune-dead",
               "--format", "json"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert json.loads(out.out)["prune_dead"] is True
    rc = main(["rankcorr", "--from-sweep", "x.parquet", "--prune-dead"])
    assert rc == 1 and "--prune-dead applies to" in capsys.readouterr().err


def _small_sweep(tmp_path):
    import yaml

    p = tmp_path / "small.yaml"
    p.write_text(yaml.safe_dump({"version": 1, "name": "small", "base": EYERISS, "search_effort": "fast",
                                 "parameters": [{"path": "pe_array.rows", "values": [12, 6]}]}))
    return p


def test_sweep_and_codesign_apply_and_record_prune_dead(tmp_path, capsys):
    from accel.app.sweep import SerialExecutor, run_sweep
    from accel.designspace import SweepError

    spec = _small_sweep(tmp_path)
    wl = [f"nb201:{DEAD}", "layer:conv K=8 C=8 P=4 Q=4 R=3 S=3"]
    full = run_sweep(spec, wl, tmp_path / "full.parquet", executor=SerialExecutor())
    pruned = run_sweep(spec, wl, tmp_path / "pruned.parquet", executor=SerialExecutor(), prune_dead=True)
    assert full.attrs["prune_dead"] is False and pruned.attrs["prune_dead"] is True
    f, p = (d[d.workload == wl[0]].sort_values("point") for d in (full, pruned))
    assert (f["latency_s"].to_numpy() > p["latency_s"].to_numpy()).all()
    assert (f["macs"].to_numpy() > p["macs"].to_numpy()).all() and (f["params"].to_numpy() > p["params"].to_numpy()).all()
    lf, lp = (d[d.workload == wl[1]]["latency_s"].to_numpy() for d in (full, pruned))
    assert np.array_equal(lf, lp)  # a single layer has no dead branches
    # part of the sweep's identity: the other semantics never reuses (or silently replaces) the table
    with pytest.raises(SweepError, match="prune_dead"):
        run_sweep(spec, wl, tmp_path / "full.parquet", executor=SerialExecutor(), prune_dead=True)
    rc = main(["codesign", "--hw", EYERISS, "--sweep", str(spec), "--keep", "2", "--nas-budget", "20", "--jobs", "1",
               "--keep-study", "1,2", "--format", "json", "--prune-dead"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert json.loads(out.out)["prune_dead"] is True


def test_constant_cell_under_prune_dead_reports_no_power_rather_than_zero(capsys):
    """A cell with no input→output path costs nothing under --prune-dead (constant-folded); its average and peak
    power are undefined (0 s), not 0 mW below the static power."""
    cell = "nb201:|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    assert main(["eval", cell, "--hw", "eyeriss", "--prune-dead", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["layers"] == [] and out["total"]["latency_s"] == 0
    hw = out["hardware"]
    assert hw["average_power_mw"] is None and hw["peak_power_mw"] is None and hw["static_power_mw"] > 100
    assert main(["eval", cell, "--hw", "eyeriss", "--prune-dead"]) == 0
    assert "power: average - (nothing runs), peak - (nothing runs)" in capsys.readouterr().out
