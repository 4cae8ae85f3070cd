"""Resume verifies what it trusts: the parts manifest (batch ids, rows, sha256 per part), parts that are
corrupt / from another batch / from another sweep / not in the manifest are set aside and recomputed, a
corrupted or foreign manifest is refused (force=True discards it), a foreign final table is never
replaced, and interruptions at several moments of a batch's commit resume to a byte-identical table."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import accel.app.sweep as sweep_mod
from accel.app.sweep import SerialExecutor, run_sweep
from accel.designspace import SweepError, parse_sweep
from tests.conftest import ROOT

LAYER = "layer:conv K=16 C=16 P=8 Q=8 R=3 S=3"
WL = [LAYER]
BATCH = 2


def _spec(name: str, glb: list[int]) -> dict:
    return {"version": 1, "name": name, "base": str(ROOT / "configs" / "eyeriss.yaml"), "parameters": [
        {"path": ["pe_array.rows", "pe_array.cols"], "values": [[12, 14], [8, 8]]},
        {"path": "levels.GLB.size_bytes", "values": glb}]}


SPEC = parse_sweep(_spec("resume", [27648, 55296, 110592]), "resume.yaml", ROOT)  # 6 points: batches 0-2
OTHER = parse_sweep(_spec("other", [13824, 221184, 442368]), "other.yaml", ROOT)  # same shape, other configs


class Stop(Exception):
    pass


def _interrupted(spec, out: Path, after_batches: int) -> Path:
    """Run ``spec`` into ``out`` and stop it after ``after_batches`` batches are written; returns the parts dir."""

    def progress(done, total):
        if done >= after_batches * BATCH:
            raise Stop

    with pytest.raises(Stop):
        run_sweep(spec, WL, out, executor=SerialExecutor(), batch_size=BATCH, progress=progress)
    parts = out.with_name(out.name + ".parts")
    assert len(list(parts.glob("part-*.parquet"))) == after_batches
    return parts


def _resume(out: Path, **kw):
    msgs: list[str] = []
    df = run_sweep(SPEC, WL, out, executor=SerialExecutor(), batch_size=BATCH, log=msgs.append, **kw)
    return df, msgs


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[pd.DataFrame, bytes]:
    out = tmp_path_factory.mktemp("ref") / "ref.parquet"
    df = run_sweep(SPEC, WL, out, executor=SerialExecutor(), batch_size=BATCH)
    assert len(df) == 6 and df.attrs["rejected_parts"] == [] and df.attrs["resumed_points"] == 0
    return df, out.read_bytes()


def _same(df: pd.DataFrame, out: Path, reference) -> None:
    ref_df, ref_bytes = reference
    assert not df.duplicated(["point", "workload"]).any() and sorted(df.point) == list(range(6))
    pd.testing.assert_frame_equal(df, ref_df)
    assert out.read_bytes() == ref_bytes  # the file itself is byte-identical to an uninterrupted run
    assert {k: v for k, v in df.attrs.items() if k not in ("rejected_parts", "resumed_points")} == \
        pd.read_parquet(out).attrs


def test_manifest_records_batches_rows_and_checksums(tmp_path):
    """manifest.json: the identity and the parts a run started with (none here); journal.jsonl: one appended
    line per finished batch (batch, point ids, rows, sha256 of the part's bytes)."""
    import hashlib

    parts = _interrupted(SPEC, tmp_path / "m.parquet", 2)
    m = json.loads((parts / "manifest.json").read_text())
    assert m["format"] == 2 and m["identity"]["spec_hash"] == SPEC.digest() and m["identity"]["workloads"] == WL
    assert m["identity"]["batch_size"] == BATCH and m["identity"]["accelsim_version"] and m["parts"] == {}
    lines = (parts / "journal.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 3
    for e in map(json.loads, lines[:-1]):
        b = int(e["part"][5:11])
        assert e["run_id"] == m["run_id"] and e["batch"] == b and e["points"] == [2 * b, 2 * b + 1] and e["rows"] == 2
        assert e["sha256"] == hashlib.sha256((parts / e["part"]).read_bytes()).hexdigest()


def test_resume_snapshots_the_journal_into_the_manifest(tmp_path, reference):
    """A resumed run writes the verified parts into manifest.json once and starts an empty journal; a second
    interruption and resume still give the identical table (recording a batch never rewrites the manifest)."""
    out = tmp_path / "s.parquet"
    parts = _interrupted(SPEC, out, 1)

    def stop_after_two(done, total):
        if done >= 2 * BATCH:
            raise Stop

    with pytest.raises(Stop):
        run_sweep(SPEC, WL, out, executor=SerialExecutor(), batch_size=BATCH, progress=stop_after_two)
    m = json.loads((parts / "manifest.json").read_text())
    assert list(m["parts"]) == ["part-000000.parquet"]
    journal = [json.loads(x)["part"] for x in (parts / "journal.jsonl").read_text().splitlines()]
    assert journal == ["part-000001.parquet"]
    df, msgs = _resume(out)
    assert msgs == [] and df.attrs["resumed_points"] == 4
    _same(df, out, reference)


def test_torn_last_journal_line_is_ignored(tmp_path, reference):
    """A kill while appending leaves an unterminated last line: its part was never renamed in, so it is ignored."""
    out = tmp_path / "j.parquet"
    parts = _interrupted(SPEC, out, 2)
    j = parts / "journal.jsonl"
    j.write_bytes(j.read_bytes() + b'{"run_id": "x", "part": "part-0000')
    df, msgs = _resume(out)
    assert msgs == [] and df.attrs["resumed_points"] == 4
    _same(df, out, reference)


@pytest.mark.parametrize("edit", ["garbage line", "other run"])
def test_corrupted_or_foreign_journal_line_is_a_clear_error(tmp_path, edit):
    out = tmp_path / "g.parquet"
    parts = _interrupted(SPEC, out, 2)
    j = parts / "journal.jsonl"
    lines = j.read_bytes().split(b"\n")
    if edit == "garbage line":
        lines[0] = b"{not json"
        want = "line 1: "
    else:
        e = json.loads(lines[1])
        lines[1] = json.dumps({**e, "run_id": "0123456789abcdef"}).encode()
        want = "line 2 belongs to run 0123456789abcdef"
    j.write_bytes(b"\n".join(lines))
    with pytest.raises(SweepError) as ei:
        _resume(out)
    msg = str(ei.value)
    assert msg.startswith(f"{j}: the sweep manifest is corrupted (") and want in msg and "--force" in msg
    assert len(list(parts.glob("part-*"))) == 2  # nothing touched
    df, _ = _resume(out, force=True)
    assert df.attrs["resumed_points"] == 0 and len(df) == 6


def test_format_1_manifest_of_an_earlier_version_is_resumed(tmp_path, reference):
    """A parts directory written by the format-1 runner (every entry in manifest.json, no journal) resumes."""
    out = tmp_path / "v1.parquet"
    parts = _interrupted(SPEC, out, 2)
    m = json.loads((parts / "manifest.json").read_text())
    entries = {}
    for e in map(json.loads, (parts / "journal.jsonl").read_text().splitlines()):
        name = e.pop("part")
        e.pop("run_id")
        entries[name] = e
    (parts / "manifest.json").write_text(json.dumps({**m, "format": 1, "parts": entries}))
    (parts / "journal.jsonl").unlink()
    df, msgs = _resume(out)
    assert msgs == [] and df.attrs["resumed_points"] == 4
    _same(df, out, reference)


def test_resume_reuses_verified_parts(tmp_path, reference):
    out = tmp_path / "r.parquet"
    _interrupted(SPEC, out, 2)
    df, msgs = _resume(out)
    assert msgs == [] and df.attrs["resumed_points"] == 4 and df.attrs["rejected_parts"] == []
    _same(df, out, reference)
    assert not out.with_name(out.name + ".parts").exists()


def test_truncated_part_is_set_aside_and_recomputed(tmp_path, reference):
    out = tmp_path / "t.parquet"
    parts = _interrupted(SPEC, out, 2)
    p = parts / "part-000001.parquet"
    p.write_bytes(p.read_bytes()[:-40])
    df, msgs = _resume(out)
    [rej] = df.attrs["rejected_parts"]
    assert rej["part"] == "part-000001.parquet" and "fails its sha256 checksum" in rej["reason"]
    assert df.attrs["resumed_points"] == 2
    assert any("part-000001.parquet is corrupted" in m and "batch 1 will be recomputed" in m for m in msgs)
    _same(df, out, reference)
    kept = list((parts / "rejected").iterdir())  # set aside, kept for inspection; nothing else left
    assert [k.name.split(".rejected-")[0] for k in kept] == ["part-000001.parquet"]
    assert sorted(x.name for x in parts.iterdir()) == ["rejected"]


def test_part_copied_from_another_batch_is_detected(tmp_path, reference):
    out = tmp_path / "c.parquet"
    parts = _interrupted(SPEC, out, 2)
    shutil.copyfile(parts / "part-000000.parquet", parts / "part-000001.parquet")  # a valid part, wrong batch
    df, msgs = _resume(out)
    [rej] = df.attrs["rejected_parts"]
    assert rej["reason"] == "belongs to another batch: it holds points 0-1 (batch 0), batch 1 is points 2-3"
    _same(df, out, reference)


def test_parts_of_another_sweep_or_outside_the_manifest_are_rejected(tmp_path, reference):
    other = _interrupted(OTHER, tmp_path / "o.parquet", 2)
    out = tmp_path / "s.parquet"
    parts = _interrupted(SPEC, out, 1)
    shutil.copyfile(other / "part-000000.parquet", parts / "part-000000.parquet")  # same point ids, other configs
    shutil.copyfile(other / "part-000001.parquet", parts / "part-000001.parquet")  # not in our manifest
    (parts / "part-000099.parquet").write_bytes(b"junk")  # outside the sweep's batches
    df, msgs = _resume(out)
    why = {r["part"]: r["reason"] for r in df.attrs["rejected_parts"]}
    assert why["part-000000.parquet"].startswith("belongs to another sweep: its point 0 has hw_digest")
    assert why["part-000001.parquet"] == "is not in the manifest"
    assert why["part-000099.parquet"].startswith("is not a part of this sweep")
    assert len(msgs) == 4 and df.attrs["resumed_points"] == 0
    _same(df, out, reference)


def test_parts_without_a_manifest_are_not_trusted(tmp_path, reference):
    out = tmp_path / "n.parquet"
    parts = _interrupted(SPEC, out, 2)
    (parts / "manifest.json").unlink()
    df, _ = _resume(out)
    assert sorted(r["part"] for r in df.attrs["rejected_parts"]) == ["part-000000.parquet", "part-000001.parquet"]
    _same(df, out, reference)


@pytest.mark.parametrize("garbage", [b'{"format": 1, "run_id": "', b"\x00\xff", b"[1, 2]",
                                     b'{"format": 1, "run_id": "x", "identity": {}, "parts": {}, "extra": 1}'])
def test_corrupted_manifest_is_a_clear_error_and_force_starts_over(tmp_path, reference, garbage):
    out = tmp_path / "g.parquet"
    parts = _interrupted(SPEC, out, 2)
    manifest = parts / "manifest.json"
    if b'"run_id": "x"' in garbage:  # well-formed JSON with this sweep's run id but an unknown key
        garbage = garbage.replace(b'"x"', json.dumps(json.loads(manifest.read_text())["run_id"]).encode())
    manifest.write_bytes(garbage)
    with pytest.raises(SweepError) as ei:
        _resume(out)
    msg = str(ei.value)
    assert msg.startswith(f"{manifest}: the sweep manifest is corrupted (") and "--force" in msg
    assert "2 part file(s)" in msg and "\n" not in msg
    assert manifest.read_bytes() == garbage and len(list(parts.glob("part-*"))) == 2  # nothing touched
    df, msgs = _resume(out, force=True)
    assert msgs == [] and df.attrs["resumed_points"] == 0
    _same(df, out, reference)


def test_foreign_manifest_is_refused_naming_both_digests(tmp_path, reference):
    out = tmp_path / "f.parquet"
    other = _interrupted(OTHER, tmp_path / "o.parquet", 1)
    shutil.copytree(other, out.with_name(out.name + ".parts"))
    with pytest.raises(SweepError) as ei:
        _resume(out)
    msg = str(ei.value)
    assert "holds partial results of a different sweep" in msg and "--force" in msg
    assert f"spec digest {OTHER.digest()}" in msg and f"spec digest {SPEC.digest()}" in msg
    assert "they differ in spec_hash, sweep" in msg
    df, _ = _resume(out, force=True)
    _same(df, out, reference)


def test_a_final_table_of_another_sweep_is_never_replaced(tmp_path, reference):
    out = tmp_path / "x.parquet"
    run_sweep(OTHER, WL, out, executor=SerialExecutor(), batch_size=BATCH)
    before = out.read_bytes()
    with pytest.raises(SweepError, match=rf"holds the results of a different sweep \(spec digest {OTHER.digest()}"):
        _resume(out)
    out.write_bytes(b"not parquet")
    with pytest.raises(SweepError, match="is not a readable Parquet table; choose another output path, or rerun with "
                                         "--force"):
        _resume(out)
    assert out.read_bytes() == b"not parquet" and before
    df, _ = _resume(out, force=True)
    _same(df, out, reference)


@pytest.mark.parametrize("moment", ["staging the part", "tearing the journal line", "after the journal entry"])
def test_interruption_at_each_moment_of_a_commit(tmp_path, reference, monkeypatch, moment):
    """Batch 1's commit is: stage part (temp file) → append its journal line (fsync) → rename part in.
    Interrupting at each step leaves a state that resumes without rejections to the identical table."""
    out = tmp_path / "k.parquet"
    real_stage, real_publish, real_append = sweep_mod._stage, sweep_mod._publish, sweep_mod._append_line

    def stage(path, data):
        if moment == "staging the part" and path.name == "part-000001.parquet":
            path.with_name(f".{path.name}.tmp-1").write_bytes(data[:10])  # a torn temp file
            raise Stop
        return real_stage(path, data)

    def append(path, line):
        if moment == "tearing the journal line" and b"part-000001" in line:
            real_append(path, line[:len(line) // 2])  # killed mid-write: no newline
            raise Stop
        real_append(path, line)

    def publish(tmp, path):
        if moment == "after the journal entry" and path.name == "part-000001.parquet":
            raise Stop
        real_publish(tmp, path)

    monkeypatch.setattr(sweep_mod, "_stage", stage)
    monkeypatch.setattr(sweep_mod, "_publish", publish)
    monkeypatch.setattr(sweep_mod, "_append_line", append)
    with pytest.raises(Stop):
        run_sweep(SPEC, WL, out, executor=SerialExecutor(), batch_size=BATCH)
    monkeypatch.undo()
    parts = out.with_name(out.name + ".parts")
    assert [p.name for p in parts.glob("part-*")] == ["part-000000.parquet"] and not out.exists()
    df, msgs = _resume(out)
    assert msgs == [] and df.attrs["resumed_points"] == 2
    _same(df, out, reference)


def test_a_running_sweep_holds_a_lock(tmp_path):
    fcntl = pytest.importorskip("fcntl")
    out = tmp_path / "l.parquet"
    parts = out.with_name(out.name + ".parts")
    parts.mkdir()
    with open(parts / ".lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(SweepError, match="is in use by another running sweep"):
            _resume(out)


def test_per_layer_resume_with_a_batch_of_dropped_points(tmp_path):
    """Per-layer tables: a batch whose points are all dropped has no ``layer`` column; it is still a valid
    part, and the resumed table equals an uninterrupted run."""
    data = _spec("pl", [27648, 110592])
    data["parameters"].append({"path": "levels.spad.partitions_bytes.inputs", "values": [24, 3]})
    data["parameters"].append({"path": "bitwidths.inputs", "values": [16, 32]})  # 3 bytes x 32 bits: invalid
    sw = parse_sweep(data, "pl.yaml", ROOT)
    assert sum(p.dropped for p in sw.points()) == 4
    ref_out = tmp_path / "ref.parquet"
    ref = run_sweep(sw, WL, ref_out, executor=SerialExecutor(), batch_size=1, per_layer=True)
    out = tmp_path / "pl.parquet"

    def progress(done, total):
        if done >= 6:
            raise Stop

    with pytest.raises(Stop):
        run_sweep(sw, WL, out, executor=SerialExecutor(), batch_size=1, per_layer=True, progress=progress)
    msgs: list[str] = []
    df = run_sweep(sw, WL, out, executor=SerialExecutor(), batch_size=1, per_layer=True, log=msgs.append)
    assert msgs == [] and df.attrs["resumed_points"] == 6
    pd.testing.assert_frame_equal(df, ref)
    assert out.read_bytes() == ref_out.read_bytes()


def test_a_finished_table_does_not_clean_another_sweeps_parts(tmp_path, reference):
    out = tmp_path / "d.parquet"
    run_sweep(SPEC, WL, out, executor=SerialExecutor(), batch_size=BATCH)
    with pytest.raises(Stop):  # --force run of another sweep into the same path, interrupted
        run_sweep(OTHER, WL, out, executor=SerialExecutor(), batch_size=BATCH, force=True,
                  progress=lambda d, t: (_ for _ in ()).throw(Stop) if d else None)
    parts = out.with_name(out.name + ".parts")
    assert len(list(parts.glob("part-*"))) == 1
    df, _ = _resume(out)  # this sweep's table is returned; the other sweep's parts stay
    _same(df, out, reference)
    assert len(list(parts.glob("part-*"))) == 1
