"""Sweep at scale: configs/sweeps/scale-100k.yaml x 20 NAS-Bench-201 cells through the CLI (a bench script, not CI).

Target (issue 13): 100,000 design points x 20 NB201 cells in <= 10 minutes on a 2-core machine with <= 4 GB of
memory, a progress bar and resume.  What it runs, each as ``python -m accel sweep SPEC --workload
nb201-sample:20:0 -o OUT --jobs 2 --batch-size 125`` in a fresh process (the numba cache of the environment is
warmed first by a one-point sweep, outside the timed runs):

* ``--points 5000`` (default): a 5,000-point slice of the spec (GLB read bandwidth 128 bits/cycle, 12-word
  ifmap spad and 16-bit data fixed; all 10 PE arrays, 5 GLB sizes, 4 filter spads, 5 DRAM bandwidths and 5
  clocks kept), timed; then the same slice again into another file, killed with SIGKILL once a quarter of
  its batches are recorded, and resumed: the resumed table must equal the uninterrupted one byte for byte.
  The 100,000-point figure is extrapolated from the slice (and said to be).
* ``--points 100000``: the whole spec, timed (no kill/resume unless ``--kill-resume``).
* ``--dask``: a 1,000-point slice on a Dask LocalCluster (``--dask-local``) with 1 and with 2 workers.
* ``--driver-only [--code DIR]``: the runner alone at full scale: :func:`accel.app.sweep.run_sweep` on all 100,000
  points in this process with a serial executor and a *stub* evaluation (every row of the real table's columns,
  numbers derived from the point id; no mapping), timing the expansion, the 2,500 parts with their manifest
  records, and the final table, with peak memory.  ``--code`` imports accelsim from another checkout (e.g. the
  main branch, to compare the per-batch manifest rewrite with the journal).

Measured per run: wall time, points/s, CPU seconds of the driver and its (reaped) workers
(``resource.getrusage``), peak resident memory of the whole process tree (sum over the driver and its
workers, polled every 0.2 s with psutil) and the largest single process (``ru_maxrss``).  Results go to
``bench/results/sweep_scale_<points>.json`` (or ``dask_sweep_scale.json``); an existing file is kept unless
``--force``.  Timings on a shared machine are noisy: the load average is recorded with every run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "configs" / "sweeps" / "scale-100k.yaml"
WORKLOAD = "nb201-sample:20:0"
BATCH = 125  # the 5 GLB bandwidths x 5 DRAM bandwidths x 5 clocks that share each layer's mapping search
# (mapper.search.search_mapping_group) stay in one batch


def sliced_spec(n_points: int, dst: Path) -> Path:
    """``scale-100k.yaml`` restricted to ``n_points`` (100000, 5000 or 1000) points, written to ``dst``."""
    data = yaml.safe_load(SPEC.read_text())
    data["base"] = str((SPEC.parent / data["base"]).resolve())
    fixed = {"levels.GLB.read_bandwidth_bits": [128], "levels.spad.partitions_bytes.inputs": [24],
             ("bitwidths.weights", "bitwidths.inputs"): [[16, 16]]}
    if n_points in (5000, 1000):
        for par in data["parameters"]:
            key = tuple(par["path"]) if isinstance(par["path"], list) else par["path"]
            if key in fixed:
                par.pop("range", None)
                par["values"] = fixed[key]
    if n_points == 1000:  # 2 of the 10 PE arrays: 12x14 and 16x16 (the others' cost is in the 5,000 slice)
        data["parameters"][0]["values"] = [[12, 14], [16, 16]]
    elif n_points not in (5000, 100000):
        raise SystemExit(f"--points must be 1000, 5000 or 100000, got {n_points}")
    data["name"] = f"scale-{n_points}"
    dst.write_text(yaml.safe_dump(data, sort_keys=False))
    return dst


def _tree_rss(proc) -> int:
    import psutil

    try:
        p = psutil.Process(proc.pid)
        procs = [p, *p.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for q in procs:
        try:
            total += q.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def run_cli(args: list[str], log: Path, kill_when=None) -> dict:
    """Run ``python -m accel sweep ...`` and measure it; ``kill_when()`` -> True sends SIGKILL to its group."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "accel", "sweep", *args]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    peak, killed = 0, False
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True)
        while proc.poll() is None:
            peak = max(peak, _tree_rss(proc))
            if kill_when is not None and not killed and kill_when():
                os.killpg(proc.pid, signal.SIGKILL)
                killed = True
            time.sleep(0.2)
    wall = time.perf_counter() - t0
    if killed:  # the pool workers of a killed driver may outlive it for a moment; wait for the group
        for _ in range(50):
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = {"command": " ".join(["accelsim sweep", *args]), "rc": proc.returncode, "killed": killed,
           "wall_s": round(wall, 2), "cpu_s": round(ru.ru_utime + ru.ru_stime - ru0.ru_utime - ru0.ru_stime, 1),
           "peak_rss_tree_mb": round(peak / 2**20), "max_rss_single_process_mb": round(ru.ru_maxrss / 1024),
           "load_avg_1min_after": os.getloadavg()[0], "log_tail": log.read_text(errors="replace")[-600:]}
    if proc.returncode and not killed:
        raise SystemExit(f"{out['command']} failed (rc {proc.returncode}):\n{out['log_tail']}")
    return out


