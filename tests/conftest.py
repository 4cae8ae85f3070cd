import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


@pytest.fixture(scope="session")
def eyeriss():
    from accel.arch import load_arch

    return load_arch(ROOT / "configs" / "eyeriss.yaml")


def data_path(*parts: str) -> Path:
    """A file under tests/data (reference data copied into the repo, sources in tests/data/SOURCES.md)."""
    return DATA.joinpath(*parts)


os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs an NVIDIA GPU (the only tests allowed to skip)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """No silent skips: under CI (or ACCELSIM_NO_SKIP=1) a skipped test fails unless it is marked ``gpu``
    (xfails are reported as usual).  The README's test command installs every extra the tests need."""
    outcome = yield
    rep = outcome.get_result()
    strict = os.environ.get("ACCELSIM_NO_SKIP", os.environ.get("CI", "")).lower() not in ("", "0", "false")
    if strict and rep.skipped and not hasattr(rep, "wasxfail") and item.get_closest_marker("gpu") is None:
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        rep.outcome = "failed"
        rep.longrepr = f"skipped under CI, which must run every test: {reason}"
