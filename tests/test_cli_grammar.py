"""One command-line grammar (issue 11): every option documented, one spelling per concept (old spellings
only as deprecated aliases that warn), single-valued options given once, validated values, and the
command line's error contract (one message, no traceback; internal errors reported as such)."""

from __future__ import annotations

import argparse

import pytest

import accel.app.cli as cli
from accel.app.cli import build_parser, main
from accel.app.options import MAX_BUDGET, StoreOnce
from tests.conftest import ROOT

EYERISS = str(ROOT / "configs" / "eyeriss.yaml")
LAYER = "conv K=8 C=8 P=4 Q=4 R=3 S=3"
FORBIDDEN = {"--ref-hw", "--hw-space", "--workers", "--threads", "--top-k"}
RESULT_COMMANDS = {"eval", "map", "nas", "nas-proxies", "nas-predictor", "nas-latency", "sweep", "codesign",
                   "rankcorr", "plot", "xcheck", "joint", "timeloop", "table", "calibrate"}
MAPPER_COMMANDS = {"eval", "map", "plot", "sweep", "codesign", "nas", "nas-latency", "rankcorr", "xcheck", "joint", "table"}


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    p = build_parser()
    (sub,) = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


SUBS = _subparsers()


def _actions(name: str):
    return [a for a in SUBS[name]._actions if not isinstance(a, argparse._HelpAction)]


def test_every_command_is_covered():
    assert set(SUBS) == RESULT_COMMANDS | {"configs", "warmup"}  # warmup: builds accel/_kernel_cache, no result


@pytest.mark.parametrize("name", sorted(SUBS))
def test_every_option_has_help(name):
    assert SUBS[name].description, f"{name}: no description"
    for a in _actions(name):
        assert a.help and a.help.strip(), f"accelsim {name} {'/'.join(a.option_strings) or a.dest}: no help text"


@pytest.mark.parametrize("name", sorted(SUBS))
def test_no_forbidden_spellings_except_deprecated_aliases(name):
    for a in _actions(name):
        for s in a.option_strings:
            if s in FORBIDDEN:
                assert s in getattr(a, "deprecated", ()), f"accelsim {name}: {s} is not a deprecated alias"
    assert not FORBIDDEN & set(SUBS[name].format_help().replace(",", " ").split()), "deprecated spelling in --help"


@pytest.mark.parametrize("name", sorted(RESULT_COMMANDS))
def test_result_commands_take_output_and_force(name):
    opts = {s for a in _actions(name) for s in a.option_strings}
    assert {"-o", "--output", "--force"} <= opts


@pytest.mark.parametrize("name", sorted(MAPPER_COMMANDS))
def test_effort_option(name):
    (a,) = [a for a in _actions(name) if "--effort" in a.option_strings]
    assert tuple(a.choices) == ("fast", "default", "thorough") and a.default == "default"


@pytest.mark.parametrize("name", sorted(SUBS))
def test_values_are_typed_by_the_shared_helpers(name):
    """No raw ``type=int`` / ``type=float``: every number goes through accel.app.options (finite, ranged),
    and every plain store option is single-valued (StoreOnce)."""
    for a in _actions(name):
        assert a.type not in (int, float), f"accelsim {name} {a.option_strings}: raw {a.type.__name__}"
        if type(a) is argparse._StoreAction:
            pytest.fail(f"accelsim {name} {a.option_strings}: plain store action (repeats would be last-wins)")
        if a.option_strings and isinstance(a, argparse._StoreAction):
            assert isinstance(a, StoreOnce)


def _float_options():
    for name in sorted(SUBS):
        for a in _actions(name):
            if a.type is not None and (a.type.__name__.startswith("float") or a.type.__name__ == "finite_float"):
                yield name, a.option_strings[0]


@pytest.mark.parametrize("name, opt", list(_float_options()))
@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "NaN"])
def test_non_finite_floats_are_refused(name, opt, bad, capsys):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args([name, f"{opt}={bad}"])
    assert e.value.code == 2
    assert f"argument {opt}: must be a finite number" in capsys.readouterr().err


def test_there_are_float_options_to_check():
    names = {o for _, o in _float_options()}
    assert {"--latency-weight", "--max-latency-ms", "--min-accuracy", "--crossover", "--train-fraction"} <= names


