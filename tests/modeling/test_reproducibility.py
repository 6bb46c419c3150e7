"""Issue 4 (iv): the same seed gives the same predictions; another seed does not."""

from __future__ import annotations

import numpy as np
import pandas as pd

from radiopipe.modeling.fitting import run_unit
from radiopipe.modeling.tables import ModelData
from radiopipe.modeling.validation import FINAL_FOLD, Unit

from .conftest import model_frame, tiny_config


def _data(cohort) -> ModelData:
    X = model_frame(cohort)
    labels = pd.Series(cohort.clinical["label"].to_numpy(), index=X.index, dtype="Int64")
    return ModelData(X, labels, pd.Series("", index=X.index), list(X.columns[:-1]), [], True)


def test_same_seed_same_predictions(two_site_cohort) -> None:
    data = _data(two_site_cohort)
    patients = list(data.X.index)
    unit = Unit("fold-000", 0, 0, tuple(patients[:70]), tuple(patients[70:]), "cv")
    config = tiny_config(seed=7)
    first = run_unit(unit, data, config)
    second = run_unit(unit, data, config)
    pd.testing.assert_frame_equal(first.predictions, second.predictions)
    pd.testing.assert_frame_equal(first.selected, second.selected)
    tuning = ["model", "fold", "trial", "params", "value"]
    pd.testing.assert_frame_equal(first.tuning[tuning], second.tuning[tuning])
    other = run_unit(unit, data, tiny_config(seed=8))
    stack = other.predictions["model"] == "stack"
    assert not np.allclose(
        other.predictions.loc[stack, "probability"], first.predictions.loc[stack, "probability"]
    )
    assert FINAL_FOLD not in set(first.predictions["fold"])
