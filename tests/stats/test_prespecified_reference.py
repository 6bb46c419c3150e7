"""The pre-specified reference model: fixed in design.json from evaluate.reference, before any
fit, and the only reference the evaluation accepts."""

from __future__ import annotations

import pytest
import yaml

from radiopipe.config.evaluate import EvaluateConfig
from radiopipe.config.model import ModelConfig
from radiopipe.modeling.design import Design, DesignSettings, write_design
from radiopipe.stats.checks import StatsInputError
from radiopipe.stats.evaluate import evaluate


def test_design_settings_take_the_evaluate_reference() -> None:
    assert DesignSettings.of(ModelConfig()).reference == "stack"
    assert DesignSettings.of(ModelConfig(), reference="lasso_lr").reference == "lasso_lr"


def test_pipeline_design_stage_carries_the_evaluate_reference(tmp_path) -> None:
    from radiopipe.config.pipeline import load_pipeline
    from radiopipe.pipeline import build_stages
    from tests.pipeline.test_pipeline_config import CONFIGS, minimal, write_pipeline

    evaluate_yaml = tmp_path / "evaluate.yaml"
    evaluate_yaml.write_text(yaml.safe_dump({"reference": "rf"}))
    data = minimal() | {"evaluate": {"config": str(evaluate_yaml)}}
    (tmp_path / "cohort").mkdir()
    (tmp_path / "cohort" / "manifest.csv").write_text("patient_id,site,split,label\n")
    stages = build_stages(load_pipeline(write_pipeline(tmp_path, data)))
    design = next(s for s in stages if s.name == "design")
    assert design.settings.reference == "rf"
    evaluate_stage = next(s for s in stages if s.name == "evaluate")
    assert "design" in evaluate_stage.inputs  # evaluate checks its reference against it
    assert CONFIGS.is_dir()


def test_evaluate_refuses_a_reference_other_than_the_design_one(tmp_path) -> None:
    import pandas as pd

    design = Design("fixed_split", 5, 1, 42, True, "stack", 10)
    folds = pd.DataFrame({"patient_id": ["P1"], "repeat": [0], "fold": [0]})
    paths = write_design(tmp_path / "design", design, folds)
    with pytest.raises(StatsInputError, match=r"pre-specified reference model is 'stack'.*'rf'"):
        evaluate(
            tmp_path / "predictions.parquet", tmp_path / "out",
            config=EvaluateConfig(reference="rf"), design=paths["design"],
        )  # fmt: skip
