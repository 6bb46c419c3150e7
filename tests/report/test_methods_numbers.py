"""Issue 12 item 8: the methods text is generated from the resolved settings; every number in
it is one of the configuration's (three different configurations)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pandas as pd
import pytest

from radiopipe.config.evaluate import EvaluateConfig
from radiopipe.config.model import ModelConfig
from radiopipe.config.report import ReportConfig
from radiopipe.report import methods
from radiopipe.report.disclosure import harmonisation_of, harmonisation_sentence

CONFIGS = [
    ({"design": "fixed_split", "seed": 7, "cv": {"outer_folds": 4, "outer_repeats": 2,
      "inner_folds": 3}, "icc": {"threshold": 0.85}, "learners": {"n_trials": 17}},
     {"n_bootstrap": 1500, "seed": 3, "confidence": 0.9}),
    ({"design": "nested_cv", "seed": 123, "cv": {"outer_folds": 6, "inner_folds": 4},
      "icc": {"threshold": 0.75}, "learners": {"n_trials": 9}, "stack": {"meta_C": 0.5}},
     {"n_bootstrap": 2500, "seed": 11}),
    ({"design": "fixed_split", "seed": 99, "cv": {"outer_folds": 8, "inner_folds": 6},
      "icc": {"threshold": 0.9}, "learners": {"n_trials": 33}, "ttest": {"alpha": 0.01}},
     {"n_bootstrap": 4000, "seed": 21, "reliability_bins": 8}),
]  # fmt: skip
WORDS = {"1"}  # "L1-penalised"


def _numbers(value, out: set[str]) -> set[str]:
    """Every number of a settings mapping, as the text may print it (%g and percent)."""
    if isinstance(value, dict):
        for item in value.values():
            _numbers(item, out)
    elif isinstance(value, list | tuple):
        for item in value:
            _numbers(item, out)
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int | float):
        out.update({f"{value:g}", f"{100 * value:g}"})
    return out


def _context(model: dict, evaluate: dict) -> SimpleNamespace:
    model_cfg = ModelConfig.model_validate(model).model_dump(mode="json")
    evaluate_cfg = EvaluateConfig.model_validate(evaluate).model_dump(mode="json")
    manifest = pd.DataFrame(
        {"patient_id": [f"P{i}" for i in range(30)], "split": ["train"] * 20 + ["external_test"]
         * 10, "site": ["A"] * 10 + ["B"] * 10 + ["C"] * 10}
    )  # fmt: skip
    run = SimpleNamespace(
        configs={"train": model_cfg}, train={"card": {"design": model["design"],
        "training_sites": ["A", "B"], "batch": "site"}}, manifest=manifest,
        evaluate={"performance.csv": None}, icc=None,
    )  # fmt: skip
    return SimpleNamespace(
        run=run,
        evaluate_config=evaluate_cfg,
        reference="stack",
        config=ReportConfig(),
        model_label=ReportConfig().model_label,
    )


@pytest.mark.parametrize(("model", "evaluate"), CONFIGS)
def test_every_number_of_the_methods_text_is_a_setting(model, evaluate) -> None:
    ctx = _context(model, evaluate)
    text = " ".join([methods._modelling(ctx), methods._leakage(ctx), methods._statistics(ctx)])
    settings = {**ctx.run.configs["train"], "evaluate": ctx.evaluate_config}
    allowed = _numbers(settings, set()) | WORDS | {"10"}  # 10: the unseen site's patients
    allowed |= _numbers({"alpha": ctx.config.alpha}, set())
    found = re.findall(r"(?<![\w.])\d+(?:\.\d+)?", text)
    assert found
    assert set(found) <= allowed, sorted(set(found) - allowed)
    # the ones the issue names are there, with the inequality the code applies (icc >= t)
    assert f"ICC < {model['icc']['threshold']:g}" in text
    assert f"{model['learners']['n_trials']} trials" in text
    assert f"{model['cv']['outer_folds']}-fold" in text
    assert f"Random seed: {model['seed']}" in text
    assert f"{evaluate['n_bootstrap']} resamples, seed {evaluate['seed']}" in text
    if model["design"] == "nested_cv":
        assert "inner out-of-fold predictions of that fold's training patients" in text


def test_harmonisation_is_disclosed_from_what_the_model_did() -> None:
    ctx = _context(*CONFIGS[0])
    text = methods._leakage(ctx)
    assert "no information from validation or test patients reached the model" not in text
    assert "training sites (A, B)" in text and "C (10 patients)" in text
    assert "own unlabelled test patients" in text
    found = harmonisation_of({"training_sites": ["A", "B", "C"]}, ctx.run.manifest, "estimate")
    assert "Every test patient came from a training site" in harmonisation_sentence(found)


@pytest.mark.parametrize("lasso", [True, False])
def test_the_radscore_sentence_says_where_its_lasso_is(lasso: bool) -> None:
    model = {**CONFIGS[0][0], "lasso": {"enabled": lasso},
             "clinical": {"covariates": ["age", "grade"]}}  # fmt: skip
    text = methods._clinical(_context(model, CONFIGS[0][1]))
    if lasso:
        assert "linear predictor of the LASSO step of the radiomics pipeline" in text
    else:
        assert "a LASSO logistic model of its own" in text
        assert "penalty chosen by 3-fold inner CV" in text  # CONFIGS[0]: 3 inner folds
