"""Cohort extraction: output contract, cache reuse, partial recomputation, failure isolation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import yaml

from radiopipe.atomic import read_parquet_metadata
from radiopipe.cohort.manifest import read_manifest
from radiopipe.features.executor import ExecutorOptions
from radiopipe.features.extract import extract_cohort
from radiopipe.features.naming import parse_column
from radiopipe.features.params import load_params, pyradiomics_version, validate_params
from tests.conftest import sphere_mask, write_volume
from tests.features.conftest import FAST, SHAPE, build_cohort

IN_PROCESS = ExecutorOptions(workers=0)


def run(manifest: Path, out: Path, params=None, **kwargs):
    params = params or load_params(FAST)
    return extract_cohort(
        read_manifest(manifest), params, out, IN_PROCESS, show_progress=False, **kwargs
    )


def test_outputs_follow_the_contract(tiny_cohort: Path, tmp_path: Path) -> None:
    from radiomics.featureextractor import RadiomicsFeatureExtractor

    result = run(tiny_cohort, tmp_path / "out")
    features = pd.read_parquet(tmp_path / "out" / "features.parquet")
    assert list(features["patient_id"]) == ["P000", "P001", "P002", "P003", "P004"]
    assert features.columns[0] == "patient_id"
    columns = list(features.columns[1:])
    assert all(features[c].dtype == np.float64 for c in columns)
    assert {parse_column(c).sequence for c in columns} == {"t2w", "cet1w"}
    assert not features[columns].isna().any().any()
    assert result.summary.computed == 10 and result.failures.empty
    # the same numbers as pyradiomics run directly on the files
    extractor = RadiomicsFeatureExtractor(str(FAST))
    direct = extractor.execute(
        str(tiny_cohort.parent / "P002" / "cet1w.nii.gz"),
        str(tiny_cohort.parent / "P002" / "cet1w_mask.nii.gz"),
    )
    names = [k for k in direct if not k.startswith("diagnostics_")]
    assert len(names) == sum(parse_column(c).sequence == "cet1w" for c in columns)
    row = features.set_index("patient_id").loc["P002"]
    for name in names:
        assert row[f"cet1w__{name}"] == pytest.approx(np.real(direct[name]), rel=1e-12, abs=1e-300)
    meta = read_parquet_metadata(tmp_path / "out" / "features.parquet")
    assert meta["settings_sha256"] == load_params(FAST).sha256
    assert meta["pyradiomics_version"] == pyradiomics_version()
    assert json.loads(meta["sequences"]) == ["t2w", "cet1w"]
    diagnostics = pd.read_parquet(tmp_path / "out" / "diagnostics.parquet")
    assert len(diagnostics) == 10
    assert {"patient_id", "sequence", "Mask-original_VoxelNum", "radiopipe_seconds"} <= set(
        diagnostics.columns
    )
    assert list(pd.read_csv(tmp_path / "out" / "failures.csv").columns) == [
        "patient_id", "sequence", "file", "error",
    ]  # fmt: skip


def test_rerun_uses_the_cache_and_gives_identical_tables(tiny_cohort: Path, tmp_path: Path) -> None:
    first = run(tiny_cohort, tmp_path / "out")
    second = run(tiny_cohort, tmp_path / "out")
    assert second.summary.cached == 10 and second.summary.computed == 0
    pd.testing.assert_frame_equal(first.features, second.features)


def test_changing_a_setting_recomputes_only_what_it_affects(tmp_path: Path) -> None:
    manifest = build_cohort(tmp_path / "cohort", n=2)
    data = yaml.safe_load(FAST.read_text(encoding="utf-8"))
    run(manifest, tmp_path / "out", validate_params(data))
    data["imageType"]["LoG"]["sigma"] = [2.0, 3.0]  # one more derived image
    more = run(manifest, tmp_path / "out", validate_params(data))
    assert more.summary.computed == 4
    assert more.summary.units_computed == 4 * 2  # LoG sigma 3 x (firstorder, glcm) per task
    fresh = run(manifest, tmp_path / "fresh", validate_params(data))
    pd.testing.assert_frame_equal(more.features, fresh.features)
    data["setting"]["binWidth"] = 50  # changes every feature
    rebinned = run(manifest, tmp_path / "out", validate_params(data))
    assert rebinned.summary.units_computed == 4 * 7  # shape + 3 images x 2 classes


def test_a_changed_mask_recomputes_only_its_task(tiny_cohort: Path, tmp_path: Path) -> None:
    first = run(tiny_cohort, tmp_path / "out")
    mask_file = tiny_cohort.parent / "P001" / "t2w_mask.nii.gz"
    write_volume(mask_file, sphere_mask(SHAPE, 4.2, center=(5, 12, 12)), (1.0, 1.0, 2.0))
    second = run(tiny_cohort, tmp_path / "out")
    assert (second.summary.computed, second.summary.cached) == (1, 9)
    changed = second.features.set_index("patient_id")
    before = first.features.set_index("patient_id")
    assert (
        changed.loc["P001", "t2w__original_shape_VoxelVolume"]
        != (before.loc["P001", "t2w__original_shape_VoxelVolume"])
    )
    pd.testing.assert_frame_equal(changed.drop(index="P001"), before.drop(index="P001"))


def break_cases(manifest: Path) -> dict[tuple[str, str], str]:
    """Make four tasks fail in four ways; return (patient, sequence) -> expected message."""
    root = manifest.parent
    (root / "P000" / "t2w.nii.gz").write_bytes(b"not a volume")
    write_volume(root / "P001" / "cet1w_mask.nii.gz", np.zeros(SHAPE, np.uint8), (1.2, 1.2, 2.0))
    one = np.zeros(SHAPE, np.uint8)
    one[5, 12, 12] = 1
    write_volume(root / "P002" / "t2w_mask.nii.gz", one, (1.0, 1.0, 2.0))
    write_volume(root / "P003" / "cet1w_mask.nii.gz", sphere_mask(SHAPE, 3), (1.0, 1.0, 2.0))
    return {
        ("P000", "t2w"): "unreadable volume",
        ("P001", "cet1w"): "mask is empty: no voxel has label 1",
        ("P002", "t2w"): "single voxel",
        ("P003", "cet1w"): "mask and image grids disagree (spacing",
    }


def test_failures_are_isolated_and_listed(tiny_cohort: Path, tmp_path: Path) -> None:
    expected = break_cases(tiny_cohort)
    result = run(tiny_cohort, tmp_path / "out")
    failures = pd.read_csv(tmp_path / "out" / "failures.csv")
    assert len(failures) == 4 and result.summary.computed == 6
    for row in failures.itertuples():
        assert expected[(row.patient_id, row.sequence)] in row.error
        assert Path(row.file).exists()
    assert failures.set_index("patient_id").loc["P000", "file"].endswith("P000/t2w.nii.gz")
    assert failures.set_index("patient_id").loc["P001", "file"].endswith("cet1w_mask.nii.gz")
    features = result.features.set_index("patient_id")
    t2w = [c for c in features.columns if c.startswith("t2w__")]
    assert features.loc["P000", t2w].isna().all()
    cet1w = [c for c in features.columns if c.startswith("cet1w__")]
    assert features.loc["P000", cet1w].notna().all()
    assert features.loc["P004"].notna().all()


def test_missing_mask_column_is_a_failure_not_a_crash(tiny_cohort: Path, tmp_path: Path) -> None:
    table = pd.read_csv(tiny_cohort).drop(columns=["mask_cet1w"])
    table.to_csv(tiny_cohort, index=False)
    result = run(tiny_cohort, tmp_path / "out")
    assert len(result.failures) == 5
    assert result.failures["error"].str.contains("column mask_cet1w is missing").all()


def test_cli_exit_status_and_summary(tiny_cohort: Path, tmp_path: Path, cli) -> None:
    break_cases(tiny_cohort)
    args = ["extract", "--manifest", tiny_cohort, "--config", FAST, "--workers", 0]
    failed = cli(*args, "--out", tmp_path / "a")
    assert failed.exit_code == 1
    assert "4 failed" in failed.output and "--allow-failures" in failed.output
    allowed = cli(*args, "--out", tmp_path / "a", "--allow-failures")
    assert allowed.exit_code == 0, allowed.output
    assert "6 from cache" in allowed.output
    record = json.loads((tmp_path / "a" / "provenance.json").read_text(encoding="utf-8"))
    assert record["settings_sha256"] == load_params(FAST).sha256
    assert record["extraction"]["failed"] == 4


def test_cli_rejects_bad_options(tiny_cohort: Path, tmp_path: Path, cli) -> None:
    args = ["extract", "--manifest", tiny_cohort, "--config", FAST, "--out", tmp_path / "o"]
    bad = cli(*args, "--memory-limit", "lots")
    assert bad.exit_code == 2 and "--memory-limit" in bad.output
    bad_params = tmp_path / "bad.yaml"
    bad_params.write_text("setting:\n  binWidht: 5\n")
    bad = cli("extract", "--manifest", tiny_cohort, "--config", bad_params, "--out", tmp_path / "o")
    assert bad.exit_code == 2 and "did you mean 'binWidth'" in bad.output


def test_label_setting_selects_the_mask_label(tiny_cohort: Path, tmp_path: Path) -> None:
    root = tiny_cohort.parent
    for pid in ("P000", "P001"):
        for seq, spacing in (("t2w", (1.0, 1.0, 2.0)), ("cet1w", (1.2, 1.2, 2.0))):
            image = sitk.ReadImage(str(root / pid / f"{seq}_mask.nii.gz"))
            write_volume(
                root / pid / f"{seq}_mask.nii.gz", sitk.GetArrayFromImage(image) * 2, spacing
            )
    data = yaml.safe_load(FAST.read_text(encoding="utf-8"))
    data["setting"]["label"] = 2
    result = run(tiny_cohort, tmp_path / "out", validate_params(data))
    assert set(result.failures["patient_id"]) == {"P002", "P003", "P004"}
    assert result.failures["error"].str.contains("no voxel has label 2").all()
