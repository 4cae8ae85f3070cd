"""``accelsim joint`` end to end on synthetic data: artifacts, their consistency, error handling."""

import json
import subprocess
import sys
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from accel.arch import load_arch  # noqa: E402
from accel.app.cli import main  # noqa: E402
from accel.onnx_import import load_onnx_network  # noqa: E402
from nas.joint.precision import evaluate_with_bitwidths, load_bitwidths  # noqa: E402
from nas.joint.space import OPS, FBNetSpace  # noqa: E402

from .conftest import ROOT  # noqa: E402

HW_SPACE = f"""version: 1
name: joint-ci
base: {ROOT / 'configs' / 'eyeriss.yaml'}
parameters:
  - path: [pe_array.rows, pe_array.cols]
    values: [[12, 14], [6, 28]]
  - path: [levels.GLB.size_bytes, levels.GLB.read_energy_pj, levels.GLB.write_energy_pj]
    values: [[27648, 12.0, 12.0], [110592, 24.0, 24.0]]
"""
TINY_ARGS = ["--space", "fbnet", "--data", "synthetic", "--epochs", "3", "--warmup-epochs", "1", "--latency-weight", "2",
             "--bits", "4,8", "--width-mult", "0.25", "--max-depth", "1", "--stages", "2", "--resolution", "16",
             "--train-samples", "600", "--test-samples", "200", "--batch-size", "32", "--finetune-epochs", "1",
             "--jobs", "2"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("joint")
    spec = d / "hw.yaml"
    spec.write_text(HW_SPACE)
    out = d / "run"
    threads = torch.get_num_threads()
    t0 = time.process_time()  # CPU seconds of all threads: independent of other load on the machine
    try:
        rc = main(["joint", *TINY_ARGS, "--sweep", str(spec), "--objective", "gen-gap", "--compare", "-o", str(out)])
    finally:
        torch.set_num_threads(threads)
    return rc, out, time.process_time() - t0


def test_joint_run_completes_with_artifacts(run):
    rc, out, cpu_s = run
    assert rc == 0
    assert cpu_s < 2 * 120, f"accelsim joint used {cpu_s:.0f} CPU s: more than 2 minutes on 2 cores"
    for f in ("network.onnx", "bitwidths.json", "accelerator.yaml", "curves.png", "summary.json", "history.parquet",
              "cost_table.parquet"):
        assert (out / f).stat().st_size > 0, f
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    s = json.loads((out / "summary.json").read_text())
    for k in ("accuracy", "latency_ms", "energy_mj", "edp"):
        assert isinstance(s[k], float) and s[k] > 0, k
    assert 0 <= s["accuracy"] <= 1
    assert s["edp"] == pytest.approx(s["energy_pj"] * s["latency_ms"] * 1e-3, rel=1e-12)
    assert s["search"]["objective"] == "gen-gap" and s["search"]["designs"] == 4
    assert set(s["baselines"]) == {"reference_accelerator", "decoupled"}
    for b in s["baselines"].values():
        assert b["latency_ms"] > 0 and 0 <= b["accuracy"] <= 1


def test_exported_design_reevaluates_to_the_summary(run):
    """network.onnx + accelerator.yaml + bitwidths.json → the summary's latency and energy (what
    ``accelsim eval run/network.onnx --hw run/accelerator.yaml --bitwidths run/bitwidths.json`` computes)."""
    rc, out, _ = run
    s = json.loads((out / "summary.json").read_text())
    arch = load_arch(out / "accelerator.yaml")
    net = load_onnx_network(out / "network.onnx")
    res = evaluate_with_bitwidths(net, arch, out / "bitwidths.json", s["mapping"]["objective"], s["mapping"]["seed"])
    assert 1e3 * res.latency_s == pytest.approx(s["latency_ms"], rel=1e-12)
    assert 1e-9 * res.energy_pj == pytest.approx(s["energy_mj"], rel=1e-12)
    # the cost table the search used predicted exactly this (same mapper calls)
    assert s["predicted_latency_ms"] == pytest.approx(s["latency_ms"], rel=1e-9)
    # the accelerator is the searched design: its swept values are in the YAML
    p = s["accelerator"]["params"]
    assert arch.config.pe_array.rows == p["hw.pe_array.rows"] and arch.config.pe_array.cols == p["hw.pe_array.cols"]
    assert arch.config.levels[1].size_bytes == p["hw.levels.GLB.size_bytes"]
    # bitwidths are keyed by ONNX node names of the exported graph, one entry per quantized layer
    import onnx

    names = {n.name for n in onnx.load(str(out / "network.onnx")).graph.node}
    bw = load_bitwidths(out / "bitwidths.json")
    assert bw.layers and set(bw.layers) <= names
    per_block = {}
    for v in bw.layers.values():
        per_block.setdefault(v.block, set()).add((v.weights, v.activations))
    for block, pairs in per_block.items():  # one precision per searchable layer, the one the summary reports
        assert pairs == {tuple(s["network"]["bits"][int(block[1:])])}
    space = FBNetSpace.cifar(width_mult=0.25, max_depth=1, num_stages=2, resolution=16)  # TINY_ARGS
    identity = {i for i, (slot, op) in enumerate(zip(space.slots, s["network"]["ops"]))
                if op == "skip" and slot.residual(OPS[8])}
    assert set(per_block) == {f"L{i}" for i in range(space.n_slots) if i not in identity}
    assert res.meta["bitwidths"] and all(tuple(v) in {(4, 4), (8, 8)} for v in res.meta["bitwidths"].values())
    # the same network without per-layer precisions costs differently (the bitwidths matter)
    from mapper.network import evaluate_network

    assert evaluate_network(net, arch).latency_s != res.latency_s


def test_history_and_curves_content(run):
    import pandas as pd

    _, out, _ = run
    h = pd.read_parquet(out / "history.parquet")
    phases = set(h["phase"])
    assert {"warmup", "search", "search-epoch", "finetune", "decoupled-search", "decoupled-finetune"} <= phases
    ep = h[h["phase"] == "search-epoch"]
    assert len(ep) == 2 and ep["design_prob"].between(0, 1).all()
    srch = h[h["phase"] == "search"]
    assert np.isfinite(srch["val_loss_weights"]).all()  # gen-gap: the weight step saw a validation batch
    assert (srch["sampled_latency_ms"] > 0).all()


def test_joint_bad_input(tmp_path, capsys):
    spec = tmp_path / "hw.yaml"
    spec.write_text(HW_SPACE)
    cases = [
        (["--sweep", str(tmp_path / "none.yaml")], "no such file"),
        (["--sweep", str(spec), "--data", str(tmp_path)], "no CIFAR binary files"),
    ]
    bad = tmp_path / "bad.yaml"
    bad.write_text(HW_SPACE.replace("parameters:", "mode: random\nsamples: 4\nparameters:")
                   + "  - path: levels.DRAM.read_bandwidth_bits\n    uniform: {low: 32, high: 128}\n")
    cases.append((["--sweep", str(bad)], "continuous (uniform) parameters cannot be design choices"))
    for extra, msg in cases:
        args = list(TINY_ARGS)
        for opt in ("--data", "--bits"):  # single-valued: the case's value replaces the default one
            if opt in extra:
                i = args.index(opt)
                del args[i:i + 2]
        rc = main(["joint", *args, *extra, "-o", str(tmp_path / "out")])
        err = capsys.readouterr().err
        assert rc == 1 and msg in err and "Traceback" not in err, (extra, err)
    args = list(TINY_ARGS)  # a malformed --bits is a usage error naming the option (exit 2)
    if "--bits" in args:
        i = args.index("--bits")
        del args[i:i + 2]
    with pytest.raises(SystemExit) as e:
        main(["joint", *args, "--sweep", str(spec), "--bits", "4,banana", "-o", str(tmp_path / "o")])
    assert e.value.code == 2 and "argument --bits: bitwidth choice 'banana'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["joint", *TINY_ARGS, "--sweep", str(spec), "--epochs", "0", "-o", str(tmp_path / "o")])
    assert e.value.code == 2 and "argument --epochs: must be an integer in [1, 10,000]" in capsys.readouterr().err
    (tmp_path / "afile").write_text("x")
    rc = main(["joint", *TINY_ARGS, "--sweep", str(spec), "-o", str(tmp_path / "afile" / "run")])
    err = capsys.readouterr().err
    assert rc == 1 and "afile is not a directory" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "o").exists()  # failed runs leave no directory


