"""The clinical, rad-score and combined models: selection against statsmodels, the rad-score
reproduced by hand from the exported files, the nomogram's own tables, no leakage of folds."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from radiopipe.config.model import ClinicalSettings, ModelConfig
from radiopipe.contracts import OOF_SPLITS, TEST_SPLITS, Split, TrainLayout, check_predictions
from radiopipe.modeling.clinical import CovariateCoder, fit_clinical
from radiopipe.modeling.nomogram import nomogram_probability
from radiopipe.modeling.radscore import FORMULA_COLUMNS, INTERCEPT, compute_radscore
from radiopipe.modeling.training import train
from radiopipe.synth.feature_table import simulate_cohort, write_cohort

from .conftest import tiny_config

COVARIATES = ["grade", "size_mm", "age"]


def _clinical_frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    grade = rng.integers(1, 4, n)
    size = rng.normal(50, 10, n)
    noise = rng.normal(0, 1, n)
    eta = -0.5 + 1.2 * (grade == 3) + 0.6 * (grade == 2) - 0.08 * (size - 50)
    y = (rng.random(n) < expit(eta)).astype(int)
    return pd.DataFrame({"grade": grade, "size_mm": size, "noise": noise}), y


def _unit_data():
    """60 patients of 2 sites: the cohort, its model frame, patient ids, raw covariates."""
    from .conftest import model_frame

    cohort = simulate_cohort(n_patients=60, n_features=16, n_informative=4, n_sites=2, seed=4)
    X = model_frame(cohort)
    patients = list(X.index)
    raw, _ = _clinical_frame(60, 3)
    raw.index = patients
    return cohort, X, patients, raw


def test_clinical_selection_and_fit_match_statsmodels() -> None:
    import statsmodels.formula.api as smf

    raw, y = _clinical_frame(400, 0)
    settings = ClinicalSettings(
        covariates=["grade", "size_mm", "noise"], categorical=["grade"], alpha=0.05
    )
    model = fit_clinical(raw, y, settings)
    assert model.selected == ["grade", "size_mm"]  # the noise covariate is left out
    assert model.univariable.set_index("term").loc["noise", "selected"] == False  # noqa: E712
    reference = smf.logit("y ~ C(grade) + size_mm", raw.assign(y=y)).fit(disp=0)
    expected = reference.params.to_numpy()
    got = model.fit.params[["(intercept)", "grade[2]", "grade[3]", "size_mm"]].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    table = model.multivariable().set_index("term")
    np.testing.assert_allclose(
        table.loc["grade[3]", "ci_low"], np.exp(reference.conf_int().iloc[2, 0]), rtol=1e-4
    )
    assert table.loc["grade[3]", "level"] == "3 vs 1"


@pytest.mark.parametrize("selection", ["penalised", "none"])
def test_other_selections(selection: str) -> None:
    raw, y = _clinical_frame(300, 1)
    settings = ClinicalSettings(
        covariates=["grade", "size_mm", "noise"], categorical=["grade"], selection=selection
    )
    model = fit_clinical(raw, y, settings, seed=0)
    assert {"grade", "size_mm"} <= set(model.selected)
    if selection == "none":
        assert model.selected == ["grade", "size_mm", "noise"]
    assert model.univariable["selected"].tolist() == [
        name in model.selected for name in model.univariable["covariate"]
    ]


def test_coder_fills_missing_and_codes_unseen_levels_as_reference() -> None:
    raw = pd.DataFrame({"grade": [1, 2, 2, 3], "size_mm": [10.0, 20.0, 30.0, 40.0]})
    coder = CovariateCoder(["grade", "size_mm"], ["grade"], {"grade": "2"}).fit(raw)
    assert coder.levels_["grade"] == ["2", "1", "3"]
    new = pd.DataFrame({"grade": [np.nan, 4, 3.0], "size_mm": [np.nan, 1.0, 2.0]})
    out = coder.transform(new)
    assert list(out.columns) == ["grade[1]", "grade[3]", "size_mm"]
    np.testing.assert_array_equal(out["grade[3]"], [0.0, 0.0, 1.0])  # missing -> mode 2
    assert out["size_mm"].iloc[0] == 25.0  # training median


def test_clinical_settings_are_checked() -> None:
    with pytest.raises(ValueError, match=r"not among clinical\.covariates"):
        ClinicalSettings(covariates=["age"], categorical=["grade"])
    with pytest.raises(ValueError, match="cannot be clinical covariates"):
        ClinicalSettings(covariates=["label"])
    assert not ModelConfig().clinical.enabled


@pytest.fixture(scope="module", params=[True, False], ids=["lasso-step", "own-lasso"])
def clinical_run(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    """A tiny fixed-split run (three sites, one external) with three covariates; the stack with
    a LASSO step (paper-like) and without one (auto-like: the rad-score has its own LASSO)."""
    folder = tmp_path_factory.mktemp("clinical")
    cohort = simulate_cohort(
        n_patients=84, n_features=24, n_informative=4, effect=0.7, n_sites=3,
        site_shift=1.0, site_scale=0.3, external_site=True, seed=5,
    )  # fmt: skip
    rng = np.random.default_rng(2)
    label = cohort.clinical["label"].to_numpy()
    grade = np.clip(np.round(1.6 + 0.8 * label + rng.normal(0, 0.7, len(label))), 1, 3)
    cohort.clinical["grade"] = grade.astype(int)
    cohort.clinical["size_mm"] = np.round(50 + 8 * rng.normal(size=len(label)), 1)
    features, manifest = write_cohort(cohort, str(folder / "data"))
    config = tiny_config(
        learners={"names": ["svm"], "n_trials": 1},
        lasso={"n_strengths": 4, "enabled": request.param},
        harmonise={"sensitivity": False},
        clinical={"covariates": COVARIATES, "categorical": ["grade"]},
    )
    result = train(features, manifest, config, folder / "train")
    return result, features, manifest


def test_clinical_models_write_predictions_and_files(clinical_run) -> None:
    result = clinical_run[0]
    predictions = check_predictions(result.predictions)
    for model in ("clinical", "radscore", "combined"):
        rows = predictions[predictions["model"] == model]
        assert set(rows["split"]) == {Split.TRAIN, Split.TRAIN_OOF, *TEST_SPLITS}
    layout = TrainLayout(result.out)
    radscores = pd.read_parquet(layout.radscore)
    assert list(radscores.columns) == ["patient_id", "split", "fold", "radscore"]
    folds = pd.read_csv(layout.folds)
    oof = radscores[radscores["split"].isin(OOF_SPLITS)].set_index("patient_id")
    # every training patient once, scored by the fold that held it out
    assert sorted(oof.index) == sorted(folds["patient_id"])
    assert (oof.loc[folds["patient_id"], "fold"].to_numpy() == folds["fold"].to_numpy()).all()
    merged = predictions[predictions["model"] == "radscore"].merge(
        radscores, on=["patient_id", "split", "fold"]
    )
    np.testing.assert_allclose(merged["probability"], expit(merged["radscore"]), rtol=1e-12)
    formula = pd.read_csv(layout.radscore_formula)
    assert tuple(formula.columns) == FORMULA_COLUMNS and formula["term"].iloc[0] == INTERCEPT
    sites = pd.read_csv(layout.radscore_harmonisation)["site"].unique()
    assert set(sites) == {"S1", "S2", "S3"}  # S3 external: estimated from its patients
    for name in ("clinical_univariable", "clinical_multivariable", "combined_coefficients"):
        assert not pd.read_csv(getattr(layout, name)).empty


def test_radscore_by_hand_reproduces_the_model(clinical_run) -> None:
    result, features, manifest = clinical_run
    layout = TrainLayout(result.out)
    radscores = pd.read_parquet(layout.radscore)
    final = radscores[radscores["fold"] == -1].set_index("patient_id")["radscore"]
    sites = pd.read_csv(manifest).set_index("patient_id")["site"]
    by_hand = compute_radscore(
        pd.read_parquet(features),
        pd.read_csv(layout.radscore_formula),
        pd.read_csv(layout.radscore_harmonisation),
        sites,
    )
    np.testing.assert_allclose(by_hand.loc[final.index], final, rtol=0, atol=1e-10)


def test_nomogram_tables_give_the_model_probability(clinical_run) -> None:
    result, _, manifest = clinical_run
    layout = TrainLayout(result.out)
    points = pd.read_csv(layout.nomogram_points)
    totals = pd.read_csv(layout.nomogram_total)
    table = pd.read_csv(manifest).set_index("patient_id")
    radscores = pd.read_parquet(layout.radscore)
    scored = radscores[radscores["split"].isin(TEST_SPLITS)].set_index("patient_id")
    combined = result.predictions[
        (result.predictions["model"] == "combined") & result.predictions["split"].isin(TEST_SPLITS)
    ].set_index("patient_id")["probability"]
    patients = list(scored.index[:20])
    assert len(patients) == 20
    for patient in patients:
        values = {"radscore": scored.loc[patient, "radscore"], **table.loc[patient].to_dict()}
        assert nomogram_probability(points, totals, values) == pytest.approx(
            combined[patient], abs=0.01
        )


def test_report_section_renders_train_and_evaluate_tables(clinical_run) -> None:
    from radiopipe.config.report import ReportConfig
    from radiopipe.report.contents import load_run
    from radiopipe.report.context import ReportContext
    from radiopipe.report.elements import Figure, Table
    from radiopipe.report.figure_files import FigureFiles
    from radiopipe.report.sections import clinical
    from radiopipe.stats.reclassification import clinical_comparisons

    result = clinical_run[0]
    root = result.out.parent
    evaluate_dir = root / "evaluate"
    evaluate_dir.mkdir(exist_ok=True)
    table = clinical_comparisons(result.predictions, n_resamples=100)
    table.to_csv(evaluate_dir / "clinical_comparisons.csv", index=False)
    ctx = ReportContext(load_run(root), ReportConfig())
    ctx.figure_files = FigureFiles(root / "report" / "figures", ("png",))
    section = clinical.build(ctx)
    assert section.title == "Clinical and combined models" and not section.note
    captions = [b.caption for b in section.blocks if isinstance(b, Table)]
    assert any("Univariable" in c for c in captions)
    assert any(c.startswith("Clinical, rad-score, stacking and combined") for c in captions)
    assert sum(isinstance(b, Figure) for b in section.blocks) == 2  # rad-score, nomogram
    for suffix in ("pdf", "svg"):
        assert (root / "report" / "figures" / f"nomogram.{suffix}").stat().st_size > 1000


def test_a_covariate_without_information_is_never_selected() -> None:
    raw, y = _clinical_frame(200, 2)
    raw["site_level"] = 1  # one level in these patients
    settings = ClinicalSettings(
        covariates=["site_level", "size_mm"], categorical=["site_level"], alpha=0.05
    )
    model = fit_clinical(raw, y, settings)
    assert model.covariate_p["site_level"] == 1.0 and model.selected == ["size_mm"]


def test_files_of_an_earlier_call_are_removed(tmp_path) -> None:
    from radiopipe.modeling.clinical_outputs import write_outputs

    layout = TrainLayout(tmp_path)
    layout.nomogram_points.write_text("stale")
    layout.radscore_formula.write_text("stale")
    result = SimpleNamespace(extras={"clinical_univariable": pd.DataFrame({"a": [1]})})
    written = write_outputs(tmp_path, [result], pd.Series(dtype="Int64"))
    assert set(written) == {"clinical_univariable"}
    assert not layout.nomogram_points.exists() and not layout.radscore_formula.exists()


def test_scored_patients_outcomes_never_reach_the_models() -> None:
    from imblearn.pipeline import Pipeline

    from radiopipe.modeling.combined import unit_models
    from radiopipe.modeling.pipeline_factory import build_pipeline
    from radiopipe.modeling.tables import ModelData
    from radiopipe.modeling.validation import Unit

    cohort, X, patients, raw = _unit_data()
    config = tiny_config(
        lasso={"n_strengths": 4},
        clinical={"covariates": ["grade", "size_mm"], "categorical": ["grade"]},
    )
    unit = Unit("fold-000", 0, 0, tuple(patients[:40]), tuple(patients[40:]), "train_oof")
    labels = pd.Series(cohort.clinical["label"].to_numpy(), index=patients, dtype="Int64")

    def scores(y: pd.Series) -> dict:
        data = ModelData(X, y, pd.Series("train", index=patients), [], [], True, raw)
        full = build_pipeline(config, 0, True)
        names = [n for n, _ in full.steps]
        lasso_part = Pipeline(full.steps[: names.index("lasso") + 1])
        fitted = lasso_part.fit(X.loc[patients[:40]], y.loc[patients[:40]].to_numpy(int))
        return unit_models(unit, data, config, fitted, 0).probabilities

    before = scores(labels)
    flipped = labels.copy()
    flipped.loc[patients[40:]] = 1 - flipped.loc[patients[40:]]
    after = scores(flipped)
    assert set(before) == {"clinical", "radscore", "combined"}
    for model, values in before.items():
        np.testing.assert_array_equal(values, after[model])


def test_a_model_without_lasso_gets_its_own_radscore_pipeline() -> None:
    """auto (lasso.enabled false): the rad-score is the LASSO of a pipeline of its own, fitted
    on the unit's training patients only; combined model and nomogram follow from it."""
    from sklearn.base import clone

    from radiopipe.modeling.combined import lasso_part, unit_models
    from radiopipe.modeling.pipeline_factory import build_pipeline
    from radiopipe.modeling.radscore import has_lasso, radscore_values
    from radiopipe.modeling.tables import ModelData
    from radiopipe.modeling.validation import Unit

    cohort, X, patients, raw = _unit_data()
    config = tiny_config(
        lasso={"enabled": False, "n_strengths": 4},
        clinical={"covariates": ["grade", "size_mm"], "categorical": ["grade"]},
    )
    stack = build_pipeline(config, 0, True)
    assert not has_lasso(stack)
    labels = pd.Series(cohort.clinical["label"].to_numpy(), index=patients, dtype="Int64")
    final = Unit("final", -1, -1, tuple(patients[:40]), tuple(patients), "train")

    def models(y: pd.Series):
        data = ModelData(X, y, pd.Series("train", index=patients), [], [], True, raw)
        return unit_models(final, data, config, stack, 0)

    result = models(labels)
    assert {"clinical", "radscore", "combined"} == set(result.probabilities)
    for table in ("radscore_formula", "combined_coefficients", "nomogram_points"):
        assert not result.tables[table].empty
    own = clone(lasso_part(config, 0, True)).fit(
        X.loc[patients[:40]], labels.loc[patients[:40]].to_numpy(int)
    )
    np.testing.assert_array_equal(result.radscores, radscore_values(own, X))
    flipped = labels.copy()
    flipped.loc[patients[40:]] = 1 - flipped.loc[patients[40:]]
    after = models(flipped)
    for model, values in result.probabilities.items():
        np.testing.assert_array_equal(values, after.probabilities[model])
    # the configuration keeps its own setting
    assert config.lasso.enabled is False


