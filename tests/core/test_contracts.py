"""The shared contracts: split names, table checks and the run layout."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from radiopipe.contracts import (
    PREDICTIONS_COLUMNS,
    ContractError,
    RunLayout,
    Split,
    TrainLayout,
    check_features,
    check_folds,
    check_icc,
    check_predictions,
    check_thresholds,
)

ROOT = Path(__file__).resolve().parents[2]


def _predictions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": ["P1", "P2"],
            "split": [Split.TRAIN_OOF.value, "external_test"],
            "fold": [0, -1],
            "model": ["stack", "stack"],
            "probability": [0.2, 0.7],
            "label": [0, 1],
        }
    )


def test_split_members_are_their_strings() -> None:
    assert Split.TRAIN == "train" and f"{Split.CV}" == "cv" and str(Split.TRAIN_OOF) == "train_oof"
    frame = pd.DataFrame({"split": ["train", "cv", "internal_test"]})
    assert (frame["split"] == Split.CV).tolist() == [False, True, False]
    assert json.dumps({Split.EXTERNAL_TEST: 1}) == '{"external_test": 1}'
    assert [s.value for s in Split] == [
        "train", "internal_test", "external_test", "train_oof", "cv",
    ]  # fmt: skip


def test_predictions_check_names_the_file_and_the_column(tmp_path: Path) -> None:
    frame = _predictions()
    assert check_predictions(frame, "p.parquet") is frame
    assert tuple(frame.columns) == PREDICTIONS_COLUMNS
    with pytest.raises(ContractError, match=r"p\.parquet: .*lacks column\(s\) label"):
        check_predictions(frame.drop(columns="label"), "p.parquet")
    with pytest.raises(ContractError, match=r"p\.parquet: column 'probability' .* float"):
        check_predictions(frame.assign(probability=["a", "b"]), "p.parquet")
    with pytest.raises(ContractError, match=r"column 'fold' .* int"):
        check_predictions(frame.assign(fold=[0.5, 1]), "p.parquet")
    with pytest.raises(ContractError, match=r"unknown split name.*validation"):
        check_predictions(frame.assign(split=["validation", "cv"]), "p.parquet")


def test_folds_icc_features_thresholds_checks() -> None:
    folds = pd.DataFrame({"patient_id": ["A", "B"], "repeat": [0, 0], "fold": [0, 1]})
    check_folds(folds, "folds.csv")
    with pytest.raises(ContractError, match=r"folds\.csv: patient\(s\) A appear twice"):
        check_folds(pd.concat([folds, folds.head(1)]), "folds.csv")
    with pytest.raises(ContractError, match=r"icc\.parquet: .*lacks column\(s\) icc"):
        check_icc(pd.DataFrame({"feature": ["x"]}), "icc.parquet")
    check_icc(pd.DataFrame({"feature": ["x"], "icc": [0.9]}), "icc.parquet")
    features = pd.DataFrame({"patient_id": ["A"], "t2w__original_shape_Volume": [1.0]})
    check_features(features, "f.parquet")
    with pytest.raises(ContractError, match="first column must be 'patient_id'"):
        check_features(features.iloc[:, ::-1], "f.parquet")
    with pytest.raises(ContractError, match="not numeric"):
        check_features(features.assign(bad=["x"]), "f.parquet")
    assert check_thresholds({"stack": 0.4}, "t.json") == {"stack": 0.4}
    with pytest.raises(ContractError, match=r"t\.json: threshold of model stack must lie in"):
        check_thresholds({"stack": 1.5}, "t.json")


def test_run_layout_names_every_stage_file(tmp_path: Path) -> None:
    run = RunLayout(tmp_path)
    assert run.train.predictions == tmp_path / "train" / "predictions.parquet"
    assert run.evaluate.performance == tmp_path / "evaluate" / "performance.csv"
    assert run.design.folds == tmp_path / "design" / "folds.csv"
    assert run.deep.model("vit").predictions == tmp_path / "deep" / "vit" / "predictions.parquet"
    assert run.stage("extract").features == tmp_path / "extract" / "features.parquet"
    with pytest.raises(AttributeError, match="no file 'nothing'"):
        _ = run.train.nothing
    assert TrainLayout(tmp_path).existing("harmonisation") is None
    (tmp_path / "harmonization.csv").write_text("features\nbefore\n")
    assert TrainLayout(tmp_path).existing("harmonisation") == tmp_path / "harmonization.csv"
    (tmp_path / "harmonisation.csv").write_text("features\nbefore\n")
    assert TrainLayout(tmp_path).existing("harmonisation") == tmp_path / "harmonisation.csv"


def test_no_bare_split_comparison_outside_contracts() -> None:
    """What the shared hook checks: split names are compared through ``Split`` only."""
    pattern = re.compile(r"""[!=]= *['"](train|internal_test|external_test|train_oof|cv)['"]""")
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "radiopipe").rglob("*.py"))
        if path.name != "contracts.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if pattern.search(line)
    ]
    assert found == []
