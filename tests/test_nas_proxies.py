"""Zero-cost proxies on a handful of NAS-Bench-201 networks (tiny synthetic batches)."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("torch")

from nas.proxies import PROXIES, ProxyScorer, compute_proxies, proxy_study, spearman, without_bn  # noqa: E402
from nas.registry import get_space  # noqa: E402

CONV3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
SMALL = "|nor_conv_1x1~0|+|skip_connect~0|none~1|+|none~0|none~1|avg_pool_3x3~2|"
EMPTY = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
SPACE = get_space("nb201")


@pytest.fixture(scope="module")
def values():
    return {s: compute_proxies(SPACE, SPACE.decode(s), batch_size=4, seed=0) for s in (CONV3, SMALL, EMPTY)}


def test_basic_properties(values):
    for s in (CONV3, SMALL):
        v = values[s]
        assert set(v) == set(PROXIES)
        assert all(math.isfinite(x) for x in v.values())
        assert v["synflow"] > 0 and v["grad_norm"] > 0 and v["snip"] > 0
    # synflow grows with the parameters on the input→output paths (Tanaka et al.: path norm)
    assert values[CONV3]["synflow"] > 1e6 * values[SMALL]["synflow"]
    # the scores depend on the architecture
    assert values[CONV3]["grad_norm"] != values[SMALL]["grad_norm"]
    assert values[CONV3]["naswot"] != values[SMALL]["naswot"]
    # a cell that disconnects the network: no signal reaches the classifier through the cells
    e = values[EMPTY]
    assert e["synflow"] == 0.0 and e["grad_norm"] == 0.0 and e["snip"] == 0.0


def test_naswot_bounds(values):
    # K = N_units·J − Hamming: its log-det is at most N·log(N_units) (Hadamard's inequality)
    for s in (CONV3, SMALL):
        assert values[s]["naswot"] < 4 * math.log(1e7)


def test_deterministic_and_seeded():
    a = SPACE.decode(SMALL)
    one = compute_proxies(SPACE, a, ("naswot", "grad_norm"), batch_size=4, seed=3)
    assert one == compute_proxies(SPACE, a, ("naswot", "grad_norm"), batch_size=4, seed=3)
    assert one != compute_proxies(SPACE, a, ("naswot", "grad_norm"), batch_size=4, seed=4)
    import torch

    state = torch.random.get_rng_state()
    compute_proxies(SPACE, a, ("synflow",), seed=5)
    assert torch.equal(state, torch.random.get_rng_state())  # the caller's RNG is untouched
    with pytest.raises(ValueError, match="unknown proxies"):
        compute_proxies(SPACE, a, ("flops",))


def test_scorer_caches_and_other_spaces():
    sc = ProxyScorer(SPACE, "synflow")
    a = SPACE.decode(CONV3)
    assert sc(a) == sc(a) > 0 and len(sc._cache) == 1
    fb = get_space("fbnet")
    arch = fb.sample(np.random.Generator(np.random.PCG64(0)))
    # float32 forward only: synflow's float64 depthwise convolutions are slow on CPU
    assert math.isfinite(compute_proxies(fb, arch, ("naswot",), batch_size=2)["naswot"])


def test_without_bn():
    from torch import nn

    m = without_bn(SPACE.build_torch(SPACE.decode(CONV3)))
    assert not any(isinstance(x, nn.BatchNorm2d) for x in m.modules())


def test_spearman_and_study():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    # NaN / −inf rank lowest (tied), +inf highest
    assert spearman([-math.inf, 2, 3, math.nan], [1, 3, 4, 0]) == pytest.approx(spearman([1, 2, 3, 1], [1, 3, 4, 0]))
    assert spearman([math.inf, 2, 3], [9, 1, 2]) == pytest.approx(1.0)
    archs = [SPACE.decode(s) for s in (CONV3, SMALL, EMPTY)]
    df = proxy_study(SPACE, archs, SPACE.accuracy, ("synflow",), batch_size=2)
    assert list(df["arch"]) == [CONV3, SMALL, EMPTY]
    assert df.attrs["spearman"]["synflow"] == pytest.approx(1.0)  # 93.8 > 79 > 10 % and synflow agrees
