"""Hostile sweeps through the real ``accelsim`` entry point (cases: tests/hostile/generators.py:sweep_cases)."""

import pytest

from tests.hostile import generators as G
from tests.hostile.harness import check


@pytest.mark.parametrize("case", G.params(G.sweep_cases()))
def test_hostile_sweeps(case, tmp_path, assets):
    check(case, tmp_path, assets)
