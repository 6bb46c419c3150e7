"""End to end on the toy cohort: the fixed design, its contract, determinism and resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from radiopipe.cohort.manifest import read_manifest
from radiopipe.deep.predict import PREDICTION_COLUMNS, load_model, predict_manifest
from radiopipe.deep.runner import DeepRun, train_deep
from radiopipe.deep.stage import run_deep_stage
from radiopipe.deep.trainer import Trainer
from radiopipe.errors import RadiopipeError
from tests.deep.conftest import tiny_config

CONFIG = tiny_config(epochs=4, patience=4)

pytestmark = pytest.mark.xdist_group("deep_fixed")


@pytest.fixture(scope="module")
def folds_csv(toy_manifest: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A radiomics run's folds.csv for the 24 training patients: 2 folds, both classes in each."""
    table = read_manifest(toy_manifest).table
    ids = list(table.loc[table["split"] == "train", "patient_id"])
    folds = pd.DataFrame(
        {"patient_id": ids, "repeat": 0, "fold": [(i // 2) % 2 for i in range(24)]}
    )
    path = tmp_path_factory.mktemp("radiomics") / "folds.csv"
    folds.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def design_dir(folds_csv: Path) -> Path:
    """A design stage's folder around ``folds_csv`` (fixed_split, 2 folds)."""
    from dataclasses import asdict

    from radiopipe.atomic import write_json
    from radiopipe.modeling.design import Design

    write_json(folds_csv.parent / "design.json", asdict(Design("fixed_split", 2, 1, 0, True,
                                                               "stack", 24)))  # fmt: skip
    return folds_csv.parent


@pytest.fixture(scope="module")
def fixed_run(
    toy_manifest: Path, folds_csv: Path, tmp_path_factory: pytest.TempPathFactory
) -> DeepRun:
    return train_deep(toy_manifest, CONFIG, tmp_path_factory.mktemp("deep") / "run", folds_csv)


def test_predictions_follow_the_table_contract(
    fixed_run: DeepRun, toy_manifest: Path, folds_csv: Path
) -> None:
    table = pd.read_parquet(fixed_run.folder / "predictions.parquet")
    assert tuple(table.columns) == PREDICTION_COLUMNS
    assert {c: str(t) for c, t in table.dtypes.items()} == {
        "patient_id": "object", "split": "object", "fold": "int64", "model": "object",
        "probability": "float64", "label": "int64",
    }  # fmt: skip
    assert set(table["model"]) == {"densenet"}
    assert table["probability"].between(0, 1).all()
    manifest = read_manifest(toy_manifest).table
    for split in ("train", "internal_test", "external_test"):
        rows = table.loc[table["split"] == split]
        assert (rows["fold"] == -1).all()
        assert sorted(rows["patient_id"]) == sorted(
            manifest.loc[manifest["split"] == split, "patient_id"]
        )
    oof = table.loc[table["split"] == "train_oof"]
    assert sorted(oof["patient_id"]) == sorted(
        manifest.loc[manifest["split"] == "train", "patient_id"]
    )
    folds = pd.read_csv(folds_csv, dtype={"patient_id": str})
    assert set(zip(oof["patient_id"], oof["fold"], strict=True)) == set(
        zip(folds["patient_id"], folds["fold"], strict=True)
    ), "the out-of-fold rows reproduce the radiomics folds"
    labels = manifest.set_index("patient_id")["label"].astype(int)
    assert (table["label"].to_numpy() == labels[table["patient_id"]].to_numpy()).all()


def test_the_network_learns_the_lesion_signal(fixed_run: DeepRun) -> None:
    table = fixed_run.predictions
    test = table.loc[table["split"].isin(["internal_test", "external_test"])]
    assert roc_auc_score(test["label"], test["probability"]) > 0.8


def test_threshold_model_and_explanations_are_written(
    fixed_run: DeepRun, toy_manifest: Path, tmp_path: Path
) -> None:
    folder = fixed_run.folder
    thresholds = json.loads((folder / "thresholds.json").read_text(encoding="utf-8"))
    assert set(thresholds) == {"densenet"} and 0 < thresholds["densenet"] <= 1
    model, config, meta = load_model(folder / "model")
    assert not model.training
    assert config == CONFIG and meta["threshold"] == thresholds["densenet"]
    again = predict_manifest(folder / "model", toy_manifest, tmp_path / "scored")
    final = fixed_run.predictions.loc[fixed_run.predictions["fold"] == -1].set_index("patient_id")
    scored = again.set_index("patient_id").loc[final.index]
    np.testing.assert_allclose(scored["probability"], final["probability"], rtol=1e-5)
    index = pd.read_csv(folder / "explanations" / "index.csv")
    assert len(index) == 2 and set(index["label"]) == {0, 1}
    assert set(index["split"]) == {"internal_test"} and set(index["method"]) == {"gradcam"}
    for name in index["file"]:
        assert (folder / "explanations" / name).read_bytes()[:4] == b"\x89PNG"
    history = pd.read_csv(folder / "checkpoints" / "final" / "history.csv")
    assert list(history["epoch"]) == [0, 1, 2, 3]


@pytest.mark.slow
def test_interrupted_run_resumes_to_the_same_numbers(
    fixed_run: DeepRun,
    toy_manifest: Path,
    folds_csv: Path,
    design_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Same seed, same numbers: a fresh run that crashes mid-task and is resumed gives
    exactly the fixture's predictions (the final task fresh, oof_r0_f0 resumed from a
    checkpoint, oof_r0_f1 fresh)."""
    out = tmp_path / "crashy"
    original, calls = Trainer._save, {"n": 0}

    def crash_after_six(self, *args, **kwargs):
        original(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 5:  # final (4 epochs) done, second task in its first epoch
            raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "_save", crash_after_six)
    with pytest.raises(KeyboardInterrupt):
        train_deep(toy_manifest, CONFIG, out, folds_csv)
    monkeypatch.setattr(Trainer, "_save", original)
    assert (out / "parts" / "final.parquet").is_file() and not (
        out / "predictions.parquet"
    ).exists()
    with pytest.raises(RadiopipeError, match="--resume"):
        train_deep(toy_manifest, CONFIG, out, folds_csv)
    with pytest.raises(RadiopipeError, match="folds_sha256 changed"):
        train_deep(toy_manifest, CONFIG, out, resume=True)
    with pytest.raises(RadiopipeError, match="config_sha256 changed"):
        changed = CONFIG.model_copy(update={"seed": 1})
        train_deep(toy_manifest, changed, out, folds_csv, resume=True)
    resumed = run_deep_stage(toy_manifest, design_dir, CONFIG, out)  # the pipeline's entry
    pd.testing.assert_frame_equal(resumed.predictions, fixed_run.predictions)


def test_vit_runs_end_to_end_with_attention_rollout(toy_manifest: Path, tmp_path: Path) -> None:
    config = tiny_config("vit", epochs=1, patience=1)
    run = train_deep(toy_manifest, config, tmp_path / "vit")
    assert set(run.predictions["model"]) == {"vit"}
    assert set(run.predictions["split"]) == {"train", "train_oof", "internal_test", "external_test"}
    index = pd.read_csv(tmp_path / "vit" / "explanations" / "index.csv")
    assert set(index["method"]) == {"attention_rollout"} and len(index) == 2


def test_diverging_training_stops_with_advice(toy_manifest: Path, tmp_path: Path) -> None:
    config = tiny_config(epochs=1, learning_rate=1e30)
    with pytest.raises(RadiopipeError, match=r"diverged .* lower training\.learning_rate"):
        train_deep(toy_manifest, config, tmp_path / "nan")


def _stack_run(folder: Path, deep: pd.DataFrame) -> Path:
    """A stand-in for the train stage: `stack` rows on the deep run's patients and folds,
    scoring the label with noise (so the two models differ), plus an unrelated test patient."""
    rng = np.random.default_rng(1)
    stack = deep.assign(model="stack")
    stack["probability"] = np.clip(0.5 * stack["label"] + rng.uniform(0, 0.6, len(stack)), 0, 1)
    extra = stack.iloc[[-1]].assign(patient_id="ZZ_only_radiomics", split="internal_test")
    folder.mkdir()
    pd.concat([stack, extra]).to_parquet(folder / "predictions.parquet")
    (folder / "thresholds.json").write_text(json.dumps({"stack": 0.5}))
    return folder


def test_combined_with_the_stack_the_evaluation_compares_them_by_delong(
    fixed_run: DeepRun, tmp_path: Path
) -> None:
    from radiopipe.config.evaluate import EvaluateConfig
    from radiopipe.deep.merge import write_combined
    from radiopipe.stats.evaluate import evaluate

    radiomics = _stack_run(tmp_path / "train", fixed_run.predictions)
    with pytest.raises(RadiopipeError, match=r"'internal_test'.*1 missing.*ZZ_only_radiomics"):
        write_combined(radiomics, [fixed_run.folder], tmp_path / "refused")
    table = pd.read_parquet(radiomics / "predictions.parquet")
    table.loc[table["patient_id"] != "ZZ_only_radiomics"].to_parquet(
        radiomics / "predictions.parquet"
    )
    combined = write_combined(radiomics, [fixed_run.folder], tmp_path / "evaluate")
    assert sorted(combined["model"].unique()) == ["densenet", "stack"]
    thresholds = json.loads((tmp_path / "evaluate" / "thresholds.json").read_text(encoding="utf-8"))
    assert set(thresholds) == {"densenet", "stack"}
    result = evaluate(
        tmp_path / "evaluate" / "predictions.parquet",
        tmp_path / "evaluate",
        thresholds=tmp_path / "evaluate" / "thresholds.json",
        config=EvaluateConfig(n_bootstrap=100),
    )
    delong = result.tables["delong.csv"]
    paired = delong.loc[delong["comparison"] == "paired"]
    assert set(paired["split"]) == {"train_oof", "internal_test", "external_test"}  # never apparent
    row = paired.loc[paired["split"] == "internal_test"].iloc[0]
    deep = fixed_run.predictions.query("split == 'internal_test'")
    stack = combined.query("split == 'internal_test' and model == 'stack'")
    assert row["auc_model"] == pytest.approx(roc_auc_score(deep["label"], deep["probability"]))
    assert row["auc_reference"] == pytest.approx(
        roc_auc_score(stack["label"], stack["probability"])
    )
    assert 0 < row["p_value"] <= 1


def test_pipeline_entry_restarts_a_folder_of_other_settings(
    fixed_run: DeepRun, toy_manifest: Path, design_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import radiopipe.deep.runner as runner

    assert runner.run_deep_stage is run_deep_stage  # the old import path still works
    calls = []
    monkeypatch.setattr(runner, "train_deep", lambda *a, **k: calls.append(k))
    run_deep_stage(toy_manifest, design_dir, CONFIG, fixed_run.folder)
    changed = CONFIG.model_copy(update={"seed": 3})
    run_deep_stage(toy_manifest, design_dir, changed, fixed_run.folder)
    run_deep_stage(toy_manifest, design_dir, CONFIG, fixed_run.folder / "fresh")
    assert [(c["resume"], c["overwrite"]) for c in calls] == [
        (True, False),
        (False, True),
        (False, False),
    ]
