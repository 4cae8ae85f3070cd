"""Deterministic generators of the hostile corpus (issue 10): accelerator configs, sweep specs, bitwidth
files, ONNX files, layer specs and CLI options.  Every case is a :class:`~tests.hostile.harness.Case`
whose ``build`` writes its inputs into a fresh case folder and returns the argv it runs, the places its
error message must name, and what to watch.  Nothing here is random at collection time: "random bytes"
come from seeded generators, so ids and inputs are the same on every run.

``owner`` names the module that must refuse the input (the triage list groups failures by it); ``new``
marks cases that rely on the behaviour issue 10's fixes add (strict YAML, option bounds, ``--force``, the new
option spellings ``codesign --hw``, ``joint --sweep/--jobs``, ``rankcorr --top``).
"""

from __future__ import annotations

import copy
import json
import random
from functools import lru_cache
from pathlib import Path
from typing import Callable

import yaml

from tests.hostile.harness import ROOT, Case, Prepared, Workspace

# owners (the module that must give the clean error)
YAML = "accel/schema.py + accel/arch.py (strict YAML, config bounds)"
SPEC = "accel/designspace.py (sweep spec)"
LAYER = "accel/workload.py (layer-spec parsing)"
CLI = "accel/app/cli*.py (options, outputs)"
RESUME = "accel/app/sweep.py (sweep runner: workloads, resume, outputs)"
ONNX = "accel/onnx_import.py"
BITS = "nas/joint/precision.py (bitwidths file)"

LAYER_SPEC = "conv K=8 C=8 P=4 Q=4 R=3 S=3"
SWEEP_WORKLOAD = "layer:conv K=8 C=8 P=4 Q=4 R=1 S=1"
HUGE = "99999999999999999999999999"
PLACEHOLDER = "__HOSTILE_VALUE__"


def _laughs(levels: int = 8) -> str:
    """A YAML flow list whose last entry expands (by aliases) to 10^(levels+1) leaves: cheap to parse, a hang for
    anything that walks, prints or hashes it."""
    items = ["&a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    items += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels + 1)]
    return "[" + ", ".join(items) + "]"


def fifo(ws: Workspace, name: str) -> tuple[str, Callable[[], None]]:
    """A named pipe in the case's input folder (a reader blocks until a writer comes), and the cleanup that
    lets a blocked reader go on (opens and closes the write end: the reader sees end of file)."""
    import os

    path = ws.inp / name
    os.mkfifo(path)

    def unblock() -> None:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:  # nobody is reading: nothing to unblock
            pass
    return str(path), unblock


def _garbage(seed: int, n: int = 512) -> bytes:
    return random.Random(seed).randbytes(n)


def unwritable_dir(ws: Workspace) -> Path:
    """A folder no file can be created in: as root, mode bits do not stop writes, so a sysfs folder."""
    import os

    if os.geteuid() == 0:
        return Path("/sys")
    d = ws.root / "readonly"
    d.mkdir(exist_ok=True)
    d.chmod(0o555)
    return d


# ---------------------------------------------------------------------------------------------
# ONNX models (built with onnx.helper; nothing downloaded, no torch)
# ---------------------------------------------------------------------------------------------
def _onnx():
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    return onnx, TensorProto, helper, numpy_helper


def _model(nodes, inputs, outputs, inits=(), opset=17):
    onnx, TP, helper, _ = _onnx()
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="accelsim-hostile")
    m.ir_version = 8
    return m


def _vi(name, shape, dtype=None):
    onnx, TP, helper, _ = _onnx()
    return helper.make_tensor_value_info(name, TP.FLOAT if dtype is None else dtype, shape)


def _weights(name, shape):
    import numpy as np

    _, _, _, nh = _onnx()
    return nh.from_array(np.random.default_rng(0).standard_normal(shape).astype(np.float32), name)


def tiny_onnx_model():
    """x (N, 3, 8, 8) (symbolic batch N) → Conv 'conv' (4 filters 3x3) → Relu 'relu' → y."""
    _, _, helper, _ = _onnx()
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    return _model(nodes, [_vi("x", ["N", 3, 8, 8])], [_vi("y", None)], [_weights("w", (4, 3, 3, 3))])


def _only_unsupported():
    _, _, helper, _ = _onnx()
    nodes = [helper.make_node("Einsum", ["x", "x"], ["e"], name="einsum", equation="nchw,nchw->nchw"),
             helper.make_node("NonZero", ["e"], ["y"], name="nonzero")]
    return _model(nodes, [_vi("x", [1, 3, 8, 8])], [_vi("y", None)])


def _onnx_cases() -> list[tuple[str, object, list[str], list]]:
    """(id, bytes or a callable(ws, path) writing the file, extra argv, extra where-groups)."""
    _, TP, helper, nh = _onnx()
    n = helper.make_node
    tiny = tiny_onnx_model().SerializeToString()
    out: list = []
    for seed in range(4):
        out.append((f"random_bytes_{seed}", _garbage(seed, 256 + 300 * seed), [], []))
    out.append(("empty_file", b"", [], []))
    out.append(("text_renamed", b"This is a README, not a model.\nversion: 1\n", [], []))
    out.append(("json_renamed", b'{"graph": {"node": []}}', [], []))
    out.append(("nul_bytes", b"\x00" * 4096, [], []))
    for frac in (0.1, 0.35, 0.6, 0.9):
        out.append((f"truncated_{int(frac * 100)}pct", tiny[:int(len(tiny) * frac)], [], []))
    out.append(("truncated_minus_1_byte", tiny[:-1], [], []))
    no_nodes = _model([], [_vi("x", [1, 3, 8, 8])], [_vi("x", [1, 3, 8, 8])])
    out.append(("graph_with_no_nodes", no_nodes.SerializeToString(), [], [("no layer", "no node", "empty", "nothing")]))
    out.append(("graph_with_no_nodes_json", no_nodes.SerializeToString(), ["--format", "json"],
                [("no layer", "no node", "empty", "nothing")]))
    only = _only_unsupported().SerializeToString()
    out.append(("only_unsupported", only, [], [("Einsum", "NonZero")]))
    out.append(("only_unsupported_allow_table", only, ["--allow-unsupported"], [("unsupported", "nothing")]))
    out.append(("only_unsupported_allow_json", only, ["--allow-unsupported", "--format", "json"],
                [("unsupported", "nothing")]))
    out.append(("only_unsupported_allow_csv", only, ["--allow-unsupported", "--format", "csv"],
                [("unsupported", "nothing")]))
    # only free ops (Identity/Reshape): nothing to cost either
    free = _model([n("Identity", ["x"], ["y"], name="ident")], [_vi("x", [1, 4])], [_vi("y", None)])
    out.append(("only_free_ops", free.SerializeToString(), [], [("no layer", "nothing", "empty")]))
    cyc = _model([n("Add", ["x", "b"], ["a"], name="n1"), n("Relu", ["a"], ["b"], name="n2")],
                 [_vi("x", [1, 4])], [_vi("b", None)])
    out.append(("cyclic_graph", cyc.SerializeToString(), [], [("cycle",)]))
    miss = _model([n("Conv", ["x", "w_missing"], ["y"], name="conv")], [_vi("x", [1, 3, 8, 8])], [_vi("y", None)])
    out.append(("missing_initializer", miss.SerializeToString(), [], [("w_missing",)]))
    for opset in (1, 6, 99, 100000):
        m = tiny_onnx_model()
        m.opset_import[0].version = opset
        out.append((f"opset_{opset}", m.SerializeToString(), [], [("opset",)]))
    m = tiny_onnx_model()
    del m.opset_import[:]
    out.append(("no_opset_import", m.SerializeToString(), [], [("opset",)]))
    m = tiny_onnx_model()
    m.ir_version = 0
    out.append(("ir_version_0", m.SerializeToString(), [], []))
    m = tiny_onnx_model()
    m.graph.ClearField("input")
    out.append(("no_graph_inputs", m.SerializeToString(), [], []))
    for label, shape in (("zero_dim", [1, 0, 8, 8]), ("negative_dim", [1, 3, -8, 8]),
                         ("huge_dims", [1, 3, 2 ** 40, 2 ** 40])):
        m = _model([n("Conv", ["x", "w"], ["y"], name="conv")], [_vi("x", shape)], [_vi("y", None)],
                   [_weights("w", (4, 3, 3, 3))])
        out.append((f"input_{label}", m.SerializeToString(), [], []))
    m = _model([n("Conv", ["x", "w"], ["y"], name="bigk")], [_vi("x", [1, 3, 4, 4])], [_vi("y", None)],
               [_weights("w", (4, 3, 9, 9))])
    out.append(("kernel_larger_than_input", m.SerializeToString(), [], [("bigk",)]))
    m = _model([n("Conv", ["x", "w"], ["y"], name="conv", strides=[0, 0])], [_vi("x", [1, 3, 8, 8])],
               [_vi("y", None)], [_weights("w", (4, 3, 3, 3))])
    out.append(("conv_stride_0", m.SerializeToString(), [], [("conv",)]))
    m = _model([n("Conv", ["x", "w"], ["y"], name="conv", group=0)], [_vi("x", [1, 3, 8, 8])],
               [_vi("y", None)], [_weights("w", (4, 3, 3, 3))])
    out.append(("conv_group_0", m.SerializeToString(), [], [("conv",)]))
    m = _model([n("MatMul", ["x", "w"], ["y"], name="mm")], [_vi("x", [1, 4])], [_vi("y", None)],
               [_weights("w", (5, 6))])
    out.append(("matmul_shape_mismatch", m.SerializeToString(), [], [("mm",)]))
    m = _model([n("Relu", ["x"], ["y"], name="r")], [_vi("x", [1, 4], dtype=TP.STRING)], [_vi("y", None)])
    out.append(("string_typed_input", m.SerializeToString(), [], []))
    m = _model([n("Relu", ["x"], ["y"], name="r"), n("Relu", ["x"], ["y"], name="r2")], [_vi("x", [1, 4])],
               [_vi("y", None)])
    out.append(("tensor_produced_twice", m.SerializeToString(), [], [("produced twice", "twice")]))
    m = _model([n("Reshape", ["x", "shape"], ["y"], name="rs")], [_vi("x", [1, 12])], [_vi("y", None)],
               [nh.from_array(__import__("numpy").array([5, 7], dtype="int64"), "shape")])
    out.append(("reshape_impossible", m.SerializeToString(), [], [("rs",)]))

    def external(ws: Workspace, path: Path) -> None:
        import onnx

        onnx.save_model(tiny_onnx_model(), str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location="weights.bin", size_threshold=0)
        (path.parent / "weights.bin").unlink()

    out.append(("missing_external_data", external, [], [("weights.bin", "external")]))

    def external_escape(ws: Workspace, path: Path) -> None:
        m = tiny_onnx_model()
        t = m.graph.initializer[0]
        t.ClearField("raw_data")
        t.ClearField("float_data")
        t.data_location = 1  # EXTERNAL
        for k, v in (("location", "../../../../etc/hostname"), ("offset", "0"), ("length", "432")):
            e = t.external_data.add()
            e.key, e.value = k, v
        path.write_bytes(m.SerializeToString())

    out.append(("external_data_outside_model_dir", external_escape, [], []))

    def directory(ws: Workspace, path: Path) -> None:
        path.mkdir()

    out.append(("directory_named_x.onnx", directory, [], []))
    out.append(("missing_file", None, [], []))
    return out


