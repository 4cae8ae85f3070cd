"""Generated hostile inputs (hypothesis, derandomized: the same examples on every run, no shrinking so a
failing run stays within its time): layer-spec strings and arbitrary bytes as a config, an ONNX file and a
bitwidths file.  Each example goes through the real entry point like the enumerated corpus."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.hostile import generators as G
from tests.hostile.harness import Case, Prepared, Workspace, run_case

FUZZ = settings(max_examples=25, derandomize=True, deadline=None, phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck), database=None)

DIMS = ("N", "K", "C", "P", "Q", "R", "S")
VALID = ("1", "2", "3", "4", "8")
INVALID = ("0", "-1", "-8", str(2 ** 31 + 1), "99999999999999999999", "1.5", "x", "", "1e3", "nan", "inf", "8x")


def _run(case: Case, assets) -> tuple[str, str]:
    with tempfile.TemporaryDirectory(prefix="hostile-fuzz-") as d:
        v, prep = run_case(case, Path(d), assets)
    return v.outcome, v.explain(prep.argv)


@FUZZ
@given(pairs=st.lists(st.tuples(st.sampled_from(DIMS), st.sampled_from(VALID + INVALID)), min_size=0, max_size=8),
       bad=st.tuples(st.sampled_from(DIMS), st.sampled_from(INVALID)), at=st.integers(0, 8))
def test_layer_spec_fuzz(pairs, bad, at, assets):
    """Every generated spec is invalid: at least one dimension has an invalid value (``bad``, inserted at
    position ``at``); it must be refused with a message naming --layer.  (Valid specs are accepted: the
    corpus of enumerated layer cases and tests/test_cli*.py cover them.)"""
    pairs = [*pairs[:at], bad, *pairs[at:]]
    spec = "conv " + " ".join(f"{k}={v}" for k, v in pairs)

    def build(ws: Workspace) -> Prepared:
        return Prepared(["map", "--hw", ws.config(), "--layer", spec], [("--layer", "layer")])
    outcome, why = _run(Case(f"fuzz:layer:{spec}", "fuzz", G.LAYER, build), assets)
    assert outcome == "clean", f"{spec!r}: {why}"


@pytest.mark.parametrize("target", ["config", "onnx", "bitwidths", "sweep"])
@FUZZ
@given(data=st.binary(min_size=0, max_size=1500))
def test_garbage_bytes_fuzz(target, data, assets):
    def build(ws: Workspace) -> Prepared:
        cfg = ws.config()
        if target == "config":
            path = ws.write("fuzz.yaml", data)
            return Prepared(["map", "--hw", path, "--layer", "conv K=8 C=8 P=4 Q=4 R=3 S=3"], ["fuzz.yaml"])
        if target == "onnx":
            path = ws.write("fuzz.onnx", data)
            return Prepared(["eval", path, "--hw", cfg], ["fuzz.onnx"])
        if target == "sweep":
            path = ws.write("fuzz-spec.yaml", data)
            return Prepared(["sweep", path, "--workload", "layer:conv K=8 C=8 P=4 Q=4 R=1 S=1", "-o",
                             str(ws.out / "r.parquet"), "--jobs", "1"], ["fuzz-spec.yaml"])
        path = ws.write("fuzz.json", data)
        return Prepared(["eval", ws.tiny_onnx(), "--hw", cfg, "--bitwidths", path], ["fuzz.json"])
    owner = {"config": G.YAML, "onnx": G.ONNX, "bitwidths": G.BITS, "sweep": G.SPEC}[target]
    outcome, why = _run(Case(f"fuzz:{target}:{data[:16].hex()}", "fuzz", owner, build), assets)
    assert outcome == "clean", why

