"""accelsim xcheck: configs, statistics, BBSSP correction, kernel→layer mapping, CLI errors, and a small real
cross-check (5 NB201 cells, committed tuning database, TVM build + measure, onnxruntime reference).

The real cross-check asserts the pipeline's invariants — every kernel is in the database, TVM's outputs match
onnxruntime's, every network is measured twice and mapped back to layers — never a latency.  TVM pieces skip
when apache-tvm is not importable; the onnxruntime pipeline still runs then."""

import json

import numpy as np
import pytest

from accel.arch import load_arch
from accel.app.cli import main
from accel.workload import Layer
from accel.app.xcheck import DEFAULT_DB, _kernel_key, _layer_key, narrow_arch, rank_stats
from nas.latency_table import fit_type_correction, split_train
from nas.registry import sample_specs
from tests.conftest import ROOT

CPU = ROOT / "configs" / "cpu-host.yaml"


def _tvm_why():
    from accel.app.measure import tvm_available

    return tvm_available()


def _ort_why():
    from accel.app.measure import ort_available

    return ort_available()


def test_host_configs_load_and_narrow():
    # the host and the H200 are processor device configs (accel/device.py): narrowing sets the CPU's threads
    cpu, gpu = load_arch(CPU), load_arch(ROOT / "configs" / "gpu-h200.yaml")
    assert cpu.kind == "cpu" and cpu.config.cores == 2 and gpu.kind == "gpu" and gpu.config.cores == 132
    assert narrow_arch(cpu, 1).threads == 1
    assert narrow_arch(cpu, 4).threads == 2
    assert narrow_arch(gpu, 1) is gpu


def test_bbssp_correction_recovers_planted_coefficients():
    """The one BBSSP correction (nas.latency_table): per-type factors, no intercept; a type no training
    network has gets the global factor (the one factor of all types that fits the training networks best)."""
    rng = np.random.default_rng(3)
    types = ["conv1x1", "conv3x3", "conv5x5", "dwconv3x3", "fc", "avgpool", "add"]
    X = rng.uniform(1e-4, 1e-3, size=(12, len(types)))
    X[:, 3] = 0.0  # a type no network has
    alpha = np.array([2.0, 3.5, 1.0, 0.0, 0.5, 4.0, 1.5])
    y = X @ alpha
    corr = fit_type_correction(X, types, y)
    np.testing.assert_allclose(corr.predict_matrix(X, types), y, rtol=1e-6)
    fitted = [corr.factors[t] for i, t in enumerate(types) if i != 3]
    np.testing.assert_allclose(fitted, alpha[[0, 1, 2, 4, 5, 6]], rtol=1e-4)
    r = X.sum(axis=1) / y  # least squares of g·r_n − 1: g = Σ r / Σ r²
    assert corr.factors["dwconv3x3"] == corr.default_factor == pytest.approx(r.sum() / (r @ r))


def test_rank_stats_ties_and_split():
    s = rank_stats([1, 1, 2, 3], [1.0, 1.1, 2.0, 3.0])
    assert s["spearman"] == pytest.approx(0.9486832980505138)
    assert s["kendall"] == pytest.approx(0.9128709291752769)  # tau-b: corrected for the tie
    assert s["mape_pct"] == pytest.approx(100 * (0.1 / 1.1) / 4)
    m = split_train(10, 0.5, 0, min_each=2)
    assert m.sum() == 5 and (split_train(10, 0.5, 0, min_each=2) == m).all()
    assert split_train(4, 0.9, 0, min_each=2).sum() == 2


def test_kernel_keys_match_layer_keys():
    conv = Layer("c", "conv", K=32, C=16, P=16, Q=16, R=3, S=3, stride=(2, 2))
    k = {"kernel": "fused_conv2d3_add2_relu1", "arg_shapes": [(1, 16, 32, 32), (32, 16, 3, 3), (1, 32, 1, 1),
                                                             (1, 32, 16, 16)]}
    assert _kernel_key(k) == _layer_key(conv)
    dw = Layer("d", "conv", G=96, K=1, C=1, P=8, Q=8, R=5, S=5)
    kd = {"kernel": "fused_conv2d9_add", "arg_shapes": [(1, 96, 8, 8), (96, 1, 5, 5), (1, 96, 1, 1), (1, 96, 8, 8)]}
    assert _kernel_key(kd) == _layer_key(dw)
    fc = Layer("f", "fc", K=10, C=64)
    assert _kernel_key({"kernel": "fused_matmul_add7", "arg_shapes": [(1, 64), (64, 10), (10,), (1, 10)]}) == _layer_key(fc)
    assert _kernel_key({"kernel": "relu2", "arg_shapes": [(1, 64, 8, 8), (1, 64, 8, 8)]}) is None


def test_allocator_is_a_choice_as_in_calibrate(tmp_path, capsys):
    """``--allocator`` (accel.app.options.add_allocator_option): the same option as ``accelsim calibrate``'s."""
    with pytest.raises(SystemExit) as e:
        main(["xcheck", "--hw", str(CPU), "--space", "nb201", "--sample", "3", "--allocator", "tcmalloc",
              "-o", str(tmp_path / "x.json")])
    assert e.value.code == 2 and "invalid choice: 'tcmalloc'" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


