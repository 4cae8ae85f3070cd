"""Timeloop v0.4 interoperability: read Timeloop specs into accelsim's accelerator config, Layer and Mapping.

Reads, through a safe YAML loader (:class:`TimeloopLoader`: ``yaml.SafeLoader`` plus the ``!Component``,
``!Container``, ``!Parallel`` and ``!Hierarchical`` tags, each built into a plain dict with a ``_tag`` key —
never an arbitrary object; ``!!python/...`` tags are refused):

* architectures — the v0.4 ``architecture: {nodes: [...]}`` tree, or the ``architecture: {subtree: ...}``
  form Timeloop's front end writes to ``parsed-processed-input.yaml``;
* problems — CNN-layer (C M R S N P Q, Hstride/Wstride/Hdilation/Wdilation) and any shape whose dims are a
  subset of those with the convolution's projections (conv1d, conv1d+oc, …);
* mappings — ``map.yaml``: temporal and spatial factors (``"R=3 P=16"``, ``"C1 M8 R1"`` or lists),
  permutations (inner → outer, as Timeloop writes them), ``split`` (X/Y), keep/bypass per level
  (``type: dataspace | datatype | bypass``);
* per-action energies from an Accelergy ERT (``ERT.yaml``: read, write, update, compute).

Conversion rules (:func:`build`):

* Storage components become accelsim levels, outermost first.  The outermost one is accelsim's unbounded
  backing store (its capacity is not checked).  A container or component ``spatial: {meshX, meshY}`` is a
  fan-out above the next storage level (``meshX`` → x, ``meshY`` → y); the deepest fan-out is accelsim's PE
  array (the levels below it are ``per_pe``), the others are level ``fanout``; a fan-out between the last
  storage level and the compute unit is ``macs_per_pe`` (x only).
* Counts are in *values*: every operand is one ``value_bits``-bit value (the outermost level's
  ``datawidth``), and each level's capacity (``depth × width / datawidth`` values), access word
  (``width / datawidth`` values or ``block_size``: Timeloop's block), bandwidth (``read_bandwidth`` /
  ``write_bandwidth`` values per cycle; ``shared_bandwidth`` → a shared port) is converted to that unit, so
  accelsim's counts and per-value energies equal Timeloop's whatever each level's ``datawidth``.
* Energies: read = ERT ``read``, write (fills and updates) = ERT ``write`` per vector access (a different
  ``update`` energy is refused), MAC = ERT ``compute``.  A level's access word is Timeloop's vector:
  ``block_size`` (``block-size``, ``n_words``) values, else ``width / datawidth`` (``word-bits``), and the
  config's ``conventions.access_granularity`` is ``word``: partial vectors are charged whole, per dataspace
  and direction of each instance, as Timeloop does (:func:`accel.cost._access_energy_pj`).  Leakage, as
  Timeloop charges it (ERT ``leak`` per cycle × cycles × utilized instances of each storage level), depends on
  the mapping: :func:`timeloop_stats` adds it; the config's ``static_power_mw`` stays 0.
* Keep/bypass: an ``architecture`` ``constraints: {dataspace: {keep, bypass}}`` fixes what a level may hold
  (``keeps``); dataspaces not fixed there may be bypassed by the mapper (``bypass_optional``).  A map.yaml's
  keep/bypass sets the mapping's ``keep``; levels it does not mention keep what the architecture allows.
* Temporal and spatial constraints (an architecture's inline ``constraints: {temporal, spatial}``, a processed
  input's ``architecture_constraints``, a ``--constraints`` file's ``mapspace_constraints``) become the
  accelsim config's ``constraints`` entries (:func:`_add_constraint`), which the mapper enforces: factors
  (``=0`` the residual), permutations (inner → outer, partial ones fix the innermost loops) and ``split``
  (the permutation's first ``split`` dims on x, the rest on y; a container spanning one axis constrains
  that axis of accelsim's fan-out).

:func:`timeloop_stats` states a cost record in Timeloop's terms (the ``accelsim timeloop --format json``
document) and :func:`read_stats` reads Timeloop's ``stats.txt`` into the same shape, for comparisons.

Every problem is a :class:`TimeloopError` (a :class:`~accel.schema.YamlError`) naming the file and the YAML
path.  Nothing here imports the mapper (core layer).
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from accel.arch import Arch, ConfigError, parse_arch
from accel.cost import Mapping
from accel.schema import MAX_LOOP_BOUND, StrictLoader, YamlError, read_yaml, show_value
from accel.workload import DIM_INDEX, DIMS, OPERANDS, Layer, WorkloadError

TAGS = ("Component", "Container", "Parallel", "Hierarchical", "Nothing")
# Timeloop problem dim names → accelsim dims (CNN-layer calls output channels M)
DIM_ALIASES = {"M": "K", "K": "K", "C": "C", "N": "N", "P": "P", "Q": "Q", "R": "R", "S": "S", "G": "G"}
# keys Timeloop's front end writes into a CNN-layer instance that only document the layer
INFO_INSTANCE_KEYS = ("H", "W", "Hpad", "Wpad", "densities")
COMPUTE_CLASSES = ("intmac", "fpmac", "mac", "compute", "intadder", "fpadder")


class TimeloopError(YamlError):
    """A Timeloop spec accelsim cannot read; ``errors`` lists (yaml_path, message)."""

    what = "Timeloop spec"


# ---------------------------------------------------------------------------------------------
# Safe loading
# ---------------------------------------------------------------------------------------------
class TimeloopLoader(StrictLoader):
    """Safe loader that knows Timeloop v0.4's tags: a tagged mapping becomes a dict with ``_tag`` set, a tagged
    sequence becomes ``{"_tag": TAG, "nodes": [...]}``.  Any other non-standard tag (``!!python/object`` …)
    is a construction error, as in ``yaml.SafeLoader``."""


def _construct_tagged(loader: TimeloopLoader, suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.MappingNode):
        d = loader.construct_mapping(node, deep=True)
        return {"_tag": suffix, **d}
    if isinstance(node, yaml.SequenceNode):
        return {"_tag": suffix, "nodes": loader.construct_sequence(node, deep=True)}
    value = loader.construct_scalar(node)
    return {"_tag": suffix, **({} if value in ("", None) else {"value": value})}


for _tag in TAGS:
    TimeloopLoader.add_constructor(f"!{_tag}", lambda loader, node, _t=_tag: _construct_tagged(loader, _t, node))


def read_timeloop_yaml(path: str | Path) -> dict:
    """Parse one Timeloop YAML file safely; a missing, malformed or non-mapping file, a duplicate key or an
    unknown tag raises :class:`TimeloopError` naming the file and the line."""
    p = Path(path)
    if p.exists() and not p.is_file():
        raise TimeloopError(str(p), [("<file>", "not a file")])
    hint = f" (or a tag other than {', '.join('!' + t for t in TAGS)})"
    data = read_yaml(p, TimeloopError, loader_class=TimeloopLoader, invalid_hint=hint)
    if data is None:
        raise TimeloopError(str(p), [("<root>", "the file is empty")])
    if not isinstance(data, dict):
        raise TimeloopError(str(p), [("<root>", "a Timeloop spec must be a YAML mapping")])
    return data


class _Src:
    """Error helper bound to one file."""

    def __init__(self, path: str):
        self.path = path

    def fail(self, yaml_path: str, msg: str) -> TimeloopError:
        return TimeloopError(self.path, [(yaml_path, msg)])

    def mapping(self, v, yaml_path: str) -> dict:
        if not isinstance(v, dict):
            raise self.fail(yaml_path, f"must be a mapping, got {type(v).__name__}")
        return v

    def seq(self, v, yaml_path: str) -> list:
        if not isinstance(v, list):
            raise self.fail(yaml_path, f"must be a list, got {type(v).__name__}")
        return v

    def pos_int(self, v, yaml_path: str) -> int:
        """A positive integer up to 2^31 (MAX_LOOP_BOUND: loop bounds, factors, depths, meshes)."""
        ok = (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v == int(v)
              and 1 <= v <= MAX_LOOP_BOUND)
        if not ok:
            raise self.fail(yaml_path, f"must be an integer from 1 to {MAX_LOOP_BOUND} (2^31), got {show_value(v)}")
        return int(v)

    def pos_num(self, v, yaml_path: str) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise self.fail(yaml_path, f"must be a positive number, got {v!r}")
        return float(v)


# ---------------------------------------------------------------------------------------------
# Architecture
# ---------------------------------------------------------------------------------------------
@dataclass
class TLNode:
    """One flattened architecture node: a storage level, a spatial container, or the compute unit.
    ``mesh`` is the cumulative (x, y) instance grid at this node."""

    name: str
    kind: str  # "storage" | "spatial" | "compute"
    cls: str
    attrs: dict
    constraints: dict
    mesh: tuple[int, int]
    yaml_path: str


def _strip_instances(name: str) -> str:
    """``ifmap_spad[1..168]`` → ``ifmap_spad``; ``system_top_level.DRAM[1..1]`` → ``DRAM``."""
    return re.sub(r"\[\d+\.\.\d+\]$", "", name).rsplit(".", 1)[-1]


def _flatten_v04(src: _Src, nodes: list, path: str, mesh: tuple[int, int], out: list[TLNode]) -> tuple[int, int]:
    for i, n in enumerate(nodes):
        p = f"{path}[{i}]"
        n = src.mapping(n, p)
        tag = n.get("_tag")
        if tag in ("Parallel", "Hierarchical"):
            inner = src.seq(n.get("nodes"), f"{p}.nodes")
            if tag == "Parallel":
                _flatten_v04(src, inner, f"{p}.nodes", mesh, out)
            else:
                mesh = _flatten_v04(src, inner, f"{p}.nodes", mesh, out)
            continue
        if tag not in ("Component", "Container"):
            raise src.fail(p, f"unsupported architecture node (tag {tag!r}); accelsim reads !Component, "
                              f"!Container, !Parallel and !Hierarchical")
        name = n.get("name")
        if not isinstance(name, str) or not name:
            raise src.fail(f"{p}.name", "every node needs a name")
        sp = n.get("spatial")
        if sp is not None:
            sp = src.mapping(sp, f"{p}.spatial")
            for k in sp:
                if k not in ("meshX", "meshY"):
                    raise src.fail(f"{p}.spatial.{k}", "unknown key (meshX, meshY)")
            mx = src.pos_int(sp.get("meshX", 1), f"{p}.spatial.meshX")
            my = src.pos_int(sp.get("meshY", 1), f"{p}.spatial.meshY")
            mesh = (mesh[0] * mx, mesh[1] * my)
        attrs = src.mapping(n.get("attributes", {}) or {}, f"{p}.attributes")
        cons = src.mapping(n.get("constraints", {}) or {}, f"{p}.constraints")
        if tag == "Container":  # a (possibly 1-wide) fan-out: a mapping may target it for spatial factors
            out.append(TLNode(name, "spatial", "", attrs, cons, mesh, p))
            continue
        cls = str(n.get("class", ""))
        out.append(TLNode(name, "compute" if _is_compute(cls) else "storage", cls, attrs, cons, mesh, p))
    return mesh


def _is_compute(cls: str) -> bool:
    return cls.lower() in COMPUTE_CLASSES or cls.lower().endswith("mac")


def _flatten_processed(src: _Src, tree: dict, path: str, out: list[TLNode]) -> None:
    """``parsed-processed-input.yaml``: ``subtree`` / ``local`` with cumulative meshX/meshY per component."""
    for i, lc in enumerate(src.seq(tree.get("local", []) or [], f"{path}.local")):
        p = f"{path}.local[{i}]"
        lc = src.mapping(lc, p)
        name = _strip_instances(str(lc.get("name", "")))
        attrs = src.mapping(lc.get("attributes", {}) or {}, f"{p}.attributes")
        mesh = (src.pos_int(attrs.get("meshX", 1), f"{p}.attributes.meshX"),
                src.pos_int(attrs.get("meshY", 1), f"{p}.attributes.meshY"))
        cls = str(lc.get("class", ""))
        kind = "spatial" if cls == "dummy_storage" else ("compute" if _is_compute(cls) else "storage")
        out.append(TLNode(name, kind, cls, attrs, {}, mesh, p))
    for i, st in enumerate(src.seq(tree.get("subtree", []) or [], f"{path}.subtree")):
        _flatten_processed(src, src.mapping(st, f"{path}.subtree[{i}]"), f"{path}.subtree[{i}]", out)


def _processed_constraints(src: _Src, data: dict, nodes: list[TLNode]) -> None:
    """``architecture_constraints.targets`` of a processed input: dataspace keep/bypass onto the nodes."""
    ac = data.get("architecture_constraints")
    if not ac:
        return
    targets = src.seq(src.mapping(ac, "architecture_constraints").get("targets", []) or [],
                      "architecture_constraints.targets")
    by_name = {n.name: n for n in nodes}
    for i, t in enumerate(targets):
        p = f"architecture_constraints.targets[{i}]"
        t = src.mapping(t, p)
        node = by_name.get(str(t.get("target")))
        if node is None:
            raise src.fail(f"{p}.target", f"unknown level {t.get('target')!r}")
        key = "dataspace" if t.get("type") in ("dataspace", "datatype", "bypass") else str(t.get("type"))
        node.constraints.setdefault(key, {}).update({k: v for k, v in t.items() if k not in ("target", "type")})


def read_arch_nodes(data: dict, src: _Src) -> list[TLNode]:
    """The architecture of a Timeloop spec as a flat node list (outermost first)."""
    arch = src.mapping(data.get("architecture"), "architecture")
    out: list[TLNode] = []
    if "nodes" in arch:
        _flatten_v04(src, src.seq(arch["nodes"], "architecture.nodes"), "architecture.nodes", (1, 1), out)
    elif "subtree" in arch:
        _flatten_processed(src, arch, "architecture", out)
        _processed_constraints(src, data, out)
    else:
        raise src.fail("architecture", "expected Timeloop v0.4 'nodes' (or a processed input's 'subtree')")
    storage = [n for n in out if n.kind == "storage"]
    compute = [n for n in out if n.kind == "compute"]
    if not storage:
        raise src.fail("architecture", "no storage level (a !Component that is not a MAC)")
    if len(compute) != 1 or out[-1].kind != "compute":
        raise src.fail("architecture", f"expected exactly one compute unit (class {', '.join(COMPUTE_CLASSES)}) as "
                                       f"the innermost node, found {[n.name for n in compute]}")
    return out


# ---------------------------------------------------------------------------------------------
# ERT
# ---------------------------------------------------------------------------------------------
def read_ert(path: str | Path) -> dict[str, dict[str, float]]:
    """Accelergy ERT → {component name: {action: energy_pj}} (instance ranges and hierarchy stripped)."""
    src = _Src(str(path))
    data = read_timeloop_yaml(path)
    ert = src.mapping(data.get("ERT"), "ERT")
    out: dict[str, dict[str, float]] = {}
    for i, t in enumerate(src.seq(ert.get("tables"), "ERT.tables")):
        p = f"ERT.tables[{i}]"
        t = src.mapping(t, p)
        name = _strip_instances(str(t.get("name", "")))
        acts: dict[str, float] = {}
        for j, a in enumerate(src.seq(t.get("actions"), f"{p}.actions")):
            a = src.mapping(a, f"{p}.actions[{j}]")
            act = str(a.get("name"))
            e = a.get("energy")
            if isinstance(e, bool) or not isinstance(e, (int, float)) or not math.isfinite(e) or e < 0:
                raise src.fail(f"{p}.actions[{j}].energy", f"must be a non-negative number (pJ), got {e!r}")
            if act in acts and acts[act] != e:
                raise src.fail(f"{p}.actions[{j}]", f"action {act!r} listed twice with different energies "
                                                    f"(argument-dependent energies are not supported)")
            acts[act] = float(e)
        out[name] = acts
    return out


# ---------------------------------------------------------------------------------------------
# Problem
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TLProblem:
    """A Timeloop problem: the accelsim layer plus Timeloop's names for dims and dataspaces."""

    layer: Layer
    dims: dict[str, str]  # Timeloop dim → accelsim dim
    dataspaces: dict[str, str]  # accelsim operand → Timeloop dataspace name


