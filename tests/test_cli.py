"""The accelsim command: contracts of eval/map/configs, exit codes, no tracebacks on bad input."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from accel.app.cli import main
from tests.conftest import ROOT

EYERISS = str(ROOT / "configs" / "eyeriss.yaml")


def run(*args):
    return subprocess.run([sys.executable, "-m", "accel", *args], capture_output=True, text=True, cwd=ROOT)


def test_eval_json_contract(capsys):
    assert main(["eval", "resnet18", "--hw", EYERISS, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"network", "hw", "objective", "layers", "total"}
    assert out["network"] == "resnet18" and out["hw"] == "eyeriss" and out["objective"] == "edp"
    for layer in out["layers"]:
        assert set(layer) >= {"name", "op", "macs", "latency_cycles", "energy_pj", "utilization", "mapping",
                              "energy_breakdown_pj"}
        for level, ops in layer["energy_breakdown_pj"].items():
            assert all(isinstance(v, float) for v in ops.values())
    t = out["total"]
    assert set(t) >= {"macs", "latency_cycles", "latency_s", "energy_pj", "edp"}
    assert t["macs"] == sum(layer["macs"] for layer in out["layers"])
    assert t["latency_cycles"] == pytest.approx(sum(layer["latency_cycles"] for layer in out["layers"]))
    assert t["edp"] == pytest.approx(t["energy_pj"] * t["latency_s"])


def test_eval_resnet50_gmacs(capsys):
    assert main(["eval", "resnet50", "--hw", EYERISS, "--format", "json", "--objective", "latency"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total"]["macs"] / 1e9 == pytest.approx(4.09, rel=0.01)
    ops = [layer["op"] for layer in out["layers"]]
    assert ops.count("conv") == 53 and ops.count("fc") == 1


def test_eval_table_and_files(tmp_path, capsys):
    assert main(["eval", "alexnet", "--hw", "eyeriss", "--batch", "2"]) == 0
    text = capsys.readouterr().out
    assert "CONV1" in text and "total:" in text
    pq = tmp_path / "r.parquet"
    assert main(["eval", "alexnet", "--hw", EYERISS, "--format", "parquet", "-o", str(pq)]) == 0
    df = pd.read_parquet(pq)
    assert {"layer", "latency_cycles", "energy_pj"} <= set(df.columns) and len(df) == 11
    csvp = tmp_path / "r.csv"
    assert main(["eval", "alexnet", "--hw", EYERISS, "--format", "csv", "-o", str(csvp)]) == 0
    assert len(pd.read_csv(csvp)) == 11


def test_map_command(capsys):
    assert main(["map", "--hw", EYERISS, "--layer", "conv N=1 K=64 C=64 P=56 Q=56 R=3 S=3"]) == 0
    out = capsys.readouterr().out
    assert "parallel-for" in out and "MAC" in out and "latency:" in out
    assert main(["map", "--hw", EYERISS, "--layer", "conv K=32 C=32 P=8 Q=8 R=3 S=3 groups=2", "--format", "json"]) == 0
    js = json.loads(capsys.readouterr().out)
    assert js["latency_cycles"] > 0 and "mapping" in js


def test_configs_lists_all(capsys):
    assert main(["configs"]) == 0
    out = capsys.readouterr().out
    assert "eyeriss" in out and "INVALID" not in out


@pytest.mark.parametrize("args,code,needle", [
    (["eval", "nosuchnet", "--hw", EYERISS], 1, "unknown network"),
    (["eval", "resnet18", "--hw", "/nonexistent.yaml"], 1, "no such file"),
    (["map", "--hw", EYERISS, "--layer", "conv K=x"], 1, "not an integer"),
    (["map", "--hw", EYERISS, "--layer", "blah K=1"], 1, "unknown op"),
    (["eval", "resnet18", "--hw", EYERISS, "--batch", "0"], 2, "argument --batch: must be an integer in [1, 65,536]"),
    (["eval", "resnet18", "--hw", EYERISS, "--format", "parquet"], 1, "--format parquet needs -o FILE"),
    (["rankcorr", "--from-sweep", "/nonexistent.parquet"], 1, "--from-sweep /nonexistent.parquet: no such file"),
    (["plot", "pareto", str(EYERISS), "-o", "/tmp/accelsim-never-written.png"], 1, "not a readable Parquet table"),
    (["eval"], 2, "usage"),
    (["frobnicate"], 2, "usage"),
])
def test_errors_are_clean(args, code, needle):
    r = run(*args)
    assert r.returncode == code, r.stderr
    assert needle in r.stderr
    assert "Traceback" not in r.stderr


def test_invalid_config_reports_paths(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "configs" / "eyeriss.yaml").read_text().replace("clock_mhz: 200", "clock_mhz: -200\nfoo: 1"))
    r = run("eval", "resnet18", "--hw", str(bad))
    assert r.returncode == 1 and "clock_mhz" in r.stderr and "foo: unknown key" in r.stderr
    assert "Traceback" not in r.stderr


def test_no_valid_mapping_is_clear(tmp_path):
    cfg = (ROOT / "configs" / "eyeriss.yaml").read_text().replace("weights: 448", "weights: 2")
    p = tmp_path / "tiny.yaml"
    p.write_text(cfg)
    # row-stationary keeps a whole filter row (S=3 weights) in the spad; a 1-weight spad cannot
    r = run("map", "--hw", str(p), "--layer", "conv K=4 C=4 P=4 Q=4 R=3 S=3")
    assert r.returncode == 1
    assert "no valid mapping" in r.stderr and "capacity" in r.stderr
    assert "Traceback" not in r.stderr


def test_help_is_fast_and_lazy():
    code = "import sys, accel.app.cli; accel.app.cli.build_parser(); print(sorted(m for m in ('torch','onnx','tvm','dask','numba','pandas') if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip() == "[]"


def test_eval_does_not_import_the_dataframe_stack():
    """A plain ``accelsim eval`` (table or JSON) builds no DataFrame: pandas (and pyarrow under it, ~0.25 s of
    a fresh process) is imported only by the outputs that need one (csv, parquet, ``NetworkResult.to_frame``)."""
    code = ("import contextlib, io, sys; from accel.app.cli import main\n"
            "for fmt in ('table', 'json'):\n"
            "    with contextlib.redirect_stdout(io.StringIO()):\n"
            "        assert main(['eval', 'layer:conv K=16 C=16 P=8 Q=8 R=3 S=3', '--hw', 'eyeriss', '--format', fmt,\n"
            "                     '--effort', 'fast']) == 0\n"
            "print(sorted(m for m in ('pandas', 'pyarrow') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == "[]"


def test_eval_searches_with_the_setup_heap_frozen(monkeypatch, capsys):
    """eval (and map) run their search with the objects of the imports and inputs frozen out of the garbage
    collector's reach and the collector on; the command leaves the collector as it found it, also on an error."""
    import gc

    from mapper.network import NetworkEvaluator

    seen = []
    network = NetworkEvaluator.network

    def spy(self, net, executor=None):
        seen.append((gc.isenabled(), gc.get_freeze_count() > 0))
        return network(self, net, executor)

    monkeypatch.setattr(NetworkEvaluator, "network", spy)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert main(["eval", "layer:conv K=16 C=16 P=8 Q=8 R=3 S=3", "--hw", EYERISS, "--effort", "fast"]) == 0
    assert seen == [(True, True)]
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert main(["eval", "no_such_network", "--hw", EYERISS]) == 1  # fails during the setup
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.disable()
    try:
        assert main(["map", "--hw", EYERISS, "--layer", "conv K=16 C=16 P=8 Q=8 R=3 S=3", "--effort", "fast"]) == 0
        assert not gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        gc.enable()


