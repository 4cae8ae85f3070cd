"""The README's "Python API" block runs as written, and the API names resolve lazily."""

import re
import subprocess
import sys

from tests.conftest import ROOT


def _readme_block() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_api_block_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(_readme_block(), "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "MACs" in out and "refused:" in out
    assert (tmp_path / "api-demo.parquet").exists()
    import pandas as pd

    table = pd.read_parquet(tmp_path / "api-demo.parquet")
    assert len(table) == 2 and table["latency_s"].gt(0).all()


def test_api_names_resolve_and_import_is_lazy():
    code = ("import sys, accel; assert 'mapper' not in sys.modules and 'nas' not in sys.modules; "
            "missing = [n for n in accel.__all__ if not hasattr(accel, n)]; assert not missing, missing; "
            "assert issubclass(accel.ConfigError, accel.AccelsimError); "
            "assert issubclass(accel.MappingError, accel.AccelsimError)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
