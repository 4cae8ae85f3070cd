"""Outputs never destroy data (issue 10): every command checks its output paths before any work, never
overwrites an existing file without --force, writes atomically (no temp files left, no truncated file on
error), and follows one --format / -o extension rule."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

import pytest
import yaml

from accel.app.cli import main
from accel.app.output import atomic_directory, check_output, resolve_format, write_atomic
from accel.errors import OutputError
from tests.conftest import ROOT

EYERISS = str(ROOT / "configs" / "eyeriss.yaml")
LAYER = "conv K=8 C=8 P=4 Q=4 R=3 S=3"
BAD_HW = "/nonexistent/hw.yaml"  # an input error the command would hit if it started working
BAD_SPEC = "/nonexistent/spec.yaml"

# command -> (argv that fails on its *input* once work starts, output file extension); "-o" is appended
COMMANDS = {
    "eval": (["eval", "resnet18", "--hw", BAD_HW], ".csv"),
    "map": (["map", "--hw", BAD_HW, "--layer", LAYER], ".json"),
    "nas": (["nas", "--hw", BAD_HW, "--budget", "5"], ".json"),
    "nas-proxies": (["nas-proxies", "--space", "nonexistent"], ".json"),
    "nas-predictor": (["nas-predictor", "--space", "nonexistent"], ".json"),
    "nas-latency": (["nas-latency", "--hw", BAD_HW, "--measured-hw", BAD_HW], ".json"),
    "sweep": (["sweep", BAD_SPEC, "--workload", "resnet18"], ".parquet"),
    "codesign": (["codesign", "--hw", BAD_HW, "--sweep", BAD_SPEC], ".json"),
    "rankcorr": (["rankcorr", "--hw", BAD_HW, "--hw", BAD_HW], ".json"),
    "plot": (["plot", "breakdown", "resnet18", "--hw", BAD_HW], ".png"),
    "xcheck": (["xcheck", "--hw", BAD_HW, "--space", "nb201", "--sample", "3"], ".json"),
    "joint": (["joint", "--space", "fbnet", "--data", "synthetic", "--sweep", BAD_SPEC, "--epochs", "1",
               "--latency-weight", "1"], ""),
}
# secondary outputs: command -> (option, extension)
EXTRA = [("nas", "--plot", ".png"), ("sweep", "--plot", ".png"), ("codesign", "--plot", ".pdf"),
         ("rankcorr", "--plot", ".png"), ("rankcorr", "--scatter-plot", ".svg"), ("xcheck", "--plot", ".png"),
         ("xcheck", "--summary-json", ".json")]


def _run(capsys, argv) -> tuple[int, str]:
    rc = main(argv)
    return rc, capsys.readouterr().err


def _no_temp_files(d: Path) -> None:
    left = [p.name for p in d.iterdir() if p.name.startswith(".")]
    assert not left, f"temp files left behind: {left}"


@pytest.mark.parametrize("cmd", sorted(COMMANDS))
def test_existing_output_is_refused_before_work(cmd, tmp_path, capsys):
    argv, ext = COMMANDS[cmd]
    out = tmp_path / f"precious{ext}"
    if cmd == "joint":
        out.mkdir()
        (out / "keep.txt").write_text("precious")
        needle = "not empty; use --force"
    else:
        out.write_text("precious")
        needle = "file exists; use --force"
    rc, err = _run(capsys, [*argv, "-o", str(out)])
    assert rc == 1 and needle in err, err
    assert "nonexistent" not in err  # refused before the input was even read
    assert (out / "keep.txt" if cmd == "joint" else out).read_text() == "precious"
    _no_temp_files(tmp_path)
    # with --force the output check passes and the command goes on to its (bad) input
    rc, err = _run(capsys, [*argv, "-o", str(out), "--force"])
    assert rc == 1 and "nonexistent" in err, err
    assert (out / "keep.txt" if cmd == "joint" else out).read_text() == "precious"  # failed run: untouched


@pytest.mark.parametrize("cmd", sorted(COMMANDS))
@pytest.mark.parametrize("where", ["directory", "missing-parent", "parent-is-file", "unwritable"])
def test_bad_output_locations_are_refused_before_work(cmd, where, tmp_path, capsys):
    argv, ext = COMMANDS[cmd]
    if where == "directory":
        target, needle = tmp_path, ("not empty" if cmd == "joint" else "is a directory")
        (tmp_path / "x").write_text("x")
    elif where == "missing-parent":
        target, needle = tmp_path / "missing" / f"out{ext}", "does not exist"
    elif where == "parent-is-file":
        (tmp_path / "afile").write_text("x")
        target, needle = tmp_path / "afile" / f"out{ext}", "is not a directory"
    else:
        if not Path("/proc/self").exists():
            pytest.skip("needs /proc")
        target, needle = Path(f"/proc/accelsim-test-out{ext}"), "cannot write in /proc"
    rc, err = _run(capsys, [*argv, "-o", str(target)])
    assert rc == 1 and needle in err, err
    assert "nonexistent" not in err and "Traceback" not in err


def test_read_only_directory_is_refused(tmp_path, capsys):
    """Permission bits do not stop root, so the check really tries to create a file: a chmod'ed directory
    (as a normal user) or sysfs (which refuses new files even to root) must both be refused before work."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        target = ro if os.geteuid() != 0 else Path("/sys")
        rc, err = _run(capsys, ["map", "--hw", EYERISS, "--layer", LAYER, "-o", str(target / "m.txt")])
    finally:
        ro.chmod(0o700)
    assert rc == 1 and "cannot write in" in err


