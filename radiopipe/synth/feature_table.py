"""Synthetic radiomics feature tables with known signal and scanner effects (tests, benchmarks).

Features are noisy mixtures of a few latent factors (so that they correlate, as radiomics
features do); ``n_informative`` of them shift with the outcome by ``effect`` standard
deviations. Each site multiplies and shifts every feature (scanner effect). The outcome is
independent of the site, so a site classifier has nothing but scanner effects to find.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from radiopipe.contracts import Split


@dataclass
class SyntheticCohort:
    """A feature table (``patient_id`` + features) and the manifest columns that go with it."""

    features: pd.DataFrame
    clinical: pd.DataFrame  # patient_id, site, split, label, age
    informative: list[str]


def simulate_cohort(
    n_patients: int = 120,
    n_features: int = 200,
    n_informative: int = 10,
    effect: float = 1.0,
    n_sites: int = 2,
    site_shift: float = 0.0,
    site_scale: float = 0.0,
    n_factors: int = 20,
    external_site: bool = False,
    seed: int = 0,
) -> SyntheticCohort:
    """Simulate a cohort; the last site becomes the external test set if ``external_site``."""
    rng = np.random.default_rng(seed)
    label = rng.permutation(np.arange(n_patients) % 2)
    site_index = rng.integers(0, n_sites, n_patients)
    loadings = rng.normal(size=(n_factors, n_features))
    factors = rng.normal(size=(n_patients, n_factors))
    values = factors @ loadings / np.sqrt(n_factors) + rng.normal(size=(n_patients, n_features))
    values /= values.std(axis=0)
    informative = rng.choice(n_features, size=n_informative, replace=False)
    signs = rng.choice([-1.0, 1.0], size=n_informative)
    values[:, informative] += effect * signs * (label[:, None] - 0.5) * 2
    shifts = rng.normal(scale=site_shift, size=(n_sites, n_features))
    scales = np.exp(rng.normal(scale=site_scale, size=(n_sites, n_features)))
    values = values * scales[site_index] + shifts[site_index]
    values = values * rng.uniform(0.5, 50, n_features) + rng.uniform(-10, 100, n_features)
    names = [
        f"{'t2w' if j % 2 == 0 else 'cet1w'}__original_firstorder_Synthetic{j:04d}"
        for j in range(n_features)
    ]
    patients = [f"P{i:04d}" for i in range(n_patients)]
    features = pd.DataFrame(values, columns=names)
    features.insert(0, "patient_id", patients)
    sites = np.asarray([f"S{k + 1}" for k in range(n_sites)])[site_index]
    split = np.full(n_patients, Split.TRAIN.value, dtype=object)
    internal = rng.random(n_patients) < 0.2
    split[internal] = Split.INTERNAL_TEST.value
    if external_site:
        split[site_index == n_sites - 1] = Split.EXTERNAL_TEST.value
    clinical = pd.DataFrame(
        {
            "patient_id": patients,
            "site": sites,
            "split": split,
            "label": label,
            "age": np.round(rng.normal(40, 7, n_patients), 1),
        }
    )
    return SyntheticCohort(features, clinical, [names[j] for j in informative])


def write_cohort(cohort: SyntheticCohort, folder: str, sequences: tuple[str, ...] = ("t2w",)):
    """Write ``features.parquet`` and ``manifest.csv`` (placeholder image paths) into a folder."""
    from pathlib import Path

    from radiopipe.atomic import write_csv, write_parquet

    folder_path = Path(folder)
    features_path = write_parquet(folder_path / "features.parquet", cohort.features)
    manifest = cohort.clinical.copy()
    for seq in sequences:
        manifest[f"image_{seq}"] = [f"images/{p}_{seq}.nii.gz" for p in manifest["patient_id"]]
    manifest_path = write_csv(folder_path / "manifest.csv", manifest)
    return features_path, manifest_path
