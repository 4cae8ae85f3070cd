"""The input boundary (issue 10, "values that must be refused"): duplicate YAML keys, strict types, finite
floats, documented bounds, layer specs, sweep specs and bitwidth files.  Every case is a clean InputError
naming the file, the YAML path and the rule — never a traceback, a hang or a believable wrong number."""

import json
import time

import pytest

from accel.arch import ConfigError, load_arch
from accel.designspace import MAX_POINTS, SweepError, SweepSpecError, load_sweep
from accel.errors import InputError
from accel.precision import (BITWIDTHS_FORMAT, BitwidthsFileError, PrecisionLaw, load_bitwidths, write_bitwidths)
from accel.schema import MAX_LAYER_POINTS, MAX_LOOP_BOUND, MAX_PES
from accel.workload import Layer, WorkloadError, parse_layer_spec
from tests.conftest import ROOT

EYERISS = (ROOT / "configs" / "eyeriss.yaml").read_text()


def config_errors(tmp_path, text: str) -> dict[str, str]:
    p = tmp_path / "hw.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_arch(p)
    assert str(p) in str(e.value)
    return dict(e.value.errors)


def edit(old: str, new: str, text: str = EYERISS) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


# ---- YAML reading ------------------------------------------------------------------------------
def test_duplicate_keys_name_the_key_and_both_lines(tmp_path):
    text = "version: 1\nname: a\nclock_mhz: 200\n" + EYERISS.replace("version: 1\n", "").replace("name: eyeriss\n", "")
    errs = config_errors(tmp_path, text)
    line = text.splitlines().index("clock_mhz: 200", 3) + 1
    assert errs == {"<root>": f"duplicate key 'clock_mhz' (lines 3 and {line})"}
    # nested: a key twice inside levels[1] (flow and block mappings alike)
    line = EYERISS.splitlines().index("    size_bytes: 110592            # 108 KB") + 1
    errs = config_errors(tmp_path, edit("    size_bytes: 110592            # 108 KB\n",
                                        "    size_bytes: 110592\n    shared_port: false\n    size_bytes: 1\n"))
    assert errs == {"levels[1]": f"duplicate key 'size_bytes' (lines {line} and {line + 2})"}
    errs = config_errors(tmp_path, edit("bitwidths: {weights: 16,", "bitwidths: {weights: 8, weights: 16,"))
    line = EYERISS.splitlines().index("bitwidths: {weights: 16, inputs: 16, outputs: 16, psums: 16}") + 1
    assert errs == {"bitwidths": f"duplicate key 'weights' (lines {line} and {line})"}


def test_yaml_12_floats_and_safe_loading_only(tmp_path):
    p = tmp_path / "hw.yaml"
    p.write_text(edit("clock_mhz: 200", "clock_mhz: 2e2"))
    assert load_arch(p).config.clock_mhz == 200.0
    errs = config_errors(tmp_path, edit("clock_mhz: 200", "clock_mhz: !!python/object/apply:os.system ['true']"))
    assert "not valid YAML" in next(iter(errs.values()))


def test_yaml_alias_chains_are_checked_in_linear_time(tmp_path):
    """9^10 values behind aliases (a "billion laughs" spec): refused quickly, with a bounded message."""
    chain = ["&b0 [1, 1, 1, 1, 1, 1, 1, 1, 1]"] + [f"&b{i} [" + ", ".join([f"*b{i - 1}"] * 9) + "]" for i in range(1, 10)]
    t0 = time.perf_counter()
    errs = sweep_errors(tmp_path, SWEEP + f"parameters:\n  - path: pe_array.rows\n    values: [{', '.join(chain)}]\n")
    assert time.perf_counter() - t0 < 20
    assert "valid integer" in errs["parameters[0].values[9]"] and len(errs["parameters[0].values[9]"]) < 400


# ---- strict types --------------------------------------------------------------------------------
@pytest.mark.parametrize("old,new,path,rule", [
    ("  rows: 12", "  rows: yes", "pe_array.rows", "valid integer, got True (bool)"),
    ("version: 1", "version: true", "version", "valid integer, got True (bool)"),
    ("  rows: 12", '  rows: "12"', "pe_array.rows", "valid integer, got '12' (str)"),
    ("clock_mhz: 200", 'clock_mhz: "200"', "clock_mhz", "valid number, got '200' (str)"),
    ("  rows: 12", "  rows: 12.0", "pe_array.rows", "valid integer, got 12.0 (float)"),
    ("    per_pe: true", "    per_pe: 1", "levels[2].per_pe", "valid boolean, got 1 (int)"),
])
def test_no_type_coercion(tmp_path, old, new, path, rule):
    errs = config_errors(tmp_path, edit(old, new))
    assert rule in errs[path]


