"""Fixtures of the hostile corpus: shared assets, the case-runner process (warmed up outside the per-case
timeout), and a summary of outcome classes at the end of the run (``HOSTILE_REPORT=path.jsonl`` also writes one JSON
line per case: id, family, owner, outcome, exit code, seconds, first error line)."""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict

import pytest

from tests.hostile.harness import OUTCOMES, RECORDS, Assets


def pytest_configure(config):
    config.addinivalue_line("markers", "hostile_new: the case relies on behaviour that issue 10's fixes introduce "
                                       "(strict YAML, option bounds, --force, new option spellings)")


@pytest.fixture(scope="session")
def assets(tmp_path_factory):
    return Assets(tmp_path_factory.mktemp("hostile-assets"))


@pytest.fixture(scope="session", autouse=True)
def _worker():
    """The process the cases run in (started and warmed up on first use, outside every case's timeout)."""
    from tests.hostile.harness import worker

    yield
    worker().close()


def pytest_terminal_summary(terminalreporter):
    if not RECORDS:
        return
    tr = terminalreporter
    fams = sorted({r["family"] for r in RECORDS})
    tr.write_sep("=", f"hostile corpus: {len(RECORDS)} cases")
    head = f"{'family':<12}" + "".join(f"{o:>13}" for o in OUTCOMES)
    tr.write_line(head)
    for fam in fams + ["TOTAL"]:
        rows = [r for r in RECORDS if fam in ("TOTAL", r["family"])]
        c = Counter(r["outcome"] for r in rows)
        tr.write_line(f"{fam:<12}" + "".join(f"{c.get(o, 0):>13}" for o in OUTCOMES))
    by_owner: dict = defaultdict(Counter)
    for r in RECORDS:
        if r["outcome"] != "clean":
            by_owner[r["owner"]][r["outcome"]] += 1
    if by_owner:
        tr.write_line("failures by the module that must fix them:")
        for owner, c in sorted(by_owner.items(), key=lambda kv: -sum(kv[1].values())):
            tr.write_line(f"  {sum(c.values()):4d}  {owner}: " + ", ".join(f"{k} {v}" for k, v in c.most_common()))
    path = os.environ.get("HOSTILE_REPORT")
    if path:
        with open(path, "w") as f:
            for r in RECORDS:
                f.write(json.dumps(r) + "\n")
        tr.write_line(f"per-case report: {path}")
