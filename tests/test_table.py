"""``accelsim table``: the cost of every architecture of a space (or of a sample) as one tidy table."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from accel.app.cli import main
from accel.app.table import COLUMNS, cost_table
from accel.arch import load_arch
from mapper.network import NetworkEvaluator
from nas import nb201
from nas.registry import SpecError, get_space, resolve_network, sample_architectures
from tests.conftest import ROOT

EYERISS = str(ROOT / "configs" / "eyeriss.yaml")


@pytest.fixture(scope="module")
def eyeriss():
    return load_arch(EYERISS)


def test_nb201_sample_equals_eval_of_each_network(eyeriss):
    calls = []
    df = cost_table("nb201", eyeriss, sample=6, seed=3, effort="fast", progress=lambda d, t: calls.append((d, t)))
    assert list(df.columns) == list(COLUMNS) and len(df) == 6
    want = sorted(nb201.arch_to_index(a) for a in sample_architectures("nb201", 6, 3))
    assert df["index"].tolist() == want  # the one sampler, rows in official index order
    assert calls and calls[-1][0] == calls[-1][1] == df.attrs["unique_layer_shapes"]
    ev = NetworkEvaluator(eyeriss, effort="fast")
    for r in df.itertuples():
        net = resolve_network(f"nb201:{r.arch}", 1)
        res = ev.network(net)
        assert r.macs == net.macs and r.latency_s == pytest.approx(res.latency_s, rel=1e-9)
        assert r.energy_pj == pytest.approx(res.energy_pj, rel=1e-9)
        assert r.latency_cycles == pytest.approx(res.latency_cycles, rel=1e-9)
        assert r.edp_pj_s == pytest.approx(res.energy_pj * res.latency_s, rel=1e-9)
        assert r.params == sum(la.operand_sizes()[0] for la in net.layers if la.op in ("conv", "fc"))
    a = df.attrs
    assert (a["hw"], a["hw_digest"], a["space"], a["batch"], a["prune_dead"], a["sample"], a["seed"]) == (
        "eyeriss", eyeriss.digest(), "nb201", 1, False, 6, 3)
    assert a["accelsim_version"]


def test_other_space_sample_and_infinite_space_needs_sample(eyeriss):
    with ThreadPoolExecutor(2) as pool:
        df = cost_table("fbnet", eyeriss, sample=3, seed=0, effort="fast", executor=pool)
    assert len(df) == 3 and df["arch"].is_unique and (df["latency_s"] > 0).all() and (df["params"] > 0).all()
    sp = get_space("fbnet")
    first = resolve_network(f"fbnet:{df['arch'].iloc[0]}", 1)  # arch is a valid SPACE:ENCODING encoding
    assert first.macs == df["macs"].iloc[0]
    assert [sp.encode(a) for a in sample_architectures(sp, 3, 0)] == df["arch"].tolist()
    for space in ("darts", "fbnet", "mbconv"):
        with pytest.raises(SpecError, match="too many to enumerate"):
            cost_table(space, eyeriss)


def test_nb201_full_table_is_fast_and_prune_changes_the_right_cells(eyeriss):
    t0 = time.perf_counter()
    off = cost_table("nb201", eyeriss, effort="fast")
    elapsed = time.perf_counter() - t0
    on = cost_table("nb201", eyeriss, effort="fast", prune_dead=True)
    assert len(off) == len(on) == nb201.N_ARCHS and off["index"].tolist() == list(range(nb201.N_ARCHS))
    assert elapsed < 20, f"all 15,625 cells took {elapsed:.1f} s"
    changed = ~np.isclose(off["latency_s"], on["latency_s"], rtol=1e-12)
    # the 5,909 cells whose signature pruning changes, and the 12 more whose output is a constant although no
    # costed cell layer is dead (none / skip edges only): their whole network goes (tests/test_prune_dead.py)
    assert int(changed.sum()) == 5921 and (off["latency_s"] >= on["latency_s"] * (1 - 1e-12)).all()
    assert on.attrs["prune_dead"] is True and off.attrs["prune_dead"] is False
    assert not off.isna().any().any()


def test_cli_formats_metadata_and_force(tmp_path, capsys):
    out = tmp_path / "t.parquet"
    argv = ["table", "nb201", "--hw", EYERISS, "--sample", "4", "--seed", "1", "--effort", "fast", "--quiet",
            "--prune-dead"]
    assert main([*argv, "-o", str(out)]) == 0
    df = pd.read_parquet(out)
    assert len(df) == 4 and df.attrs["prune_dead"] is True and df.attrs["seed"] == 1
    assert b"PANDAS_ATTRS" in pq.read_schema(out).metadata  # metadata in the Parquet file itself
    assert main([*argv, "-o", str(out)]) == 1 and "exists" in capsys.readouterr().err  # no overwrite
    assert main([*argv, "-o", str(out), "--force"]) == 0
    csv = tmp_path / "t.csv"
    assert main([*argv, "-o", str(csv)]) == 0
    c = pd.read_csv(csv)
    assert list(c.columns) == list(COLUMNS) and c["arch"].tolist() == df["arch"].tolist()
    capsys.readouterr()
    assert main(["table", "darts", "--hw", EYERISS, "-o", str(tmp_path / "d.parquet")]) == 1
    assert "--sample" in capsys.readouterr().err
    assert main(["table", "nb201", "--hw", EYERISS, "--seed", "2", "-o", str(tmp_path / "e.parquet")]) == 1
    assert "--seed chooses the sample" in capsys.readouterr().err
    assert main(["table", "nosuchspace", "--hw", EYERISS, "--sample", "2", "-o", str(tmp_path / "f.parquet")]) == 1
    assert "unknown search space" in capsys.readouterr().err
