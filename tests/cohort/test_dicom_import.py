"""`radiopipe import dicom` on the synthetic PACS export: choice, masks, privacy, features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
import SimpleITK as sitk

from radiopipe.cohort.dicom.importer import import_dicom, plan_import
from radiopipe.config.core import parse_config
from radiopipe.config.dicom import DicomRules, load_rules
from radiopipe.errors import ConfigError, ManifestError

SEQUENCES = ("t2w", "cet1w")


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-patient tiny cohort (site A: RTSTRUCT, site B: enhanced MR + SEG) and its import."""
    from radiopipe.synth import generate_cohort
    from radiopipe.synth.dicom_export import export_dicom

    folder = tmp_path_factory.mktemp("dicom-cohort")
    generate_cohort(folder, sites="A:2,B:2", size="tiny", seed=3, workers=1)
    export_dicom(folder, seed=3)
    rules = load_rules(folder / "import_rules.yaml")
    import_dicom(folder / "dicom", rules, folder / "clinical.csv", folder / "imported")
    return folder


def _fake_identifiers(root: Path) -> set[str]:
    found = set()
    for path in root.rglob("IM*"):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        for keyword in (
            "PatientName",
            "PatientBirthDate",
            "OtherPatientIDs",
            "AccessionNumber",
            "InstitutionName",
            "ReferringPhysicianName",
        ):
            value = str(ds.get(keyword, "") or "")
            if value:
                found.add(value)
    return found


def test_export_is_pacs_like(export: Path) -> None:
    files = [p for p in (export / "dicom").rglob("*") if p.is_file()]
    assert all(p.suffix == "" for p in files if p.name != "README.TXT")
    assert (
        min(len(p.relative_to(export / "dicom").parts) for p in files if p.name != "README.TXT")
        == 4
    )
    classes = {
        str(pydicom.dcmread(p, stop_before_pixels=True).SOPClassUID.name)
        for p in files
        if p.name != "README.TXT"
    }
    assert {
        "MR Image Storage",
        "RT Structure Set Storage",
        "Segmentation Storage",
        "Legacy Converted Enhanced MR Image Storage",
    } <= classes
    clinical = pd.read_csv(export / "clinical.csv", dtype=str)
    assert list(clinical.columns[:4]) == ["patient_id", "site", "split", "label"]
    assert "age" in clinical.columns


def test_rules_pick_the_cohort_series_and_masks(export: Path) -> None:
    plan = plan_import(export / "dicom", load_rules(export / "import_rules.yaml"))
    assert plan.problems == []
    table = plan.candidates_table()
    assert len(table) == 4 * 6  # localiser, T2WI, DWI, pre-contrast T1, two post-contrast
    picked = table[table["picked"] != "-"]
    assert sorted(picked["picked"].value_counts().items()) == [("cet1w", 4), ("t2w", 4)]
    # The latest post-contrast phase is chosen (09:17:30), not the early one (09:14:20).
    assert set(picked.loc[picked["picked"] == "cet1w", "date_time"].str[-8:]) == {"09:17:30"}
    masks = set(picked["mask"].str.split(":").str[1].str.split().str[0])
    assert masks == {"RTSTRUCT", "SEG"}


def test_import_reproduces_the_nifti_cohort_exactly(export: Path) -> None:
    original = pd.read_csv(export / "manifest.csv", dtype=str).set_index("patient_id")
    imported = pd.read_csv(export / "imported" / "manifest.csv", dtype=str).set_index("patient_id")
    assert sorted(imported.index) == sorted(original.index)
    for pid in original.index:
        for column in [f"{k}_{s}" for s in SEQUENCES for k in ("image", "mask")]:
            a = sitk.ReadImage(str(export / original.loc[pid, column]))
            b = sitk.ReadImage(str(export / "imported" / imported.loc[pid, column]))
            assert np.array_equal(sitk.GetArrayFromImage(a), sitk.GetArrayFromImage(b)), (
                pid,
                column,
            )
            assert np.allclose(a.GetOrigin(), b.GetOrigin(), atol=1e-3)
            assert np.allclose(a.GetSpacing(), b.GetSpacing(), rtol=1e-6)
            assert np.allclose(a.GetDirection(), b.GetDirection(), atol=1e-6)
    for column in ("site", "split", "label", "age"):
        assert (imported[column] == original.loc[imported.index, column]).all()
    assert set(imported["t2w__manufacturer"]) == {"GE MEDICAL SYSTEMS"}
    fields = imported.groupby("site")["cet1w__field_strength_t"].first().astype(float).to_dict()
    assert fields == {"A": 3.0, "B": 1.5}
    assert (imported["t2w__tr_ms"].astype(float) == 4000).all()


