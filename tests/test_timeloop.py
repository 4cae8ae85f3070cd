"""Timeloop import and fixed-mapping evaluation against Timeloop's own outputs (tests/data/timeloop).

For every reference case: import the Timeloop architecture, problem, mapping and ERT, evaluate Timeloop's
mapping in accelsim (mapper.fixed.evaluate_mapping, no search) and compare with Timeloop's stats.txt.
Targets (issue 12): cycles within 0.5 %, total energy within 2 %, every level's fJ/compute within 3 %, every
level x dataspace reads/fills/updates within 1 %.  A quantity that misses its target because of a known
modelling convention is pinned in ``PINNED`` at its measured deviation (and listed, with the reason, in
README "Validation (tests)"): it may not get worse, and a pin whose gap has closed fails too, so the
table stays true.  Deviations are percent of Timeloop's value; where Timeloop's value is 0 they are the
absolute count.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accel.timeloop import (TimeloopError, build, read_stats, read_timeloop_yaml, timeloop_stats)
from mapper.fixed import MappingMismatch, evaluate_mapping, mapping_from_dict

DATA = Path(__file__).parent / "data" / "timeloop"

# case: (arch, problem, mapping, ERT, stats), relative to DATA
_EX = {"00": "00-model-conv1d-1level", "01": "01-model-conv1d-2level", "02": "02-model-conv1d+oc-2level",
       "03": "03-model-conv1d+oc-3level", "04": "04-model-conv1d+oc-3levelspatial", "05": "05-mapper-conv1d+oc-3level"}


def _model(ex: str, arch: str, prob: str, mapping: str, out: str) -> tuple[str, ...]:
    d = _EX[ex]
    o = f"{d}/ref-output/{out}".rstrip("/")
    return (f"{d}/arch/{arch}", f"{d}/prob/{prob}", f"{d}/map/{mapping}", f"{o}/timeloop-model.ERT.yaml",
            f"{o}/timeloop-model.stats.txt")


def _processed(base: str, prefix: str, own_map: bool) -> tuple[str, ...]:
    p = f"{base}/parsed-processed-input.yaml"
    return (p, p, f"{base}/{prefix}.map.yaml" if own_map else p, f"{base}/{prefix}.ERT.yaml",
            f"{base}/{prefix}.stats.txt")


CASES: dict[str, tuple[str, ...]] = {
    "00-1level": _model("00", "1level.arch.yaml", "conv1d.prob.yaml", "conv1d-1level.map.yaml", ""),
    "01-ws": _model("01", "2level.arch.yaml", "conv1d.prob.yaml", "conv1d-2level-ws.map.yaml", "ws"),
    "01-os": _model("01", "2level.arch.yaml", "conv1d.prob.yaml", "conv1d-2level-os.map.yaml", "os"),
    "02-no-tiling": _model("02", "2level.arch.yaml", "conv1d+oc.prob.yaml", "conv1d+oc-2level-os.map.yaml",
                           "no-tiling"),
    "02-tiling": _model("02", "2level.arch.yaml", "conv1d+oc.prob.yaml", "conv1d+oc-2level-os-tiled.map.yaml",
                        "tiling"),
    "03-no-bypass": _model("03", "3level.arch.yaml", "conv1d+oc.prob.yaml", "conv1d+oc-3level.map.yaml",
                           "no-bypass"),
    "03-bypass": _model("03", "3level.arch.yaml", "conv1d+oc.prob.yaml", "conv1d+oc-3level-bypass.map.yaml",
                        "bypass"),
    # the 04 reference outputs were produced with the GlobalBuffer inside the PE container: their processed
    # input (architecture, problem and mapping in one file) is what Timeloop evaluated
    "04-cp": _processed(f"{_EX['04']}/ref-output/cp", "timeloop-model", own_map=False),
    "04-kp": _processed(f"{_EX['04']}/ref-output/kp", "timeloop-model", own_map=False),
    "05-null": _processed(f"{_EX['05']}/ref-output/null", "timeloop-mapper", own_map=True),
    "05-freebypass": _processed(f"{_EX['05']}/ref-output/freebypass", "timeloop-mapper", own_map=True),
    "05-baked": _processed(f"{_EX['05']}/ref-output/baked", "timeloop-mapper", own_map=True),
    # v0.4 architecture tree (!Container / !Parallel), problem from the processed input, mapper's map.yaml
    "eyeriss_like": ("eyeriss_like/arch.yaml",) + _processed("eyeriss_like/ref_outputs/default_problem",
                                                             "timeloop-mapper", own_map=True)[1:],
    "simple_weight_stationary": ("simple_weight_stationary/arch.yaml",) + _processed(
        "simple_weight_stationary/ref_outputs/default_problem", "timeloop-mapper", own_map=True)[1:],
}

TARGET_PCT = {"cycles": 0.5, "energy": 2.0, "fj": 3.0, "count": 1.0}
SLACK = {"pct": 0.05, "abs": 0.5}  # Timeloop prints fJ/compute with 2 decimals and counts as integers

# Measured gaps (case -> key -> deviation: % of Timeloop's value, or the absolute count where Timeloop has 0),
# all with the default (Timeloop) conventions of accel.arch.Conventions, halo reuse included (issue 12: every
# access count of every case is now within 1 % except the one below; Timeloop's whole-vector access energy is
# conventions.access_granularity: word, which the import sets: 01's MainMemory, block 8, was -25.3 % fJ/compute
# and total energy -16.6 % when charged per bit).  Reasons (README "Validation (tests)"):
# [union] accelsim's multicast serves the union of the children's input windows.  Timeloop shares a parent read
# only between spatial children whose fills are identical, level by level of its spatial nest
# (nest-analysis.cpp ComputeAccurateMulticastedAccesses: CheckEquality): in eyeriss_like the shared_glb feeds 14
# PE columns (Q14 on meshX), each column the union of its C3 x S3 PEs' windows; the columns' windows overlap
# (columns q and q+1 share input columns 2q+2, stride 2) but are not identical, so Timeloop reads 14 x 27 values
# per step where the union is 29 x 9 = 261: its shared_glb input reads are 42/29 = 1.45x accelsim's (-31 %, the
# level's fJ/compute -23 %; total energy within 2 %).
PINNED: dict[str, dict[str, float]] = {
    'eyeriss_like': {
        'fj.shared_glb': -23.465,  # [union]
        'shared_glb.Inputs.reads': -30.952,  # [union]
    },
}


def _pct(got: float, ref: float) -> tuple[float, str]:
    if ref:
        return 100.0 * (got - ref) / ref, "pct"
    return got, "abs"


def measure(case: str) -> dict[str, tuple[float, float, float, str]]:
    """key -> (accelsim, Timeloop, deviation, kind) for every compared quantity of ``case``."""
    arch, prob, mapping, ert, stats = (DATA / p for p in CASES[case])
    spec = build(arch, prob, ert, mapping)
    rec = evaluate_mapping(spec.problem.layer, spec.arch, spec.mapping)
    got = timeloop_stats(spec, spec.mapping, rec)
    ref = read_stats(stats)
    out: dict[str, tuple[float, float, float, str]] = {}

    def add(key, g, r):
        dev, kind = _pct(g, r)
        out[key] = (g, r, dev, kind)

    add("cycles", got["cycles"], ref["cycles"])
    add("computes", got["computes"], ref["computes"])
    for level, fj in ref["fj_per_compute"].items():
        add("energy" if level == "Total" else f"fj.{level}", got["fj_per_compute"][level], fj)
    for level, spaces in ref["levels"].items():
        for ds, q in spaces.items():
            mine = got["levels"].get(level, {}).get(ds, {})
            for k in ("reads", "fills", "updates"):
                add(f"{level}.{ds}.{k}", mine.get(k, 0.0), q[k])
    return out


def _target(key: str) -> float:
    if key in ("cycles", "energy"):
        return TARGET_PCT[key]
    if key == "computes":
        return 0.0
    return TARGET_PCT["fj"] if key.startswith("fj.") else TARGET_PCT["count"]


def _within(dev: float, kind: str, limit_pct: float) -> bool:
    return abs(dev) <= (limit_pct if kind == "pct" else 0.0) + 1e-9


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_timeloop_or_pinned_gap(case):
    pins = PINNED.get(case, {})
    failures = []
    for key, (g, r, dev, kind) in measure(case).items():
        tgt = _target(key)
        if key in pins:
            pinned = pins[key]
            if _within(dev, kind, tgt):
                failures.append(f"{key}: gap closed ({dev:+.3f}, target {tgt} %): remove the pin and update README")
            elif abs(dev) > abs(pinned) + SLACK[kind]:
                failures.append(f"{key}: {g:.6g} vs Timeloop {r:.6g}: deviation {dev:+.3f} is worse than the "
                                f"pinned {pinned:+.3f}")
        elif not _within(dev, kind, tgt):
            failures.append(f"{key}: {g:.6g} vs Timeloop {r:.6g}: deviation {dev:+.3f} ({kind}) exceeds {tgt} %")
    assert not failures, f"{case}:\n  " + "\n  ".join(failures)


@pytest.mark.parametrize("case", sorted(CASES))
def test_cycles_and_computes_always_match(case):
    m = measure(case)
    assert m["computes"][2] == 0.0
    assert abs(m["cycles"][2]) <= TARGET_PCT["cycles"]


def test_eyeriss_like_total_energy_within_target():
    m = measure("eyeriss_like")
    assert abs(m["energy"][2]) <= TARGET_PCT["energy"]
    # shared_glb is off by the multicast-union convention (pinned); every per-PE level is within target
    for level in ("DRAM", "weights_spad", "ifmap_spad", "psum_spad", "mac"):
        assert abs(m[f"fj.{level}"][2]) <= TARGET_PCT["fj"], level


def test_block_access_energy_is_imported():
    """The import sets ``conventions.access_granularity: word``: 01's MainMemory (width 64, datawidth 8: blocks of
    8 values) charges its 3 weight reads one whole vector read (43.35 pJ, Timeloop's stats) and its 18 input
    reads 3; per bit (``bit``) they would be 3/8 and 18/8 of one, the -25 % MainMemory gap this closed."""
    arch, prob, mapping, ert, stats = (DATA / p for p in CASES["01-ws"])
    spec = build(arch, prob, ert, mapping)
    assert spec.arch.config.conventions.access_granularity == "word"
    assert spec.arch.config.levels[0].word_bits == 64
    e_read = spec.arch.config.levels[0].read_energy_pj
    for gran, words in (("word", (1, 3)), ("bit", (3 / 8, 18 / 8))):
        a = spec.arch.with_config(conventions={"access_granularity": gran})
        rec = evaluate_mapping(spec.problem.layer, a, spec.mapping)
        got = rec.energy_breakdown_pj["MainMemory"]
        assert (got["weights"], got["inputs"]) == pytest.approx((words[0] * e_read, words[1] * e_read))
    ref = read_stats(stats)["levels"]["MainMemory"]
    assert (ref["Weights"]["reads"], ref["Inputs"]["reads"]) == (3, 18)


def test_block_size_and_word_bits_attributes(tmp_path):
    """``block-size`` (or ``block_size``) sets the access word, ``word-bits`` the value width, as in Timeloop's
    buffer.cpp; a ``width`` that is not a multiple of block × word bits is refused (Timeloop asserts it)."""
    arch, prob, mapping, ert, _ = (DATA / p for p in CASES["01-ws"])
    text = arch.read_text()
    spec = build(_write(tmp_path, "a.yaml", text.replace("width: 64\n      datawidth: 8",
                                                         "width: 64\n      word-bits: 8\n      block-size: 4")),
                 prob, ert, mapping)
    assert spec.arch.config.levels[0].word_bits == 32
    with pytest.raises(TimeloopError,
                       match=r"(?s)b.yaml.*nodes\[1\].attributes.width: width 64 is not a multiple of block-size 3"):
        build(_write(tmp_path, "b.yaml", text.replace("width: 64\n      datawidth: 8",
                                                      "width: 64\n      datawidth: 8\n      block-size: 3")),
              prob, ert, mapping)


# ---- the safe loader and malformed specs --------------------------------------------------------------
def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_safe_loader_refuses_python_tags(tmp_path):
    for tag in ("!!python/object:os.system {}", "!!python/object/apply:os.system ['true']",
                "!!python/name:os.system"):
        p = _write(tmp_path, "evil.yaml", f"architecture: {tag}\n")
        with pytest.raises(TimeloopError, match="(?s)evil.yaml.*not valid YAML"):
            read_timeloop_yaml(p)


def test_safe_loader_builds_plain_dicts_for_timeloop_tags(tmp_path):
    p = _write(tmp_path, "a.yaml", "nodes:\n- !Container {name: sys}\n- !Parallel\n  nodes: [!Component {name: x}]\n")
    d = read_timeloop_yaml(p)
    assert d == {"nodes": [{"_tag": "Container", "name": "sys"},
                           {"_tag": "Parallel", "nodes": [{"_tag": "Component", "name": "x"}]}]}
    with pytest.raises(TimeloopError, match="not valid YAML"):
        read_timeloop_yaml(_write(tmp_path, "b.yaml", "nodes: [!Widget {name: x}]\n"))


def _ex00(tmp_path, arch=None, prob=None, mapping=None, ert=None):
    base = DATA / _EX["00"]
    paths = {"arch": base / "arch/1level.arch.yaml", "prob": base / "prob/conv1d.prob.yaml",
             "map": base / "map/conv1d-1level.map.yaml", "ert": base / "ref-output/timeloop-model.ERT.yaml"}
    for key, text in (("arch", arch), ("prob", prob), ("map", mapping), ("ert", ert)):
        if text is not None:
            paths[key] = _write(tmp_path, f"{key}.yaml", text)
    return build(paths["arch"], paths["prob"], paths["ert"], paths["map"])


def test_malformed_specs_name_file_and_path(tmp_path):
    arch = (DATA / _EX["00"] / "arch/1level.arch.yaml").read_text()
    prob = (DATA / _EX["00"] / "prob/conv1d.prob.yaml").read_text()
    with pytest.raises(TimeloopError, match=r"(?s)arch.yaml.*architecture.nodes\[1\].*unsupported architecture node"):
        _ex00(tmp_path, arch=arch.replace("!Component\n    name: Buffer", "!Nothing\n    name: Buffer"))
    with pytest.raises(TimeloopError, match=r"(?s)prob.yaml.*data_spaces\[1\].projection\[0\].*unsupported"):
        _ex00(tmp_path, prob=prob.replace("- [ [R], [P] ]", "- [ [R], [P], [R] ]"))
    with pytest.raises(TimeloopError, match=r"problem.instance.*no size for dimension 'P'"):
        _ex00(tmp_path, prob=prob.replace("    P: 16", ""))
    with pytest.raises(TimeloopError, match=r"problem.instance.P: must be an integer from 1 to"):
        _ex00(tmp_path, prob=prob.replace("    P: 16", "    P: .inf"))
    with pytest.raises(TimeloopError, match=r"mapping\[0\].factors \(P=99999999999999999\): must be an integer"):
        _ex00(tmp_path, mapping="mapping:\n- {target: Buffer, type: temporal, factors: R=3 P=99999999999999999}\n")
    with pytest.raises(TimeloopError, match=r"(?s)map.yaml.*mapping\[0\].factors.*'X'.*not a dimension"):
        _ex00(tmp_path, mapping="mapping:\n- {target: Buffer, type: temporal, factors: R=3 X=16, permutation: RP}\n")
    with pytest.raises(TimeloopError, match=r"mapping\[0\].target.*unknown target 'Bufer'"):
        _ex00(tmp_path, mapping="mapping:\n- {target: Bufer, type: temporal, factors: R=3 P=16, permutation: RP}\n")
    with pytest.raises(TimeloopError, match=r"(?s)ert.yaml.*ERT.tables.*no table for 'Buffer'"):
        _ex00(tmp_path, ert="ERT:\n  version: '0.4'\n  tables:\n  - name: x.MACC[1..1]\n    actions:\n"
                            "    - {name: compute, energy: 1.0}\n")
    with pytest.raises(TimeloopError, match="--ert"):
        build(DATA / _EX["00"] / "arch/1level.arch.yaml", DATA / _EX["00"] / "prob/conv1d.prob.yaml")


def test_mapping_that_does_not_fit_is_refused(tmp_path):
    spec = _ex00(tmp_path, mapping="mapping:\n- {target: Buffer, type: temporal, factors: R=3 P=8, permutation: RP}\n")
    with pytest.raises(MappingMismatch, match="covers P=8, but layer .* has P=16"):
        evaluate_mapping(spec.problem.layer, spec.arch, spec.mapping)
    case = CASES["04-kp"]
    text = (DATA / case[0]).read_text().replace("factors: R=1,P=1,K=16,C=1", "factors: R=1,P=1,K=32,C=1") \
        .replace("factors: R=3,P=1,K=2,C=32", "factors: R=3,P=1,K=1,C=32")
    p = _write(tmp_path, "proc.yaml", text)
    spec = build(p, p, DATA / case[3], p)
    with pytest.raises(MappingMismatch, match=r"x=32, y=1 exceed the fan-out above GlobalBuffer \(16 x 1\)"):
        evaluate_mapping(spec.problem.layer, spec.arch, spec.mapping)


def test_evaluate_mapping_reads_back_a_searched_mapping():
    from mapper.search import search_mapping

    case = CASES["05-null"]
    spec = build(DATA / case[0], DATA / case[1], DATA / case[3])
    res = search_mapping(spec.problem.layer, spec.arch, objective="edp", seed=0)
    rec = evaluate_mapping(spec.problem.layer, spec.arch, res.mapping)
    assert rec.latency_cycles == res.cost.latency_cycles and rec.energy_pj == res.cost.energy_pj
    # accelsim's printed mapping (accelsim map --format json), read back and evaluated without search
    printed = json.loads(json.dumps(res.mapping.to_dict(spec.arch)))
    back = mapping_from_dict(spec.arch, printed, "printed")
    rec2 = evaluate_mapping(spec.problem.layer, spec.arch, back)
    assert (rec2.latency_cycles, rec2.energy_pj, rec2.reads) == (rec.latency_cycles, rec.energy_pj, rec.reads)
    assert back.to_dict(spec.arch) == printed
    with pytest.raises(MappingMismatch, match="printed: Bufer: unknown level"):
        mapping_from_dict(spec.arch, {**printed, "Bufer": {}}, "printed")
    bad = {**printed, "RegisterFile": {**printed["RegisterFile"], "temporal": "K2 K2"}}
    with pytest.raises(MappingMismatch, match=r"RegisterFile.temporal: bad loop 'K2'"):
        mapping_from_dict(spec.arch, bad, "printed")


# ---- CLI --------------------------------------------------------------------------------------------
def _cli(argv):
    from accel.app.cli import main

    return main(["timeloop", *argv])


def test_cli_json_fixed_mapping(tmp_path, capsys):
    arch, prob, mapping, ert, stats = (str(DATA / p) for p in CASES["eyeriss_like"])
    assert _cli([arch, prob, "--mapping", mapping, "--ert", ert, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"cycles", "utilization", "computes", "energy_uj", "fj_per_compute", "levels"}
    assert list(doc["fj_per_compute"]) == ["mac", "psum_spad", "weights_spad", "ifmap_spad", "shared_glb", "DRAM",
                                           "Total"]
    assert set(doc["levels"]["DRAM"]["Weights"]) == {"reads", "fills", "updates", "energy_pj"}
    assert doc["levels"]["DRAM"]["Weights"]["reads"] == read_stats(stats)["levels"]["DRAM"]["Weights"]["reads"]


def test_cli_outputs_refuse_overwrite_and_export_config(tmp_path, capsys):
    from accel.arch import load_arch

    arch, prob, mapping, ert, _ = (str(DATA / p) for p in CASES["03-bypass"])
    out, cfg = tmp_path / "res.txt", tmp_path / "acc.yaml"
    out.write_text("keep me")
    args = [arch, prob, "--mapping", mapping, "--ert", ert, "-o", str(out), "--export-config", str(cfg)]
    assert _cli(args) == 1
    assert "file exists; use --force" in capsys.readouterr().err
    assert out.read_text() == "keep me" and not cfg.exists()
    assert _cli(args + ["--force"]) == 0
    assert "fJ/Compute" in out.read_text() and "Cycles: 1536" in out.read_text()
    a = load_arch(cfg)
    assert a.level_names == ["MainMemory", "GlobalBuffer", "RegisterFile"]
    assert not list(tmp_path.glob(".*.tmp"))


def test_cli_search_and_constraints(tmp_path, capsys):
    case = CASES["05-null"]
    proc, ert = str(DATA / case[0]), str(DATA / case[3])
    cons = DATA / _EX["05"] / "constraints"
    assert _cli([proc, proc, "--ert", ert, "--constraints", str(cons / "null.constraints.yaml"),
                 "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["cycles"] >= doc["computes"]  # one MAC
    # factor and permutation constraints are enforced (they used to be refused): the file fixes every factor
    assert _cli([proc, proc, "--ert", ert, "--constraints",
                 str(cons / "conv1d+oc-3level-freebypass.constraints.yaml")]) == 0
    out = capsys.readouterr()
    assert "not enforced" not in out.err and "GlobalBuffer" in out.out
    nest = out.out[out.out.index("Mapping"):out.out.index("Summary")]
    assert "for K in [0:16)" in nest and "for P in [0:16)" in nest and "for R in [0:3)" in nest
    bad = _write(tmp_path, "c.yaml", "mapspace_constraints:\n  targets:\n  - {target: GlobalBuffer, type: temporal, "
                                     "factors: K=64}\n")
    assert _cli([proc, proc, "--ert", ert, "--constraints", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "constraints[0].factors.K (GlobalBuffer temporal K=64)" in err and "Traceback" not in err
    bad = _write(tmp_path, "d.yaml", "mapspace_constraints:\n  targets:\n"
                                     "  - {target: GlobalBuffer, type: utilization}\n")
    assert _cli([proc, proc, "--ert", ert, "--constraints", str(bad)]) == 1
    assert "targets[0].type" in capsys.readouterr().err
    bad = _write(tmp_path, "bad.yaml", "architecture: [1\n")
    assert _cli([str(bad), proc, "--ert", ert]) == 1
    assert "bad.yaml" in capsys.readouterr().err


# Timeloop reference mappings that break their own (imported) constraints, as Timeloop's users report
# (NVlabs/timeloop#187, #206, #255): 05's mapper kept K innermost at the RegisterFile although the
# constraint says "RPK" (R innermost); simple_weight_stationary's front end pads the partial spatial
# permutation [C, M] to "NQPSRCM" without moving split: 1, so its mapper put C on Y, not X.
REFERENCE_BREAKS = {"05-baked": ["RegisterFile"], "05-freebypass": ["RegisterFile"],
                    "simple_weight_stationary": ["C unrolled on y"]}


@pytest.mark.parametrize("case", sorted(CASES))
def test_mapper_beats_or_matches_the_reference_mapping(case):
    """Issue 12's proof: under the imported architecture's constraints (keep/bypass, and the temporal /
    spatial factors, permutations and splits of the architecture or processed input) accelsim's mapper
    returns a mapping that satisfies every constraint, with an EDP no worse than Timeloop's chosen mapping
    in accelsim's model.  Timeloop's own mapping satisfies them too, except where REFERENCE_BREAKS says."""
    from mapper.search import search_mapping
    from tests.test_constraints import violations

    arch, prob, mapping, ert, _ = (DATA / p for p in CASES[case])
    spec = build(arch, prob, ert, mapping)
    layer = spec.problem.layer
    ref = evaluate_mapping(layer, spec.arch, spec.mapping)
    res = search_mapping(layer, spec.arch, objective="edp", seed=0)
    assert not violations(spec.arch, layer, res.mapping)
    assert res.cost.latency_cycles * res.cost.energy_pj <= ref.latency_cycles * ref.energy_pj * (1 + 1e-9)
    broken = violations(spec.arch, layer, spec.mapping)
    want = REFERENCE_BREAKS.get(case, [])
    assert len(broken) == len(want) and all(w in b for w, b in zip(want, broken)), broken


@pytest.mark.parametrize("case, file", [("05-freebypass", "conv1d+oc-3level-freebypass.constraints.yaml"),
                                        ("05-null", "null.constraints.yaml")])
def test_mapper_under_constraint_files(case, file):
    """``--constraints``: the 05-mapper exercise's constraint files (imported into accelsim's schema) are
    enforced; the mapping found satisfies them with an EDP no worse than Timeloop's mapping under them."""
    from accel.timeloop import apply_constraints
    from mapper.search import search_mapping
    from tests.test_constraints import violations

    arch, prob, mapping, ert, _ = (DATA / p for p in CASES[case])
    spec = apply_constraints(build(arch, prob, ert, mapping), DATA / _EX["05"] / "constraints" / file)
    layer = spec.problem.layer
    assert len(spec.arch.config.constraints) == (3 if "freebypass" in file else 0)
    ref = evaluate_mapping(layer, spec.arch, spec.mapping)
    res = search_mapping(layer, spec.arch, objective="edp", seed=0)
    assert not violations(spec.arch, layer, res.mapping)
    assert res.cost.latency_cycles * res.cost.energy_pj <= ref.latency_cycles * ref.energy_pj * (1 + 1e-9)


def test_imported_constraints_in_accelsim_schema():
    """The eyeriss_like containers become per-axis constraints on accelsim's PE array: PE_column (meshX 14,
    split 999) on x, PE (meshY 12, split 0) on y; the spads' temporal factors and permutations."""
    arch, prob, mapping, ert, _ = (DATA / p for p in CASES["eyeriss_like"])
    cons = {(c["target"], c["type"], c.get("axis")): c for c in build(arch, prob, ert).config["constraints"]}
    x, y = cons[("pe_array", "spatial", "x")], cons[("pe_array", "spatial", "y")]
    assert x["factors"] == {"N": 1, "C": 1, "P": 1, "R": 1, "S": 1} and "y" not in x
    assert y["factors"] == {"N": 1, "P": 1, "Q": 1, "R": 1} and "x" not in y
    assert cons[("weights_spad", "temporal", None)]["permutation"] == "NKPQSCR"  # Timeloop's M is accelsim's K