def _tiny_onnx(path, op="Relu"):
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 16, 16])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = helper.make_tensor("w", TensorProto.FLOAT, [8, 3, 3, 3], np.ones(8 * 27, dtype=np.float32))
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv0", pads=[1, 1, 1, 1]),
             helper.make_node(op, ["c"] if op == "Relu" else ["c", "c"], ["y"], name="tail",
                              **({} if op == "Relu" else {"equation": "nchw,nchw->nchw"}))]
    onnx.save(helper.make_model(helper.make_graph(nodes, "g", [x], [y], [w]),
                                opset_imports=[helper.make_opsetid("", 17)]), path)


def test_eval_onnx_json_has_onnx_nodes(tmp_path, capsys):
    p = tmp_path / "m.onnx"
    _tiny_onnx(p)
    assert main(["eval", str(p), "--hw", EYERISS, "--format", "json", "--input-shape", "x=2x3x16x16"]) == 0
    out = json.loads(capsys.readouterr().out)
    (layer,) = out["layers"]
    assert layer["op"] == "conv" and layer["macs"] == 2 * 8 * 27 * 16 * 16
    assert layer["onnx_nodes"] == ["conv0", "tail"]  # the fused ReLU traces back too
    assert out["onnx_import"]["fused"][0]["node"] == "tail"
    assert main(["eval", str(p), "--hw", EYERISS, "--format", "json", "--no-fuse"]) == 0
    assert [l["op"] for l in json.loads(capsys.readouterr().out)["layers"]] == ["conv", "relu"]


