"""Device-model study (issue 14, part B): real CPU latencies of NAS networks vs the calibrated device model.

Not part of CI (the committed data took ~6 minutes of measuring plus a one-off ONNX export).  Two steps:

``measure`` — real latencies on this CPU (the committed run: every phase on 2026-11-30 21:34 UTC on the idle VM with
the command below, then its 2-thread phases again at 21:42 UTC with ``--phases torch:2,ort:2`` — in the first run the
second core was busy elsewhere on the host for stretches of a minute, visible as a 2-thread speed-up that came and
went; the protocol is in the metadata, a re-measurement nesting the one before)::

    nice -n -15 python bench/device_study.py measure --nb201 500 --others 102 --seed 0 --warmup 5 --repeats 11 \
        --repeats-all-threads 11 --budget-min 40 [--onnx-dir DIR] [--phases torch:2,ort:2]

* Networks: ``--nb201`` NAS-Bench-201 cells drawn uniformly without replacement
  (:func:`nas.registry.sample_architectures`, seed ``--seed``), built with ``prune=False`` (dead edges are
  executed, as PyTorch and onnxruntime execute them), and ``--others`` networks split evenly over the
  MBConv/OFA (``mbconv``), ``fbnet`` and ``darts`` spaces (same sampler and seed), each with the space's torch
  builder; BatchNorm statistics randomised (seed 1) so BN folding is exercised; batch 1, fp32.
* Runtimes: PyTorch eager (``torch.inference_mode``, ``torch.set_num_threads(t)``) and onnxruntime (the model
  exported with :func:`accel.nn.export_module_onnx`, ``ORT_ENABLE_ALL`` graph optimisations, sequential
  execution, ``intra_op_num_threads = t``, ``inter_op_num_threads = 1``); ``t`` = 1 and all cores.
* Protocol: each pass runs four phases, one per (runtime, threads), so the thread pools of torch and
  onnxruntime never compete; the 1-thread phases of both passes come first; a phase that would start after
  ``--budget-min`` minutes is skipped (recorded in the metadata).  In a phase every network gets ``--warmup``
  untimed calls (onnxruntime: in a fresh session), then ``--repeats`` (1 thread) or ``--repeats-all-threads``
  timed single calls (``time.perf_counter``); the latency is the **median** of the repeats.  The whole set is
  measured in **two separate passes**; the Spearman ρ between the passes is the test-retest ceiling.
  ``--phases torch:1`` re-measures only those phases (both passes) and keeps the other rows (recorded under
  ``remeasured`` in the metadata).  A network whose output the exporter folded to a constant (NB201 cells with no
  live path from the input) runs as the constant graph in onnxruntime (what onnxruntime executes) and in full in
  torch.  The 1-minute load average is recorded with every row (the machine is shared), and the machine
  description (lscpu, /sys cache) goes into the file's metadata.
* ``--allocator retain`` (default ``system``): the measuring process keeps freed memory
  (:func:`accel.app.measure.set_allocator`), so torch's per-call allocations of fresh activations cause no page
  faults whose number depends on the process's history (recorded as ``allocator`` in the protocol; ``--phases``
  refuses to mix rows of two settings).  The committed data: ``system``.
* Thread CPU time.  Every row records the median wall-clock time (``latency_s``) and the median CPU time of
  the calling thread (``thread_cpu_s``, ``time.thread_time``: user + system) of the same calls.  With one
  intra-op thread both runtimes execute the whole network on the calling thread, so on an otherwise idle core
  the two agree (within 1 %, ``contention`` below), while on this shared 2-core VM the wall clock also counts
  the time the thread waited for a core held by another process — ``nice -n -15`` does not prevent it (the other
  jobs run in other cgroups): the committed torch 1-thread rows of 13:25 UTC (load average 5.7–5.9) were
  2.1× (NB201) and 2.9× (other spaces) the wall-clock medians of the same networks re-timed at load 1.3 with the
  same protocol.  ``analyze`` therefore compares 1-thread rows by ``thread_cpu_s`` (``--statistic wall``: by
  wall clock; both are in the JSON: ``measured_statistic``, ``wall_clock``).  It does not remove the other
  processes' pressure on the core's caches and the shared L3 / memory bandwidth (``contention --busy 4``: wall
  clock 1.2–3.3×, thread CPU time 1.03–1.27× the idle figures), and it is no latency for the multi-thread rows
  (other threads' time is not counted): those stay wall clock.

``--study NAME`` (measure and analyze): another machine's study beside the committed one
(``device_measurements_NAME.csv.gz``, ``device_measurements_NAME_machine.json``, ``device_study_NAME.json``;
:func:`study_paths`).  The committed ``xeon`` study (2026-12-01, an Intel Xeon Firecracker guest, calibrated
afresh as ``configs/cpu-host-xeon.yaml``)::

    nice -n -15 accelsim calibrate --device cpu --runtime ort --runtime torch --runs 3 --name cpu-host-xeon \
        -o configs/cpu-host-xeon.yaml
    nice -n -15 python bench/device_study.py measure --study xeon --force --nb201 500 --others 102 --seed 0 --warmup 5 \
        --repeats 11 --repeats-all-threads 11 --budget-min 40
    python bench/device_study.py analyze --study xeon --hw configs/cpu-host-xeon.yaml --hw configs/cpu-host.yaml

Drift sentinels (``--sentinel-every N``, default 50; 0: none).  A shared or virtual machine changes speed between
minutes (the third study's KVM guest: the same networks 1.3–1.8× apart in thread CPU time a few minutes apart), so a
model calibrated at one moment and measurements made at another differ by the machine's drift as well as by the
model's error.  In every phase the eight probe networks of ``accelsim calibrate`` (:data:`SENTINELS`,
:mod:`accel.app.probes`) are timed in the phase's runtime and thread count (median of 11 calls after 3, both
statistics) before network 0, before every N-th network and after the last, into ``device_sentinels[_STUDY].csv.gz``
(``position``: the index of the next network; ``t_s``: seconds since the start; the network rows have ``t_s`` too).
``analyze`` turns them into a diagnostic (``drift_tracked`` in the JSON, one line per pair): at each position the
in-network scale the probes give right then (:func:`accel.app.probes.fit_network_scale` against the config's model
without its scale — what ``accelsim calibrate`` would have fitted at that moment), interpolated in the network index,
replaces the config's scale; its MAPE, ρ and τ are the model's error with a calibration made at the time of each
measurement, and ``pass_to_pass_normalised`` is the spread of the two passes once each is divided by its local scale.
It uses measurements of the study's time and is not a prediction: the targets are judged on the configs' own rows.
On the session-9 guest the machine's speed changed within seconds (lag-1 autocorrelation of the scale between
positions mostly below 0.5), faster than any calibration can follow, and this diagnostic came out worse than the
calibration made before the study.  ``--sentinel-each`` (default on) times :data:`SENTINEL_EACH` right before every
network instead (``sentinel_latency_s`` / ``sentinel_thread_cpu_s`` in the network's row); ``analyze`` then writes
``speed_normalised``: every measurement times (the sentinel's median over the pair) / (its sentinel), i.e. brought to
the machine's median speed during the study, with the test-retest, the floor and each config's model against it, and
the correlation of each network's pass-to-pass log ratio with its sentinel's (how much of the noise the sentinel saw).

``contention`` — the evidence for the thread-CPU-time statistic::

    nice -n -15 python bench/device_study.py contention --busy 4

times one NB201 and one MBConv network of the study (torch and onnxruntime, 1 thread, median of 15 calls,
wall and thread CPU time) alone and next to ``--busy`` busy-loop processes of the same niceness (equal-weight
competitors: what the other jobs' processes are, running in other cgroups, whatever this one's niceness; busy
loops at nice 0 in this process's cgroup do not slow a ``nice -n -15`` measurement).

``analyze`` costs, for onnxruntime, the network onnxruntime executes (:func:`ort_executed_network`: NB201 without
the ops on constant inputs the exporter folds, but with the additions of those constants into live sums, which
onnxruntime still runs — found with ``bench/ort_node_profile.py``; other spaces as built), for torch every edge.

``analyze`` — model vs measurement::

    python bench/device_study.py analyze --hw configs/cpu-host.yaml

For every (runtime, threads): test-retest ρ and τ (pass 1 vs pass 2), the ceiling they imply for a predictor
compared with the mean of the two passes (Spearman-Brown: sqrt(2r / (1 + r))), MACs' ρ and τ vs the mean of the
passes (the floor; MACs of the executed network: NB201 dead branches removed for onnxruntime, every edge for torch — and
MACs of every edge as ``macs_all_edges``; for onnxruntime the 14 NB201 cells whose output is a constant have no
layers and 0 MACs under ``prune=True``: :func:`nas.nb201.build_network`), the device model's Spearman ρ, Kendall τ, MAPE and median APE (uncorrected), and the fraction of
the floor-to-ceiling gap the model closes, written to ``bench/results/device_study.json``.  Also the few-shot
per-layer-type correction (``correction``, :func:`nas.latency_table.held_out_error`: the matrix of each network's
device-model latency summed per :func:`~nas.latency_table.layer_type`, of the network the runtime executes; fit on
10 networks, MAPE on the rest, 20 random splits, seed 0; MAPE before/after as mean, std, min, max over the splits)
and the mean over the splits of the held-out Spearman ρ before and after correction, for every subset (all, NB201
only, other spaces) and again without the constant-output NB201 cells (``correction_without_constant_networks``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accel.app.probes import PROBES  # noqa: E402  (standard library only at import time)
RESULTS = ROOT / "bench" / "results"


def study_paths(study: str) -> tuple[Path, Path, Path]:
    """(measurement table, machine description, analysis JSON) of a study: ``--study ""`` (the default) is the
    committed study of the AMD EPYC VM (``device_measurements.parquet``, ``device_measurements_machine.json``,
    ``device_study.json``); ``--study NAME`` keeps another machine's measurements beside it
    (``device_measurements_NAME.parquet`` etc.), so a study re-run on a new machine never mixes with or
    overwrites another machine's rows."""
    if study and not study.replace("-", "").replace("_", "").isalnum():
        raise SystemExit(f"--study: letters, digits, - and _ only, got {study!r}")
    suf = f"_{study}" if study else ""
    return (RESULTS / f"device_measurements{suf}.parquet", RESULTS / f"device_measurements{suf}_machine.json",
            RESULTS / f"device_study{suf}.json")