def test_int_is_a_float(tmp_path):
    p = tmp_path / "hw.yaml"
    p.write_text(edit("  mac_energy_pj: 1.0", "  mac_energy_pj: 1"))
    assert load_arch(p).config.pe_array.mac_energy_pj == 1.0


# ---- finite floats -------------------------------------------------------------------------------
@pytest.mark.parametrize("old,new,path", [
    ("clock_mhz: 200", "clock_mhz: .inf", "clock_mhz"),
    ("clock_mhz: 200", "clock_mhz: .nan", "clock_mhz"),
    ("    size_bytes: 110592            # 108 KB", "    size_bytes: .inf", "levels[1].size_bytes"),
    ("    size_bytes: 110592            # 108 KB", "    size_bytes: .nan", "levels[1].size_bytes"),
    ("  mac_energy_pj: 1.0", "  mac_energy_pj: .inf", "pe_array.mac_energy_pj"),
    ("    read_energy_pj: 24.0          # 6 pJ per 16-bit word", "    read_energy_pj: .nan", "levels[1].read_energy_pj"),
    ("  energy_pj_per_bit: 0.125", "  energy_pj_per_bit: -.inf", "noc.energy_pj_per_bit"),
    ("    read_bandwidth_bits: 128", "    read_bandwidth_bits: .inf", "levels[1].read_bandwidth_bits"),
    ("    partitions_bytes: {weights: 448,", "    partitions_bytes: {weights: .inf,", "levels[2].partitions_bytes.weights"),
])
def test_non_finite_floats_are_refused(tmp_path, old, new, path):
    errs = config_errors(tmp_path, edit(old, new))
    assert "must be a finite number" in errs[path]


def test_only_the_outermost_level_is_unbounded(tmp_path):
    errs = config_errors(tmp_path, edit("    size_bytes: 110592            # 108 KB", "    size_bytes: .inf"))
    assert "only the outermost level may be unbounded" in errs["levels[1].size_bytes"]
    errs = config_errors(tmp_path, edit("    size_bytes: 110592            # 108 KB", "    size_bytes: null"))
    assert errs == {"levels[1].size_bytes": "only the outermost level may be unbounded"}
    p = tmp_path / "hw.yaml"  # DRAM: unbounded by omitting the size, or by an explicit null
    p.write_text(edit("  - name: DRAM\n", "  - name: DRAM\n    size_bytes: null\n"))
    assert load_arch(p).arrays.size_bits[0] == float("inf")


# ---- bounds --------------------------------------------------------------------------------------
@pytest.mark.parametrize("old,new,path,bound", [
    ("  rows: 12", "  rows: 99999999999999999999999999", "pe_array.rows", str(MAX_PES)),
    ("  macs_per_pe: 1", "  macs_per_pe: 1e30", "pe_array.macs_per_pe", "valid integer"),
    ("    size_bytes: 110592            # 108 KB", "    size_bytes: 1e300", "levels[1].size_bytes", str(2**50)),
    ("    read_bandwidth_bits: 128", "    read_bandwidth_bits: 1e13", "levels[1].read_bandwidth_bits", str(2**40)),
    ("  mac_energy_pj: 1.0", "  mac_energy_pj: 1e7", "pe_array.mac_energy_pj", "1000000"),
    ("clock_mhz: 200", "clock_mhz: 1e-300", "clock_mhz", "0.001"),
    ("  psum_accumulate_cycles: 1", "  psum_accumulate_cycles: 99999999999999999999", "pe_array.psum_accumulate_cycles",
     str(2**20)),
])
def test_bounds_are_in_the_message(tmp_path, old, new, path, bound):
    errs = config_errors(tmp_path, edit(old, new))
    assert bound in errs[path]


def test_pe_count_bound_covers_the_product(tmp_path):
    errs = config_errors(tmp_path, edit("  rows: 12\n  cols: 14\n  macs_per_pe: 1", "  rows: 4096\n  cols: 4096\n  macs_per_pe: 2"))
    assert "33,554,432 MAC lanes" in errs["pe_array"] and "16,777,216" in errs["pe_array"]


