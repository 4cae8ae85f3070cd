"""Every shipped config loads and evaluates ResNet-18; totals are pinned (golden numbers).

The mapper is deterministic for a seed, so any change of these numbers is a change of the model, the
mapper or a config: regenerate deliberately with ``ACCELSIM_REGEN_GOLDEN=1 python -m pytest tests/test_golden.py``
and explain the diff in the commit.
"""

import json
import os

import pytest

from accel.arch import list_configs, load_arch
from mapper.network import evaluate_network
from accel.zoo import get_network
from tests.conftest import ROOT

GOLDEN = ROOT / "tests" / "data" / "golden_resnet18.json"
CONFIGS = [p.stem for p in list_configs()]


@pytest.fixture(scope="module")
def golden():
    if os.environ.get("ACCELSIM_REGEN_GOLDEN"):
        net = get_network("resnet18")
        out = {}
        for name in CONFIGS:
            r = evaluate_network(net, load_arch(ROOT / "configs" / f"{name}.yaml"))
            out[name] = {"macs": r.macs, "latency_cycles": r.latency_cycles, "energy_pj": r.energy_pj}
        GOLDEN.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    return json.loads(GOLDEN.read_text())


def test_every_config_is_pinned(golden):
    assert sorted(golden) == sorted(CONFIGS)


@pytest.mark.parametrize("name", CONFIGS)
def test_resnet18_totals(golden, name):
    arch = load_arch(ROOT / "configs" / f"{name}.yaml")
    r = evaluate_network(get_network("resnet18"), arch)
    g = golden[name]
    assert r.macs == g["macs"]
    assert r.latency_cycles == pytest.approx(g["latency_cycles"], rel=1e-9)
    if getattr(arch, "is_device", False):  # a CPU / GPU device config (accel/device.py): no energy model
        assert r.energy_pj != r.energy_pj and g["energy_pj"] != g["energy_pj"]  # NaN
        assert r.latency_s >= r.macs / arch.peak_macs_per_s
        return
    assert r.energy_pj == pytest.approx(g["energy_pj"], rel=1e-9)
    # invariants on the whole network
    assert r.latency_cycles >= r.macs / arch.peak_macs_per_cycle
    assert r.energy_pj >= r.macs * arch.arrays.mac_energy_pj
