"""Hostile layers through the real ``accelsim`` entry point (cases: tests/hostile/generators.py:layer_cases)."""

import pytest

from tests.hostile import generators as G
from tests.hostile.harness import check


@pytest.mark.parametrize("case", G.params(G.layer_cases()))
def test_hostile_layers(case, tmp_path, assets):
    check(case, tmp_path, assets)
