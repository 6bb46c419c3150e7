"""Harmonisation diagnostics written by the train stage (rendered, not recomputed, by the
report)."""

from __future__ import annotations

import pandas as pd
import pytest

from radiopipe.contracts import TrainLayout
from radiopipe.modeling.site_effects import (
    harmonised_features,
    pca_coordinates,
    site_separability,
    write_harmonisation,
)


def test_train_writes_site_separability_before_and_after_combat(trained_run) -> None:
    from radiopipe.modeling.persistence import load_model
    from radiopipe.modeling.tables import load_model_data

    layout = TrainLayout(trained_run.out)
    table = pd.read_csv(layout.harmonisation)
    assert list(table["features"]) == ["before", "after"]
    before, after = table["auc"]
    assert before > 0.9 and after < before - 0.2  # ComBat removes most of the site effect
    assert "ComBat step" in table.loc[0, "status"]
    pca = pd.read_csv(layout.harmonisation_pca, dtype={"patient_id": str})
    n = len(trained_run.cohort.clinical)
    assert pca.groupby("features").size().to_dict() == {"after": n, "before": n}
    # The numbers are those the report computed from the saved model before this file existed.
    model = load_model(layout.model_dir)
    data = load_model_data(
        trained_run.features, trained_run.manifest, model.card["covariates"], require_labels=False
    )
    harmonised = harmonised_features(model.pipelines["stack"], data.X)
    sites = data.sites.astype(str)
    seed = int(model.card["seed"])
    assert site_separability(harmonised, sites, seed).auc == pytest.approx(after, abs=1e-12)
    coords = pca_coordinates(harmonised, sites, seed)
    shown = pca.loc[pca["features"] == "after"].set_index("patient_id")
    assert shown.loc[coords.index, "pc1"].to_numpy() == pytest.approx(coords["pc1"].to_numpy())


def test_diagnostics_that_cannot_be_computed_say_why(tmp_path, trained_run) -> None:
    files = write_harmonisation(
        tmp_path, trained_run.features, None, "combat", None, pd.DataFrame(), seed=0
    )
    table = pd.read_csv(files["harmonisation"])
    assert list(table["features"]) == ["none"] and "with sites" in table.loc[0, "status"]
    assert pd.read_csv(files["harmonisation_pca"]).empty
    sites = trained_run.cohort.clinical.set_index("patient_id")["site"].astype(str)
    off = write_harmonisation(
        tmp_path / "off", trained_run.features, sites, "none", None, pd.DataFrame(), seed=0
    )
    table = pd.read_csv(off["harmonisation"])
    assert list(table["features"]) == ["before"] and "switched off" in table.loc[0, "status"]
