"""Eyeriss chip (JSSC 2017, Table V): AlexNet CONV1-5 at batch 4 on configs/eyeriss.yaml.

Processing latency per layer within 15 % of the chip, the total within 10 %, active PEs within 5 %, for the
mapper's best-latency mappings (the chip's processing latency is what its mapping achieved on the array).
Traffic is reported next to the chip's (printed with -s) for the best-energy mappings; the model's DRAM/GLB
traffic is higher than the chip's because it has no halo (sliding-window) reuse across temporal steps.
"""

import csv

import pytest

from mapper.network import NetworkEvaluator
from accel.zoo import get_network
from tests.conftest import data_path

REF = data_path("eyeriss_alexnet_jssc2017.csv")  # Table V of the JSSC 2017 paper (tests/data/SOURCES.md)


@pytest.fixture(scope="module")
def results(eyeriss):
    with REF.open() as f:
        chip = {row["layer"]: row for row in csv.DictReader(f)}
    net = get_network("alexnet", batch=4)
    ev = NetworkEvaluator(eyeriss, objective="latency", seed=0)
    ours = {layer.name: ev.layer(layer) for layer in net.layers if layer.name in chip}
    return chip, ours


@pytest.fixture(scope="module")
def energy_results(eyeriss, results):
    net = get_network("alexnet", batch=4)
    ev = NetworkEvaluator(eyeriss, objective="energy", seed=0)
    return {layer.name: ev.layer(layer) for layer in net.layers if layer.name in results[0]}


LAYERS = ["CONV1", "CONV2", "CONV3", "CONV4", "CONV5"]


@pytest.mark.parametrize("name", LAYERS)
def test_layer_latency_within_15pct(results, name):
    chip, ours = results
    model_ms = ours[name].cost.latency_s * 1e3
    chip_ms = float(chip[name]["processing_latency_ms"])
    assert abs(model_ms / chip_ms - 1) <= 0.15, (name, model_ms, chip_ms)


@pytest.mark.parametrize("name", LAYERS)
def test_layer_macs_match_chip_table(results, name):
    chip, ours = results
    assert ours[name].layer.macs == pytest.approx(float(chip[name]["macs"]), rel=0.01)


@pytest.mark.parametrize("name", LAYERS)
def test_active_pes_within_5pct(results, name):
    chip, ours = results
    assert abs(ours[name].cost.active_pes / float(chip[name]["active_pes"]) - 1) <= 0.05


def test_total_latency_within_10pct(results):
    chip, ours = results
    total = sum(r.cost.latency_s for r in ours.values()) * 1e3
    assert abs(total / float(chip["TOTAL"]["processing_latency_ms"]) - 1) <= 0.10


def test_report_traffic(results, energy_results):
    """Prints the side-by-side table (pytest -s); checks traffic ≥ compulsory and the best-energy mapping
    spends no more energy than the best-latency one."""
    chip, ours = results
    print("\nlayer  model_ms chip_ms  PEs(model/chip)  GLB_MB(model/chip)  DRAM_MB(model/chip)  [best-energy mappings]")
    for name in LAYERS:
        c = energy_results[name].cost
        fast = ours[name].cost
        assert c.energy_pj <= fast.energy_pj * (1 + 1e-9)
        glb = (sum(c.reads["GLB"].values()) + sum(c.writes["GLB"].values())) * 2 / 1e6
        dram = (sum(c.reads["DRAM"].values()) + sum(c.writes["DRAM"].values())) * 2 / 1e6
        print(f"{name}  {c.latency_s * 1e3:7.2f} {float(chip[name]['processing_latency_ms']):7.2f}  "
              f"{c.active_pes:4d}/{chip[name]['active_pes']:>4}  {glb:8.1f}/{chip[name]['glb_access_mb']:>5}  "
              f"{dram:8.1f}/{chip[name]['dram_access_mb']:>5}")
        w, i, o = ours[name].layer.operand_sizes()
        compulsory_mb = (w + i + o) * 2 / 1e6
        assert dram >= compulsory_mb * 0.999
