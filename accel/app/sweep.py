"""Resumable accelerator design-space sweeps (the runner); the spec and its design points are
:mod:`accel.designspace`.

Workloads (strings): every network string of :func:`nas.registry.resolve_network` — a zoo name
(``resnet50``), an ``.onnx`` file, ``SPACE:ENCODING`` of any NAS space (``nb201:<arch string>`` or
``nb201:<official index>``, ``darts:DARTS_V2``, ``mbconv:...``, ``fbnet:...``), ``layer:<spec>`` (one layer
in the ``accelsim map --layer`` syntax, e.g. ``"layer:conv K=64 C=64 P=56 Q=56 R=3 S=3"``; the spec's
batch multiplies its N) — plus ``nb201-sample:N:SEED`` (N distinct NB201 archs from
:func:`nas.registry.sample_architectures`; each becomes one workload ``nb201:<arch string>``).  NB201 workloads are costed with :func:`nas.hwcost.nb201_hwcost` on the design
point's :class:`~mapper.network.NetworkEvaluator`: the ~21 unique layer shapes are mapped once per design
point and every arch's totals follow from a matrix product, so 100 archs cost about as much as one.

Results (:func:`run_sweep`): a tidy table, one row per design point × workload (per layer with
``per_layer=True``), with units in the column names (``latency_cycles, latency_s, energy_pj, edp_pj_s,
power_mw, tops_per_w, tops_per_mm2, area_mm2``), the swept values as ``hw.<path>`` columns, ``hw_digest`` (hash of the point's
validated config) and run metadata in ``df.attrs`` (accelsim version, spec hash, seed, objective,
workloads).  Work is sent to a :class:`concurrent.futures.Executor` in batches of design points; every
finished batch is written at once as ``<out>.parts/part-NNNNNN.parquet`` (temp file + atomic rename) and
recorded by one appended line of ``<out>.parts/journal.jsonl`` (its batch's point ids, row count and sha256;
``manifest.json`` holds the sweep's identity and a snapshot of the parts a run started with, so recording a
batch costs O(1) however large the sweep), so a sweep killed
at any moment resumes where it stopped; a resume re-verifies every part against the manifest and sets
aside (and recomputes) any part that fails, and the final table (sorted by point) is identical to an
uninterrupted run.
"""

from __future__ import annotations

import functools
import contextlib
import hashlib
import io
import json
import logging
import math
import os
import re
import shutil
import time
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from accel._version import __version__

from accel.arch import parse_arch
from accel.designspace import DesignPoint, Sweep, SweepError, load_sweep
from accel.schema import pydantic_errors

Progress = Callable[[int, int], None]


# ---------------------------------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Workload:
    """A workload of a sweep: ``label`` is its name in the results table."""

    label: str
    kind: Literal["zoo", "onnx", "nb201", "layer", "nas"]
    ref: str | int  # zoo name, .onnx path, NB201 official index, layer spec, or SPACE:ENCODING (kind "nas")


def _workload(spec) -> Workload:
    """One network string as a workload (:func:`nas.registry.parse_network_spec`); NAS-Bench-201 CIFAR-10
    archs become kind ``nb201`` (official index: costed in bulk by :func:`nas.hwcost.nb201_hwcost`)."""
    from nas import nb201

    if spec.kind == "space" and spec.space == "nb201":
        return Workload(spec.label, "nb201", nb201.arch_to_index(spec.ref))
    if spec.kind == "space":
        return Workload(spec.label, "nas", spec.label)
    return Workload(spec.label, spec.kind, str(Path(spec.ref).resolve()) if spec.kind == "onnx" else spec.ref)


def parse_workloads(specs: Sequence[str]) -> list[Workload]:
    """Resolve workload strings (see the module docstring; every network string goes through
    :func:`nas.registry.parse_network_spec`, samples through :func:`nas.registry.sample_architectures`);
    duplicates are kept once, in first-seen order.  Raises :class:`SweepError` naming the bad string."""
    from accel.errors import WorkloadInputError
    from nas import nb201
    from nas.registry import UnknownNetworkError, parse_network_spec, sample_architectures

    out: list[Workload] = []
    seen: set[str] = set()

    def add(w: Workload) -> None:
        if w.label not in seen:
            seen.add(w.label)
            out.append(w)

    if not specs:
        raise SweepError("no workloads given")
    for s in specs:
        s = str(s).strip()
        head, sep, rest = s.partition(":")
        if head == "nb201-sample" and sep:
            n_s, sep2, seed_s = rest.partition(":")
            try:
                n, seed = int(n_s), int(seed_s)
            except ValueError:
                raise SweepError(f"workload {s!r}: expected nb201-sample:N:SEED with integers N and SEED") from None
            if not sep2 or not 1 <= n <= nb201.N_ARCHS or seed < 0:
                raise SweepError(f"workload {s!r}: expected nb201-sample:N:SEED with 1 <= N <= {nb201.N_ARCHS}, SEED >= 0")
            for a in sample_architectures("nb201", n, seed):
                idx = nb201.arch_to_index(a)
                add(Workload(f"nb201:{nb201.arch_str(idx)}", "nb201", idx))
            continue
        try:
            add(_workload(parse_network_spec(s)))
        except UnknownNetworkError as e:
            raise SweepError(f"unknown workload {s!r}: {e}; or nb201-sample:N:SEED") from None
        except WorkloadInputError as e:
            raise SweepError(f"workload {s!r}: {e}") from None
    return out


