"""The generated cohort on disk: manifest, splits, volumes, masks, determinism, resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from scipy.spatial.distance import pdist

from radiopipe.cohort.manifest import read_manifest
from radiopipe.cohort.validate import validate_cohort
from radiopipe.errors import RadiopipeError
from radiopipe.synth import generate_cohort

COLUMNS = [
    "patient_id", "site", "split", "label",
    "image_t2w", "mask_t2w", "image_cet1w", "mask_cet1w",
    "age", "fat_thickness_mm", "funaki_type", "enhancement_grade", "lesion_diameter_mm",
]  # fmt: skip
RUN_RECORD = {"provenance.json", "radiopipe.log"}  # timestamps: the only files that may differ


def read(path: Path) -> tuple[np.ndarray, sitk.Image]:
    image = sitk.ReadImage(str(path))
    return sitk.GetArrayFromImage(image), image


def file_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in RUN_RECORD
    }


@pytest.fixture(scope="module")
def manifest(synthetic_cohort) -> Path:
    return synthetic_cohort(sites="A:12,B:6", size="tiny", seed=0)


def test_manifest_columns_ids_and_relative_paths(manifest: Path) -> None:
    table = pd.read_csv(manifest, dtype=str)
    assert list(table.columns) == COLUMNS
    assert table["patient_id"].tolist()[:2] == ["A-0001", "A-0002"]
    assert table["patient_id"].tolist()[-1] == "B-0006"
    for column in ("image_t2w", "mask_t2w", "image_cet1w", "mask_cet1w"):
        assert not any(Path(v).is_absolute() for v in table[column])
        assert all((manifest.parent / v).is_file() for v in table[column])
    assert set(table["label"]) <= {"0", "1"}
    assert set(table["funaki_type"]) <= {"1", "2", "3"}


def test_splits_external_site_and_stratified_internal_test(manifest: Path) -> None:
    table = pd.read_csv(manifest)
    assert (table.loc[table["site"] == "B", "split"] == "external_test").all()
    site_a = table[table["site"] == "A"]
    assert set(site_a["split"]) <= {"train", "internal_test"}
    internal = site_a[site_a["split"] == "internal_test"]
    assert len(internal) == round(0.2 * 12)
    # Stratified: the internal test set's positives follow the site's ratio (largest remainder).
    expected = 0.2 * site_a["label"].sum()
    assert abs(internal["label"].sum() - expected) < 1


def test_volumes_int16_masks_binary_on_the_same_grid(manifest: Path) -> None:
    cohort = read_manifest(manifest)
    for pid in cohort.patients[:4] + cohort.patients[-2:]:
        for seq in ("t2w", "cet1w"):
            image, image_itk = read(cohort.image_path(pid, seq))
            mask, mask_itk = read(cohort.mask_path(pid, seq))
            assert image.dtype == np.int16 and mask.dtype == np.uint8
            assert set(np.unique(mask)) == {0, 1}
            assert image_itk.GetSize() == mask_itk.GetSize()
            assert image_itk.GetSpacing() == mask_itk.GetSpacing()
            assert image_itk.GetOrigin() == mask_itk.GetOrigin()
            assert 4.0 <= image_itk.GetSpacing()[2] * 2 / 3 <= 6.0  # tiny: 1.5 x the 4-6 mm
            assert 500 < np.percentile(image, 99) < 32767


def test_t2_and_cet1_grids_differ_as_in_the_protocols(manifest: Path) -> None:
    cohort = read_manifest(manifest)
    _, t2 = read(cohort.image_path("A-0001", "t2w"))
    _, ce = read(cohort.image_path("A-0001", "cet1w"))
    assert t2.GetSpacing() != ce.GetSpacing()
    assert t2.GetSpacing()[2] > ce.GetSpacing()[2]  # T2WI 6 mm slices, CE-T1WI 4 mm


def test_lesion_diameter_from_the_mask_is_3_to_8_cm(manifest: Path) -> None:
    cohort = read_manifest(manifest)
    for pid in cohort.patients:
        mask, image = read(cohort.mask_path(pid, "t2w"))
        points = np.argwhere(mask)[:, ::-1] * np.asarray(image.GetSpacing())
        feret = pdist(points).max()
        stated = float(cohort.row(pid)["lesion_diameter_mm"])
        assert 30 <= stated <= 80
        # Voxel centres of a rasterised mask: about one voxel shorter, and slices are coarse.
        assert stated - 2 * image.GetSpacing()[2] <= feret <= stated + image.GetSpacing()[0]


def test_generated_cohort_validates(manifest: Path) -> None:
    assert validate_cohort(read_manifest(manifest)) == []


def test_sites_differ_in_intensity_and_noise(manifest: Path) -> None:
    cohort = read_manifest(manifest)
    stats: dict[str, list[tuple[float, float]]] = {"A": [], "B": []}
    for pid in cohort.patients:
        image, _ = read(cohort.image_path(pid, "t2w"))
        level = np.percentile(image, 95)
        # Noise from neighbour differences (median: robust to edges), relative to the signal.
        noise = np.median(np.abs(np.diff(image.astype(float), axis=2))) / (0.6745 * np.sqrt(2))
        stats[pid[0]].append((level, noise / level))
    a, b = np.array(stats["A"]), np.array(stats["B"])
    assert a[:, 0].min() > 1.5 * b[:, 0].max()  # scanner scale
    assert b[:, 1].min() > 1.2 * a[:, 1].max()  # 1.5 T: lower SNR, for every patient


def test_same_seed_same_bytes_serial_and_parallel(manifest: Path, tmp_path: Path) -> None:
    again = generate_cohort(tmp_path / "again", sites="A:12,B:6", size="tiny", seed=0, workers=2)
    first, second = file_bytes(manifest.parent), file_bytes(again.parent)
    assert sorted(first) == sorted(second)
    assert all(first[name] == second[name] for name in first)
    other = generate_cohort(tmp_path / "other", sites="A:3", size="tiny", seed=1, workers=1)
    assert (other.parent / "images/A-0001_t2w.nii.gz").read_bytes() != first[
        "images/A-0001_t2w.nii.gz"
    ]


def test_resume_rewrites_only_missing_files(manifest: Path, tmp_path: Path) -> None:
    out = tmp_path / "cohort"
    generate_cohort(out, sites="A:3,B:2", size="tiny", seed=0, workers=1)
    kept = out / "images/A-0001_t2w.nii.gz"
    lost = out / "masks/B-0002_cet1w.nii.gz"
    original = lost.read_bytes()
    kept_time = kept.stat().st_mtime_ns
    lost.unlink()
    generate_cohort(out, sites="A:3,B:2", size="tiny", seed=0, workers=1)
    assert lost.read_bytes() == original
    assert kept.stat().st_mtime_ns == kept_time
    # A patient is the same whatever the cohort around it.
    assert kept.read_bytes() == (manifest.parent / "images/A-0001_t2w.nii.gz").read_bytes()


def test_truth_and_parameters_are_written(manifest: Path) -> None:
    truth = pd.read_csv(manifest.parent / "truth.csv")
    table = pd.read_csv(manifest)
    assert truth["patient_id"].tolist() == table["patient_id"].tolist()
    assert (truth["label"] == table["label"]).all() and (truth["split"] == table["split"]).all()
    assert {"t2_solid", "ce_solid", "heterogeneity", "degeneration", "linear_predictor",
            "probability"} <= set(truth.columns)  # fmt: skip
    params = json.loads((manifest.parent / "synth.json").read_text(encoding="utf-8"))
    model = params["outcome_model"]
    assert model["effect_size"] == 2.5 and params["settings"]["seed"] == 0
    eta = model["intercept"] + sum(
        truth[f"latent_{k}"] * v for k, v in model["coefficients"].items()
    )
    assert np.allclose(eta, truth["linear_predictor"], atol=1e-4)
    assert params["scanners"]["A"]["field_t"] == 3.0 and params["scanners"]["B"]["field_t"] == 1.5


def test_folder_checks(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(RadiopipeError, match="holds no synthetic cohort"):
        generate_cohort(foreign, sites="A:2", size="tiny")
    assert (foreign / "notes.txt").read_text(encoding="utf-8") == "mine"
    out = tmp_path / "cohort"
    generate_cohort(out, sites="A:2", size="tiny", workers=1)
    with pytest.raises(RadiopipeError, match=r"seed 0 -> 5.*--overwrite"):
        generate_cohort(out, sites="A:2", size="tiny", seed=5)
    generate_cohort(out, sites="A:2", size="tiny", seed=5, overwrite=True, workers=1)
    assert json.loads((out / "synth.json").read_text(encoding="utf-8"))["settings"]["seed"] == 5
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(RadiopipeError, match="not a folder"):
        generate_cohort(a_file, sites="A:2", size="tiny")
