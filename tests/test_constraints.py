"""Per-level mapping constraints (``constraints:`` in the accelerator YAML, issue 12 item 3).

Timeloop users report constraints silently ignored or mis-applied (NVlabs/timeloop#187, #206, #255), so
every mapping the search returns here is checked against every constraint by :func:`violations`, an
implementation of the rules written from the documentation, independent of the mapspace's pruning.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from accel.arch import ConfigError, parse_arch, parse_factor
from accel.cost import Mapping
from accel.workload import DIM_INDEX, DIMS, OPERANDS, Layer
from mapper.mapspace import NoValidMapping, build_mapspace
from mapper.search import search_mapping
from tests.conftest import ROOT

BASE = parse_arch(__import__("yaml").safe_load((ROOT / "configs" / "eyeriss.yaml").read_text()))


def small_arch(constraints: list[dict], rows: int = 4, cols: int = 4, macs: int = 2, preset: str = "unconstrained"):
    """Eyeriss' hierarchy, a small array with 2 MAC lanes per PE, optional bypass of GLB inputs and spad
    weights, the dataflow ``preset`` and ``constraints``."""
    d = BASE.config.model_dump(mode="python", exclude_none=True)
    d["pe_array"].update(rows=rows, cols=cols, macs_per_pe=macs)
    d["dataflow"] = {"preset": preset}
    d["levels"][1]["bypass_optional"] = ["inputs"]
    d["levels"][2]["bypass_optional"] = ["weights"]
    d["constraints"] = constraints
    return parse_arch(d, "small")


def _spatial_rows(arch) -> dict[str, int]:
    a = arch.arrays
    rows = {lv.name: i for i, lv in enumerate(arch.config.levels) if i > 0 and (lv.fanout or i == a.pe_level)}
    rows.update(pe_array=a.pe_level, macs=a.n_levels)
    return rows


def violations(arch, layer: Layer, m: Mapping) -> list[str]:
    """Every constraint of ``arch`` that mapping ``m`` of ``layer`` breaks (empty: it satisfies all)."""
    out = []
    names = {n: i for i, n in enumerate(arch.level_names)}
    rows = _spatial_rows(arch)
    sp = m.spatial_x * m.spatial_y
    for i, c in enumerate(arch.config.constraints):
        if c.type == "bypass":
            lv = names[c.target]
            out += [f"[{i}] keeps {o}" for o in c.bypass if m.keep[lv, OPERANDS.index(o)]]
            out += [f"[{i}] bypasses {o}" for o in c.keep if not m.keep[lv, OPERANDS.index(o)]]
            continue
        if not layer.is_mac:
            continue
        if c.type == "temporal":
            lv = names[c.target]
            for dname, f in c.factors.items():
                d = DIM_INDEX[dname]
                kind, n = parse_factor(f)
                v = int(m.temporal[lv, d])
                if (kind == "exact" and v != n) or (kind == "max" and v > n):
                    out.append(f"[{i}] {dname}={v} at {c.target}, rule {f}")
                if kind == "residual":  # every level without its own rule on d iterates d once
                    ruled = {names[o.target] for o in arch.config.constraints
                             if o.type == "temporal" and dname in o.factors}
                    bad = [arch.level_names[k] for k in range(len(names)) if k not in ruled and m.temporal[k, d] > 1]
                    if bad:
                        out.append(f"[{i}] {dname} residual at {c.target} but also iterated at {bad}")
            if c.permutation:  # loops of factor 1 do not exist: compare the others, inner → outer
                loops = [DIMS[d] for d in m.order[lv][::-1] if m.temporal[lv, d] > 1]
                want = [d for d in c.permutation if m.temporal[lv, DIM_INDEX[d]] > 1]
                if loops[: len(want)] != want:
                    out.append(f"[{i}] innermost loops at {c.target} are {loops}, not {want}")
            continue
        f = rows[c.target]
        vec = {"x": m.spatial_x[f], "y": m.spatial_y[f], None: sp[f]}[c.axis]
        above = np.prod(sp[1:f], axis=0) if f > 1 else np.ones(8, dtype=np.int64)
        for dname, fac in c.factors.items():
            d = DIM_INDEX[dname]
            kind, n = parse_factor(fac)
            v = int(vec[d])
            if kind == "residual":
                n, kind = -(-int(layer.dims[d]) // int(above[d])), "exact"
            if (kind == "exact" and v != n) or (kind == "max" and v > n):
                out.append(f"[{i}] spatial {dname}={v} at {c.target}, rule {fac}")
        for axis, dims, v in (("x", c.x, m.spatial_x[f]), ("y", c.y, m.spatial_y[f])):
            if dims is not None:
                out += [f"[{i}] {DIMS[d]} unrolled on {axis}" for d in range(8) if v[d] > 1 and DIMS[d] not in dims]
    return out


def _random_constraints(rng: np.random.Generator, layer: Layer) -> list[dict]:
    """A random mix of temporal (exact / at most / residual / forbidden), permutation, spatial (axis dims,
    factor rules) and bypass constraints, drawn so that many (not all) sets can be met."""
    cons = []
    dims = [d for d in DIMS if layer.dims[DIM_INDEX[d]] > 1]
    levels = ["DRAM", "GLB", "spad"]
    for lv in levels:
        if rng.random() < 0.6:
            fac = {}
            for d in rng.permutation(dims)[: rng.integers(1, 3)]:
                b = int(layer.dims[DIM_INDEX[d]])
                kind = rng.integers(0, 4)
                divs = [k for k in range(1, b + 1) if b % k == 0]
                fac[str(d)] = [int(rng.choice(divs)), f"<={int(rng.integers(1, b + 1))}", 1, 0][kind]
            entry = {"target": lv, "type": "temporal", "factors": fac}
            if rng.random() < 0.5:
                entry["permutation"] = "".join(rng.permutation(DIMS)[: rng.integers(1, 4)])
            cons.append(entry)
    if rng.random() < 0.7:
        x = [str(d) for d in rng.permutation(DIMS)[: rng.integers(1, 5)]]
        y = [str(d) for d in rng.permutation(DIMS)[: rng.integers(1, 5)]]
        entry = {"target": "pe_array", "type": "spatial", "x": x, "y": y}
        if rng.random() < 0.5 and dims:
            d = str(rng.choice(dims))
            entry["factors"] = {d: [1, "<=2", 2][rng.integers(0, 3)]}
        cons.append(entry)
    if rng.random() < 0.4 and dims:
        cons.append({"target": "macs", "type": "spatial", "axis": "x", "factors": {str(rng.choice(dims)): "<=1"}})
    if rng.random() < 0.6:
        cons.append({"target": "GLB", "type": "bypass", **({"keep": ["inputs"]} if rng.random() < 0.5
                                                               else {"bypass": ["inputs"]})})
    if rng.random() < 0.4:
        cons.append({"target": "spad", "type": "bypass", "bypass": ["weights"]})
    return cons


def _random_layer(rng: np.random.Generator) -> Layer:
    k, c, p = (int(rng.integers(1, 17)) for _ in range(3))
    r = int(rng.choice([1, 3]))
    if rng.random() < 0.25:
        return Layer("fc", "fc", N=int(rng.integers(1, 5)), K=k * 2, C=c * 2)
    return Layer("x", "conv", K=k, C=c, P=p, Q=max(1, p - 1), R=r, S=r)


def test_every_returned_mapping_satisfies_every_constraint():
    """Deterministic sweep: 60 random small layers x random constraint sets x dataflow presets; every
    mapping the search returns satisfies every constraint, and an unsatisfiable set names a constraint."""
    rng = np.random.default_rng(12)
    found = refused = 0
    presets = ["unconstrained", "unconstrained", "weight_stationary", "row_stationary"]
    for case in range(60):
        layer = _random_layer(rng)
        arch = small_arch(_random_constraints(rng, layer), rows=int(rng.integers(2, 7)), cols=int(rng.integers(2, 7)),
                          preset=presets[case % 4])
        try:
            res = search_mapping(layer, arch, objective="edp", seed=case, samples=600, rounds=8, restarts=2,
                                 exhaustive_limit=3000)
        except NoValidMapping as e:
            assert "constraints[" in str(e), str(e)
            refused += 1
            continue
        assert res.cost.valid
        bad = violations(arch, layer, res.mapping)
        assert not bad, (layer.describe(), arch.config.constraints, bad)
        found += 1
    assert found >= 30 and found + refused == 60  # the check is not vacuous


def test_constraints_prune_the_mapspace_not_the_results():
    """The mapspace only encodes constrained mappings: every genome decodes to a mapping that satisfies
    the constraints (so the search budget is spent inside the constrained space)."""
    from mapper.genome import decode_genome, random_genomes

    layer = Layer("c", "conv", K=16, C=8, P=12, Q=12, R=3, S=3)
    cons = [{"target": "GLB", "type": "temporal", "factors": {"K": 4, "C": "<=2", "R": 1}, "permutation": "QP"},
            {"target": "spad", "type": "temporal", "factors": {"S": 0}, "permutation": "SR"},
            {"target": "pe_array", "type": "spatial", "x": ["P", "K"], "y": ["C"], "factors": {"K": 2}},
            {"target": "GLB", "type": "bypass", "bypass": ["inputs"]}]
    arch = small_arch(cons)
    ms = build_mapspace(layer, arch)
    free = build_mapspace(layer, small_arch([]))
    assert ms.size() < free.size()
    G = random_genomes(ms, np.repeat(np.arange(len(ms.spatial_x)), 50), np.random.default_rng(0))
    for g in G:
        assert not violations(arch, layer, decode_genome(ms, g))
    res = search_mapping(layer, arch, samples=800, rounds=10)
    assert not violations(arch, layer, res.mapping)
    assert res.mapping.temporal[1, DIM_INDEX["K"]] == 4 and res.mapping.keep[1, OPERANDS.index("inputs")] == 0


@pytest.mark.parametrize("cons, path, why", [
    ([{"target": "GLB", "type": "temporal", "factors": {"K": 32}}], r"constraints\[0\]\.factors\.K", "K has"),
    ([{"target": "GLB", "type": "temporal", "factors": {"K": 4}},
      {"target": "spad", "type": "temporal", "factors": {"K": 4}}], r"constraints\[0\]\.factors\.K.*constraints\[1\]",
     "K has"),
    ([{"target": "pe_array", "type": "spatial", "axis": "x", "factors": {"C": 16}}], r"constraints\[0\] \(pe_array",
     "no spatial unrolling"),
    ([{"target": "DRAM", "type": "temporal", "factors": {"P": 1}},
      {"target": "GLB", "type": "temporal", "factors": {"P": 1}},
      {"target": "spad", "type": "temporal", "factors": {"P": "<=2"}},
      {"target": "pe_array", "type": "spatial", "factors": {"P": 1}}], r"constraints\[\d\]\.factors\.P", "P has"),
])
def test_contradicting_constraints_name_the_constraint(cons, path, why):
    layer = Layer("c", "conv", K=8, C=8, P=12, Q=12, R=3, S=3)
    with pytest.raises(NoValidMapping, match=path) as e:
        search_mapping(layer, small_arch(cons), samples=300, rounds=3)
    assert why in str(e.value)


def test_no_constraints_leave_the_mapspace_unchanged():
    layer = Layer("c", "conv", K=24, C=8, P=14, Q=14, R=3, S=3)
    a, b = small_arch([]), small_arch([{"target": "GLB", "type": "bypass"}])  # an entry without rules
    ma, mb = build_mapspace(layer, a), build_mapspace(layer, b)
    assert ma.size() == mb.size() and (ma.chains == mb.chains).all() and (ma.chain_start == mb.chain_start).all() and (ma.orders == mb.orders).all()


@pytest.mark.parametrize("entry, path, msg", [
    ({"target": "GLBB", "type": "temporal"}, "constraints[0].target", "unknown level 'GLBB' (levels: ['DRAM', 'GLB'"),
    ({"target": "GLB", "type": "spatial"}, "constraints[0].target", "no fan-out 'GLB'"),
    ({"target": "GLB", "type": "temporal", "factors": {"K": "<=x"}}, "constraints[0].factors", "'<=N'"),
    ({"target": "GLB", "type": "temporal", "factors": {"Z": 2}}, "constraints[0].factors.Z", ""),
    ({"target": "GLB", "type": "temporal", "permutation": "KK"}, "constraints[0].permutation", "twice"),
    ({"target": "GLB", "type": "temporal", "keep": ["inputs"]}, "constraints[0]", "do not apply to a temporal"),
    ({"target": "GLB", "type": "bypass", "keep": ["weights"]}, "constraints[0].keep", "cannot keep ['weights']"),
    ({"target": "GLB", "type": "bypass", "bypass": ["outputs"]}, "constraints[0].bypass", "always keeps"),
])
def test_bad_constraints_name_the_yaml_path(entry, path, msg):
    with pytest.raises(ConfigError) as e:
        small_arch([entry])
    assert path in str(e.value) and msg in str(e.value), str(e.value)


def test_duplicate_targets_are_refused():
    with pytest.raises(ConfigError, match=r"constraints\[1\].*second temporal constraint for 'GLB'"):
        small_arch([{"target": "GLB", "type": "temporal"}, {"target": "GLB", "type": "temporal"}])


def test_residual_and_padding_rules():
    """K=0 at spad: all of K left after spatial unrolling iterates there; an exact factor that does not
    divide the extent pads it (ceil), as an imperfect factorization."""
    layer = Layer("c", "conv", K=12, C=6, P=7, Q=7, R=1, S=1)
    arch = small_arch([{"target": "spad", "type": "temporal", "factors": {"K": 0}},
                       {"target": "GLB", "type": "temporal", "factors": {"P": 4}}])
    res = search_mapping(layer, arch, samples=600, rounds=8)
    m = res.mapping
    assert not violations(arch, layer, m)
    k = DIM_INDEX["K"]
    assert m.temporal[0, k] == m.temporal[1, k] == 1
    assert m.temporal[2, k] * int(np.prod(m.spatial_x[:, k] * m.spatial_y[:, k])) >= 12
    assert m.temporal[1, DIM_INDEX["P"]] == 4 and math.prod(m.temporal[:, DIM_INDEX["P"]]) * \
        int(np.prod(m.spatial_x[:, DIM_INDEX["P"]] * m.spatial_y[:, DIM_INDEX["P"]])) >= 7


@pytest.mark.parametrize("factors, axis", [({"K": 3}, None), ({"K": 3, "C": 5}, None), ({"R": 0}, "y"),
                                           ({"P": "<=2", "Q": 7}, None)])
def test_spatial_factor_rules_on_a_large_array(factors, axis):
    """Exact, residual and at-most spatial factors on a 16 x 16 array (whose per-axis options are trimmed):
    the rule's factor is always reachable, on either axis."""
    layer = Layer("c", "conv", K=24, C=40, P=28, Q=28, R=3, S=3)
    entry = {"target": "pe_array", "type": "spatial", "factors": factors, **({"axis": axis} if axis else {})}
    arch = small_arch([entry], rows=16, cols=16)
    res = search_mapping(layer, arch, samples=800, rounds=8)
    assert not violations(arch, layer, res.mapping)