def test_shipped_configs_and_demo_sweep_load():
    for p in sorted((ROOT / "configs").glob("*.yaml")):
        load_arch(p)
    assert len(load_sweep(ROOT / "configs" / "sweeps" / "demo.yaml").assignments()) >= 200


# ---- layer specs ---------------------------------------------------------------------------------
@pytest.mark.parametrize("spec,rule", [
    ("conv K=16 K=32 C=8", "key 'K' is given twice"),
    ("conv K=16 stride=2 stride=1", "key 'stride' is given twice"),
    ("conv K=16 stride=2x3x4", "stride='2x3x4' must be one integer or two (VxH)"),
    ("conv K=16 dilation=1x", "dilation='' is not an integer"),
    ("conv K=1.5", "K='1.5' is not an integer"),
    ("conv K=1_000", "K='1_000' is not an integer"),
    ("conv K=-3", "K=-3 is out of range (1 to 2147483648, i.e. 2^31)"),
    ("conv K=0", "K=0 is out of range (1 to 2147483648"),
    ("conv groups=0", "groups=0 is out of range"),
    ("conv K=2147483649", "out of range (1 to 2147483648, i.e. 2^31)"),
    ("conv K=99999999999999999999 C=64 P=56 Q=56 R=3 S=3", "out of range (1 to 2147483648, i.e. 2^31)"),
    ("conv K=2147483648 C=2147483648 P=4", "exceed the limit of 9.01e+15 (2^53)"),
])
def test_layer_spec_rules(spec, rule):
    t0 = time.perf_counter()
    with pytest.raises(WorkloadError) as e:
        parse_layer_spec(spec)
    assert rule in str(e.value)
    assert time.perf_counter() - t0 < 0.5


def test_layer_bounds_hold_for_every_layer():
    with pytest.raises(WorkloadError, match="2\\^31"):
        Layer("x", "conv", K=MAX_LOOP_BOUND + 1)
    with pytest.raises(WorkloadError, match="2\\^31"):
        Layer("x", "conv", K=True)
    with pytest.raises(WorkloadError, match="stride"):
        Layer("x", "conv", stride=(1, 0))
    with pytest.raises(WorkloadError, match="2\\^53"):
        Layer("x", "conv", K=2**27, C=2**27)
    assert Layer("x", "conv", K=2**26, C=2**27).points == MAX_LAYER_POINTS


def test_cli_map_with_a_huge_layer_fails_fast(capsys):
    from accel.app.cli import main

    t0 = time.perf_counter()
    rc = main(["map", "--hw", str(ROOT / "configs" / "eyeriss.yaml"), "--layer",
               "conv K=99999999999999999999 C=64 P=56 Q=56 R=3 S=3"])
    err = capsys.readouterr().err
    assert rc == 1 and "2^31" in err and "Traceback" not in err
    assert time.perf_counter() - t0 < 5


def test_sweep_layer_workloads_use_the_same_rules():
    from accel.app.sweep import parse_workloads

    with pytest.raises(SweepError, match="key 'K' is given twice"):
        parse_workloads(["layer:conv K=16 K=32"])


# ---- sweep specs ---------------------------------------------------------------------------------
SWEEP = f"""version: 1
name: t
base: {ROOT / 'configs' / 'eyeriss.yaml'}
"""


def sweep_errors(tmp_path, text: str) -> dict[str, str]:
    p = tmp_path / "s.yaml"
    p.write_text(text)
    with pytest.raises(SweepSpecError) as e:
        load_sweep(p)
    assert str(p) in str(e.value)
    return dict(e.value.errors)


