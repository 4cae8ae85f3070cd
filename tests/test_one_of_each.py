"""One implementation per concept (issue 11): every command resolves network strings with
nas.registry.resolve_network, samples with nas.registry.sample_architectures, builds torch models from the
blocks of accel.nn (one inverted-residual block, one ONNX exporter), uses one FBNetSpace, one BBSSP correction,
one Pareto routine and one output-size rule.  The tests feed the same inputs through every entry point and
check that the same networks / architectures come out."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from accel.errors import WorkloadInputError
from nas import mbconv, nb201
from nas.registry import get_space, parse_network_spec, resolve_network, sample_architectures, sample_specs
from tests.conftest import ROOT

EYERISS = str(ROOT / "configs" / "eyeriss.yaml")
OFA = "r160-w1.0-k3e3.k5e4-k3e3.k3e3.k3e3-k7e6s.k3e3-k3e3.k3e3.k3e3.k3e3-k5e3.k5e3"
CIFAR_MB = "e3k3-e6k5-e4k7-e3k3-e6k3-e4k5"
STRINGS = ["resnet18", "darts:DARTS_V2", "nb301:DARTS_V1", "nb201:123", f"mbconv:{OFA}", f"ofa:{OFA}",
           f"mbconv_cifar:{CIFAR_MB}", "fbnet:" + "-".join(["k3_e6"] * 22), "layer:conv K=64 C=32 P=14 Q=14 R=3 S=3"]


def _keys(net) -> list[tuple]:
    return [(la.op, la.dims, la.stride, la.dilation, la.padding, la.binary, la.broadcast) for la in net.layers]


@pytest.mark.parametrize("spec", STRINGS)
def test_every_entry_resolves_the_same_network(spec):
    """resolver, sweep workloads, eval's _load_network: identical layer lists and MACs (batch 2)."""
    from accel.app.cli import _load_network
    from accel.app.sweep import _network, parse_workloads

    ref = resolve_network(spec, 2)
    (w,) = parse_workloads([spec])
    assert w.label == parse_network_spec(spec).label
    via_sweep = _network(w.kind, w.ref, 2)
    via_cli = _load_network(spec, 2)
    again = resolve_network(w.label, 2)  # the canonical label resolves to the same network
    for other in (via_sweep, via_cli, again):
        assert _keys(other) == _keys(ref) and other.macs == ref.macs > 0


def test_every_entry_resolves_the_same_onnx_file(tmp_path):
    pytest.importorskip("torch")
    from accel.app.cli import _load_network
    from accel.app.sweep import _network, parse_workloads
    from accel.app.xcheck import export_network

    path = str(export_network(f"mbconv_cifar:{CIFAR_MB}", tmp_path))
    ref = resolve_network(path, 1)  # exported with a fixed batch of 1
    (w,) = parse_workloads([path])
    assert w.kind == "onnx" and w.label == path
    for other in (_network(w.kind, w.ref, 1), _load_network(path, 1)):
        assert _keys(other) == _keys(ref) and other.macs == ref.macs == resolve_network(f"mbconv_cifar:{CIFAR_MB}", 1).macs


def test_mbconv_means_the_ofa_space_everywhere():
    assert parse_network_spec(f"mbconv:{OFA}").space == "mbconv"
    assert resolve_network(f"mbconv:{OFA}", 1).macs == mbconv.build_network(OFA).macs
    with pytest.raises(WorkloadInputError, match="mbconv:e3k3"):
        parse_network_spec(f"mbconv:{CIFAR_MB}")  # the CIFAR set has its own prefix
    from accel.app.sweep import SweepError, parse_workloads

    with pytest.raises(SweepError, match="mbconv:e3k3"):
        parse_workloads([f"mbconv:{CIFAR_MB}"])


def test_bad_strings_are_named_errors(tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 512, dtype=np.uint8).tobytes())
    other = tmp_path / "weights.bin"
    other.write_bytes(b"\x12\x34" * 64)
    for spec, msg in [(str(junk), "not an ONNX model"), (str(other), "not an ONNX model"),
                      ("missing.onnx", "no such ONNX file"), ("nope", "unknown network"),
                      ("foo:bar", "unknown search space"), ("darts:nope", "darts:nope"), ("layer:conv K=0", "layer")]:
        with pytest.raises(WorkloadInputError) as e:
            resolve_network(spec, 1)
        assert msg in str(e.value) and (spec in str(e.value) or msg == "unknown search space")


def _eval_macs(capsys, spec) -> int:
    from accel.app.cli import main

    assert main(["eval", spec, "--hw", EYERISS, "--format", "json", "--objective", "latency"]) == 0
    return json.loads(capsys.readouterr().out)["total"]["macs"]


