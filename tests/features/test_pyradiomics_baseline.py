"""pyradiomics' own regression baseline, reproduced through radiopipe's path.

The five real scans of shared/refdata/pyradiomics_cases (brain1, brain2, breast1: MRI;
lung1, lung2: CT) go into a manifest; each baseline column's settings (its
``diagnostics_Configuration_Settings`` row) become a pyradiomics parameter file loaded
with ``load_params``; ``extract_cohort`` extracts; every baseline value must be matched
by the ``<seq>__<name>`` column of our table under pyradiomics' own rule (relative
difference below 3 %, zero baselines exactly).

The default settings (binWidth 25, no resampling) run on all five scans and all seven
classes. The other settings of the baseline (normalisation, 2 mm resampling, sigma
resegmentation, force2D, fixed bin count, no weighting, flat region) run on the three MR
scans (the CT scans are 512 x 512 and take the test budget). The shape2D columns are not
checked: they need pyradiomics' 2D test masks, which are not in refdata.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest
import yaml

from radiopipe.cohort.manifest import read_manifest
from radiopipe.features.executor import ExecutorOptions
from radiopipe.features.extract import extract_cohort
from radiopipe.features.params import load_params

pytestmark = pytest.mark.refdata

CASES = ("brain1", "brain2", "breast1", "lung1", "lung2")
MR_CASES = ("brain1", "brain2", "breast1")
SEQUENCE = "scan"
CONFIGS = ("2d", "FBN", "combined", "flatRegion", "normalization", "resampling", "resegmentation")


def load_baseline(folder: Path) -> dict[str, pd.DataFrame]:
    """Baseline tables per feature class (rows: names, columns: case[_config])."""
    tables = {}
    for path in sorted(folder.glob("baseline_*.csv")):
        tables[path.stem.removeprefix("baseline_")] = pd.read_csv(path, index_col=0)
    return tables


def columns_of(baseline: dict[str, pd.DataFrame], config: str) -> dict[str, list]:
    """Feature class -> baseline columns of one configuration ('' = default)."""
    found: dict[str, list] = {}
    for cls, table in baseline.items():
        for column in table.columns:
            case = table.loc["diagnostics_Configuration_TestCase", column]
            if column == (f"{case}_{config}" if config else case) and case in CASES:
                found.setdefault(cls, []).append(column)
    return found


def parameter_file(table: pd.DataFrame, columns: list[str], classes: list[str], path: Path) -> Path:
    """Write the settings shared by ``columns`` as a pyradiomics parameter file."""
    settings = {table.loc["diagnostics_Configuration_Settings", c] for c in columns}
    image_types = {table.loc["diagnostics_Configuration_EnabledImageTypes", c] for c in columns}
    assert len(settings) == 1 and len(image_types) == 1, "one configuration, one setting"
    setting = {k: v for k, v in ast.literal_eval(settings.pop()).items() if v is not None}
    data = {
        "setting": setting,
        "imageType": ast.literal_eval(image_types.pop()),
        "featureClass": {cls: None for cls in classes},
    }
    path.write_text(yaml.safe_dump(data))
    return path


def pyradiomics_rule(value: float, baseline: float) -> bool:
    """pyradiomics' test rule: below 3 % relative difference; a zero baseline exactly."""
    if baseline == 0.0:
        return value == 0.0
    return abs(1.0 - value / baseline) < 0.03


def check(refdata: Path, tmp_path: Path, config: str, cases: tuple[str, ...]) -> int:
    """Extract one configuration through our path and compare; return the values compared."""
    folder = refdata / "pyradiomics_cases"
    baseline = load_baseline(folder / "baseline")
    by_class = columns_of(baseline, config)
    classes = sorted(c for c in by_class if c != "shape2D")
    tmp_path.mkdir(parents=True, exist_ok=True)
    manifest = tmp_path / "manifest.csv"
    pd.DataFrame(
        [
            {
                "patient_id": case, "site": "ref", "split": "train", "label": 0,
                f"image_{SEQUENCE}": folder / f"{case}_image.nrrd",
                f"mask_{SEQUENCE}": folder / f"{case}_label.nrrd",
            }
            for case in cases
        ]
    ).to_csv(manifest, index=False)  # fmt: skip
    columns = [c for cls in classes for c in by_class[cls]]
    params = load_params(
        parameter_file(baseline[classes[0]], columns, classes, tmp_path / "p.yaml")
    )
    result = extract_cohort(
        read_manifest(manifest), params, tmp_path / "out", ExecutorOptions(workers=0),
        show_progress=False,
    )  # fmt: skip
    assert result.failures.empty, result.failures.to_dict("records")
    ours = result.features.set_index("patient_id")
    compared, off, absent, worst = 0, {}, [], 0.0
    for cls in classes:
        table = baseline[cls]
        for column in by_class[cls]:
            case = table.loc["diagnostics_Configuration_TestCase", column]
            if case not in cases:
                continue
            for name, text in table[column].items():
                if name.startswith("diagnostics_") or pd.isna(text):
                    continue
                key = f"{SEQUENCE}__{name}"
                if key not in ours.columns:
                    absent.append(name)
                    continue
                compared += 1
                if float(text) != 0.0:
                    worst = max(worst, abs(1.0 - ours.loc[case, key] / float(text)))
                if not pyradiomics_rule(ours.loc[case, key], float(text)):
                    off[(column, name)] = (ours.loc[case, key], float(text))
    assert not absent, f"baseline features we did not produce: {sorted(set(absent))}"
    assert not off, f"{len(off)} of {compared} values off by 3 % or more: {off}"
    print(f"baseline {config or 'default'}: {compared} values, max relative deviation {worst:.3g}")
    return compared


@pytest.mark.slow
def test_default_settings_all_classes_all_scans(refdata: Path, tmp_path: Path) -> None:
    compared = check(refdata, tmp_path, "", CASES)
    assert compared >= 5 * 100  # 5 scans x (14 shape + 93 per-image features)


@pytest.mark.slow
def test_other_baseline_settings_on_the_mr_scans(refdata: Path, tmp_path: Path) -> None:
    compared = 0
    for config in CONFIGS:
        compared += check(refdata, tmp_path / config, config, MR_CASES)
    assert compared >= 7 * 3 * 40
