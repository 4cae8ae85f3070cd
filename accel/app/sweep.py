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
power_mw, area_mm2``), the swept values as ``hw.<path>`` columns, ``hw_digest`` (hash of the point's
validated config) and run metadata in ``df.attrs`` (accelsim version, spec hash, seed, objective,
workloads).  Work is sent to a :class:`concurrent.futures.Executor` in batches of design points; every
finished batch is written at once as ``<out>.parts/part-NNNNNN.parquet`` (temp file + atomic rename) next
to a ``manifest.json``, so a sweep killed at any moment resumes where it stopped, and the final table
(concatenated in batch order, then sorted by point) is identical to an uninterrupted run.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import shutil
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal, Sequence

import numpy as np
import pandas as pd

from accel import __version__

from accel.arch import parse_arch
from accel.designspace import DesignPoint, Sweep, SweepError, load_sweep

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
def _network(kind: str, ref: str | int, batch: int):
    """A workload's Network (cached per process), built by :func:`nas.registry.resolve_network`."""
    from nas.registry import resolve_network

    spec = {"nb201": f"nb201:{ref}", "layer": f"layer:{ref}"}.get(kind, str(ref))
    return resolve_network(spec, batch)


def _weight_count_layer(layer) -> int:
    """Parameters (weights) of a conv / fc layer; MatMul's second operand is an activation, not a weight."""
    return int(layer.operand_sizes()[0]) if layer.op in ("conv", "fc") else 0


def _weight_count(net) -> int:
    return sum(_weight_count_layer(layer) for layer in net.layers)


def _derive(r: dict) -> dict:
    """EDP (pJ·s) and average power (mW; pJ/s = 1e-12 W = 1e-9 mW) from energy_pj and latency_s."""
    r["edp_pj_s"] = r["energy_pj"] * r["latency_s"]
    r["power_mw"] = r["energy_pj"] / r["latency_s"] * 1e-9 if r["latency_s"] > 0 else math.nan
    return r


@functools.lru_cache(maxsize=8)
def _nb201_shape_weights(dataset: str, batch: int) -> np.ndarray:
    from nas.hwcost import cost_structure

    st = cost_structure(dataset, batch)
    return np.array([_weight_count_layer(lay) for lay in st.layers], dtype=np.int64)


def nb201_params(indices: Sequence[int], batch: int = 1, dataset: str = "cifar10") -> np.ndarray:
    """Weight count (conv + fc) of NB201 networks by official index, from the unique layer shapes and
    their per-arch counts (:class:`nas.hwcost.NB201CostStructure`); shape (n,) int64."""
    from nas.hwcost import cost_structure

    idx = np.asarray(indices, dtype=np.int64)
    return cost_structure(dataset, batch).counts(idx) @ _nb201_shape_weights(dataset, batch)


# ---------------------------------------------------------------------------------------------
# Evaluation of a batch of design points (runs in the executor's workers)
# ---------------------------------------------------------------------------------------------
_METRICS = ("macs", "params", "latency_cycles", "latency_s", "energy_pj", "edp_pj_s", "power_mw")


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