def read_problem(data: dict, src: _Src) -> TLProblem:
    prob = src.mapping(data.get("problem"), "problem")
    shape = src.mapping(prob.get("shape"), "problem.shape")
    inst = src.mapping(prob.get("instance"), "problem.instance")
    tdims = src.seq(shape.get("dimensions"), "problem.shape.dimensions")
    dims: dict[str, str] = {}
    for i, d in enumerate(tdims):
        if d not in DIM_ALIASES:
            raise src.fail(f"problem.shape.dimensions[{i}]", f"dim {d!r} is not a convolution dim accelsim knows "
                                                             f"({', '.join(DIM_ALIASES)})")
        if DIM_ALIASES[d] in dims.values():
            raise src.fail(f"problem.shape.dimensions[{i}]", f"dim {d!r} duplicates another dim")
        dims[d] = DIM_ALIASES[d]
    coefs: dict[str, int] = {}
    for i, c in enumerate(src.seq(shape.get("coefficients", []) or [], "problem.shape.coefficients")):
        c = src.mapping(c, f"problem.shape.coefficients[{i}]")
        coefs[str(c.get("name"))] = src.pos_int(c.get("default", 1), f"problem.shape.coefficients[{i}].default")
    bounds = {d: 1 for d in DIMS}
    for k, v in inst.items():
        if k in dims:
            bounds[dims[k]] = src.pos_int(v, f"problem.instance.{k}")
        elif k in coefs:
            coefs[k] = src.pos_int(v, f"problem.instance.{k}")
        elif k not in INFO_INSTANCE_KEYS:
            raise src.fail(f"problem.instance.{k}", "not a dimension or coefficient of the shape")
    if inst.get("densities") not in (None, {}):
        raise src.fail("problem.instance.densities", "sparse densities are not supported")
    for d in dims:
        if d not in inst:
            raise src.fail("problem.instance", f"no size for dimension {d!r}")
    spaces = src.seq(shape.get("data_spaces"), "problem.shape.data_spaces")
    if len(spaces) != 3:
        raise src.fail("problem.shape.data_spaces", f"accelsim reads 3 dataspaces (weights, inputs, outputs), "
                                                    f"got {len(spaces)}")
    names: dict[str, str] = {}
    stride, dil = [1, 1], [1, 1]
    for i, ds in enumerate(spaces):
        p = f"problem.shape.data_spaces[{i}]"
        ds = src.mapping(ds, p)
        proj = src.seq(ds.get("projection"), f"{p}.projection")
        singles: set[str] = set()
        windows: list[tuple[int, int, int]] = []  # (axis, stride, dilation)
        for j, term in enumerate(proj):
            tp = f"{p}.projection[{j}]"
            term = src.seq(term, tp)
            parts = []
            for k, t in enumerate(term):
                t = src.seq(t, f"{tp}[{k}]")
                if not 1 <= len(t) <= 2 or t[0] not in dims:
                    raise src.fail(f"{tp}[{k}]", f"expected [DIM] or [DIM, COEFFICIENT], got {t!r}")
                coef = 1
                if len(t) == 2:
                    coef = t[1] if isinstance(t[1], int) and not isinstance(t[1], bool) else coefs.get(str(t[1]))
                    if coef is None:
                        raise src.fail(f"{tp}[{k}][1]", f"unknown coefficient {t[1]!r}")
                parts.append((dims[t[0]], int(coef)))
            if len(parts) == 1 and parts[0][1] == 1:
                singles.add(parts[0][0])
                continue
            pd = dict((d, c) for d, c in parts)
            for axis, (o, f) in enumerate((("P", "R"), ("Q", "S"))):
                if set(pd) <= {o, f} and len(parts) == len(pd):
                    windows.append((axis, pd.get(o, 1), pd.get(f, 1)))
                    break
            else:
                raise src.fail(tp, f"unsupported projection {term!r}: accelsim reads single dims and the sliding "
                                   f"windows P·stride + R·dilation, Q·stride + S·dilation")
        if ds.get("read_write"):
            role = "outputs"
        elif windows or singles & {"P", "Q"}:
            role = "inputs"
        else:
            role = "weights"
        if role in names.values():
            raise src.fail(p, f"a second {role} dataspace (accelsim needs exactly one weights, inputs and outputs)")
        for axis, s_, d_ in windows:
            if role != "inputs":
                raise src.fail(f"{p}.projection", "only the input dataspace may have a sliding-window projection")
            stride[axis], dil[axis] = s_, d_
        covered = singles | {d for w in windows for d in (("P", "R") if w[0] == 0 else ("Q", "S"))}
        expect = {"weights": {"G", "K", "C", "R", "S"}, "inputs": {"G", "N", "C", "P", "Q", "R", "S"},
                  "outputs": {"G", "N", "K", "P", "Q"}}[role] & set(dims.values())
        if covered != expect:
            raise src.fail(f"{p}.projection", f"{ds.get('name')!r} ({role}) projects onto "
                                              f"{sorted(covered)}; a convolution's {role} need {sorted(expect)}")
        names[role] = str(ds.get("name", role))
    try:
        layer = Layer(name=str(shape.get("name", "timeloop")), op="conv", stride=(stride[0], stride[1]),
                      dilation=(dil[0], dil[1]), **{d: bounds[d] for d in DIMS})
    except WorkloadError as e:
        raise src.fail("problem.instance", str(e)) from None
    return TLProblem(layer, dims, {o: names[o] for o in OPERANDS})


