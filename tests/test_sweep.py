"""Sweeps: spec validation with YAML paths, expansion, constraints, workloads, resume after SIGKILL, and
identical tables from the serial executor, a process pool and a Dask LocalCluster."""

import json
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from accel.app.sweep import SerialExecutor, parse_workloads, run_sweep
from accel.designspace import SweepError, SweepSpecError, load_sweep, parse_sweep
from accel.pareto import pareto_mask
from tests.conftest import ROOT

LAYER = "layer:conv K=16 C=16 P=8 Q=8 R=3 S=3"
LAYER2 = "layer:conv K=32 C=16 P=4 Q=4 R=1 S=1"


def spec(**over):
    base = {"version": 1, "name": "t", "base": str(ROOT / "configs" / "eyeriss.yaml"), "parameters": [
        {"path": ["pe_array.rows", "pe_array.cols"], "values": [[12, 14], [8, 8]]},
        {"path": "levels.GLB.size_bytes", "range": {"start": 27648, "stop": 110592, "factor": 2}},
    ]}
    base.update(over)
    return base


def errors_of(data) -> dict:
    with pytest.raises(SweepSpecError) as ei:
        parse_sweep(data, "s.yaml", ROOT)
    return dict(ei.value.errors)


# ---- spec validation --------------------------------------------------------------------------
def test_spec_errors_have_yaml_paths():
    e = errors_of(spec(paramters=[]))
    assert e == {"paramters": "unknown key"}
    e = errors_of(spec(parameters=[{"path": "levels.GLB2.size_bytes", "values": [1024]}]))
    assert "GLB2" in e["parameters[0].path"] and "DRAM, GLB, spad" in e["parameters[0].path"]
    e = errors_of(spec(parameters=[{"path": "pe_array.rowz", "values": [4]}]))
    assert "no field 'rowz'" in e["parameters[0].path"]
    e = errors_of(spec(parameters=[{"path": "clock_mhz", "range": {"start": 100, "stop": 400, "step": 50, "factor": 2}}]))
    assert "exactly one of step" in e["parameters[0].range"]
    e = errors_of(spec(parameters=[{"path": "clock_mhz", "uniform": {"low": 100, "high": 200}}]))
    assert any("uniform draws need mode: random" in m for m in e.values())
    e = errors_of(spec(parameters=[{"path": "pe_array.rows", "values": [4, -2, "x"]}]))
    assert set(e) == {"parameters[0].values[1]", "parameters[0].values[2]"}
    assert "pe_array.rows" in e["parameters[0].values[1]"]
    e = errors_of(spec(parameters=[{"path": ["pe_array.rows", "pe_array.cols"], "values": [[4, 4, 4]]}]))
    assert "values[0] has 3 entries for 2 paths" in next(iter(e.values()))
    e = errors_of(spec(version=2))
    assert "unsupported sweep schema version 2" in next(iter(e.values()))
    e = errors_of(spec(mode="random"))
    assert "needs samples" in next(iter(e.values()))
    e = errors_of(spec(base="no-such-config"))
    assert "no such file" in e["base"]


def test_area_budget_on_a_config_without_area_is_a_clear_error(tmp_path):
    cfg = yaml.safe_load((ROOT / "configs" / "eyeriss.yaml").read_text())
    del cfg["technology"]  # no technology block: nothing to derive the area from
    base = tmp_path / "eyeriss-no-area.yaml"
    base.write_text(yaml.safe_dump(cfg))
    e = errors_of(spec(base=str(base), constraints={"max_area_mm2": 10}))
    msg = e["constraints.max_area_mm2"]
    assert "has no area figures" in msg and "pe_array.area_mm2" in msg and "levels[1].area_mm2 (GLB)" in msg


