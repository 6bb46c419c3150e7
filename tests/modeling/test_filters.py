"""Each filter step: what it keeps, what it drops, its errors; SMOTE marking and inner folds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radiopipe.atomic import write_parquet
from radiopipe.errors import InputError
from radiopipe.modeling.clean import ConstantFilter, MedianImputer
from radiopipe.modeling.columns import SYNTHETIC_PREFIX, real_rows
from radiopipe.modeling.lasso import LassoLogisticClassifier, LassoSelector
from radiopipe.modeling.resample import MarkedSMOTE, inner_splits
from radiopipe.modeling.select import ICCFilter, PearsonFilter, TTestFilter


def _labelled(rng: np.random.Generator, n: int = 80, p: int = 20, informative: int = 3):
    y = np.arange(n) % 2
    X = rng.normal(size=(n, p))
    X[:, :informative] += 1.2 * y[:, None]
    frame = pd.DataFrame(
        X, columns=[f"t2w__f{j}" for j in range(p)], index=[f"P{i}" for i in range(n)]
    )
    return frame, y


def test_imputer_uses_training_medians_and_keeps_meta(rng) -> None:
    train = pd.DataFrame(
        {
            "a": [1.0, np.nan, 3.0, 10.0],
            "b": [np.inf, 2.0, 2.0, 4.0],
            "meta__site": ["x", "x", "y", "y"],
        }
    )
    imputer = MedianImputer().fit(train)
    np.testing.assert_allclose(imputer.statistics_, [3.0, 2.0])
    test = pd.DataFrame({"a": [np.nan], "b": [-np.inf], "meta__site": ["z"]}, index=["new"])
    out = imputer.transform(test)
    assert out.loc["new", "a"] == 3.0 and out.loc["new", "b"] == 2.0
    assert out.loc["new", "meta__site"] == "z"
    empty = MedianImputer().fit(pd.DataFrame({"a": [np.nan, np.nan], "b": [1.0, 2.0]}))
    assert empty.statistics_[0] == 0.0


def test_constant_filter_learns_on_training_rows_only() -> None:
    train = pd.DataFrame({"const": [1.0, 1.0, 1.0], "var": [1.0, 2.0, 3.0], "meta__site": "s"})
    step = ConstantFilter().fit(train)
    assert list(step.transform(train).columns) == ["var", "meta__site"]
    test = pd.DataFrame({"const": [5.0], "var": [0.0], "meta__site": "s"})
    assert list(step.transform(test).columns) == ["var", "meta__site"]  # decided in fit


def test_icc_filter(tmp_path, rng) -> None:
    X, _ = _labelled(rng, p=4)
    names = list(X.columns)
    table = pd.DataFrame(
        {
            "feature": names[:3],
            "icc": [0.95, 0.79, 0.8],
            "ci95_low": 0.5,
            "ci95_high": 0.99,
            "n_patients": 30,
        }
    )
    path = write_parquet(tmp_path / "icc.parquet", table)
    kept = ICCFilter(str(path)).fit(X).get_feature_names_out()
    assert list(kept) == [names[0], names[2]]  # >= 0.8 kept; absent feature dropped
    kept = ICCFilter(str(path), missing="keep").fit(X).get_feature_names_out()
    assert list(kept) == [names[0], names[2], names[3]]
    assert ICCFilter(None).fit(X).support_.all()  # no table: a no-op
    write_parquet(tmp_path / "other.parquet", pd.DataFrame({"feature": ["x"], "icc": [1.0]}))
    with pytest.raises(InputError, match="none of the 4 features appear in the ICC table"):
        ICCFilter(str(tmp_path / "other.parquet")).fit(X)
    write_parquet(tmp_path / "bad.parquet", pd.DataFrame({"name": ["x"]}))
    with pytest.raises(InputError, match="lacks column"):
        ICCFilter(str(tmp_path / "bad.parquet")).fit(X)


def test_ttest_keeps_informative_features_and_fdr_is_stricter(rng) -> None:
    X, y = _labelled(rng, p=200, informative=3)
    plain = TTestFilter(alpha=0.05).fit(X, y)
    assert plain.support_[:3].all()
    fdr = TTestFilter(alpha=0.05, fdr=True).fit(X, y)
    assert fdr.support_[:3].all() and fdr.support_.sum() <= plain.support_.sum()
    noise = TTestFilter(alpha=1e-12, min_features=2).fit(X, y)
    assert noise.support_.sum() == 2 and noise.support_[:3].sum() == 2  # best p-values kept


def test_pearson_keeps_the_more_relevant_of_a_correlated_pair(rng) -> None:
    X, y = _labelled(rng, p=3, informative=1)
    X["t2w__copy"] = X["t2w__f0"] * 0.5 + rng.normal(scale=0.05, size=len(X))  # |r| ~ 0.99
    X["t2w__weak_copy"] = X["t2w__f0"] + rng.normal(scale=1.5, size=len(X))  # |r| ~ 0.5
    step = PearsonFilter(threshold=0.8).fit(X, y)
    kept = set(step.get_feature_names_out())
    assert ("t2w__f0" in kept) != ("t2w__copy" in kept)
    assert {"t2w__f1", "t2w__f2", "t2w__weak_copy"} <= kept
    spearman = PearsonFilter(threshold=0.8, method="spearman").fit(X, y)
    assert spearman.support_.sum() == step.support_.sum()


def test_lasso_selects_signal_and_honours_min_features(rng) -> None:
    X, y = _labelled(rng, n=100, p=30, informative=3)
    step = LassoSelector(n_strengths=8, inner_folds=3, random_state=0).fit(X, y)
    assert step.support_[:3].all()
    assert np.count_nonzero(step.coef_) == step.support_.sum()
    noise = pd.DataFrame(rng.normal(size=(60, 10)))
    y_noise = np.arange(60) % 2
    forced = LassoSelector(n_strengths=5, inner_folds=3, min_features=3, random_state=0)
    assert forced.fit(noise, y_noise).support_.sum() >= 3
    capped = LassoSelector(n_strengths=8, inner_folds=3, max_features=2, random_state=0)
    assert capped.fit(X, y).support_.sum() == 2
    baseline = LassoLogisticClassifier(n_strengths=8, inner_folds=3, random_state=0).fit(X, y)
    assert baseline.predict_proba(X).shape == (100, 2)


def test_smote_marks_synthetic_rows_and_inner_folds_never_validate_on_them(rng) -> None:
    X, _ = _labelled(rng, n=60)
    y = (np.arange(60) < 20).astype(int)  # 20 vs 40
    X_res, y_res = MarkedSMOTE(random_state=0).fit_resample(X, y)
    assert len(X_res) == 80 and (y_res == 1).sum() == 40
    synthetic = ~real_rows(X_res)
    assert synthetic.sum() == 20
    assert X_res.index[synthetic].str.startswith(SYNTHETIC_PREFIX).all()
    assert list(X_res.index[~synthetic]) == list(X.index)
    splits = inner_splits(X_res, y_res, 5, random_state=0)
    used = np.concatenate([np.concatenate([tr, te]) for tr, te in splits])
    assert not synthetic[used].any()  # synthetic rows are neither trained on nor validated on
    validated = np.concatenate([te for _, te in splits])
    assert sorted(validated) == list(range(60))
