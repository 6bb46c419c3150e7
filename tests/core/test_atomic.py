from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from radiopipe.atomic import (
    atomic_path,
    read_parquet_metadata,
    write_csv,
    write_json,
    write_parquet,
    write_text,
)


def test_failed_write_keeps_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "table.csv"
    write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half written")
        raise RuntimeError("crash in the middle")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_temporary_keeps_double_suffix(tmp_path: Path) -> None:
    with atomic_path(tmp_path / "x.nii.gz") as tmp:
        assert tmp.name.endswith(".nii.gz") and tmp.parent == tmp_path
        tmp.write_bytes(b"")


def test_parquet_metadata_round_trip(tmp_path: Path) -> None:
    frame = pd.DataFrame({"patient_id": ["a", "b"], "t2w__x": [1.0, 2.0]})
    path = write_parquet(tmp_path / "f.parquet", frame, {"settings_sha256": "abc"})
    assert read_parquet_metadata(path) == {"settings_sha256": "abc"}
    assert pd.read_parquet(path).equals(frame)


def test_json_and_csv(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", {"b": 1, "a": [1, 2]})
    assert (tmp_path / "a.json").read_text(encoding="utf-8").startswith('{\n  "a"')
    write_csv(tmp_path / "a.csv", pd.DataFrame({"x": [1]}))
    assert (tmp_path / "a.csv").read_text(encoding="utf-8") == "x\n1\n"


def test_outputs_follow_the_umask(tmp_path: Path) -> None:
    import os

    old = os.umask(0o022)
    try:
        path = write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