# ---------------------------------------------------------------------------------------------
# Building the accelsim config
# ---------------------------------------------------------------------------------------------
@dataclass
class TimeloopSpec:
    """An imported Timeloop design: the accelsim config dict (validated into ``arch``), the layer, Timeloop's
    names, and (with a map.yaml) the mapping."""

    config: dict
    arch: Arch
    problem: TLProblem
    level_names: list[str]  # Timeloop storage names, outermost first (= accelsim level names)
    compute_name: str
    leak_pj_per_cycle: dict[str, float]  # ERT "leak" of one instance of each storage level, pJ per cycle
    nodes: list[TLNode] = field(default_factory=list)  # the flattened architecture (constraint targets)
    mapping: Mapping | None = None


def _dataspace_sets(src: _Src, cons: dict, yaml_path: str, names: dict[str, str]) -> tuple[set[str], set[str]]:
    """(keep, bypass) as accelsim operands from a ``{keep: [...], bypass: [...]}`` mapping."""
    inv = {v: k for k, v in names.items()}
    out = []
    for key in ("keep", "bypass"):
        vals = src.seq(cons.get(key, []) or [], f"{yaml_path}.{key}")
        ops = set()
        for i, v in enumerate(vals):
            if v not in inv:
                raise src.fail(f"{yaml_path}.{key}[{i}]", f"unknown dataspace {v!r} (known: {sorted(inv)})")
            ops.add(inv[v])
        out.append(ops)
    if out[0] & out[1]:
        raise src.fail(yaml_path, f"{sorted(names[o] for o in out[0] & out[1])} both kept and bypassed")
    return out[0], out[1]


