"""Packaging: the wheel ships the repo-root configs/ as accel/configs, and an installed wheel works on its own.

Builds the wheel offline (``pip wheel --no-build-isolation``: setuptools from this environment) from a copy of the
checkout, installs it with ``--no-deps`` into a fresh venv outside the checkout whose dependencies come from this
environment's site-packages (a plain path .pth, so that environment's own .pth files, e.g. an editable install of
this checkout, are not processed), and runs ``accelsim`` from an empty directory with PYTHONPATH cleared.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from accel.arch import ConfigError, list_configs

ROOT = Path(__file__).resolve().parent.parent
_SKIP_DIRS = {".git", "build", "dist", "__pycache__", ".pytest_cache", ".hypothesis", ".benchmarks", ".mypy_cache",
              ".ruff_cache", ".ipynb_checkpoints"}


def _shipped_config_files() -> set[str]:
    """Files under the repo-root configs/, relative, as setup.py ships them."""
    root = ROOT / "configs"
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and not any(part.startswith((".", "__")) for part in p.relative_to(root).parts)}


def _ignore(directory: str, names: list[str]) -> set[str]:
    """Build outputs, caches, VCS data and virtual environments (any dir with a pyvenv.cfg) stay behind."""
    return {n for n in names if n in _SKIP_DIRS or n.endswith(".egg-info")
            or (Path(directory, n) / "pyvenv.cfg").exists()}


def _run(cmd: list[str], timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def _check(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"{proc.args} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _in_stdlib(p: str) -> bool:
    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    return Path(p).resolve() in (stdlib, stdlib / "lib-dynload", Path(sysconfig.get_paths()["platstdlib"]).resolve())


def _dependency_paths() -> list[str]:
    """Where this interpreter finds accelsim's dependencies: its site-packages and the other sys.path entries,
    less this checkout (its own venv's site-packages, e.g. CI's .venv-ci, stays) and anything holding ``accel``."""
    sites = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()]
    if site.ENABLE_USER_SITE:
        sites.append(site.getusersitepackages())
    out = []
    for p in [*sites, *sys.path]:
        if not p or p in out or not Path(p).is_dir() or (Path(p) / "accel").exists():
            continue
        if p in sites or not Path(p).resolve().is_relative_to(ROOT) and not _in_stdlib(p):
            out.append(p)
    return out


def _venv(path: Path) -> Path:
    """A fresh venv (no pip) that sees this environment's dependencies; returns its python."""
    _check(_run([sys.executable, "-m", "venv", "--without-pip", str(path)]))
    py = path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = _check(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])).stdout.strip()
    Path(purelib, "_accelsim_test_deps.pth").write_text("".join(p + "\n" for p in _dependency_paths()))
    return py


def _pip_install(py: Path, *args: str) -> None:
    _check(_run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index",
                 "--no-cache-dir", "--disable-pip-version-check", *args]))


class Installed:
    def __init__(self, py: Path, tmp: Path):
        self.py, self.prefix = py, py.parent.parent
        self.cwd = tmp / "cwd"  # empty, outside the checkout
        self.cwd.mkdir(exist_ok=True)
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH", "VIRTUAL_ENV")}
        self.env.update(NUMBA_CACHE_DIR=str(tmp / "numba_cache"), MPLBACKEND="Agg", PYTHONNOUSERSITE="1")

    def accelsim(self, *args: str) -> subprocess.CompletedProcess:
        exe = self.py.parent / ("accelsim.exe" if os.name == "nt" else "accelsim")
        return _run([str(exe), *args], timeout=180, cwd=self.cwd, env=self.env)

    def python(self, code: str) -> subprocess.CompletedProcess:
        return _check(_run([str(self.py), "-c", code], timeout=60, cwd=self.cwd, env=self.env))

    def where(self) -> dict:
        """Where accel and its configs are imported from, and sys.path, as seen by the installed package."""
        return json.loads(self.python("import json, sys, accel.arch as a; print(json.dumps({'arch': a.__file__, "
                                      "'config_dir': str(a.CONFIG_DIR), 'path': sys.path}))").stdout)


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """(source copy, wheel path): the wheel built from a copy of the checkout (the checkout stays clean)."""
    try:
        import setuptools  # noqa: F401  (the offline build uses this environment's setuptools)
    except ImportError:
        pytest.fail("setuptools is not installed: the offline wheel build (--no-build-isolation) needs it")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=_ignore)
    _check(_run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                 "--no-cache-dir", "--disable-pip-version-check", "-w", str(tmp / "dist"), str(src)]))
    wheels = list((tmp / "dist").glob("accelsim-*.whl"))
    assert len(wheels) == 1, wheels
    return src, wheels[0]


