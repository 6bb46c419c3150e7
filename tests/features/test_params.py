"""pyradiomics parameter files: validation with pyradiomics' schema, clear errors, hashing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from radiopipe.errors import ConfigError
from radiopipe.features import params as params_module
from radiopipe.features.params import load_params, validate_params
from tests.features.conftest import DEMO, FAST, PAPER


def test_shipped_files_are_valid_and_hold_the_study_settings() -> None:
    paper = load_params(PAPER)
    assert paper.image_types == {
        "Original": {},
        "LoG": {"sigma": [2.0, 3.0, 4.0, 5.0]},
        "Wavelet": {},
    }
    assert set(paper.feature_classes) == {
        "shape", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm",
    }  # fmt: skip
    assert paper.settings["resampledPixelSpacing"] == [1, 1, 1]
    assert paper.settings["interpolator"] == "sitkBSpline"
    assert paper.settings["binWidth"] == 5
    assert load_params(FAST).sha256 != paper.sha256
    demo = load_params(DEMO)  # the quick preset for demonstrations: all classes, no wavelets
    assert demo.image_types == {"Original": {}, "LoG": {"sigma": [3.0]}}
    assert set(demo.feature_classes) == set(paper.feature_classes)
    coarser = ("binWidth", "resampledPixelSpacing")
    assert {k: v for k, v in demo.settings.items() if k not in coarser} == {
        k: v for k, v in paper.settings.items() if k not in coarser
    }
    assert demo.settings["binWidth"] == 25 and demo.settings["resampledPixelSpacing"] == [2, 2, 2]


@pytest.mark.parametrize(
    "data",
    [
        {},  # pyradiomics defaults
        {"setting": {"binCount": 32, "force2D": True, "force2Ddimension": 0}},
        {"imageType": {"Square": {}, "LBP3D": {"lbp3DLevels": 2}}, "featureClass": {"glcm": None}},
        {"imageType": {"LoG": {"sigma": [1.0], "binWidth": 10}}, "setting": {"binWidth": 25}},
        {"featureClass": {"firstorder": ["Mean", "Median"]}, "voxelSetting": {"kernelRadius": 2}},
        {"setting": {"resegmentRange": [-3, 3], "resegmentMode": "sigma", "correctMask": True}},
    ],
)
def test_any_valid_pyradiomics_parameter_mapping_is_accepted(data: dict) -> None:
    from radiomics.featureextractor import RadiomicsFeatureExtractor

    params = validate_params(data)
    RadiomicsFeatureExtractor(params.as_dict())  # pyradiomics accepts it too
    assert params.data == data


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"setting": {"binWidht": 5}}, "key 'binWidht' in 'setting'; did you mean 'binWidth'"),
        ({"settings": {"binWidth": 5}}, "key 'settings' in the top level; did you mean 'setting'"),
        ({"setting": {"binWidth": -1}}, "/setting/binWidth"),
        ({"setting": {"interpolator": "cubic"}}, 'Interpolator value "cubic" not valid'),
        ({"imageType": {"Wavelets": {}}}, "Image Type Wavelets is not recognized"),
        ({"featureClass": {"glcm": ["Contrst"]}}, "unrecognized features: {'Contrst'}"),
        ({"setting": {"resampledPixelSpacing": [1, 1]}}, "must hold 3 values"),
        ({"imageType": {"LoG": {"sigmas": [1.0]}}}, "in 'imageType/LoG'; did you mean 'sigma'"),
    ],
)  # fmt: skip
def test_invalid_parameters_give_clear_errors(data: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_params(data, source="study.yaml")
    message = str(info.value)
    assert message.startswith("study.yaml: ")
    assert expected in message


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"setting": {"binWidth": -1, "labl": 1}}))
    with pytest.raises(ConfigError, match="2 problem") as info:
        load_params(path)
    assert str(path) in str(info.value)


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_params(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("setting: [unclosed")
    with pytest.raises(ConfigError, match="not a readable parameter file"):
        load_params(bad)
    listed = tmp_path / "list.yaml"
    listed.write_text("- binWidth: 5")
    with pytest.raises(ConfigError, match="is a mapping"):
        load_params(listed)


def test_json_parameter_files_work(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"setting": {"binWidth": 5}, "imageType": {"Original": {}}}))
    assert load_params(path).settings == {"binWidth": 5}


def test_settings_hash_follows_settings_and_pyradiomics_version(monkeypatch) -> None:
    base = validate_params({"setting": {"binWidth": 5}})
    assert validate_params({"setting": {"binWidth": 5}}).sha256 == base.sha256
    assert validate_params({"setting": {"binWidth": 10}}).sha256 != base.sha256
    monkeypatch.setattr(params_module, "pyradiomics_version", lambda: "v99")
    assert validate_params({"setting": {"binWidth": 5}}).sha256 != base.sha256