def onnx_cases() -> list[Case]:
    cases = []
    for cid, data, extra, where in _onnx_cases():
        def build(ws: Workspace, data=data, extra=extra, where=where, cid=cid) -> Prepared:
            cfg = ws.config()
            name = "x.onnx" if cid.startswith("directory") else f"{cid}.onnx"
            path = ws.inp / name
            if callable(data):
                data(ws, path)
            elif data is not None:
                path.write_bytes(data)
            return Prepared(["eval", str(path), "--hw", cfg, *extra], [name, *where])
        cases.append(Case(f"onnx:{cid}", "onnx", ONNX, build))
    # through the other commands that take networks
    def sweep_garbage(ws: Workspace) -> Prepared:
        spec = _write_sweep(ws, sweep_base_text())
        path = ws.write("random_bytes.onnx", _garbage(11))
        return Prepared(["sweep", spec, "--workload", path, "-o", str(ws.out / "r.parquet"), "--jobs", "1"],
                        ["random_bytes.onnx"])
    cases.append(Case("onnx:sweep_workload_random_bytes", "onnx", RESUME, sweep_garbage))

    def plot_garbage(ws: Workspace) -> Prepared:
        path = ws.write("random_bytes.onnx", _garbage(12))
        return Prepared(["plot", "breakdown", path, "--hw", ws.config(), "-o", str(ws.out / "p.png")],
                        ["random_bytes.onnx"])
    cases.append(Case("onnx:plot_random_bytes", "onnx", ONNX, plot_garbage))

    def pipe(ws: Workspace) -> Prepared:
        path, unblock = fifo(ws, "x.onnx")
        return Prepared(["eval", path, "--hw", ws.config()], ["x.onnx"], cleanup=[unblock])
    cases.append(Case("onnx:named_pipe_x.onnx", "onnx", ONNX, pipe))
    return cases


# ---------------------------------------------------------------------------------------------
# Accelerator configs
# ---------------------------------------------------------------------------------------------
INT_KEYS = {"version", "rows", "cols", "macs_per_pe", "reference_bits", "psum_accumulate_cycles", "word_bits",
            "x", "y", "rows_coef", "cols_coef", "constant", "layer_constant"}
POSITIVE_KEYS = {"version", "clock_mhz", "rows", "cols", "macs_per_pe", "mac_energy_pj", "reference_bits",
                 "word_bits", "size_bytes", "read_bandwidth_bits", "write_bandwidth_bits", "op_energy_pj", "x", "y"}
SIGNED_PARENTS = {"systolic"}

TOKENS = {  # perturbation id → YAML text
    "nan": ".nan", "inf": ".inf", "-inf": "-.inf", "-1": "-1", "0": "0", "huge": HUGE, "true": "true",
    "yes": "yes", "str12": '"12"', "1.5": "1.5", "list": "[1, 2]", "dict": "{a: 1}",
}
UNIVERSAL = ("nan", "inf", "-inf", "true", "yes", "str12", "list", "dict")
# perturbations refused only once strict YAML lands (no bool/str coercion, non-finite refused, bounds)
STRICT_KINDS = {"inf", "-inf", "true", "yes", "str12", "huge"}
STRICT_TOKENS = {".inf", "-.inf", '"12"', "true", HUGE, "Infinity", "-Infinity", '"8"', '"4"', '"2"'}


def _leaves(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, path + (i,))
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield path


def _field(path) -> tuple[bool, bool, bool]:
    """(integer field, 0 is invalid, negatives are valid) for a config leaf path."""
    key, parent = path[-1], path[-2] if len(path) > 1 else None
    if parent == "partitions_bytes":
        return False, True, False
    if parent == "bitwidths":
        return True, True, False
    return key in INT_KEYS, key in POSITIVE_KEYS, parent in SIGNED_PARENTS


def _set(data, path, value):
    cur = data
    for k in path[:-1]:
        cur = cur[k]
    cur[path[-1]] = value


def _dump(data) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=4096)


def _with_token(data, path, token: str) -> str:

    d = copy.deepcopy(data)
    _set(d, path, PLACEHOLDER)
    return _dump(d).replace(PLACEHOLDER, token)


def _path_spellings(data, path) -> tuple[str, ...]:
    """YAML path spellings a message may use: levels[1].size_bytes, levels.GLB.size_bytes, levels[GLB]...,
    or the parent's path with the key named later in the message (``levels[2].partitions_bytes: partition
    for weights must be > 0``)."""
    import re

    plain = ""
    named = ""
    bracket = ""
    cur = data
    for k in path:
        if isinstance(k, int):
            name = cur[k].get("name") if isinstance(cur[k], dict) else None
            plain += f"[{k}]"
            named += f".{name}" if name else f"[{k}]"
            bracket += f"[{name}]" if name else f"[{k}]"
        else:
            sep = "." if plain else ""
            plain += f"{sep}{k}"
            named += f"{sep}{k}"
            bracket += f"{sep}{k}"
        cur = cur[k]
    spellings = list(dict.fromkeys((plain, named, bracket)))
    if len(path) > 1:
        parents = [p for p in _path_spellings(data, path[:-1]) if not p.startswith("re:")]
        spellings += [f"re:{re.escape(p)}\\b.*\\b{re.escape(str(path[-1]))}\\b" for p in parents]
    return tuple(spellings)


def _yaml_path_str(path) -> str:
    return ".".join(str(p) for p in path)


def _config_case(cid: str, fname: str, text_or_bytes, where: list, owner: str = YAML, new: bool = False,
                 command: str = "map") -> Case:
    def build(ws: Workspace) -> Prepared:
        path = ws.write(fname, text_or_bytes)
        if command == "eval":
            return Prepared(["eval", ws.tiny_onnx(), "--hw", path, "--format", "json"], [fname, *where])
        return Prepared(["map", "--hw", path, "--layer", LAYER_SPEC], [fname, *where])
    return Case(cid, "configs", owner, build, new=new)


@lru_cache(maxsize=None)
def _config_text(name: str) -> str:
    return (ROOT / "configs" / name).read_text()


def config_leaf_cases(source: str = "eyeriss.yaml", perturbations: tuple[str, ...] | None = None) -> list[Case]:
    data = yaml.safe_load(_config_text(source))
    stem = Path(source).stem
    cases = []
    for path in _leaves(data):
        is_int, zero_bad, neg_ok = _field(path)
        kinds = list(perturbations or UNIVERSAL)
        if perturbations is None:
            if not neg_ok:
                kinds.append("-1")
            if zero_bad:
                kinds.append("0")
            if is_int:
                kinds += ["huge", "1.5"]
        for kind in kinds:
            if kind == "-1" and neg_ok:
                continue
            text = _with_token(data, path, TOKENS[kind])
            cases.append(_config_case(f"{stem}:{_yaml_path_str(path)}={kind}", f"{stem}-hostile.yaml", text,
                                      [_path_spellings(data, path)], new=kind in STRICT_KINDS))
    return cases


def _insert_after(text: str, match: str, new_line: str, occurrence: int = 0) -> tuple[str, int, int]:
    """Insert ``new_line`` after the ``occurrence``-th line equal (stripped) to ``match``; return the text and
    the 1-based numbers of the matched and the inserted line."""
    lines = text.splitlines()
    hits = [i for i, ln in enumerate(lines) if ln.strip() == match]
    i = hits[occurrence]
    lines.insert(i + 1, new_line)
    return "\n".join(lines) + "\n", i + 1, i + 2