def test_eval_onnx_unsupported_and_bad_files(tmp_path):
    p = tmp_path / "u.onnx"
    _tiny_onnx(p, op="Einsum")
    r = run("eval", str(p), "--hw", EYERISS)
    assert r.returncode == 1 and "Einsum" in r.stderr and "Traceback" not in r.stderr
    r = run("eval", str(p), "--hw", EYERISS, "--allow-unsupported", "--format", "json")
    assert r.returncode == 0 and "warning" in r.stderr
    rows = json.loads(r.stdout)["layers"]
    assert [(l["op"], l["unsupported"]) for l in rows] == [("conv", False), ("Einsum", True)]
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage")
    r = run("eval", str(bad), "--hw", EYERISS)
    assert r.returncode == 1 and "not a valid ONNX" in r.stderr and "Traceback" not in r.stderr
    r = run("eval", str(p), "--hw", EYERISS, "--input-shape", "x=1xfoo")
    assert r.returncode == 1 and "--input-shape" in r.stderr


def test_eval_of_an_all_unsupported_graph_is_refused(tmp_path, capsys):
    """--allow-unsupported on a graph with no supported operator: nothing would be costed, so it is an error
    naming the unsupported node (not a table of zeros, and never a TypeError)."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    node = helper.make_node("Einsum", ["x", "x"], ["y"], name="only", equation="nchw,nchw->nchw")
    p = tmp_path / "u.onnx"
    onnx.save(helper.make_model(helper.make_graph([node], "g", [x], [y]), opset_imports=[helper.make_opsetid("", 17)]), p)
    for fmt in ("table", "json"):
        assert main(["eval", str(p), "--hw", EYERISS, "--allow-unsupported", "--format", fmt]) == 1
        err = capsys.readouterr().err
        assert "nothing to cost" in err and "Traceback" not in err and "TypeError" not in err




def test_map_evaluates_a_given_mapping_without_search(tmp_path, capsys):
    """Issue 12 item 5: `map --mapping FILE` reads back accelsim's own printed mapping and costs exactly it."""
    out = tmp_path / "m.json"
    layer = "conv K=16 C=16 P=8 Q=8 R=3 S=3"
    assert main(["map", "--hw", EYERISS, "--layer", layer, "--objective", "energy", "-o", str(out)]) == 0
    searched = json.loads(out.read_text())
    capsys.readouterr()
    assert main(["map", "--hw", EYERISS, "--layer", layer, "--mapping", str(out), "--format", "json"]) == 0
    given = json.loads(capsys.readouterr().out)
    assert given["evaluations"] == 1 and given["mapping"] == searched["mapping"]
    for key in ("latency_cycles", "energy_pj", "reads", "writes", "energy_breakdown_pj"):
        assert given[key] == searched[key], key
    # the bare mapping object works too; a mapping for another layer is refused, naming the dim
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(searched["mapping"]))
    assert main(["map", "--hw", EYERISS, "--layer", layer, "--mapping", str(bare), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["energy_pj"] == searched["energy_pj"]
    assert main(["map", "--hw", EYERISS, "--layer", layer.replace("K=16", "K=32"), "--mapping", str(out)]) == 1
    assert "K=16" in capsys.readouterr().err
