"""Importance per feature and per group (sequence, image type, feature class)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radiopipe.explain.groups import (
    describe_features,
    group_values,
    grouped_importance,
    importance_table,
)

FEATURES = [
    "t2w__original_shape_Sphericity",
    "t2w__wavelet-LLH_glcm_Contrast",
    "cet1w__log-sigma-3-0-mm-3D_firstorder_Mean",
    "cet1w__original_glcm_Contrast",
    "age",
]
VALUES = np.array(
    [
        [0.10, -0.05, 0.02, 0.03, 0.00],
        [-0.20, 0.05, 0.01, -0.04, 0.10],
        [0.00, 0.30, -0.02, 0.01, -0.10],
    ]
)


def test_names_are_parsed_into_labelled_parts() -> None:
    table = describe_features(FEATURES).set_index("column")
    assert table.loc["t2w__wavelet-LLH_glcm_Contrast", "filter"] == "wavelet"
    assert table.loc["cet1w__log-sigma-3-0-mm-3D_firstorder_Mean", "filter"] == "log"
    assert table.loc["t2w__original_shape_Sphericity", "sequence_label"] == "T2WI"
    assert table.loc["cet1w__original_glcm_Contrast", "sequence_label"] == "CE-T1WI"
    assert table.loc["age", "sequence"] == "other" and table.loc["age", "label"] == "age"


@pytest.mark.parametrize("grouping", ["sequence", "filter", "feature_class"])
def test_group_values_are_sums_of_member_values(grouping) -> None:
    sums = group_values(VALUES, FEATURES, grouping)
    np.testing.assert_allclose(sums.sum(axis=1), VALUES.sum(axis=1), atol=1e-15)
    if grouping == "sequence":
        np.testing.assert_allclose(sums["t2w"], VALUES[:, 0] + VALUES[:, 1])
        np.testing.assert_allclose(sums["cet1w"], VALUES[:, 2] + VALUES[:, 3])
        np.testing.assert_allclose(sums["other"], VALUES[:, 4])


def test_grouped_importance_is_mean_absolute_group_value() -> None:
    table = grouped_importance(VALUES, FEATURES).set_index(["grouping", "group"])
    t2w = np.abs(VALUES[:, 0] + VALUES[:, 1]).mean()
    assert table.loc[("sequence", "t2w"), "importance"] == pytest.approx(t2w)
    assert table.loc[("sequence", "t2w"), "feature_importance_sum"] == pytest.approx(
        np.abs(VALUES[:, 0]).mean() + np.abs(VALUES[:, 1]).mean()
    )
    assert table.loc[("feature_class", "glcm"), "n_features"] == 2
    assert table.loc[("sequence", "t2w"), "label"] == "T2WI"
    for grouping in ("sequence", "filter", "feature_class"):
        part = table.loc[grouping]
        assert part["n_features"].sum() == len(FEATURES)
        assert part["importance_share"].sum() == pytest.approx(1.0)


def test_importance_ranks_by_mean_absolute_value() -> None:
    table = importance_table(VALUES, FEATURES)
    expected = pd.Series(np.abs(VALUES).mean(axis=0), index=FEATURES).sort_values(ascending=False)
    assert table["column"].tolist() == expected.index.tolist()
    assert table["rank"].tolist() == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(table["mean_abs_shap"], expected.to_numpy())
