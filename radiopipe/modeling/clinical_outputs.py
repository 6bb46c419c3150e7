"""The train stage's rad-score and clinical/combined files (``contracts.TrainLayout``).

``radscore.parquet`` (every unit's scored patients: out-of-fold for training patients),
``radscore_tests.csv`` (rad-score by outcome per split, Mann-Whitney U), and the final
model's ``radscore_formula.csv``, ``radscore_harmonisation.csv``, ``clinical_univariable.csv``,
``clinical_multivariable.csv``, ``combined_coefficients.csv``, ``nomogram_points.csv`` and
``nomogram_total.csv``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from radiopipe.atomic import write_csv, write_parquet
from radiopipe.contracts import Split, TrainLayout
from radiopipe.errors import ConfigError

TEST_COLUMNS = (
    "split",
    "n",
    "n_cases",
    "n_controls",
    "median_cases",
    "median_controls",
    "q1_cases",
    "q3_cases",
    "q1_controls",
    "q3_controls",
    "mann_whitney_u",
    "p_value",
)


def load_clinical(manifest: Path | None, names: list[str]) -> pd.DataFrame:
    """The raw covariates named in ``clinical.covariates``, indexed by patient."""
    if manifest is None:
        raise ConfigError(f"clinical.covariates {names} need a manifest (--manifest)")
    from radiopipe.cohort.manifest import read_manifest

    cohort = read_manifest(manifest)
    unknown = [c for c in names if c not in cohort.covariates]
    if unknown:
        raise ConfigError(
            f"clinical.covariates {unknown} are not columns of {manifest}; "
            f"available covariates: {cohort.covariates}"
        )
    table = cohort.table.set_index("patient_id")[names]
    return table.replace("", np.nan)


def write_outputs(out: Path, results: list, labels: pd.Series) -> dict[str, Path]:
    """Write the rad-score and clinical files the units produced; return what was written."""
    layout = TrainLayout(out)
    rows = [r.extras["radscore"] for r in results if "radscore" in r.extras]
    written = _write(layout, rows, results[-1].extras, labels)
    for name in FILES:  # an earlier call's file that this call did not write would be stale
        if name not in written:
            getattr(layout, name).unlink(missing_ok=True)
    return written


FILES = (
    "radscore", "radscore_tests", "radscore_formula", "radscore_harmonisation",
    "clinical_univariable", "clinical_multivariable", "combined_coefficients",
    "nomogram_points", "nomogram_total",
)  # fmt: skip


def _write(layout: TrainLayout, rows: list, final: dict, labels: pd.Series) -> dict[str, Path]:
    written: dict[str, Path] = {}
    if rows:  # the rad-score exists whenever LASSO selects
        radscores = pd.concat(rows, ignore_index=True)
        written["radscore"] = write_parquet(layout.radscore, radscores)
        tests = radscore_tests(radscores, labels)
        written["radscore_tests"] = write_csv(layout.radscore_tests, tests)
    for name, table in final.items():
        if name != "radscore":
            written[name] = write_csv(getattr(layout, name), table)
    return written


def radscore_tests(radscores: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    """Rad-score by outcome per split (not the apparent ``train`` rows): Mann-Whitney U."""
    from scipy.stats import mannwhitneyu

    frame = radscores[radscores["split"] != Split.TRAIN].copy()
    frame["label"] = labels.reindex(frame["patient_id"]).to_numpy()
    frame = frame.dropna(subset=["label"])
    per_patient = frame.groupby(["split", "patient_id"], sort=False).agg(
        radscore=("radscore", "mean"), label=("label", "first")
    )
    out = []
    for split, rows in per_patient.groupby(level="split", sort=False):
        cases = rows.loc[rows["label"] == 1, "radscore"].to_numpy()
        controls = rows.loc[rows["label"] == 0, "radscore"].to_numpy()
        u, p = (np.nan, np.nan)
        if len(cases) and len(controls):
            u, p = mannwhitneyu(cases, controls, alternative="two-sided")
        q = lambda v, k: float(np.quantile(v, k)) if len(v) else np.nan  # noqa: E731
        out.append(
            (
                split,
                len(rows),
                len(cases),
                len(controls),
                q(cases, 0.5),
                q(controls, 0.5),
                q(cases, 0.25),
                q(cases, 0.75),
                q(controls, 0.25),
                q(controls, 0.75),
                float(u),
                float(p),
            )
        )
    return pd.DataFrame(out, columns=list(TEST_COLUMNS))