def _point_rows(p: DesignPoint, task: _Task) -> list[dict]:
    """Rows of one design point (one per workload, or per layer)."""
    from mapper.network import NetworkEvaluator
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
    arch = parse_arch(p.config, p.label("sweep"))
    ev = NetworkEvaluator(arch, objective=task.objective, seed=task.seed, parallel=False, effort=task.effort)
    rows: list[dict] = []
    nb = [w for w in wl if w.kind == "nb201"]
    nb_tot: dict[str, dict] = {}
    nb_fail = ""
    if nb and not task.per_layer:
        from nas.hwcost import nb201_hwcost

        idx = [int(w.ref) for w in nb]
        try:
            df = nb201_hwcost(evaluator=ev, archs=idx, batch=task.net_batch, workers=1)
        except NoValidMapping as e:
            nb_fail = f"no valid mapping: {e}"
        else:
            cols = zip(df["macs"].tolist(), nb201_params(idx, task.net_batch).tolist(), df["latency_cycles"].tolist(),
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
            net = _network(w.kind, w.ref, task.net_batch)
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
    for p in task.points:
        rows.extend(_point_rows(p, task))
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


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write via a temp file in the same directory, fsync, then rename over ``path`` (atomic on POSIX)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    write(tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _parts_dir(out: Path) -> Path:
    return out.with_name(out.name + ".parts")


def run_sweep(spec: Sweep | str | Path, workloads: Sequence[str], out_path: str | Path, executor: Executor | None = None,
              progress: Progress | None = None, batch_size: int = 8, per_layer: bool = False) -> pd.DataFrame:
    """Evaluate every design point of ``spec`` on ``workloads``; write the tidy table to ``out_path`` (Parquet).

    ``executor``: any :class:`concurrent.futures.Executor` (a process pool, ``dask.distributed``'s
    ``client.get_executor()``, :class:`SerialExecutor`); None = a local process pool over all CPUs, created
    and shut down here.  Tasks are batches of ``batch_size`` design points; the driver (this process)
    writes each finished batch to ``<out_path>.parts/`` at once (atomic rename), so workers need no
    shared file system.  ``progress(done_points, total_points)`` is called once at the start (with the
    points already done by an interrupted earlier run) and after every batch.

    Rerunning the same sweep (same spec, base config, workloads, batch size, per_layer, accelsim version)
    skips finished batches; a different sweep over existing parts is refused (:class:`SweepError`).
    When every batch is done, the parts are concatenated in batch order, sorted by point (stable) and
    written to ``out_path``; the parts directory is then removed.  Returns the table (``df.attrs``:
    run metadata).
    """
    sweep = spec if isinstance(spec, Sweep) else load_sweep(spec)
    if batch_size < 1:
        raise SweepError(f"batch_size must be >= 1, got {batch_size}")
    wls = parse_workloads(list(workloads))
    out = Path(out_path)
    if not out.parent.is_dir():
        raise SweepError(f"output directory {out.parent} does not exist")
    points = sweep.points()
    ident = {"accelsim_version": __version__, "sweep": sweep.name, "spec_hash": sweep.digest(),
             "workloads": [w.label for w in wls], "batch_size": batch_size, "per_layer": per_layer,
             "n_points": len(points), "seed": sweep.spec.seed, "objective": sweep.spec.objective,
             "workload_batch": sweep.spec.batch}
    run_id = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]
    attrs = {**ident, "run_id": run_id, "base_hw": sweep.base.name, "base_hw_digest": sweep.base.digest(),
             "parameters": sweep.columns, "constraints": sweep.spec.constraints.model_dump(mode="json"),
             "dropped_points": sum(p.dropped for p in points)}
    parts = _parts_dir(out)
    total = len(points)
    if out.exists() and not parts.exists():
        try:
            prev = pd.read_parquet(out)
        except Exception:  # noqa: BLE001 - not our table: recompute and overwrite
            prev = None
        if prev is not None and prev.attrs.get("run_id") == run_id:
            if progress:
                progress(total, total)
            return prev
    parts.mkdir(exist_ok=True)
    manifest = parts / "manifest.json"
    if manifest.exists():
        try:
            old = json.loads(manifest.read_text())
        except (OSError, ValueError):
            old = {}
        if old.get("run_id") != run_id:
            raise SweepError(f"{parts} holds partial results of a different sweep (run {old.get('run_id')}, "
                             f"this is {run_id}); delete it or choose another output path")
    else:
        _write_atomic(manifest, lambda t: t.write_text(json.dumps({**ident, "run_id": run_id}, indent=1)))
    for stray in parts.glob(".*.tmp-*"):
        stray.unlink(missing_ok=True)
    n_batches = -(-total // batch_size) if total else 0
    part = [parts / f"part-{b:06d}.parquet" for b in range(n_batches)]
    todo = [b for b in range(n_batches) if not part[b].exists()]
    done_pts = total - sum(min(batch_size, total - b * batch_size) for b in todo)
    if progress:
        progress(done_pts, total)
    tasks = iter(_Task(b, tuple(points[b * batch_size:(b + 1) * batch_size]), tuple(wls), sweep.spec.objective,
                       sweep.spec.seed, sweep.spec.batch, per_layer, sweep.spec.constraints.max_power_mw,
                       sweep.spec.search_effort) for b in todo)
    own = executor is None and bool(todo)
    if own:
        from concurrent.futures import ProcessPoolExecutor

        executor = ProcessPoolExecutor(max_workers=max(1, min(os.cpu_count() or 1, len(todo))))
    window = 2 * (os.cpu_count() or 1) + 2
    inflight: dict[Future, _Task] = {}

    def finish(f: Future) -> None:
        nonlocal done_pts
        t = inflight.pop(f)
        df = f.result()
        _write_atomic(part[t.batch_id], lambda tmp: df.to_parquet(tmp, index=False))
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
    frames = [pd.read_parquet(p) for p in part]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if len(df):
        df = df.sort_values("point", kind="stable").reset_index(drop=True)
    df.attrs = attrs
    _write_atomic(out, lambda tmp: df.to_parquet(tmp, index=False))
    shutil.rmtree(parts, ignore_errors=True)
    return df
