"""Build a manifest from an nnU-Net raw dataset or a folder-per-patient tree plus a clinical CSV."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from radiopipe.cohort.manifest import DEFAULT_SEQUENCES, IMAGE_PREFIX, MASK_PREFIX, SPLITS
from radiopipe.errors import ManifestError
from radiopipe.imaging import VOLUME_SUFFIXES, is_dicom_series_dir

CLINICAL_REQUIRED = ("patient_id", "site", "label")


def read_clinical(path: str | Path) -> pd.DataFrame:
    """Read the clinical table: patient_id, site, label, optional split and covariates."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: clinical table does not exist")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in CLINICAL_REQUIRED if c not in table.columns]
    if missing:
        raise ManifestError(
            f"{path}: missing column(s) {', '.join(missing)}; a clinical table needs "
            f"{', '.join(CLINICAL_REQUIRED)} and may add split and covariates"
        )
    if "split" not in table.columns:
        table["split"] = ""
    return table


def guess_sequence(channel_name: str) -> str:
    """Map an nnU-Net channel name (e.g. 'T2', 'CE-T1') to a sequence key ('t2w', 'cet1w')."""
    name = re.sub(r"[^a-z0-9+]", "", channel_name.lower())
    if "t2" in name:
        return "t2w"
    if "t1" in name and any(tag in name for tag in ("ce", "c+", "gd", "post", "contrast")):
        return "cet1w"
    if "t1" in name:
        return "t1w"
    return name or "ch"


def import_nnunet(
    dataset_dir: str | Path,
    clinical: str | Path,
    channels: dict[int, str] | None = None,
    include_test: bool = False,
) -> pd.DataFrame:
    """Manifest rows for an nnU-Net raw dataset (imagesTr/<case>_XXXX, labelsTr/<case>)."""
    root = Path(dataset_dir)
    spec_file = root / "dataset.json"
    if not spec_file.is_file():
        raise ManifestError(f"{spec_file}: not an nnU-Net raw dataset (dataset.json missing)")
    spec = json.loads(spec_file.read_text(encoding="utf-8"))
    ending = spec.get("file_ending", ".nii.gz")
    names = spec.get("channel_names") or spec.get("modality") or {}
    if not names:
        raise ManifestError(f"{spec_file}: no channel_names; cannot tell the sequences apart")
    if channels is None:
        channels = {int(k): guess_sequence(v) for k, v in names.items()}
    if len(set(channels.values())) != len(channels):
        raise ManifestError(
            f"{spec_file}: channel names {names} map to repeated sequence keys {channels}; "
            "give the mapping explicitly (--channel 0=t2w --channel 1=cet1w)"
        )
    folders = [("imagesTr", "labelsTr")] + ([("imagesTs", "labelsTs")] if include_test else [])
    rows, problems = [], []
    for image_dir, label_dir in folders:
        for first in sorted((root / image_dir).glob(f"*_0000{ending}")):
            case = first.name[: -len(f"_0000{ending}")]
            row = {"patient_id": case}
            for index, seq in channels.items():
                image = root / image_dir / f"{case}_{index:04d}{ending}"
                if not image.is_file():
                    problems.append(f"case {case}: channel {index} ({seq}) missing: {image}")
                row[IMAGE_PREFIX + seq] = str(image)
                label = root / label_dir / f"{case}{ending}"
                row[MASK_PREFIX + seq] = str(label) if label.is_file() else ""
            rows.append(row)
    if not rows:
        raise ManifestError(f"{root}: no cases found (expected imagesTr/<case>_0000{ending})")
    _raise_if(problems, root)
    return _join_clinical(pd.DataFrame(rows), read_clinical(clinical), clinical)


def import_folders(
    root_dir: str | Path,
    clinical: str | Path,
    image_patterns: dict[str, str] | None = None,
    mask_patterns: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Manifest rows for root/<patient_id>/ folders; each pattern must match one entry."""
    root = Path(root_dir)
    if not root.is_dir():
        raise ManifestError(f"{root}: folder does not exist")
    image_patterns = image_patterns or {s: f"{s}*" for s in DEFAULT_SEQUENCES}
    mask_patterns = mask_patterns or {s: f"mask_{s}*" for s in image_patterns}
    rows, problems = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        row = {"patient_id": folder.name}
        for seq, pattern in image_patterns.items():
            found = _volumes(folder, pattern, exclude=mask_patterns.get(seq))
            if len(found) != 1:
                problems.append(_match_problem(folder, seq, pattern, found))
            row[IMAGE_PREFIX + seq] = str(found[0]) if len(found) == 1 else ""
            if seq in mask_patterns:
                masks = _volumes(folder, mask_patterns[seq])
                if len(masks) > 1:
                    problems.append(
                        _match_problem(folder, f"mask {seq}", mask_patterns[seq], masks)
                    )
                row[MASK_PREFIX + seq] = str(masks[0]) if len(masks) == 1 else ""
        rows.append(row)
    if not rows:
        raise ManifestError(f"{root}: holds no patient folders")
    _raise_if(problems, root)
    return _join_clinical(pd.DataFrame(rows), read_clinical(clinical), clinical)


def _volumes(folder: Path, pattern: str, exclude: str | None = None) -> list[Path]:
    excluded = set(folder.glob(exclude)) if exclude else set()
    return sorted(
        p for p in folder.glob(pattern)
        if p not in excluded
        and ((p.is_file() and p.name.endswith(VOLUME_SUFFIXES)) or is_dicom_series_dir(p))
    )  # fmt: skip


def _match_problem(folder: Path, what: str, pattern: str, found: list[Path]) -> str:
    if not found:
        return f"patient {folder.name}: no {what} volume matches '{pattern}' in {folder}"
    names = ", ".join(p.name for p in found)
    return f"patient {folder.name}: {len(found)} {what} volumes match '{pattern}' ({names})"


def _join_clinical(images: pd.DataFrame, clinical: pd.DataFrame, source: object) -> pd.DataFrame:
    no_clinical = sorted(set(images["patient_id"]) - set(clinical["patient_id"]))
    no_images = sorted(set(clinical["patient_id"]) - set(images["patient_id"]))
    problems = [f"patient {p}: has images but no row in {source}" for p in no_clinical]
    problems += [f"patient {p}: in {source} but has no images" for p in no_images]
    bad_split = clinical.loc[~clinical["split"].isin(SPLITS), "patient_id"]
    problems += [f"patient {p}: unknown split in {source}" for p in bad_split]
    _raise_if(problems, source)
    first = ["patient_id", "site", "split", "label"]
    merged = images.merge(clinical, on="patient_id", how="left")
    rest = [c for c in merged.columns if c not in first]
    return merged[first + rest]


def _raise_if(problems: list[str], where: object) -> None:
    if problems:
        shown = "\n".join(f"  - {p}" for p in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        raise ManifestError(
            f"{where}: {len(problems)} problem(s) importing the cohort:\n{shown}{more}"
        )
