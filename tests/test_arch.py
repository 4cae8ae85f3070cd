"""Config validation: every error reported with its YAML path, all at once."""

import copy

import numpy as np
import pytest
import yaml

from accel.arch import ConfigError, list_configs, load_arch, parse_arch
from tests.conftest import ROOT

BASE = yaml.safe_load((ROOT / "configs" / "eyeriss.yaml").read_text())


def errors_of(data):
    with pytest.raises(ConfigError) as e:
        parse_arch(data, "test.yaml")
    return dict(e.value.errors)


def test_shipped_configs_load():
    paths = list_configs()
    assert any(p.stem == "eyeriss" for p in paths)
    for p in paths:
        a = load_arch(p)
        if getattr(a, "is_device", False):  # a CPU / GPU config (accel/device.py), costed by the device model
            assert a.peak_macs_per_s > 1e9 and a.config.levels
            continue
        assert a.peak_macs_per_cycle >= 1
        assert a.arrays.n_levels == len(a.config.levels)


def test_eyeriss_numbers(eyeriss):
    c = eyeriss.config
    assert (c.pe_array.rows, c.pe_array.cols) == (12, 14)
    assert c.levels[1].size_bytes == 108 * 1024
    assert {k: v * 8 // 16 for k, v in c.levels[-1].partitions_bytes.items()} == {"weights": 224, "inputs": 12, "outputs": 24}
    assert c.clock_mhz == 200 and c.dataflow.preset == "row_stationary"


def test_all_errors_collected_with_paths():
    d = copy.deepcopy(BASE)
    d["bogus_key"] = 1
    d["clock_mhz"] = -1
    d["bitwidths"]["weights"] = 0
    d["levels"][1]["size_bytes"] = -5
    d["levels"][2]["partitions_bytes"]["inputs"] = 1  # cannot hold one 16-bit value
    errs = errors_of(d)
    assert errs["bogus_key"] == "unknown key"
    assert "clock_mhz" in errs
    assert "bitwidths.weights" in errs
    assert "levels[1].size_bytes" in errs
    assert "levels[2].partitions_bytes.inputs" in errs


def test_semantic_errors():
    d = copy.deepcopy(BASE)
    d["levels"][0]["size_bytes"] = 100
    d["levels"][2]["per_pe"] = False
    errs = errors_of(d)
    assert "levels[0]" in errs
    assert any(k.startswith("levels[2]") for k in errs)


def test_version_required_and_checked():
    d = copy.deepcopy(BASE)
    del d["version"]
    assert errors_of(d)["version"] == "required key missing"
    d["version"] = 99
    assert "unsupported schema version" in errors_of(d)["version"]


def test_bad_yaml_and_missing_file(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_text("version: 1\nlevels: [\n")
    with pytest.raises(ConfigError) as e:
        load_arch(p)
    assert "not valid YAML" in str(e.value)
    with pytest.raises(ConfigError):
        load_arch(tmp_path / "nope.yaml")
    p.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError):
        load_arch(p)


def test_bitwidth_changes_capacity_and_energy(eyeriss):
    d = copy.deepcopy(BASE)
    d["bitwidths"] = {"weights": 8, "inputs": 8, "outputs": 16, "psums": 16}
    a8 = parse_arch(d)
    # the spad holds twice as many 8-bit weights; MAC energy scales with the product of widths
    assert a8.arrays.op_bits[2, 0] == 8 and eyeriss.arrays.op_bits[2, 0] == 16
    assert a8.arrays.mac_energy_pj == pytest.approx(eyeriss.arrays.mac_energy_pj / 4)
    assert np.all(a8.arrays.part_bits == eyeriss.arrays.part_bits)


def test_digest_stable_and_sensitive(eyeriss):
    assert eyeriss.digest() == load_arch(ROOT / "configs" / "eyeriss.yaml").digest()
    assert eyeriss.with_config(clock_mhz=250).digest() != eyeriss.digest()
