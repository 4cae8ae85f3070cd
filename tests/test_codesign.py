"""Semi-decoupled co-design: recovers the joint optimum where the premise holds (rank-preserving
accelerators), misses it with the exact gap where rankings flip, and the NB201 driver's contract."""

import itertools
import json

import numpy as np
import pytest
import yaml

from accel.app.codesign import (Constraint, best_choice, gap_pct, param_distance, select_pareto, select_topk,
                          semi_decoupled)
from tests.conftest import ROOT


def brute_force(values, latency_s, accuracy, c: Constraint, maximize=False):
    best = None
    for h, a in itertools.product(range(values.shape[0]), range(values.shape[1])):
        if c.min_accuracy is not None and accuracy[a] < c.min_accuracy:
            continue
        if c.max_latency_s is not None and latency_s[h, a] > c.max_latency_s:
            continue
        key = (-values[h, a] if maximize else values[h, a], latency_s[h, a], -accuracy[a], h, a)
        if best is None or key < best[0]:
            best = (key, h, a)
    return None if best is None else (best[1], best[2], values[best[1], best[2]])


def synthetic(seed=0, n_arch=60, n_hw=7):
    """Costs that keep the reference's ranking on every accelerator: value = ref value x s_h (s_h > 0),
    latency = ref latency x t_h."""
    rng = np.random.default_rng(seed)
    acc = rng.uniform(60, 95, n_arch).round(2)
    ref_v = rng.uniform(1, 100, n_arch)
    ref_l = ref_v ** 0.5 * 1e-3
    s = rng.uniform(0.3, 3, n_hw)
    t = rng.uniform(0.5, 2, n_hw)
    return acc, ref_v, ref_l, ref_v[None, :] * s[:, None], ref_l[None, :] * t[:, None]


