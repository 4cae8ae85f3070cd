import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def eyeriss():
    from accel.arch import load_arch

    return load_arch(ROOT / "configs" / "eyeriss.yaml")


def shared_path(*parts: str) -> Path:
    """A file under ../shared (present in CI and on developer machines)."""
    return SHARED.joinpath(*parts)


os.environ.setdefault("MPLBACKEND", "Agg")