def test_help_lists_joint_and_stays_light():
    out = subprocess.run([sys.executable, "-c", "import sys; from accel.app.cli import build_parser; build_parser(); "
                          "print(sorted(m for m in ('torch', 'onnx', 'numba') if m in sys.modules))"],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
    with pytest.raises(SystemExit) as e:
        main(["joint", "--help"])
    assert e.value.code == 0


def test_cli_eval_with_bitwidths_reproduces_the_summary(run, capsys):
    """The documented command itself: accelsim eval run/network.onnx --hw run/accelerator.yaml --bitwidths ..."""
    rc, out, _ = run
    s = json.loads((out / "summary.json").read_text())
    assert main(["eval", str(out / "network.onnx"), "--hw", str(out / "accelerator.yaml"), "--bitwidths",
                 str(out / "bitwidths.json"), "--objective", s["mapping"]["objective"], "--seed",
                 str(s["mapping"]["seed"]), "--format", "json"]) == 0
    total = json.loads(capsys.readouterr().out)["total"]
    assert 1e3 * total["latency_s"] == pytest.approx(s["latency_ms"], rel=1e-12)
    bad = out / "bad_bits.json"
    bad.write_text('{"layers": {"no_such_node": {"weights": 4, "activations": 4}}}')
    r = subprocess.run([sys.executable, "-m", "accel", "eval", str(out / "network.onnx"), "--hw",
                        str(out / "accelerator.yaml"), "--bitwidths", str(bad)], capture_output=True, text=True)
    assert r.returncode == 1 and "Traceback" not in r.stderr


def test_joint_runs_on_the_shipped_sweep_spec(tmp_path, capsys):
    """configs/sweeps/demo.yaml (global bitwidths swept, a power budget) is accepted: both are left out
    with a warning; the run writes its directory in one piece (no temp directory left next to it)."""
    threads = torch.get_num_threads()
    out = tmp_path / "demo"
    try:
        rc = main(["joint", "--space", "fbnet", "--data", "synthetic", "--sweep", str(ROOT / "configs" / "sweeps" / "demo.yaml"),
                   "--epochs", "2", "--warmup-epochs", "1", "--latency-weight", "2", "--bits", "8", "--width-mult", "0.25",
                   "--max-depth", "1", "--stages", "1", "--resolution", "16", "--train-samples", "100",
                   "--test-samples", "50", "--batch-size", "32", "--finetune-epochs", "0", "--jobs", "2", "-o", str(out)])
    finally:
        torch.set_num_threads(threads)
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "left out" in err and "max_power_mw" not in err  # the power budget applies (issue 15)
    s = json.loads((out / "summary.json").read_text())
    assert s["search"]["designs"] == 144
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]
    assert main(["joint", "--space", "fbnet", "--data", "synthetic", "--sweep", "x.yaml", "--epochs", "1",
                 "--latency-weight", "1", "-o", str(out)]) == 1
    assert "not empty; use --force" in capsys.readouterr().err and (out / "summary.json").exists()
