"""The ``conventions:`` block of the accelerator schema (accel.arch.Conventions): defaults, errors, and that
the access conventions leave latency alone where no level is bandwidth-bound (Eyeriss, SCALE-Sim)."""

from __future__ import annotations

import math

import pytest

from accel.arch import ConfigError, load_arch
from accel.cost import evaluate
from accel.workload import Layer
from mapper.search import search_mapping
from tests.conftest import ROOT

OLD = dict(mac_operand_reuse=True, psum_drain_read=True, padded_accesses="count")


def test_defaults_are_timeloops():
    c = load_arch(ROOT / "configs" / "eyeriss.yaml").config.conventions
    assert (c.mac_operand_reuse, c.psum_drain_read, c.padded_accesses, c.transfer_overlap) == (
        False, False, "skip", "double_buffered")


@pytest.mark.parametrize("conv, path, words", [
    (dict(transfer_overlap={"NoSuchLevel": "serial_onload"}), "conventions.transfer_overlap.NoSuchLevel",
     "no level below the outermost"),
    (dict(transfer_overlap={"DRAM": "serial_onload"}), "conventions.transfer_overlap.DRAM", "no level below"),
    (dict(transfer_overlap="sometimes"), "conventions.transfer_overlap", "double_buffered"),
    (dict(mac_operand_reuse="yes"), "conventions.mac_operand_reuse", "bool"),
    (dict(padded_accesses="pad"), "conventions.padded_accesses", "skip"),
    (dict(mac_operand_reuse_x=True), "conventions.mac_operand_reuse_x", "unknown key"),
    (dict(access_granularity={"NoSuchLevel": "word"}), "conventions.access_granularity.NoSuchLevel",
     "no level is named"),
    (dict(access_granularity="block"), "conventions.access_granularity", "word"),
])
def test_bad_conventions_name_the_path(conv, path, words):
    arch = load_arch(ROOT / "configs" / "eyeriss.yaml")
    with pytest.raises(ConfigError) as e:
        arch.with_config(conventions=conv)
    msg = str(e.value)
    assert path in msg and words in msg, msg


@pytest.mark.parametrize("cfg", ["eyeriss", "scalesim-ws"])
def test_access_conventions_do_not_move_latency_or_macs(cfg):
    """Same mapping, old vs Timeloop conventions: compute and psum-accumulation cycles and MAC energy equal,
    innermost-level reads not lower; the latency moves only through a bandwidth-bound level (the access
    counts a level's port carries are the convention's)."""
    new = load_arch(ROOT / "configs" / f"{cfg}.yaml")
    old = new.with_config(conventions=OLD)
    layer = Layer(name="c", op="conv", K=16, C=8, P=13, Q=13, R=3, S=3)
    m = search_mapping(layer, new).mapping
    a, b = evaluate(layer, new, m), evaluate(layer, old, m)
    assert (a.compute_cycles, a.accumulate_cycles, a.mac_energy_pj) == (b.compute_cycles, b.accumulate_cycles,
                                                                         b.mac_energy_pj)
    if max(a.stall_cycles.values()) == 0 == max(b.stall_cycles.values()):
        assert a.latency_cycles == b.latency_cycles
    else:
        busy = a.compute_cycles + a.accumulate_cycles + a.fold_overhead_cycles
        for r in (a, b):
            assert r.latency_cycles == pytest.approx(max(busy, *r.bandwidth_cycles.values()) + r.fill_drain_cycles,
                                                     rel=1e-12)
    inner = new.level_names[-1]
    assert sum(a.reads[inner].values()) >= sum(b.reads[inner].values())


def test_serial_onload_adds_latency_only():
    arch = load_arch(ROOT / "configs" / "eyeriss.yaml")
    glb = arch.level_names[1]
    ser = arch.with_config(conventions=dict(transfer_overlap={glb: "serial_onload"}))
    layer = Layer(name="c", op="conv", K=16, C=8, P=13, Q=13, R=3, S=3)
    m = search_mapping(layer, arch).mapping
    a, b = evaluate(layer, arch, m), evaluate(layer, ser, m)
    assert b.serial_onload_cycles > 0 == a.serial_onload_cycles
    assert b.latency_cycles > a.latency_cycles and b.reads == a.reads and b.writes == a.writes


def test_serial_onload_counted_once():
    """serial_onload traffic is added to the latency once: it is left out of the parent's overlapped bandwidth
    time (before issue 12's fix ZigZag's tpu_like 1x1 layer had its DRAM onload and last drain counted twice)."""
    arch = load_arch(ROOT / "configs" / "eyeriss.yaml")
    glb = arch.level_names[1]
    ser = arch.with_config(conventions=dict(transfer_overlap={glb: "serial_onload"}))
    layer = Layer(name="c", op="conv", K=16, C=8, P=13, Q=13, R=3, S=3)
    m = search_mapping(layer, arch).mapping
    a, b = evaluate(layer, arch, m), evaluate(layer, ser, m)
    for r in (a, b):
        busy = r.compute_cycles + r.accumulate_cycles + r.fold_overhead_cycles
        assert r.latency_cycles == pytest.approx(max(busy, *r.bandwidth_cycles.values()) + r.fill_drain_cycles
                                                 + r.serial_onload_cycles, rel=1e-12)
    dram = arch.level_names[0]
    assert b.bandwidth_cycles[dram] < a.bandwidth_cycles[dram]  # the GLB's onloads left the overlapped time


def test_access_granularity_default_and_per_level():
    """Default ``bit`` (every shipped config keeps its numbers: no level charges whole words); ``word`` on one
    level rounds only that level's energy up to whole words per instance, never below per-bit, and leaves
    counts and latency alone."""
    from accel.arch import list_configs

    for path in list_configs():
        arch = load_arch(path)
        if not getattr(arch, "is_device", False):  # CPU / GPU device configs have no memory levels
            assert arch.config.conventions.access_granularity == "bit" and not arch.arrays.block_bits.any(), path
    bit = load_arch(ROOT / "configs" / "tpu-v1.yaml")
    dram = bit.level_names[0]
    word = bit.with_config(conventions={"access_granularity": {dram: "word"}})
    assert word.arrays.block_bits.tolist() == [bit.config.levels[0].word_bits] + [0.0] * (len(bit.level_names) - 1)
    layer = Layer(name="fc", op="fc", K=3, C=5)  # 15 8-bit weights: 120 bits, 2 64-bit words (1.875 per bit)
    m = search_mapping(layer, bit).mapping
    a, b = evaluate(layer, bit, m), evaluate(layer, word, m)
    assert (a.reads, a.writes, a.latency_cycles) == (b.reads, b.writes, b.latency_cycles)
    n, e_read = a.reads[dram]["weights"], bit.config.levels[0].read_energy_pj
    assert a.energy_breakdown_pj[dram]["weights"] == pytest.approx(n * 8 / 64 * e_read)
    assert b.energy_breakdown_pj[dram]["weights"] == pytest.approx(math.ceil(n * 8 / 64) * e_read)
    assert n * 8 % 64  # a partial word, so the test can tell the two apart
    for lv in bit.level_names[1:]:
        assert a.energy_breakdown_pj[lv] == b.energy_breakdown_pj[lv]
