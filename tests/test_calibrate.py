"""``accelsim calibrate``: a quick calibration writes a device config that loads; refusals are one clear error."""

import copy
import json
import subprocess
import sys

import pytest

from accel.app.calibrate import (Budget, cache_levels, calibrate, fit_efficiency, physical_cores, simd_fp32_lanes,
                                 warm_weight_bytes)
from accel.app.cli import main
from accel.arch import load_arch
from accel.device import Device, DeviceModel, parse_device
from accel.workload import parse_layer_spec
from tests.test_device import BASE


def test_quick_calibration_writes_a_loadable_config(tmp_path, capsys):
    out = tmp_path / "host.yaml"
    assert main(["calibrate", "--device", "cpu", "--runtime", "ort", "--quick", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "calibrate [" in err and f"wrote {out}" in err  # progress bar, then the file
    ns = load_arch(out).config.runtimes["onnxruntime"].network_scale
    assert f"onnxruntime: in-network scale {ns.one_thread:g} (1 thread)" in err
    dev = load_arch(out)
    assert isinstance(dev, Device) and dev.kind == "cpu" and dev.config.runtime == "onnxruntime"
    c = dev.config
    assert c.levels[-1].name == "DRAM" and c.levels[-1].size_bytes is None
    assert c.macs_per_cycle_per_core["fp32"] > 0 and c.runtimes["onnxruntime"].op_overhead_us >= 0
    # the per-call cost: the intercept of the Sigmoid chain (a session.run of one tiny op costs more than 0)
    assert c.runtimes["onnxruntime"].inference_overhead_us > 0
    assert any(s.startswith("inference_overhead_us") for s in c.sources)
    assert any("lscpu" in s for s in c.sources) and len(c.sources) >= 10
    # onnxruntime's NCHWc block (MLAS) and the NCHW pool's efficiency; the warm-weight ladder's source line
    prof = c.runtimes["onnxruntime"]
    assert prof.nchwc_block in (8, 16) and prof.efficiency.pool_unblocked is not None
    assert any(s.startswith("warm_weight_bytes") for s in c.sources)
    assert any(s.startswith("nchwc_block") for s in c.sources)
    # the calibrated device costs a network
    assert DeviceModel(dev).layer(parse_layer_spec("conv K=16 C=16 P=8 Q=8 R=3 S=3")).latency_s > 0
    # an existing output is refused without --force
    assert main(["calibrate", "--device", "cpu", "--quick", "-o", str(out)]) == 1
    assert "file exists; use --force" in capsys.readouterr().err


def test_gpu_and_tvm_refused_with_one_error(tmp_path, capsys):
    assert main(["calibrate", "--device", "gpu", "-o", str(tmp_path / "g.yaml")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("accelsim: error: --device gpu:") and "Traceback" not in err
    assert main(["calibrate", "--device", "cpu", "--runtime", "tvm", "-o", str(tmp_path / "t.yaml")]) == 1
    assert "--runtime tvm" in capsys.readouterr().err
    assert not (tmp_path / "g.yaml").exists() and not (tmp_path / "t.yaml").exists()


def test_library_calls_progress():
    seen = []
    data = calibrate("cpu", "torch", Budget.quick(), progress=lambda d, t, label: seen.append((d, t, label)))
    assert seen[-1][0] == seen[-1][1] == len(seen) and seen[0][2] == "describe"
    assert parse_device(data).config.runtime == "torch"
    assert data["runtimes"]["torch"]["batchnorm"] == "separate"
    # PyTorch's separate BatchNorm pass gets its own measured fixed cost (the slope of a BatchNorm2d chain)
    assert data["runtimes"]["torch"]["class_overhead_us"]["batchnorm"] > 0


def test_fit_efficiency_inverts_the_model():
    data = copy.deepcopy(BASE)
    data["levels"][1]["bandwidth_gbs_per_core"] = 1e6
    data["levels"][0]["bandwidth_gbs_per_core"] = 1e6
    spec = "conv K=32 C=32 P=16 Q=16 R=3 S=3"
    compute = DeviceModel(parse_device(data)).layer(parse_layer_spec(spec)).compute_s
    assert fit_efficiency(data, spec, compute / 0.25 + 2e-6, 2e-6) == pytest.approx(0.25)
    assert fit_efficiency(data, spec, 1e-6, 2e-6) == 1.0  # faster than the overhead: nothing to fit
    # memory-bound per the model: the efficiency is not identifiable and stays 1
    data["levels"][1]["bandwidth_gbs_per_core"] = 1e-3
    data["levels"][0]["bandwidth_gbs_per_core"] = 1e-3
    assert fit_efficiency(data, spec, compute / 0.25 + 2e-6, 2e-6) == 1.0


def test_machine_description_parsing():
    desc = {"cores": 4, "lscpu": {"Core(s) per socket": "8", "Socket(s)": "2", "simd_flags": "avx avx2 fma"},
            "caches": [{"level": "1", "type": "Data", "size": "48K", "shared_cpu_list": "0"},
                       {"level": "1", "type": "Instruction", "size": "32K", "shared_cpu_list": "0"},
                       {"level": "2", "type": "Unified", "size": "1024K", "shared_cpu_list": "0"},
                       {"level": "3", "type": "Unified", "size": "32768K", "shared_cpu_list": "0-7,16-23"}]}
    assert cache_levels(desc) == [{"name": "L1", "size_bytes": 49152, "shared": False},
                                  {"name": "L2", "size_bytes": 1048576, "shared": False},
                                  {"name": "L3", "size_bytes": 33554432, "shared": True}]
    assert physical_cores(desc) == 16 and simd_fp32_lanes(desc) == 8


def test_parallel_grain_from_a_size_ladder():
    """The grain is the cut whose model reproduces the all-thread times: a ladder generated by the model with a
    grain between 4,000 and 16,000 gives that cut (8,000) back; every size parallel → half the smallest size; none
    → twice the largest; no ladder → None."""
    from accel.app.calibrate import parallel_grain

    ovh, eff, par = 2e-6, 0.6, 1e-6
    sizes = [1000, 4000, 16000, 64000]
    t1 = [ovh + m * 1e-8 for m in sizes]

    def ladder(parallel_from: int):
        return [(m, t, ovh + (t - ovh) / (1 + eff) + par if m >= parallel_from else t) for m, t in zip(sizes, t1)]

    grain, speedups = parallel_grain(ladder(16000), ovh, eff, 2, par)
    assert grain == 8000 and [m for m, _ in speedups] == sizes
    assert speedups[0][1] == pytest.approx(1.0) and speedups[3][1] > 1.3
    assert parallel_grain(ladder(0), ovh, eff, 2, par)[0] == 500
    assert parallel_grain(ladder(10**9), ovh, eff, 2, par)[0] == 128000
    assert parallel_grain([], ovh, eff, 2, par) == (None, [])


def test_warm_weight_bytes_from_a_ladder():
    """The largest footprint up to which every chain streams above the midpoint of the cache's and DRAM's
    bandwidth (120 and 36 GB/s: 78); none when the first chain is already below, or when every chain is above."""
    mib = 2**20
    ladder = [(4 * mib, 100.0), (8 * mib, 95.0), (16 * mib, 50.0), (32 * mib, 90.0)]
    warm, src = warm_weight_bytes(ladder, 120.0, 36.0)
    assert warm == 8 * mib and src.startswith(f"warm_weight_bytes {8 * mib}") and "78.0 GB/s" in src
    assert warm_weight_bytes([(4 * mib, 50.0), (8 * mib, 40.0)], 120.0, 36.0)[0] is None
    assert warm_weight_bytes([(4 * mib, 100.0), (8 * mib, 99.0)], 120.0, 36.0)[0] is None
    assert warm_weight_bytes([], 120.0, 36.0)[0] is None


_FAULTS = """
import json, resource, sys
from accel.app.measure import set_allocator
src = set_allocator(sys.argv[1])
import torch
torch.set_num_threads(1)
m = torch.nn.Conv2d(64, 64, 3, padding=1, groups=64, bias=False).eval()
x = torch.randn(1, 64, 56, 56)
with torch.inference_mode():
    for _ in range(5):
        m(x)
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        m(x)
print(json.dumps({"source": src, "faults_per_call": (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / 20}))
"""


def test_allocator_retain_removes_the_page_faults_of_fresh_activations():
    """``--allocator retain`` (accel.app.measure.set_allocator): a torch depthwise conv on a 64x56x56 tensor, called
    again and again in one process, takes no minor page fault per call once freed memory is kept.  With glibc's
    defaults the same loop takes ~556 per call in a fresh process on the development VM (its freed buffers go back
    to the OS: the 920 vs 104 us of the README) — not asserted here: how many of them the kernel serves with huge
    pages depends on the machine's state (after other memory-hungry tests: fewer).  In a fresh process: mallopt
    lasts for the process's life."""
    r = subprocess.run([sys.executable, "-c", _FAULTS, "retain"], capture_output=True, text=True, timeout=300,
                       check=True)
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["source"].startswith("allocator retain") and "M_TRIM_THRESHOLD 1073741824" in got["source"]
    assert got["faults_per_call"] < 5


def test_allocator_option_is_checked_and_recorded(tmp_path, capsys):
    from accel.app.measure import set_allocator
    from accel.errors import InputError

    with pytest.raises(InputError, match="--allocator must be one of system, retain"):
        set_allocator("jemalloc")
    with pytest.raises(SystemExit) as e:
        main(["calibrate", "--device", "cpu", "--quick", "--allocator", "tcmalloc", "-o", str(tmp_path / "x.yaml")])
    assert e.value.code == 2 and "invalid choice: 'tcmalloc'" in capsys.readouterr().err
    assert not (tmp_path / "x.yaml").exists()
    data = calibrate("cpu", "torch", Budget.quick())  # system: nothing changed, and said so in the sources
    assert any(s.startswith("Measured with the allocator system") for s in data["sources"])


def test_two_runtimes_one_config(tmp_path, capsys):
    """``--runtime ort --runtime torch``: one config with both profiles, the machine's figures from the first
    run, every source line prefixed with its run; the runtimes' execution semantics (graph fusion, concat copies)
    are written into each profile; a runtime named twice is one clear error and writes nothing."""
    out = tmp_path / "host.yaml"
    assert main(["calibrate", "--device", "cpu", "--runtime", "ort", "--runtime", "torch", "--quick",
                 "-o", str(out)]) == 0
    dev = load_arch(out)
    c = dev.config
    assert set(c.runtimes) == {"onnxruntime", "torch"} and c.runtime == "onnxruntime"
    assert c.runtimes["onnxruntime"].graph_fusion and c.runtimes["onnxruntime"].concat == "copy"
    assert not c.runtimes["torch"].graph_fusion and c.runtimes["torch"].concat == "copy"
    assert c.runtimes["torch"].batchnorm == "separate" and c.runtimes["onnxruntime"].batchnorm == "folded"
    assert all(s.startswith(("onnxruntime run: ", "torch run: ")) for s in c.sources)
    assert sum(s.startswith("torch run: macs_per_cycle") for s in c.sources) == 1
    assert "--runtime ort --runtime torch" in c.description
    # both profiles cost the same layer, differently (torch dispatch costs more than onnxruntime's)
    layer = parse_layer_spec("relu K=16 P=2 Q=2")
    t_ort = DeviceModel(dev).layer(layer).latency_s
    t_torch = DeviceModel(dev.with_runtime("torch")).layer(layer).latency_s
    assert t_ort > 0 and t_torch > 0 and t_ort != t_torch
    capsys.readouterr()
    dup = tmp_path / "dup.yaml"
    assert main(["calibrate", "--device", "cpu", "--runtime", "ort", "--runtime", "ort", "--quick",
                 "-o", str(dup)]) == 1
    err = capsys.readouterr().err
    assert "each runtime once" in err and "Traceback" not in err and not dup.exists()


def test_median_of_runs_per_number(tmp_path, capsys):
    """``--runs N``: every number the median of N runs' (integers stay integers), a field one run could not fit is
    dropped, the sources say which numbers differed and give every run's value; the CLI writes a loadable config."""
    from accel.app.calibrate import median_of_runs

    one = calibrate("cpu", "ort", Budget.quick())
    runs = [copy.deepcopy(one) for _ in range(3)]
    prof = [r["runtimes"]["onnxruntime"] for r in runs]
    for p, eff, grain in zip(prof, (0.01, 0.6, 0.5), (512, 73728, 32768)):
        p["parallel_efficiency"], p["parallel_grain_elements"] = eff, grain
    prof[0]["parallel_grain_macs"] = 1000
    prof[1].pop("parallel_grain_macs", None)
    runs[2]["levels"][0]["bandwidth_gbs_per_core"] = 1e6
    m = median_of_runs(runs)
    mp = m["runtimes"]["onnxruntime"]
    assert mp["parallel_efficiency"] == 0.5 and mp["parallel_grain_elements"] == 32768
    assert isinstance(mp["parallel_grain_elements"], int) and "parallel_grain_macs" not in mp
    assert m["levels"][0]["bandwidth_gbs_per_core"] == one["levels"][0]["bandwidth_gbs_per_core"]  # the outlier loses
    assert m["sources"][0].startswith("the median of 3 runs") and m["sources"][1].startswith("run 1 of 3: ")
    assert any(s == "per-run values (median first): runtimes.onnxruntime.parallel_efficiency 0.5 (runs: 0.01, 0.6, 0.5)"
               for s in m["sources"])
    assert not any("op_overhead_us" in s and s.startswith("per-run") for s in m["sources"])  # equal in every run
    parse_device(m)
    assert median_of_runs([one]) is one
    out = tmp_path / "h.yaml"
    assert main(["calibrate", "--device", "cpu", "--runs", "3", "--quick", "-o", str(out)]) == 0
    assert load_arch(out).config.sources[0].startswith("the median of 3 runs")
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["calibrate", "--device", "cpu", "--runs", "0", "--quick", "-o", str(tmp_path / "z.yaml")])
    assert "--runs" in capsys.readouterr().err and not (tmp_path / "z.yaml").exists()


def test_scale_spread_flags_an_unstable_machine():
    """The probes are the same networks in every run: their run-to-run spread is the machine's, the largest max / min
    over both thread ends; none with one run or no scale; above UNSTABLE_SPREAD the CLI warns (no change to the
    config)."""
    from accel.app.calibrate import UNSTABLE_SPREAD, scale_spread

    def run(one, all_):
        return {"runtime": "onnxruntime",
                "runtimes": {"onnxruntime": {"network_scale": {"one_thread": one, "all_threads": all_}}}}

    assert scale_spread([run(0.616, 0.696), run(0.927, 1.205), run(0.991, 1.487)]) == pytest.approx(1.487 / 0.696)
    assert scale_spread([run(1.0, 1.0), run(1.1, 1.05)]) == pytest.approx(1.1)
    assert scale_spread([run(2.0, 3.0)]) == 1.0
    assert scale_spread([{"runtime": "torch", "runtimes": {"torch": {}}}] * 2) == 1.0
    assert 1.1 < UNSTABLE_SPREAD < 1.5


def test_calibrate_cli_warns_when_the_runs_disagree(tmp_path, capsys, monkeypatch):
    """Three runs whose probes disagree by 2x: a warning naming the runtime and the spread; the config is written."""
    import accel.app.calibrate as cal

    one = calibrate("cpu", "ort", Budget.quick())
    scales = iter((0.5, 1.0, 0.75))

    def fake(device, runtime, budget, progress=None, name=None, allocator="system"):
        r = copy.deepcopy(one)
        s = next(scales)
        r["runtimes"]["onnxruntime"]["network_scale"] = {"one_thread": s, "all_threads": s}
        return r

    monkeypatch.setattr(cal, "calibrate", fake)
    out = tmp_path / "h.yaml"
    assert main(["calibrate", "--device", "cpu", "--runs", "3", "--quick", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "the 3 runs 2.00x apart" in err and "warning: onnxruntime: the same probe networks ran up to 2.00x" in err
    assert load_arch(out).config.runtimes["onnxruntime"].network_scale.one_thread == 0.75
