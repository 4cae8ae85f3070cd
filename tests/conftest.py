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
