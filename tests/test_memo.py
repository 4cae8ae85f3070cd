"""Group searches (mapper.search.search_mapping_group) of accelerators that differ only in their clock, static power
and bandwidths: a genome costed once by the kernel is priced for every variant from the memo, bit for bit as the
kernel prices it there (mapper.genome.eval_genomes_memo_group), and each variant gets exactly the mapping, cost and
evaluation count its own search_mapping returns."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mapper.genome as genome
from accel.arch import load_arch, static_power_mw
from accel.cost import compile_layer
from accel.workload import parse_layer_spec
from mapper.genome import (OBJECTIVES, eval_genomes, eval_genomes_memo_group, mapspace_arrays, new_memo, price_set,
                           random_genomes, serial_work)
from mapper.mapspace import NoValidMapping, build_mapspace
from mapper.search import BUDGETS, SearchBudget, search_mapping, search_mapping_group

LAYER = parse_layer_spec("conv K=32 C=16 P=14 Q=14 R=3 S=3")


def _variant(arch, mhz, glb_bits, dram_bits, static_mw=None):
    """``arch`` at another clock, GLB read bandwidth, DRAM bandwidths (bits/cycle) and (optionally) static power."""
    levels = [lv.model_dump(mode="python") for lv in arch.config.levels]
    levels[0]["read_bandwidth_bits"] = levels[0]["write_bandwidth_bits"] = dram_bits
    levels[1]["read_bandwidth_bits"] = glb_bits
    extra = {} if static_mw is None else {"static_power_mw": static_mw}
    return arch.with_config(clock_mhz=mhz, levels=levels, **extra)


def _serial_onload(arch):
    """Every level's transfers serialised with compute (conventions.transfer_overlap: serial_onload)."""
    return arch.with_config(conventions={**arch.config.conventions.model_dump(mode="python"),
                                         "transfer_overlap": "serial_onload"})


def _base(name):
    return _serial_onload(load_arch("eyeriss")) if name == "eyeriss-serial-onload" else load_arch(name)


def _variants(base):
    dram = base.config.levels[0].read_bandwidth_bits
    glb = base.config.levels[1].read_bandwidth_bits
    return [_variant(base, mhz, g, d) for mhz, g, d in ((100.0, glb, dram), (200.0, glb, dram), (350.0, 32, dram),
                                                        (100.0, glb, 16), (100.0, 4096, 4096))]


@pytest.mark.parametrize("objective", sorted(OBJECTIVES))
@pytest.mark.parametrize("base_name", ["eyeriss", "eyeriss-serial-onload", "simba-like"])
def test_group_kernel_prices_every_variant_bit_for_bit(objective, base_name):
    base = _base(base_name)
    if base_name.startswith("eyeriss"):  # the clock moves every mapping's energy: the memo must re-price it
        assert static_power_mw(base) > 0
    archs = _variants(base)
    rng = np.random.default_rng(7)
    ms = build_mapspace(LAYER, base)
    G = random_genomes(ms, rng.integers(0, len(ms.spatial_x), 3000), rng)
    G = np.concatenate([G, G[:500]])  # repeats inside one batch
    layer = compile_layer(LAYER)
    enc = mapspace_arrays(ms)
    work = serial_work(base.arrays.n_levels)
    refs = [eval_genomes(G, layer, a.arrays, enc, OBJECTIVES[objective], work) for a in archs]
    memo = new_memo(ms.genome_len, slots=64)  # grows (rehash) along the way
    prices = price_set([a.arrays for a in archs])
    for cols in ([0, 1, 2, 3, 4], [3, 1], [4]):  # first costed, then priced from the memo, in any column order
        got, reason, memo = eval_genomes_memo_group(G, layer, archs[2].arrays, enc, OBJECTIVES[objective], work, memo,
                                                    prices, np.array(cols))
        for j, c in enumerate(cols):
            assert np.array_equal(got[:, j], refs[c][0]) and np.array_equal(reason, refs[c][1])  # exact, inf if invalid
    assert np.isinf(refs[0][0]).any() and np.isfinite(refs[0][0]).sum() > 100
    assert memo.keys.shape[0] > 64 and int(memo.used[0]) == len(np.unique(G, axis=0))


