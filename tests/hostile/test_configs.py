"""Hostile configs through the real ``accelsim`` entry point (cases: tests/hostile/generators.py:config_cases)."""

import pytest

from tests.hostile import generators as G
from tests.hostile.harness import check


@pytest.mark.parametrize("case", G.params(G.config_cases()))
def test_hostile_configs(case, tmp_path, assets):
    check(case, tmp_path, assets)
