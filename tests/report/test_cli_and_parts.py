"""The report command, page rendering without pdftoppm, and harmonisation diagnostics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radiopipe.cli import USER_ERROR_EXIT
from radiopipe.modeling.site_effects import pca_coordinates, site_separability
from radiopipe.report import render

# the tests of this module share a session fixture: keep them on one xdist worker
pytestmark = pytest.mark.xdist_group("report_run")


def flat(result) -> str:
    return " ".join(result.output.split())


def test_report_command_errors(cli, tmp_path) -> None:
    result = cli("report", "--run", tmp_path / "absent")
    assert result.exit_code == USER_ERROR_EXIT
    assert "run folder does not exist" in flat(result)
    (tmp_path / "empty").mkdir()
    result = cli("report", "--run", tmp_path / "empty")
    assert result.exit_code == USER_ERROR_EXIT and "is this a study run folder" in flat(result)
    result = cli("report", "--run", tmp_path / "empty", "--format", "docx")
    assert result.exit_code == USER_ERROR_EXIT and "'docx' is not allowed" in flat(result)


@pytest.mark.slow  # needs the shared full report's PDF
def test_page_images_are_skipped_with_a_note_without_pdftoppm(full_report, monkeypatch, tmp_path):
    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    pages, why = render.render_pages(full_report.files["pdf"], tmp_path / "pages")
    assert pages == [] and "pdftoppm" in why


def test_site_separability_before_and_after_removing_a_site_effect() -> None:
    rng = np.random.default_rng(0)
    n = 120
    sites = pd.Series(np.where(np.arange(n) < 60, "A", "B"), index=[f"P{i}" for i in range(n)])
    features = pd.DataFrame(rng.normal(size=(n, 30)), index=sites.index)
    shifted = features + np.where(sites.to_numpy() == "B", 1.5, 0.0)[:, None]
    assert site_separability(shifted, sites, seed=1).auc > 0.95
    assert abs(site_separability(features, sites, seed=1).auc - 0.5) < 0.2
    coords = pca_coordinates(shifted, sites)
    assert list(coords.columns) == ["pc1", "pc2", "site", "pc1_variance", "pc2_variance"]
    assert len(coords) == n and 0 < coords["pc2_variance"].iloc[0] <= coords["pc1_variance"].iloc[0]
