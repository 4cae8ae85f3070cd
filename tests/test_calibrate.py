"""``accelsim calibrate``: a quick calibration writes a device config that loads; refusals are one clear error."""

import copy

import pytest

from accel.app.calibrate import Budget, cache_levels, calibrate, fit_efficiency, physical_cores, simd_fp32_lanes
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
    dev = load_arch(out)
    assert isinstance(dev, Device) and dev.kind == "cpu" and dev.config.runtime == "onnxruntime"
    c = dev.config
    assert c.levels[-1].name == "DRAM" and c.levels[-1].size_bytes is None
    assert c.macs_per_cycle_per_core["fp32"] > 0 and c.runtimes["onnxruntime"].op_overhead_us >= 0
    # the per-call cost: the intercept of the Sigmoid chain (a session.run of one tiny op costs more than 0)
    assert c.runtimes["onnxruntime"].inference_overhead_us > 0
    assert any(s.startswith("inference_overhead_us") for s in c.sources)
    assert any("lscpu" in s for s in c.sources) and len(c.sources) >= 10
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
    """The grain sits between the last size below half the full gain and the first at or above it (geometric
    mean); half the smallest size when all reach it, twice the largest when none does, None without a ladder."""
    from accel.app.calibrate import parallel_grain

    ladder = [(1000, 10e-6, 9.5e-6), (4000, 40e-6, 38e-6), (16000, 160e-6, 100e-6), (64000, 640e-6, 360e-6)]
    grain, speedups = parallel_grain(ladder, 0.0, 0.8, 2)  # target speedup 1.4: 1.05, 1.05, 1.6, 1.78
    assert grain == 8000 and [m for m, _ in speedups] == [1000, 4000, 16000, 64000]
    assert speedups[2][1] == pytest.approx(1.6)
    assert parallel_grain(ladder, 0.0, 0.01, 2)[0] == 500  # every size beats 1.005
    assert parallel_grain(ladder, 0.0, 1.0, 4)[0] == 128000  # 4 threads: none reaches 1 + 3 x 1.0 / 2 = 2.5
    assert parallel_grain([], 0.0, 0.5, 2) == (None, [])
