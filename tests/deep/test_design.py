from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from radiopipe.deep.design import plan_tasks, read_folds, resolve_design
from radiopipe.errors import RadiopipeError


def _cohort(n_train: int = 12) -> pd.DataFrame:
    splits = ["train"] * n_train + ["internal_test"] * 3 + ["external_test"] * 2
    return pd.DataFrame(
        {"patient_id": [f"P{i}" for i in range(len(splits))], "split": splits,
         "label": [i % 2 for i in range(len(splits))]}
    )  # fmt: skip


def _plan(cohort: pd.DataFrame, folds: pd.DataFrame | None = None, design: str = "auto"):
    design = resolve_design(design, cohort["split"])
    return design, plan_tasks(cohort, design, folds, n_folds=3, seed=0)


def test_fixed_design_final_model_and_seeded_inner_cv() -> None:
    cohort = _cohort()
    design, tasks = _plan(cohort)
    assert design == "fixed_split"
    assert [t.name for t in tasks] == ["final", "oof_r0_f0", "oof_r0_f1", "oof_r0_f2"]
    train = set(cohort.loc[cohort["split"] == "train", "patient_id"])
    final = tasks[0]
    assert set(final.train) == train
    assert {(s, f) for _, s, f in final.predict} == {("train", -1), ("internal_test", -1),
                                                    ("external_test", -1)}  # fmt: skip
    held = [p for t in tasks[1:] for p, s, _ in t.predict if s == "train_oof"]
    assert sorted(held) == sorted(train), "each training patient is out-of-fold exactly once"
    for task in tasks[1:]:
        assert not set(task.train) & {p for p, _, _ in task.predict}
    assert _plan(cohort)[1] == tasks, "same seed, same folds"


def test_fixed_design_needs_training_patients_of_both_classes() -> None:
    with pytest.raises(RadiopipeError, match="fixed_split design needs"):
        resolve_design("fixed_split", _cohort().assign(split="internal_test")["split"])
    with pytest.raises(RadiopipeError, match="only label 0"):
        _plan(_cohort().assign(label=0))


def _folds(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "folds.csv"
    frame.to_csv(path, index=False)
    return path


def _two_repeats(ids: list[str]) -> pd.DataFrame:
    n = len(ids)
    return pd.DataFrame(
        {"patient_id": ids * 2, "repeat": [0] * n + [1] * n,
         "fold": [i % 3 for i in range(n)] + [(i + 1) % 3 for i in range(n)]}
    )  # fmt: skip


def test_radiomics_folds_give_the_same_out_of_fold_fits(tmp_path: Path) -> None:
    """Fixed design with the train stage's folds.csv: train_oof rows on exactly its folds."""
    cohort = _cohort(n_train=9)
    ids = list(cohort["patient_id"][:9])
    folds = read_folds(_folds(tmp_path, _two_repeats(ids)), list(cohort["patient_id"]))
    _, tasks = _plan(cohort, folds)
    assert [t.name for t in tasks] == ["final"] + [
        f"oof_r{r}_f{k}" for r in (0, 1) for k in range(3)
    ]
    r1f2 = tasks[6]
    held = {p for p, _, _ in r1f2.predict}
    assert held == {"P1", "P4", "P7"} and {f for _, _, f in r1f2.predict} == {1 * 3 + 2}
    assert set(r1f2.train) == set(ids) - held
    assert all(s == "train_oof" for t in tasks[1:] for _, s, _ in t.predict)


def test_nested_design_uses_every_patient_outside_the_test_splits(tmp_path: Path) -> None:
    cohort = _cohort(n_train=9)
    cohort.loc[:8, "split"] = ""  # a cohort without splits, plus a held-out test set
    cohort.loc[2, "split"] = "train"
    ids = list(cohort["patient_id"][:9])
    folds = read_folds(_folds(tmp_path, _two_repeats(ids)), list(cohort["patient_id"]))
    design, tasks = _plan(cohort, folds, design="nested_cv")
    assert design == "nested_cv"
    assert tasks[1].name == "cv_r0_f0"
    assert all(s == "cv" for t in tasks[1:] for _, s, _ in t.predict)
    assert set(tasks[0].train) == set(ids)
    assert {s for _, s, _ in tasks[0].predict} == {"train", "internal_test", "external_test"}
    assert resolve_design("auto", cohort.loc[:8, "split"].replace("train", "")) == "nested_cv"


def test_folds_with_test_patients_are_refused(tmp_path: Path, caplog) -> None:
    cohort = _cohort(n_train=9)
    ids = [*cohort["patient_id"][:8], "P12"]  # P12 is internal_test; P8 left out
    folds = read_folds(_folds(tmp_path, _two_repeats(ids)), list(cohort["patient_id"]))
    with pytest.raises(RadiopipeError, match=r"not training patients of the fixed_split.*P12"):
        _plan(cohort, folds)
    ok = folds.loc[folds["patient_id"] != "P12"]
    _, tasks = _plan(cohort, ok)
    assert "P8" not in tasks[0].train and "left out as in the radiomics run" in caplog.text


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"patient_id": ["P0"], "fold": [0]}), "lacks column.*repeat"),
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