def test_the_saved_model_scores_new_patients_with_the_clinical_models(clinical_run) -> None:
    """predict (the model folder, as in a bundle) gives the clinical, rad-score and combined
    probabilities the run itself gave its test patients; without covariates it leaves them
    out and still scores the radiomics models."""
    from radiopipe.modeling.predicting import predict_cohort

    result, features, manifest = clinical_run
    layout = TrainLayout(result.out)
    trained = result.predictions
    tested = trained[(trained["fold"] == -1) & trained["split"].isin(TEST_SPLITS)]
    patients = sorted(set(tested["patient_id"]))
    table = pd.read_csv(manifest)
    new = table[table["patient_id"].isin(patients)].assign(label="")
    new_manifest = result.out.parent / "new_patients.csv"
    new.to_csv(new_manifest, index=False)
    scored = predict_cohort(layout.model_dir, features, new_manifest)
    for model in ("clinical", "radscore", "combined", "stack"):
        want = tested[tested["model"] == model].set_index("patient_id")["probability"]
        got = scored[scored["model"] == model].set_index("patient_id")["probability"]
        assert sorted(got.index) == patients, model
        np.testing.assert_allclose(got.loc[patients], want.loc[patients], rtol=0, atol=1e-9)
    new.drop(columns=COVARIATES).to_csv(new_manifest, index=False)
    without = predict_cohort(layout.model_dir, features, new_manifest)
    assert "stack" in set(without["model"])
    assert not {"clinical", "radscore", "combined"} & set(without["model"])
