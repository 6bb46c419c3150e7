"""Acquisition metadata of a series for the manifest (``<seq>__manufacturer`` etc.)."""

from __future__ import annotations

from pydicom.dataset import Dataset

# manifest column suffix -> (top-level keyword, (functional group sequence, keyword) or None)
METADATA_FIELDS: dict[str, tuple[str, tuple[str, str] | None]] = {
    "manufacturer": ("Manufacturer", None),
    "model": ("ManufacturerModelName", None),
    "field_strength_t": ("MagneticFieldStrength", None),
    "tr_ms": ("RepetitionTime", ("MRTimingAndRelatedParametersSequence", "RepetitionTime")),
    "te_ms": ("EchoTime", ("MREchoSequence", "EffectiveEchoTime")),
    "slice_thickness_mm": ("SliceThickness", ("PixelMeasuresSequence", "SliceThickness")),
    "pixel_spacing_mm": ("PixelSpacing", ("PixelMeasuresSequence", "PixelSpacing")),
}
NUMERIC = ("field_strength_t", "tr_ms", "te_ms", "slice_thickness_mm", "pixel_spacing_mm")


def metadata_columns(sequence: str) -> list[str]:
    """The manifest columns of one sequence's acquisition metadata."""
    return [f"{sequence}__{name}" for name in METADATA_FIELDS]


def acquisition_metadata(ds: Dataset) -> dict[str, str]:
    """Scanner and protocol values of one image file (top level or functional groups)."""
    out = {}
    for name, (keyword, grouped) in METADATA_FIELDS.items():
        out[name] = _format(name, tag_value(ds, keyword, grouped))
    return out


def tag_value(ds: Dataset, keyword: str, grouped: tuple[str, str] | None = None) -> object:
    """A tag at top level, in a functional group, or among legacy-converted shared attributes."""
    value = ds.get(keyword)
    if (value is None or value == "") and grouped is not None:
        value = functional_group(ds, *grouped)
    if value is None or value == "":
        value = functional_group(ds, "UnassignedSharedConvertedAttributesSequence", keyword)
    return value


def functional_group(ds: Dataset, sequence: str, keyword: str) -> object:
    """A value from the shared (else first per-frame) functional groups of a multi-frame file."""
    shared, per_frame = "SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"
    for groups in (ds.get(shared), ds.get(per_frame)):
        if groups:
            seq = groups[0].get(sequence)
            if seq and keyword in seq[0]:
                return seq[0].get(keyword)
    return None


def _format(name: str, value: object) -> str:
    if value is None or value == "":
        return ""
    if name == "pixel_spacing_mm":
        try:
            values = [float(v) for v in value]  # type: ignore[union-attr]
        except (TypeError, ValueError):
            return ""
        # One number when square (the usual case), else "row x column".
        return f"{values[0]:g}" if len(set(values)) == 1 else "x".join(f"{v:g}" for v in values)
    if name in NUMERIC:
        try:
            return f"{float(value):g}"  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return ""
    return str(value).strip()