def config_structure_cases() -> list[Case]:
    base = _config_text("eyeriss.yaml")
    data = yaml.safe_load(base)
    f = "eyeriss-hostile.yaml"
    cases = []

    def add(cid, content, where, **kw):
        cases.append(_config_case(f"eyeriss:{cid}", f, content, where, **kw))

    # duplicate keys: the message must give both line numbers
    for cid, match, dup, occ in (
            ("dup_top_level_clock_mhz", "clock_mhz: 200", "clock_mhz: 400", 0),
            ("dup_top_level_name", "name: eyeriss", "name: eyeriss", 0),
            ("dup_pe_array_rows", "rows: 12", "  rows: 16", 0),
            ("dup_pe_array_cols_same_value", "cols: 14", "  cols: 14", 0),
            ("dup_level_word_bits", "word_bits: 64", "    word_bits: 32", 0),
            ("dup_level_size_bytes", "size_bytes: 110592            # 108 KB", "    size_bytes: 1", 0),
            ("dup_noc_multicast", "multicast: true", "  multicast: false", 0)):
        text, l1, l2 = _insert_after(base, match, dup, occ)
        key = dup.strip().split(":")[0]
        add(cid, text, [key, rf"re:\b{l1}\b", rf"re:\b{l2}\b"], new=True)
    text = base.replace("bitwidths: {weights: 16, inputs: 16", "bitwidths: {weights: 16, weights: 8, inputs: 16")
    line = next(i + 1 for i, ln in enumerate(text.splitlines()) if ln.startswith("bitwidths:"))
    add("dup_flow_mapping_weights", text, ["weights", rf"re:\b{line}\b"], new=True)
    text = base + "pe_array:\n  rows: 1\n  cols: 1\n  mac_energy_pj: 1.0\n"
    l1 = next(i + 1 for i, ln in enumerate(base.splitlines()) if ln.startswith("pe_array:"))
    l2 = len(base.splitlines()) + 1
    add("dup_block_pe_array_far_apart", text, ["pe_array", rf"re:\b{l1}\b", rf"re:\b{l2}\b"], new=True)
    # unknown keys
    for cid, path, key in (("unknown_top_level_key", (), "clock_ghz"), ("unknown_pe_array_key", ("pe_array",), "rowz"),
                           ("unknown_level_key", ("levels", 1), "size_kb"),
                           ("unknown_bitwidths_key", ("bitwidths",), "weigths")):

        d = copy.deepcopy(data)
        cur = d
        for k in path:
            cur = cur[k]
        cur[key] = 1
        add(cid, _dump(d), [key])
    # missing required keys
    for path in (("version",), ("name",), ("clock_mhz",), ("pe_array",), ("levels",), ("pe_array", "rows"),
                 ("pe_array", "mac_energy_pj"), ("levels", 0, "word_bits"), ("levels", 1, "read_energy_pj"),
                 ("levels", 2, "keeps")):

        d = copy.deepcopy(data)
        cur = d
        for k in path[:-1]:
            cur = cur[k]
        del cur[path[-1]]
        add(f"missing_{_yaml_path_str(path)}", _dump(d), [str(path[-1])])
    # wrong version spellings
    for v in ("2", "0", '"1"', "true", "null", "[1]"):
        add(f"version_spelled_{v}", _with_token(data, ("version",), v), ["version"])
    # wrong shapes of whole sections
    for cid, path, tok, where in (
            ("levels_empty_list", ("levels",), "[]", "levels"), ("levels_null", ("levels",), "null", "levels"),
            ("pe_array_scalar", ("pe_array",), "12", "pe_array"), ("levels_mapping", ("levels",), "{a: 1}", "levels"),
            ("keeps_unknown_operand", ("levels", 1, "keeps"), "[inputs, psum]", "keeps"),
            ("keeps_duplicate_operand", ("levels", 1, "keeps"), "[inputs, inputs, outputs]", "keeps"),
            ("dataflow_preset_bogus", ("dataflow", "preset"), "bogus_stationary", "preset"),
            ("name_empty", ("name",), '""', "name"), ("name_list", ("name",), "[a, b]", "name"),
            ("sources_not_list", ("sources",), "12", "sources")):
        add(cid, _with_token(data, path, tok), [where])
    add("duplicate_level_name", base.replace("  - name: GLB", "  - name: DRAM"), [("DRAM", "levels")])
    add("size_and_partitions", base.replace("    partitions_bytes: {weights: 448",
                                            "    size_bytes: 1024\n    partitions_bytes: {weights: 448"),
        ["partitions_bytes"])
    # files that are not configs
    add("empty_file", "", [])
    add("comment_only", "# nothing here\n", [])
    add("yaml_list", "- 1\n- 2\n", [])
    add("yaml_scalar", "eyeriss\n", [])
    add("yaml_null", "null\n", [])
    add("not_yaml_unclosed_bracket", base.replace("keeps: [inputs, outputs]", "keeps: [inputs, outputs"),
        [("line", "column")])
    add("not_yaml_tab_indent", base.replace("  rows: 12", "\trows: 12"), [("line", "column")])
    add("not_yaml_bad_indent", base.replace("  cols: 14", "      cols: 14"), [("line", "column")])
    for seed in range(3):
        add(f"binary_garbage_{seed}", _garbage(100 + seed), [])
    add("utf16_text", base.encode("utf-16"), [])
    add("nul_in_middle", base.encode()[:200] + b"\x00\x00" + base.encode()[200:], [])
    add("python_object_apply_tag", "!!python/object/apply:os.system ['echo hostile']\n", [])
    add("python_name_tag", base.replace("name: eyeriss", "name: !!python/name:os.system"), [])
    add("python_object_new_tag", base.replace("clock_mhz: 200", "clock_mhz: !!python/object/new:float [200]"), [])
    add("custom_tag", base.replace("clock_mhz: 200", "clock_mhz: !Mhz 200"), [])
    add("binary_tag_clock", base.replace("clock_mhz: 200", "clock_mhz: !!binary aGVsbG8="), ["clock_mhz"])
    add("billion_laughs_in_sources", _with_token(data, ("sources",), _laughs()), [])
    add("billion_laughs_in_partitions", _with_token(data, ("levels", 2, "partitions_bytes", "weights"), _laughs()),
        ["weights"])
    add("deep_nesting_10000", base.replace("static_power_mw: 0.0", "static_power_mw: " + "[" * 10000 + "]" * 10000),
        [])
    add("int_with_underscores_overflow", _with_token(data, ("pe_array", "rows"), "1_000_000_000_000_000"), ["rows"])
    add("hex_int_overflow", _with_token(data, ("pe_array", "cols"), "0xFFFFFFFFFFFFFFFFFF"), ["cols"])
    add("pes_over_2_24", _with_token(_with_token_data(data, ("pe_array", "rows"), 8192), ("pe_array", "cols"), "8192"),
        [("rows", "cols", "PE")], new=True)
    # a few through eval (they would give a believable wrong number, not just a crash)
    for path, tok in ((("clock_mhz",), ".inf"), (("pe_array", "mac_energy_pj"), ".nan"),
                      (("pe_array", "rows"), HUGE), (("levels", 1, "size_bytes"), ".inf"),
                      (("levels", 0, "read_bandwidth_bits"), ".nan"), (("static_power_mw",), ".inf")):
        cases.append(_config_case(f"eyeriss:eval:{_yaml_path_str(path)}={tok}", f, _with_token(data, path, tok),
                                  [_path_spellings(data, path)], command="eval"))
    return cases


def _with_token_data(data, path, value):

    d = copy.deepcopy(data)
    _set(d, path, value)
    return d


def config_file_cases() -> list[Case]:
    """--hw values that are not files: a directory, a missing file, an unknown shipped name."""
    out = []

    def d(ws):
        (ws.inp / "cfgdir.yaml").mkdir()
        return Prepared(["map", "--hw", str(ws.inp / "cfgdir.yaml"), "--layer", LAYER_SPEC], ["cfgdir.yaml"])

    out.append(Case("hw:directory", "configs", YAML, d))

    def pipe(ws):
        path, unblock = fifo(ws, "pipe.yaml")
        return Prepared(["map", "--hw", path, "--layer", LAYER_SPEC], ["pipe.yaml"], cleanup=[unblock])

    out.append(Case("hw:named_pipe", "configs", YAML, pipe, new=True))
    out.append(Case("hw:missing_file", "configs", YAML,
                    lambda ws: Prepared(["map", "--hw", str(ws.inp / "nope.yaml"), "--layer", LAYER_SPEC], ["nope.yaml"])))
    out.append(Case("hw:unknown_shipped_name", "configs", YAML,
                    lambda ws: Prepared(["map", "--hw", "eyeriss-v9", "--layer", LAYER_SPEC], ["eyeriss-v9"])))
    out.append(Case("hw:empty_string", "configs", CLI,
                    lambda ws: Prepared(["map", "--hw", "", "--layer", LAYER_SPEC], ["--hw"])))
    return out


def config_cases() -> list[Case]:
    cases = config_leaf_cases("eyeriss.yaml")
    cases += config_leaf_cases("scalesim-os.yaml", ("nan", "str12", "yes"))
    cases += config_structure_cases()
    cases += config_file_cases()
    return cases


# ---------------------------------------------------------------------------------------------
# Sweep specs
# ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def sweep_base_data() -> dict:
    """configs/sweeps/demo.yaml with each parameter cut to its first value and the GLB range to 2 values
    (2 design points: the hostile input, not the sweep size, is what is tested)."""
    d = yaml.safe_load((ROOT / "configs" / "sweeps" / "demo.yaml").read_text())
    d["name"] = "hostile-demo"
    d["base"] = "eyeriss.yaml"
    d.pop("description", None)
    for p in d["parameters"]:
        if "values" in p:
            p["values"] = p["values"][:1]
        if "range" in p:
            p["range"] = {"start": 55296, "stop": 110592, "factor": 2}
    return d


def sweep_base_text() -> str:
    return _dump(sweep_base_data())


def _write_sweep(ws: Workspace, text: str | bytes, name: str = "spec.yaml") -> str:
    ws.config()
    return ws.write(name, text)


def _sweep_case(cid: str, content, where: list, owner: str = SPEC, new: bool = False, extra_files=None) -> Case:
    def build(ws: Workspace) -> Prepared:
        for fname, data in (extra_files or {}).items():
            ws.write(fname, data)
        spec = _write_sweep(ws, content, "hostile-spec.yaml")
        return Prepared(["sweep", spec, "--workload", SWEEP_WORKLOAD, "-o", str(ws.out / "results.parquet"),
                         "--jobs", "1"], ["hostile-spec.yaml", *where])
    return Case(f"sweep:{cid}", "sweeps", owner, build, new=new)