@pytest.mark.parametrize("params,path,rule", [
    ("{path: clock_mhz, range: {start: .nan, stop: 400, step: 50}}", "parameters[0].range.start", "finite"),
    ("{path: clock_mhz, range: {start: 100, stop: .inf, factor: 2}}", "parameters[0].range.stop", "finite"),
    ("{path: clock_mhz, values: [100, .inf]}", "parameters[0].values[1]", "finite"),
    ("{path: [pe_array.rows, clock_mhz], values: [[12, .nan]]}", "parameters[0].values[0]", "finite"),
    ("{path: clock_mhz, range: {start: 100, stop: 400, step: 0}}", "parameters[0].range.step", "greater than 0"),
    ("{path: clock_mhz, range: {start: 100, stop: 400, factor: -2}}", "parameters[0].range.factor", "greater than 1"),
    ("{path: clock_mhz, range: {start: 400, stop: 100, step: 50}}", "parameters[0].range", "is below start"),
    ("{path: clock_mhz, range: {start: 1, stop: 1e300, step: 1e-300}}", "parameters[0].range", "more than 10,000"),
    ("{path: clock_mhz, range: {start: 1, stop: 1e300, factor: 1.0000001}}", "parameters[0].range", "more than 10,000"),
    ("{path: pe_array.rows, values: [true]}", "parameters[0].values[0]", "valid integer"),
])
def test_sweep_parameter_rules(tmp_path, params, path, rule):
    errs = sweep_errors(tmp_path, SWEEP + f"parameters:\n  - {params}\n")
    assert rule in errs[path], errs


def test_sweep_point_limit_is_checked_before_expansion(tmp_path):
    big = "".join(f"  - {{path: {p}, range: {{start: 1, stop: 1000, step: 1}}}}\n"
                  for p in ("clock_mhz", "static_power_mw", "noc.energy_pj_per_bit"))
    t0 = time.perf_counter()
    errs = sweep_errors(tmp_path, SWEEP + "parameters:\n" + big)
    assert errs == {"parameters": f"the grid has 1,000,000,000 points (limit {MAX_POINTS:,}): the product of every "
                                  "parameter's value count"}
    assert time.perf_counter() - t0 < 5
    errs = sweep_errors(tmp_path, SWEEP + "mode: random\nsamples: 1000001\n")
    assert "less than or equal to 1000000" in errs["samples"]


def test_sweep_types_and_duplicates(tmp_path):
    errs = sweep_errors(tmp_path, SWEEP + "batch: yes\nseed: -1\n")
    assert "valid integer, got True" in errs["batch"] and "greater than or equal to 0" in errs["seed"]
    errs = sweep_errors(tmp_path, SWEEP + "version: 1\n")
    assert errs == {"<root>": "duplicate key 'version' (lines 1 and 4)"}
    errs = sweep_errors(tmp_path, SWEEP.replace("version: 1", "version: true"))
    assert "valid integer, got True" in errs["version"]


# ---- bitwidth files ------------------------------------------------------------------------------
def bitwidth_errors(tmp_path, text: str, name: str = "bw.json") -> dict[str, str]:
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(BitwidthsFileError) as e:
        load_bitwidths(p)
    assert isinstance(e.value, InputError) and str(p) in str(e.value)
    return dict(e.value.errors)


def test_bitwidth_files_written_by_joint_still_load(tmp_path):
    p = write_bitwidths(tmp_path / "bw.json", {"/c1/Conv": {"weights": 4, "activations": 8, "block": "L0", "op": "k3_e1"}},
                        PrecisionLaw())
    assert load_bitwidths(p).pairs() == {"/c1/Conv": (4, 8)}
    p.write_text(p.read_text().replace("\n ", "\n\t"))  # tab-indented JSON
    assert load_bitwidths(p).pairs() == {"/c1/Conv": (4, 8)}
    y = tmp_path / "bw.yaml"  # or YAML
    y.write_text(f"format: {BITWIDTHS_FORMAT}\nlayers:\n  c1: {{weights: 4, activations: 4}}\n")
    assert load_bitwidths(y).precision_law == PrecisionLaw()


@pytest.mark.parametrize("layer,path,rule", [
    ('{"weights": true, "activations": 8}', "layers.c1.weights", "valid integer, got True (bool)"),
    ('{"weights": "4", "activations": 8}', "layers.c1.weights", "valid integer, got '4' (str)"),
    ('{"weights": 4.0, "activations": 8}', "layers.c1.weights", "valid integer"),
    ('{"weights": NaN, "activations": 8}', "layers.c1.weights", "valid integer"),
    ('{"weights": 0, "activations": 8}', "layers.c1.weights", "greater than or equal to 1"),
    ('{"weights": 4, "activations": 33}', "layers.c1.activations", "less than or equal to 32"),
    ('{"weights": 4, "activations": 99999999999999999999999}', "layers.c1.activations", "less than or equal to 32"),
    ('{"weights": 4, "activations": 8, "bits": 8}', "layers.c1.bits", "unknown key"),
])
def test_bitwidth_file_values(tmp_path, layer, path, rule):
    errs = bitwidth_errors(tmp_path, f'{{"format": "{BITWIDTHS_FORMAT}", "layers": {{"c1": {layer}}}}}')
    assert rule in errs[path], errs