@pytest.mark.parametrize("argv, needle", [
    (["nas", "--hw", "x", "--population", "0"], "argument --population: must be an integer in [1, 1,000,000]"),
    (["nas", "--hw", "x", "--population", "-5"], "argument --population"),
    (["nas", "--hw", "x", "--tournament", "0"], "argument --tournament"),
    (["nas", "--hw", "x", "--jobs", "0"], "argument --jobs: must be an integer in [1, 1,024]"),
    (["nas", "--hw", "x", "--budget", str(MAX_BUDGET + 1)], "argument --budget"),
    (["nas", "--hw", "x", "--latency-weight", "-1"], "argument --latency-weight: must be >= 0"),
    (["nas", "--hw", "x", "--max-latency-ms", "0"], "argument --max-latency-ms: must be > 0"),
    (["nas", "--hw", "x", "--batch", "0"], "argument --batch"),
    (["eval", "resnet18", "--hw", "x", "--batch", "0"], "argument --batch"),
    (["eval", "resnet18", "--hw", "x", "--seed", "-1"], "argument --seed"),
    (["sweep", "s.yaml", "--workload", "w", "-o", "o.parquet", "--jobs", "0"], "argument --jobs"),
    (["sweep", "s.yaml", "--workload", "w", "-o", "o.parquet", "--batch-size", "0"], "argument --batch-size"),
    (["codesign", "--hw", "x", "--sweep", "s", "--nas-budget", "10000000"], "argument --nas-budget"),
    (["codesign", "--hw", "x", "--sweep", "s", "--min-accuracy", "101"], "argument --min-accuracy: must be in [0, 100]"),
    (["rankcorr", "--sample", "1"], "argument --sample"),
    (["rankcorr", "--sample", "15626"], "argument --sample"),
    (["rankcorr", "--top", "0"], "argument --top"),
    (["nas-proxies", "--archs", "2"], "argument --archs"),
    (["nas-latency", "--hw", "a", "--measured-hw", "b", "--train-fraction", "1"], "argument --train-fraction"),
    (["joint", "--space", "fbnet", "--data", "synthetic", "--sweep", "s", "--epochs", "0", "--latency-weight", "1",
      "-o", "d"], "argument --epochs"),
    (["joint", "--space", "fbnet", "--data", "synthetic", "--sweep", "s", "--epochs", "1", "--latency-weight", "-2",
      "-o", "d"], "argument --latency-weight"),
    (["xcheck", "--hw", "x", "--intra-op-threads", "0"], "argument --intra-op-threads"),
])
def test_option_rules(argv, needle, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err, err


@pytest.mark.parametrize("argv, needle", [
    (["nas", "--hw", EYERISS, "--tournament", "60"], "--tournament 60 exceeds --population 50"),
    (["nas-proxies", "--archs", "20000"], "--archs 20000 exceeds the 15,625 archs"),
    (["nas-latency", "--hw", EYERISS, "--measured-hw", EYERISS, "--networks", "20000"], "exceeds the 15,625"),
    (["nas-predictor", "--train", "10000", "--test", "10000"], "exceeds the 15625 archs"),
    (["xcheck", "--hw", EYERISS, "--space", "nb201", "--sample", "20000"], "cannot draw 20,000 distinct archs: the nb201 space holds 15,625"),
])
def test_cross_option_rules(argv, needle, capsys):
    assert main(argv) == 1
    assert needle in capsys.readouterr().err


@pytest.mark.parametrize("argv, opt", [
    (["map", "--hw", "a", "--hw", "b", "--layer", LAYER], "--hw"),
    (["eval", "resnet18", "--hw", "a", "--seed", "1", "--seed", "2"], "--seed"),
    (["codesign", "--hw", "a", "--ref-hw", "b", "--sweep", "s"], "--hw"),  # two spellings, one option
    (["nas", "--hw", "a", "--budget", "5", "--budget", "6"], "--budget"),
    (["sweep", "s.yaml", "--workload", "w", "-o", "a.parquet", "--output", "b.parquet"], "-o/--output"),
    (["joint", "--space", "fbnet", "--space", "fbnet", "--data", "synthetic", "--sweep", "s", "--epochs", "1",
      "--latency-weight", "1", "-o", "d"], "--space"),
])
def test_repeated_single_valued_option_is_an_error(argv, opt, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert f"argument {opt}: given more than once" in capsys.readouterr().err


def test_append_options_keep_append_semantics():
    a = build_parser().parse_args(["rankcorr", "--hw", "a", "--hw", "b", "--hw", "c"])
    assert a.hw == ["a", "b", "c"]
    a = build_parser().parse_args(["sweep", "s", "--workload", "x", "--workload", "y", "-o", "o.parquet"])
    assert a.workload == ["x", "y"]


DEPRECATED = [  # (argv with the old spelling, the new spelling, dest, expected value)
    (["codesign", "--ref-hw", "eyeriss", "--sweep", "s"], "--ref-hw", "--hw", "hw", "eyeriss"),
    (["codesign", "--hw", "x", "--sweep", "s", "--nas-seed", "3"], "--nas-seed", "--seed", "seed", 3),
    (["rankcorr", "--top-k", "7"], "--top-k", "--top", "top", 7),
    (["joint", "--space", "fbnet", "--data", "synthetic", "--hw-space", "s.yaml", "--epochs", "1",
      "--latency-weight", "1", "-o", "d"], "--hw-space", "--sweep", "sweep", "s.yaml"),
    (["joint", "--space", "fbnet", "--data", "synthetic", "--sweep", "s.yaml", "--epochs", "1",
      "--latency-weight", "1", "-o", "d", "--workers", "2"], "--workers", "--jobs", "jobs", 2),
    (["nas-proxies", "--threads", "2"], "--threads", "--torch-threads", "torch_threads", 2),
    (["xcheck", "--hw", "x", "--threads", "2"], "--threads", "--intra-op-threads", "intra_op_threads", 2),
]


@pytest.mark.parametrize("argv, old, new, dest, value", DEPRECATED)
def test_deprecated_alias_works_and_warns(argv, old, new, dest, value, capsys):
    args = build_parser().parse_args(argv)
    assert getattr(args, dest) == value
    assert f"accelsim: warning: {old} is deprecated; use {new}" in capsys.readouterr().err
    args = build_parser().parse_args([new if a == old else a for a in argv])
    assert getattr(args, dest) == value and "deprecated" not in capsys.readouterr().err


def test_every_deprecated_alias_is_tested():
    declared = {s for name in SUBS for a in _actions(name) for s in getattr(a, "deprecated", ())}
    assert declared == {old for _, old, *_ in DEPRECATED} | {"--nas-seed"}


def test_deprecated_alias_end_to_end(capsys, tmp_path):
    out = tmp_path / "r.json"
    assert main(["rankcorr", "--hw", EYERISS, "--hw", "tpu-v1", "--sample", "5", "--top-k", "2", "-o", str(out)]) == 0
    assert "--top-k is deprecated; use --top" in capsys.readouterr().err
    import json

    assert json.loads(out.read_text())["top_k"] == 2


def test_eval_help_names_real_listings(capsys):
    from accel.zoo import list_networks

    text = SUBS["eval"].format_help()
    assert "--list" not in text
    assert sorted(cli.ZOO_NETWORKS.split(", ")) == sorted(list_networks())


def test_map_accepts_the_old_text_format(capsys):
    assert main(["map", "--hw", EYERISS, "--layer", LAYER, "--effort", "fast", "--format", "text"]) == 0
    assert "latency:" in capsys.readouterr().out


def test_effort_changes_the_mapper_budget(capsys):
    import json

    evals = {}
    for effort in ("fast", "default", "thorough"):
        assert main(["map", "--hw", EYERISS, "--layer", "conv K=64 C=64 P=28 Q=28 R=3 S=3", "--format", "json",
                     "--effort", effort]) == 0
        evals[effort] = json.loads(capsys.readouterr().out)["evaluations"]
    assert evals["fast"] < evals["default"] == evals["thorough"]


# ---------------------------------------------------------------------------------------------
# Error contract of main()
# ---------------------------------------------------------------------------------------------
def _boom(exc):
    def handler(args):
        raise exc
    return handler


def test_internal_error_is_reported_without_traceback(monkeypatch, capsys):
    monkeypatch.setattr(cli, "cmd_map", _boom(ZeroDivisionError("division by zero")))
    assert main(["map", "--hw", EYERISS, "--layer", LAYER]) == 3
    err = capsys.readouterr().err
    assert "accelsim: internal error — please report: ZeroDivisionError: division by zero" in err
    assert "Traceback" not in err
    assert main(["--debug", "map", "--hw", EYERISS, "--layer", LAYER]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError" in err


def test_keyboard_interrupt_exits_130(monkeypatch, capsys):
    monkeypatch.setattr(cli, "cmd_map", _boom(KeyboardInterrupt()))
    assert main(["map", "--hw", EYERISS, "--layer", LAYER]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err


def test_accelsim_errors_are_one_line(monkeypatch, capsys):
    from accel.errors import MappingError

    monkeypatch.setattr(cli, "cmd_map", _boom(MappingError("no valid mapping: spad too small")))
    assert main(["map", "--hw", EYERISS, "--layer", LAYER]) == 1
    assert capsys.readouterr().err == "accelsim: error: no valid mapping: spad too small\n"


def test_joint_accepts_the_shipped_sweep_spec(capsys):
    """configs/sweeps/demo.yaml sweeps global bitwidths and has a power budget; joint leaves both out with a
    warning and keeps the other four parameters as design dimensions."""
    from accel.app.cli_joint import joint_sweep

    hw = joint_sweep(str(ROOT / "configs" / "sweeps" / "demo.yaml"))
    err = capsys.readouterr().err
    assert "bitwidths.weights, bitwidths.inputs) left out" in err and "max_power_mw" not in err
    assert hw.max_power_mw == 250  # applied by the joint search (issue 15)
    assert [d.name for d in hw.dims] == ["pe_array.rows,pe_array.cols", "levels.GLB.size_bytes",
                                        "levels.spad.partitions_bytes.weights",
                                        "levels.DRAM.read_bandwidth_bits,levels.DRAM.write_bandwidth_bits"]
    assert hw.n_designs + hw.dropped == 4 * 4 * 3 * 3
    assert all(a.config.bitwidths.weights == 16 for a in hw.archs)  # the base config's, not a swept value
