"""nas.hwcost: the vectorised per-arch totals equal whole-network evaluation of the same networks."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from accel.arch import load_arch
from mapper.network import NetworkEvaluator, evaluate_network
from nas import nb201
from nas.hwcost import cost_structure, nb201_hwcost, signatures

EYERISS = Path(__file__).resolve().parents[1] / "configs" / "eyeriss.yaml"
COLUMNS = ["index", "arch", "latency_cycles", "latency_s", "energy_pj", "edp", "macs"]


@pytest.fixture(scope="module")
def hw():
    return load_arch(EYERISS)


@pytest.fixture(scope="module")
def full(hw):
    """All 15,625 archs, mapped by a fresh evaluator (serial kernels, threads over shapes)."""
    return nb201_hwcost(hw)


@pytest.fixture(scope="module")
def reference_evaluator(hw):
    """The evaluator evaluate_network uses (parallel kernels), shared to map each shape once."""
    return NetworkEvaluator(hw)


def test_frame_layout(full, hw):
    assert list(full.columns) == COLUMNS and len(full) == 15625
    assert np.array_equal(full["index"].to_numpy(), np.arange(15625))
    assert list(full["arch"]) == list(nb201.arch_strings())
    a = full.attrs
    assert a["hw"] == hw.name and a["hw_digest"] == hw.digest() and a["dataset"] == "cifar10"
    assert a["unique_layer_shapes"] == 21 and a["objective"] == "edp" and a["batch"] == 1
    assert (full[["latency_cycles", "latency_s", "energy_pj", "edp"]] > 0).all().all()
    np.testing.assert_allclose(full["edp"], full["energy_pj"] * full["latency_s"])
    assert full["macs"].min() == 7_783_040 and full["macs"].max() == 220_119_680


def test_matches_evaluate_network(full, hw, reference_evaluator):
    rng = np.random.default_rng(0)
    idx = [6111, 3, nb201.arch_to_index("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"),
           nb201.arch_to_index(("nor_conv_3x3",) * 6), nb201.arch_to_index(("avg_pool_3x3",) * 6),
           *rng.choice(15625, 6, replace=False).tolist()]
    whole = evaluate_network(nb201.build_network(6111), hw)  # the public one-shot API, once
    row = full.loc[6111]
    assert row.latency_cycles == pytest.approx(whole.latency_cycles, rel=1e-12)
    assert row.energy_pj == pytest.approx(whole.energy_pj, rel=1e-12)
    for i in idx:
        r = reference_evaluator.network(nb201.build_network(i))
        row = full.loc[i]
        assert row.arch == nb201.arch_str(i)
        assert row.macs == r.macs
        assert row.latency_cycles == pytest.approx(r.latency_cycles, rel=1e-12)
        assert row.latency_s == pytest.approx(r.latency_s, rel=1e-12)
        assert row.energy_pj == pytest.approx(r.energy_pj, rel=1e-12)
        assert row.edp == pytest.approx(r.edp, rel=1e-12)


def test_subset_and_shared_evaluator(full, reference_evaluator):
    archs = [nb201.arch_str(17), 6111, nb201.index_to_arch(42), 17]
    sub = nb201_hwcost(archs=archs, evaluator=reference_evaluator, workers=3)
    assert list(sub["index"]) == [17, 6111, 42, 17]
    assert sub.attrs["newly_mapped_shapes"] == 0  # everything cached by the previous test / fixture
    for c in COLUMNS[2:]:
        np.testing.assert_allclose(sub[c].to_numpy(), full.loc[[17, 6111, 42, 17], c].to_numpy(), rtol=1e-12)


def test_counts_equal_built_networks():
    """The (arch × shape) count matrix equals the layer multiset of build_network, per signature."""
    for prune in (True, False):
        st = cost_structure("cifar10", 1, prune)
        col = {k: i for i, k in enumerate(st.keys)}
        first = {}
        sig = signatures(prune=prune)
        for i in range(15625):
            first.setdefault(tuple(sig[i]), i)
        idx = np.array(sorted(first.values()))
        counts = st.counts(idx)
        for i, row in zip(idx, counts):
            c = Counter(layer.shape_key() for layer in nb201.build_network(i, prune=prune).layers)
            want = np.zeros(len(st.keys), dtype=np.int64)
            for k, n in c.items():
                want[col[k]] = n
            np.testing.assert_array_equal(row, want)


def test_vectorised_signatures_match_cell_analysis():
    for prune in (True, False):
        sig = signatures(prune=prune)
        for i in range(0, 15625, 7):
            assert tuple(sig[i]) == nb201.cell_signature(i, prune)


def test_imagenet16_batch2(hw):
    ev = NetworkEvaluator(hw, parallel=False)
    sub = nb201_hwcost(archs=[6111, 0], evaluator=ev, dataset="ImageNet16-120", batch=2)
    assert sub.attrs["dataset"] == "imagenet16" and sub.attrs["batch"] == 2
    for i, row in zip([6111, 0], sub.itertuples()):
        r = ev.network(nb201.build_network(i, "imagenet16", batch=2))
        assert row.macs == r.macs
        assert row.latency_cycles == pytest.approx(r.latency_cycles, rel=1e-12)
        assert row.energy_pj == pytest.approx(r.energy_pj, rel=1e-12)


def test_threads_do_not_change_results(hw):
    archs = [6111, 0, 123]
    a = nb201_hwcost(archs=archs, evaluator=NetworkEvaluator(hw, parallel=False), dataset="imagenet16", workers=1)
    b = nb201_hwcost(archs=archs, evaluator=NetworkEvaluator(hw, parallel=False), dataset="imagenet16", workers=4)
    assert a.attrs["newly_mapped_shapes"] == b.attrs["newly_mapped_shapes"] == a.attrs["unique_layer_shapes"]
    for c in COLUMNS:
        assert list(a[c]) == list(b[c])


def test_problem_rejects_archs_missing_from_a_subset_table(full):
    from nas.search import NB201Problem

    p = NB201Problem("cifar10", full.iloc[:10])
    assert p(3)["latency_s"] == full.loc[3, "latency_s"] and p.hardware(3)["macs"] == full.loc[3, "macs"]
    with pytest.raises(KeyError):
        p(6111)


def test_needs_hw():
    with pytest.raises(ValueError):
        nb201_hwcost()
