"""Cache units: what each setting change invalidates, and how results are filed."""

from __future__ import annotations

import json

import pytest

from radiopipe.features.params import load_params, validate_params
from radiopipe.features.units import (
    assign,
    computed_units,
    general_key,
    params_for,
    plan_units,
    unit_key,
)
from tests.features.conftest import PAPER

BASE = {
    "imageType": {"Original": {}, "LoG": {"sigma": [2.0, 3.0]}, "Wavelet": {}},
    "featureClass": {"shape": None, "firstorder": None, "glcm": ["Contrast", "Idm"]},
    "setting": {"binWidth": 5},
}


def keys(data: dict, image: str = "img", mask: str = "msk") -> dict[str, str]:
    params = validate_params(data)
    general = general_key(image, mask, params)
    return {u.describe(): unit_key(general, u) for u in plan_units(params)}


def test_paper_settings_make_one_unit_per_class_and_image() -> None:
    units = plan_units(load_params(PAPER))
    # shape + (original, LoG x 4 sigmas, wavelet) x 6 classes
    assert len(units) == 1 + 6 * 6
    assert units[0].describe() == "shape"
    assert "LoG(sigma=5)/ngtdm" in {u.describe() for u in units}


def test_adding_a_sigma_or_class_adds_units_and_keeps_the_others() -> None:
    before = keys(BASE)
    more = {**BASE, "imageType": {**BASE["imageType"], "LoG": {"sigma": [2.0, 3.0, 4.0]}}}
    after = keys(more)
    assert set(after) - set(before) == {"LoG(sigma=4)/firstorder", "LoG(sigma=4)/glcm"}
    assert all(after[name] == key for name, key in before.items())
    with_class = {**BASE, "featureClass": {**BASE["featureClass"], "ngtdm": None}}
    assert all(keys(with_class)[name] == key for name, key in before.items())


def test_a_feature_list_change_touches_only_its_class() -> None:
    before = keys(BASE)
    changed = {**BASE, "featureClass": {**BASE["featureClass"], "glcm": ["Contrast"]}}
    after = keys(changed)
    differ = {name for name in before if before[name] != after[name]}
    assert differ == {"Original/glcm", "LoG(sigma=2)/glcm", "LoG(sigma=3)/glcm", "Wavelet/glcm"}


def test_a_general_setting_or_an_input_file_changes_every_key() -> None:
    before = keys(BASE)
    changed = keys({**BASE, "setting": {"binWidth": 10}})
    assert not set(before.values()) & set(changed.values())
    assert not set(before.values()) & set(keys(BASE, mask="other").values())


def test_params_for_computes_just_the_missing_units() -> None:
    params = validate_params(BASE)
    units = plan_units(params)
    missing = [u for u in units if u.describe() in ("LoG(sigma=3)/glcm", "Wavelet/glcm")]
    run = params_for(missing, params)
    assert run["featureClass"] == {"glcm": ["Contrast", "Idm"]}
    assert run["imageType"] == {"LoG": {"sigma": [3.0]}, "Wavelet": {}}
    assert run["setting"] == {"binWidth": 5}
    validate_params(run)  # a valid pyradiomics file
    assert {u.describe() for u in computed_units(units, run)} == {
        "LoG(sigma=3)/glcm", "Wavelet/glcm",
    }  # fmt: skip
    shape_only = params_for([units[0]], params)
    assert shape_only["featureClass"] == {"shape": None}
    assert [u.describe() for u in computed_units(units, shape_only)] == ["shape"]


def test_every_log_sigma_is_filtered_once_however_many_classes_use_it() -> None:
    """Each LoG sigma appears once in the pyradiomics run (a repeated sigma is filtered and
    computed again for every repeat: the paper settings ran twice as slow)."""
    params = validate_params(
        {"imageType": {"LoG": {"sigma": [2.0, 3.0]}},
         "featureClass": {"firstorder": None, "glcm": None, "glrlm": None}}
    )  # fmt: skip
    run = params_for(plan_units(params), params)
    assert run["imageType"]["LoG"]["sigma"] == [2.0, 3.0]


def test_assign_files_features_by_image_type_and_class() -> None:
    units = plan_units(validate_params(BASE))
    features = {
        "original_shape_Sphericity": 0.9,
        "original_glcm_Contrast": 1.0,
        "log-sigma-3-0-mm-3D_glcm_Contrast": 2.0,
        "wavelet-HLL_firstorder_Mean": 3.0,
    }
    filed = {u.describe(): v for u, v in assign(features, units).items() if v}
    assert filed == {
        "shape": {"original_shape_Sphericity": 0.9},
        "Original/glcm": {"original_glcm_Contrast": 1.0},
        "LoG(sigma=3)/glcm": {"log-sigma-3-0-mm-3D_glcm_Contrast": 2.0},
        "Wavelet/firstorder": {"wavelet-HLL_firstorder_Mean": 3.0},
    }
    with pytest.raises(RuntimeError, match="matches no planned unit"):
        assign({"log-sigma-9-0-mm-3D_glcm_Contrast": 1.0}, units)


def test_paper_run_mapping_names_each_image_type_class_and_sigma_once() -> None:
    params = load_params(PAPER)
    run = params_for(plan_units(params), params)
    assert list(run["imageType"]) == ["Original", "LoG", "Wavelet"]
    assert run["imageType"]["LoG"] == {"sigma": [2.0, 3.0, 4.0, 5.0]}
    assert run["imageType"]["Wavelet"] == {} and run["imageType"]["Original"] == {}
    assert list(run["featureClass"]) == list(params.feature_classes)
    # the mapping round-trips through JSON (as it travels to the worker) unchanged
    assert json.loads(json.dumps(run)) == run
