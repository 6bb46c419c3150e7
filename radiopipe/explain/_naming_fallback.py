"""Stand-in for ``radiopipe.features.naming`` until the extraction stage lands on main.

Only what the SHAP grouping reads: ``describe_columns`` and the display labels. Delete this
module once ``radiopipe.features.naming`` is importable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

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
FILTER_LABELS = {"original": "Original", "log": "LoG", "wavelet": "Wavelet"}
_LOG = re.compile(r"^log-sigma-[0-9][0-9e-]*-mm-(?:2D|3D)$")
_WAVELET = re.compile(r"^wavelet[0-9]*-[LH]+$")


def describe_columns(columns: Iterable[str]) -> pd.DataFrame:
    """column, sequence, image_type, filter, feature_class, feature for parseable columns."""
    rows = []
    for column in columns:
        sequence, sep, rest = column.partition("__")
        parts = rest.split("_")
        if not sep or not sequence or len(parts) != 3 or not all(parts):
            continue
        image_type, feature_class, feature = parts
        family = "log" if _LOG.match(image_type) else image_type
        family = "wavelet" if _WAVELET.match(image_type) else family
        rows.append(
            {
                "column": column,
                "sequence": sequence,
                "image_type": image_type,
                "filter": family,
                "feature_class": feature_class,
                "feature": feature,
            }
        )
    fields = ["column", "sequence", "image_type", "filter", "feature_class", "feature"]
    return pd.DataFrame(rows, columns=fields)