def test_bitwidth_file_structure(tmp_path):
    doc = '{\n "format": "accelsim-bitwidths/1",\n "layers": {\n  "c1": {"weights": 4, "activations": 4},\n' \
          '  "c1": {"weights": 8, "activations": 8}\n }\n}\n'
    assert bitwidth_errors(tmp_path, doc) == {"layers": "duplicate key 'c1' (lines 4 and 5)"}
    errs = bitwidth_errors(tmp_path, json.dumps({"format": "accelsim-bitwidths/2", "layers": {}}))
    assert "unsupported bitwidths format 'accelsim-bitwidths/2'" in errs["format"]
    errs = bitwidth_errors(tmp_path, json.dumps({"format": BITWIDTHS_FORMAT, "law": {"name": "bitfusion", "brick_bits": 0},
                                                 "layers": {}}))
    assert "greater than or equal to 1" in errs["law.brick_bits"]
    assert bitwidth_errors(tmp_path, "[1, 2]") == {"<root>": "the bitwidths file must be a mapping (a JSON object)"}
    assert "not valid JSON" in next(iter(bitwidth_errors(tmp_path, '{"format": ').values()))


def test_cli_eval_refuses_a_bad_bitwidth_file(tmp_path, capsys):
    from accel.app.cli import main

    p = tmp_path / "bw.json"
    p.write_text('{"format": "accelsim-bitwidths/1", "layers": {"c1": {"weights": 4, "activations": 4}, '
                 '"c1": {"weights": 8, "activations": 8}}}')
    rc = main(["eval", "alexnet", "--hw", str(ROOT / "configs" / "eyeriss.yaml"), "--bitwidths", str(p)])
    err = capsys.readouterr().err
    assert rc == 1 and "duplicate key 'c1' (lines 1 and 1)" in err and str(p) in err and "Traceback" not in err


def test_cli_reports_config_errors_with_paths(tmp_path, capsys):
    from accel.app.cli import main

    p = tmp_path / "hw.yaml"
    p.write_text(edit("clock_mhz: 200", "clock_mhz: .inf"))
    rc = main(["map", "--hw", str(p), "--layer", "conv K=16 C=16 P=8 Q=8"])
    err = capsys.readouterr().err
    assert rc == 1 and "clock_mhz: must be a finite number, got inf" in err and "Traceback" not in err


# ---- files that are not regular files, empty names, range messages ---------------------------------
@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="needs POSIX named pipes")
def test_named_pipes_are_refused_before_reading(tmp_path):
    import os

    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)  # nobody writes: opening it for reading would block forever
    for load, err in ((load_arch, ConfigError), (load_sweep, SweepSpecError), (load_bitwidths, BitwidthsFileError)):
        with pytest.raises(err) as e:
            load(fifo)
        assert str(fifo) in str(e.value) and dict(e.value.errors) == {"<file>": "not a regular file (a pipe, socket "
                                                                                "or device)"}


@pytest.mark.parametrize("old,new,path", [
    ("name: eyeriss", 'name: ""', "name"),
    ("name: eyeriss", 'name: "  "', "name"),
    ("  - name: GLB", '  - name: ""', "levels[1].name"),
])
def test_empty_names_are_refused(tmp_path, old, new, path):
    assert config_errors(tmp_path, edit(old, new))[path] == "must not be empty or blank"


def test_range_errors_name_the_range_keys(tmp_path):
    errs = sweep_errors(tmp_path, SWEEP + "parameters:\n  - {path: clock_mhz, range: {start: 1, stop: 1e300, "
                                          "factor: 1.0000001}}\n")
    assert "factor 1.0000001" in errs["parameters[0].range"] and "stop 1e+300" in errs["parameters[0].range"]
    # every value of a range past a config bound: one line for the range (naming stop), not one per value
    errs = sweep_errors(tmp_path, SWEEP + "parameters:\n  - {path: pe_array.rows, range: {start: 1, stop: 1e30, "
                                          "factor: 2}}\n")
    bad = [k for k in errs if k.startswith("parameters[0].range")]
    assert len(bad) == 1 and "more of the values of parameters[0].range" in errs[bad[0]] and "stop 1e+30" in errs[bad[0]]