def sweep_cases() -> list[Case]:

    data = sweep_base_data()
    base = sweep_base_text()
    cases = []

    def tok(path, token):
        return _with_token(data, path, token)

    def mod(fn):
        d = copy.deepcopy(data)
        fn(d)
        return _dump(d)

    rng = ("parameters", 1, "range")
    for key, token, where in (
            ("start", ".nan", "start"), ("start", ".inf", "start"), ("start", "-.inf", "start"), ("start", "-1", "start"),
            ("start", "0", "start"), ("stop", ".nan", "stop"), ("stop", ".inf", "stop"), ("stop", "-1", "stop"),
            ("factor", ".nan", "factor"), ("factor", ".inf", "factor"), ("factor", "1", "factor"),
            ("factor", "0.5", "factor"), ("factor", "-2", "factor"), ("factor", "0", "factor"),
            ("factor", "1.0000001", "factor"), ("start", '"12"', "start"), ("start", "true", "start"),
            ("factor", "true", "factor"), ("start", "[1]", "start"), ("stop", HUGE, "stop")):
        cases.append(_sweep_case(f"range.{key}={token}", tok(rng + (key,), token), ["parameters[1]", where],
                                 new=token in STRICT_TOKENS))
    for cid, r in (("step_0", {"start": 1, "stop": 10, "step": 0}), ("step_negative", {"start": 1, "stop": 10, "step": -1}),
                   ("step_nan", {"start": 1, "stop": 10, "step": float("nan")}),
                   ("start_gt_stop", {"start": 221184, "stop": 55296, "factor": 2}),
                   ("step_and_factor", {"start": 1, "stop": 10, "step": 1, "factor": 2}),
                   ("neither_step_nor_factor", {"start": 1, "stop": 10}),
                   ("step_tiny", {"start": 1, "stop": 10, "step": 1e-9}),
                   ("unknown_range_key", {"start": 1, "stop": 10, "step": 1, "end": 3})):
        cases.append(_sweep_case(f"range:{cid}", mod(lambda d, r=r: d["parameters"][1].__setitem__("range", r)),
                                 ["parameters[1]"]))
    vals = ("parameters", 0, "values")
    for cid, token in (("empty", "[]"), ("scalar_nan", ".nan"), ("pair_nan", "[[.nan, 14]]"), ("pair_zero", "[[0, 14]]"),
                       ("pair_negative", "[[-1, 14]]"), ("pair_bool", "[[true, 14]]"), ("pair_str", '[["12", 14]]'),
                       ("pair_float", "[[1.5, 14]]"), ("pair_huge", f"[[{HUGE}, 14]]"), ("pair_arity_1", "[[12]]"),
                       ("pair_arity_3", "[[12, 14, 16]]"), ("pair_inf", "[[.inf, .inf]]"), ("pair_dict", "[{a: 1}]")):
        cases.append(_sweep_case(f"values:{cid}", tok(vals, token), ["parameters[0]"],
                                 new=cid in ("pair_bool", "pair_str", "pair_huge", "pair_inf")))
    # grid far beyond 10^6 points: must be refused at once, not enumerated
    big = [{"path": p, "range": {"start": 1, "stop": 10, "step": 1}} for p in
           ("pe_array.rows", "pe_array.cols", "pe_array.macs_per_pe", "clock_mhz", "static_power_mw",
            "levels.DRAM.read_bandwidth_bits", "levels.DRAM.write_bandwidth_bits")]
    cases.append(_sweep_case("grid_10^7_points", mod(lambda d: d.__setitem__("parameters", big)),
                             [("points", "10^6", "1,000,000", "1000000")], new=True))
    big2 = [{"path": p, "range": {"start": 1, "stop": 10000, "step": 1}} for p in ("pe_array.rows", "pe_array.cols")]
    cases.append(_sweep_case("grid_10^8_points", mod(lambda d: d.__setitem__("parameters", big2)),
                             [("points", "10^6", "1,000,000", "1000000")], new=True))
    for cid, fn, where in (
            ("random_samples_0", lambda d: d.update(mode="random", samples=0), "samples"),
            ("random_samples_-1", lambda d: d.update(mode="random", samples=-1), "samples"),
            ("random_samples_10^7", lambda d: d.update(mode="random", samples=10 ** 7), "samples"),
            ("random_samples_nan", lambda d: d.update(mode="random", samples=float("nan")), "samples"),
            ("random_samples_str", lambda d: d.update(mode="random", samples="5"), "samples"),
            ("random_samples_missing", lambda d: d.update(mode="random"), "samples"),
            ("grid_with_samples", lambda d: d.update(samples=5), "samples"),
            ("mode_bogus", lambda d: d.update(mode="exhaustive"), "mode"),
            ("objective_bogus", lambda d: d.update(objective="speed"), "objective"),
            ("search_effort_bogus", lambda d: d.update(search_effort="max"), "search_effort"),
            ("seed_bool", lambda d: d.update(seed=True), "seed"),
            ("seed_str", lambda d: d.update(seed="3"), "seed"),
            ("seed_float", lambda d: d.update(seed=1.5), "seed"),
            ("seed_negative", lambda d: d.update(seed=-1), "seed"),
            ("seed_huge", lambda d: d.update(seed=10 ** 30), "seed"),
            ("batch_0", lambda d: d.update(batch=0), "batch"),
            ("batch_-1", lambda d: d.update(batch=-1), "batch"),
            ("batch_bool", lambda d: d.update(batch=True), "batch"),
            ("batch_str", lambda d: d.update(batch="1"), "batch"),
            ("batch_nan", lambda d: d.update(batch=float("nan")), "batch"),
            ("batch_huge", lambda d: d.update(batch=10 ** 30), "batch"),
            ("version_2", lambda d: d.update(version=2), "version"),
            ("version_str", lambda d: d.update(version="1"), "version"),
            ("version_bool", lambda d: d.update(version=True), "version"),
            ("name_missing", lambda d: d.pop("name"), "name"),
            ("unknown_top_key", lambda d: d.update(parallelism=4), "parallelism"),
            ("max_power_nan", lambda d: d["constraints"].update(max_power_mw=float("nan")), "max_power_mw"),
            ("max_power_inf", lambda d: d["constraints"].update(max_power_mw=float("inf")), "max_power_mw"),
            ("max_power_negative", lambda d: d["constraints"].update(max_power_mw=-1), "max_power_mw"),
            ("max_power_zero", lambda d: d["constraints"].update(max_power_mw=0), "max_power_mw"),
            ("max_power_str", lambda d: d["constraints"].update(max_power_mw="250"), "max_power_mw"),
            ("max_power_bool", lambda d: d["constraints"].update(max_power_mw=True), "max_power_mw"),
            ("max_area_nan", lambda d: d["constraints"].update(max_area_mm2=float("nan")), "max_area_mm2"),
            ("scale_area_str", lambda d: d["constraints"].update(scale_area_with_capacity="yes"),
             "scale_area_with_capacity"),
            ("scale_area_int", lambda d: d["constraints"].update(scale_area_with_capacity=1), "scale_area_with_capacity"),
            ("unknown_constraint", lambda d: d["constraints"].update(max_temp_c=80), "max_temp_c"),
            ("unknown_param_key", lambda d: d["parameters"][0].update(weight=1), "weight"),
            ("path_unknown_field", lambda d: d["parameters"][2].update(path="pe_array.nonexistent"), "nonexistent"),
            ("path_unknown_level", lambda d: d["parameters"][1].update(path="levels.L3.size_bytes"), "L3"),
            ("path_to_mapping", lambda d: d["parameters"][2].update(path="levels.GLB"), "levels.GLB"),
            ("path_empty_string", lambda d: d["parameters"][2].update(path=""), "parameters[2]"),
            ("path_empty_list", lambda d: d["parameters"][0].update(path=[]), "parameters[0]"),
            ("path_int", lambda d: d["parameters"][2].update(path=12), "parameters[2]"),
            ("path_below_scalar", lambda d: d["parameters"][2].update(path="clock_mhz.value"), "clock_mhz"),
            ("same_path_twice", lambda d: d["parameters"].append(copy.deepcopy(d["parameters"][2])),
             "levels.spad.partitions_bytes.weights"),
            ("uniform_in_grid", lambda d: d["parameters"].append({"path": "clock_mhz", "uniform": {"low": 1, "high": 2}}),
             "uniform"),
            ("uniform_nan", lambda d: (d.update(mode="random", samples=2), d["parameters"].append(
                {"path": "clock_mhz", "uniform": {"low": float("nan"), "high": 400}})), "low"),
            ("uniform_inf", lambda d: (d.update(mode="random", samples=2), d["parameters"].append(
                {"path": "clock_mhz", "uniform": {"low": 100, "high": float("inf")}})), "high"),
            ("uniform_log_zero", lambda d: (d.update(mode="random", samples=2), d["parameters"].append(
                {"path": "clock_mhz", "uniform": {"low": 0, "high": 400, "log": True}})), "low"),
            ("parameters_not_list", lambda d: d.update(parameters={"path": "clock_mhz"}), "parameters"),
            ("parameter_two_sources", lambda d: d["parameters"][2].update(range={"start": 1, "stop": 2, "step": 1}),
             "parameters[2]"),
            ("base_missing_key", lambda d: d.pop("base"), "base"),
            ("base_nonexistent", lambda d: d.update(base="no-such-config.yaml"), "no-such-config.yaml"),
            ("base_empty", lambda d: d.update(base=""), "base"),
            ("base_int", lambda d: d.update(base=12), "base"),
            ("base_is_directory", lambda d: d.update(base="."), "base"),
            ("base_is_spec_itself", lambda d: d.update(base="hostile-spec.yaml"), "hostile-spec.yaml")):
        strict = ("_bool", "_str", "_huge", "_inf", "_int", "10^7")
        cases.append(_sweep_case(cid, mod(fn), [where], new=cid.endswith(strict)))
    # base points at a broken config: the message must name that file (and the bad key)
    broken = _with_token(yaml.safe_load(_config_text("eyeriss.yaml")), ("clock_mhz",), ".nan")
    cases.append(_sweep_case("base_broken_config_nan_clock", mod(lambda d: d.update(base="broken.yaml")),
                             ["broken.yaml", "clock_mhz"], extra_files={"broken.yaml": broken}))
    cases.append(_sweep_case("base_random_bytes", mod(lambda d: d.update(base="garbage.yaml")), ["garbage.yaml"],
                             extra_files={"garbage.yaml": _garbage(7)}))
    cases.append(_sweep_case("base_is_a_sweep_spec", mod(lambda d: d.update(base="other-spec.yaml")),
                             ["other-spec.yaml"], extra_files={"other-spec.yaml": base}))
    # duplicate keys (both line numbers)
    for cid, match, dup in (("dup_top_mode", "mode: grid", "mode: random"), ("dup_top_seed", "seed: 0", "seed: 1"),
                            ("dup_parameter_path", "- path: levels.spad.partitions_bytes.weights",
                             "  path: levels.GLB.size_bytes")):
        text, l1, l2 = _insert_after(base, match, dup)
        cases.append(_sweep_case(cid, text, [dup.strip().split(":")[0], rf"re:\b{l1}\b", rf"re:\b{l2}\b"], new=True))
    text = base.replace("factor: 2}", "factor: 2, factor: 3}")
    line = next(i + 1 for i, ln in enumerate(text.splitlines()) if "factor: 3" in ln)
    cases.append(_sweep_case("dup_flow_range_factor", text, ["factor", rf"re:\b{line}\b"], new=True))
    # not a spec at all
    for cid, content in (("empty_file", ""), ("yaml_list", "- 1\n"), ("yaml_scalar", "12\n"),
                         ("binary_garbage", _garbage(31)), ("python_tag", "!!python/object/apply:os.system ['true']\n"),
                         ("unclosed_flow", base.replace("factor: 2}", "factor: 2"))):
        cases.append(_sweep_case(cid, content, []))
    cases.append(_sweep_case("billion_laughs_values", tok(("parameters", 2, "values"), _laughs()), ["parameters[2]"]))

    def missing_spec(ws: Workspace) -> Prepared:
        ws.config()
        return Prepared(["sweep", str(ws.inp / "nope.yaml"), "--workload", SWEEP_WORKLOAD, "-o",
                         str(ws.out / "r.parquet"), "--jobs", "1"], ["nope.yaml"])
    cases.append(Case("sweep:spec_missing_file", "sweeps", SPEC, missing_spec))

    def dir_spec(ws: Workspace) -> Prepared:
        (ws.inp / "specdir.yaml").mkdir()
        return Prepared(["sweep", str(ws.inp / "specdir.yaml"), "--workload", SWEEP_WORKLOAD, "-o",
                         str(ws.out / "r.parquet"), "--jobs", "1"], ["specdir.yaml"])
    cases.append(Case("sweep:spec_is_directory", "sweeps", SPEC, dir_spec))

    def pipe_spec(ws: Workspace) -> Prepared:
        ws.config()
        path, unblock = fifo(ws, "pipe-spec.yaml")
        return Prepared(["sweep", path, "--workload", SWEEP_WORKLOAD, "-o", str(ws.out / "r.parquet"), "--jobs", "1"],
                        ["pipe-spec.yaml"], cleanup=[unblock])
    cases.append(Case("sweep:spec_is_named_pipe", "sweeps", SPEC, pipe_spec, new=True))
    return cases