def _attr(node: TLNode, key: str, default=None):
    return node.attrs.get(key, default)


def build(arch_path: str | Path, problem_path: str | Path, ert_path: str | Path | None = None,
          mapping_path: str | Path | None = None) -> TimeloopSpec:
    """Import a Timeloop design.  ``problem_path`` (and ``mapping_path``) may be the same file as ``arch_path``:
    a ``parsed-processed-input.yaml`` holds all three.  The energies come from the Accelergy ERT
    ``ert_path``; without one a :class:`TimeloopError` asks for it (accelsim has no energy estimator)."""
    asrc = _Src(str(arch_path))
    adata = read_timeloop_yaml(arch_path)
    nodes = read_arch_nodes(adata, asrc)
    psrc = _Src(str(problem_path))
    pdata = adata if Path(problem_path) == Path(arch_path) else read_timeloop_yaml(problem_path)
    problem = read_problem(pdata, psrc)
    if ert_path is None:
        raise asrc.fail("architecture", "no per-action energies: give the Accelergy ERT of this architecture "
                                        "(--ert ERT.yaml, e.g. timeloop-model.ERT.yaml)")
    esrc = _Src(str(ert_path))
    ert = read_ert(ert_path)
    config, level_names, leak = _config(asrc, esrc, nodes, ert, problem)
    try:
        arch = parse_arch(config, f"{arch_path} (imported)")
    except ConfigError as e:
        raise TimeloopError(str(arch_path), [(f"imported config: {p}", m) for p, m in e.errors]) from None
    spec = TimeloopSpec(config, arch, problem, level_names, nodes[-1].name, leak, nodes)
    if mapping_path is not None:
        spec.mapping = read_mapping(mapping_path, spec, nodes)
    return spec


def _energy(esrc: _Src, ert: dict, node: TLNode, action: str) -> float:
    acts = ert.get(node.name)
    if acts is None:
        raise esrc.fail("ERT.tables", f"no table for {node.name!r} (tables: {sorted(ert)})")
    if action not in acts:
        raise esrc.fail("ERT.tables", f"{node.name!r} has no {action!r} action (has {sorted(acts)})")
    return acts[action]


def _datawidth_key(node: TLNode) -> str:
    """The attribute that gives a storage level's word (value) width: Timeloop reads ``word-bits``,
    ``word_width`` or ``datawidth`` (buffer.cpp ParseSpecs); ``datawidth`` when none is given."""
    return next((k for k in ("datawidth", "word-bits", "word_bits", "word_width") if k in node.attrs), "datawidth")


