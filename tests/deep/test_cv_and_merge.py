"""The nested-CV design through the CLI, and merging into a radiomics run's table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from radiopipe.cohort.manifest import read_manifest
from radiopipe.config import load_config
from radiopipe.config.deep import DeepConfig
from radiopipe.deep.merge import merge_predictions
from radiopipe.deep.predict import predictions_frame
from radiopipe.errors import RadiopipeError
from tests.deep.conftest import tiny_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "deep"


def _radiomics_run(folder: Path, folds: pd.DataFrame, labels: pd.Series) -> Path:
    """A stand-in for nested-CV `radiopipe train` output: svm and stack rows on the outer
    folds, and the final model's apparent (train, fold -1) rows."""
    rng = np.random.default_rng(0)
    rows = [
        {"patient_id": p, "split": split, "fold": r * 2 + k if split == "cv" else -1,
         "model": model, "probability": rng.uniform(), "label": int(labels[p])}
        for model in ("svm", "stack") for split in ("cv", "train")
        for p, r, k in folds.itertuples(index=False)
    ]  # fmt: skip
    folder.mkdir(parents=True)
    predictions_frame(rows).to_parquet(folder / "predictions.parquet")
    (folder / "thresholds.json").write_text(json.dumps({"svm": 0.4}))
    return folder


pytestmark = pytest.mark.xdist_group("deep_cv")


def _absolute_manifest(manifest: Path, out: Path, rows: slice | None = None, **changes) -> Path:
    """A copy of ``manifest`` (optionally some rows, some columns changed) with absolute paths."""
    table = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    table = table.iloc[rows] if rows is not None else table
    for column in [c for c in table.columns if c.startswith(("image_", "mask_"))]:
        table[column] = [str(manifest.parent / v) if v else "" for v in table[column]]
    for column, value in changes.items():
        table[column] = value
    table.to_csv(out, index=False)
    return out


@pytest.fixture(scope="module")
def cv_setup(toy_manifest: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """`radiopipe deep train --folds ... --merge-into ...` on a 16-patient cohort without
    splits (nested CV) in 2 outer folds."""
    from typer.testing import CliRunner

    from radiopipe.cli import app

    root = tmp_path_factory.mktemp("cv")
    manifest = _absolute_manifest(toy_manifest, root / "manifest.csv", slice(0, 16), split="")
    table = read_manifest(manifest).table
    ids = list(table["patient_id"])
    folds = pd.DataFrame({"patient_id": ids, "repeat": 0, "fold": [i % 4 // 2 for i in range(16)]})
    folds.to_csv(root / "folds.csv", index=False)
    labels = table.set_index("patient_id")["label"].astype(int)
    shipped = load_config(CONFIGS / "tiny_cnn.yaml", DeepConfig)  # the shipped CPU config,
    config = shipped.model_dump(mode="json")  # with 2 epochs to keep the test short
    config["training"].update(epochs=2, patience=2)
    (root / "tiny.yaml").write_text(yaml.safe_dump(config))
    run = _radiomics_run(root / "radiomics", folds, labels)
    args = ["deep", "train", "--manifest", manifest, "--config", root / "tiny.yaml",
            "--out", root / "deep", "--folds", root / "folds.csv", "--merge-into", run]  # fmt: skip
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    return {"root": root, "folds": folds, "run": run, "result": result}


def test_cli_trains_on_outer_folds_and_merges(cv_setup: dict) -> None:
    root, run, result = cv_setup["root"], cv_setup["run"], cv_setup["result"]
    assert result.exit_code == 0, result.output
    assert "cv" in result.output and "merged into" in result.output
    deep = pd.read_parquet(root / "deep" / "predictions.parquet")
    assert set(deep["split"]) == {"cv", "train"}, "out-of-fold rows and the final network's"
    cv = deep.loc[deep["split"] == "cv"]
    expected = {(p, k) for p, _, k in cv_setup["folds"].itertuples(index=False)}
    assert set(zip(cv["patient_id"], cv["fold"], strict=True)) == expected
    merged = pd.read_parquet(run / "predictions.parquet")
    assert sorted(merged["model"].unique()) == ["densenet", "stack", "svm"]
    assert len(merged) == 3 * 2 * len(expected)
    thresholds = json.loads((run / "thresholds.json").read_text(encoding="utf-8"))
    assert set(thresholds) == {"svm", "densenet"}, "the deep threshold comes from the cv rows"
    index = pd.read_csv(root / "deep" / "explanations" / "index.csv")
    assert set(index["split"]) == {"cv"}, "CV patients explained by their own fold's network"
    # merging again replaces the deep rows instead of duplicating them
    assert len(merge_predictions(root / "deep", run)) == 3 * 2 * len(expected)


def test_merge_refuses_other_splits(cv_setup: dict, tmp_path: Path) -> None:
    root = cv_setup["root"]
    folds = cv_setup["folds"].assign(fold=lambda f: 1 - f["fold"])
    labels = pd.Series(0, index=folds["patient_id"])
    other = _radiomics_run(tmp_path / "other", folds, labels)
    with pytest.raises(RadiopipeError, match="does not use the run's patients/folds"):
        merge_predictions(root / "deep", other)
    before = pd.read_parquet(other / "predictions.parquet")
    assert set(before["model"]) == {"svm", "stack"}, "a refused merge leaves the table alone"


def test_cli_reports_a_missing_mask_with_the_patient(cli, toy_manifest: Path, tmp_path: Path):
    manifest = _absolute_manifest(toy_manifest, tmp_path / "manifest.csv")
    table = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    table.loc[3, ["mask_t2w", "mask_cet1w"]] = ""
    table.to_csv(manifest, index=False)
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(tiny_config().model_dump(mode="json")))
    result = cli(
        "deep", "train", "--manifest", manifest, "--config", config, "--out", tmp_path / "o"
    )
    assert result.exit_code == 2
    assert "patient P003" in result.output and "mask_t2w" in result.output


def test_cli_merge_writes_the_combined_table_elsewhere(cli, cv_setup: dict, tmp_path: Path):
    root, run = cv_setup["root"], cv_setup["run"]
    before = (run / "predictions.parquet").read_bytes()
    result = cli("deep", "merge", root / "deep", "--into", run, "--out", tmp_path / "evaluate")
    assert result.exit_code == 0, result.output
    combined = pd.read_parquet(tmp_path / "evaluate" / "predictions.parquet")
    assert sorted(combined["model"].unique()) == ["densenet", "stack", "svm"]
    assert (run / "predictions.parquet").read_bytes() == before, "--into is left unchanged"
    thresholds = json.loads((tmp_path / "evaluate" / "thresholds.json").read_text(encoding="utf-8"))
    assert set(thresholds) == {"svm", "densenet"}