# ---------------------------------------------------------------------------------------------
# Bitwidth files (bitwidths.json, nas/joint/precision.py)
# ---------------------------------------------------------------------------------------------
BITS_BASE = {"format": "accelsim-bitwidths/1", "law": {"name": "bitfusion", "brick_bits": 2},
             "layers": {"conv": {"weights": 8, "activations": 8}}}


def _bits_json(path, token: str | None = None, delete: bool = False, add: tuple | None = None) -> str:

    d = copy.deepcopy(BITS_BASE)
    cur = d
    for k in path[:-1]:
        cur = cur[k]
    if delete:
        del cur[path[-1]]
    elif add is not None:
        cur[path[-1]] = add[0]
    else:
        cur[path[-1]] = PLACEHOLDER
    return json.dumps(d, indent=1).replace(f'"{PLACEHOLDER}"', token or "")


def bitwidth_cases() -> list[Case]:
    cases = []

    def add(cid, content, where, new=None, fname="bitwidths.json"):
        new = any(cid.endswith("=" + t) for t in STRICT_TOKENS) if new is None else new
        def build(ws: Workspace) -> Prepared:
            path = ws.write(fname, content) if content is not None else str(ws.inp / fname)
            if content is None and fname.endswith("dir.json"):
                (ws.inp / fname).mkdir()
            return Prepared(["eval", ws.tiny_onnx(), "--hw", ws.config(), "--bitwidths", path], [fname, *where])
        cases.append(Case(f"bitwidths:{cid}", "bitwidths", BITS, build, new=new))

    for cid, content in (("not_json", "weights: 8\n"), ("empty_file", ""), ("truncated", json.dumps(BITS_BASE)[:40]),
                         ("binary_garbage", _garbage(41)), ("json_list", "[]"), ("json_scalar", "8"),
                         ("json_null", "null"), ("json_string", '"accelsim-bitwidths/1"'),
                         ("utf16", json.dumps(BITS_BASE).encode("utf-16")), ("nan_document", "NaN")):
        add(cid, content, [])
    add("missing_file", None, [])
    add("directory", None, [], fname="bitsdir.json")

    def pipe(ws: Workspace) -> Prepared:
        path, unblock = fifo(ws, "bits-pipe.json")
        return Prepared(["eval", ws.tiny_onnx(), "--hw", ws.config(), "--bitwidths", path], ["bits-pipe.json"],
                        cleanup=[unblock])
    cases.append(Case("bitwidths:named_pipe", "bitwidths", BITS, pipe, new=True))
    for token in ("0", "-1", "1000", "NaN", "Infinity", "-Infinity", "1.5", '"8"', "true", "null", "[8]", "{}", HUGE, "1e400"):
        add(f"weights={token}", _bits_json(("layers", "conv", "weights"), token), ["weights"])
    for token in ("0", "-8", "NaN", "64", '"4"', "false"):
        add(f"activations={token}", _bits_json(("layers", "conv", "activations"), token), ["activations"])
    for token in ("0", "-1", "NaN", "1.5", '"2"', "true", "99"):
        add(f"brick_bits={token}", _bits_json(("law", "brick_bits"), token), ["brick_bits"])
    for cid, content, where in (
            ("format_wrong", _bits_json(("format",), '"accelsim-bitwidths/2"'), "format"),
            ("format_int", _bits_json(("format",), "1"), "format"),
            ("format_missing", _bits_json(("format",), delete=True), "format"),
            ("law_bogus", _bits_json(("law", "name"), '"fusion"'), "name"),
            ("law_not_mapping", _bits_json(("law",), '"bitfusion"'), "law"),
            ("layers_missing", _bits_json(("layers",), delete=True), "layers"),
            ("layers_list", _bits_json(("layers",), "[]"), "layers"),
            ("layers_string", _bits_json(("layers",), '"conv"'), "layers"),
            ("layer_entry_int", _bits_json(("layers", "conv"), "8"), "conv"),
            ("layer_missing_weights", _bits_json(("layers", "conv", "weights"), delete=True), "weights"),
            ("layer_unknown_key", _bits_json(("layers", "conv", "bits"), add=(8,)), "bits"),
            ("top_unknown_key", _bits_json(("version",), add=(1,)), "version"),
            ("unknown_layer_name", _bits_json(("layers", "no_such_layer"), add=({"weights": 8, "activations": 8},)),
             "no_such_layer"),
            ("weights_above_reference_bits", _bits_json(("layers", "conv", "weights"), "32"), "weights")):
        add(cid, content, [where])
    # duplicate keys: json.loads silently keeps the last one
    text = json.dumps(BITS_BASE, indent=1)
    dup_layer = text.replace('"layers": {', '"layers": {\n  "conv": {"weights": 4, "activations": 4},', 1)
    add("dup_layer_key", dup_layer, ["conv"], new=True)
    dup_w = text.replace('"weights": 8,', '"weights": 8,\n   "weights": 2,', 1)
    add("dup_weights_key", dup_w, ["weights"], new=True)
    dup_fmt = text.replace('"format": "accelsim-bitwidths/1",',
                           '"format": "accelsim-bitwidths/1",\n "format": "accelsim-bitwidths/1",', 1)
    add("dup_format_key", dup_fmt, ["format"], new=True)
    return cases