@functools.lru_cache(maxsize=64)
def _network(kind: str, ref: str | int, batch: int, prune_dead: bool = False):
    """A workload's Network (cached per process), built by :func:`nas.registry.resolve_network`."""
    from nas.registry import resolve_network

    spec = {"nb201": f"nb201:{ref}", "layer": f"layer:{ref}"}.get(kind, str(ref))
    return resolve_network(spec, batch, prune_dead=prune_dead)


def _weight_count_layer(layer) -> int:
    """Parameters (weights) of a conv / fc layer; MatMul's second operand is an activation, not a weight."""
    return int(layer.operand_sizes()[0]) if layer.op in ("conv", "fc") else 0


def _weight_count(net) -> int:
    return sum(_weight_count_layer(layer) for layer in net.layers)


def _derive(r: dict) -> dict:
    """EDP (pJ·s) and average power (mW; pJ/s = 1e-12 W = 1e-9 mW) from energy_pj and latency_s."""
    r["edp_pj_s"] = r["energy_pj"] * r["latency_s"]
    r["power_mw"] = r["energy_pj"] / r["latency_s"] * 1e-9 if r["latency_s"] > 0 else math.nan
    # efficiency (2 ops per MAC): ops/pJ = TOPS/W; TOPS per mm² of the point's area (NaN when the area is unknown)
    ops = 2.0 * r["macs"]
    r["tops_per_w"] = ops / r["energy_pj"] if r["energy_pj"] > 0 else math.nan
    area = r.get("area_mm2", math.nan)
    r["tops_per_mm2"] = (ops / r["latency_s"] * 1e-12 / area if r["latency_s"] > 0 and area is not None
                         and math.isfinite(area) and area > 0 else math.nan)
    return r


@functools.lru_cache(maxsize=8)
def _nb201_shape_weights(dataset: str, batch: int, prune: bool = False) -> np.ndarray:
    from nas.hwcost import cost_structure

    st = cost_structure(dataset, batch, prune)
    return np.array([_weight_count_layer(lay) for lay in st.layers], dtype=np.int64)


def nb201_params(indices: Sequence[int], batch: int = 1, dataset: str = "cifar10", prune: bool = False) -> np.ndarray:
    """Weight count (conv + fc) of NB201 networks by official index, from the unique layer shapes and
    their per-arch counts (:class:`nas.hwcost.NB201CostStructure`; ``prune``: dead cell edges removed);
    shape (n,) int64."""
    from nas.hwcost import cost_structure

    idx = np.asarray(indices, dtype=np.int64)
    return cost_structure(dataset, batch, prune).counts(idx) @ _nb201_shape_weights(dataset, batch, prune)


# ---------------------------------------------------------------------------------------------
# Evaluation of a batch of design points (runs in the executor's workers)
# ---------------------------------------------------------------------------------------------
_METRICS = ("macs", "params", "latency_cycles", "latency_s", "energy_pj", "edp_pj_s", "power_mw", "tops_per_w",
            "tops_per_mm2")


@dataclass(frozen=True)
class _Task:
    batch_id: int
    points: tuple[DesignPoint, ...]
    workloads: tuple[Workload, ...]
    objective: str
    seed: int
    net_batch: int
    per_layer: bool
    max_power_mw: float | None
    effort: str
    prune_dead: bool = False


def _evaluators(points: Sequence[DesignPoint], task: _Task) -> dict[int, Any]:
    """The :class:`mapper.network.NetworkEvaluator` of each point of a batch that is not dropped, with the layers of
    the task's workloads mapped: points that differ only in their clock, static power and bandwidths (a grid's last
    parameters, consecutive in a batch) share each layer's search
    (:meth:`~mapper.network.NetworkEvaluator.map_group`: the mappings each point's own search finds)."""
    from mapper.network import NetworkEvaluator

    evs = {p.point: NetworkEvaluator(parse_arch(p.config, p.label("sweep")), objective=task.objective, seed=task.seed,
                                     parallel=False, effort=task.effort)
           for p in points if not p.dropped}
    if len(evs) < 2:
        return evs
    layers = []
    for w in task.workloads:
        if w.kind == "nb201" and not task.per_layer:
            from nas.hwcost import cost_structure

            layers += cost_structure("cifar10", task.net_batch, task.prune_dead).layers
        else:
            layers += _network(w.kind, w.ref, task.net_batch, task.prune_dead).layers
    NetworkEvaluator.map_group(list(evs.values()), layers)
    return evs