def _config(src: _Src, esrc: _Src, nodes: list[TLNode], ert: dict, problem: TLProblem):
    storage = [n for n in nodes if n.kind == "storage"]
    compute = nodes[-1]
    dw0 = _datawidth_key(storage[0])
    value_bits = src.pos_int(_attr(storage[0], dw0, 8), f"{storage[0].yaml_path}.attributes.{dw0}")
    # fan-out above each storage level (and the compute unit): ratio of cumulative meshes
    fan: list[tuple[int, int]] = []
    prev = (1, 1)
    for n in storage + [compute]:
        if n.mesh[0] % prev[0] or n.mesh[1] % prev[1]:
            raise src.fail(n.yaml_path, f"instance grid {n.mesh} is not a multiple of the level above ({prev})")
        fan.append((n.mesh[0] // prev[0], n.mesh[1] // prev[1]))
        prev = n.mesh
    if fan[0] != (1, 1):
        raise src.fail(storage[0].yaml_path, "the outermost storage level must have a single instance")
    deepest = max((i for i in range(1, len(storage)) if fan[i] != (1, 1)), default=None)
    mac_fan = fan[-1]
    if mac_fan[1] != 1:
        raise src.fail(compute.yaml_path, "a fan-out in y between the last storage level and the MACs is not "
                                          "supported (accelsim has macs_per_pe along x)")
    levels = []
    for i, n in enumerate(storage):
        p = n.yaml_path
        dw_key = _datawidth_key(n)
        datawidth = src.pos_int(_attr(n, dw_key, value_bits), f"{p}.attributes.{dw_key}")
        width = src.pos_int(_attr(n, "width", datawidth), f"{p}.attributes.width")
        sparse = sorted(k for k in n.attrs if k.startswith("metadata") or k.startswith("decompression"))
        if sparse:
            raise src.fail(f"{p}.attributes.{sparse[0]}", "sparse storage (metadata, compression) is not supported")
        bs_key = next((k for k in ("block_size", "block-size", "n_words") if k in n.attrs), None)
        if bs_key is not None:
            block = src.pos_int(n.attrs[bs_key], f"{p}.attributes.{bs_key}")
            if "width" in n.attrs and width % (block * datawidth):  # Timeloop asserts it (buffer.cpp ParseSpecs)
                raise src.fail(f"{p}.attributes.width", f"width {width} is not a multiple of {bs_key} {block} x "
                                                        f"datawidth {datawidth}")
        elif width % datawidth:
            raise src.fail(f"{p}.attributes.width", f"width {width} is not a multiple of datawidth {datawidth}")
        else:
            block = width // datawidth
        lv: dict = {"name": n.name, "word_bits": block * value_bits}
        if i > 0:
            depth = _attr(n, "depth")
            if depth is None:
                raise src.fail(f"{p}.attributes.depth", f"{n.name!r} needs a depth (only the outermost level may "
                                                        f"be unbounded)")
            lv["size_bytes"] = src.pos_int(depth, f"{p}.attributes.depth") * block * value_bits / 8
        keep, bypass = _dataspace_sets(src, n.constraints.get("dataspace", {}) or {},
                                       f"{p}.constraints.dataspace", problem.dataspaces)
        keeps = [o for o in OPERANDS if (o in keep or not keep) and o not in bypass] if i > 0 else list(OPERANDS)
        if i > 0 and not keeps:
            raise src.fail(f"{p}.constraints.dataspace", f"{n.name!r} bypasses every dataspace")
        lv["keeps"] = keeps
        if i > 0:
            lv["bypass_optional"] = [o for o in keeps if o not in keep]
        for key, out_key in (("read_bandwidth", "read_bandwidth_bits"), ("write_bandwidth", "write_bandwidth_bits")):
            v = _attr(n, key)
            if v is not None:
                lv[out_key] = src.pos_num(v, f"{p}.attributes.{key}") * value_bits
        shared = _attr(n, "shared_bandwidth")
        if shared is not None:
            if "read_bandwidth_bits" in lv or "write_bandwidth_bits" in lv:
                raise src.fail(f"{p}.attributes.shared_bandwidth", "give shared_bandwidth or read/write bandwidths")
            bw = src.pos_num(shared, f"{p}.attributes.shared_bandwidth") * value_bits
            lv.update(read_bandwidth_bits=bw, write_bandwidth_bits=bw, shared_port=True)
        mb = _attr(n, "multiple_buffering", 1)
        if mb != 1:
            raise src.fail(f"{p}.attributes.multiple_buffering", "only multiple_buffering: 1 is supported")
        lv["read_energy_pj"] = _energy(esrc, ert, n, "read")
        lv["write_energy_pj"] = _energy(esrc, ert, n, "write")
        upd = ert.get(n.name, {}).get("update")
        if upd is not None and upd != lv["write_energy_pj"]:
            raise esrc.fail("ERT.tables", f"{n.name!r}: update energy {upd} differs from write energy "
                                          f"{lv['write_energy_pj']} (accelsim charges one write energy)")
        if deepest is not None and i >= deepest:
            lv["per_pe"] = True
        elif deepest is None and i == len(storage) - 1 and len(storage) > 1:
            lv["per_pe"] = True
        if i > 0 and fan[i] != (1, 1) and i != deepest:
            lv["fanout"] = {"x": fan[i][0], "y": fan[i][1]}
        levels.append(lv)
    rows, cols = (fan[deepest][1], fan[deepest][0]) if deepest is not None else (1, 1)
    config = {
        "version": 1,
        "name": f"timeloop-{Path(src.path).stem.replace('.arch', '')}",
        "description": "imported from a Timeloop v0.4 specification (accel.timeloop); counts in "
                       f"{value_bits}-bit values",
        "sources": [src.path, esrc.path],
        "clock_mhz": 1000.0,
        "bitwidths": {o: value_bits for o in ("weights", "inputs", "outputs", "psums")},
        "pe_array": {"rows": rows, "cols": cols, "macs_per_pe": mac_fan[0],
                     "mac_energy_pj": _energy(esrc, ert, compute, "compute"), "reference_bits": value_bits},
        "noc": {"multicast": True, "spatial_reduction": True, "energy_pj_per_bit": 0.0},
        "dataflow": {"preset": "unconstrained"},
        "levels": levels,
        # Timeloop charges every access as whole vectors of block-size values (buffer.cpp ComputeVectorAccesses)
        "conventions": {"access_granularity": "word"},
    }
    gcs = next((n.attrs.get("global_cycle_seconds") for n in nodes if "global_cycle_seconds" in n.attrs), None)
    if gcs is not None:
        config["clock_mhz"] = 1e-6 / src.pos_num(gcs, "attributes.global_cycle_seconds")
    # leakage (ERT "leak", pJ per cycle per instance) depends on the utilized instances in Timeloop: it is
    # added by timeloop_stats, not carried as the config's (mapping-independent) static power
    leak = {n.name: ert.get(n.name, {}).get("leak", 0.0) for n in storage}
    names = [n.name for n in storage]
    rules: dict[tuple, dict] = {}
    for n in nodes:
        for kind in ("temporal", "spatial"):
            if n.constraints.get(kind):
                body = src.mapping(n.constraints[kind], f"{n.yaml_path}.constraints.{kind}")
                _add_constraint(src, f"{n.yaml_path}.constraints.{kind}", n.name, kind, body, nodes, names, config,
                                problem, rules)
    if rules:
        config["constraints"] = list(rules.values())
    return config, names, leak


# ---------------------------------------------------------------------------------------------
# Mapping
# ---------------------------------------------------------------------------------------------
_FACTOR = re.compile(r"([A-Za-z_]+)\s*=?\s*([0-9]+)")


def _factors(src: _Src, v, yaml_path: str, problem: TLProblem, zero_ok: bool = False) -> dict[str, int]:
    """``"R=3 P=16"``, ``"C1 M8"`` or ``[R=3, P=16]`` → {accelsim dim: factor}; ``zero_ok`` (constraints):
    0 = the residual, as in Timeloop's constraints."""
    if isinstance(v, str):
        items = re.split(r"[\s,]+", v.strip()) if v.strip() else []
    else:
        items = [str(x) for x in src.seq(v, yaml_path)]
    out: dict[str, int] = {}
    for it in items:
        m = _FACTOR.fullmatch(it.strip())
        if not m:
            raise src.fail(yaml_path, f"cannot read factor {it!r} (expected DIM=N or DIMN)")
        n = int(m.group(2)) if len(m.group(2)) <= 12 else -1
        d, f = m.group(1), 0 if zero_ok and n == 0 else src.pos_int(n, f"{yaml_path} ({it})")
        if d not in problem.dims:
            raise src.fail(yaml_path, f"factor for {d!r}, which is not a dimension of the problem "
                                      f"({', '.join(problem.dims)})")
        out[problem.dims[d]] = f
    return out


def _permutation(src: _Src, v, yaml_path: str, problem: TLProblem) -> list[str]:
    """Timeloop permutation (inner → outer; a string or list) → accelsim dims, inner → outer."""
    items = list(re.sub(r"[\s,]", "", v)) if isinstance(v, str) else [str(x) for x in src.seq(v, yaml_path)]
    out = []
    for d in items:
        if d not in problem.dims:
            raise src.fail(yaml_path, f"{d!r} is not a dimension of the problem ({', '.join(problem.dims)})")
        out.append(problem.dims[d])
    if len(set(out)) != len(out):
        raise src.fail(yaml_path, "a dimension appears twice")
    return out


def _fanout_below(nodes: list[TLNode], level_names: list[str]) -> dict[str, int]:
    """A container (or storage level) name → the accelsim fan-out row below it (1 … L: row f sits above
    level f, row L is the MAC lanes)."""
    storage_iter = [n for n in nodes if n.kind in ("storage", "compute")]
    below: dict[str, int] = {}
    for idx, n in enumerate(nodes):
        if n.kind == "spatial":
            nxt = next(k for k in range(idx + 1, len(nodes)) if nodes[k].kind in ("storage", "compute"))
            below[n.name] = storage_iter.index(nodes[nxt])
    for i, n in enumerate(level_names):
        below.setdefault(n, i + 1)
    return below


def _mesh_delta(nodes: list[TLNode], name: str) -> tuple[int, int]:
    """The (x, y) fan-out a node's spatial constraints describe: a v0.4 container's own mesh over the node
    above it; a processed input's ``inter_*_spatial`` next node's mesh over its own; a storage level's next
    storage (or compute) node's mesh over its own (every fan-out below it)."""
    i = next(k for k, n in enumerate(nodes) if n.name == name)
    n = nodes[i]
    if n.kind == "spatial" and not n.cls:
        lo, hi = (nodes[i - 1].mesh if i else (1, 1)), n.mesh
    elif n.kind == "spatial":
        lo, hi = n.mesh, nodes[i + 1].mesh
    else:
        lo = n.mesh
        hi = next((m.mesh for m in nodes[i + 1:] if m.kind in ("storage", "compute")), n.mesh)
    return hi[0] // lo[0], hi[1] // lo[1]


def _add_constraint(src: _Src, p: str, target: str, kind: str, body: dict, nodes: list[TLNode], level_names: list[str],
                    config: dict, problem: TLProblem, rules: dict[tuple, dict]) -> None:
    """One Timeloop temporal / spatial constraint (``factors``, ``permutation``, ``split``) on ``target`` →
    an accelsim ``constraints`` entry, merged into ``rules`` (later ones override earlier factors and
    permutations of the same target).  Spatial ones target the fan-out below the node (the container's own
    fan-out); ``split`` puts the permutation's first ``split`` dims on x, the rest on y.  Entries on a
    spatial container's temporal loops or a 1x1 fan-out may only forbid (factor 1)."""
    unknown = sorted(set(body) - {"factors", "permutation", "split", "target", "type"})
    if unknown:
        raise src.fail(f"{p}.{unknown[0]}", f"unsupported constraint key (accelsim reads factors, permutation, "
                                            f"split for {kind} constraints)")
    fac = _factors(src, body.get("factors", "") or "", f"{p}.factors", problem, zero_ok=True)
    perm = _permutation(src, body.get("permutation", "") or "", f"{p}.permutation", problem)
    L = len(level_names)
    below = _fanout_below(nodes, level_names)
    if target not in below:
        raise src.fail(f"{p}.target", f"unknown target {target!r} (levels: {level_names}; containers: "
                                      f"{sorted(set(below) - set(level_names))})")
    if kind == "temporal":
        if target not in level_names:
            if any(f != 1 for f in fac.values()):
                raise src.fail(f"{p}.factors", f"{target!r} is a spatial container: temporal factors must be 1")
            return
        key = (target, "temporal", None)
        entry = rules.setdefault(key, {"target": target, "type": "temporal", "factors": {}})
        entry["factors"].update(fac)
        if perm:
            entry["permutation"] = "".join(perm)
        return
    row = below[target]
    pe_level = next((i for i, lv in enumerate(config["levels"]) if lv.get("per_pe")), L)
    accel_target = ("macs" if row == L else "pe_array" if row == pe_level else
                    level_names[row] if "fanout" in config["levels"][row] else None)
    dx, dy = _mesh_delta(nodes, target)
    axis = "x" if dx > 1 and dy == 1 else "y" if dy > 1 and dx == 1 else None  # None: both axes
    if accel_target is None or (dx, dy) == (1, 1):
        if any(f > 1 for f in fac.values()):
            raise src.fail(f"{p}.factors", f"{target!r} has no fan-out below it: spatial factors must be 1")
        return
    entry = rules.setdefault((accel_target, "spatial", axis), {"target": accel_target, "type": "spatial"})
    if axis:
        entry["axis"] = axis
    entry.setdefault("factors", {}).update(fac)
    split = body.get("split")
    if split is not None:
        if isinstance(split, bool) or not isinstance(split, int) or split < 0:
            raise src.fail(f"{p}.split", "must be a non-negative integer")
        free = [d for d in DIMS if d not in perm]
        on = {"x": perm[:split] + free, "y": perm[split:] + free}
        for ax in (("x", "y") if axis is None else (axis,)):
            entry[ax] = on[ax]



def read_mapping(path: str | Path, spec: TimeloopSpec, nodes: list[TLNode]) -> Mapping:
    """A Timeloop ``map.yaml`` as an accelsim :class:`~accel.cost.Mapping` for ``spec``'s architecture."""
    src = _Src(str(path))
    data = read_timeloop_yaml(path)
    entries = data.get("mapping")
    if isinstance(entries, dict):
        entries = entries.get("targets", entries)
    entries = src.seq(entries, "mapping")
    if not entries:
        raise src.fail("mapping", "empty: no mapping to evaluate")
    L = len(spec.level_names)
    level = {n: i for i, n in enumerate(spec.level_names)}
    below = _fanout_below(nodes, spec.level_names)
    T = np.ones((L, 8), dtype=np.int64)
    SX = np.ones((L + 1, 8), dtype=np.int64)
    SY = np.ones((L + 1, 8), dtype=np.int64)
    perms: list[list[str] | None] = [None] * L
    keep = np.array([[1 if o in spec.config["levels"][lv]["keeps"] else 0 for o in OPERANDS] for lv in range(L)],
                    dtype=np.int64)
    seen: set[tuple[str, str]] = set()
    for i, e in enumerate(entries):
        p = f"mapping[{i}]"
        e = src.mapping(e, p)
        target, kind = str(e.get("target")), str(e.get("type"))
        base = re.fullmatch(r"inter_(.+)_spatial", target)
        tname = base.group(1) if base and base.group(1) in below else target
        if (tname, kind) in seen:
            raise src.fail(p, f"a second {kind} entry for {target!r}")
        seen.add((tname, kind))
        if kind in ("dataspace", "datatype", "bypass"):
            if tname not in level:
                if tname in below and not e.get("keep"):
                    continue  # a container keeps nothing
                raise src.fail(f"{p}.target", f"unknown storage level {target!r} (levels: {spec.level_names})")
            k, b = _dataspace_sets(src, e, p, spec.problem.dataspaces)
            for o in k:
                keep[level[tname], OPERANDS.index(o)] = 1
            for o in b:
                keep[level[tname], OPERANDS.index(o)] = 0
            continue
        if kind not in ("temporal", "spatial"):
            raise src.fail(f"{p}.type", f"unsupported mapping type {kind!r} (temporal, spatial, dataspace)")
        if tname not in below:
            raise src.fail(f"{p}.target", f"unknown target {target!r} (levels: {spec.level_names}; "
                                          f"containers: {sorted(set(below) - set(level))})")
        fac = _factors(src, e.get("factors", ""), f"{p}.factors", spec.problem)
        perm = _permutation(src, e.get("permutation", ""), f"{p}.permutation", spec.problem)
        for d, f in fac.items():
            if f > 1 and d not in perm and perm:
                raise src.fail(f"{p}.permutation", f"dimension with factor {f} is missing from the permutation")
        if kind == "temporal":
            if tname not in level:
                if any(f > 1 for f in fac.values()):
                    raise src.fail(f"{p}.factors", f"{target!r} is a spatial container: temporal factors must be 1")
                continue
            for d, f in fac.items():
                T[level[tname], DIM_INDEX[d]] = f
            perms[level[tname]] = perm
        else:
            row = below[tname]
            if row == 0:
                raise src.fail(f"{p}.target", f"{target!r} sits above the outermost storage level: no fan-out there")
            split = e.get("split")
            order = perm + [d for d in DIMS if d not in perm and fac.get(d, 1) > 1]
            if split is None:  # Timeloop's default puts every dim on X; a fan-out that is only Y takes them all
                a = spec.arch.arrays
                split = 0 if a.fanout_x[row] == 1 and a.fanout_y[row] > 1 else len(order)
            split = int(split) if isinstance(split, int) and not isinstance(split, bool) and split >= 0 else None
            if split is None:
                raise src.fail(f"{p}.split", "must be a non-negative integer")
            for j, d in enumerate(order):
                f = fac.get(d, 1)
                (SX if j < split else SY)[row, DIM_INDEX[d]] *= f
            for d in fac:
                if d not in order:
                    SX[row, DIM_INDEX[d]] *= fac[d]
    ORD = np.zeros((L, 8), dtype=np.int64)
    for lv in range(L):
        inner_to_outer = perms[lv] or []
        rest = [d for d in DIMS if d not in inner_to_outer]
        outer_to_inner = list(reversed(inner_to_outer))
        # dims missing from the permutation have factor 1 (checked above): innermost, order irrelevant
        ORD[lv] = [DIM_INDEX[d] for d in outer_to_inner + rest]
    return Mapping(T, SX, SY, ORD, keep)


# ---------------------------------------------------------------------------------------------
# Constraints (--constraints)
# ---------------------------------------------------------------------------------------------
def apply_constraints(spec: TimeloopSpec, path: str | Path) -> TimeloopSpec:
    """Apply a Timeloop constraints file to ``spec``'s config: dataspace keep/bypass narrows the levels'
    ``keeps`` / ``bypass_optional``; temporal and spatial factors / permutations / splits become accelsim
    ``constraints`` entries (:func:`_add_constraint`), merged with the architecture's own (the file's factors
    and permutations win on the same target).  Other constraint types are refused with the YAML path."""
    src = _Src(str(path))
    data = read_timeloop_yaml(path)
    key = next((k for k in ("mapspace_constraints", "constraints", "architecture_constraints") if k in data), None)
    if key is None:
        raise src.fail("<root>", "expected mapspace_constraints (or architecture_constraints) with targets")
    targets = src.seq(src.mapping(data[key], key).get("targets", []) or [], f"{key}.targets")
    cfg = {**spec.config, "levels": [dict(lv) for lv in spec.config["levels"]]}
    rules = {(c["target"], c["type"], c.get("axis")): copy.deepcopy(c) for c in spec.config.get("constraints", [])}
    idx = {n: i for i, n in enumerate(spec.level_names)}
    for i, t in enumerate(targets):
        p = f"{key}.targets[{i}]"
        t = src.mapping(t, p)
        kind = t.get("type")
        if kind in ("temporal", "spatial"):
            _add_constraint(src, p, str(t.get("target")), kind, t, spec.nodes, spec.level_names, cfg, spec.problem,
                            rules)
            continue
        if kind not in ("dataspace", "datatype", "bypass"):
            raise src.fail(f"{p}.type", f"unsupported constraint type {kind!r} (accelsim reads temporal, spatial, "
                                        f"dataspace / datatype / bypass)")
        if t.get("target") not in idx:
            raise src.fail(f"{p}.target", f"unknown storage level {t.get('target')!r} (levels: {spec.level_names})")
        lv = cfg["levels"][idx[t["target"]]]
        k, b = _dataspace_sets(src, t, p, spec.problem.dataspaces)
        if idx[t["target"]] == 0 and b:
            raise src.fail(p, "the outermost level keeps every dataspace")
        missing = [o for o in k if o not in lv["keeps"]]
        if missing:
            raise src.fail(p, f"keeps {missing}, which the architecture does not allow at {t['target']!r}")
        lv["keeps"] = [o for o in lv["keeps"] if o not in b]
        if "bypass_optional" in lv:
            lv["bypass_optional"] = [o for o in lv["bypass_optional"] if o in lv["keeps"] and o not in k]
    if rules:
        cfg["constraints"] = list(rules.values())
    try:
        arch = parse_arch(cfg, f"{spec.arch.source} + {path}")
    except ConfigError as e:
        raise TimeloopError(str(path), [(f"imported config: {q}", m) for q, m in e.errors]) from None
    return TimeloopSpec(cfg, arch, spec.problem, spec.level_names, spec.compute_name, spec.leak_pj_per_cycle,
                        spec.nodes, spec.mapping)


# ---------------------------------------------------------------------------------------------
# Timeloop's stats.txt (for comparisons)
# ---------------------------------------------------------------------------------------------
def read_stats(path: str | Path) -> dict:
    """Timeloop's ``timeloop-*.stats.txt`` → ``{"cycles", "computes", "utilization", "fj_per_compute":
    {level: fJ}, "levels": {level: {dataspace: {"reads", "fills", "updates", "energy_pj"}}}}`` (per-instance
    counts, total energy), the shape ``accelsim timeloop --format json`` prints."""
    src = _Src(str(path))
    if Path(path).exists() and not Path(path).is_file():  # a directory, or a FIFO that would block forever
        raise src.fail("<file>", "not a regular file")
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise src.fail("<file>", f"cannot read: {e}") from None
    out: dict = {"levels": {}, "fj_per_compute": {}}
    level = space = None
    section = "levels"
    keys = {"Scalar reads (per-instance)": "reads", "Scalar fills (per-instance)": "fills",
            "Scalar updates (per-instance)": "updates", "Energy (total)": "energy_pj"}
    for line in text.splitlines():
        s = line.strip()
        m = re.fullmatch(r"=== (.+) ===", s)
        if m and section == "levels":
            level, space = m.group(1), None
            continue
        if s == "Networks":
            section = "networks"
        elif s == "Summary Stats":
            section = "summary"
        elif s == "fJ/Compute":
            section = "fj"
            continue
        if section == "levels" and level is not None:
            m = re.fullmatch(r"([A-Za-z_][\w]*):", s)
            if m and line.startswith("    ") and not line.startswith("        "):
                space = m.group(1)
                out["levels"].setdefault(level, {})[space] = {}
                continue
            if space is not None and ":" in s:
                k, _, v = s.partition(":")
                if k.strip() in keys:
                    out["levels"][level][space][keys[k.strip()]] = float(v.split()[0])
        elif section == "summary":
            m = re.fullmatch(r"(Cycles|Utilization|Computes)\s*[:=]\s*([0-9.]+)%?", s)
            if m:
                val = float(m.group(2))
                out[m.group(1).lower()] = val / 100 if m.group(1) == "Utilization" else val
        elif section == "fj":
            m = re.fullmatch(r"(\S+)\s*=\s*([0-9.]+)", s)
            if m:
                out["fj_per_compute"][m.group(1)] = float(m.group(2))
    for k in ("cycles", "computes"):
        if k not in out:
            raise src.fail("Summary Stats", f"no {k} line")
    return out


# ---------------------------------------------------------------------------------------------
# accelsim's cost in Timeloop's terms
# ---------------------------------------------------------------------------------------------
def timeloop_stats(spec: TimeloopSpec, mapping: Mapping, rec) -> dict:
    """A :class:`~accel.cost.CostRecord` in Timeloop's terms and names (the ``--format json`` document):
    ``{"cycles", "utilization", "computes", "energy_uj", "fj_per_compute": {LEVEL: fJ, ..., "Total": fJ},
    "levels": {LEVEL: {DATASPACE: {"reads", "fills", "updates", "energy_pj"}}}}``.

    Counts are per utilized instance of the level (Timeloop's "per-instance" stats: accelsim's totals divided
    by the product of the spatial factors above the level); ``energy_pj`` is the level × dataspace total over
    all instances.  Weights and inputs: reads (served to the level below), fills (written from above).
    Outputs: reads = partial sums read back down plus drains to the level above; fills = partial sums
    read back down from above; updates = partial sums written by the level below.  accelsim records an
    output level's writes as fills + updates; the split is recovered exactly from its records top-down
    (at the outermost level every write is an update; at each pair the psum read-back ratio is the
    parent's reads / updates, and the child's drains are the parent's updates times the spatial reduction
    factor between them; they are among the child's reads only with ``conventions.psum_drain_read``)."""
    L = len(spec.level_names)
    names = spec.level_names
    ds = spec.problem.dataspaces
    SX, SY, K = np.asarray(mapping.spatial_x), np.asarray(mapping.spatial_y), np.asarray(mapping.keep)
    inst = [1.0] * L
    for lv in range(1, L):
        inst[lv] = inst[lv - 1] * float(SX[lv].prod() * SY[lv].prod())
    computes = float(spec.problem.layer.points)
    levels: dict = {}
    leak_pj = [spec.leak_pj_per_cycle.get(names[lv], 0.0) * rec.latency_cycles * inst[lv] for lv in range(L)]
    fj: dict[str, float] = {spec.compute_name: rec.mac_energy_pj * 1000.0 / computes}
    fills_out = [0.0] * L
    updates_out = [0.0] * L
    chain = [lv for lv in range(L) if K[lv, 2]]
    carry_fill = 0.0  # psums the current level receives back down from its parent
    drains_in = 0.0  # of the current level's output reads, those that drain to its parent
    out_rel = spec.problem.layer.relevance[2]
    drain_read = spec.arch.config.conventions.psum_drain_read
    for j, lv in enumerate(chain):
        rd, wr = rec.reads[names[lv]]["outputs"], rec.writes[names[lv]]["outputs"]
        fills_out[lv] = carry_fill
        updates_out[lv] = wr - carry_fill
        if j + 1 < len(chain):
            child = chain[j + 1]
            back = rd - (drains_in if drain_read else 0.0)  # psums read back down to the child
            ratio = back / updates_out[lv] if updates_out[lv] else 0.0
            red = 1.0  # spatial reduction between the pair: fan-out factors of dims outputs do not index
            for f in range(lv + 1, child + 1):
                for d in range(8):
                    if not out_rel[d]:
                        red *= float(SX[f, d] * SY[f, d])
            drains_in = updates_out[lv] * red
            carry_fill = ratio * drains_in
    for lv in range(L):
        entry = {}
        for o, op in enumerate(OPERANDS):
            if not K[lv, o] or not any(spec.problem.layer.relevance[o]):
                continue
            r, w = rec.reads[names[lv]][op], rec.writes[names[lv]][op]
            fills, upd = (w, 0.0) if o < 2 else (fills_out[lv], updates_out[lv])
            entry[ds[op]] = {"reads": r / inst[lv], "fills": fills / inst[lv], "updates": upd / inst[lv],
                             "energy_pj": rec.energy_breakdown_pj[names[lv]][op]}
        levels[names[lv]] = entry
    for lv in reversed(range(L)):
        fj[names[lv]] = (sum(rec.energy_breakdown_pj[names[lv]].values()) + leak_pj[lv]) * 1000.0 / computes
    energy_pj = rec.energy_pj + sum(leak_pj)
    fj["Total"] = energy_pj * 1000.0 / computes
    return {"cycles": rec.latency_cycles, "utilization": rec.utilization, "computes": computes,
            "energy_uj": energy_pj / 1e6, "fj_per_compute": fj, "levels": levels}