@pytest.mark.parametrize("cmd, option, ext", EXTRA)
def test_secondary_outputs_are_checked_too(cmd, option, ext, tmp_path, capsys):
    argv, _ = COMMANDS[cmd]
    if cmd == "sweep":  # -o is required
        argv = [*argv, "-o", str(tmp_path / "s.parquet")]
    f = tmp_path / f"extra{ext}"
    f.write_text("precious")
    rc, err = _run(capsys, [*argv, option, str(f)])
    assert rc == 1 and f"{option} {f}: file exists" in err and f.read_text() == "precious"
    rc, err = _run(capsys, [*argv, option, str(tmp_path / "missing" / f"x{ext}")])
    assert rc == 1 and "does not exist" in err
    if option != "--summary-json":
        rc, err = _run(capsys, [*argv, option, str(tmp_path / "noext")])
        assert rc == 1 and "must end in .png, .pdf or .svg" in err
    else:
        same = tmp_path / f"same{ext}"
        rc, err = _run(capsys, [*argv, option, str(same), "-o", str(same)])
        assert rc == 1 and "the same file" in err


# ---------------------------------------------------------------------------------------------
# --force replaces; atomic writes
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory):
    d = tmp_path_factory.mktemp("spec")
    p = d / "small.yaml"
    p.write_text(yaml.safe_dump({"version": 1, "name": "small", "base": EYERISS, "parameters": [
        {"path": "pe_array.rows", "values": [12, 6]}]}))
    return p


def _cheap_runs(small_sweep, tmp_path):
    pq = tmp_path / "table.parquet"
    pd.DataFrame({"latency_s": [1.0, 2.0, 3.0], "energy_pj": [3.0, 1.0, 2.0]}).to_parquet(pq)
    return {
        "map": (["map", "--hw", EYERISS, "--layer", LAYER, "--effort", "fast"], ".json"),
        "eval": (["eval", "nb201:0", "--hw", EYERISS, "--effort", "fast", "--format", "csv"], ".csv"),
        "nas": (["nas", "--hw", EYERISS, "--strategy", "random", "--budget", "4", "--format", "parquet"], ".parquet"),
        "nas-predictor": (["nas-predictor", "--train", "20", "--test", "20"], ".json"),
        "sweep": (["sweep", str(small_sweep), "--workload", f"layer:{LAYER}", "--jobs", "1", "--effort", "fast"],
                  ".parquet"),
        "plot": (["plot", "pareto", str(pq)], ".png"),
        "rankcorr": (["rankcorr", "--hw", EYERISS, "--hw", "tpu-v1", "--sample", "5"], ".json"),
        "nas-latency": (["nas-latency", "--hw", EYERISS, "--measured-hw", "tpu-v1", "--networks", "4"], ".csv"),
        "codesign": (["codesign", "--hw", EYERISS, "--sweep", str(small_sweep), "--keep", "2", "--nas-budget", "20",
                      "--jobs", "1", "--effort", "fast", "--keep-study", "1,2"], ".json"),
    }