def test_no_identifying_value_reaches_the_outputs(export: Path, cli) -> None:
    fakes = _fake_identifiers(export / "dicom")
    assert len(fakes) > 10  # the export does carry names, birth dates, accession numbers
    dry = cli(
        "import",
        "dicom",
        export / "dicom",
        "--rules",
        export / "import_rules.yaml",
        "--clinical",
        export / "clinical.csv",
        "--out",
        export / "unused",
        "--dry-run",
    )
    assert dry.exit_code == 0, dry.output
    texts = [dry.output]
    for path in (export / "imported").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if path.name.endswith(".gz"):
                import gzip

                data = gzip.decompress(data)
            texts.append(data.decode("latin-1"))
    leaked = {f for f in fakes for text in texts if f in text}
    assert leaked == set()


def test_ambiguous_and_missing_matches_list_every_patient_by_description(export: Path) -> None:
    rules = parse_config(
        {
            "sequences": {
                "cet1w": {"description": ["(?i)lava"], "contrast": True, "prefer": "unique"},
                "dwi": {"description": ["(?i)adc"]},
            }
        },
        DicomRules,
    )
    plan = plan_import(export / "dicom", rules)
    ambiguous = [p for p in plan.problems if "2 series match cet1w" in p]
    missing = [p for p in plan.problems if "no series matches dwi" in p]
    assert len(ambiguous) == 4 and len(missing) == 4  # every patient, all at once
    assert "'Ax T1 LAVA +C' (series 6, " in " ".join(ambiguous)
    assert "09:14:20" in ambiguous[0] and "09:17:30" in ambiguous[0]
    assert "1.2.826" not in " ".join(plan.problems)  # never a bare UID
    with pytest.raises(ManifestError, match="8 problem"):
        import_dicom(export / "dicom", rules, export / "clinical.csv", export / "never")


def test_patient_ids_from_a_mapping_csv(export: Path, tmp_path: Path) -> None:
    mapping = tmp_path / "ids.csv"
    clinical = pd.read_csv(export / "clinical.csv", dtype=str)
    pd.DataFrame(
        {"dicom_id": clinical["patient_id"], "patient_id": "P" + clinical.index.astype(str)}
    ).to_csv(mapping, index=False)
    rules = load_rules(export / "import_rules.yaml")
    rules.patient_id.mapping = mapping
    plan = plan_import(export / "dicom", rules)
    assert sorted(p.patient_id for p in plan.patients) == ["P0", "P1", "P2", "P3"]