def journal_lines(out: Path) -> int:
    j = out.with_name(out.name + ".parts") / "journal.jsonl"
    try:
        return j.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def expansion_s(spec: Path) -> dict:
    """Driver-side expansion of the spec (validating every point), timed in this process."""
    sys.path.insert(0, str(ROOT))
    from accel.designspace import load_sweep

    t, c = time.perf_counter(), time.process_time()
    pts = load_sweep(spec).points()
    return {"points": len(pts), "expansion_s": round(time.perf_counter() - t, 2),
            "expansion_cpu_s": round(time.process_time() - c, 2)}


def driver_only(code: Path, batch: int = BATCH) -> dict:
    """run_sweep over the whole spec with a stub evaluation (see the module docstring)."""
    sys.path.insert(0, str(code))
    import accel.app.sweep as sm
    from accel.designspace import load_sweep

    def stub_rows(p, task):
        base = {"point": p.point, **p.params, "hw_digest": p.hw_digest, "area_mm2": p.area_mm2,
                "peak_macs_per_cycle": p.peak_macs_per_cycle}
        rows = []
        for k, w in enumerate(task.workloads):
            cyc = 1e6 + 997 * p.point + k
            r = {**base, "workload": w.label, "nb201_index": w.ref if w.kind == "nb201" else None, "status": "ok",
                 "reason": "", "macs": 10**8 + k, "params": 10**6 + k, "latency_cycles": cyc,
                 "latency_s": cyc / 2e8, "energy_pj": 3e8 + p.point}
            rows.append(sm._derive(r))
        return rows

    sm._point_rows = stub_rows
    work = Path(tempfile.mkdtemp(prefix="sweep-driver-"))
    sw = load_sweep(SPEC)
    t, c = time.perf_counter(), time.process_time()
    df = sm.run_sweep(sw, [WORKLOAD], work / "driver.parquet", executor=sm.SerialExecutor(), batch_size=batch)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    assert len(df) == 100000 * 20
    return {"mode": "driver-only (stub evaluation, serial executor, in-process)", "code": str(code),
            "points": 100000, "batch_size": batch, "rows": len(df), "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "table_mb": round(df.memory_usage(deep=True).sum() / 2**20), "load_avg_1min": os.getloadavg()[0]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=5000, help="1000, 5000 (default; a slice) or 100000 (the spec)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=BATCH, help=f"design points per batch (default {BATCH})")
    ap.add_argument("--kill-resume", action=argparse.BooleanOptionalAction, default=None,
                    help="also run the kill + resume check (default: on for slices, off for 100000)")
    ap.add_argument("--dask", action="store_true", help="Dask LocalCluster with 1 and 2 workers instead")
    ap.add_argument("--driver-only", action="store_true", help="the runner alone on 100,000 points (stub evaluation)")
    ap.add_argument("--code", type=Path, default=ROOT, help="with --driver-only: the accelsim checkout to import")
    ap.add_argument("--out", type=Path, default=None, help="results JSON (default bench/results/...)")
    ap.add_argument("--force", action="store_true", help="replace an existing results JSON")
    a = ap.parse_args(argv)
    if a.driver_only:
        res_path = a.out or ROOT / "bench" / "results" / "sweep_scale_driver.json"
        if res_path.exists() and not a.force:
            raise SystemExit(f"{res_path} exists; pass --force to replace it")
        r = driver_only(a.code.resolve(), a.batch_size)
        print(json.dumps(r), file=sys.stderr)
        res_path.write_text(json.dumps(r, indent=1) + "\n")
        return 0
    n = 1000 if a.dask and a.points == 5000 else a.points
    res_path = a.out or ROOT / "bench" / "results" / ("dask_sweep_scale.json" if a.dask else f"sweep_scale_{n}.json")
    if res_path.exists() and not a.force:
        raise SystemExit(f"{res_path} exists; pass --force to replace it")
    work = Path(tempfile.mkdtemp(prefix="sweep-scale-"))
    spec = sliced_spec(n, work / f"scale-{n}.yaml")
    report: dict = {"spec": str(SPEC.relative_to(ROOT)), "points": n, "workload": WORKLOAD, "batch_size": a.batch_size,
                    "cpus": os.cpu_count(), "load_avg_1min_before": os.getloadavg()[0],
                    "numba_cache_dir": os.environ.get("NUMBA_CACHE_DIR", "(default)"), "python": sys.executable}
    warm = sliced_spec(1000, work / "warm.yaml")
    wdata = yaml.safe_load(warm.read_text())
    wdata["parameters"] = wdata["parameters"][:1]
    wdata["parameters"][0]["values"] = [[12, 14]]
    warm.write_text(yaml.safe_dump(wdata, sort_keys=False))
    run_cli([str(warm), "--workload", WORKLOAD, "-o", str(work / "warm.parquet"), "--jobs", "1"], work / "warm.log")

    common = [str(spec), "--workload", WORKLOAD, "--batch-size", str(a.batch_size)]
    if a.dask:
        for workers in (1, 2):
            r = run_cli([*common, "-o", str(work / f"dask{workers}.parquet"), "--dask-local", "--jobs", str(workers)],
                        work / f"dask{workers}.log")
            r["points_per_s"] = round(n / r["wall_s"], 1)
            report[f"dask_{workers}_workers"] = r
            print(f"dask {workers} worker(s): {r['wall_s']} s, {r['points_per_s']} points/s", file=sys.stderr)
        report["speedup_2_vs_1"] = round(report["dask_1_workers"]["wall_s"] / report["dask_2_workers"]["wall_s"], 2)
    else:
        report.update(expansion_s(spec))
        r = run_cli([*common, "-o", str(work / "full.parquet"), "--jobs", str(a.jobs)], work / "full.log")
        r["points_per_s"] = round(n / r["wall_s"], 1)
        report["run"] = r
        print(f"{n} points x 20 NB201 cells: {r['wall_s']} s wall, {r['points_per_s']} points/s, {r['cpu_s']} CPU s, "
              f"peak RSS {r['peak_rss_tree_mb']} MB (tree)", file=sys.stderr)
        if n < 100000:
            full = expansion_s(SPEC)
            report["expansion_100k_s"] = full["expansion_s"]
            report["expansion_100k_cpu_s"] = full["expansion_cpu_s"]
            per_pt = (r["wall_s"] - report["expansion_s"]) / n
            report["extrapolated_100k_wall_s"] = round(full["expansion_s"] + per_pt * 100000)
            # on an idle machine: the driver expands the spec alone, then the workers' CPU time splits over jobs
            cpu_pt = (r["cpu_s"] - report["expansion_cpu_s"]) / n
            report["extrapolated_100k_wall_s_idle"] = round(full["expansion_cpu_s"] + cpu_pt * 100000 / a.jobs)
            report["extrapolation"] = ("not measured: 100,000-point wall time estimated (a) as the measured expansion "
                                       "of the whole spec plus (slice wall - slice expansion) x 100000 / slice points "
                                       "(at this run's load), (b) for an idle machine as the expansion's CPU time plus "
                                       "(slice CPU time - slice expansion CPU) x 100000 / slice points / jobs")
            print(f"extrapolated to 100,000 points: {report['extrapolated_100k_wall_s']} s at this load, "
                  f"{report['extrapolated_100k_wall_s_idle']} s on an idle machine (from CPU time)", file=sys.stderr)
        if a.kill_resume if a.kill_resume is not None else n < 100000:
            out2 = work / "killed.parquet"
            n_batches = -(-n // a.batch_size)
            k = run_cli([*common, "-o", str(out2), "--jobs", str(a.jobs)], work / "killed.log",
                        kill_when=lambda: journal_lines(out2) >= n_batches // 4)
            recorded = journal_lines(out2)
            res = run_cli([*common, "-o", str(out2), "--jobs", str(a.jobs)], work / "resumed.log")
            same = out2.read_bytes() == (work / "full.parquet").read_bytes()
            report["kill_resume"] = {"killed_run": k, "batches_recorded_at_kill": recorded, "batches": n_batches,
                                     "resume_run": res, "resumed_table_byte_identical": same}
            print(f"killed after {recorded}/{n_batches} batches ({k['wall_s']} s); resumed in {res['wall_s']} s; "
                  f"byte-identical table: {same}", file=sys.stderr)
            if not same:
                raise SystemExit("resumed table differs from the uninterrupted one")
    report["load_avg_1min_after"] = os.getloadavg()[0]
    res_path.parent.mkdir(parents=True, exist_ok=True)
    res_path.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {res_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
