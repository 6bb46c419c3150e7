from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import yaml

from radiopipe.errors import RadiopipeError
from radiopipe.runs import RunFolder
from tests.core.test_config import Settings


def test_record_saves_config_and_provenance(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("patient_id\nA\n")
    run = RunFolder.named("study1", base=tmp_path / "runs")
    prov = run.record("train", config=Settings(seed=7), seed=7, manifest=manifest)
    assert run.root == tmp_path / "runs" / "study1"
    saved = json.loads(run.path("provenance.json").read_text(encoding="utf-8"))
    assert saved["seed"] == 7 and saved["command"] == "train"
    assert len(saved["manifest"]["sha256"]) == 64
    assert saved["packages"]["numpy"] and saved["radiopipe"]
    assert "git_commit" in saved and saved == json.loads(json.dumps(prov, default=str))
    assert yaml.safe_load(run.path("config.resolved.yaml").read_text(encoding="utf-8"))["seed"] == 7


def test_run_names_are_plain_folder_names(tmp_path: Path) -> None:
    for bad in ("../escape", "a/b", "", ".hidden"):
        with pytest.raises(RadiopipeError, match="plain folder name"):
            RunFolder.named(bad, base=tmp_path)


def test_log_file_receives_records(tmp_path: Path) -> None:
    run = RunFolder.at(tmp_path / "r")
    handler = run.attach_log()
    try:
        logging.getLogger("radiopipe.test").info("hello from the test")
    finally:
        logging.getLogger("radiopipe").removeHandler(handler)
        handler.close()
    assert "hello from the test" in run.path("radiopipe.log").read_text(encoding="utf-8")


def test_stage_markers_follow_key_and_outputs(tmp_path: Path) -> None:
    run = RunFolder.at(tmp_path / "r")
    out = run.path("features.parquet")
    out.write_text("x")
    assert not run.stage_done("extract", "k1")
    run.mark_stage("extract", "k1", [out])
    assert run.stage_done("extract", "k1")
    assert not run.stage_done("extract", "k2"), "a different key means different inputs"
    out.unlink()
    assert not run.stage_done("extract", "k1"), "a missing output means the stage must rerun"
