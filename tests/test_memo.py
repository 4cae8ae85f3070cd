"""The genome memo (mapper.genome.MemoPool): a genome costed once is priced for another clock without the cost
kernel, bit for bit as the kernel would price it, and a search through the memo returns what it returns without."""

import numpy as np
import pytest

from accel.arch import load_arch, static_power_mw
from accel.cost import compile_layer
from accel.workload import parse_layer_spec
from mapper.genome import (MemoPool, OBJECTIVES, eval_genomes, eval_genomes_memo, mapspace_arrays, memo_nbytes,
                           new_memo, random_genomes, serial_work)
from mapper.mapspace import build_mapspace
from mapper.search import search_mapping

LAYER = parse_layer_spec("conv K=32 C=16 P=14 Q=14 R=3 S=3")


def _variant(arch, mhz, glb_bits, dram_bits):
    """``arch`` at another clock, GLB read bandwidth and DRAM bandwidths (bits/cycle)."""
    levels = [lv.model_dump(mode="python") for lv in arch.config.levels]
    levels[0]["read_bandwidth_bits"] = levels[0]["write_bandwidth_bits"] = dram_bits
    levels[1]["read_bandwidth_bits"] = glb_bits
    return arch.with_config(clock_mhz=mhz, levels=levels)


def _serial_onload(arch):
    """Every level's transfers serialised with compute (conventions.transfer_overlap: serial_onload)."""
    return arch.with_config(conventions={**arch.config.conventions.model_dump(mode="python"),
                                         "transfer_overlap": "serial_onload"})


@pytest.mark.parametrize("objective", sorted(OBJECTIVES))
@pytest.mark.parametrize("base_name", ["eyeriss", "eyeriss-serial-onload", "simba-like"])
def test_memo_prices_other_clocks_and_bandwidths_bit_for_bit(objective, base_name):
    base = _serial_onload(load_arch("eyeriss")) if base_name == "eyeriss-serial-onload" else load_arch(base_name)
    if base_name.startswith("eyeriss"):  # the clock moves every mapping's energy: the memo must re-price it
        assert static_power_mw(base) > 0
    rng = np.random.default_rng(7)
    ms = build_mapspace(LAYER, base)
    G = random_genomes(ms, rng.integers(0, len(ms.spatial_x), 3000), rng)
    G = np.concatenate([G, G[:500]])  # repeats inside one batch
    memo = new_memo(ms.genome_len, slots=64)  # grows (rehash) along the way
    layer = compile_layer(LAYER)
    seen_invalid = False
    dram = base.config.levels[0].read_bandwidth_bits
    glb = base.config.levels[1].read_bandwidth_bits
    for mhz, g_bits, d_bits in ((100.0, glb, dram), (200.0, glb, dram), (350.0, 32, dram), (100.0, glb, 16),
                                (100.0, 4096, 4096), (100.0, glb, dram)):
        arch = _variant(base, mhz, g_bits, d_bits)
        ms_c = build_mapspace(LAYER, arch)
        enc = mapspace_arrays(ms_c)
        ref, ref_reason = eval_genomes(G, layer, arch.arrays, enc, OBJECTIVES[objective], serial_work(arch.arrays.n_levels))
        got, reason, memo = eval_genomes_memo(G, layer, arch.arrays, enc, OBJECTIVES[objective], serial_work(arch.arrays.n_levels), memo)
        assert np.array_equal(got, ref) and np.array_equal(reason, ref_reason)  # exact, inf where invalid
        seen_invalid |= bool(np.isinf(ref).any())
    assert seen_invalid and np.isfinite(ref).sum() > 100
    assert memo.keys.shape[0] > 64 and int(memo.used[0]) == len(np.unique(G, axis=0))


def test_search_through_the_pool_equals_plain_search_and_reuses_memos():
    base = load_arch("eyeriss")
    pool = MemoPool()
    for mhz, dram in ((100.0, 64), (250.0, 64), (400.0, 16)):
        arch = _variant(base, mhz, base.config.levels[1].read_bandwidth_bits, dram)
        plain = search_mapping(LAYER, arch, objective="edp", seed=3, samples=800, rounds=8, restarts=2)
        memo = search_mapping(LAYER, arch, objective="edp", seed=3, samples=800, rounds=8, restarts=2,
                              memo_pool=pool)
        assert repr(memo.cost) == repr(plain.cost) and memo.evaluations == plain.evaluations
        assert memo.mapping.to_dict(arch) == plain.mapping.to_dict(arch)
    assert pool.hits == 2  # one memo for the three variants
    # another layer or another buffer size is another memo
    search_mapping(LAYER, base.with_config(pe_array={**base.config.pe_array.model_dump(), "rows": 6}),
                   samples=200, rounds=2, restarts=1, memo_pool=pool)
    assert pool.hits == 2 and len(pool._memos) == 2


