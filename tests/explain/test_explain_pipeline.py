"""Explaining a fitted pipeline end to end: targets, background, outputs on disk, read-back."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from radiopipe.config.explain import ExplainConfig
from radiopipe.errors import RadiopipeError
from radiopipe.explain import ShapResult, explain_pipeline
from radiopipe.explain.outputs import read_result, result_tables, write_result
from radiopipe.explain.permutation import on_scale

# the tests of this module share a session fixture: keep them on one xdist worker
pytestmark = pytest.mark.xdist_group("explain_fit")

CONFIG = ExplainConfig(background_size=15, n_jobs=1, models=["stack", "rf", "lightgbm", "svm"])


@pytest.fixture(scope="module")
def result(fitted):
    pipeline, X, patients, train = fitted
    return explain_pipeline(pipeline, X, patients, train, CONFIG)


def test_every_model_is_explained_in_the_selected_space(fitted, result) -> None:
    pipeline, X, _, train = fitted
    selected = list(pipeline[:-1].transform(X).columns)
    assert set(result.models) == {"stack", "rf", "lightgbm", "svm"}
    methods = {name: ex.method for name, ex in result.models.items()}
    assert "permutation" in methods["stack"] and "permutation" in methods["svm"]
    assert "TreeSHAP" in methods["rf"] and "TreeSHAP" in methods["lightgbm"]
    for ex in result.models.values():
        assert ex.features == selected and ex.values.shape == (len(X), len(selected))
        assert ex.additivity_error < 1e-6
    stack = result.models["stack"]
    np.testing.assert_allclose(stack.patients["output"], pipeline.predict_proba(X)[:, 1])
    assert len(result.background) == 15 and set(result.background) <= set(train)


def test_seeded_background_and_values(fitted, result) -> None:
    pipeline, X, patients, train = fitted
    again = explain_pipeline(
        pipeline, X, patients, train, CONFIG.model_copy(update={"models": ["stack"]})
    )
    assert again.background == result.background
    np.testing.assert_array_equal(again.models["stack"].values, result.models["stack"].values)
    other = explain_pipeline(
        pipeline, X, patients, train, CONFIG.model_copy(update={"models": ["stack"], "seed": 1})
    )
    assert other.background != result.background


def test_log_odds_scale_and_split_restriction(fitted) -> None:
    pipeline, X, patients, train = fitted
    config = CONFIG.model_copy(
        update={"models": ["stack", "absent"], "scale": "log_odds", "splits": ["external_test"]}
    )
    result = explain_pipeline(pipeline, X, patients, train, config)
    stack = result.models["stack"]
    external = patients.index[patients["split"] == "external_test"]
    assert list(stack.patients.index) == list(external)
    expected = on_scale(pipeline.predict_proba(X.loc[external])[:, 1], "log_odds")
    np.testing.assert_allclose(stack.values.sum(1) + stack.base_value, expected, atol=1e-9)
    assert any("'absent'" in note for note in result.notes)


def test_clear_errors(fitted) -> None:
    pipeline, X, patients, train = fitted
    with pytest.raises(RadiopipeError, match="no features for patient"):
        explain_pipeline(pipeline, X.iloc[5:], patients, train, CONFIG)
    with pytest.raises(RadiopipeError, match="none of the requested models"):
        explain_pipeline(pipeline, X, patients, train, CONFIG.model_copy(update={"models": ["x"]}))


def test_outputs_written_atomically_and_read_back(tmp_path, result) -> None:
    out = tmp_path / "explain"
    result = ShapResult(
        {k: result.models[k] for k in ("stack", "rf")},
        result.background,
        result.settings.model_copy(update={"waterfall_examples": 2}),
        result.notes,
    )
    files = write_result(result, out, threshold=0.5)
    assert not list(out.rglob(".*.tmp*"))
    for name in (
        "shap_values.parquet",
        "importance.parquet",
        "grouped_importance.parquet",
        "group_shap.parquet",
        "explain.json",
        "plots/stack_bar.png",
        "plots/stack_beeswarm.png",
        "plots/stack_groups.png",
        "plots/rf_bar.png",
    ):
        assert (out / name).is_file(), name
    waterfalls = sorted(out.glob("plots/stack_waterfall_*.png"))
    assert 1 <= len(waterfalls) <= 4  # two splits, up to two examples each
    with Image.open(waterfalls[0]) as image:
        assert image.size[0] > 400
    summary = json.loads((out / "explain.json").read_text(encoding="utf-8"))
    assert summary["models"]["stack"]["additivity_error"] < 1e-9
    assert set(summary["figures"]) == {k for k in files if k.startswith("plots/")}
    back = read_result(out)
    for name, ex in result.models.items():
        np.testing.assert_array_equal(back.models[name].values, ex.values)
        assert back.models[name].features == ex.features
        assert back.models[name].base_value == ex.base_value
    tables = result_tables(result)
    group_sums = tables["group_shap.parquet"].query("model == 'stack' and grouping == 'filter'")
    per_patient = group_sums.groupby("patient_id")["shap_value"].sum()
    totals = result.models["stack"].values.sum(axis=1)
    np.testing.assert_allclose(per_patient.loc[result.models["stack"].patients.index], totals)