@pytest.mark.parametrize("cmd", ["map", "eval", "nas", "nas-predictor", "nas-latency", "sweep", "codesign",
                                 "rankcorr", "plot"])
def test_force_replaces_atomically(cmd, small_sweep, tmp_path, capsys):
    argv, ext = _cheap_runs(small_sweep, tmp_path)[cmd]
    out = tmp_path / f"out{ext}"
    out.write_text("precious")
    rc, err = _run(capsys, [*argv, "-o", str(out)])
    assert rc == 1 and out.read_text() == "precious"
    rc, err = _run(capsys, [*argv, "-o", str(out), "--force"])
    assert rc == 0, err
    assert f"wrote {out}" in err
    data = out.read_bytes()
    assert data != b"precious" and len(data) > 100
    if ext == ".parquet":
        assert len(pd.read_parquet(out)) >= 1
    elif ext == ".json":
        json.loads(data)
    elif ext == ".csv":
        assert len(pd.read_csv(out)) >= 1
    else:
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
    _no_temp_files(tmp_path)
    assert capsys.readouterr().out == ""  # the result went to the file only


def test_failed_command_leaves_no_file(tmp_path, capsys):
    out = tmp_path / "r.csv"
    rc, err = _run(capsys, ["eval", "nosuchnet", "--hw", EYERISS, "-o", str(out)])
    assert rc == 1 and "unknown network" in err
    assert not out.exists()
    _no_temp_files(tmp_path)


def test_write_atomic_keeps_the_old_file_on_failure(tmp_path):
    f = tmp_path / "f.txt"
    f.write_text("old")

    def half_then_interrupt(tmp: Path) -> None:
        tmp.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(f, half_then_interrupt)
    assert f.read_text() == "old"
    _no_temp_files(tmp_path)
    write_atomic(f, lambda t: t.write_text("new"))
    assert f.read_text() == "new"
    _no_temp_files(tmp_path)


def test_atomic_directory(tmp_path):
    d = tmp_path / "run"
    with pytest.raises(RuntimeError):
        with atomic_directory(d, force=False) as t:
            (t / "a").write_text("1")
            raise RuntimeError("boom")
    assert not d.exists() and list(tmp_path.iterdir()) == []
    with atomic_directory(d, force=False) as t:
        (t / "a").write_text("1")
    assert (d / "a").read_text() == "1"
    with pytest.raises(OutputError, match="not empty"):
        check_output(d, force=False, directory=True)
    check_output(d, force=True, directory=True)
    with atomic_directory(d, force=True) as t:
        (t / "b").write_text("2")
    assert sorted(p.name for p in d.iterdir()) == ["b"]  # replaced, not merged
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_sweep_resume_is_left_to_the_runner(small_sweep, tmp_path, capsys):
    """An existing file without the runner's manifest is refused before work; with a manifest next to it,
    the runner decides (here: the parts belong to another sweep, so it refuses with its own message)."""
    out = tmp_path / "s.parquet"
    parts = tmp_path / "s.parquet.parts"
    parts.mkdir()
    (parts / "manifest.json").write_text(json.dumps({"run_id": "someone-else"}))
    argv = ["sweep", str(small_sweep), "--workload", f"layer:{LAYER}", "--jobs", "1", "-o", str(out)]
    rc, err = _run(capsys, argv)
    assert rc == 1 and "file exists" not in err and str(parts) in err, err
    out.write_text("precious")
    rc, err = _run(capsys, argv)
    assert rc == 1 and "file exists" not in err and out.read_text() == "precious", err


