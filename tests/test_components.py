"""Component model (accel/components.py, accel/data/components.yaml): the laws reproduce the published points
they are fitted to, scale the documented way between nodes, and the data file is validated strictly."""

import math

import pytest
import yaml

from accel import components as cm
from accel.arch import ConfigError, load_arch, parse_arch
from tests.conftest import ROOT


def test_data_file_loads_and_every_entry_has_a_source():
    d = cm.load_components()
    assert d.format == "accelsim-components/1"
    raw = yaml.safe_load(cm.DATA_FILE.read_text())

    def walk(x, path, sourced=False):  # every number sits in (or under) a mapping with a source
        if isinstance(x, dict):
            sourced = sourced or bool(x.get("source"))
            for k, v in x.items():
                walk(v, f"{path}.{k}", sourced)
        elif isinstance(x, list):
            for i, v in enumerate(x):
                walk(v, f"{path}[{i}]", sourced)
        elif isinstance(x, (int, float)) and not isinstance(x, bool):
            assert sourced, f"{path} = {x} has no source"

    for key in ("scaling", "multiplier", "adder", "sram", "register_file", "logic", "wire", "dram", "core_overhead"):
        walk(raw[key], key)
    for b in d.sram.bitcell_um2:
        assert b.source in d.sources


def test_broken_data_file_is_one_clear_error(tmp_path):
    raw = yaml.safe_load(cm.DATA_FILE.read_text())
    raw["multiplier"]["points"][0]["bits"] = "eight"
    raw["dram"] = raw["dram"][:2]
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(raw))
    with pytest.raises(cm.ComponentDataError) as ei:
        cm.load_components(p)
    paths = dict(ei.value.errors)
    assert "multiplier.points[0].bits" in paths
    raw["multiplier"]["points"][0]["bits"] = 8
    p.write_text(yaml.safe_dump(raw))
    cm.load_components.cache_clear()
    with pytest.raises(cm.ComponentDataError, match="interfaces must be exactly"):
        cm.load_components(p)
    cm.load_components.cache_clear()


def test_scaling_follows_stillmaker_table():
    assert cm.area_scale(45, 45) == 1.0
    assert cm.area_scale(45, 65) == pytest.approx(1.5)  # table row 45 nm
    assert cm.area_scale(45, 16) == pytest.approx(0.19)
    assert cm.area_scale(45, 7) == pytest.approx(0.059)
    # 28 nm lies a third of the way from 32 (0.46) to 20 (0.21)
    assert cm.area_scale(45, 28) == pytest.approx(0.46 + (0.21 - 0.46) / 3)
    assert cm.area_scale(65, 16) == pytest.approx(0.19 / 1.5)
    e = [cm.energy_scale(45, n) for n in (65, 45, 28, 16, 7)]
    assert e[1] == 1.0 and e == sorted(e, reverse=True)  # smaller nodes spend less energy
    assert cm.energy_scale(65, 45) == pytest.approx(1 / cm.energy_scale(45, 65))
    with pytest.raises(ValueError, match="outside the scaling table"):
        cm.area_scale(45, 3)


def test_arithmetic_reproduces_horowitz_and_the_precision_law():
    # 45 nm points within the fit error stated in the module docstring
    assert cm.multiplier_energy_pj(8, 8, 45) == pytest.approx(0.2, rel=0.02)
    assert cm.multiplier_energy_pj(32, 32, 45) == pytest.approx(3.1, rel=0.02)
    assert cm.multiplier_area_um2(8, 8, 45) == pytest.approx(282, rel=0.15)
    assert cm.multiplier_area_um2(32, 32, 45) == pytest.approx(3495, rel=0.15)
    assert cm.adder_energy_pj(8, 45) == pytest.approx(0.03, rel=0.1)
    assert cm.adder_energy_pj(32, 45) == pytest.approx(0.1, rel=0.1)
    # the multiplier follows the model's w*a law (accel/arch.py compile_arch, accel/precision.py)
    assert cm.multiplier_energy_pj(4, 8, 28) / cm.multiplier_energy_pj(8, 8, 28) == pytest.approx(0.5)
    assert cm.multiplier_area_um2(16, 2, 16) / cm.multiplier_area_um2(8, 8, 16) == pytest.approx(0.5)
    assert cm.mac_energy_pj(8, 8, 32, 45) == pytest.approx(cm.multiplier_energy_pj(8, 8, 45) + cm.adder_energy_pj(32, 45))