OTHER_SPACES = ("mbconv", "fbnet", "darts")
# the interleaved drift sentinels (``measure --sentinel-every``): the probe networks of accelsim calibrate
# (accel/app/probes.py, all eight), timed in the phase's runtime and thread count before every N-th network and at
# the end of each phase
SENTINELS = tuple(name for name, _, _ in PROBES)
SENTINEL_WARMUP, SENTINEL_REPEATS = 3, 11
# ``measure --sentinel-each``: this probe timed (same warm-up and repeats) right before every network: the machine's
# speed at the moment of each measurement
SENTINEL_EACH = "cifar-res-16"


def sentinel_path(study: str) -> Path:
    """The sentinel table of a study (``device_sentinels[_STUDY].csv.gz``, beside its measurement table)."""
    table = study_paths(study)[0]
    return table.with_name(table.name.replace("device_measurements", "device_sentinels")).with_suffix(".csv.gz")


def read_sentinels(study: str = "") -> pd.DataFrame | None:
    """The sentinel rows of a study, or None for a study measured without them."""
    path = sentinel_path(study)
    return pd.read_csv(path) if path.exists() else None


def sentinel_networks(tmp: Path, names=None) -> dict:
    """{probe name: (eval-mode torch module, input shape, exported ONNX path)} of ``names`` (default
    :data:`SENTINELS`)."""
    from accel.app.probes import build_probe
    from accel.nn import export_module_onnx

    out = {}
    for name, shape, blocks in PROBES:
        if name in (SENTINELS if names is None else names):
            module = build_probe(blocks, shape[0])
            out[name] = (module, (1, *shape), export_module_onnx(module, (1, *shape), tmp / f"sentinel-{name}.onnx"))
    return out


def machine_description() -> dict:
    """lscpu, /sys cache hierarchy, kernel, library versions."""
    from accel.app.calibrate import describe_machine

    return describe_machine()