# ---------------------------------------------------------------------------------------------
# Layer specs (accelsim map --layer)
# ---------------------------------------------------------------------------------------------
def layer_cases() -> list[Case]:
    cases = []

    def add(cid, spec, where, new=False, owner=LAYER):
        def build(ws: Workspace) -> Prepared:
            return Prepared(["map", "--hw", ws.config(), "--layer", spec], [("--layer", "layer"), *where])
        cases.append(Case(f"layer:{cid}", "layers", owner, build, new=new))

    dims = {"N": 1, "K": 8, "C": 8, "P": 4, "Q": 4, "R": 3, "S": 3}

    def spec(**over):
        d = {**dims, **over}
        return "conv " + " ".join(f"{k}={v}" for k, v in d.items() if v is not None)

    for d in dims:
        for v in ("0", "-1", str(2 ** 31 + 1), "1.5", "eight", "nan", "1e3", "") + (("99999999999999999999",) if d == "K" else ()):
            add(f"{d}={v or 'empty'}", spec(**{d: v}), [rf"re:(?<![A-Za-z]){d}(?![A-Za-z])"],
                new=v in ("99999999999999999999", str(2 ** 31 + 1)))
    for cid, s, where, new in (
            ("dup_K", spec() + " K=16", ["K"], True), ("dup_stride", spec() + " stride=1 stride=2", ["stride"], True),
            ("dup_K_lowercase_k", spec() + " k=16", ["k"], True),
            ("unknown_op", "convolve K=8 C=8", ["convolve"], False), ("op_only_number", "42", ["42"], False),
            ("empty_spec", "", [], False), ("whitespace_spec", "   ", [], False),
            ("unknown_key", spec() + " T=3", ["T"], False), ("key_without_value", spec() + " K", ["K"], False),
            ("double_equals", "conv K==8 C=8", ["K"], False), ("empty_key", spec() + " =3", [("=3", "''", "empty")], False),
            ("stride_0", spec() + " stride=0", ["stride"], False), ("stride_negative", spec() + " stride=-2", ["stride"], False),
            ("stride_3d", spec() + " stride=2x2x2", ["stride"], True), ("stride_empty_part", spec() + " stride=2x", ["stride"], False),
            ("stride_huge", spec() + " stride=99999999999999999999", ["stride"], True),
            ("dilation_0", spec() + " dilation=0", ["dilation"], False),
            ("groups_0", spec() + " groups=0", ["groups"], False), ("groups_negative", spec() + " groups=-4", ["groups"], False),
            ("groups_not_dividing", spec() + " groups=3", ["groups"], False),
            ("groups_huge", spec() + " groups=99999999999999999999", ["groups"], True),
            ("kernel_larger_than_input", "conv K=8 C=8 P=4 Q=4 R=99 S=99 stride=99", ["R"], True),
            ("macs_overflow_int64", "conv N=4096 K=4096 C=4096 P=4096 Q=4096 R=11 S=11", [("MAC", "N", "K", "C", "too")], True),
            ("value_arity_K=8x8", "conv K=8x8 C=8 P=4 Q=4 R=3 S=3", ["K"], False),
            ("value_arity_K=8=9", "conv K=8=9 C=8 P=4 Q=4 R=3 S=3", ["K"], False)):
        add(cid, s, where, new=new)
    return cases


# ---------------------------------------------------------------------------------------------
# CLI options
# ---------------------------------------------------------------------------------------------
def _opt(argv: list[str], opt: str, *vals: str) -> list[str]:
    """argv with ``opt`` set to ``vals`` (replaced in place when present, appended otherwise)."""
    argv = list(argv)
    if opt in argv:
        i = argv.index(opt)
        argv[i + 1:i + 1 + len(vals)] = list(vals)
        return argv
    return argv + [opt, *vals]


def _joint_spec(ws: Workspace) -> str:
    ws.config()
    return ws.write("joint-space.yaml", "version: 1\nname: hostile-joint\nbase: eyeriss.yaml\nparameters:\n"
                                        "  - path: [pe_array.rows, pe_array.cols]\n    values: [[12, 14]]\n")


BASES = {
    "eval": lambda ws: ["eval", ws.tiny_onnx(), "--hw", ws.config()],
    "map": lambda ws: ["map", "--hw", ws.config(), "--layer", LAYER_SPEC],
    "nas": lambda ws: ["nas", "--hw", ws.config(), "--budget", "5", "--population", "4", "--tournament", "2"],
    "sweep": lambda ws: ["sweep", _write_sweep(ws, sweep_base_text()), "--workload", SWEEP_WORKLOAD,
                         "-o", str(ws.out / "results.parquet"), "--jobs", "1"],
    "codesign": lambda ws: ["codesign", "--ref-hw", ws.config(), "--sweep", _write_sweep(ws, sweep_base_text()),
                            "--nas-budget", "5", "--keep", "2", "--keep-study", "1,2", "--jobs", "1"],
    "codesign-new": lambda ws: ["codesign", "--hw", ws.config(), "--sweep", _write_sweep(ws, sweep_base_text()),
                                "--nas-budget", "5", "--keep", "2", "--keep-study", "1,2", "--jobs", "1"],
    "rankcorr": lambda ws: ["rankcorr", "--hw", ws.config(), "--hw", ws.config("simba.yaml", "simba-like.yaml"),
                            "--sample", "5"],
    "plot": lambda ws: ["plot", "breakdown", ws.tiny_onnx(), "--hw", ws.config(), "-o", str(ws.out / "plot.png")],
    "xcheck": lambda ws: ["xcheck", "--hw", ws.config(), "--network", "resnet18", "--network", "alexnet",
                          "--network", "vgg16", "--backend", "ort"],
    "joint": lambda ws: ["joint", "--space", "fbnet", "--data", "synthetic", "--hw-space", _joint_spec(ws),
                         "--epochs", "1", "--latency-weight", "0.1", "-o", str(ws.out / "joint"),
                         "--train-samples", "32", "--test-samples", "16", "--batch-size", "16", "--stages", "1",
                         "--finetune-epochs", "0"],
    "joint-new": lambda ws: ["joint", "--space", "fbnet", "--data", "synthetic", "--sweep", _joint_spec(ws),
                             "--epochs", "1", "--latency-weight", "0.1", "-o", str(ws.out / "joint"),
                             "--train-samples", "32", "--test-samples", "16", "--batch-size", "16", "--stages", "1",
                             "--finetune-epochs", "0"],
    "nas-proxies": lambda ws: ["nas-proxies", "--archs", "3", "--batch", "2"],
    "nas-predictor": lambda ws: ["nas-predictor", "--train", "20", "--test", "20"],
    "nas-latency": lambda ws: ["nas-latency", "--hw", ws.config(), "--measured-hw",
                               ws.config("simba.yaml", "simba-like.yaml"), "--networks", "4"],
    "configs": lambda ws: ["configs"],
}


def _option_case(cmd: str, cid: str, mutate, where, owner: str = CLI, new: bool = False) -> Case:
    def build(ws: Workspace) -> Prepared:
        argv = mutate(BASES[cmd](ws), ws)
        w = where(ws) if callable(where) else where
        return Prepared(argv, w)
    return Case(f"{cmd}:{cid}", "options", owner, build, new=new or cmd.endswith("-new"))


def _values_cases(cmd: str, opt: str, values, new_from: tuple = (), owner: str = CLI, new_all: bool = False) -> list[Case]:
    """``opt VALUE`` for each value; values in ``new_from`` are refused only by the new validation.  The
    message must name the option (or, for a name-like value such as a file or a choice, the value)."""
    import re

    def where(v):
        return [(opt, v)] if re.fullmatch(r"[A-Za-z][\w:./-]{2,}", v) else [opt]
    return [_option_case(cmd, f"{opt}={v}", lambda a, ws, v=v: _opt(a, opt, v), where(v), owner=owner,
                         new=new_all or v in new_from) for v in values]


def _output_cases(cmd: str, opt: str = "-o", name: str = "out.csv", extra: tuple = (), dir_output: bool = False,
                  owner: str = CLI) -> list[Case]:
    """-o at a directory, a missing parent, an unwritable folder, and an existing file (no --force).  The
    message must name the option or the path given."""
    out = []

    def where(path_of):
        def w(ws):
            names = (opt, "--output") if opt == "-o" else (opt,)
            return [(*names, str(path_of(ws)))]
        return w

    paths = {
        "directory": lambda ws: ws.out,
        "missing_parent": lambda ws: ws.out / "no" / "such" / "dir" / name,
        "unwritable_dir": lambda ws: unwritable_dir(ws) / f"hostile-{name}",
        "existing_file_no_force": lambda ws: Path(ws.sentinel(name)),
        "parent_is_a_file": lambda ws: Path(ws.sentinel("plain.txt")) / name,
    }
    for kind, path_of in paths.items():
        if kind == "directory" and dir_output:
            continue
        out.append(_option_case(cmd, f"{opt}={kind}", lambda a, ws, f=path_of: _opt(a, opt, str(f(ws))) + list(extra),
                                where(path_of), owner=owner, new=True))
    return out


def _repeat(cmd: str, opt: str, v1: str, v2: str | None = None, owner: str = CLI) -> Case:
    def mutate(a, ws):
        a = _opt(a, opt, v1)
        return a + [opt, v2 if v2 is not None else v1]
    return _option_case(cmd, f"repeated_{opt}", mutate, [opt], owner=owner, new=True)


NONFINITE = ("nan", "inf", "-inf")


