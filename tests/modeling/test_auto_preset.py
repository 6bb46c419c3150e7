"""The auto preset (issue 17): selection depth and balancing tuned in the inner CV, top-N
trial ensembling, convex meta-learners, per-repeat AUCs; paper settings unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from radiopipe.config import load_config
from radiopipe.config.model import ModelConfig
from radiopipe.config.model_presets import auto_config, new_study_config
from radiopipe.modeling import members
from radiopipe.modeling.combiners import ConvexCombiner, meta_learner
from radiopipe.modeling.members import MemberAverage
from radiopipe.modeling.pipeline_factory import build_pipeline
from radiopipe.modeling.repeats import per_repeat_auc, repeat_spread
from radiopipe.modeling.tuning import TunedClassifier

from .conftest import model_frame, tiny_config, tuned_learners_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "model"


def _data(rng, n=60, p=40, informative=3):
    y = np.r_[np.zeros(n // 2, int), np.ones(n - n // 2, int)]
    X = rng.normal(size=(n, p))
    X[:, :informative] += 1.2 * y[:, None]
    return X, y


def test_auto_yaml_is_the_preset_new_studies_get() -> None:
    from radiopipe.config.pipeline import stage_config

    auto = load_config(CONFIGS / "auto.yaml", ModelConfig)
    assert auto == auto_config() == new_study_config()
    assert stage_config(None, ModelConfig, None) == auto
    assert auto.learners.tune_features and auto.balance.method == "tune"
    assert auto.learners.timeout_s is not None and auto.learners.n_trials > 0


def test_paper_yaml_keeps_the_published_recipe() -> None:
    paper = load_config(CONFIGS / "paper.yaml", ModelConfig)
    assert paper.stack.method == "logistic" and paper.balance.method == "smote"
    assert paper.learners.names == ["svm", "rf", "lightgbm", "mlp"]
    assert not paper.learners.tune_features and paper.learners.ensemble_top == 1
    assert paper.ttest.enabled and paper.lasso.enabled
    # a partial config means what it meant: class defaults are the paper's
    assert ModelConfig().stack.method == "logistic" and not ModelConfig().learners.tune_features


def test_selection_depth_is_tuned_inside_the_training_folds(rng, monkeypatch) -> None:
    X, y = _data(rng)
    seen: list[int] = []
    original = members.feature_order

    def spy(X_rows, y_rows):
        seen.append(len(y_rows))
        return original(X_rows, y_rows)

    monkeypatch.setattr("radiopipe.modeling.tuning.feature_order", spy)
    model = TunedClassifier("logreg", n_trials=6, inner_folds=3, random_state=0,
                            tune_features=True).fit(X, y)  # fmt: skip
    # one ranking per inner training fold (never the validation rows), one for the refit
    assert sorted(seen) == [40, 40, 40, 60]
    k = model.best_params_["n_features"]
    assert 1 <= k <= X.shape[1]
    member = model.estimator_.members[0]
    assert len(member.columns) == k
    assert set(member.columns[: min(k, 3)]) <= set(range(X.shape[1]))
    assert roc_auc_score(y, model.predict_proba(X)[:, 1]) > 0.8
    # the first trial is the plain learner on every feature
    assert '"n_features": 40' in model.trials_[0]["params"]


def test_balancing_is_chosen_per_learner_and_smote_rows_never_validate(rng) -> None:
    X, y = _data(rng, n=72)
    y[:24] = 0
    y[24:] = np.r_[np.zeros(30, int), np.ones(18, int)]  # 54 vs 18
    model = TunedClassifier("rf", search_space={"max_depth": {"type": "int", "low": 2,
                            "high": 4}}, n_trials=4, inner_folds=3, random_state=0,
                            balance_choices=("class_weight", "smote"))  # fmt: skip
    model.fit(X, y)
    assert model.best_params_["balance"] in ("class_weight", "smote")
    assert np.isfinite(model.oof_proba_).all() and len(model.oof_proba_) == len(y)
    choices = {p for t in model.trials_ for p in ("smote", "class_weight") if p in t["params"]}
    assert choices  # every trial records its choice
    with pytest.raises(ValueError, match="unknown balance"):
        TunedClassifier("rf", n_trials=0, balance_choices=("oversample",)).fit(X, y)


def test_top_n_trials_are_refitted_and_averaged(rng) -> None:
    X, y = _data(rng)
    model = TunedClassifier("svm", n_trials=5, inner_folds=3, random_state=0,
                            ensemble_top=3).fit(X, y)  # fmt: skip
    assert isinstance(model.estimator_, MemberAverage)
    parts = model.estimator_.members
    assert len(parts) == 3 and len({str(m.params) for m in parts}) == 3
    expected = np.mean([m.predict_proba(X) for m in parts], axis=0)
    np.testing.assert_allclose(model.predict_proba(X), expected)
    plain = TunedClassifier("svm", n_trials=2, inner_folds=3, random_state=0).fit(X, y)
    assert not isinstance(plain.estimator_, MemberAverage)  # old settings: the bare model


def test_convex_meta_learners_weight_and_average(rng) -> None:
    y = np.r_[np.zeros(50), np.ones(50)]
    good = np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.1, 100), 0, 1)
    bad = 1 - good  # anti-informative: must get no weight
    P = np.column_stack([good, bad])
    nonneg = ConvexCombiner("nonnegative").fit(P, y)
    assert nonneg.coef_[1] == 0 and nonneg.coef_.sum() == pytest.approx(1)
    np.testing.assert_allclose(nonneg.predict_proba(P)[:, 1], good)
    mean = meta_learner("mean", 1.0).fit(P, y)
    np.testing.assert_allclose(mean.predict_proba(P)[:, 1], 0.5)
    with pytest.raises(ValueError, match="stack method"):
        meta_learner("vote", 1.0)


def test_auto_pipeline_fits_and_stacks_within_the_base_learners(two_site_cohort) -> None:
    X = model_frame(two_site_cohort)
    y = two_site_cohort.clinical["label"].to_numpy()
    config = tuned_learners_config(3, ensemble_top=2, method="nonnegative")
    pipe = build_pipeline(config, 0, has_sites=True).fit(X.iloc[:70], y[:70])
    assert pipe.named_steps["balance"] == "passthrough"  # the learners balance themselves
    stack = pipe[-1]
    base = stack.base_proba(pipe[:-1].transform(X.iloc[70:]))
    p = stack.predict_proba(pipe[:-1].transform(X.iloc[70:]))[:, 1]
    low = np.min(list(base.values()), axis=0)
    high = np.max(list(base.values()), axis=0)
    assert np.all(p >= low - 1e-12) and np.all(p <= high + 1e-12)
    assert (stack.meta_learner_.coef_ >= 0).all()


def test_per_repeat_auc_and_spread() -> None:
    rng = np.random.default_rng(1)
    rows = []
    for repeat in range(3):
        for fold in range(2):
            y = np.r_[0, 0, 1, 1, 0, 1]
            p = rng.uniform(size=6) + 0.3 * y * repeat
            rows.append(pd.DataFrame({"patient_id": [f"p{i}" for i in range(6)],
                "split": "cv", "fold": repeat * 2 + fold, "model": "stack",
                "probability": p, "label": y}))  # fmt: skip
    final = rows[0].assign(split="train", fold=-1)
    table = per_repeat_auc(pd.concat([*rows, final]), n_folds=2)
    assert list(table["repeat"]) == [0, 1, 2] and set(table["n"]) == {12}
    first = pd.concat(rows[:2])
    assert table["auc"].iloc[0] == pytest.approx(
        roc_auc_score(first["label"], first["probability"])
    )
    spread = repeat_spread(table)
    assert spread["repeats"].iloc[0] == 3
    assert spread["sd_auc"].iloc[0] == pytest.approx(table["auc"].std())


def test_train_writes_the_per_repeat_table(trained_run) -> None:
    table = pd.read_csv(trained_run.out / "cv_repeats.csv")
    assert set(table["split"]) == {"train_oof"} and set(table["repeat"]) == {0}
    assert {"stack", "lasso_lr"} <= set(table["model"])


def test_report_shows_the_spread_over_repeats() -> None:
    from types import SimpleNamespace

    from radiopipe.report.sections.performance import _repeat_table

    table = pd.DataFrame({"model": "stack", "split": "cv", "repeat": [0, 1, 2], "n": 40,
                          "auc": [0.70, 0.74, 0.78]})  # fmt: skip
    ctx = SimpleNamespace(run=SimpleNamespace(train={"cv_repeats": table}), model_label=str)
    shown = _repeat_table(ctx)
    assert shown is not None and shown.rows[0][2] == "3"
    assert "0.74" in shown.rows[0][3] and "0.04" in shown.rows[0][3]
    one = SimpleNamespace(run=SimpleNamespace(train={"cv_repeats": table.iloc[:1]}),
                          model_label=str)  # fmt: skip
    assert _repeat_table(one) is None  # a single repeat: nothing to show


def test_an_auto_pipeline_saves_and_loads(rng, tmp_path) -> None:
    from radiopipe.modeling.persistence import load_model, save_model

    X, y = _data(rng, n=48, p=12)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(12)],
                         index=[f"p{i}" for i in range(48)])  # fmt: skip
    config = tiny_config(
        balance={"method": "tune"}, ttest={"enabled": False}, lasso={"enabled": False},
        learners={"names": ["logreg", "svm"], "n_trials": 2, "timeout_s": None,
                  "tune_features": True, "ensemble_top": 2},
        stack={"method": "nonnegative"},
    )  # fmt: skip
    pipe = build_pipeline(config, 0, has_sites=False).fit(frame, y)
    save_model(tmp_path / "model", {"stack": pipe}, {"features": list(frame.columns)}, "x: 1\n")
    loaded = load_model(tmp_path / "model").pipelines["stack"]
    np.testing.assert_allclose(loaded.predict_proba(frame), pipe.predict_proba(frame))


def test_methods_text_names_what_the_inner_cv_chose() -> None:
    from radiopipe.report.methods import _meta_inputs, _meta_learner, _tuned_choices

    auto = auto_config().model_dump(mode="json")
    assert "number of features (at most 100)" in _tuned_choices(auto)
    assert "class weights or SMOTE" in _tuned_choices(auto)
    assert _meta_learner(auto) == "a logistic-regression meta-learner (C = 1)"
    assert "second, differently seeded 5-fold inner split" in _meta_inputs(auto, 5)
    paper = load_config(CONFIGS / "paper.yaml", ModelConfig).model_dump(mode="json")
    assert _tuned_choices(paper) == ""
    assert _meta_learner(paper) == "a logistic-regression meta-learner (C = 1)"
    assert _meta_inputs(paper, 5) == "their out-of-fold probabilities"