def network_specs(n_nb201: int, n_others: int, seed: int) -> list[tuple[str, str]]:
    """(space, encoding) of every network of the study."""
    from nas.registry import sample_specs

    out = [("nb201", s.split(":", 1)[1]) for s in sample_specs("nb201", n_nb201, seed)]
    per = [n_others // len(OTHER_SPACES) + (i < n_others % len(OTHER_SPACES)) for i in range(len(OTHER_SPACES))]
    for sp, k in zip(OTHER_SPACES, per):
        out += [(sp, s.split(":", 1)[1]) for s in (sample_specs(sp, k, seed) if k else [])]
    return out


def torch_model(space: str, enc: str):
    """(eval-mode torch module, input shape) with every NB201 edge built (``prune=False``)."""
    import torch

    from accel.app.xcheck_models import _randomise_bn
    from nas.registry import SPACES

    sp = SPACES[space]()
    arch = sp.decode(enc)
    torch.manual_seed(0)
    model = sp.build_torch(arch, prune=False) if space.startswith("nb201") else sp.build_torch(arch)
    return _randomise_bn(model).eval(), sp.input_shape(arch, 1)


def accelsim_network(space: str, enc: str, prune: bool = False):
    """The accelsim network the models cost: NB201 with every edge (``prune=False``), as PyTorch executes the
    measured model; ``prune=True`` for onnxruntime, whose exported graph has no dead branch (the exporter folds
    ops on constant zero inputs and drops ops whose results are unused)."""
    from nas import nb201
    from nas.registry import SPACES

    sp = SPACES[space]()
    arch = sp.decode(enc)
    if space.startswith("nb201"):
        return nb201.build_network(arch, sp.dataset, 1, prune=prune)
    return sp.build_network(arch, batch=1)


def ort_executed_network(space: str, enc: str):
    """The network onnxruntime executes.  NB201: every edge built (``prune=False``) minus the layers computed
    from constants only — ops on identically-zero nodes, which the exporter's constant folding evaluates — and
    minus the layers no output depends on (the exporter drops them); the additions of such constants into live
    sums stay, as ONNX constant folding cannot fold an Add with a live input (``bench/ort_node_profile.py``:
    NB201 net 128 runs 30 Adds, 2 per cell, where ``prune=True`` keeps none).  A cell whose output is constant
    leaves no layer (as ``prune=True``).  Other spaces: the network as built."""
    import networkx as nx

    from accel.workload import Network

    if not space.startswith("nb201"):
        return accelsim_network(space, enc)
    full = accelsim_network(space, enc, prune=False)
    g, order = full.graph, full.layers
    stem = order[0].name  # the only layer that reads the network input (nas.nb201.build_network)
    const: dict[str, bool] = {}
    for layer in order:  # topological: a layer with no producer (other than the stem) reads a constant
        const[layer.name] = layer.name != stem and all(const[p] for p in g.predecessors(layer.name))
    out = order[-1].name  # the classifier
    keep = set() if const[out] else {n for n in nx.ancestors(g, out) | {out} if not const[n]}
    return Network(full.name, g.subgraph(keep).copy(), full.input_shape)


def _time_calls(fn, warmup: int, repeats: int) -> tuple[float, float, float, float]:
    """(median wall-clock seconds, median CPU seconds of the calling thread, and the minimum of each) of
    ``repeats`` calls after ``warmup`` untimed ones (the minimum: noise only adds time, as the calibration's
    best-of-N micro-benchmarks).  With one intra-op thread both runtimes execute the whole network on the calling
    thread, so its CPU time (``time.thread_time``: user + system) is the latency without the time the thread
    waited for a core that another process held (module docstring, "Thread CPU time")."""
    for _ in range(warmup):
        fn()
    ts, cs = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.thread_time()
        fn()
        cs.append(time.thread_time() - c0)
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)), float(np.median(cs)), float(np.min(ts)), float(np.min(cs))


