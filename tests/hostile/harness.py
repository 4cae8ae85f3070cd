"""The hostile-input harness: run one case through the real ``accelsim`` entry point and judge it.

Cases run in a long-lived worker process (:mod:`tests.hostile.worker`) that calls
``accel.app.cli.main(argv)`` in-process, so a case costs no interpreter start; a case that overruns is
killed with its process (a thread cannot be stopped while C code holds the GIL).  A handful of cases run
through ``python -m accel`` instead, as a user's terminal would.

A case ends in one of these outcome classes (the first that applies, in this order):

- ``hang``: still running after :data:`TIMEOUT_S` seconds (the worker process is then killed).
- ``traceback``: an exception escaped ``main`` (what a terminal would show as a traceback), the process died
  (a crash, or memory past ``tests.hostile.worker.MEMORY_LIMIT_BYTES``), or the output
  holds a traceback, an internal exception name (``KeyError``, ``DecodeError``, ``ValidationError`` …,
  also accelsim's own class names), ``pydantic`` or "internal error".
- ``file_changed``: a file that existed before the run (the inputs, a sentinel at the ``-o`` location) changed
  bytes or mtime, or disappeared, or the run created files in the case's folders.
- ``exit0``: accepted nonsense — exit status 0.
- ``bad_exit``: an exit status other than 0, 1, 2.
- ``silent``: no message on stderr, or one without the word "error".
- ``unnamed``: the message does not name where the problem is (file name, YAML path, option name).
- ``long``: more than :data:`MAX_LINES` lines or :data:`MAX_CHARS` characters of stderr.
- ``clean``: exit 1 or 2 with a short message naming the place — the only passing class.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 30.0
MAX_LINES = 40
MAX_CHARS = 6000

OUTCOMES = ("clean", "exit0", "traceback", "hang", "file_changed", "bad_exit", "silent", "unnamed", "long")

# A Python class name ending in Error/Exception (KeyError, DecodeError, ConfigError, ArrowInvalid is below),
# python's traceback lines, pydantic's name and links, and the CLI's catch-all.
_INTERNAL = re.compile(
    r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+"
    r"|\bArrowInvalid\b|\bArrowTypeError\b|\bNetworkXUnfeasible\b|\bNetworkXNoCycle\b|\bStopIteration\b"
    r"|\bpydantic\b|errors\.pydantic\.dev|\binternal error\b|<class '|\bnumba\.|\bnp\.float64\(|\bobject at 0x",
    re.IGNORECASE | re.MULTILINE)
# case-sensitive part: 'error' in plain words is fine, class names are CamelCase
_CLASSNAME = re.compile(r"\b[A-Z][A-Za-z0-9]*(?:Error|Exception|Warning)\b")


@dataclass
class RunResult:
    code: int | None  # None: did not finish (hang)
    stdout: str
    stderr: str
    seconds: float
    escaped: str = ""  # traceback of an exception that escaped main(), or how the process died


class Worker:
    """The process that runs cases in-process (``tests/hostile/worker.py``): started once and warmed up
    (outside every case's timeout); killed and replaced after a case that hangs or kills it."""

    START_TIMEOUT_S = 900.0  # a cold numba cache compiles the kernels first

    def __init__(self, log_path: Path):
        self.log_path = Path(log_path)
        self.proc: subprocess.Popen | None = None
        self.buf = b""
        self.starts = 0

    def _start(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env.setdefault("MPLBACKEND", "Agg")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "tests.hostile.worker"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=log, cwd=ROOT, env=env)
        self.buf = b""
        self.starts += 1
        line = self._readline(self.START_TIMEOUT_S)
        if not line or not json.loads(line).get("ready"):
            self.kill()
            raise RuntimeError(f"the hostile-case worker did not start; see {self.log_path}")

    def _readline(self, timeout_s: float) -> bytes | None:
        """One line from the worker; None on timeout, b"" when it died."""
        deadline = time.monotonic() + timeout_s
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b""
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            for f in (self.proc.stdin, self.proc.stdout):
                f.close()
            self.proc = None

    def run(self, argv: list[str], cwd: Path, timeout_s: float = TIMEOUT_S,
            on_timeout: Callable[[], None] | None = None) -> RunResult:
        if self.proc is None or self.proc.poll() is not None:
            self.kill()
            self._start()
        t0 = time.monotonic()
        try:
            self.proc.stdin.write((json.dumps({"argv": list(argv), "cwd": str(cwd)}) + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            line = b""
        else:
            line = self._readline(timeout_s)
        dt = time.monotonic() - t0
        if line is None:  # overran: end it the only sure way (code holding the GIL cannot be interrupted)
            if on_timeout is not None:
                on_timeout()
            self.kill()
            return RunResult(None, "", "", dt)
        if not line:
            rc = self.proc.wait()
            self.kill()
            how = f"killed by signal {-rc}" if rc < 0 else f"exit status {rc} without an answer"
            return RunResult(1, "", "", dt, escaped=f"the process died ({how})")
        d = json.loads(line)
        return RunResult(d["code"], d["stdout"], d["stderr"], d["seconds"], d["escaped"])

    def close(self) -> None:
        if self.proc is not None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
            self.kill()
        if self.log_path.exists() and not self.log_path.stat().st_size:
            self.log_path.unlink()


_WORKER: Worker | None = None


def worker() -> Worker:
    """The session's worker (created on first use; closed by the conftest at the end)."""
    global _WORKER
    if _WORKER is None:
        import tempfile

        _WORKER = Worker(Path(tempfile.gettempdir()) / f"accelsim-hostile-worker-{os.getpid()}.log")
    return _WORKER


def run_cli(argv: list[str], timeout_s: float = TIMEOUT_S, cwd: Path | None = None,
            on_timeout: Callable[[], None] | None = None) -> RunResult:
    """``accel.app.cli.main(argv)`` in the worker process, stdout/stderr captured, with a timeout.
    argparse's SystemExit becomes the exit code; any other exception escaping ``main`` is recorded as the
    traceback a terminal would show."""
    return worker().run(argv, cwd or ROOT, timeout_s, on_timeout)


def run_subprocess(argv: list[str], timeout_s: float = TIMEOUT_S, cwd: Path | None = None,
                   on_timeout: Callable[[], None] | None = None) -> RunResult:
    """``python -m accel ARGV`` in a real child process (PYTHONPATH = the checkout)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("MPLBACKEND", "Agg")
    t0 = time.monotonic()
    try:
        p = subprocess.run([sys.executable, "-m", "accel", *argv], capture_output=True, text=True, env=env,
                           cwd=cwd or ROOT, timeout=timeout_s, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        def s(x):
            return x.decode(errors="replace") if isinstance(x, bytes) else (x or "")
        return RunResult(None, s(e.stdout), s(e.stderr), time.monotonic() - t0)
    return RunResult(p.returncode, p.stdout, p.stderr, time.monotonic() - t0)


# ---------------------------------------------------------------------------------------------
# File snapshots: nothing that existed may change, nothing may be created
# ---------------------------------------------------------------------------------------------
def snapshot(roots: list[Path]) -> dict[str, tuple]:
    """{path: ('dir',) | ('file', bytes, mtime_ns)} of every entry under ``roots`` (and the roots)."""
    snap: dict[str, tuple] = {}
    for r in roots:
        r = Path(r)
        if not r.exists() and not r.is_symlink():
            snap[str(r)] = ("absent",)
            continue
        entries = [r] + (sorted(r.rglob("*")) if r.is_dir() else [])
        for p in entries:
            if p.is_symlink():
                snap[str(p)] = ("link", os.readlink(p))
            elif p.is_dir():
                snap[str(p)] = ("dir",)
            elif not p.is_file():  # a FIFO or socket: reading it would block
                snap[str(p)] = ("special",)
            else:
                try:
                    snap[str(p)] = ("file", p.read_bytes(), p.stat().st_mtime_ns)
                except OSError as e:
                    snap[str(p)] = ("unreadable", str(e))
    return snap


def diff_snapshots(before: dict, after: dict) -> list[str]:
    changes = []
    for k, v in before.items():
        w = after.get(k)
        if w is None:
            changes.append(f"removed {k}")
        elif w != v:
            what = "bytes" if v[0] == "file" and w[0] == "file" and v[1] != w[1] else "mtime/kind"
            changes.append(f"changed ({what}) {k}")
    for k, w in after.items():
        if k not in before and w != ("absent",):
            changes.append(f"created {k}")
    return changes


# ---------------------------------------------------------------------------------------------
# Judging
# ---------------------------------------------------------------------------------------------
@dataclass
class Verdict:
    outcome: str
    detail: str
    result: RunResult
    changes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.outcome == "clean"

    def explain(self, argv: list[str]) -> str:
        tail = (self.result.escaped or self.result.stderr).strip().splitlines()
        return (f"[{self.outcome}] {self.detail}\n  argv: {argv}\n  exit: {self.result.code} after "
                f"{self.result.seconds:.1f} s\n  stderr: " + "\n          ".join(tail[-12:]))


def _names_where(text: str, where: list) -> tuple[bool, str]:
    """``where``: groups, all of which must match; a group is a string or a tuple of alternatives; an
    alternative is a plain substring, or ``re:PATTERN``."""
    for group in where:
        alts = group if isinstance(group, (tuple, list)) else (group,)
        if not any((re.search(a[3:], text) if a.startswith("re:") else a in text) for a in alts):
            return False, f"message does not name {' or '.join(map(repr, alts))}"
    return True, ""


def _message(stderr: str) -> str:
    """stderr from the first line that says "error" on: argparse's usage block lists every option, so it
    must not count as naming the perturbed one."""
    lines = stderr.splitlines()
    first = next((i for i, ln in enumerate(lines) if "error" in ln.lower()), 0)
    return "\n".join(lines[first:])


def judge(res: RunResult, where: list, changes: list[str]) -> Verdict:
    text = res.stderr
    if res.code is None:
        return Verdict("hang", f"no exit within {TIMEOUT_S:.0f} s", res, changes)
    leaked = _CLASSNAME.search(text) or _INTERNAL.search(text) or _CLASSNAME.search(res.stdout) \
        or re.search(r"Traceback \(most recent call last\)", res.stdout)
    if res.escaped or leaked:
        what = res.escaped.strip().splitlines()[-1] if res.escaped else f"output shows {leaked.group(0)!r}"
        return Verdict("traceback", what, res, changes)
    if changes:
        return Verdict("file_changed", "; ".join(changes[:4]), res, changes)
    if res.code == 0:
        return Verdict("exit0", "accepted (exit 0)", res, changes)
    if res.code not in (1, 2):
        return Verdict("bad_exit", f"exit status {res.code}", res, changes)
    if not text.strip() or "error" not in text.lower():
        return Verdict("silent", "no error message on stderr", res, changes)
    ok, why = _names_where(_message(text), where)
    if not ok:
        return Verdict("unnamed", why, res, changes)
    if len(text.strip().splitlines()) > MAX_LINES or len(text) > MAX_CHARS:
        return Verdict("long", f"{len(text.splitlines())} lines / {len(text)} chars of stderr", res, changes)
    return Verdict("clean", "", res, changes)


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------
@dataclass
class Prepared:
    """What a case runs: ``argv`` (without the program name), the places the message must name
    (see :func:`_names_where`), and extra paths to watch besides the case folder."""

    argv: list[str]
    where: list
    watch: list[Path] = field(default_factory=list)
    cleanup: list[Callable[[], None]] = field(default_factory=list)  # after the run (e.g. unblock a FIFO reader)


@dataclass(frozen=True)
class Case:
    """One hostile input.  ``owner``: the module that must refuse it (for the triage list); ``new``: relies
    on behaviour or option spellings that issue 10's fixes introduce."""

    id: str
    family: str
    owner: str
    build: Callable[["Workspace"], Prepared]
    new: bool = False
    subprocess: bool = False


class Workspace:
    """A case's folder: ``in/`` (inputs the case writes), ``out/`` (output location, sentinels)."""

    def __init__(self, root: Path, assets: "Assets"):
        self.root = Path(root)
        self.assets = assets
        self.inp = self.root / "in"
        self.out = self.root / "out"
        self.inp.mkdir(parents=True, exist_ok=True)
        self.out.mkdir(parents=True, exist_ok=True)

    def write(self, name: str, data: str | bytes) -> str:
        p = self.inp / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            p.write_bytes(data)
        else:
            p.write_text(data)
        return str(p)

    def config(self, name: str = "eyeriss.yaml", source: str = "eyeriss.yaml") -> str:
        return self.write(name, (ROOT / "configs" / source).read_text())

    def tiny_onnx(self, name: str = "tiny.onnx") -> str:
        return self.write(name, self.assets.tiny_onnx_bytes())

    def sentinel(self, name: str) -> str:
        """A pre-existing file at an output location: it must survive every hostile run unchanged."""
        p = self.out / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"SENTINEL: accelsim must not overwrite this file\n")
        old = time.time() - 3600
        os.utime(p, (old, old))
        return str(p)


class Assets:
    """Session-wide inputs built once (tiny ONNX model bytes, a small results table)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._tiny: bytes | None = None

    def tiny_onnx_bytes(self) -> bytes:
        if self._tiny is None:
            from tests.hostile import generators

            self._tiny = generators.tiny_onnx_model().SerializeToString()
        return self._tiny


RECORDS: list[dict] = []


def run_case(case: Case, tmp_path: Path, assets: Assets) -> tuple[Verdict, Prepared]:
    ws = Workspace(tmp_path, assets)
    prep = case.build(ws)
    roots = [ws.root, *prep.watch]
    before = snapshot(roots)
    runner = run_subprocess if case.subprocess else run_cli
    def cleanup() -> None:
        for fn in prep.cleanup:
            fn()
    try:
        res = runner(prep.argv, cwd=ws.root, on_timeout=cleanup)
    finally:
        for fn in prep.cleanup:
            fn()
    changes = diff_snapshots(before, snapshot(roots))
    v = judge(res, prep.where, changes)
    lines = (res.escaped or res.stderr).strip().splitlines()
    first = next((ln for ln in lines if "error" in ln.lower()), lines[-1] if lines else "")
    if res.escaped:
        first = lines[-1]
    RECORDS.append({"id": case.id, "family": case.family, "owner": case.owner, "new": case.new,
                    "outcome": v.outcome, "detail": v.detail, "code": res.code, "seconds": round(res.seconds, 2),
                    "message": first[:300]})
    return v, prep


def check(case: Case, tmp_path: Path, assets: Assets) -> None:
    v, prep = run_case(case, tmp_path, assets)
    assert v.ok, v.explain(prep.argv)