def test_a_full_memo_still_prices_exactly(monkeypatch):
    """Beyond MEMO_MAX_SLOTS a memo takes no new genomes: they are costed and priced without being stored."""
    monkeypatch.setattr(genome, "MEMO_MAX_SLOTS", 256)
    base = load_arch("eyeriss")
    archs = _variants(base)
    ms = build_mapspace(LAYER, base)
    rng = np.random.default_rng(1)
    G = random_genomes(ms, rng.integers(0, len(ms.spatial_x), 2000), rng)
    layer, enc, work = compile_layer(LAYER), mapspace_arrays(ms), serial_work(base.arrays.n_levels)
    got, _, memo = eval_genomes_memo_group(G, layer, base.arrays, enc, OBJECTIVES["edp"], work,
                                           new_memo(ms.genome_len, slots=64), price_set([a.arrays for a in archs]),
                                           np.arange(len(archs)))
    assert memo.keys.shape[0] == 256 and int(memo.used[0]) == 256 * 3 // 4
    for c, a in enumerate(archs):
        assert np.array_equal(got[:, c], eval_genomes(G, layer, a.arrays, enc, OBJECTIVES["edp"], work)[0])


def _same(got, ref, arch):
    assert repr(got.cost) == repr(ref.cost)
    assert got.mapping.to_dict(arch) == ref.mapping.to_dict(arch)
    assert (got.evaluations, got.valid_evaluations, got.exhaustive, got.mapspace_size) == \
        (ref.evaluations, ref.valid_evaluations, ref.exhaustive, ref.mapspace_size)


@pytest.mark.parametrize("budget", ["fast", "thorough", "small-exhaustive"])
def test_group_search_equals_each_variants_own_search(budget):
    """fast: sampling + descents; thorough: nested (fast's result is every variant's first start); a mapspace under
    the exhaustive limit: enumeration."""
    b = BUDGETS.get(budget) or SearchBudget(samples=300, rounds=4, restarts=1, exhaustive_limit=10**9)
    layer = LAYER if budget != "small-exhaustive" else parse_layer_spec("conv K=8 C=4 P=4 Q=4 R=3 S=3")
    archs = _variants(load_arch("eyeriss"))
    got = search_mapping_group(layer, archs, objective="edp", seed=3, budget=b)
    for a, g in zip(archs, got):
        _same(g, search_mapping(layer, a, objective="edp", seed=3, budget=b), a)
    assert got[0].exhaustive == (budget == "small-exhaustive")
    # the variants' objectives differ, and so do (here) some of their mappings: the searches split somewhere
    assert len({repr(g.mapping.to_dict(a)) for a, g in zip(archs, got)}) > 1 or budget == "small-exhaustive"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), objective=st.sampled_from(sorted(OBJECTIVES)),
       k=st.integers(1, 5), shape=st.sampled_from(["conv K=16 C=8 P=8 Q=8 R=3 S=3", "conv K=64 C=32 P=7 Q=7",
                                                   "fc K=10 C=64", "avgpool K=16 P=8 Q=8 R=2 S=2 stride=2"]),
       data=st.data())
def test_group_search_equals_own_searches_on_random_variants(seed, objective, k, shape, data):
    base = load_arch(data.draw(st.sampled_from(["eyeriss", "simba-like"])))
    bits = st.sampled_from([8, 16, 32, 64, 128, 256, 1024])
    archs = [_variant(base, data.draw(st.sampled_from([50.0, 100.0, 200.0, 400.0, 1000.0])), data.draw(bits),
                      data.draw(bits), data.draw(st.sampled_from([0.0, 5.0, 50.0, 500.0]))) for _ in range(k)]
    layer = parse_layer_spec(shape)
    b = SearchBudget(samples=400, rounds=6, restarts=2, exhaustive_limit=0)
    got = search_mapping_group(layer, archs, objective=objective, seed=seed, budget=b)
    for a, g in zip(archs, got):
        _same(g, search_mapping(layer, a, objective=objective, seed=seed, budget=b), a)


def test_group_search_refuses_accelerators_that_differ_in_more_than_prices():
    base = load_arch("eyeriss")
    other = base.with_config(pe_array={**base.config.pe_array.model_dump(), "rows": 6})
    with pytest.raises(ValueError, match="differs from"):
        search_mapping_group(LAYER, [base, other])
    forced = base.with_config(constraints=[{"target": "GLB", "type": "temporal", "factors": {"K": 1}}])
    assert forced.arrays.read_bw.tolist() == base.arrays.read_bw.tolist()  # same arrays, other constraints
    with pytest.raises(ValueError, match="differs from"):
        search_mapping_group(LAYER, [base, forced])
    assert search_mapping_group(LAYER, []) == []


def test_group_search_raises_no_valid_mapping_as_a_single_search_does():
    base = load_arch("eyeriss")
    bad = base.with_config(constraints=[{"target": "spad", "type": "temporal", "factors": {"C": 16, "K": 32}}])
    with pytest.raises(NoValidMapping) as single:
        search_mapping(LAYER, bad)
    with pytest.raises(NoValidMapping) as group:
        search_mapping_group(LAYER, [bad, bad.with_config(clock_mhz=100)])
    assert str(group.value) == str(single.value) and "tile exceeds" in str(group.value)