def _ort_session(path, threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def measure(args) -> None:
    """Export every network once (``--onnx-dir``: reuse an earlier export of the same sample), then for each pass
    and each (runtime, threads) configuration time every network (configurations in separate phases, so the
    thread pools of torch and onnxruntime never compete); the table is rewritten after every phase."""
    import onnxruntime as ort
    import torch

    from accel.app.measure import set_allocator
    from accel.nn import export_module_onnx

    table = study_paths(args.study)[0]
    if args.sentinel_every < 0:
        raise SystemExit(f"--sentinel-every: a number of networks >= 0 (0: none), got {args.sentinel_every}")
    if not args.phases and not args.force and (table.exists() or table.with_suffix(".csv.gz").exists()):
        raise SystemExit(f"{table.with_suffix('.csv.gz')} exists: use --force to measure it again, --phases to "
                         "re-measure some phases, or --study NAME for another machine")
    allocator = set_allocator(args.allocator)  # before anything is allocated for the runs
    specs = network_specs(args.nb201, args.others, args.seed)
    cores = os.cpu_count() or 1
    threads = sorted({1, cores})
    tmp = Path(args.onnx_dir) if args.onnx_dir else Path(tempfile.mkdtemp(prefix="device-study-"))
    rows, sent_rows = [], []
    t_start = time.time()
    onnx_paths = {}
    for i, (sp, enc) in enumerate(specs):
        path = tmp / f"n{i}.onnx"
        if not path.exists():
            model, shape = torch_model(sp, enc)
            export_module_onnx(model, shape, path)
        onnx_paths[i] = path
        if i % 100 == 0:
            print(f"export {i}/{len(specs)} {time.time() - t_start:.0f}s", flush=True)
    t_export = time.time() - t_start
    models = {}
    for i, (sp, enc) in enumerate(specs):
        model, shape = torch_model(sp, enc)
        models[i] = (model, torch.randn(*shape, generator=torch.Generator().manual_seed(0)))
    sentinels = sentinel_networks(tmp, set(SENTINELS if args.sentinel_every else ())
                                  | ({SENTINEL_EACH} if args.sentinel_each else set()))
    sentinel_inputs = {k: torch.randn(*shape, generator=torch.Generator().manual_seed(0))
                       for k, (_, shape, _) in sentinels.items()}
    meta = {"machine": machine_description(), "protocol": {
        "warmup_calls": args.warmup, "repeats_1_thread": args.repeats,
        "repeats_all_threads": args.repeats_all_threads, "budget_min": args.budget_min, "statistic": ("median of repeats (latency_s: wall clock; thread_cpu_s: CPU time of the calling thread); "
                      "latency_min_s / thread_cpu_min_s: the minimum of the same repeats"), "passes": 2,
        "threads": threads, "seed": args.seed, "nb201_prune": False, "batch": 1, "dtype": "fp32",
        "nice": os.nice(0), "torch": torch.__version__, "onnxruntime": ort.__version__,
        "order": "pass -> (runtime, threads) phase -> network", "export_s": round(t_export, 1),
        "allocator_mode": args.allocator, "allocator": allocator,
        "sentinels": ({"probes": list(SENTINELS), "every_networks": args.sentinel_every, "warmup_calls": SENTINEL_WARMUP,
                       "repeats": SENTINEL_REPEATS, "table": sentinel_path(args.study).name,
                       "what": "the probes timed in the phase's runtime and threads before network 0, every "
                               "--sentinel-every networks and after the last (position = the next network's index)"}
                      if args.sentinel_every else None),
        "sentinel_each": ({"probe": SENTINEL_EACH, "warmup_calls": SENTINEL_WARMUP, "repeats": SENTINEL_REPEATS,
                           "what": "timed right before every network in the same phase: sentinel_latency_s, "
                                   "sentinel_thread_cpu_s (medians) in the network's row"}
                          if args.sentinel_each else None)}}
    RESULTS.mkdir(parents=True, exist_ok=True)
    # 1-thread phases of both passes first, then the all-thread phases (on a shared machine these are slow): a
    # phase that would start after --budget-min minutes is skipped and recorded as such
    phases = [(pas, rt, t) for t in threads for pas in (1, 2) for rt in ("torch", "ort")]
    if args.phases:  # re-measure only these (runtime:threads) phases; the other rows of the table are kept
        keep = {tuple(p.split(":")) for p in args.phases.split(",")}
        phases = [(pas, rt, t) for pas, rt, t in phases if (rt, str(t)) in keep]
        old = read_measurements(args.study)
        old = old[[(rt, str(t)) not in keep for rt, t in zip(old.runtime, old.threads)]]
        rows = old.rename(columns={"pass": "pass_"}).to_dict("records")
        old_sent = read_sentinels(args.study)
        if old_sent is not None:
            sent_rows = old_sent[[(rt, str(t)) not in keep for rt, t in zip(old_sent.runtime, old_sent.threads)]
                                 ].rename(columns={"pass": "pass_"}).to_dict("records")
        prev = json.loads(study_paths(args.study)[1].read_text())["protocol"]
        if prev.get("allocator_mode", "system") != args.allocator:  # never mix rows of two allocator settings
            raise SystemExit(f"--phases: the kept rows were measured with --allocator "
                             f"{prev.get('allocator_mode', 'system')}; re-measure every phase, or pass that setting")
        meta["protocol"]["remeasured"] = {"phases": args.phases, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                          "previous_protocol": prev}
    skipped = []

    def time_probe(name, rt, sessions):
        module, x = sentinels[name][0], sentinel_inputs[name]
        if rt == "torch":
            with torch.inference_mode():
                return _time_calls(lambda: module(x), SENTINEL_WARMUP, SENTINEL_REPEATS)
        sess = sessions[name]
        feed = {sess.get_inputs()[0].name: x.numpy()}
        return _time_calls(lambda: sess.run(None, feed), SENTINEL_WARMUP, SENTINEL_REPEATS)

    def time_sentinels(pas, rt, t, position, sessions):
        for name in SENTINELS:
            lat, cpu, lat_min, cpu_min = time_probe(name, rt, sessions)
            sent_rows.append(dict(probe=name, runtime=rt, threads=t, pass_=pas, position=position,
                                  t_s=round(time.time() - t_start, 2), latency_s=lat, thread_cpu_s=cpu,
                                  latency_min_s=lat_min, thread_cpu_min_s=cpu_min))

    for pas, rt, t in phases:
        if time.time() - t_start > 60 * args.budget_min:
            skipped.append(f"pass {pas} {rt} {t}t")
            continue
        reps = args.repeats if t == 1 else args.repeats_all_threads
        t_phase = time.time()
        torch.set_num_threads(t)
        sessions = ({k: _ort_session(path, t) for k, (_, _, path) in sentinels.items()} if rt == "ort" else {})
        for i, (sp, enc) in enumerate(specs):
            if args.sentinel_every and i % args.sentinel_every == 0:
                time_sentinels(pas, rt, t, i, sessions)
            each = time_probe(SENTINEL_EACH, rt, sessions) if args.sentinel_each else (np.nan,) * 4
            if rt == "torch":
                model, x = models[i]
                with torch.inference_mode():
                    lat, cpu, lat_min, cpu_min = _time_calls(lambda: model(x), args.warmup, reps)
            else:
                sess = _ort_session(onnx_paths[i], t)
                ins = sess.get_inputs()  # none when the exporter folded a constant network (dead cells)
                feed = {ins[0].name: models[i][1].numpy()} if ins else {}
                lat, cpu, lat_min, cpu_min = _time_calls(lambda: sess.run(None, feed), args.warmup, reps)
                del sess
            rows.append(dict(net=i, space=sp, arch=enc, runtime=rt, threads=t, pass_=pas, latency_s=lat,
                             thread_cpu_s=cpu, latency_min_s=lat_min, thread_cpu_min_s=cpu_min,
                             repeats=reps, warmup=args.warmup, loadavg_1min=os.getloadavg()[0],
                             t_s=round(time.time() - t_start, 2), sentinel_latency_s=each[0],
                             sentinel_thread_cpu_s=each[1]))
        if args.sentinel_every:
            time_sentinels(pas, rt, t, len(specs), sessions)
        print(f"pass {pas} {rt} {t}t: {time.time() - t_phase:.0f}s load {os.getloadavg()[0]:.1f}", flush=True)
        meta["protocol"]["skipped_phases"] = skipped
        _write(rows, sent_rows, meta, t_start, args.study)
    meta["protocol"]["skipped_phases"] = skipped
    _write(rows, sent_rows, meta, t_start, args.study)
    print(f"wrote {study_paths(args.study)[0]} ({len(rows)} rows) in {time.time() - t_start:.0f}s")


def contention(args) -> None:
    """Wall clock vs thread CPU time of two networks of the study (net 0, NB201; net 500, MBConv), torch and
    onnxruntime on 1 thread, alone and next to ``--busy`` busy-loop processes of the same niceness (module
    docstring)."""
    import torch

    from accel.nn import export_module_onnx

    specs = network_specs(500, 102, 0)
    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix="device-study-contention-"))
    cases = []
    for i in (0, 500):
        model, shape = torch_model(*specs[i])
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
        sess = _ort_session(export_module_onnx(model, shape, tmp / f"n{i}.onnx"), 1)
        feed = {sess.get_inputs()[0].name: x.numpy()}
        cases += [(f"torch net {i} ({specs[i][0]})", lambda m=model, x=x: m(x)),
                  (f"ort net {i} ({specs[i][0]})", lambda s=sess, f=feed: s.run(None, f))]
    print(f"nice {os.nice(0)}; median of {args.calls} calls after 1 warm-up; wall / thread CPU ms")
    with torch.inference_mode():
        for busy in (0, args.busy):
            # the loops inherit this process's niceness: equal-weight competitors, which is what the jobs of other
            # cgroups are to the scheduler whatever the niceness (a nice-0 loop in this cgroup would not compete)
            procs = [subprocess.Popen(["sh", "-c", "while :; do :; done"]) for _ in range(busy)]
            time.sleep(0.5)
            try:
                for name, fn in cases:
                    wall, cpu, _, _ = _time_calls(fn, 1, args.calls)
                    print(f"  busy loops {busy}: {name:24s} wall {wall * 1e3:8.2f}  thread CPU {cpu * 1e3:8.2f}  "
                          f"load {os.getloadavg()[0]:.1f}", flush=True)
            finally:
                for pr in procs:
                    pr.kill()
                    pr.wait()


def read_measurements(study: str = "") -> pd.DataFrame:
    """The measurement table of a study (:func:`study_paths`; the Parquet file is git-ignored, repo convention;
    the committed copy is the gzipped CSV); rows measured before ``thread_cpu_s`` was recorded have it NaN."""
    path = study_paths(study)[0]
    tab = pd.read_parquet(path) if path.exists() else pd.read_csv(path.with_suffix(".csv.gz"))
    if "thread_cpu_s" not in tab.columns:
        tab["thread_cpu_s"] = np.nan
    return tab


