"""The layered house: every core module is covered by the import-linter contract, and the contracts hold."""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import ROOT


def _core_modules() -> set[str]:
    """Every module of the core layer: accel/*.py except the package entry points (accel.app is layer 4)."""
    return {f"accel.{p.stem}" for p in (ROOT / "accel").glob("*.py") if p.stem not in ("__init__", "__main__")}


def test_every_core_module_is_in_the_contract():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = cfg["tool"]["importlinter"]["contracts"]
    core = next(c for c in contracts if c["type"] == "forbidden" and "mapper" in c["forbidden_modules"])
    assert set(core["forbidden_modules"]) == {"mapper", "nas", "accel.app"}
    assert set(core["source_modules"]) == _core_modules()


def test_lint_imports_passes():
    beside = Path(sys.executable).parent / "lint-imports"  # the test venv's, even when it is not activated
    exe = str(beside) if beside.exists() else shutil.which("lint-imports")
    assert exe, "import-linter is part of the test extra"
    out = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
