"""The in-network scale of a device profile (accel/device.py 4b) and the probe networks that calibrate it
(accel/app/probes.py)."""

import copy

import numpy as np
import pytest

from accel.app.probes import PROBES, ProbeTiming, build_probe, fit_network_scale
from accel.device import OP_CLASSES, DeviceError, DeviceModel, network_scale, parse_device
from accel.workload import NetworkBuilder
from tests.test_device import BASE


def _with_scale(scale: dict | None, **profile):
    d = copy.deepcopy(BASE)
    d["runtimes"]["rt"].update(profile)
    if scale is not None:
        d["runtimes"]["rt"]["network_scale"] = scale
    return parse_device(d, "toy.yaml")


def _net():
    """conv -> depthwise -> pool -> add(conv output) -> fc: every op class once."""
    b = NetworkBuilder("probe-toy")
    x = b.input(1, 8, 8, 8)
    c = b.conv(x, 16, 3, padding=1, name="c")
    d = b.conv(c, 16, 3, padding=1, groups=16, name="d")
    p = b.pool(d, "max", 3, stride=1, padding=1, name="p")
    a = b.add(p, c, name="a")
    b.linear(b.flatten(b.global_avgpool(a, name="g")), 10, name="f")
    return b.build()


def test_network_scale_multiplies_every_operator_and_not_the_call():
    """Every operator (of every class, with its reorders) costs the factor times its unscaled time; the per-call
    overhead is not scaled; no field means factor 1; the ranking of networks cannot change."""
    net = _net()
    base = DeviceModel(_with_scale(None, inference_overhead_us=7.0, nchwc_block=8)).network(net)
    assert sum(lr.cost.reorders for lr in base.layers) > 0
    assert sorted({lr.cost.op_class for lr in base.layers}) == sorted(OP_CLASSES)
    scaled = DeviceModel(_with_scale({"one_thread": 1.7, "all_threads": 2.5}, inference_overhead_us=7.0,
                                     nchwc_block=8)).network(net)
    assert scaled.inference_overhead_s == base.inference_overhead_s == 7e-6
    for b_, s_ in zip(base.layers, scaled.layers):
        assert s_.cost.latency_s == pytest.approx(1.7 * b_.cost.latency_s, rel=1e-12)
        assert s_.cost.reorder_s == pytest.approx(1.7 * b_.cost.reorder_s, rel=1e-12)
    assert scaled.latency_s - 7e-6 == pytest.approx(1.7 * (base.latency_s - 7e-6), rel=1e-12)
    ones = {"one_thread": 1.0, "all_threads": 1.0}
    assert DeviceModel(_with_scale(ones)).network(net).latency_s == pytest.approx(
        DeviceModel(_with_scale(None)).network(net).latency_s, rel=1e-15)


def test_scale_follows_the_thread_count():
    """s(1) = one_thread, s(cores) = all_threads, linear in between."""
    d = copy.deepcopy(BASE)
    d["cores"], d["threads"] = 5, 5
    d["runtimes"]["rt"]["network_scale"] = {"one_thread": 1.2, "all_threads": 2.0}
    dev = parse_device(d, "toy.yaml")
    assert [network_scale(dev.with_threads(t)) for t in (1, 3, 5)] == pytest.approx([1.2, 1.6, 2.0])
    assert network_scale(_with_scale(None)) == 1.0


@pytest.mark.parametrize("value, says", [(0, "greater than 0"), (17, "less than or equal to 16"),
                                         (float("nan"), "finite number"), ("2", "valid number")])
def test_network_scale_boundary(value, says):
    d = copy.deepcopy(BASE)
    d["runtimes"]["rt"]["network_scale"] = {"one_thread": value, "all_threads": 1}
    with pytest.raises(DeviceError) as e:
        parse_device(d, "toy.yaml")
    assert "runtimes.rt.network_scale.one_thread" in str(e.value) and says in str(e.value)
    d["runtimes"]["rt"]["network_scale"] = {"one_thread": 1}
    with pytest.raises(DeviceError, match="network_scale.all_threads"):
        parse_device(d, "toy.yaml")
    d["runtimes"]["rt"]["network_scale"] = {"one_thread": 1, "all_threads": 1, "conv": 2}
    with pytest.raises(DeviceError, match="network_scale.conv"):
        parse_device(d, "toy.yaml")


def test_fit_takes_the_median_ratio_per_thread_count():
    """one_thread / all_threads: the median of (measured - call) / modelled over the probes at 1 and at the most
    threads (one mispriced probe does not move it); clipped to the schema's range; one thread only: both equal."""
    t = [ProbeTiming("a", 1, 3e-3 + 1e-5, 2e-3, 1e-5), ProbeTiming("b", 1, 1.2e-3 + 1e-5, 1e-3, 1e-5),
         ProbeTiming("c", 1, 50e-3, 1e-3, 1e-5),  # mispriced
         ProbeTiming("a", 2, 4e-3, 2e-3, 0.0), ProbeTiming("b", 2, 2.2e-3, 1e-3, 0.0), ProbeTiming("c", 2, 1e-3, 1e-3, 0.0)]
    got = fit_network_scale(t)
    assert got["one_thread"] == pytest.approx(1.5) and got["all_threads"] == pytest.approx(2.0)
    assert fit_network_scale(t[:3]) == {"one_thread": pytest.approx(1.5), "all_threads": pytest.approx(1.5)}
    assert fit_network_scale([ProbeTiming("x", 1, 1.0, 1e-3, 0.0)])["one_thread"] == 16.0
    with pytest.raises(ValueError):
        fit_network_scale([])


@pytest.mark.parametrize("name, shape, blocks", PROBES, ids=[p[0] for p in PROBES])
def test_probe_builds_what_the_importer_costs(tmp_path, name, shape, blocks):
    """Each probe's torch module and the accelsim network imported from its ONNX export have the same MACs (the
    device model costs the graph that was timed), and the probes span the op classes they are meant to."""
    from accel.nn import count_macs, export_module_onnx
    from accel.onnx_import import load_onnx_network

    m = build_probe(blocks, shape[0])
    net = load_onnx_network(export_module_onnx(m, (1, *shape), tmp_path / f"{name}.onnx"))
    assert net.macs == count_macs(m, (1, *shape)) > 0
    ops = {lr.op for lr in net.layers}
    assert "fc" in ops and "conv" in ops
    if any(b[0] == "ir" for b in blocks):
        assert any(lr.G > 1 and lr.C == 1 for lr in net.layers)  # depthwise convs
    if any(b[0] in ("pool", "cat") for b in blocks):
        assert ops & {"maxpool", "avgpool"}


def test_quick_calibration_fits_the_scale():
    """A calibration times its probes and writes the factors with their source line (every probe's times)."""
    from accel.app.calibrate import Budget, calibrate

    data = calibrate("cpu", "ort", Budget.quick())
    ns = data["runtimes"]["onnxruntime"]["network_scale"]
    assert set(ns) == {"one_thread", "all_threads"} and all(1 / 16 <= v <= 16 for v in ns.values())
    src = [s for s in data["sources"] if s.startswith("network_scale")]
    assert len(src) == 1 and "cifar-res-narrow 1t" in src[0] and "cifar-cat-24" in src[0]
    parse_device(data)