def test_sram_fit_reproduces_horowitz_and_grows_with_capacity():
    for kb, pj in ((8, 10.0), (32, 20.0), (1024, 100.0)):
        assert cm.sram_energy_pj_per_bit(kb * 1024, 45) * 64 == pytest.approx(pj, rel=0.05)
    small, big = cm.storage_cost(16384, 45), cm.storage_cost(1 << 20, 45)
    assert small.kind == big.kind == "sram"
    assert big.area_mm2 == pytest.approx(64 * small.area_mm2)  # area linear in capacity (same efficiency)
    assert big.read_pj_per_bit > small.read_pj_per_bit
    # banking: each access reads one bank, so energy per bit falls; leakage is the same bits
    banked = cm.storage_cost(1 << 20, 45, banks=16)
    assert banked.read_pj_per_bit == pytest.approx(cm.sram_energy_pj_per_bit((1 << 20) / 16, 45))
    assert banked.leakage_mw == pytest.approx(big.leakage_mw)
    # bitcells: published values at published nodes
    assert cm.storage_cost(1 << 20, 7).area_mm2 / cm.storage_cost(1 << 20, 45).area_mm2 == pytest.approx(0.027 / 0.346)
    # register files below 64 B
    rf = cm.storage_cost(24, 65)
    assert rf.kind == "register_file"
    assert rf.area_mm2 == pytest.approx(24 * 8 * 4.522 * 1.5 / 0.7 * 1e-6)
    assert cm.storage_cost(24, 65, leakage_scale=0.1).leakage_mw == pytest.approx(0.1 * rf.leakage_mw)


def test_wires_dram_logic():
    assert cm.wire_energy_pj_per_bit_mm(40) == pytest.approx(310 / 2560)
    assert cm.dram_energy_pj_per_bit("hbm2") < cm.dram_energy_pj_per_bit("lpddr4") < cm.dram_energy_pj_per_bit("ddr3")
    with pytest.raises(ValueError, match="unknown DRAM interface"):
        cm.dram_energy_pj_per_bit("ddr9")
    assert cm.logic_area_mm2(1000, 45) == pytest.approx(1e6 * 0.798 / 0.7 * 1e-6)


def test_technology_block_is_validated():
    data = yaml.safe_load((ROOT / "configs" / "eyeriss.yaml").read_text())
    data["technology"]["node_nm"] = 3
    data["technology"]["extras"][0]["area_mm2"] = 1.0  # and kgates: both given
    data["technology"]["bogus"] = 1
    with pytest.raises(ConfigError) as ei:
        parse_arch(data)
    paths = {p for p, _ in ei.value.errors}
    assert {"technology.node_nm", "technology.bogus", "technology.extras[0]"} <= paths


def test_provenance_config_overrides_the_model():
    arch = load_arch("eyeriss")
    from accel.arch import area_power_breakdown

    rows = {r.component: r for r in area_power_breakdown(arch)}
    assert rows["GLB"].area_from == "component-model" and rows["clock_network"].leakage_from == "config"
    data = yaml.safe_load((ROOT / "configs" / "eyeriss.yaml").read_text())
    data["levels"][1]["area_mm2"] = 2.5
    data["levels"][1]["leakage_mw"] = 1.0
    rows2 = {r.component: r for r in area_power_breakdown(parse_arch(data))}
    assert rows2["GLB"].area_mm2 == 2.5 and rows2["GLB"].area_from == "config"
    assert rows2["GLB"].leakage_mw == 1.0 and rows2["GLB"].leakage_from == "config"
    assert rows2["spad"] == rows["spad"]
    assert math.isfinite(rows2["core_overhead"].area_mm2)


def test_access_energy_scales_with_width_and_noc_hop_with_length():
    c = cm.storage_cost(110592, 65)
    assert c.read_pj(64) == pytest.approx(4 * c.read_pj(16))
    assert c.write_pj(64) == pytest.approx(64 * c.write_pj_per_bit)
    assert cm.noc_energy_pj_per_bit_hop(0.2, 40) == pytest.approx(0.2 * 310 / 2560)
