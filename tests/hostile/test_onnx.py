"""Hostile onnx through the real ``accelsim`` entry point (cases: tests/hostile/generators.py:onnx_cases)."""

import pytest

from tests.hostile import generators as G
from tests.hostile.harness import check


@pytest.mark.parametrize("case", G.params(G.onnx_cases()))
def test_hostile_onnx(case, tmp_path, assets):
    check(case, tmp_path, assets)