# ---------------------------------------------------------------------------------------------
# --format vs -o extension
# ---------------------------------------------------------------------------------------------
def test_format_rule():
    assert resolve_format("x.csv", None, ("table", "csv"), "table") == "csv"
    assert resolve_format("x.CSV", "csv", ("table", "csv"), "table") == "csv"
    assert resolve_format("x.out", "csv", ("table", "csv"), "table") == "csv"  # unknown extension: as asked
    assert resolve_format("x.out", None, ("table", "csv"), "table") == "table"
    assert resolve_format(None, None, ("table", "csv"), "table") == "table"
    with pytest.raises(OutputError, match="contradicts"):
        resolve_format("x.parquet", "csv", ("csv", "parquet"), "table")
    with pytest.raises(OutputError, match="this command writes"):
        resolve_format("x.parquet", None, ("table", "json"), "table")


@pytest.mark.parametrize("argv, needle", [
    (["eval", "resnet18", "--hw", BAD_HW, "--format", "csv", "-o", "{d}/x.parquet"], "--format csv contradicts"),
    (["nas", "--hw", BAD_HW, "--format", "json", "-o", "{d}/x.csv"], "--format json contradicts"),
    (["codesign", "--hw", BAD_HW, "--sweep", BAD_SPEC, "-o", "{d}/x.parquet"], "this command writes table, json"),
    (["sweep", BAD_SPEC, "--workload", "resnet18", "-o", "{d}/x.csv"], "this command writes parquet"),
    (["map", "--hw", BAD_HW, "--layer", LAYER, "--format", "table", "-o", "{d}/x.json"], "contradicts"),
])
def test_format_mismatch_is_refused_before_work(argv, needle, tmp_path, capsys):
    rc, err = _run(capsys, [a.format(d=tmp_path) for a in argv])
    assert rc == 1 and needle in err and "nonexistent" not in err, err
    assert list(tmp_path.iterdir()) == []


def test_format_inferred_from_extension(tmp_path, capsys):
    out = tmp_path / "m.json"
    assert main(["map", "--hw", EYERISS, "--layer", LAYER, "--effort", "fast", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["latency_cycles"] > 0
    txt = tmp_path / "m.txt"
    assert main(["map", "--hw", EYERISS, "--layer", LAYER, "--effort", "fast", "-o", str(txt)]) == 0
    assert "latency:" in txt.read_text()


# ---------------------------------------------------------------------------------------------
# plot -o: the path written is the path reported
# ---------------------------------------------------------------------------------------------
def test_plot_writes_and_reports_the_same_path(tmp_path, capsys):
    pq = tmp_path / "t.parquet"
    pd.DataFrame({"latency_s": [1.0, 2.0], "energy_pj": [2.0, 1.0]}).to_parquet(pq)
    d = tmp_path / "plots"
    d.mkdir()
    rc, err = _run(capsys, ["plot", "pareto", str(pq), "-o", str(d)])
    assert rc == 1 and "is a directory" in err
    assert not (tmp_path / "plots.png").exists() and list(d.iterdir()) == []
    rc, err = _run(capsys, ["plot", "pareto", str(pq), "-o", str(tmp_path / "front")])
    assert rc == 1 and "must end in .png, .pdf or .svg" in err and not (tmp_path / "front.png").exists()
    for ext, magic in ((".pdf", b"%PDF"), (".svg", b"<?xml"), (".png", b"\x89PNG")):
        f = tmp_path / f"front{ext}"
        rc, err = _run(capsys, ["plot", "pareto", str(pq), "-o", str(f)])
        assert rc == 0 and err.strip().splitlines()[-1] == f"wrote {f}"
        assert f.read_bytes()[:len(magic)] == magic
    _no_temp_files(tmp_path)
