"""Work units: the pieces of one (patient, sequence) extraction that the cache stores apart.

A unit is one feature class on one derived image (``Wavelet`` x ``glcm``, ``LoG`` sigma 3 x
``firstorder``) or a shape class. Its cache key hashes the image and mask files, the general
settings, the unit's own image-type settings and feature list, and the pyradiomics version.
So changing binWidth recomputes everything, while adding a LoG sigma or a feature class
computes only the new units, and editing one patient's mask recomputes only that patient.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from radiopipe.features.naming import (
    FILTER_IMAGE_TYPES,
    filter_family,
    log_sigma,
    split_pyradiomics_name,
)
from radiopipe.features.params import ExtractionParams, pyradiomics_version
from radiopipe.hashing import canonical_json, json_sha256

SHAPE_CLASSES = ("shape", "shape2D")


@dataclass(frozen=True)
class Unit:
    """One feature class on one derived image type (``image_type`` is None for shape)."""

    image_type: str | None
    image_args: str  # canonical JSON of the image type's custom settings (one sigma for LoG)
    feature_class: str
    features: tuple[str, ...] | None  # None: all features of the class

    @property
    def is_shape(self) -> bool:
        """True for shape classes, which pyradiomics computes once on the original image."""
        return self.feature_class in SHAPE_CLASSES

    @property
    def args(self) -> dict[str, Any]:
        """The image type's custom settings."""
        import json

        return json.loads(self.image_args)

    @property
    def sigma(self) -> float | None:
        """The LoG sigma of this unit, if it is a LoG unit."""
        return float(self.args["sigma"][0]) if self.image_type == "LoG" else None

    def describe(self) -> str:
        """Readable name, e.g. 'LoG(sigma=3.0)/glcm' or 'shape'."""
        if self.is_shape:
            return self.feature_class
        image = f"LoG(sigma={self.sigma:g})" if self.image_type == "LoG" else self.image_type
        return f"{image}/{self.feature_class}"


def plan_units(params: ExtractionParams) -> list[Unit]:
    """All units of a parameter set, shape classes first, then image types in file order."""
    classes = params.feature_classes
    units = [
        Unit(None, "{}", name, _features(feats)) for name, feats in classes.items()
        if name in SHAPE_CLASSES
    ]  # fmt: skip
    for image_type, args in params.image_types.items():
        for image_args in _expand(image_type, args, params.settings):
            for name, feats in classes.items():
                if name not in SHAPE_CLASSES:
                    units.append(
                        Unit(image_type, canonical_json(image_args), name, _features(feats))
                    )
    return units


def general_key(image_sha256: str, mask_sha256: str, params: ExtractionParams) -> str:
    """Key of everything shared by a task's units: inputs, general settings, version."""
    return json_sha256(
        {
            "pyradiomics": pyradiomics_version(),
            "image": image_sha256,
            "mask": mask_sha256,
            "settings": params.settings,
        }
    )


def unit_key(general: str, unit: Unit) -> str:
    """Cache key of one unit of one task."""
    return json_sha256(
        {
            "general": general,
            "image_type": unit.image_type,
            "image_args": unit.image_args,
            "class": unit.feature_class,
            "features": unit.features,
        }
    )


def params_for(units: Iterable[Unit], params: ExtractionParams) -> dict[str, Any]:
    """A pyradiomics parameter mapping that computes at least ``units`` (and no more classes).

    Image types and classes are combined, so a few already-cached units may be recomputed
    alongside; :func:`assign` files every computed feature under its unit.
    """
    units = list(units)
    data: dict[str, Any] = {"setting": dict(params.data.get("setting") or {})}
    if params.data.get("voxelSetting"):
        data["voxelSetting"] = dict(params.data["voxelSetting"])
    classes: dict[str, list[str] | None] = {}
    for unit in units:
        classes[unit.feature_class] = list(unit.features) if unit.features else None
    data["featureClass"] = classes
    image_types: dict[str, dict[str, Any]] = {}
    for unit in units:
        if unit.is_shape:
            continue
        args = unit.args
        if unit.image_type == "LoG" and "LoG" in image_types:
            known = image_types["LoG"]["sigma"]  # each sigma once, whatever the classes asked
            image_types["LoG"]["sigma"] = known + [s for s in args["sigma"] if s not in known]
        else:
            image_types.setdefault(unit.image_type, args)
    if image_types:
        data["imageType"] = image_types
    else:  # only shape: keep pyradiomics from adding Original x every class
        data["imageType"] = {"Original": {}}
    return data


def computed_units(units: Iterable[Unit], run: dict[str, Any]) -> list[Unit]:
    """The units among ``units`` that a run with parameter mapping ``run`` computes."""
    classes = set(run.get("featureClass") or {})
    types = run.get("imageType") or {}
    done = []
    for unit in units:
        if unit.feature_class not in classes:
            continue
        in_run = unit.image_type in types and (
            unit.image_type != "LoG" or _has_sigma(types["LoG"].get("sigma", []), unit.sigma)
        )
        if unit.is_shape or in_run:
            done.append(unit)
    return done


def assign(features: dict[str, float], units: Iterable[Unit]) -> dict[Unit, dict[str, float]]:
    """File each computed feature (pyradiomics name -> value) under its unit."""
    by_slot: dict[tuple[str | None, float | None, str], Unit] = {}
    for unit in units:
        by_slot[(unit.image_type, unit.sigma, unit.feature_class)] = unit
    out: dict[Unit, dict[str, float]] = {unit: {} for unit in units}
    for name, value in features.items():
        image_name, feature_class, _ = split_pyradiomics_name(name)
        if feature_class in SHAPE_CLASSES:
            slot = (None, None, feature_class)
        else:
            image_type = FILTER_IMAGE_TYPES.get(filter_family(image_name), image_name)
            slot = (image_type, log_sigma(image_name), feature_class)
        unit = by_slot.get(slot)
        if unit is None:
            raise RuntimeError(f"pyradiomics returned {name!r}, which matches no planned unit")
        out[unit][name] = value
    return out


def _features(feats: list[str] | None) -> tuple[str, ...] | None:
    return tuple(sorted(feats)) if feats else None


def _expand(image_type: str, args: dict[str, Any], settings: dict[str, Any]) -> list[dict]:
    """Split LoG into one entry per sigma; other image types stay whole."""
    if image_type != "LoG":
        return [args]
    sigmas = args.get("sigma", settings.get("sigma", []))
    return [{**args, "sigma": [sigma]} for sigma in sigmas]


def _has_sigma(sigmas: list[float], sigma: float | None) -> bool:
    return sigma is not None and any(math.isclose(float(s), sigma) for s in sigmas)