def _point_rows(p: DesignPoint, task: _Task, ev) -> list[dict]:
    """Rows of one design point (one per workload, or per layer); ``ev`` its evaluator (:func:`_evaluators`; None
    when the point is dropped)."""
    from mapper.mapspace import NoValidMapping

    base = {"point": p.point, **p.params, "hw_digest": p.hw_digest, "area_mm2": p.area_mm2,
            "peak_macs_per_cycle": p.peak_macs_per_cycle}
    wl = task.workloads

    def row(w: Workload, reason: str = "", **vals) -> dict:
        r = {**base, "workload": w.label, "nb201_index": w.ref if w.kind == "nb201" else None,
             "status": "dropped" if reason else "ok", "reason": reason}
        r.update({m: vals.get(m, math.nan) for m in _METRICS})
        return r

    if p.dropped:
        return [row(w, p.reason) for w in wl]
    rows: list[dict] = []
    nb = [w for w in wl if w.kind == "nb201"]
    nb_tot: dict[str, dict] = {}
    nb_fail = ""
    if nb and not task.per_layer:
        from nas.hwcost import nb201_hwcost

        idx = [int(w.ref) for w in nb]
        try:
            df = nb201_hwcost(evaluator=ev, archs=idx, batch=task.net_batch, workers=1, prune=task.prune_dead)
        except NoValidMapping as e:
            nb_fail = f"no valid mapping: {e}"
        else:
            cols = zip(df["macs"].tolist(), nb201_params(idx, task.net_batch, prune=task.prune_dead).tolist(),
                       df["latency_cycles"].tolist(),
                       df["latency_s"].tolist(), df["energy_pj"].tolist())
            for w, (macs, prm, cyc, sec, pj) in zip(nb, cols):
                nb_tot[w.label] = dict(macs=int(macs), params=int(prm), latency_cycles=float(cyc), latency_s=float(sec),
                                       energy_pj=float(pj))
    for w in wl:
        if w.kind == "nb201" and not task.per_layer:
            if nb_fail:
                rows.append(row(w, nb_fail))
                continue
            vals = nb_tot[w.label]
        else:
            net = _network(w.kind, w.ref, task.net_batch, task.prune_dead)
            try:
                res = ev.network(net)
            except NoValidMapping as e:
                rows.append(row(w, f"no valid mapping: {e}"))
                continue
            if task.per_layer:
                lf = res.to_frame().drop(columns=["network", "hw"])
                for lr, rec in zip(res.layers, lf.to_dict("records")):
                    r = row(w, params=_weight_count_layer(lr.layer), **{m: rec.pop(m) for m in
                                                                      ("macs", "latency_cycles", "latency_s", "energy_pj")})
                    r.update({"layer": rec.pop("layer"), "op": rec.pop("op"), "shape": lr.layer.describe()})
                    r.update(rec)
                    _derive(r)
                    rows.append(r)
                continue
            vals = dict(macs=int(res.macs), params=_weight_count(net), latency_cycles=float(res.latency_cycles),
                        latency_s=float(res.latency_s), energy_pj=float(res.energy_pj))
        rows.append(_derive(row(w, **vals)))
    cap = task.max_power_mw
    if cap is not None:  # average power per workload (per-layer rows are summed first) must fit the budget
        tot: dict[str, list[float]] = {}
        for r in rows:
            if r["status"] == "ok":
                t = tot.setdefault(r["workload"], [0.0, 0.0])
                t[0] += r["energy_pj"]
                t[1] += r["latency_s"]
        power = {k: e / s * 1e-9 for k, (e, s) in tot.items() if s > 0}
        over = {k: v for k, v in power.items() if v > cap}
        if over:
            k = max(over, key=over.get)
            msg = f"power {over[k]:.4g} mW on {k} exceeds the budget of {cap:g} mW"
            for r in rows:
                if r["status"] == "ok":
                    r["status"], r["reason"] = "dropped", msg
    return rows


def _run_batch(task: _Task) -> pd.DataFrame:
    """Evaluate one batch of design points (executor task; module-level so it pickles)."""
    rows: list[dict] = []
    evs = _evaluators(task.points, task)
    for p in task.points:
        rows.extend(_point_rows(p, task, evs.get(p.point)))
    df = pd.DataFrame(rows)
    df["nb201_index"] = df["nb201_index"].astype("Int64")
    for c in ("point", "peak_macs_per_cycle"):
        df[c] = df[c].astype(np.int64)
    for c in ("status", "reason", "workload", "hw_digest"):
        df[c] = df[c].astype(str)
    return df