def test_rules_file_errors_name_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text(
        "sequences:\n  t2w:\n    description: ['(unclosed']\n    prefered: latest\n"
        "  cet1w:\n    contrast: yes\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_rules(bad)
    text = str(err.value)
    assert "(unclosed" in text and "prefered" in text and "cet1w" in text


def test_features_from_dicom_equal_features_from_nifti(export: Path, tmp_path: Path) -> None:
    from radiopipe.features.stage import extract_features

    params = tmp_path / "params.yaml"
    params.write_text(
        "imageType: {Original: {}}\nfeatureClass: {shape: , firstorder: , glcm: }\n"
        "setting: {binWidth: 25, resampledPixelSpacing: [2, 2, 2], interpolator: sitkBSpline,"
        " label: 1}\n",
        encoding="utf-8",
    )
    settings = {"params": str(params), "execution": {"workers": 0}}
    tables = []
    for name, manifest in (
        ("nifti", export / "manifest.csv"),
        ("dicom", export / "imported" / "manifest.csv"),
    ):
        extract_features(manifest, settings, tmp_path / name, show_progress=False)
        tables.append(pd.read_parquet(tmp_path / name / "features.parquet").set_index("patient_id"))
    nifti, dicom = (t.sort_index() for t in tables)
    assert list(nifti.columns) == list(dicom.columns) and len(nifti) == 4
    assert {c.split("__")[0] for c in nifti.columns} == set(SEQUENCES)
    rel = (nifti - dicom).abs() / np.maximum(nifti.abs(), 1e-12)
    assert float(rel.max().max()) <= 1e-6


def test_missing_slice_is_reported_then_resampled_when_allowed(
    export: Path, tmp_path: Path
) -> None:
    import shutil

    root = tmp_path / "export"
    shutil.copytree(export / "dicom" / "PAT00001", root / "PAT00001")
    t2_dir = next(p for p in root.rglob("SE0003"))
    files = sorted(t2_dir.iterdir())
    files[len(files) // 2].unlink()
    rules = load_rules(export / "import_rules.yaml")
    problems = plan_import(root, rules).problems
    assert len(problems) == 1
    assert "'Ax T2 FRFSE' (series 3, " in problems[0] and "1 missing slice(s)" in problems[0]
    assert "not resampled" in problems[0]
    rules.sequences["t2w"].resample = True
    clinical = tmp_path / "clinical.csv"
    table = pd.read_csv(export / "clinical.csv", dtype=str)
    table[table["patient_id"] == "A-0001"].to_csv(clinical, index=False)
    manifest = import_dicom(root, rules, clinical, tmp_path / "out")
    row = pd.read_csv(manifest, dtype=str).iloc[0]
    imported = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "out" / row["image_t2w"])))
    original = pd.read_csv(export / "manifest.csv", dtype=str).set_index("patient_id")
    reference = sitk.GetArrayFromImage(
        sitk.ReadImage(str(export / original.loc["A-0001", "image_t2w"]))
    )
    k = len(files) // 2
    assert imported.shape == reference.shape
    keep = [i for i in range(len(files)) if i != k]
    assert np.allclose(imported[keep], reference[keep])
    expected = (reference[k - 1].astype(float) + reference[k + 1]) / 2
    assert np.allclose(imported[k], expected, atol=1e-3)
    # The contour drawn on the missing plane still lands on the resampled grid's plane.
    mask = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "out" / row["mask_t2w"])))
    ref_mask = sitk.ReadImage(str(export / original.loc["A-0001", "mask_t2w"]))
    assert np.array_equal(mask, sitk.GetArrayFromImage(ref_mask))
    assert mask[k].sum() > 0


def test_identifying_tags_are_refused_as_ids() -> None:
    with pytest.raises(ConfigError, match="identifies a person"):
        parse_config({"patient_id": {"tag": "PatientName"}, "sequences": {}}, DicomRules)
    with pytest.raises(ConfigError, match="mapping CSV"):
        parse_config(
            {
                "patient_id": {"tag": "AccessionNumber"},
                "sequences": {"t2w": {"description": ["t2"]}},
            },
            DicomRules,
        )
    rules = parse_config(
        {
            "patient_id": {"tag": "AccessionNumber", "mapping": "ids.csv"},
            "sequences": {"t2w": {"description": ["t2"]}},
        },
        DicomRules,
    )
    assert rules.patient_id.tag == "AccessionNumber"


def test_mask_drawn_on_another_series_is_mapped_onto_the_chosen_one(
    export: Path, tmp_path: Path
) -> None:
    rules = load_rules(export / "import_rules.yaml")
    rules.sequences["cet1w"].prefer = "earliest"  # the early phase; lesions were drawn on the late
    plan = plan_import(export / "dicom", rules)
    assert plan.problems == []
    for patient in plan.patients:
        source = patient.masks["cet1w"]
        assert source.reference is not patient.chosen["cet1w"].info
        assert source.reference.datetime > patient.chosen["cet1w"].info.datetime
    clinical = tmp_path / "clinical.csv"
    table = pd.read_csv(export / "clinical.csv", dtype=str)
    table.to_csv(clinical, index=False)
    manifest = pd.read_csv(
        import_dicom(export / "dicom", rules, clinical, tmp_path / "o"), dtype=str
    )
    original = pd.read_csv(export / "manifest.csv", dtype=str).set_index("patient_id")
    for _, row in manifest.iterrows():
        got = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "o" / row["mask_cet1w"])))
        ref = sitk.ReadImage(str(export / original.loc[row["patient_id"], "mask_cet1w"]))
        assert np.array_equal(got, sitk.GetArrayFromImage(ref))


def test_dry_run_cli_exits_1_and_lists_problems(export: Path, tmp_path: Path, cli) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("sequences:\n  t2w:\n    description: ['(?i)flair']\n", encoding="utf-8")
    result = cli(
        "import",
        "dicom",
        export / "dicom",
        "--rules",
        rules,
        "--clinical",
        export / "clinical.csv",
        "--out",
        tmp_path / "x",
        "--dry-run",
    )
    assert result.exit_code == 1
    assert "4 problem(s)" in result.output and "no series matches t2w" in result.output
    assert not (tmp_path / "x").exists()
