"""Ships the repo-root ``configs/`` (accelerator YAMLs, sweep specs, READMEs) as package data ``accel/configs``.

The configs stay at the repo root (one copy in git); ``build_py`` copies them into the build tree, so a wheel
(and a ``pip install .``) contains ``accel/configs/...``, and ``get_source_files`` puts them in an sdist.  An
editable install needs no copy: ``accel.arch.CONFIG_DIR`` falls back to the repo-root ``configs/``.
Everything else is declared in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
CONFIGS = "configs"  # repo-root directory, relative to HERE
TARGET = ("accel", "configs")  # where it lands in the build tree / wheel


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

    def get_outputs(self, include_bytecode=1):
        outputs = super().get_outputs(include_bytecode)
        if getattr(self, "editable_mode", False):
            return outputs
        return outputs + [dst for _, dst in self._config_targets()]

    def get_source_files(self):
        return super().get_source_files() + [src for src, _ in self._config_targets()]


setup(cmdclass={"build_py": BuildPyWithConfigs})