def _write(rows, sent_rows, meta, t_start, study: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    df = pd.DataFrame(rows).rename(columns={"pass_": "pass"})
    meta = {**meta, "protocol": {**meta["protocol"], "wall_s": round(time.time() - t_start, 1)}}
    table = pa.Table.from_pandas(df, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"accelsim_meta": json.dumps(meta).encode()})
    path, machine, _ = study_paths(study)
    pq.write_table(table, path)
    df.to_csv(path.with_suffix(".csv.gz"), index=False)
    if sent_rows:
        pd.DataFrame(sent_rows).rename(columns={"pass_": "pass"}).to_csv(sentinel_path(study), index=False)
    machine.write_text(json.dumps(meta, indent=1) + "\n")


RUNTIME_PROFILE = {"ort": "onnxruntime", "torch": "torch"}
# execution semantics: PyTorch eager runs every edge; the ONNX graph onnxruntime runs has no dead branch (the
# exporter folds the ops on constant inputs; the additions of the folded constants stay: ort_executed_network)
RUNTIME_PRUNES = {"ort": True, "torch": False}
# the few-shot correction protocol of issue 14: fit on 10 networks, MAPE on the rest, 20 random splits, seed 0
CORRECTION_K, CORRECTION_SPLITS, CORRECTION_SEED = 10, 20, 0


def _rank_stats(pred, meas) -> dict:
    from scipy.stats import kendalltau, spearmanr

    pred, meas = np.asarray(pred, float), np.asarray(meas, float)
    return {"spearman": float(spearmanr(pred, meas)[0]), "kendall": float(kendalltau(pred, meas)[0])}


def _correction_stats(totals: dict, idx, meas: pd.Series) -> dict:
    """The few-shot per-layer-type correction (:func:`nas.latency_table.held_out_error`: fit on
    ``CORRECTION_K`` networks, MAPE on the rest, ``CORRECTION_SPLITS`` random splits, seed ``CORRECTION_SEED``)
    on the networks ``idx``; ``totals[i]``: network i's predicted latency summed per layer type.  Also the
    Spearman ρ of the corrected predictions vs the measurement on the held-out networks, mean over the same
    splits (the split draws of ``held_out_error`` replayed, each fitted with the one
    :func:`~nas.latency_table.fit_type_correction`)."""
    from scipy.stats import spearmanr

    from nas.latency_table import HeldOutError, fit_type_correction, held_out_error

    types = sorted({t for i in idx for t in totals[i]})
    T = np.array([[totals[i].get(t, 0.0) for t in types] for i in idx], dtype=float)
    y = meas.loc[idx].to_numpy(float)
    # the runtime's per-call cost is measured by calibrate, not modelled: kept, not scaled by the fit
    fixed = [t for t in types if t == "inference_call"]
    h = held_out_error(T, types, y, k=CORRECTION_K, splits=CORRECTION_SPLITS, seed=CORRECTION_SEED, fixed=fixed)
    rng = np.random.Generator(np.random.PCG64(CORRECTION_SEED))  # the draws held_out_error made
    rho_before, rho_after = [], []
    for s in range(CORRECTION_SPLITS):
        perm = rng.permutation(len(y))
        train, test = perm[:CORRECTION_K], perm[CORRECTION_K:]
        pred = fit_type_correction(T[train], types, y[train], fixed=fixed).predict_matrix(T[test], types)
        after_pct = 100.0 * float(np.mean(np.abs(pred / y[test] - 1.0)))
        if not np.isclose(after_pct, h.mape_after_pct[s]):  # the replay must be held_out_error's split
            raise RuntimeError(f"split {s}: replayed MAPE {after_pct} != held_out_error's {h.mape_after_pct[s]}")
        rho_before.append(spearmanr(T[test].sum(axis=1), y[test])[0])
        rho_after.append(spearmanr(pred, y[test])[0])
    out = h.to_dict()
    out["layer_types"] = types
    out["fixed_types"] = fixed
    out["spearman_held_out_before"] = HeldOutError._stats(np.array(rho_before, float))
    out["spearman_held_out_after"] = HeldOutError._stats(np.array(rho_after, float))
    return out


def _spearman_brown_ceiling(r: float) -> float:
    """The highest correlation any predictor can reach with the mean of two passes whose correlation with each
    other is ``r``: sqrt(2r / (1 + r)) (Spearman-Brown); 0 for r <= 0, NaN for NaN."""
    if np.isnan(r):
        return float("nan")
    return float(np.sqrt(2 * r / (1 + r))) if r > 0 else 0.0


def _lag1(x: np.ndarray) -> float:
    """Pearson correlation of consecutive values (NaN for fewer than 3 values or a constant series)."""
    if len(x) < 3 or np.std(x[:-1]) == 0 or np.std(x[1:]) == 0:
        return float("nan")
    return float(np.corrcoef(x[:-1], x[1:])[0, 1])


def _drift_tracked(sent: pd.DataFrame, probe_nets: dict, dev, wide: pd.DataFrame, nw: dict, spaces: pd.Series,
                   stat: str) -> dict:
    """The drift diagnostic of one (runtime, threads) pair (module docstring, "Drift sentinels"): the in-network
    scale the sentinel probes give at each sentinel position of each pass (:func:`accel.app.probes.fit_network_scale`
    on the probes timed there against ``dev``'s model without its scale: what ``accelsim calibrate`` would have fitted
    at that moment), interpolated linearly in the network index; each network's prediction = per-call overhead +
    local scale × (chain-built prediction − per-call overhead), per pass, averaged over the passes and compared with
    the mean of the passes (``wide``: network × pass, statistic ``stat``).  Not a prediction: it uses
    measurements made during the study.  It splits the model's error into what a calibration made at the same time
    would leave (the model's own) and the machine's drift between a calibration and the measurement."""
    from accel.app.probes import ProbeTiming, fit_network_scale
    from accel.device import DeviceModel

    model = DeviceModel(dev.without_network_scale())
    probe_res = {k: model.network(n) for k, n in probe_nets.items()}
    chain = {i: model.network(nw[i]) for i in wide.index}
    out = {"sentinel_scale": {}}
    preds, scales = {}, {}
    for pas in wide.columns:
        g = sent[sent["pass"] == pas]
        pos, sc = [], []
        for position, gp in g.groupby("position"):
            timings = [ProbeTiming(r.probe, 1, float(getattr(r, stat)),
                                   probe_res[r.probe].latency_s - probe_res[r.probe].inference_overhead_s,
                                   probe_res[r.probe].inference_overhead_s) for r in gp.itertuples()]
            pos.append(int(position))
            sc.append(fit_network_scale(timings)["one_thread"])
        if not pos:
            return {}
        scales[pas] = pd.Series(np.interp(wide.index.to_numpy(float), pos, sc), index=wide.index)
        preds[pas] = pd.Series({i: chain[i].inference_overhead_s + scales[pas][i] * (chain[i].latency_s
                                                                                   - chain[i].inference_overhead_s)
                                for i in wide.index})
        arr = np.asarray(sc)
        out["sentinel_scale"][f"pass{pas}"] = {"min": float(arr.min()), "median": float(np.median(arr)),
                                               "max": float(arr.max()), "max_over_min": float(arr.max() / arr.min()),
                                               "n_positions": len(pos),
                                               # does the machine's speed persist from one position to the next?
                                               "lag1_autocorrelation_log": _lag1(np.log(arr))}
    pred = pd.concat(preds, axis=1).mean(axis=1)
    meas = wide.mean(axis=1)
    for subset, idx in (("all", wide.index), ("nb201", wide.index[spaces.loc[wide.index] == "nb201"]),
                        ("other_spaces", wide.index[spaces.loc[wide.index] != "nb201"])):
        if len(idx) < 3:
            continue
        ape = (pred[idx] - meas[idx]).abs() / meas[idx]
        e = {"n": int(len(idx)), "model": _rank_stats(pred[idx], meas[idx]), "mape": float(ape.mean()),
             "median_ape": float(ape.median()), "bias_pred_over_meas_median": float((pred[idx] / meas[idx]).median())}
        if len(scales) == 2:  # each pass's scaled part over its local scale: the spread without the drift
            p1, p2 = wide.columns[:2]
            call = pd.Series({i: chain[i].inference_overhead_s for i in idx})
            n1, n2 = (call + (wide.loc[idx, p] - call) / scales[p][idx] for p in (p1, p2))
            e["pass_to_pass_normalised"] = {"mean_abs_pct": float(100 * (n1 / n2 - 1).abs().mean()),
                                            "test_retest": _rank_stats(n1, n2)}
        out[subset] = e
    return out


