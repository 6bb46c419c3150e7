"""One command-line vocabulary: version, -v anywhere, old flag spellings, exit codes, stdout."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from radiopipe import __version__
from radiopipe.cli import UNEXPECTED_EXIT, USER_ERROR_EXIT

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "pipelines" / "demo.yaml"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch) -> None:
    """Relative paths in these commands (``--out o``) land in a temporary folder, not the
    checkout."""
    monkeypatch.chdir(tmp_path)


def _one_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1, text
    return lines[0]


def test_version(cli) -> None:
    result = cli("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"radiopipe {__version__}"


def test_verbose_is_accepted_after_the_command_and_results_go_to_stdout(cli) -> None:
    for args in (("-v", "run", DEMO, "--dry-run"), ("run", DEMO, "--dry-run", "-v")):
        result = cli(*args)
        assert result.exit_code == 0, result.output
        assert "cohort -> validate -> segment -> design" in " ".join(result.stdout.split())
        assert "cohort ->" not in result.stderr


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["validate", "manifest.csv", "--mask-labels", "0,a"], "--mask-labels"),
        (
            [
                "import",
                "nnunet",
                ".",
                "--clinical",
                "c.csv",
                "--out",
                "m.csv",
                "--channel",
                "a=t2w",
            ],
            "--channel",
        ),
        (
            [
                "extract",
                "--manifest",
                "m.csv",
                "--params",
                "p.yaml",
                "--out",
                "o",
                "--memory-limit",
                "lots",
            ],
            "--memory-limit",
        ),
        (["train", "--features", "f.parquet", "--out", "o", "--workers", "many"], "--workers"),
        (["synth", "--out", "o", "--sites", "A:3", "--workers", "-2"], "--workers"),
    ],
)
def test_a_bad_flag_value_is_one_line_naming_the_flag_with_exit_2(cli, args, flag) -> None:
    result = cli(*args)
    assert result.exit_code == USER_ERROR_EXIT
    line = _one_line(result.output)
    assert line.startswith("error:") and flag in line


def test_old_spellings_still_work_but_are_hidden(cli) -> None:
    help_text = cli("extract", "--help").output
    assert "--params" in help_text and "--config" not in help_text
    train_help = cli("train", "--help").output
    assert "--workers" in train_help and "--n-jobs" not in train_help
    merge_help = cli("deep", "merge", "--help").output
    assert "--run" in merge_help and "--into" not in merge_help
    # the old flag reaches the new option: the error is about the (missing) file, not the flag
    old = cli("train", "--features", "nowhere.parquet", "--out", "o", "--n-jobs", "2")
    assert old.exit_code == USER_ERROR_EXIT and "nowhere.parquet" in old.output
    into = cli("deep", "merge", "nowhere", "--into", "nowhere-run")
    assert into.exit_code != 0 and "No such option" not in into.output


def test_an_unexpected_error_is_one_line_naming_the_log_with_exit_3(cli, monkeypatch) -> None:
    import radiopipe.pipeline

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(radiopipe.pipeline, "build_stages", broken)
    result = cli("run", DEMO, "--dry-run")
    assert result.exit_code == UNEXPECTED_EXIT
    line = _one_line(result.output)
    assert "ZeroDivisionError: a bug" in line
    log = Path(line.rsplit("traceback in ", 1)[1].rstrip(")"))
    assert "Traceback" in log.read_text(encoding="utf-8") and "ZeroDivisionError" in log.read_text(
        encoding="utf-8"
    )
    log.unlink()


def test_design_command_through_the_engine(cli, synthetic_cohort, tmp_path) -> None:
    from radiopipe.modeling.design import DesignSettings, design_from_manifest

    manifest = synthetic_cohort(sites="A:30,B:10", size="tiny", external_sites=["B"])
    out = tmp_path / "design"
    result = cli("design", "--manifest", manifest, "--out", out, "--folds", "3", "--seed", "5")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out / "design.json")
    design = json.loads((out / "design.json").read_text(encoding="utf-8"))
    assert design["design"] == "fixed_split" and design["folds"] == 3 and design["seed"] == 5
    folds = pd.read_csv(out / "folds.csv", dtype={"patient_id": str})
    settings = DesignSettings(outer_folds=3, seed=5)
    _, expected = design_from_manifest(manifest, settings)
    pd.testing.assert_frame_equal(folds, expected.astype({"repeat": "int64", "fold": "int64"}))
    provenance = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["command"] == "design" and provenance["seed"] == 5
    assert provenance["inputs"]["manifest"]["path"] == str(Path(manifest).resolve())
    again = cli("design", "--manifest", manifest, "--out", out, "--folds", "3", "--seed", "5")
    assert again.exit_code == 0 and "up to date" in again.output
    other = cli("design", "--manifest", manifest, "--out", out, "--folds", "3", "--seed", "6")
    assert other.exit_code == 0 and "up to date" not in other.output
    assert not pd.read_csv(out / "folds.csv", dtype={"patient_id": str}).equals(folds)


def test_import_out_is_a_folder_and_the_manifest_goes_to_stdout(cli, tmp_path) -> None:
    from tests.cohort.test_importers import clinical_csv, nnunet_dataset

    cases = ["case_001", "case_002", "case_003", "case_004"]
    root = nnunet_dataset(tmp_path / "Dataset501_Fibroid", cases)
    clinical = clinical_csv(tmp_path / "clinical.csv", cases)
    result = cli("import", "nnunet", root, "--clinical", clinical, "--out", tmp_path / "cohort",
                 "--channel", "0=t2w", "--channel", "1=cet1w")  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = tmp_path / "cohort" / "manifest.csv"
    assert result.stdout.strip() == str(manifest)
    assert {"image_t2w", "image_cet1w"} <= set(pd.read_csv(manifest).columns)
    old = cli("import", "nnunet", root, "--clinical", clinical, "--out", tmp_path / "old.csv")
    assert old.exit_code == 0 and (tmp_path / "old.csv").is_file()  # the old meaning still works