def test_load_sweep_file_errors(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("version: 1\nname: [unclosed\n")
    with pytest.raises(SweepSpecError, match="not valid YAML"):
        load_sweep(p)
    with pytest.raises(SweepSpecError, match="no such file"):
        load_sweep(tmp_path / "missing.yaml")


# ---- expansion -------------------------------------------------------------------------------
def test_grid_expansion_ranges_and_zipped_paths():
    sw = parse_sweep(spec(parameters=[
        {"path": ["pe_array.rows", "pe_array.cols"], "values": [[12, 14], [8, 8]]},
        {"path": "levels.GLB.size_bytes", "range": {"start": 27648, "stop": 110592, "factor": 2}},
        {"path": ["levels.DRAM.read_bandwidth_bits", "levels.DRAM.write_bandwidth_bits"], "values": [32, 64]},
        {"path": "clock_mhz", "range": {"start": 100, "stop": 250, "step": 50}},
    ]), "s", ROOT)
    pts = sw.points()
    assert len(pts) == 2 * 3 * 2 * 4
    assert sorted({p.params["hw.levels.GLB.size_bytes"] for p in pts}) == [27648, 55296, 110592]
    assert sorted({p.params["hw.clock_mhz"] for p in pts}) == [100, 150, 200, 250]
    p = pts[-1]  # last parameter varies fastest
    assert (p.params["hw.pe_array.rows"], p.params["hw.pe_array.cols"]) == (8, 8)
    assert p.config["levels"][0]["read_bandwidth_bits"] == p.config["levels"][0]["write_bandwidth_bits"] == 64
    assert p.config["clock_mhz"] == 250 and p.config["pe_array"]["rows"] == 8
    assert len({q.hw_digest for q in pts}) == len(pts) and not any(q.dropped for q in pts)


def test_random_mode_is_seeded_and_drops_duplicates():
    data = spec(mode="random", samples=40, seed=3, parameters=[
        {"path": "pe_array.rows", "values": [8, 12]},
        {"path": "clock_mhz", "values": [100, 200]},
    ])
    a = parse_sweep(data, "s", ROOT).points()
    b = parse_sweep(data, "s", ROOT).points()
    assert [p.params for p in a] == [p.params for p in b]
    kept = [p for p in a if not p.dropped]
    assert len(kept) == 4  # only 4 distinct configs exist
    for p in a:
        if p.dropped:
            first = int(p.reason.split()[-1])
            assert p.reason.startswith("duplicate of point") and a[first].params == p.params and first < p.point
    c = parse_sweep({**data, "seed": 4}, "s", ROOT).points()
    assert [p.params for p in c] != [p.params for p in a]
    u = parse_sweep(spec(mode="random", samples=5, parameters=[
        {"path": "clock_mhz", "uniform": {"low": 100, "high": 400, "log": True}}]), "s", ROOT).points()
    assert all(100 <= p.params["hw.clock_mhz"] <= 400 for p in u)


def test_invalid_combinations_are_dropped_with_the_config_error():
    # 3-byte input spad: fine for 16-bit inputs alone, and 32-bit inputs alone fit the 24-byte spad,
    # but together the spad cannot hold one input
    sw = parse_sweep(spec(parameters=[
        {"path": "levels.spad.partitions_bytes.inputs", "values": [24, 3]},
        {"path": "bitwidths.inputs", "values": [16, 32]},
    ]), "s", ROOT)
    pts = sw.points()
    bad = [p for p in pts if p.dropped]
    assert len(bad) == 1 and bad[0].params == {"hw.levels.spad.partitions_bytes.inputs": 3, "hw.bitwidths.inputs": 32}
    assert bad[0].reason.startswith("invalid config: levels[2].partitions_bytes.inputs: 3")


def _eyeriss_with_area(tmp_path) -> Path:
    cfg = yaml.safe_load((ROOT / "configs" / "eyeriss.yaml").read_text())
    cfg["pe_array"]["area_mm2"] = 0.01
    cfg["levels"][1]["area_mm2"] = 1.0
    cfg["levels"][2]["area_mm2"] = 0.002
    del cfg["technology"]  # areas as stated only (no extras, no core overhead)
    p = tmp_path / "eyeriss-area.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


def test_area_budget_scales_with_capacity(tmp_path):
    base = _eyeriss_with_area(tmp_path)
    sw = parse_sweep(spec(base=str(base), constraints={"max_area_mm2": 4.05}, parameters=[
        {"path": "levels.GLB.size_bytes", "values": [110592, 221184]},
        {"path": ["pe_array.rows", "pe_array.cols"], "values": [[12, 14], [16, 16]]}]), "s", ROOT)
    pts = {(p.params["hw.levels.GLB.size_bytes"], p.params["hw.pe_array.rows"]): p for p in sw.points()}
    # PEs x (0.01 + 0.002 spad) + GLB 1.0 mm2 per 108 KiB: 168 PEs -> 2.016, 256 PEs -> 3.072
    assert pts[(110592, 12)].area_mm2 == pytest.approx(3.016)
    assert pts[(221184, 12)].area_mm2 == pytest.approx(4.016)
    assert pts[(110592, 16)].area_mm2 == pytest.approx(4.072)
    assert pts[(221184, 16)].area_mm2 == pytest.approx(5.072)
    assert not pts[(110592, 12)].dropped and not pts[(221184, 12)].dropped
    assert pts[(110592, 16)].reason == "area 4.072 mm2 exceeds the budget of 4.05 mm2"
    assert pts[(221184, 16)].config is None and pts[(221184, 16)].reason.startswith("area 5.072 mm2")


def test_shipped_demo_spec_has_at_least_200_points():
    sw = load_sweep(ROOT / "configs" / "sweeps" / "demo.yaml")
    pts = sw.points()
    assert len(pts) >= 200 and sw.base.name == "eyeriss"
    assert len({p.hw_digest for p in pts if not p.dropped}) == sum(not p.dropped for p in pts)


# ---- workloads ---------------------------------------------------------------------------------
def test_workload_strings():
    from nas import nb201

    ws = parse_workloads(["nb201-sample:5:7", "nb201:0", "resnet18", LAYER, "nb201-sample:5:7"])
    assert len(ws) == 5 + 1 + 1 + 1 - (1 if any(w.ref == 0 for w in ws[:5]) else 0)
    assert [w.label for w in parse_workloads(["nb201-sample:5:7"])] == [w.label for w in ws[:5]]
    assert ws[5].label == f"nb201:{nb201.arch_str(0)}" and ws[5].ref == 0
    assert {w.kind for w in ws} == {"nb201", "zoo", "layer"}
    for bad, msg in [("nb201-sample:0:1", "1 <= N"), ("nb201:|bogus~0|", "nb201"), ("resnet5", "unknown workload"),
                     ("missing.onnx", "no such ONNX file"), ("layer:conv K=0", "layer"), ("nb201-sample:x:1", "integers")]:
        with pytest.raises(SweepError, match=msg):
            parse_workloads([bad])


# ---- evaluation ----------------------------------------------------------------------------------
SMALL = {"version": 1, "name": "small", "base": str(ROOT / "configs" / "eyeriss.yaml"), "parameters": [
    {"path": ["pe_array.rows", "pe_array.cols"], "values": [[12, 14], [8, 8]]},
    {"path": "levels.GLB.size_bytes", "values": [27648, 110592]},
    {"path": "levels.spad.partitions_bytes.inputs", "values": [24, 3]},
    {"path": "bitwidths.inputs", "values": [16, 32]},
]}  # 16 points, 4 of them invalid (3-byte spad with 32-bit inputs)


@pytest.fixture(scope="module")
def small_spec(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("spec") / "small.yaml"
    p.write_text(yaml.safe_dump(SMALL))
    return p


@pytest.fixture(scope="module")
def reference(small_spec, tmp_path_factory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("ref") / "ref.parquet"
    seen = []
    df = run_sweep(small_spec, [LAYER, LAYER2], out, executor=SerialExecutor(), batch_size=3,
                   progress=lambda d, t: seen.append((d, t)))
    assert seen[0] == (0, 16) and seen[-1] == (16, 16) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert not out.with_name(out.name + ".parts").exists()
    return df


def test_results_table_contract(reference):
    df = reference
    assert len(df) == 16 * 2 and not df.duplicated(["point", "workload"]).any()
    assert list(df["point"]) == sorted(df["point"])
    for c in ("point", "workload", "status", "reason", "hw_digest", "hw.pe_array.rows", "hw.levels.GLB.size_bytes",
              "macs", "params", "latency_cycles", "latency_s", "energy_pj", "edp_pj_s", "power_mw", "area_mm2"):
        assert c in df.columns
    ok = df[df.status == "ok"]
    # a 3-byte input spad holds one 16-bit input: the row-stationary 3x3 conv (S must be iterated at the
    # spad) has no valid mapping there, the 1x1 conv has one
    nvm = df[df.reason.str.startswith("no valid mapping")]
    assert len(nvm) == 4 and (nvm.workload == LAYER).all() and (nvm["hw.levels.spad.partitions_bytes.inputs"] == 3).all()
    assert len(ok) == 12 * 2 - 4
    assert np.allclose(ok.edp_pj_s, ok.energy_pj * ok.latency_s)
    assert np.allclose(ok.power_mw, ok.energy_pj / ok.latency_s * 1e-9)
    assert (ok[ok.workload == LAYER].macs == 16 * 16 * 64 * 9).all() and (ok[ok.workload == LAYER].params == 16 * 16 * 9).all()
    bad = df[df.reason.str.startswith("invalid config")]
    assert len(bad) == 8 and (bad.status == "dropped").all() and bad.latency_s.isna().all()
    a = df.attrs
    assert a["accelsim_version"] and a["spec_hash"] and a["seed"] == 0 and a["workloads"] == [LAYER, LAYER2]
    assert a["dropped_points"] == 4 and a["n_points"] == 16


def test_on_computed_runs_once_between_the_last_batch_and_the_table(small_spec, reference, tmp_path):
    """The hook the CLI uses to shut its process pool down: called once, after every batch is computed (all
    progress reported) and before the table exists; the run still writes the same table after it; a rerun that
    returns the finished table does not call it."""
    out = tmp_path / "hook.parquet"
    seen, calls = [], []

    def hook():
        calls.append((seen[-1], out.exists()))

    df = run_sweep(small_spec, [LAYER, LAYER2], out, executor=SerialExecutor(), batch_size=3,
                   progress=lambda d, t: seen.append((d, t)), on_computed=hook)
    assert calls == [((16, 16), False)]
    pd.testing.assert_frame_equal(df, reference)
    run_sweep(small_spec, [LAYER, LAYER2], out, executor=SerialExecutor(), batch_size=3, on_computed=hook)
    assert len(calls) == 1


def test_rerun_of_a_finished_sweep_is_a_no_op(small_spec, reference, tmp_path):
    out = tmp_path / "r.parquet"
    run_sweep(small_spec, [LAYER, LAYER2], out, executor=SerialExecutor(), batch_size=3)
    mtime = out.stat().st_mtime_ns
    df = run_sweep(small_spec, [LAYER, LAYER2], out, executor=SerialExecutor(), batch_size=3)
    assert out.stat().st_mtime_ns == mtime
    pd.testing.assert_frame_equal(df, reference)


def test_per_layer_rows_sum_to_the_totals(small_spec):
    """The NB201 fast path (unique shapes x counts) and the per-layer network path agree."""
    from accel.app.sweep import _run_batch, _Task

    pts = tuple(load_sweep(small_spec).points()[:1])
    wl = tuple(parse_workloads(["nb201:|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"]))
    tot = _run_batch(_Task(0, pts, wl, "edp", 0, 1, False, None, "fast"))
    per = _run_batch(_Task(0, pts, wl, "edp", 0, 1, True, None, "fast"))
    assert {"layer", "op", "shape", "energy_GLB_inputs_pj"} <= set(per.columns)
    s = per.groupby("point")[["latency_cycles", "energy_pj", "macs", "params"]].sum()
    t = tot.set_index("point")
    assert np.allclose(s.latency_cycles, t.latency_cycles) and np.allclose(s.energy_pj, t.energy_pj)
    assert (s.macs == t.macs).all() and (s.params == t.params).all()


def test_power_budget_drops_points_with_the_worst_workload(small_spec, reference, tmp_path):
    data = {**SMALL, "constraints": {"max_power_mw": 1.0}}
    data["parameters"] = SMALL["parameters"][:2]
    p = tmp_path / "pw.yaml"
    p.write_text(yaml.safe_dump(data))
    df = run_sweep(p, [LAYER, LAYER2], tmp_path / "pw.parquet", executor=SerialExecutor())
    ok_ref = reference[(reference.status == "ok") & (reference["hw.bitwidths.inputs"] == 16)
                       & (reference["hw.levels.spad.partitions_bytes.inputs"] == 24)]
    assert (df.status == "dropped").all() and df.reason.str.contains("exceeds the budget of 1 mW").all()
    # metrics are kept; the reason names the workload with the highest power
    worst = df.loc[df.groupby("point")["power_mw"].idxmax(), ["point", "workload"]]
    for _, r in worst.iterrows():
        assert f"on {r.workload} exceeds" in df[df.point == r.point].reason.iloc[0]
    assert np.allclose(np.sort(df.latency_s.to_numpy()), np.sort(ok_ref.latency_s.to_numpy()))


def test_parts_of_another_sweep_are_refused(small_spec, tmp_path):
    out = tmp_path / "x.parquet"
    parts = out.with_name(out.name + ".parts")
    parts.mkdir()
    (parts / "manifest.json").write_text(json.dumps({"run_id": "somethingelse"}))
    with pytest.raises(SweepError, match="partial results of a different sweep"):
        run_sweep(small_spec, [LAYER], out, executor=SerialExecutor())


def test_executors_give_identical_tables(small_spec, reference, tmp_path):
    with ProcessPoolExecutor(2) as ex:
        pool = run_sweep(small_spec, [LAYER, LAYER2], tmp_path / "pool.parquet", executor=ex, batch_size=3)
    pd.testing.assert_frame_equal(pool, reference)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "pool.parquet"), reference)
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
            distributed.Client(cl) as client:
        dask_df = run_sweep(small_spec, [LAYER, LAYER2], tmp_path / "dask.parquet", executor=client.get_executor(),
                            batch_size=5)
    pd.testing.assert_frame_equal(dask_df, reference)


@pytest.mark.parametrize("kill_after_parts", [1, 4])
def test_resume_after_sigkill(small_spec, reference, tmp_path, kill_after_parts):
    out = tmp_path / "killed.parquet"
    parts = out.with_name(out.name + ".parts")
    cmd = [sys.executable, "-m", "accel", "sweep", str(small_spec), "--workload", LAYER, "--workload", LAYER2,
           "-o", str(out), "--jobs", "1", "--batch-size", "3"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(list(parts.glob("part-*.parquet"))) < kill_after_parts and time.monotonic() < deadline \
            and proc.poll() is None:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = sorted(parts.glob("part-*.parquet"))
    assert proc.returncode == -signal.SIGKILL
    assert kill_after_parts <= len(done) < 6 and not out.exists(), "the sweep should have been killed mid-run"
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"{sum(min(3, 16 - 3 * b) for b in range(len(done)))}/16 points" in r.stderr.splitlines()[0]
    df = pd.read_parquet(out)
    assert not df.duplicated(["point", "workload"]).any()
    pd.testing.assert_frame_equal(df, reference)
    assert not parts.exists()


def test_pareto_mask_matches_brute_force():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 12, 300).astype(float)
    y = rng.integers(0, 12, 300).astype(float)
    x[5] = np.nan
    m = pareto_mask(x, y)
    for i in range(len(x)):
        if not np.isfinite(x[i]):
            assert not m[i]
            continue
        dominated = np.any((x <= x[i]) & (y <= y[i]) & ((x < x[i]) | (y < y[i])))
        assert m[i] == (not dominated)
    mx = pareto_mask(x, y, maximize_y=True)
    assert mx[np.nanargmin(np.where(y == y.max(), x, np.inf))]
