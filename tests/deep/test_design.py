from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from radiopipe.deep.design import cv_design, fixed_design, read_folds
from radiopipe.errors import RadiopipeError


def _cohort(n_train: int = 12) -> pd.DataFrame:
    splits = ["train"] * n_train + ["internal_test"] * 3 + ["external_test"] * 2
    return pd.DataFrame(
        {"patient_id": [f"P{i}" for i in range(len(splits))], "split": splits,
         "label": [i % 2 for i in range(len(splits))]}
    )  # fmt: skip


def test_fixed_design_final_model_and_inner_cv() -> None:
    cohort = _cohort()
    tasks = fixed_design(cohort, n_folds=3, seed=0)
    assert [t.name for t in tasks] == ["final", "oof_f0", "oof_f1", "oof_f2"]
    train = set(cohort.loc[cohort["split"] == "train", "patient_id"])
    final = tasks[0]
    assert set(final.train) == train
    assert {(s, f) for _, s, f in final.predict} == {("train", -1), ("internal_test", -1),
                                                    ("external_test", -1)}  # fmt: skip
    held = [p for t in tasks[1:] for p, s, _ in t.predict if s == "train_oof"]
    assert sorted(held) == sorted(train), "each training patient is out-of-fold exactly once"
    for task in tasks[1:]:
        assert not set(task.train) & {p for p, _, _ in task.predict}
    assert fixed_design(cohort, 3, seed=0) == tasks, "same seed, same folds"


def test_fixed_design_needs_training_patients_of_both_classes() -> None:
    with pytest.raises(RadiopipeError, match=r"no patient has split 'train'.*--folds"):
        fixed_design(_cohort().assign(split="internal_test"), 3, 0)
    with pytest.raises(RadiopipeError, match="only label 0"):
        fixed_design(_cohort().assign(label=0), 3, 0)


def _folds(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "folds.csv"
    frame.to_csv(path, index=False)
    return path


def test_cv_design_uses_outer_folds_with_repeat_codes(tmp_path: Path) -> None:
    ids = [f"P{i}" for i in range(9)]
    frame = pd.DataFrame(
        {"patient_id": ids * 2, "repeat": [0] * 9 + [1] * 9,
         "fold": [i % 3 for i in range(9)] + [(i + 1) % 3 for i in range(9)]}
    )  # fmt: skip
    folds = read_folds(_folds(tmp_path, frame), ids)
    tasks = cv_design(folds)
    assert [t.name for t in tasks] == [f"cv_r{r}_f{k}" for r in (0, 1) for k in range(3)]
    r1f2 = tasks[5]
    held = {p for p, _, _ in r1f2.predict}
    assert held == {"P1", "P4", "P7"} and {f for _, _, f in r1f2.predict} == {1 * 3 + 2}
    assert set(r1f2.train) == set(ids) - held
    assert all(s == "cv" for t in tasks for _, s, _ in t.predict)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"patient_id": ["P0"], "fold": [0]}), "missing column.*repeat"),
        (pd.DataFrame({"patient_id": ["P0", "Z9"], "repeat": [0, 0], "fold": [0, 1]}),
         "not in the manifest: Z9"),
        (pd.DataFrame({"patient_id": ["P0", "P1"], "repeat": [0, 0], "fold": [1, 2]}),
         "number its folds 0..1"),
        (pd.DataFrame({"patient_id": ["P0", "P0"], "repeat": [0, 0], "fold": [0, 1]}),
         "P0 appears twice"),
    ],
)  # fmt: skip
def test_bad_folds_files_are_explained(tmp_path: Path, frame: pd.DataFrame, message: str):
    with pytest.raises(RadiopipeError, match=message):
        read_folds(_folds(tmp_path, frame), ["P0", "P1"])