# ---------------------------------------------------------------------------------------------
# Driver: batches, executor, incremental parts, resume
# ---------------------------------------------------------------------------------------------
class SerialExecutor(Executor):
    """Runs each task in the calling process when it is submitted (no parallelism; for ``--jobs 1``,
    debugging and tests)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        f: Future = Future()
        try:
            f.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - handed to the caller through the future
            f.set_exception(e)
        return f


Log = Callable[[str], None]
_log = logging.getLogger(__name__)
MANIFEST_FORMAT = 2  # 1: manifest.json rewritten after every batch (still read); 2: snapshot + append-only journal
_PART_RE = re.compile(r"part-(\d{6})\.parquet")
# batches submitted ahead of the finished ones: enough to keep a large Dask cluster busy (the driver's own
# CPU count says nothing about the cluster's), small enough that pending tasks cost little memory
_MAX_INFLIGHT_BATCHES = 1024


class _PartEntry(BaseModel):
    """What the manifest records of one part file: its batch, the batch's point ids, rows and sha256 of the bytes."""

    model_config = ConfigDict(strict=True, extra="forbid")
    batch: int = Field(ge=0)
    points: list[int]
    rows: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class _Manifest(BaseModel):
    """``<out>.parts/manifest.json``: the sweep the parts belong to (``identity``: spec digest, workloads,
    accelsim version, batch size, seed, objective, …; ``run_id`` is its hash) and one entry per part file
    known when a run started; the parts finished since are in the journal (:class:`_JournalLine`)."""

    model_config = ConfigDict(strict=True, extra="forbid")
    format: Literal[1, 2]
    run_id: str
    identity: dict[str, Any]
    parts: dict[str, _PartEntry]


class _JournalLine(_PartEntry):
    """One line of ``<out>.parts/journal.jsonl``: a part finished after the manifest snapshot was written
    (appended, one JSON object per line, so recording a batch costs O(1) however many batches exist)."""

    run_id: str
    part: str


JOURNAL = "journal.jsonl"


