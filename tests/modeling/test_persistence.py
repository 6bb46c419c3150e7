"""The model artefact: new process, new site, refusals (versions, tampering, types)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from radiopipe.errors import InputError, RadiopipeError
from radiopipe.hashing import file_sha256
from radiopipe.modeling.persistence import load_model
from radiopipe.modeling.predicting import predict_cohort
from radiopipe.synth.feature_table import write_cohort

from ..conftest import run_radiopipe


@pytest.fixture
def model_copy(trained_run, tmp_path):
    return shutil.copytree(trained_run.out / "model", tmp_path / "model")


def test_new_process_reproduces_known_sites_and_scores_a_new_site(trained_run, tmp_path) -> None:
    """Issue 4 (v): saved, loaded in a new process, applied to a cohort with a new site."""
    cohort = trained_run.cohort
    clinical = cohort.clinical.copy()
    new = clinical["site"] == "S3"  # never seen in training
    clinical.loc[new, "site"] = "NEW-SCANNER"
    features = cohort.features.copy()
    features.loc[new.to_numpy(), features.columns[1:]] *= 1.3  # its own scanner effect
    path_f, path_m = write_cohort(
        type(cohort)(features, clinical, cohort.informative), tmp_path / "cohort"
    )
    out = tmp_path / "scored.parquet"
    done = run_radiopipe(
        "predict",
        "--model",
        trained_run.out / "model",
        "--features",
        path_f,
        "--manifest",
        path_m,
        "--out",
        out,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "NEW-SCANNER" in done.stderr  # the unseen-site rule is announced
    scored = pd.read_parquet(out).set_index(["patient_id", "model"])["probability"]
    before = pd.read_parquet(trained_run.out / "predictions.parquet")
    before = before[before["fold"] == -1].set_index(["patient_id", "model"])["probability"]
    known = set(clinical.loc[~new, "patient_id"])
    in_known = scored.index.get_level_values(0).isin(known)
    np.testing.assert_allclose(scored[in_known], before.loc[scored[in_known].index], atol=1e-12)
    unseen = scored[~in_known]
    assert len(unseen) == new.sum() * 6 and np.isfinite(unseen).all()
    # a multiplicative scanner change is absorbed by the site estimate: close to the S3 scores
    np.testing.assert_allclose(unseen, before.loc[unseen.index], atol=0.15)


def test_refuses_other_versions(model_copy) -> None:
    card_path = model_copy / "model.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["packages"]["scikit-learn"] = "0.24.2"
    card_path.write_text(json.dumps(card))
    with pytest.raises(RadiopipeError, match=r"scikit-learn 0\.24\.2 \(installed: .*retrain"):
        load_model(model_copy)
    card["format_version"] = 99
    card_path.write_text(json.dumps(card))
    with pytest.raises(RadiopipeError, match=r"format 99 .* Retrain"):
        load_model(model_copy)


def test_refuses_modified_files_and_untrusted_types(model_copy) -> None:
    import skops.io as sio

    stack = model_copy / "stack.skops"
    data = bytearray(stack.read_bytes())
    data[-10] ^= 0xFF
    stack.write_bytes(bytes(data))
    with pytest.raises(RadiopipeError, match="hash mismatch"):
        load_model(model_copy)
    sio.dump({"payload": _Untrusted()}, stack)  # a type no allow-list contains
    card = json.loads((model_copy / "model.json").read_text(encoding="utf-8"))
    card["files"]["stack"]["sha256"] = file_sha256(stack)
    (model_copy / "model.json").write_text(json.dumps(card))
    with pytest.raises(RadiopipeError, match=r"outside radiopipe's allow-list.*_Untrusted"):
        load_model(model_copy)


def test_predict_errors_name_the_problem(trained_run, tmp_path) -> None:
    with pytest.raises(InputError, match="harmonises features by site"):
        predict_cohort(trained_run.out / "model", trained_run.features)
    fewer = pd.read_parquet(trained_run.features).drop(
        columns=["t2w__original_firstorder_Synthetic0000"]
    )
    fewer.to_parquet(tmp_path / "fewer.parquet", index=False)
    with pytest.raises(InputError, match=r"1 feature.*Synthetic0000"):
        predict_cohort(trained_run.out / "model", tmp_path / "fewer.parquet", trained_run.manifest)
    with pytest.raises(RadiopipeError, match="not a radiopipe model folder"):
        load_model(tmp_path)


class _Untrusted:
    """A type that skops does not trust and radiopipe never writes."""