def _speed_normalised(g: pd.DataFrame, wide: pd.DataFrame, pred: pd.Series, floor: pd.Series, stat: str) -> dict:
    """The speed-normalised diagnostic of one (runtime, threads) pair (module docstring, "Drift sentinels"): each
    network's measurement in each pass times ref / sentinel, where sentinel is :data:`SENTINEL_EACH` timed right
    before it (the same statistic: thread CPU or wall clock) and ref that sentinel's median over the pair's rows —
    every measurement brought to the machine's median speed during the study.  Test-retest, pass-to-pass spread, the
    floor (``floor``: MACs) and the model (``pred``) against the normalised mean of the passes.  Not a prediction."""
    col = "sentinel_thread_cpu_s" if stat.startswith("thread_cpu") else "sentinel_latency_s"
    sw = g.pivot(index="net", columns="pass", values=col).loc[wide.index, wide.columns]
    ref = float(np.nanmedian(sw.to_numpy()))
    norm = wide * ref / sw
    meas = norm.mean(axis=1)
    ape = (pred[meas.index] - meas).abs() / meas
    out = {"sentinel_ms": {"min": float(np.nanmin(sw.to_numpy()) * 1e3), "median": ref * 1e3,
                           "max": float(np.nanmax(sw.to_numpy()) * 1e3)},
           "model": _rank_stats(pred[meas.index], meas), "macs": _rank_stats(floor[meas.index], meas),
           "mape": float(ape.mean()), "bias_pred_over_meas_median": float((pred[meas.index] / meas).median())}
    if norm.shape[1] == 2:
        p1, p2 = norm.columns
        out["test_retest"] = _rank_stats(norm[p1], norm[p2])
        out["pass_to_pass_mean_abs_pct"] = float(100 * (norm[p1] / norm[p2] - 1).abs().mean())
        # how much of a network's pass-to-pass change the sentinel saw: corr of the log ratios
        out["corr_log_ratio_network_vs_sentinel"] = float(np.corrcoef(np.log(wide[p1] / wide[p2]),
                                                                      np.log(sw[p1] / sw[p2]))[0, 1])
    return out