@pytest.fixture(scope="module")
def installed(build, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("installed")
    py = _venv(tmp / "venv")
    _pip_install(py, str(build[1]))
    return Installed(py, tmp)


def test_wheel_ships_every_config_and_sweep_spec(build):
    with zipfile.ZipFile(build[1]) as z:
        names = {n[len("accel/configs/"):] for n in z.namelist() if n.startswith("accel/configs/")}
    assert names == _shipped_config_files()
    assert {"eyeriss.yaml", "README.md", "sweeps/demo.yaml", "sweeps/README.md"} <= names


def test_installed_package_uses_its_own_configs(installed):
    w = installed.where()
    prefix = installed.prefix.resolve()
    assert Path(w["arch"]).resolve().is_relative_to(prefix), w["arch"]
    assert Path(w["config_dir"]) == Path(w["arch"]).parent / "configs"
    assert (Path(w["config_dir"]) / "sweeps" / "demo.yaml").is_file()
    path = [installed.cwd / p for p in w["path"]]  # '' is the (empty) cwd
    assert ROOT not in path and not [p for p in path if (p / "accel").exists()
                                     and not p.resolve().is_relative_to(prefix)], w["path"]


def test_installed_configs_command_lists_all(installed):
    proc = _check(installed.accelsim("configs"))
    listed = {line.split()[0] for line in proc.stdout.splitlines() if line.strip()}
    assert listed == {p.stem for p in (ROOT / "configs").glob("*.yaml")} and "eyeriss" in listed
    assert "INVALID" not in proc.stdout


def test_installed_eval_with_bare_config_name(installed):
    proc = _check(installed.accelsim("eval", "resnet18", "--hw", "eyeriss"))
    assert "total:" in proc.stdout and "on eyeriss" in proc.stdout


def test_wheel_ships_prebuilt_kernels(build):
    with zipfile.ZipFile(build[1]) as z:
        names = set(z.namelist())
    assert "accel/_kernel_cache/STAMP.json" in names
    for kernel in ("accel/cost._evaluate_into", "mapper/genome._eval_genomes_serial",
                   "mapper/genome._eval_genomes_parallel", "mapper/search._neighbours"):
        assert any(n.startswith(f"accel/_kernel_cache/{kernel}-") and n.endswith(".nbc") for n in names), kernel


def test_installed_eval_loads_prebuilt_kernels_bit_for_bit(installed, tmp_path):
    """A fresh process with an empty numba cache loads the shipped (generic-CPU) kernels — it compiles and
    saves none of the search's kernels — and its figures equal those of kernels compiled for this CPU."""
    env = dict(installed.env, NUMBA_CACHE_DIR=str(tmp_path / "numba_cache"))
    proc = _check(_run([str(installed.py.parent / "accelsim"), "eval", "resnet18", "--hw", "eyeriss", "--format",
                        "json"], timeout=180, cwd=installed.cwd, env=env))
    saved = [p.name for p in (tmp_path / "numba_cache").rglob("*.nbi")]
    assert not [n for n in saved if "_evaluate_into" in n or "_eval_genomes_serial" in n], saved
    host = _check(_run([sys.executable, "-m", "accel", "eval", "resnet18", "--hw", "eyeriss", "--format", "json"],
                       timeout=600, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT),
                                                       ACCELSIM_PREBUILT_KERNELS="0")))
    assert json.loads(proc.stdout) == json.loads(host.stdout)


def test_installed_without_configs_fails_loudly(installed):
    """A broken install (configs missing) is an error, never an empty listing with exit 0."""
    cfg = Path(installed.where()["config_dir"])
    away = cfg.with_name("configs.away")
    cfg.rename(away)
    try:
        proc = installed.accelsim("configs")
        assert proc.returncode == 1 and proc.stdout == "", (proc.returncode, proc.stdout)
        assert "no accelerator configs" in proc.stderr
        proc = installed.accelsim("eval", "resnet18", "--hw", "eyeriss")
        assert proc.returncode == 1 and "eyeriss.yaml" in proc.stderr and "no such file" in proc.stderr
    finally:
        away.rename(cfg)


def test_editable_install_uses_repo_root_configs(build, tmp_path_factory):
    src = build[0]
    tmp = tmp_path_factory.mktemp("editable")
    py = _venv(tmp / "venv")
    _pip_install(py, "--no-build-isolation", "-e", str(src))
    inst = Installed(py, tmp)
    w = inst.where()
    assert Path(w["config_dir"]).resolve() == (src / "configs").resolve()
    assert not (src / "accel" / "configs").exists()  # the build never copies into the source tree
    assert "eyeriss" in _check(inst.accelsim("configs")).stdout


def test_list_configs_empty_dir_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no accelerator configs"):
        list_configs(tmp_path)
    with pytest.raises(ConfigError, match="no accelerator configs"):
        list_configs(tmp_path / "missing")
