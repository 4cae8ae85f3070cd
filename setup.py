"""Ships the repo-root ``configs/`` (accelerator YAMLs, sweep specs, READMEs) as package data ``accel/configs``.

The configs stay at the repo root (one copy in git); ``build_py`` copies them into the build tree, so a wheel
(and a ``pip install .``) contains ``accel/configs/...``, and ``get_source_files`` puts them in an sdist.  An
editable install needs no copy: ``accel.arch.CONFIG_DIR`` falls back to the repo-root ``configs/``.
It also ships the prebuilt numba kernels ``accel/_kernel_cache`` (see accel/_jit.py, accel/app/warmup.py):
compiled by a child process of the build's Python from this source tree, or copied from the source tree's
``accel/_kernel_cache`` when ``accelsim warmup`` built it for these very sources and numba/llvmlite/Python.
They are only valid for the numba that compiled them, so build wheels in the target environment
(``pip wheel --no-build-isolation .``); an isolated build without numba ships none (a warning; the package
then compiles its kernels on first use, as a source checkout does).
Everything else is declared in pyproject.toml.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
CONFIGS = "configs"  # repo-root directory, relative to HERE
TARGET = ("accel", "configs")  # where it lands in the build tree / wheel
KERNELS = ("accel", "_kernel_cache")  # prebuilt kernels: source tree (accelsim warmup) and build tree / wheel


def _config_files() -> list[str]:
    """Files under configs/ (relative paths, '/'-separated, sorted); skips caches and hidden files."""
    root = HERE / CONFIGS
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and not any(part.startswith((".", "__")) for part in p.relative_to(root).parts))


class BuildPyWithConfigs(build_py):
    def _config_targets(self) -> list[tuple[str, str]]:
        dst = Path(self.build_lib, *TARGET)
        return [(f"{CONFIGS}/{f}", str(dst / f)) for f in _config_files()]

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # editable: the package finds the repo-root configs/ itself
        targets = self._config_targets()
        if not any(t.endswith(".yaml") for _, t in targets):
            raise RuntimeError(f"no accelerator configs under {CONFIGS}/: refusing to build a package without them")
        shutil.rmtree(Path(self.build_lib, *TARGET), ignore_errors=True)  # no stale configs from an old build/
        for src, dst in targets:
            self.mkpath(str(Path(dst).parent))
            self.copy_file(str(HERE / src), dst, preserve_mode=False)
        self._build_kernels()

    def _build_kernels(self) -> None:
        """Prebuilt kernels into the build tree (replacing any old ones), or a warning if numba is missing."""
        dst = Path(self.build_lib, *KERNELS)
        shutil.rmtree(dst, ignore_errors=True)
        if subprocess.run([sys.executable, "-c", "import numba"], capture_output=True).returncode != 0:
            self.warn("numba is not importable in the build environment: the wheel ships no prebuilt kernels "
                      "(build with `pip wheel --no-build-isolation .` in the target environment to ship them)")
            return
        code = ("import shutil, sys\n"
                "from accel.app.warmup import build_kernel_cache, is_current\n"
                "src, dst = sys.argv[1:]\n"
                "if is_current(src): shutil.copytree(src, dst)\n"
                "else: build_kernel_cache(dst)\n")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])]))
        subprocess.run([sys.executable, "-c", code, str(HERE.joinpath(*KERNELS)), str(dst)], env=env, check=True)

    def _kernel_outputs(self) -> list[str]:
        dst = Path(self.build_lib, *KERNELS)
        return sorted(str(p) for p in dst.rglob("*") if p.is_file()) if dst.is_dir() else []

    def get_outputs(self, include_bytecode=1):
        outputs = super().get_outputs(include_bytecode)
        if getattr(self, "editable_mode", False):
            return outputs
        return outputs + [dst for _, dst in self._config_targets()] + self._kernel_outputs()

    def get_source_files(self):
        return super().get_source_files() + [src for src, _ in self._config_targets()]


setup(cmdclass={"build_py": BuildPyWithConfigs})