# ---- CLI errors -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, msg", [
    (["xcheck", "--hw", str(CPU)], "nothing to cross-check"),
    (["xcheck", "--hw", str(CPU), "--sample", "3"], "--sample needs --space"),
    (["xcheck", "--hw", str(CPU), "--network", "nb201:bad"], "nb201:bad"),
    (["xcheck", "--hw", str(CPU), "--network", "layer:conv K=8 C=8 P=4 Q=4", "--network", "resnet18",
      "--network", "alexnet"], "single layer"),
    (["xcheck", "--hw", str(CPU), "--space", "nope", "--sample", "3"], "unknown search space"),
    (["xcheck", "--hw", str(CPU), "--network", "resnet18", "--network", "nope", "--network", "alexnet"], "unknown network"),
    (["xcheck", "--hw", str(CPU), "--network", "x.onnx", "--network", "resnet18", "--network", "alexnet"], "no such ONNX"),
    (["xcheck", "--hw", str(CPU), "--network", "resnet18", "--network", "alexnet"], "at least 3"),
    (["xcheck", "--hw", str(CPU), "--space", "nb201", "--sample", "3", "--repeats", "2"], "protocol"),
    (["xcheck", "--hw", "configs/nope.yaml", "--space", "nb201", "--sample", "3"], "nope.yaml"),
])
def test_cli_errors_are_clean(argv, msg, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err


def test_cli_usage_error_and_missing_db(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["xcheck", "--hw", str(CPU), "--backend", "cuda"])
    assert e.value.code == 2
    if _tvm_why():
        pytest.skip(_tvm_why())
    assert main(["xcheck", "--hw", str(CPU), "--space", "nb201", "--sample", "3",
                 "--tuning-db", str(tmp_path / "empty")]) == 1
    assert "no MetaSchedule tuning database" in capsys.readouterr().err


def test_gpu_backend_skips_with_message(capsys):
    from accel.app.measure import gpu_available

    if gpu_available() is None:
        pytest.skip("a GPU is present: the GPU cross-check runs instead of skipping")
    assert main(["xcheck", "--hw", "configs/gpu-h200.yaml", "--space", "nb201", "--sample", "3",
                 "--backend", "tvm-gpu"]) == 0
    assert "skipping the GPU cross-check" in capsys.readouterr().err


# ---- the real thing ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx")


def test_real_crosscheck_invariants(onnx_cache, tmp_path):
    """≥ 5 networks, committed database, build + measure; TVM outputs equal onnxruntime's to 1e-4."""
    pytest.importorskip("torch")
    if _ort_why():
        pytest.skip(_ort_why())
    from accel.app.xcheck import run_xcheck, to_json

    backends = ("ort",) if _tvm_why() else ("tvm", "ort")
    names = sample_specs("nb201", 20, 0)[:5]
    out = run_xcheck(names, load_arch(CPU), backends, db_dir=DEFAULT_DB, cache_dir=onnx_cache)
    df = out["networks"]
    for b in backends:
        sub = df[df.backend == b]
        assert sorted(sub.network) == sorted(names)  # nothing refused: every kernel is in the database
        assert (sub.measured_s > 0).all() and (sub.predicted_s > 0).all()
        assert (sub.measured_s <= sub[["measured_pass1_s", "measured_pass2_s"]].min(axis=1) + 1e-15).all()
        s = out["summary"][b]
        assert s["networks"] == 5 and -1 <= s["spearman"] <= 1 and -1 <= s["test_retest_spearman"] <= 1
        assert s["correction"]["train_networks"] + s["correction"]["heldout_networks"] == 5
    js = to_json(out)
    assert {"backend", "networks", "spearman", "kendall", "macs_spearman", "macs_kendall",
            "test_retest_spearman"} <= set(js[0])
    assert set(js[0]["networks"][0]) >= {"name", "macs", "predicted_ms", "measured_ms"}
    json.dumps(js)
    assert js[0]["allocator"] == "system" and df.attrs["allocator_setting"].startswith("allocator system")
    if "tvm" in backends:
        assert out["refused"]["tvm"] == {}
        assert len(out["numerics"]) == 5 and max(out["numerics"].values()) <= 1e-4
        lay = out["layers"]
        assert set(lay.network) == set(names)
        matched = lay.dropna(subset=["layer"])
        # every conv / matmul kernel maps back to an accelsim layer
        conv = lay[lay.kernel.str.contains("conv2d|matmul")]
        assert len(conv) and conv.layer.notna().all()
        assert (matched.measured_s > 0).all() and (matched.predicted_s > 0).all()


def test_untuned_network_is_refused(onnx_cache):
    """A network whose kernels are not all in the database gets no TVM latency."""
    pytest.importorskip("torch")
    if _tvm_why():
        pytest.skip(_tvm_why())
    from accel.app import measure as M
    from accel.app.xcheck import export_network

    target = M.cpu_target(1)
    db = M.open_database(DEFAULT_DB)
    tuned = M.relax_module(export_network(sample_specs("nb201", 20, 0)[0], onnx_cache), target)
    assert M.missing_kernels(tuned, target, db) == []
    other = M.relax_module(export_network("mbconv_cifar:e6k7-e6k7-e6k7-e6k7-e6k7-e6k7", onnx_cache), target)
    assert M.missing_kernels(other, target, db)
