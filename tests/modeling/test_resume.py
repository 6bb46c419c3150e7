"""A crashed training run resumes from its finished outer folds and gives the same results."""

from __future__ import annotations

import pandas as pd
import pytest

from radiopipe.modeling import training
from radiopipe.modeling.persistence import load_model
from radiopipe.synth.feature_table import simulate_cohort, write_cohort

from .conftest import tiny_config


def test_resume_after_crash(tmp_path, monkeypatch, caplog) -> None:
    cohort = simulate_cohort(n_patients=54, n_features=15, n_informative=3, effect=1.0, seed=4)
    cohort.clinical["split"] = ""
    features, manifest = write_cohort(cohort, tmp_path / "data")
    config = tiny_config(  # the harmonisation sensitivity refit would fit every unit again
        learners={"names": ["svm"], "n_trials": 1}, baseline={"enabled": False},
        harmonise={"sensitivity": False},
    )  # fmt: skip
    real_run_unit = training.run_unit
    calls: list[str] = []

    def crash_on_final(unit, *args, **kwargs):
        calls.append(unit.name)
        if unit.is_final:
            raise RuntimeError("simulated crash")
        return real_run_unit(unit, *args, **kwargs)

    monkeypatch.setattr(training, "run_unit", crash_on_final)
    with pytest.raises(RuntimeError, match="simulated crash"):
        training.train(features, manifest, config, tmp_path / "run")
    assert calls == ["fold-000", "fold-001", "fold-002", "final"]
    assert not (tmp_path / "run" / "predictions.parquet").exists()

    calls.clear()
    monkeypatch.setattr(
        training, "run_unit", lambda u, *a, **k: calls.append(u.name) or real_run_unit(u, *a, **k)
    )
    with caplog.at_level("INFO", logger="radiopipe"):
        resumed = training.train(features, manifest, config, tmp_path / "run")
    assert calls == ["final"]  # the three outer folds came from their checkpoints
    assert "resuming: 3 of 4 fits already done" in caplog.text
    assert not (tmp_path / "run" / ".checkpoints").exists()  # cleared after success
    fresh = training.train(features, manifest, config, tmp_path / "fresh")
    pd.testing.assert_frame_equal(resumed.predictions, fresh.predictions)
    # the named outputs the stage engine records; train itself keeps no marker: called again
    # it fits again (skipping an up-to-date run is the engine's business)
    assert set(resumed.outputs) == set(training.OUTPUTS)
    assert all(path.is_file() for path in resumed.outputs.values())
    assert load_model(resumed.outputs["model"]).card["design"] == "nested_cv"
    calls.clear()
    again = training.train(features, manifest, config, tmp_path / "run")
    assert calls == ["fold-000", "fold-001", "fold-002", "final"]
    assert again.outputs == resumed.outputs
    pd.testing.assert_frame_equal(again.predictions, resumed.predictions)