def option_cases() -> list[Case]:
    c: list[Case] = []
    # ---- global
    c.append(_option_case("configs", "no_command", lambda a, ws: [], [("re:(?i)\\bcommand\\b", "usage")]))
    c.append(_option_case("configs", "unknown_command", lambda a, ws: ["simulate"], ["simulate"]))
    c.append(_option_case("configs", "extra_argument", lambda a, ws: a + ["extra"], ["extra"]))
    c.append(_option_case("configs", "unknown_option", lambda a, ws: a + ["--verbose-mode"], ["--verbose-mode"]))
    c.append(_option_case("eval", "no_network", lambda a, ws: ["eval", "--hw", ws.config()], ["network"]))
    # ---- eval
    c += _values_cases("eval", "--batch", ("0", "-1", "nan", "1.5", "99999999999999999999", ""), new_from=("99999999999999999999",))
    c += _values_cases("eval", "--seed", ("nan", "-1"), new_from=("-1",))
    c += _values_cases("eval", "--objective", ("speed", ""))
    c += _values_cases("eval", "--format", ("xlsx",))
    c.append(_option_case("eval", "format_csv_o_parquet", lambda a, ws: a + ["--format", "csv", "-o", str(ws.out / "x.parquet")],
                          [("--format", "parquet", "extension")], new=True))
    c.append(_option_case("eval", "format_json_o_csv", lambda a, ws: a + ["--format", "json", "-o", str(ws.out / "x.csv")],
                          [("--format", "csv", "extension")], new=True))
    c.append(_option_case("eval", "format_parquet_no_o", lambda a, ws: a + ["--format", "parquet"], ["--format"]))
    c += _output_cases("eval", name="out.csv", extra=("--format", "csv"))
    c.append(_repeat("eval", "--hw", "eyeriss", "simba-like"))
    c.append(_repeat("eval", "--format", "json", "csv"))
    c.append(_repeat("eval", "--batch", "1", "2"))
    c.append(_repeat("eval", "--objective", "edp", "latency"))
    for v in ("x=0x3x8x8", "x=1x3x-8x8", "=1x3x8x8", "x=abc", "x=99999999999999999999x3x8x8", "nosuch=1x3x8x8",
              "x=1x3x8", "x=nanx3x8x8", "x", "x=1x3x8x8=2"):
        c.append(_option_case("eval", f"--input-shape={v}", lambda a, ws, v=v: a + ["--input-shape", v],
                              [("--input-shape", "input_shapes")], owner=ONNX, new=v in ("x=99999999999999999999x3x8x8",)))
    for v, where in (("", "network"), ("nosuchnet", "nosuchnet"), ("nb201:garbage", "nb201:garbage"),
                     ("nb201:99999999", "nb201:99999999"), ("nb201:-1", "nb201:-1"), ("resnet18.ONNX", "resnet18.ONNX")):
        c.append(_option_case("eval", f"network={v or 'empty'}", lambda a, ws, v=v: [a[0], v, *a[2:]], [where]))
    c += _values_cases("eval", "--hw", ("", "nosuch"))
    # ---- map
    c += _values_cases("map", "--seed", ("nan", "-1"), new_from=("-1",))
    c += _values_cases("map", "--objective", ("speed",))
    c += _values_cases("map", "--format", ("csv",))
    c.append(_repeat("map", "--layer", LAYER_SPEC, "conv K=16 C=8 P=4 Q=4 R=3 S=3"))
    c.append(_repeat("map", "--hw", "eyeriss", "simba-like"))
    # ---- nas
    c += _values_cases("nas", "--population", ("0", "-1", "nan"), new_from=("0", "-1"))
    c += _values_cases("nas", "--tournament", ("0", "-1"), new_from=("0", "-1"))
    c += _values_cases("nas", "--jobs", ("0", "-1", "1.5"), new_from=("0", "-1"))
    c += _values_cases("nas", "--budget", ("0", "-1", "10000000", "99999999999999999999"),
                       new_from=("10000000", "99999999999999999999"))
    c += _values_cases("nas", "--max-latency-ms", NONFINITE + ("-1", "0"), new_from=("inf",))
    c += _values_cases("nas", "--max-energy-mj", ("nan", "inf"), new_from=("inf",))
    c += _values_cases("nas", "--max-area-mm2", ("nan", "inf"), new_from=("inf",))
    c += _values_cases("nas", "--latency-weight", NONFINITE + ("-1",), new_from=NONFINITE + ("-1",))
    c += _values_cases("nas", "--crossover", ("nan", "-0.5", "1.5"), new_from=("nan", "-0.5", "1.5"))
    c.append(_option_case("nas", "--min-feasible=nan", lambda a, ws: a + ["--strategy", "cdf", "--max-latency-ms", "5",
                                                                          "--min-feasible", "nan"],
                          ["--min-feasible"], new=True))
    c.append(_option_case("nas", "--min-feasible=2", lambda a, ws: a + ["--strategy", "cdf", "--max-latency-ms", "5",
                                                                        "--min-feasible", "2"],
                          ["--min-feasible"], new=True))
    for opt in ("--predictor-samples", "--proxy-batch", "--base-per-subspace", "--keep", "--cdf-samples", "--top",
                "--batch"):
        c += _values_cases("nas", opt, ("0",), new_from=("0",) if opt != "--batch" else ())
    c += _values_cases("nas", "--top", ("-1",), new_from=("-1",))
    c += _values_cases("nas", "--seed", ("-1",), new_from=("-1",))
    c += _values_cases("nas", "--space", ("bogus",))
    c += _values_cases("nas", "--strategy", ("bogus",))
    c += _values_cases("nas", "--accuracy", ("bogus", "proxy:bogus"))
    c += _output_cases("nas", name="history.parquet")
    c += _output_cases("nas", opt="--plot", name="nas.png")
    c.append(_repeat("nas", "--budget", "5", "6"))
    # ---- sweep
    c += _values_cases("sweep", "--jobs", ("0", "-1", "100000"), new_from=("100000",))
    c += _values_cases("sweep", "--batch-size", ("0", "-1", "nan"))
    for v, where in (("", ("--workload", "workload ''")), ("bogus-net", "bogus-net"), ("in-missing.onnx", "in-missing.onnx"),
                     ("nb201-sample:0:0", "nb201-sample:0:0"), ("nb201-sample:99999999:0", "nb201-sample:99999999:0"),
                     ("nb201-sample:5:-1", "nb201-sample:5:-1"), ("nb201:999999", "nb201:999999"),
                     ("layer:conv K=0", "layer:conv K=0"), ("layer:", "layer:")):
        c.append(_option_case("sweep", f"--workload={v or 'empty'}", lambda a, ws, v=v: _opt(a, "--workload", v), [where]))
    c += _output_cases("sweep", name="results.parquet", owner=RESUME)
    c += _output_cases("sweep", opt="--plot", name="pareto.png")

    def other_sweep_parquet(a, ws):
        import pandas as pd

        p = ws.out / "results.parquet"
        pd.DataFrame({"point": [0], "latency_s": [1.0]}).to_parquet(p)
        old = p.stat().st_mtime - 3600
        import os

        os.utime(p, (old, old))
        return _opt(a, "-o", str(p))
    c.append(_option_case("sweep", "-o=parquet_of_another_table", other_sweep_parquet, [("-o", "results.parquet")],
                          owner=RESUME, new=True))

    def stale_parts(a, ws):
        parts = ws.out / "results.parquet.parts"
        parts.mkdir()
        (parts / "manifest.json").write_text('{"run_id": "0123456789abcdef"}')
        return a
    c.append(_option_case("sweep", "stale_parts_of_another_run", stale_parts, [("results.parquet", "parts")], owner=RESUME))
    c.append(_option_case("sweep", "--scheduler=not-an-address", lambda a, ws: a + ["--scheduler", "not an address"],
                          ["--scheduler"]))
    c.append(_option_case("sweep", "--scheduler_and_--dask-local", lambda a, ws: a + ["--scheduler", "tcp://127.0.0.1:9",
                                                                                      "--dask-local"],
                          [("--scheduler", "--dask-local")]))
    c.append(_option_case("sweep", "repeated_-o", lambda a, ws: a + ["-o", str(ws.out / "other.parquet")],
                         [("-o", "--output")], new=True))
    c.append(_repeat("sweep", "--jobs", "1", "2"))
    # ---- codesign
    c += _values_cases("codesign", "--dataset", ("mnist", ""))
    c += _values_cases("codesign", "--keep", ("0", "-1"))
    c += _values_cases("codesign", "--nas-budget", ("0", "-1", "10000000"), new_from=("10000000",))
    c += _values_cases("codesign", "--max-latency-ms", NONFINITE + ("-1",), new_from=("inf",))
    c += _values_cases("codesign", "--min-accuracy", ("nan", "101", "-1", "inf"))
    c += _values_cases("codesign", "--keep-study", ("a,b", "0", "", "1,-2"), new_from=("",))
    c += _values_cases("codesign", "--keep-mode", ("bogus",))
    c += _values_cases("codesign", "--jobs", ("0", "-1"))
    c += _values_cases("codesign", "--nas-seed", ("-1",), new_from=("-1",))
    c += _values_cases("codesign", "--ref-hw", ("nosuch.yaml",))
    c.append(_option_case("codesign", "--sweep=random_bytes", lambda a, ws: _opt(a, "--sweep", ws.write("g.yaml", _garbage(5))),
                          ["g.yaml"], owner=SPEC))
    c += _output_cases("codesign", opt="--plot", name="codesign.png")
    c.append(_repeat("codesign", "--keep", "2", "3"))
    # new spelling --hw (deprecated alias --ref-hw)
    c += _values_cases("codesign-new", "--keep", ("0",))
    c += _values_cases("codesign-new", "--max-latency-ms", ("nan",))
    c.append(_option_case("codesign-new", "--hw_and_--ref-hw", lambda a, ws: a + ["--ref-hw", ws.config()],
                          [("--hw", "--ref-hw")]))
    # ---- rankcorr
    c += _values_cases("rankcorr", "--sample", ("0", "1", "-1", "99999999"))
    c += _values_cases("rankcorr", "--top-k", ("0", "-1"))
    c += _values_cases("rankcorr", "--top", ("0", "nan"), new_all=True)
    c += _values_cases("rankcorr", "--metric", ("bogus",))
    c += _values_cases("rankcorr", "--dataset", ("mnist",))
    c += _values_cases("rankcorr", "--seed", ("-1",), new_from=("-1",))
    c.append(_option_case("rankcorr", "single_hw", lambda a, ws: a[:3] + a[5:], ["--hw"]))
    c.append(_option_case("rankcorr", "--from-sweep=missing", lambda a, ws: ["rankcorr", "--from-sweep", str(ws.inp / "none.parquet")],
                          ["none.parquet"]))
    c.append(_option_case("rankcorr", "--from-sweep=random_bytes",
                          lambda a, ws: ["rankcorr", "--from-sweep", ws.write("junk.parquet", _garbage(9))], ["junk.parquet"]))
    c.append(_option_case("rankcorr", "--from-sweep=empty_file",
                          lambda a, ws: ["rankcorr", "--from-sweep", ws.write("empty.parquet", b"")], ["empty.parquet"]))
    c.append(_option_case("rankcorr", "--from-sweep_and_--hw",
                          lambda a, ws: a + ["--from-sweep", ws.write("junk.parquet", _garbage(9))],
                          [("--from-sweep", "--hw")]))
    c.append(_option_case("rankcorr", "--pair_unknown_columns",
                          lambda a, ws: a + ["--scatter-plot", str(ws.out / "s.png"), "--pair", "nope", "nada"],
                          ["--pair"], new=True))
    c += _output_cases("rankcorr", opt="--plot", name="heatmap.png")
    c.append(_repeat("rankcorr", "--metric", "latency", "energy"))
    # ---- plot
    c += _values_cases("plot", "--batch", ("0", "-1"))
    c.append(_option_case("plot", "kind=bogus", lambda a, ws: ["plot", "histogram", *a[2:]], ["histogram"]))
    c.append(_option_case("plot", "breakdown_without_hw", lambda a, ws: a[:3] + a[5:], ["--hw"]))
    c.append(_option_case("plot", "pareto_missing_file", lambda a, ws: ["plot", "pareto", str(ws.inp / "none.parquet"),
                                                                        "-o", str(ws.out / "p.png")], ["none.parquet"]))
    c.append(_option_case("plot", "pareto_random_bytes", lambda a, ws: ["plot", "pareto", ws.write("junk.parquet", _garbage(3)),
                                                                        "-o", str(ws.out / "p.png")], ["junk.parquet"]))

    def pareto_missing_column(a, ws):
        import pandas as pd

        p = ws.inp / "t.parquet"
        pd.DataFrame({"latency_s": [1.0, 2.0]}).to_parquet(p)
        return ["plot", "pareto", str(p), "-o", str(ws.out / "p.png"), "--y", "nope"]
    c.append(_option_case("plot", "pareto_unknown_column", pareto_missing_column, ["nope"]))
    c.append(_option_case("plot", "-o=unknown_extension", lambda a, ws: _opt(a, "-o", str(ws.out / "plot.xyz")),
                          [("-o", "plot.xyz", "xyz")], new=True))
    c += _output_cases("plot", name="plot.png")
    c.append(_option_case("plot", "repeated_-o", lambda a, ws: a + ["-o", str(ws.out / "other.png")], [("-o", "--output")],
                         new=True))
    # ---- xcheck (every case must be refused before any measurement)
    c += _values_cases("xcheck", "--threads", ("0", "-1"))
    c += _values_cases("xcheck", "--trials", ("-1",))
    c += _values_cases("xcheck", "--train-fraction", ("nan", "0", "1", "inf"))
    c += _values_cases("xcheck", "--warmup", ("0",))
    c += _values_cases("xcheck", "--repeats", ("0",))
    c += _values_cases("xcheck", "--number", ("0",))
    c += _values_cases("xcheck", "--backend", ("cuda",))
    c += _values_cases("xcheck", "--space", ("bogus",))
    # (-o x.txt alone is valid: .txt is the table format, and the cross-check then runs for minutes)
    c.append(_option_case("xcheck", "-o=png", lambda a, ws: a + ["-o", str(ws.out / "x.png")], ["-o"]))
    c.append(_option_case("xcheck", "-o=txt_--format=csv",
                          lambda a, ws: a + ["-o", str(ws.out / "x.txt"), "--format", "csv"], ["-o", "--format"]))
    c.append(_option_case("xcheck", "--space_--sample=0", lambda a, ws: a + ["--space", "nb201", "--sample", "0"], ["--sample"]))
    c.append(_option_case("xcheck", "--sample_without_space", lambda a, ws: a + ["--sample", "3"], ["--sample"]))
    c.append(_option_case("xcheck", "--network=missing.onnx", lambda a, ws: a + ["--network", str(ws.inp / "missing.onnx")],
                          ["missing.onnx"]))
    c.append(_option_case("xcheck", "--network=bogus", lambda a, ws: a + ["--network", "bogusnet"], ["bogusnet"]))
    c.append(_option_case("xcheck", "--network=nb201_garbage", lambda a, ws: a + ["--network", "nb201:garbage"],
                          ["nb201:garbage"]))
    c.append(_repeat("xcheck", "--hw", "eyeriss", "simba-like"))
    # ---- joint
    c += _values_cases("joint", "--latency-weight", NONFINITE + ("-1",), new_from=NONFINITE)
    c += _values_cases("joint", "--energy-weight", ("nan", "-1"), new_from=("nan",))
    c += _values_cases("joint", "--epochs", ("0", "-1"))
    c += _values_cases("joint", "--gen-gap-lambda", ("nan", "-1"), new_from=("nan", "-1"))
    c += _values_cases("joint", "--bits", ("0", "a", "4,4", "", "99", "4x"), new_from=("4x",))
    c += _values_cases("joint", "--width-mult", ("0", "nan", "-1"), new_from=("nan",))
    c += _values_cases("joint", "--max-depth", ("0",))
    c += _values_cases("joint", "--stages", ("0", "99"))
    c += _values_cases("joint", "--resolution", ("0", "-1"))
    c += _values_cases("joint", "--lr", ("nan", "-1", "0"), new_from=("nan", "-1", "0"))
    c += _values_cases("joint", "--arch-lr", ("nan",), new_from=("nan",))
    c += _values_cases("joint", "--design-lr", ("inf",), new_from=("inf",))
    c += _values_cases("joint", "--val-fraction", ("nan", "0", "1", "1.5"))
    c += _values_cases("joint", "--batch-size", ("0",))
    c += _values_cases("joint", "--workers", ("0",))
    c += _values_cases("joint", "--torch-threads", ("0",))
    c += _values_cases("joint", "--warmup-epochs", ("-1", "5"), new_from=("-1", "5"))
    c += _values_cases("joint", "--finetune-epochs", ("-1",), new_from=("-1",))
    c += _values_cases("joint", "--train-samples", ("0",))
    c += _values_cases("joint", "--space", ("bogus",))
    c += _values_cases("joint", "--law", ("bogus",))
    c += _values_cases("joint", "--data", ("no/such/dir",))
    c.append(_option_case("joint", "--data=random_file", lambda a, ws: _opt(a, "--data", ws.write("data.bin", _garbage(2))),
                          ["data.bin"]))
    c.append(_option_case("joint", "--hw-space=missing", lambda a, ws: _opt(a, "--hw-space", str(ws.inp / "none.yaml")),
                          ["none.yaml"]))
    c.append(_option_case("joint", "--hw-space=random_bytes", lambda a, ws: _opt(a, "--hw-space", ws.write("g.yaml", _garbage(4))),
                          ["g.yaml"], owner=SPEC))
    c += _output_cases("joint", name="joint", dir_output=True)

    def joint_existing_dir(a, ws):
        ws.sentinel("joint/summary.json")
        return a
    c.append(_option_case("joint", "-o=existing_results_dir_no_force", joint_existing_dir, [("-o", "--output", "joint")],
                          new=True))
    c.append(_option_case("joint", "-o=existing_file", lambda a, ws: _opt(a, "-o", ws.sentinel("joint.txt")),
                          [("-o", "--output", "joint.txt")], new=True))
    c.append(_repeat("joint", "--epochs", "1", "2"))
    c += _values_cases("joint-new", "--latency-weight", ("nan",))
    c += _values_cases("joint-new", "--jobs", ("0", "-1"))
    # ---- NAS studies
    c += _values_cases("nas-proxies", "--archs", ("0", "-1"))
    c += _values_cases("nas-proxies", "--threads", ("-1",))
    c += _values_cases("nas-proxies", "--proxies", ("bogus", ""))
    c += _values_cases("nas-proxies", "--batch", ("0",))
    c += _values_cases("nas-predictor", "--train", ("0", "-1"))
    c += _values_cases("nas-predictor", "--test", ("0",))
    c += _values_cases("nas-latency", "--networks", ("0", "1"))
    c += _values_cases("nas-latency", "--train-fraction", ("nan", "0", "1.5"))
    c += _values_cases("nas-latency", "--measured-hw", ("nosuch.yaml",))
    return c


