"""Feature column names: ``<sequence>__<pyradiomics name>``, and parsing them back.

A pyradiomics name is ``<image type>_<feature class>_<feature>``, e.g.
``wavelet-LLH_glcm_Contrast`` or ``log-sigma-2-0-mm-3D_firstorder_Mean``. The image type
holds no underscore and the feature is CamelCase, so each part can be read back; the SHAP
grouping and the report use :func:`parse_column` / :func:`describe_columns` for that.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

SEPARATOR = "__"

# pyradiomics feature classes and the labels the report prints for them.
CLASS_LABELS = {
    "shape": "Shape (3D)",
    "shape2D": "Shape (2D)",
    "firstorder": "First order",
    "glcm": "GLCM",
    "glrlm": "GLRLM",
    "glszm": "GLSZM",
    "gldm": "GLDM",
    "ngtdm": "NGTDM",
}

# Image-type families (the pyradiomics filter that made the image) and their labels.
FILTER_LABELS = {
    "original": "Original",
    "log": "LoG",
    "wavelet": "Wavelet",
    "square": "Square",
    "squareroot": "Square root",
    "logarithm": "Logarithm",
    "exponential": "Exponential",
    "gradient": "Gradient",
    "lbp-2D": "LBP 2D",
    "lbp-3D": "LBP 3D",
}

# Family name -> the pyradiomics image type (the ``imageType`` key of a parameter file).
FILTER_IMAGE_TYPES = {
    "original": "Original",
    "log": "LoG",
    "wavelet": "Wavelet",
    "square": "Square",
    "squareroot": "SquareRoot",
    "logarithm": "Logarithm",
    "exponential": "Exponential",
    "gradient": "Gradient",
    "lbp-2D": "LBP2D",
    "lbp-3D": "LBP3D",
}

_LOG = re.compile(r"^log-sigma-(?P<sigma>[0-9][0-9e-]*)-mm-(?:2D|3D)$")
_WAVELET = re.compile(r"^wavelet(?P<level>[0-9]*)-(?P<band>[LH]+)$")
_SEQUENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*(?:_[A-Za-z0-9-]+)*$")


@dataclass(frozen=True)
class FeatureName:
    """The parts of one feature column."""

    sequence: str
    image_type: str  # as pyradiomics names the image, e.g. "wavelet-LLH", "log-sigma-2-0-mm-3D"
    feature_class: str  # e.g. "glcm"
    feature: str  # e.g. "Contrast"

    @property
    def pyradiomics_name(self) -> str:
        """The name pyradiomics gives the feature (without the sequence)."""
        return f"{self.image_type}_{self.feature_class}_{self.feature}"

    @property
    def column(self) -> str:
        """The features-table column name."""
        return column_name(self.sequence, self.pyradiomics_name)

    @property
    def filter(self) -> str:
        """The image-type family: original, log, wavelet, square, ... (see FILTER_LABELS)."""
        return filter_family(self.image_type)

    @property
    def log_sigma(self) -> float | None:
        """The LoG sigma in mm, for LoG images."""
        return log_sigma(self.image_type)

    @property
    def wavelet_band(self) -> str | None:
        """The wavelet sub-band (e.g. 'LLH'), for wavelet images."""
        match = _WAVELET.match(self.image_type)
        return match["band"] if match else None


def check_sequence(sequence: str) -> str:
    """Return ``sequence`` if it can be used in column names, else raise ValueError."""
    if SEPARATOR in sequence or not _SEQUENCE.match(sequence):
        raise ValueError(
            f"sequence name {sequence!r} cannot be used in feature names: use letters, digits, "
            f"'-' and single '_' (no '{SEPARATOR}')"
        )
    return sequence


def column_name(sequence: str, pyradiomics_name: str) -> str:
    """The features-table column for one pyradiomics feature of one sequence."""
    return f"{check_sequence(sequence)}{SEPARATOR}{pyradiomics_name}"


def split_pyradiomics_name(name: str) -> tuple[str, str, str]:
    """Split ``<image type>_<class>_<feature>`` into its three parts."""
    parts = name.split("_")
    if len(parts) != 3 or not all(parts):
        raise ValueError(
            f"{name!r} is not a pyradiomics feature name (<image type>_<class>_<feature>)"
        )
    return parts[0], parts[1], parts[2]


def parse_column(column: str) -> FeatureName:
    """Parse a features-table column name into its sequence, image type, class and feature."""
    sequence, sep, rest = column.partition(SEPARATOR)
    if not sep or not sequence:
        raise ValueError(f"{column!r} is not a feature column (<sequence>{SEPARATOR}<feature>)")
    image_type, feature_class, feature = split_pyradiomics_name(rest)
    return FeatureName(sequence, image_type, feature_class, feature)


def is_feature_column(column: str) -> bool:
    """True if ``column`` parses as a feature column."""
    try:
        parse_column(column)
    except ValueError:
        return False
    return True


def feature_columns(columns: Iterable[str]) -> list[str]:
    """The feature columns among ``columns`` (identifiers and covariates left out), in order."""
    return [c for c in columns if is_feature_column(c)]


def filter_family(image_type: str) -> str:
    """The family of a pyradiomics image-type name: 'wavelet-LLH' -> 'wavelet', etc."""
    if _LOG.match(image_type):
        return "log"
    if _WAVELET.match(image_type):
        return "wavelet"
    if image_type.startswith("lbp-2D"):
        return "lbp-2D"
    if image_type.startswith("lbp-3D"):
        return "lbp-3D"
    return image_type


def log_sigma(image_type: str) -> float | None:
    """The sigma (mm) of a LoG image-type name such as 'log-sigma-2-5-mm-3D', else None."""
    match = _LOG.match(image_type)
    if not match:
        return None
    try:
        return float(match["sigma"].replace("-", ".", 1))
    except ValueError:
        return None


def describe_columns(columns: Iterable[str]) -> pd.DataFrame:
    """One row per feature column: column, sequence, image_type, filter, feature_class, feature.

    Columns that are not feature columns are left out. Group on ``sequence``, ``filter`` or
    ``feature_class`` to sum SHAP values or count features per family.
    """
    rows = []
    for column in columns:
        try:
            name = parse_column(column)
        except ValueError:
            continue
        rows.append(
            {
                "column": column,
                "sequence": name.sequence,
                "image_type": name.image_type,
                "filter": name.filter,
                "feature_class": name.feature_class,
                "feature": name.feature,
            }
        )
    fields = ["column", "sequence", "image_type", "filter", "feature_class", "feature"]
    return pd.DataFrame(rows, columns=fields)


def group_label(column: str, by: tuple[str, ...] = ("sequence", "feature_class")) -> str:
    """A readable group label for a column, e.g. 't2w GLCM' (parts chosen by ``by``)."""
    name = parse_column(column)
    labels = {
        "sequence": name.sequence,
        "filter": FILTER_LABELS.get(name.filter, name.filter),
        "image_type": name.image_type,
        "feature_class": CLASS_LABELS.get(name.feature_class, name.feature_class),
        "feature": name.feature,
    }
    unknown = [b for b in by if b not in labels]
    if unknown:
        raise ValueError(f"cannot group by {unknown}; choose from {sorted(labels)}")
    return " ".join(labels[b] for b in by)
