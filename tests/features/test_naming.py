"""Feature column names: build, parse back, describe and group."""

from __future__ import annotations

import pytest

from radiopipe.features.naming import (
    column_name,
    describe_columns,
    feature_columns,
    filter_family,
    group_label,
    log_sigma,
    parse_column,
)

# Names exactly as pyradiomics writes them, one per image-type family.
PYRADIOMICS_NAMES = {
    "original_shape_Sphericity": ("original", "original", "shape", "Sphericity"),
    "original_firstorder_10Percentile": ("original", "original", "firstorder", "10Percentile"),
    "wavelet-LLH_glcm_Contrast": ("wavelet-LLH", "wavelet", "glcm", "Contrast"),
    "wavelet2-HHH_ngtdm_Busyness": ("wavelet2-HHH", "wavelet", "ngtdm", "Busyness"),
    "log-sigma-2-0-mm-3D_glszm_ZoneEntropy": ("log-sigma-2-0-mm-3D", "log", "glszm", "ZoneEntropy"),
    "square_gldm_DependenceEntropy": ("square", "square", "gldm", "DependenceEntropy"),
    "squareroot_glrlm_RunVariance": ("squareroot", "squareroot", "glrlm", "RunVariance"),
    "lbp-3D-m1_firstorder_Mean": ("lbp-3D-m1", "lbp-3D", "firstorder", "Mean"),
    "lbp-2D_firstorder_Mean": ("lbp-2D", "lbp-2D", "firstorder", "Mean"),
}


@pytest.mark.parametrize("name", sorted(PYRADIOMICS_NAMES))
def test_round_trip_for_every_image_type(name: str) -> None:
    image_type, family, feature_class, feature = PYRADIOMICS_NAMES[name]
    column = column_name("cet1w", name)
    assert column == f"cet1w__{name}"
    parsed = parse_column(column)
    assert (parsed.sequence, parsed.image_type, parsed.feature_class, parsed.feature) == (
        "cet1w", image_type, feature_class, feature,
    )  # fmt: skip
    assert parsed.filter == family
    assert parsed.pyradiomics_name == name
    assert parsed.column == column


def test_log_sigma_and_wavelet_band() -> None:
    assert parse_column("t2w__log-sigma-2-5-mm-3D_glcm_Idm").log_sigma == 2.5
    assert log_sigma("log-sigma-3-mm-3D") == 3.0
    assert parse_column("t2w__wavelet-HLH_glcm_Idm").wavelet_band == "HLH"
    assert parse_column("t2w__original_glcm_Idm").log_sigma is None
    assert filter_family("wavelet-LLL") == "wavelet"


@pytest.mark.parametrize(
    "column", ["patient_id", "t2w_original_shape_Sphericity", "t2w__original_shape", "__a_b_c"]
)
def test_non_feature_columns_are_rejected(column: str) -> None:
    with pytest.raises(ValueError, match="not a"):
        parse_column(column)


@pytest.mark.parametrize("sequence", ["t2__w", "", "t2 w", "t2w/x", "_t2w"])
def test_sequence_names_that_would_break_parsing_are_refused(sequence: str) -> None:
    with pytest.raises(ValueError, match="cannot be used"):
        column_name(sequence, "original_shape_Sphericity")


def test_sequence_with_single_underscore_parses() -> None:
    assert parse_column("t2_fs__original_firstorder_Mean").sequence == "t2_fs"


def test_describe_and_group() -> None:
    columns = ["patient_id", "t2w__original_glcm_Idm", "cet1w__wavelet-LLH_firstorder_Mean", "age"]
    assert feature_columns(columns) == columns[1:3]
    table = describe_columns(columns)
    assert list(table["sequence"]) == ["t2w", "cet1w"]
    assert list(table["filter"]) == ["original", "wavelet"]
    assert list(table["feature_class"]) == ["glcm", "firstorder"]
    assert group_label("t2w__original_glcm_Idm") == "t2w GLCM"
    assert group_label("cet1w__wavelet-LLH_firstorder_Mean", by=("filter",)) == "Wavelet"
    with pytest.raises(ValueError, match="cannot group by"):
        group_label("t2w__original_glcm_Idm", by=("colour",))