CONSTRAINTS = [Constraint(), Constraint(min_accuracy=80), Constraint(min_accuracy=90),
               Constraint(min_accuracy=85, max_latency_s=6e-3), Constraint(min_accuracy=99)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rank_preserving_accelerators_keep_1_recovers_the_joint_optimum(seed):
    acc, ref_v, ref_l, v, lat = synthetic(seed)
    res = semi_decoupled(ref_v, ref_l, v, lat, acc, CONSTRAINTS[:3], keep=1)
    for r in res:
        h, a, val = brute_force(v, lat, acc, r["constraint"])
        assert (r["joint"].hw, r["joint"].arch, r["joint"].objective) == (h, a, val)
        assert (r["semi"].hw, r["semi"].arch) == (h, a) and r["gap_pct"] == 0.0
    # the infeasible constraint: no pair on either side, no gap
    none = semi_decoupled(ref_v, ref_l, v, lat, acc, [CONSTRAINTS[4]], keep=3)[0]
    assert none["semi"] is None and none["joint"] is None and none["gap_pct"] is None


def test_latency_bound_needs_a_larger_keep_but_then_recovers():
    acc, ref_v, ref_l, v, lat = synthetic(3)
    c = CONSTRAINTS[3]
    joint = brute_force(v, lat, acc, c)
    res = semi_decoupled(ref_v, ref_l, v, lat, acc, [c], keep=len(acc))[0]
    assert (res["semi"].hw, res["semi"].arch) == joint[:2] and res["gap_pct"] == 0.0
    for k in (1, 2, 5):
        r = semi_decoupled(ref_v, ref_l, v, lat, acc, [c], keep=k)[0]
        assert r["gap_pct"] is None or r["gap_pct"] >= 0


def test_flipped_ranking_is_missed_and_the_gap_is_exact():
    # arch 0 is best on the reference, arch 1 wins by far on accelerator 1
    acc = np.array([91.0, 92.0, 70.0])
    ref_v, ref_l = np.array([1.0, 2.0, 0.5]), np.array([1e-3, 2e-3, 5e-4])
    v = np.array([[8.0, 9.0, 4.0], [10.0, 5.0, 3.0]])
    lat = np.full_like(v, 1e-3)
    c = Constraint(min_accuracy=90)
    r1 = semi_decoupled(ref_v, ref_l, v, lat, acc, [c], keep=1)[0]
    assert list(r1["kept"]) == [0]
    assert (r1["semi"].arch, r1["semi"].hw, r1["semi"].objective) == (0, 0, 8.0)
    assert (r1["joint"].arch, r1["joint"].hw, r1["joint"].objective) == (1, 1, 5.0)
    assert r1["gap_pct"] == pytest.approx(60.0)
    r2 = semi_decoupled(ref_v, ref_l, v, lat, acc, [c], keep=2)[0]
    assert r2["gap_pct"] == 0.0 and (r2["semi"].arch, r2["semi"].hw) == (1, 1)


def test_accuracy_objective_and_pareto_selection():
    acc = np.array([90.0, 93.0, 95.0, 94.0])
    ref_l = np.array([1e-3, 2e-3, 4e-3, 5e-3])  # arch 3 is dominated (slower and less accurate than 2)
    lat = np.array([[1e-3, 2e-3, 4e-3, 5e-3], [0.5e-3, 1e-3, 3.5e-3, 1.5e-3]])
    c = Constraint(max_latency_s=3.6e-3)
    assert list(select_pareto(ref_l, acc, Constraint(), keep=10)) == [0, 1, 2]
    assert list(select_pareto(ref_l, acc, Constraint(min_accuracy=92), keep=10)) == [1, 2]
    res = semi_decoupled(acc.astype(float), ref_l, np.tile(acc, (2, 1)), lat, acc, [c], keep=3, maximize=True,
                         keep_mode="pareto", ref_cost=ref_l)[0]
    # arch 2 (95 %) only fits the bound on accelerator 1; the Pareto set keeps it although it is too slow
    # on the reference
    assert (res["joint"].arch, res["joint"].hw, res["joint"].objective) == (2, 1, 95.0)
    assert (res["semi"].arch, res["semi"].hw) == (2, 1) and res["gap_pct"] == 0.0
    assert gap_pct(res["semi"], res["joint"], True) == 0.0


def test_topk_ranks_latency_softly_and_keeps_one_per_group():
    acc = np.array([91.0, 91.0, 95.0, 80.0, 92.0])
    v = np.array([1.0, 1.0, 3.0, 0.1, 2.0])
    lat = np.array([2e-3, 2e-3, 1e-3, 1e-3, 4e-3])
    c = Constraint(min_accuracy=90, max_latency_s=1.5e-3)
    # 3 fails accuracy (dropped); 2 meets the bound (first); then by excess latency: 0/1 (2 ms), 4 (4 ms)
    assert list(select_topk(v, lat, acc, c, False, keep=10)) == [2, 0, 1, 4]
    assert list(select_topk(v, lat, acc, c, False, keep=10, groups=np.array([0, 0, 1, 2, 3]))) == [2, 0, 4]
    assert list(select_topk(v, lat, acc, Constraint(min_accuracy=90), False, keep=2)) == [0, 1]


def test_best_choice_matches_brute_force_with_ties():
    rng = np.random.default_rng(5)
    v = rng.integers(1, 4, (4, 9)).astype(float)
    lat = rng.integers(1, 3, (4, 9)) * 1e-3
    acc = rng.uniform(80, 95, 9)
    for c in (Constraint(), Constraint(85), Constraint(85, 1.5e-3)):
        for maximize in (False, True):
            got = best_choice(v, lat, acc, c, maximize)
            want = brute_force(v, lat, acc, c, maximize)
            assert (got is None and want is None) or (got.hw, got.arch, got.objective) == want


def test_param_distance():
    ref = {"hw.a": 16, "hw.b": 100.0, "hw.c": "row_stationary"}
    assert param_distance(ref, ref) == 0
    assert param_distance({"hw.a": 32, "hw.b": 25.0, "hw.c": "weight_stationary"}, ref) == pytest.approx((1 + 2 + 1) / 3)


def test_nb201_driver_contract_and_joint_is_brute_force(tmp_path, capsys):
    from accel.arch import parse_arch
    from accel.app.cli import main
    from mapper.network import NetworkEvaluator
    from accel.designspace import load_sweep
    from nas import nb201
    from nas.hwcost import nb201_hwcost

    spec = {"version": 1, "name": "two", "base": str(ROOT / "configs" / "eyeriss.yaml"),
            "parameters": [{"path": ["bitwidths.weights", "bitwidths.inputs"], "values": [[16, 16], [8, 8]]}]}
    p = tmp_path / "two.yaml"
    p.write_text(yaml.safe_dump(spec))
    assert main(["codesign", "--space", "nb201", "--hw", str(ROOT / "configs" / "eyeriss.yaml"), "--sweep", str(p),
                 "--keep", "3", "--objective", "edp", "--min-accuracy", "91", "--max-latency-ms", "100",
                 "--nas-budget", "150", "--format", "json", "--jobs", "1", "--keep-study", "1,3,10"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"results", "evaluations", "prune_dead"} and out["prune_dead"] is False
    (r,) = out["results"]
    assert set(r) == {"constraint", "semi", "joint", "gap_pct"}
    assert r["constraint"] == {"min_accuracy_pct": 91.0, "max_latency_ms": 100.0}
    for side in ("semi", "joint"):
        assert set(r[side]) == {"arch", "hw", "objective"}
    assert r["gap_pct"] >= 0 and r["semi"]["objective"] >= r["joint"]["objective"]
    assert r["gap_pct"] == pytest.approx(100 * (r["semi"]["objective"] - r["joint"]["objective"]) / r["joint"]["objective"])
    assert out["evaluations"]["joint"] == 2 * nb201.N_ARCHS
    assert out["evaluations"]["semi"] <= 150 + 3 * 2
    # the joint optimum by brute force over the two accelerators' full tables
    acc = nb201.accuracies()
    best = None
    for pt in load_sweep(p).points():
        arch = parse_arch(pt.config)  # same mapper budget as the driver (the spec's search_effort)
        t = nb201_hwcost(arch, evaluator=NetworkEvaluator(arch, effort=load_sweep(p).spec.search_effort))
        ok = (acc >= 91) & (t.latency_s.to_numpy() <= 0.1)
        i = int(np.argmin(np.where(ok, t.edp.to_numpy(), np.inf)))
        if best is None or t.edp.iloc[i] < best[0]:
            best = (t.edp.iloc[i], pt.point, nb201.arch_str(i))
    assert r["joint"]["objective"] == pytest.approx(best[0], rel=1e-12)
    assert r["joint"]["hw"].startswith(f"two#{best[1]} ")
    assert acc[nb201.arch_to_index(r["joint"]["arch"])] >= 91
    assert acc[nb201.arch_to_index(r["semi"]["arch"])] >= 91