def analyze(args) -> None:
    from accel.app.output import check_output, write_text
    from accel.arch import load_arch
    from accel.device import DeviceModel
    from nas.latency_table import type_totals

    path, machine, default_out = study_paths(args.study)
    args.o = args.o or str(default_out)
    check_output(args.o, args.force)
    tab = read_measurements(args.study)
    meta = json.loads(machine.read_text())
    nets = tab.drop_duplicates("net").set_index("net")[["space", "arch"]]
    t0 = time.time()
    networks = {i: accelsim_network(r.space, r.arch) for i, r in nets.iterrows()}
    pruned = {i: accelsim_network(r.space, r.arch, prune=True) for i, r in nets.iterrows()}
    macs_pruned = pd.Series({i: n.macs for i, n in pruned.items()})
    # what onnxruntime executes (the pruned MACs, plus the additions of folded constants: ort_executed_network)
    executed = {i: ort_executed_network(r.space, r.arch) for i, r in nets.iterrows()}
    macs = pd.Series({i: n.macs for i, n in networks.items()})
    # NB201 cells with no live input->output path: the network's output is a constant; the ONNX exporter folds it
    # and onnxruntime runs (almost) nothing, while torch executes every op
    from nas import nb201

    const = pd.Series({i: r.space == "nb201" and nb201.output_is_constant(nb201.parse_arch(r.arch))
                       for i, r in nets.iterrows()})
    hws = args.hw or [str(ROOT / "configs" / "cpu-host.yaml")]
    out = {"measurements": str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path), "study": args.study, "machine": meta["machine"], "protocol": meta["protocol"],
           "n_networks": int(len(nets)), "per_space": nets["space"].value_counts().to_dict(),
           "loadavg_1min": {"min": float(tab.loadavg_1min.min()), "median": float(tab.loadavg_1min.median()),
                            "max": float(tab.loadavg_1min.max())},
           "results": {}}
    # each config as given, and a config with an in-network scale also without it (the chain-built model: ablation)
    configs = []
    for hw in hws:
        dev = load_arch(hw)
        configs.append((Path(hw).name, dev))
        if any(p.network_scale is not None for p in dev.config.runtimes.values()):
            configs.append((f"{Path(hw).name} without network_scale", dev.without_network_scale()))
    sent = read_sentinels(args.study)
    probe_nets = {}
    if sent is not None:  # the sentinels as accelsim costs them: exported and re-imported, as calibrate does
        from accel.onnx_import import load_onnx_network

        tmp = Path(tempfile.mkdtemp(prefix="device-study-sentinels-"))
        probe_nets = {k: load_onnx_network(path) for k, (_, _, path) in sentinel_networks(tmp).items()}
        out["drift_tracked"] = {}
    for label, base in configs:
        res_hw = {}
        for (rt, th), g in tab.groupby(["runtime", "threads"]):
            dev = base.with_runtime(RUNTIME_PROFILE[rt]).with_threads(int(th))
            model = DeviceModel(dev)
            # 1 thread: the calling thread's CPU time when recorded (module docstring, "Thread CPU time")
            use_cpu = args.statistic in ("auto", "min") and int(th) == 1 and bool(g["thread_cpu_s"].notna().all())
            stat = "thread_cpu_s" if use_cpu else "latency_s"
            if args.statistic == "min":  # the fastest of the repeats (rows measured since 2026-12-01 have it)
                stat = stat.replace("_s", "_min_s")
                if stat not in g.columns or not bool(g[stat].notna().all()):
                    raise SystemExit(f"--statistic min: the {rt} {th}-thread rows have no {stat} (measured before "
                                     "the minimum was recorded); re-measure, or use auto / wall")
            wide = g.pivot(index="net", columns="pass", values=stat)
            meas = wide.mean(axis=1)
            wall = g.pivot(index="net", columns="pass", values="latency_s").mean(axis=1)
            nw = executed if RUNTIME_PRUNES[rt] else networks
            results = {i: model.network(nw[i]) for i in wide.index}
            pred = pd.Series({i: r.latency_s for i, r in results.items()})
            # the correction's table-latency matrix: the device model's per-layer latency summed per layer type
            # (and the runtime's per-call cost as one more column, "inference_call", when the profile has one)
            totals = {i: {**type_totals((lr.layer, lr.cost.latency_s) for lr in r.layers),
                          **({"inference_call": r.inference_overhead_s} if r.inference_overhead_s > 0 else {})}
                      for i, r in results.items()}
            if g.get("sentinel_latency_s") is not None and g["sentinel_latency_s"].notna().all():
                out.setdefault("speed_normalised", {}).setdefault(label, {})[f"{rt}/{th}t"] = _speed_normalised(
                    g, wide, pred, macs_pruned if RUNTIME_PRUNES[rt] else macs, stat)
            if sent is not None and not label.endswith("without network_scale"):
                g_sent = sent[(sent.runtime == rt) & (sent.threads == th)]
                if len(g_sent):
                    out["drift_tracked"].setdefault(label, {})[f"{rt}/{th}t"] = _drift_tracked(
                        g_sent, probe_nets, dev, wide, nw, nets["space"], stat)
            entry = {}
            for subset, idx in (("all", wide.index), ("nb201", wide.index[nets.loc[wide.index, "space"] == "nb201"]),
                                ("other_spaces", wide.index[nets.loc[wide.index, "space"] != "nb201"]),
                                *((sp, wide.index[nets.loc[wide.index, "space"] == sp]) for sp in OTHER_SPACES)):
                if len(idx) < 3:
                    continue
                ceil_ = (_rank_stats(wide.loc[idx, 1], wide.loc[idx, 2]) if 2 in wide.columns
                         else {"spearman": float("nan"), "kendall": float("nan")})
                # the floor: MACs of the network the runtime executes (pruned for onnxruntime); MACs of every edge too
                floor_ = _rank_stats((macs_pruned if RUNTIME_PRUNES[rt] else macs)[idx], meas[idx])
                floor_all_edges = _rank_stats(macs[idx], meas[idx])
                mod = _rank_stats(pred[idx], meas[idx])
                ape = (pred[idx] - meas[idx]).abs() / meas[idx]
                live = [i for i in idx if not const[i]]
                e = {"n": int(len(idx)), "measured_statistic": stat, "test_retest": ceil_, "macs": floor_,
                     "macs_all_edges": floor_all_edges, "model": mod, "network_pruned": RUNTIME_PRUNES[rt],
                     "mape": float(ape.mean()), "median_ape": float(ape.median()),
                     "mape_without_constant_networks": float(ape[live].mean()), "n_constant_networks": len(idx) - len(live),
                     "bias_pred_over_meas_median": float((pred[idx] / meas[idx]).median()),
                     "measured_ms": {"min": float(meas[idx].min() * 1e3), "median": float(meas[idx].median() * 1e3),
                                     "max": float(meas[idx].max() * 1e3)}}
                if 2 in wide.columns:  # how far the two passes of the same networks are apart (the noise floor)
                    r12 = wide.loc[idx, 1] / wide.loc[idx, 2]
                    e["pass_to_pass"] = {"mean_abs_pct": float(100 * (r12 - 1).abs().mean()),
                                         "median_pass1_over_pass2": float(r12.median())}
                # the predictors are compared with the mean of the two passes, whose reliability is higher than one
                # pass's: Spearman-Brown, r2 = 2r / (1 + r); no predictor correlates with the mean beyond sqrt(r2)
                # (a pass-to-pass correlation <= 0 — a handful of networks — leaves no reliable ceiling: 0)
                e["ceiling_vs_mean_of_passes"] = {k: _spearman_brown_ceiling(ceil_[k]) for k in ("spearman", "kendall")}
                for k in ("spearman", "kendall"):
                    gap = e["ceiling_vs_mean_of_passes"][k] - floor_[k]
                    e[f"{k}_fraction_of_gap_closed"] = float((mod[k] - floor_[k]) / gap) if gap > 0 else float("nan")
                if use_cpu:  # the same model against the wall-clock medians (disturbed by the other processes)
                    wape = (pred[idx] - wall[idx]).abs() / wall[idx]
                    e["wall_clock"] = {"model": _rank_stats(pred[idx], wall[idx]),
                                       "macs": _rank_stats((macs_pruned if RUNTIME_PRUNES[rt] else macs)[idx], wall[idx]),
                                       "mape": float(wape.mean()), "median_ape": float(wape.median()),
                                       "wall_over_cpu_median": float((wall[idx] / meas[idx]).median())}
                if len(idx) <= CORRECTION_K:  # too few networks to fit on K and test on the rest
                    entry[subset] = e
                    continue
                e["correction"] = _correction_stats(totals, idx, meas[idx])
                if len(live) < len(idx) and len(live) > CORRECTION_K:  # as mape_without_constant_networks: the folded-constant cells left out
                    e["correction_without_constant_networks"] = _correction_stats(totals, pd.Index(live), meas[live])
                entry[subset] = e
            res_hw[f"{rt}/{th}t"] = entry
        al = [v["all"] for v in res_hw.values()]
        res_hw["targets"] = {
            "model_spearman_ge_0.95_every_pair": all(v["model"]["spearman"] >= 0.95 for v in al),
            "model_above_macs_every_pair_spearman": all(v["model"]["spearman"] > v["macs"]["spearman"] for v in al),
            "model_above_macs_every_pair_kendall": all(v["model"]["kendall"] > v["macs"]["kendall"] for v in al),
            "mean_fraction_of_gap_closed_spearman": float(np.nanmean([v["spearman_fraction_of_gap_closed"] for v in al])),
            "mean_fraction_of_gap_closed_kendall": float(np.nanmean([v["kendall_fraction_of_gap_closed"] for v in al])),
            "mape_le_15pct_every_pair": all(v["mape"] <= 0.15 for v in al),
            "corrected_mape_le_5pct_every_pair_mean_over_splits":
                (all(v["correction"]["mape_after_pct"]["mean"] <= 5.0 for v in al)
                 if all("correction" in v for v in al) else None),
        }
        out["results"][label] = res_hw
    out["gpu"] = "pending: no GPU on this machine (the device machine was not lent to this task); no GPU measurement made"
    out["analysis_s"] = round(time.time() - t0, 1)
    write_text(args.o, json.dumps(out, indent=1) + "\n")
    for hw, r in out["results"].items():
        print(hw)
        for k, v in r.items():
            if k == "targets":
                print("  targets", v)
                continue
            a = v["all"]
            print(f"  {k:10s} [{a['measured_statistic']}] n={a['n']} retest {a['test_retest']['spearman']:.3f} macs {a['macs']['spearman']:.3f} "
                  f"model {a['model']['spearman']:.3f} tau {a['model']['kendall']:.3f} (macs {a['macs']['kendall']:.3f}, "
                  f"retest {a['test_retest']['kendall']:.3f}) MAPE {100 * a['mape']:.1f}% "
                  f"(w/o {a['n_constant_networks']} constant nets {100 * a['mape_without_constant_networks']:.1f}%) "
                  f"bias {a['bias_pred_over_meas_median']:.2f}"
                  + (f" pass-to-pass {a['pass_to_pass']['mean_abs_pct']:.1f}%" if "pass_to_pass" in a else ""))
        for k, v in out.get("speed_normalised", {}).get(hw, {}).items():
            print(f"  {k:10s} speed-normalised (diagnostic; sentinel {v['sentinel_ms']['min']:.2f}-"
                  f"{v['sentinel_ms']['max']:.2f} ms): model {v['model']['spearman']:.3f} tau {v['model']['kendall']:.3f} "
                  f"macs {v['macs']['spearman']:.3f} MAPE {100 * v['mape']:.1f}% bias {v['bias_pred_over_meas_median']:.2f}"
                  + (f" retest {v['test_retest']['spearman']:.3f} pass-to-pass {v['pass_to_pass_mean_abs_pct']:.1f}% "
                     f"corr(network, sentinel) {v['corr_log_ratio_network_vs_sentinel']:.2f}" if "test_retest" in v else ""))
        for k, v in out.get("drift_tracked", {}).get(hw, {}).items():
            a = v.get("all")
            if not a:
                continue
            sc = "; ".join(f"{p} {d['min']:.2f}-{d['max']:.2f}" for p, d in v["sentinel_scale"].items())
            print(f"  {k:10s} drift-tracked (diagnostic; sentinel scale {sc}): model {a['model']['spearman']:.3f} "
                  f"tau {a['model']['kendall']:.3f} MAPE {100 * a['mape']:.1f}% bias {a['bias_pred_over_meas_median']:.2f}"
                  + (f" pass-to-pass normalised {a['pass_to_pass_normalised']['mean_abs_pct']:.1f}% (retest rho "
                     f"{a['pass_to_pass_normalised']['test_retest']['spearman']:.3f})"
                     if "pass_to_pass_normalised" in a else ""))
        print(f"  few-shot correction (k={CORRECTION_K}, {CORRECTION_SPLITS} splits, seed {CORRECTION_SEED}): "
              "held-out MAPE % mean ± std (min–max), Spearman ρ mean")
        print(f"  {'pair':10s} {'subset':16s} {'n':>4s}  {'MAPE before':>26s}  {'MAPE after':>26s}  rho before/after")
        for k, v in r.items():
            if k == "targets":
                continue
            rows = [(subset, ck, e[ck]) for subset, e in v.items()
                    for ck in ("correction", "correction_without_constant_networks") if ck in e]
            for subset, ck, c in rows:
                label = subset if ck == "correction" else subset + " w/o const"
                b, a = c["mape_before_pct"], c["mape_after_pct"]
                print(f"  {k:10s} {label:16s} {c['n']:4d}  "
                      f"{b['mean']:6.1f} ± {b['std']:4.1f} ({b['min']:5.1f}–{b['max']:5.1f})  "
                      f"{a['mean']:6.1f} ± {a['std']:4.1f} ({a['min']:5.1f}–{a['max']:5.1f})  "
                      f"{c['spearman_held_out_before']['mean']:.3f}/{c['spearman_held_out_after']['mean']:.3f}"
                      + (f"  bias {v[subset]['bias_pred_over_meas_median']:.2f}" if ck == "correction" else ""))


