"""Fixtures for the SHAP tests."""

from __future__ import annotations

import warnings

import pytest

from tests.explain.builders import make_data, make_pipeline


@pytest.fixture(scope="session")
def fitted():
    """(pipeline, X, patients, training ids) with the pipeline fitted on the training split."""
    X, y, patients = make_data()
    train = patients.index[patients["split"] == "train"]
    pipeline = make_pipeline()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline.fit(X.loc[train], y.loc[train])
    return pipeline, X, patients, list(train)
