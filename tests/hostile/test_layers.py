"""Hostile layers through the real ``accelsim`` entry point (cases: tests/hostile/generators.py:layer_cases)."""

import pytest

from tests.hostile import generators as G
from tests.hostile.harness import check

CASES = G.layer_cases()
G.check_unique(CASES)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=[pytest.mark.hostile_new] if c.new else [])
                                  for c in CASES])
def test_hostile_layers(case, tmp_path, assets):
    check(case, tmp_path, assets)