def test_cli_eval_and_sweep_accept_every_space(capsys, tmp_path):
    """`accelsim eval darts:DARTS_V2` and `accelsim sweep --workload darts:DARTS_V2` cost the same network."""
    import pandas as pd

    from accel.app.cli import main

    spec = "darts:DARTS_V2"
    macs = resolve_network(spec, 1).macs
    assert _eval_macs(capsys, spec) == macs
    sweep = tmp_path / "one.yaml"
    sweep.write_text(yaml.safe_dump({"version": 1, "name": "one", "base": EYERISS, "parameters": [
        {"path": "levels.GLB.size_bytes", "values": [110592]}]}))
    out = tmp_path / "r.parquet"
    assert main(["sweep", str(sweep), "--workload", spec, "--workload", "nb201:123", "-o", str(out),
                 "--jobs", "1"]) == 0
    df = pd.read_parquet(out)
    row = df[df.workload == parse_network_spec(spec).label]
    assert len(row) == 1 and row.status.iloc[0] == "ok" and int(row.macs.iloc[0]) == macs
    assert int(df[df.workload.str.startswith("nb201:")].macs.iloc[0]) == resolve_network("nb201:123", 1).macs


def test_xcheck_accepts_the_same_strings():
    from accel.app.cli_xcheck import _names

    args = argparse.Namespace(network=["darts:DARTS_V2", "nb201:123", f"mbconv_cifar:{CIFAR_MB}", "resnet18"],
                              space=None, sample=0, seed=0)
    assert _names(args) == [parse_network_spec(s).label for s in args.network]


def test_one_sampler_for_every_command():
    """The same (N, seed) gives the same archs through sweep, rankcorr, xcheck and the nas commands."""
    from accel.app.cli_nas import _sample_archs
    from accel.app.cli_xcheck import _names
    from accel.app.rankcorr import nb201_table
    from accel.app.sweep import parse_workloads

    n, seed = 12, 5
    archs = sample_architectures("nb201", n, seed)
    assert len(set(archs)) == n
    idx = [nb201.arch_to_index(a) for a in archs]
    assert [w.ref for w in parse_workloads([f"nb201-sample:{n}:{seed}"])] == idx
    assert nb201_table([], sample=n, seed=seed).attrs["nb201_index"] == sorted(idx)
    assert _sample_archs(get_space("nb201"), n, seed) == archs
    xs = _names(argparse.Namespace(network=[], space="nb201", sample=n, seed=seed))
    assert xs == [f"nb201:{nb201.arch_str(a)}" for a in archs] == sample_specs("nb201", n, seed)
    # non-enumerable spaces: repeated space.sample on the same PCG64 stream, duplicates skipped
    rng = np.random.Generator(np.random.PCG64(seed))
    sp = get_space("mbconv_cifar")
    assert sample_architectures("mbconv_cifar", 3, seed) == [sp.sample(rng) for _ in range(3)]
    assert sample_architectures("nb201", 2, 1) != sample_architectures("nb201", 2, 2)
    with pytest.raises(WorkloadInputError):
        sample_architectures("nb201", 0, 0)


def test_one_inverted_residual_block_and_one_exporter():
    torch = pytest.importorskip("torch")
    from accel.nn import InvertedResidual, count_macs
    from accel.torch_zoo import build_model
    from nas.joint.supernet import DerivedNet
    from nas.joint.space import FBNetSpace

    def blocks(model):
        return sum(isinstance(m, InvertedResidual) for m in model.modules())

    assert blocks(build_model("mobilenet_v2")) == 17 and blocks(build_model("mobilenet_v3_large")) == 15
    assert blocks(get_space("mbconv_cifar").build_torch(CIFAR_MB)) == 6
    assert blocks(get_space("mbconv").build_torch(OFA)) == 1 + sum(mbconv.parse_arch(OFA).depths)
    assert blocks(get_space("fbnet").build_torch(["k3_e1"] * 22)) == 22
    space = FBNetSpace.cifar(width_mult=0.25, max_depth=1, num_stages=3, resolution=16)
    ops = [3, 8, 1]  # k3_e6, skip, k3_e1_g2
    net = DerivedNet(space, ops, [(8, 8)] * 3)
    assert blocks(net) == 2
    net.set_quantize(False)
    assert count_macs(net, (1, 3, 16, 16)) == space.build_network(ops).macs
    # the exporter: torch.onnx.export is called in accel/nn.py only
    callers = sorted(str(p.relative_to(ROOT)) for d in ("accel", "nas") for p in (ROOT / d).rglob("*.py")
                     if "torch.onnx.export(" in p.read_text())
    assert callers == [str(Path("accel") / "nn.py")]
    del torch


def test_cifar_mbconv_export_imports_to_the_builder_network(tmp_path):
    """xcheck's ONNX file of an mbconv_cifar network imports to exactly the resolver's network."""
    pytest.importorskip("torch")
    from accel.app.xcheck import export_network
    from accel.onnx_import import load_onnx_network

    spec = f"mbconv_cifar:{CIFAR_MB}"
    imported = load_onnx_network(export_network(spec, tmp_path))
    assert _keys(imported) == _keys(resolve_network(spec, 1))