def main(argv=None) -> int:
    from accel.app.options import add_allocator_option

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--nb201", type=int, default=500)
    m.add_argument("--others", type=int, default=102)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--warmup", type=int, default=1)
    m.add_argument("--repeats", type=int, default=3)
    m.add_argument("--repeats-all-threads", type=int, default=1)
    m.add_argument("--budget-min", type=float, default=25.0, help="start no phase after this many minutes")
    m.add_argument("--phases", help="re-measure only these phases, e.g. torch:1,ort:1 (other rows kept)")
    m.add_argument("--onnx-dir", help="reuse (or fill) this directory of exported models n<i>.onnx")
    m.add_argument("--force", action="store_true", help="replace the study's existing measurements")
    m.add_argument("--sentinel-every", type=int, default=50,
                   help="time the drift sentinels (SENTINELS) before every N-th network of a phase and after the "
                        "last; 0: none")
    m.add_argument("--sentinel-each", action=argparse.BooleanOptionalAction, default=True,
                   help="time SENTINEL_EACH right before every network (the machine's speed at each measurement; "
                        "analyze's speed-normalised rows)")
    add_allocator_option(m)
    a = sub.add_parser("analyze")
    for q in (m, a):
        q.add_argument("--study", default="", help="which machine's measurements (study_paths): '' = the committed "
                                                   "AMD EPYC study; NAME = device_measurements_NAME.* beside it")
    a.add_argument("--hw", action="append", default=None)
    a.add_argument("-o", default=None, help="analysis JSON (default bench/results/device_study[_STUDY].json)")
    a.add_argument("--statistic", choices=("auto", "wall", "min"), default="auto",
                   help="auto: 1-thread rows by the calling thread's CPU time where recorded, others by wall clock; "
                        "wall: every row by wall clock; min: as auto, the fastest of the repeats instead of their "
                        "median (the calibration's statistic: best of N)")
    a.add_argument("--force", action="store_true", help="overwrite -o")
    c = sub.add_parser("contention")
    c.add_argument("--busy", type=int, default=4, help="busy-loop processes of the second round")
    c.add_argument("--calls", type=int, default=15)
    args = p.parse_args(argv)
    if args.cmd == "measure":
        measure(args)
    elif args.cmd == "contention":
        contention(args)
    else:
        analyze(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
