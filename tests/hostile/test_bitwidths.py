"""Hostile bitwidths through the real ``accelsim`` entry point (cases: tests/hostile/generators.py:bitwidth_cases)."""

import pytest

from tests.hostile import generators as G
from tests.hostile.harness import check


@pytest.mark.parametrize("case", G.params(G.bitwidth_cases()))
def test_hostile_bitwidths(case, tmp_path, assets):
    check(case, tmp_path, assets)