def _append_line(path: Path, line: bytes) -> None:
    """Append one newline-terminated record to ``path`` and fsync it (a kill mid-write leaves at most a torn
    last line without its newline, which readers ignore: its part was not renamed into place yet)."""
    with open(path, "ab") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def _read_journal(path: Path, parts: Path, run_id: str) -> dict[str, _PartEntry]:
    """Entries of the journal ``path`` (later lines win); a torn last line is ignored, any other bad line or a
    line of another run raises :class:`SweepError` (corrupted manifest)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise _corrupt_manifest(path, parts, f"cannot be read ({e.strerror or e})") from None
    lines = data.split(b"\n")
    out: dict[str, _PartEntry] = {}
    for no, raw in enumerate(lines[:-1], 1):  # the last element is '' or a torn (unterminated) line
        try:
            e = _JournalLine.model_validate_json(raw)
        except ValidationError as err:
            raise _corrupt_manifest(path, parts, f"line {no}: {_first_problem(err)}") from None
        if e.run_id != run_id:
            raise _corrupt_manifest(path, parts, f"line {no} belongs to run {e.run_id}, the manifest to run {run_id}")
        out[e.part] = _PartEntry(batch=e.batch, points=e.points, rows=e.rows, sha256=e.sha256)
    return out


def _stage(path: Path, data: bytes | pd.DataFrame) -> Path:
    """Write ``data`` (bytes, or a table written as Parquet straight to the file, with no copy of its bytes in
    memory) to a hidden temp file next to ``path`` and fsync it; returns the temp path."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        if isinstance(data, bytes):
            with open(tmp, "wb") as fh:
                fh.write(data)
        else:
            data.to_parquet(tmp, index=False)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _publish(tmp: Path, path: Path) -> None:
    """Rename a staged temp file over ``path`` (atomic on POSIX) and fsync the directory entry."""
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # not every file system lets a directory be opened / fsynced
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` atomically: readers see the old file or the whole new one, never a part."""
    _publish(_stage(path, data), path)


def _concat_parts(parts: list[bytes]) -> pd.DataFrame:
    """One DataFrame of the parts' tables, in order (as ``pd.concat`` of each part read with ``pd.read_parquet``):
    concatenated as Arrow tables, whose columns are compact, then converted once — a 10^5-point sweep's table
    never exists twice as pandas objects."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = [pq.read_table(io.BytesIO(p)) for p in parts]
    try:
            table = pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # a column typed differently across parts: pandas' own rules
        return pd.concat([t.to_pandas() for t in tables], ignore_index=True)
    del tables
    df = table.to_pandas(split_blocks=True, self_destruct=True)  # Arrow buffers freed column by column
    del table
    pa.default_memory_pool().release_unused()  # hand the freed buffers back to the OS
    return df


def _parquet_bytes(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def _parts_dir(out: Path) -> Path:
    return out.with_name(out.name + ".parts")


def _ranges(ids: Sequence[int]) -> str:
    """Point ids as compact ranges: ``0-2, 5``."""
    out, ids = [], sorted(ids)
    i = 0
    while i < len(ids):
        j = i
        while j + 1 < len(ids) and ids[j + 1] == ids[j] + 1:
            j += 1
        out.append(f"{ids[i]}" if i == j else f"{ids[i]}-{ids[j]}")
        i = j + 1
    return ", ".join(out) if out else "none"


def _table_problem(df: pd.DataFrame, ids: Sequence[int], workloads: Sequence[str], per_layer: bool) -> str:
    """Why ``df`` is not exactly the rows of design points ``ids`` × ``workloads`` ('' when it is): every
    (point, workload) pair present, once (per layer: each (point, workload, layer) once)."""
    # per layer: a table of dropped points only (no mapping was made) has no layer column
    need = ["point", "workload"] + (["layer"] if per_layer and "layer" in df.columns else [])
    missing_cols = [c for c in need + ["hw_digest"] if c not in df.columns]
    if missing_cols:
        return f"has no {', '.join(missing_cols)} column"
    # the common case without Python objects per row (a 10^5-point table has 2·10^6 rows): each row's (point,
    # workload) as a position in ids × workloads, counted; anything else is explained below
    pos = pd.Index(list(ids)).get_indexer(df["point"]) if pd.Index(list(ids)).is_unique else None
    code = pd.Categorical(df["workload"], categories=list(dict.fromkeys(workloads))).codes
    if pos is not None and len(set(workloads)) == len(workloads) and (pos >= 0).all() and (code >= 0).all():
        cnt = np.bincount(pos.astype(np.int64) * len(workloads) + code, minlength=len(ids) * len(workloads))
        if cnt.min() >= 1 and (cnt.max() == 1 or (per_layer and not df.duplicated(need).any())):
            return ""
    got = set(zip(df["point"].tolist(), df["workload"].tolist()))
    want = {(int(p), w) for p in ids for w in workloads}
    if got != want:
        parts = []
        if got - want:
            parts.append(f"{len(got - want)} unexpected (point, workload) pairs, e.g. {sorted(got - want, key=str)[0]}")
        if want - got:
            parts.append(f"{len(want - got)} missing, e.g. {sorted(want - got, key=str)[0]}")
        return "; ".join(parts)
    dup = df.duplicated(need)
    if dup.any():
        r = df[dup].iloc[0]
        return f"{int(dup.sum())} duplicated rows, e.g. point {r['point']} on {r['workload']}"
    return ""


@dataclass(frozen=True)
class _Layout:
    """How a sweep's design points are batched, and what its parts must hold."""

    points: Sequence[DesignPoint]
    batch_size: int
    workloads: tuple[str, ...]
    per_layer: bool

    @property
    def n_batches(self) -> int:
        return -(-len(self.points) // self.batch_size)

    def ids(self, b: int) -> list[int]:
        return [p.point for p in self.points[b * self.batch_size:(b + 1) * self.batch_size]]

    def name(self, b: int) -> str:
        return f"part-{b:06d}.parquet"

    @functools.cached_property
    def _batch_of(self) -> dict[int, int]:
        return {p.point: i // self.batch_size for i, p in enumerate(self.points)}

    @functools.cached_property
    def _hw_digest(self) -> dict[int, str]:
        return {p.point: p.hw_digest for p in self.points}

    def content_problem(self, df: pd.DataFrame, b: int) -> str:
        """Why ``df`` is not batch ``b`` of this sweep ('' when it is)."""
        if not {"point", "workload", "hw_digest"} <= set(df.columns):
            return "belongs to another sweep: it is not a sweep part (no point/workload/hw_digest columns)"
        want, got = self.ids(b), sorted(set(df["point"].tolist()))
        if got != want:
            others = sorted({self._batch_of.get(int(p), -1) for p in got} - {-1, b})
            where = f" (batch {', '.join(map(str, others))})" if others else ""
            return (f"belongs to another batch: it holds points {_ranges(got)}{where}, batch {b} is points "
                    f"{_ranges(want)}")
        by_id = self._hw_digest
        for pt, dg in zip(df["point"].tolist(), df["hw_digest"].tolist()):
            if by_id[int(pt)] != dg:
                return (f"belongs to another sweep: its point {pt} has hw_digest {dg or '-'}, this sweep's point {pt} "
                        f"has {by_id[int(pt)] or '-'}")
        wls = set(df["workload"].tolist())
        if wls != set(self.workloads):
            return (f"belongs to another sweep: its workloads are {sorted(wls)}, this sweep's are "
                    f"{sorted(self.workloads)}")
        bad = _table_problem(df, want, self.workloads, self.per_layer)
        return f"is incomplete: {bad}" if bad else ""

    def load(self, path: Path, b: int, entry: _PartEntry | None) -> tuple[bytes | None, str]:
        """Read and verify part ``path`` as batch ``b``: returns (its bytes, '') or (None, why it is rejected)."""
        if entry is None:
            return None, "is not in the manifest"
        if entry.batch != b or entry.points != self.ids(b):
            return None, (f"belongs to another batch: the manifest records it as batch {entry.batch}, points "
                          f"{_ranges(entry.points)}")
        try:
            data = path.read_bytes()
        except OSError as e:
            return None, f"cannot be read ({e.strerror or e})"
        checksum_ok = hashlib.sha256(data).hexdigest() == entry.sha256
        try:
            df = pd.read_parquet(io.BytesIO(data))
        except Exception as e:  # noqa: BLE001 - any reader error means the part is unusable
            why = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            return None, (f"is corrupted: it fails its sha256 checksum and cannot be read ({why})" if not checksum_ok
                          else f"cannot be read ({why})")
        bad = self.content_problem(df, b)
        if bad:
            return None, bad
        if not checksum_ok:
            return None, "is corrupted: it fails its sha256 checksum"
        if len(df) != entry.rows:
            return None, f"has {len(df)} rows, the manifest records {entry.rows}"
        return data, ""


def _differences(old: dict, ident: dict) -> str:
    """'; they differ in batch_size, workloads' for the identity keys whose values differ ('' if none known)."""
    diff = [k for k in sorted(ident) if k in old and old[k] != json.loads(json.dumps(ident[k]))]
    return f"; they differ in {', '.join(diff)}" if diff else ""


def _first_problem(e: ValidationError) -> str:
    """'<path>: <message>' of the first error of a manifest or journal record (:func:`accel.schema.pydantic_errors`)."""
    loc, msg = pydantic_errors(e)[0]
    return f"{loc}: {msg}"


def _corrupt_manifest(path: Path, parts: Path, detail: str) -> SweepError:
    n = len(list(parts.glob("part-*.parquet")))
    return SweepError(f"{path}: the sweep manifest is corrupted ({detail}), so the {n} part file(s) in {parts} cannot "
                      f"be verified; rerun with --force (force=True) to discard them and start over, or choose "
                      f"another output path")


def _read_manifest(path: Path, parts: Path, ident: dict, run_id: str) -> _Manifest | None:
    """The manifest of ``parts`` (None when there is none); raises :class:`SweepError` when it is corrupted
    or belongs to another sweep."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise _corrupt_manifest(path, parts, f"not readable JSON: {e}") from None
    if isinstance(data, dict) and isinstance(data.get("run_id"), str) and data["run_id"] != run_id:
        old = data.get("identity") if isinstance(data.get("identity"), dict) else data
        raise SweepError(
            f"{parts} holds partial results of a different sweep: its manifest is for spec digest "
            f"{old.get('spec_hash', '?')} (sweep {old.get('sweep', '?')!r}, run {data['run_id']}), this sweep has spec "
            f"digest {ident['spec_hash']} (sweep {ident['sweep']!r}, run {run_id}){_differences(old, ident)}; choose "
            "another output path, or rerun with --force (force=True) to discard those parts")
    try:
        m = _Manifest.model_validate(data)
    except ValidationError as e:
        raise _corrupt_manifest(path, parts, _first_problem(e)) from None
    if m.identity != json.loads(json.dumps(ident)):
        raise _corrupt_manifest(path, parts, "its sweep identity does not match its run id")
    return m


@contextlib.contextmanager
def _locked(parts: Path):
    """Hold an exclusive lock on ``parts`` (``.lock``; released by the OS if the process dies)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    with open(parts / ".lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise SweepError(f"{parts} is in use by another running sweep (lock {parts / '.lock'}); wait for it to "
                             "finish or choose another output path") from None
        yield


def _stored_attrs(out: Path) -> dict | None:
    """``df.attrs`` of the Parquet table ``out`` (from the schema metadata; no data read), None when ``out`` is
    not a readable Parquet file."""
    import pyarrow.parquet as pq

    try:
        md = pq.read_schema(out).metadata or {}
        attrs = json.loads(md.get(b"PANDAS_ATTRS", b"{}"))
    except Exception:  # noqa: BLE001 - any reader error: not a table we can recognise
        return None
    return attrs if isinstance(attrs, dict) else {}


def _set_aside(path: Path, parts: Path) -> Path:
    dest_dir = parts / "rejected"
    dest_dir.mkdir(exist_ok=True)
    stamp = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{time.time_ns() % 10**9:09d}"
    dest = dest_dir / f"{path.name}.rejected-{stamp}"
    os.replace(path, dest)
    return dest


def _manifest_run_id(parts: Path) -> str | None:
    """The run id recorded in ``parts``' manifest (None: no manifest; '?': unreadable)."""
    try:
        data = json.loads((parts / "manifest.json").read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return "?"
    return str(data.get("run_id")) if isinstance(data, dict) else "?"


def _clean_parts(parts: Path) -> None:
    """Remove the parts directory, except rejected parts (kept in ``rejected/`` for inspection)."""
    rejected = parts / "rejected"
    if rejected.is_dir() and any(rejected.iterdir()):
        for p in parts.iterdir():
            if p != rejected:
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)
    else:
        shutil.rmtree(parts, ignore_errors=True)


def run_sweep(spec: Sweep | str | Path, workloads: Sequence[str], out_path: str | Path,
              executor: Executor | None = None, progress: Progress | None = None, batch_size: int = 8,
              per_layer: bool = False, force: bool = False, log: Log | None = None,
              prune_dead: bool = False, on_computed: Callable[[], None] | None = None) -> pd.DataFrame:
    """Evaluate every design point of ``spec`` on ``workloads``; write the tidy table to ``out_path`` (Parquet).

    ``executor``: any :class:`concurrent.futures.Executor` (a process pool, ``dask.distributed``'s
    ``client.get_executor()``, :class:`SerialExecutor`); None = a local process pool over all CPUs, created
    and shut down here.  Tasks are batches of ``batch_size`` design points; the driver (this process)
    writes each finished batch to ``<out_path>.parts/part-NNNNNN.parquet`` and records it by appending one
    line (batch, point ids, rows, sha256 of the file bytes) to ``<out_path>.parts/journal.jsonl``, fsynced
    before the part is renamed into place; ``manifest.json`` (the sweep's identity and the parts verified
    when a run starts) is rewritten once per run, so workers need no shared file
    system and a kill at any moment loses at most the batches in flight.  ``progress(done_points,
    total_points)`` is called once at the start (with the points already done by an interrupted earlier
    run) and after every batch; ``log(message)`` (default: a ``logging`` warning, shown on stderr) reports
    parts set aside.  ``prune_dead``: cost NB201 cells with their dead edges removed (``--prune-dead``;
    default False: every edge is costed, as frameworks run them); part of the sweep's identity.
    ``on_computed()``: called once when every batch is computed and before the final table is assembled (not
    called when an earlier run's finished table is returned, nor after an error): the caller's moment to release
    ``executor`` — the CLI shuts its process pool down here, so the workers' memory (their search memos) is
    returned to the OS before the table, the run's largest allocation, is built.

    Resume: rerunning the same sweep (same spec and base config — ``Sweep.digest()`` —, workloads, batch
    size, per_layer, accelsim version) re-verifies every part against the manifest and reuses it; a part
    that is not in the manifest, fails its checksum, cannot be read, holds another batch's points or
    another sweep's rows is moved to ``<out_path>.parts/rejected/`` (reported through ``log`` and in the
    returned ``df.attrs["rejected_parts"]``) and its batch is recomputed.  A corrupted manifest, parts of
    a different sweep, or an existing ``out_path`` that is not this sweep's table raise
    :class:`SweepError`; ``force=True`` discards the old parts (and lets ``out_path`` be replaced).

    When every batch is done, the table (sorted by point) is checked to hold each design point × workload
    exactly once and written atomically to ``out_path``; the parts directory is then removed (rejected
    parts are kept).  A finished table of the same sweep is returned as it is.  Returns the table
    (``df.attrs``: run metadata as stored in the file, plus this call's ``resumed_points`` and
    ``rejected_parts``, which are not stored).
    """
    sweep = spec if isinstance(spec, Sweep) else load_sweep(spec)
    if batch_size < 1:
        raise SweepError(f"batch_size must be >= 1, got {batch_size}")
    wls = parse_workloads(list(workloads))
    out = Path(out_path)
    if not out.parent.is_dir():
        raise SweepError(f"output directory {out.parent} does not exist")
    if out.is_dir():
        raise SweepError(f"output {out} is a directory; give a .parquet file path")
    say = log or _log.warning
    points = sweep.points()
    ident = {"accelsim_version": __version__, "sweep": sweep.name, "spec_hash": sweep.digest(),
             "workloads": [w.label for w in wls], "batch_size": batch_size, "per_layer": per_layer,
             "n_points": len(points), "seed": sweep.spec.seed, "objective": sweep.spec.objective,
             "workload_batch": sweep.spec.batch, "prune_dead": bool(prune_dead)}
    run_id = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]
    attrs = {**ident, "run_id": run_id, "base_hw": sweep.base.name, "base_hw_digest": sweep.base.digest(),
             "parameters": sweep.columns, "constraints": sweep.spec.constraints.model_dump(mode="json"),
             "dropped_points": sum(p.dropped for p in points)}
    lay = _Layout(points, batch_size, tuple(ident["workloads"]), per_layer)
    all_ids = [p.point for p in points]
    parts = _parts_dir(out)
    total = len(points)
    if not total:
        raise SweepError(f"sweep {sweep.name!r} has no design points")

    if out.exists():  # a finished table: ours is returned as it is; another sweep's is never replaced silently
        old = _stored_attrs(out)
        if old is not None and old.get("run_id") == run_id:
            prev = pd.read_parquet(out)
            bad = _table_problem(prev, all_ids, lay.workloads, per_layer)
            if not bad:
                if _manifest_run_id(parts) in (run_id, None):  # leftovers of the run that wrote it
                    _clean_parts(parts)
                if progress:
                    progress(total, total)
                return prev
            say(f"sweep: {out} is this sweep's table but {bad}; recomputing it")
        elif not force:
            what = ("is not a readable Parquet table" if old is None else
                    "is a Parquet table but not a sweep results table (no run_id)" if "run_id" not in old else
                    f"holds the results of a different sweep (spec digest {old.get('spec_hash', '?')}, run "
                    f"{old.get('run_id', '?')}; this sweep has spec digest {ident['spec_hash']}, run {run_id}"
                    f"{_differences(old, ident)})")
            raise SweepError(f"{out} {what}; choose another output path, or rerun with --force (force=True) to "
                             "replace it")

    manifest_path = parts / "manifest.json"
    if not force:  # refuse another sweep's parts before creating anything (read again under the lock below)
        _read_manifest(manifest_path, parts, ident, run_id)
    parts.mkdir(exist_ok=True)
    with _locked(parts):
        if force:
            for p in parts.iterdir():
                if p.is_dir():
                    shutil.rmtree(p)
                elif p.name != ".lock":
                    p.unlink()
        for stray in parts.glob(".*.tmp-*"):
            stray.unlink(missing_ok=True)
        m = _read_manifest(manifest_path, parts, ident, run_id)
        journal_path = parts / JOURNAL
        entries: dict[str, _PartEntry] = dict(m.parts) if m else {}
        if m:
            entries.update(_read_journal(journal_path, parts, run_id))

        def save_manifest() -> bytes:
            doc = _Manifest(format=MANIFEST_FORMAT, run_id=run_id, identity=json.loads(json.dumps(ident)),
                            parts=dict(sorted(entries.items())))
            return doc.model_dump_json(indent=1).encode()

        # ---- verify what an earlier run left -----------------------------------------------------
        frames: dict[int, bytes] = {}  # the verified parts' Parquet bytes (compact: the table is built at the end)
        rejected: list[dict] = []
        for path in sorted(parts.glob("part-*")):
            mt = _PART_RE.fullmatch(path.name)
            b = int(mt.group(1)) if mt else -1
            if not 0 <= b < lay.n_batches:
                df, why = None, f"is not a part of this sweep (it has {lay.n_batches} batches)"
            else:
                df, why = lay.load(path, b, entries.get(path.name))
            if df is not None:
                frames[b] = df
                continue
            dest = _set_aside(path, parts)
            rejected.append({"part": path.name, "reason": why, "moved_to": str(dest)})
            say(f"sweep: {path.name} {why}; set aside as {dest}"
                + (f", batch {b} will be recomputed" if b >= 0 else ""))
        entries = {k: v for k, v in entries.items() if v.batch in frames and k == lay.name(v.batch)}
        # snapshot (once per run, O(parts)), then an empty journal; a kill in between leaves journal lines that
        # repeat snapshot entries, which read back the same
        _write_atomic(manifest_path, save_manifest())
        _write_atomic(journal_path, b"")

        todo = [b for b in range(lay.n_batches) if b not in frames]
        resumed = sum(len(lay.ids(b)) for b in frames)
        done_pts = resumed
        if progress:
            progress(done_pts, total)
        tasks = iter(_Task(b, tuple(points[b * batch_size:(b + 1) * batch_size]), tuple(wls), sweep.spec.objective,
                           sweep.spec.seed, sweep.spec.batch, per_layer, sweep.spec.constraints.max_power_mw,
                           sweep.spec.search_effort, bool(prune_dead)) for b in todo)
        own = executor is None and bool(todo)
        if own:
            from concurrent.futures import ProcessPoolExecutor

            executor = ProcessPoolExecutor(max_workers=max(1, min(os.cpu_count() or 1, len(todo))))
        window = _MAX_INFLIGHT_BATCHES
        inflight: dict[Future, _Task] = {}

        def finish(f: Future) -> None:
            """Record a finished batch: stage the part, add its manifest entry, then rename the part in."""
            nonlocal done_pts
            t = inflight.pop(f)
            data = _parquet_bytes(f.result())
            df = pd.read_parquet(io.BytesIO(data))  # exactly what a resume would read back
            bad = lay.content_problem(df, t.batch_id)
            if bad:
                raise SweepError(f"internal error: batch {t.batch_id} {bad}")
            path = parts / lay.name(t.batch_id)
            tmp = _stage(path, data)
            line = _JournalLine(run_id=run_id, part=path.name, batch=t.batch_id, points=lay.ids(t.batch_id),
                                rows=len(df), sha256=hashlib.sha256(data).hexdigest())
            _append_line(journal_path, line.model_dump_json().encode() + b"\n")  # O(1) per batch
            _publish(tmp, path)
            frames[t.batch_id] = data
            done_pts += len(t.points)
            if progress:
                progress(done_pts, total)

        try:
            exhausted = not todo
            while True:
                while not exhausted and len(inflight) < window:
                    t = next(tasks, None)
                    if t is None:
                        exhausted = True
                        break
                    f = executor.submit(_run_batch, t)  # type: ignore[union-attr]
                    inflight[f] = t
                    if f.done():  # a synchronous executor: write at once
                        finish(f)
                if not inflight:
                    break
                ready, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
                for f in sorted(ready, key=lambda f: inflight[f].batch_id):
                    finish(f)
        finally:
            for f in inflight:
                f.cancel()
            if own:
                executor.shutdown(wait=True, cancel_futures=True)  # type: ignore[union-attr]
        if on_computed is not None:
            on_computed()

        # ---- the final table: complete, checked, written atomically ---------------------------------
        df = _concat_parts([frames.pop(b) for b in range(lay.n_batches)])  # frames is empty now
        if not df["point"].is_monotonic_increasing:  # batches are consecutive point ranges: sorted already
            df = df.sort_values("point", kind="stable").reset_index(drop=True)
        bad = _table_problem(df, all_ids, lay.workloads, per_layer)
        if bad:
            raise SweepError(f"internal error: the assembled table has {bad}; {out} was not written, the parts in "
                             f"{parts} are kept")
        df.attrs = attrs
        _publish(_stage(out, df), out)
        _clean_parts(parts)
    if rejected:
        say(f"sweep: {len(rejected)} part(s) were set aside and recomputed; they are kept in {parts / 'rejected'}")
    df.attrs = {**attrs, "resumed_points": resumed, "rejected_parts": rejected}
    return df
