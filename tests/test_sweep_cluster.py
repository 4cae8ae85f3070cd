"""A sweep on a real Dask cluster: a ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1
(as one would start them by hand or through dask-jobqueue), used through the CLI (``--scheduler``) and
through ``run_sweep(executor=client.get_executor())``; one worker is SIGKILLed mid-run and the table still
equals the serial one."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest
import yaml

from accel.app.sweep import SerialExecutor, run_sweep
from tests.conftest import ROOT

distributed = pytest.importorskip("distributed")

LAYER = "layer:conv K=32 C=32 P=8 Q=8 R=3 S=3"
HEAVY = "nb201-sample:40:0"  # ~0.1-0.2 s per design point: long enough for a kill to land mid-run
SPEC = {"version": 1, "name": "cluster", "base": str(ROOT / "configs" / "eyeriss.yaml"), "parameters": [
    {"path": ["pe_array.rows", "pe_array.cols"], "values": [[12, 14], [8, 8]]},
    {"path": "levels.GLB.size_bytes", "values": [27648, 55296, 110592, 221184]}]}  # 8 points
SPEC_KILL = {**SPEC, "name": "cluster-kill", "parameters": [
    {"path": ["pe_array.rows", "pe_array.cols"], "values": [[12, 14], [8, 8], [16, 16], [24, 14]]},
    {"path": "levels.GLB.size_bytes", "values": [13824, 27648, 41472, 55296, 82944, 110592, 165888, 221184]}]}
START_TIMEOUT_S = 60


def _wait_for(cond, what: str, procs, timeout_s: float = START_TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        dead = [p.args for p in procs if p.poll() is not None]
        if dead:
            raise RuntimeError(f"waiting for {what}: a cluster process exited: {dead[0]}")
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not happen within {timeout_s} s")


@pytest.fixture
def cluster(tmp_path):
    """Scheduler + two single-threaded workers (no nanny, so SIGKILL of a worker kills its only process);
    yields (address, {worker name: Popen}); everything is torn down afterwards."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    # the workers share this process's numba cache (NUMBA_CACHE_DIR if set, else __pycache__ next to the
    # sources), which the serial reference run below has filled, so they do not compile the kernels again
    dask = [sys.executable, "-m", "dask"]
    sched_file = tmp_path / "scheduler.json"
    procs: list[subprocess.Popen] = []
    logs = []

    def spawn(args, name):
        log = open(tmp_path / f"{name}.log", "wb")
        logs.append(log)
        p = subprocess.Popen(dask + args, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
        procs.append(p)
        return p

    try:
        spawn(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
               "--scheduler-file", str(sched_file)], "scheduler")
        addr = _wait_for(lambda: sched_file.exists() and sched_file.stat().st_size and
                         json.loads(sched_file.read_text())["address"], "the scheduler to start", procs)
        assert addr.startswith("tcp://127.0.0.1:")
        workers = {}
        for name in ("w0", "w1"):
            (tmp_path / name).mkdir()
            workers[name] = spawn(["worker", addr, "--name", name, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                                   "--host", "127.0.0.1", "--local-directory", str(tmp_path / name),
                                   "--death-timeout", "60"], name)
        with distributed.Client(addr, timeout="30s") as c:
            c.wait_for_workers(2, timeout=START_TIMEOUT_S)
        yield addr, workers
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        for log in logs:
            log.close()


def test_sweep_on_a_dask_cluster_survives_a_killed_worker(cluster, tmp_path):
    addr, workers = cluster
    spec = tmp_path / "cluster.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    ref = run_sweep(spec, [LAYER], tmp_path / "serial.parquet", executor=SerialExecutor(), batch_size=1)
    assert len(ref) == 8 and (ref.status == "ok").all()

    # 1. the command line against the running scheduler
    from accel.app.cli import main

    out = tmp_path / "cli.parquet"
    argv = ["sweep", str(spec), "--workload", LAYER, "-o", str(out), "--scheduler", addr, "--batch-size", "1"]
    assert main(argv) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(out), ref)

    # 2. the library with a distributed Client's executor; a watcher SIGKILLs a worker that has tasks assigned
    #    once the first part exists (polling, so the kill lands mid-run however fast the machine is)
    spec_kill = tmp_path / "cluster-kill.yaml"
    spec_kill.write_text(yaml.safe_dump(SPEC_KILL))
    ref_kill = run_sweep(spec_kill, [HEAVY], tmp_path / "serial-kill.parquet", executor=SerialExecutor(), batch_size=1)
    n_points = int(ref_kill["point"].nunique())
    out = tmp_path / "lib.parquet"
    parts = out.with_name(out.name + ".parts")
    killed = {}
    stop = threading.Event()

    with distributed.Client(addr, timeout="30s") as client:
        names = {a: w["name"] for a, w in client.scheduler_info()["workers"].items()}

        def watch():
            while not stop.is_set():
                done = len(list(parts.glob("part-*.parquet"))) if parts.exists() else 0
                if done:
                    busy = {names[a]: len(ks) for a, ks in client.processing().items() if a in names}
                    if any(busy.values()):
                        victim = max(sorted(busy), key=busy.get)
                        killed.update(name=victim, processing=busy[victim], done=done, total=n_points)
                        workers[victim].send_signal(signal.SIGKILL)
                        workers[victim].wait(timeout=10)
                        return
                time.sleep(0.005)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            df = run_sweep(spec_kill, [HEAVY], out, executor=client.get_executor(), batch_size=1)
        finally:
            stop.set()
            watcher.join(timeout=30)
        assert len(client.scheduler_info()["workers"]) == 1, killed
    # the kill landed mid-run, on a worker with tasks assigned (they are rescheduled on the other one)
    assert killed and killed["done"] < killed["total"] and killed["processing"] >= 1, killed
    assert workers[killed["name"]].returncode == -signal.SIGKILL
    assert not df.duplicated(["point", "workload"]).any()
    pd.testing.assert_frame_equal(df, ref_kill)
    pd.testing.assert_frame_equal(pd.read_parquet(out), ref_kill)
    assert not parts.exists()