# ---------------------------------------------------------------------------------------------
# A handful through real subprocesses (python -m accel)
# ---------------------------------------------------------------------------------------------
def subprocess_cases() -> list[Case]:
    from dataclasses import replace

    pick = {"configs": ["eyeriss:binary_garbage_0", "eyeriss:pe_array.rows=nan"],
            "onnx": ["onnx:random_bytes_0"], "sweeps": ["sweep:range.start=.nan"], "layers": ["layer:K=-1"],
            "options": ["nas:--population=0", "eval:-o=existing_file_no_force", "configs:no_command"]}
    everything = {c.id: c for c in config_cases() + onnx_cases() + sweep_cases() + layer_cases() + option_cases()}
    out = []
    for fam, ids in pick.items():
        for i in ids:
            out.append(replace(everything[i], id=f"subprocess:{i}", family="subprocess", subprocess=True))
    return out


def all_cases() -> dict[str, list[Case]]:
    return {"configs": config_cases(), "sweeps": sweep_cases(), "bitwidths": bitwidth_cases(), "onnx": onnx_cases(),
            "layers": layer_cases(), "options": option_cases(), "subprocess": subprocess_cases()}


def check_unique(cases: list[Case]) -> None:
    seen = set()
    for c in cases:
        assert c.id not in seen, f"duplicate case id {c.id}"
        seen.add(c.id)




def params(cases: list[Case]) -> list:
    """``cases`` as pytest params (ids = case ids; ``hostile_new`` marks cases that rely on issue-10 fixes),
    after checking the ids are unique."""
    import pytest

    check_unique(cases)
    return [pytest.param(c, id=c.id, marks=[pytest.mark.hostile_new] if c.new else []) for c in cases]