def test_pool_drops_other_accelerators_memos_first_and_never_thrashes():
    """Beyond its budget the pool drops the memos of other accelerators (least recently used first), never those of
    the accelerator being searched (each is needed by its next variant), and refuses their growth instead."""
    base = load_arch("eyeriss")
    other = base.with_config(pe_array={**base.config.pe_array.model_dump(), "rows": 6})
    layer = compile_layer(LAYER)
    ms = build_mapspace(LAYER, base)
    one = new_memo(ms.genome_len)
    pool = MemoPool(max_bytes=int(2.5 * memo_nbytes(one)))
    a1 = pool.key(layer, other, None, "x")
    pool.put(a1, pool.get(a1, ms.genome_len))
    b1, b2 = pool.key(layer, base, None, "x"), pool.key(layer, base, None, "y")
    pool.put(b1, pool.get(b1, ms.genome_len))
    pool.put(b2, pool.get(b2, ms.genome_len))  # over budget: the other accelerator's memo goes
    assert set(pool._memos) == {b1, b2}
    b3 = pool.key(layer, base, None, "z")
    pool.put(b3, pool.get(b3, ms.genome_len))  # over budget with this accelerator's memos only: all kept
    assert set(pool._memos) == {b1, b2, b3}
    assert not pool.may_grow(b3, pool._memos[b3], 2 * pool._memos[b3].keys.shape[0])
    # growth makes room by dropping other accelerators' memos (a new group starting on a full pool)
    pool = MemoPool(max_bytes=int(2.5 * memo_nbytes(one)))
    b1, a1 = pool.key(layer, base, None, "x"), pool.key(layer, other, None, "x")
    pool.put(b1, pool.get(b1, ms.genome_len))
    pool.put(a1, pool.get(a1, ms.genome_len))
    assert pool.may_grow(a1, pool._memos[a1], 2 * pool._memos[a1].keys.shape[0]) and set(pool._memos) == {a1}
    # a memo that may not grow still answers correctly once full (new genomes are costed, not stored)
    rng = np.random.default_rng(1)
    G = random_genomes(ms, rng.integers(0, len(ms.spatial_x), 5000), rng)
    args = (layer, base.arrays, mapspace_arrays(ms), OBJECTIVES["edp"])
    ref, _ = eval_genomes(G, *args, serial_work(base.arrays.n_levels))
    got, _, memo = eval_genomes_memo(G, *args, serial_work(base.arrays.n_levels), new_memo(ms.genome_len),
                                     lambda m, slots: False)
    assert np.array_equal(got, ref) and memo.keys.shape[0] == new_memo(ms.genome_len).keys.shape[0]
    assert int(memo.used[0]) == memo.keys.shape[0] * 3 // 4



def test_constraints_and_custom_mapspaces_get_their_own_memo():
    """Two accelerators with the same arrays but other mapping constraints build other mapspaces: never one memo."""
    base = load_arch("eyeriss")
    pool = MemoPool()
    search_mapping(LAYER, base, samples=200, rounds=2, restarts=1, memo_pool=pool)
    forced = base.with_config(constraints=[{"target": "GLB", "type": "temporal", "factors": {"K": 1}}])
    assert forced.arrays.read_bw.tolist() == base.arrays.read_bw.tolist()
    plain = search_mapping(LAYER, forced, samples=200, rounds=2, restarts=1)
    memo = search_mapping(LAYER, forced, samples=200, rounds=2, restarts=1, memo_pool=pool)
    assert pool.hits == 0 and len(pool._memos) == 2 and repr(memo.cost) == repr(plain.cost)
    # a mapspace given by the caller is keyed by its arrays
    ms = build_mapspace(LAYER, base, max_spatial=4)
    search_mapping(LAYER, base, samples=200, rounds=2, restarts=1, mapspace=ms, memo_pool=pool)
    assert pool.hits == 0 and len(pool._memos) == 3
    search_mapping(LAYER, base, samples=200, rounds=2, restarts=1, mapspace=build_mapspace(LAYER, base, max_spatial=4),
                   memo_pool=pool)
    assert pool.hits == 1