def test_one_fbnet_space():
    import nas.joint.space as js
    from nas import fbnet

    assert js.FBNetSpace is fbnet.FBNetSpace and type(get_space("fbnet")) is fbnet.FBNetSpace
    sp = get_space("fbnet")
    a = sp.sample(np.random.Generator(np.random.PCG64(4)))
    idx = [fbnet.OPS.index(o) for o in a]
    assert _keys(sp.build_network(idx)) == _keys(sp.build_network(a))  # joint (indices) = registry (names)
    cifar = fbnet.FBNetSpace.cifar()
    assert cifar.n_slots == 22 and cifar.final_size == 4 and cifar.head_channels == 1504
    assert sp.subspaces()["k3/e1"].resolution == sp.resolution


def test_one_correction():
    """nas-latency's study and xcheck fit the same thing: per-type factors, no intercept, unseen types get the
    global factor (the one factor of all types that fits the training networks best)."""
    import accel.app.xcheck as xc
    from nas.latency_table import LayerTable, correction_study, fit_type_correction, type_matrix

    assert xc.fit_type_correction is fit_type_correction
    nets = [resolve_network(s, 1) for s in sample_specs("nb201", 10, 3)]
    table = LayerTable.from_model(EYERISS)
    T, types = type_matrix(nets, table)
    truth = {t: 1.0 + 0.25 * i for i, t in enumerate(types)}
    y = T @ np.array([truth[t] for t in types])
    corr, df = correction_study(nets, y, table, train_fraction=0.7, seed=0)
    assert df.attrs["mape_after"] < 1e-6 < df.attrs["mape_before"]
    assert fit_type_correction(T, types, y).factors == pytest.approx(truth, rel=1e-5)
    only = fit_type_correction(np.c_[T, np.zeros(len(T))], [*types, "dwconv3x3"], y)
    r = T.sum(axis=1) / y
    assert only.factors["dwconv3x3"] == only.default_factor == pytest.approx(float(r.sum() / (r @ r)))


def test_one_pareto_routine():
    import pandas as pd

    from accel.pareto import pareto_mask
    from nas.profiling import pareto_front

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"arch": [f"a{i}" for i in range(60)], "latency_s": rng.uniform(1, 2, 60),
                       "accuracy": rng.uniform(50, 90, 60), "feasible": rng.random(60) < 0.8})
    front = pareto_front(df)
    feas = df[df.feasible]
    brute = [i for i in feas.index if not any((feas.latency_s <= feas.latency_s[i]) & (feas.accuracy >= feas.accuracy[i])
                                              & ((feas.latency_s < feas.latency_s[i]) | (feas.accuracy > feas.accuracy[i])))]
    assert sorted(front.index) == sorted(brute)
    assert list(front.latency_s) == sorted(front.latency_s)
    m = pareto_mask(feas.latency_s.to_numpy(), feas.accuracy.to_numpy(), maximize_y=True)
    assert sorted(feas.index[m]) == sorted(brute)
    import matplotlib

    matplotlib.use("Agg")
    from accel.app.plots import plot_pareto

    fig = plot_pareto(df, "latency_s", "accuracy", maximize_y=True, feasible="feasible", bound_x=1.5)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert f"Pareto front ({len(brute)})" in labels and any(lab.startswith("infeasible") for lab in labels)


def test_one_output_size_rule_with_ceil_mode(tmp_path):
    """A ceil-mode window that would start in the end padding is dropped, in the builder as in ONNX/PyTorch."""
    torch = pytest.importorskip("torch")
    from accel.nn import export_module_onnx
    from accel.onnx_import import load_onnx_network
    from accel.workload import NetworkBuilder, window_out_size

    assert window_out_size(5, 2, 2, 1, 1, 1, ceil_mode=True) == 3  # ceil(5/2) + 1 = 4 without the rule
    assert window_out_size(6, 2, 2, 1, 1, 1, ceil_mode=True) == 4
    assert window_out_size(7, 3, 2, 0, 0) == 3 and window_out_size(2, 3, 1, 0, 0) == 0
    pool = torch.nn.MaxPool2d(2, 2, padding=1, ceil_mode=True)
    assert pool(torch.zeros(1, 4, 5, 5)).shape[-1] == 3
    b = NetworkBuilder("p")
    b.pool(b.input(1, 4, 5, 5), "max", 2, 2, 1, ceil_mode=True, name="pool")
    built = b.build().layers[0]
    path = export_module_onnx(torch.nn.Sequential(torch.nn.Conv2d(4, 4, 1), pool), (1, 4, 5, 5), tmp_path / "p.onnx")
    imported = [la for la in load_onnx_network(path).layers if la.op == "maxpool"][0]
    assert (built.P, built.Q) == (imported.P, imported.Q) == (3, 3)
