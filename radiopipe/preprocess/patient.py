"""Preprocess one patient: N4, resampling, optional registration with mask carrying, normalisation.

Order per sequence: N4 on the original grid (the bias field is smooth, so it is fitted where
the data are), resampling to the target spacing, then intensity normalisation last so that
interpolation never sees normalised values. With registration, the moving sequence is
registered (after N4) to the fixed sequence's resampled image; masks are carried across the
saved transform by nearest neighbour, from their original grids (one interpolation only).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from radiopipe.config.preprocess import PreprocessSettings, RegisterSettings
from radiopipe.errors import InputError
from radiopipe.imaging import read_image, write_image
from radiopipe.preprocess.n4 import n4_bias_correction
from radiopipe.preprocess.normalise import normalise_intensity
from radiopipe.preprocess.register import register_rigid
from radiopipe.preprocess.resample import carry_mask, resample_image, resample_mask, transform_image
from radiopipe.preprocess.transforms import save_transform

log = logging.getLogger(__name__)

MASK_KINDS = ("mask", "mask2")


@dataclass
class Step:
    """Where a patient's processing currently is, so a failure can name sequence and file."""

    sequence: str = ""
    file: str = ""

    def at(self, sequence: str, file: str | Path | None) -> None:
        """Record the sequence and file being worked on."""
        self.sequence, self.file = sequence, str(file or "")


@dataclass
class PatientOutputs:
    """Files written for one patient: manifest column -> file name inside its folder."""

    columns: dict[str, str] = field(default_factory=dict)
    transform: str | None = None


def preprocess_patient(
    patient: str,
    inputs: dict[str, str],
    sequences: tuple[str, ...],
    settings: PreprocessSettings,
    folder: Path,
    step: Step,
) -> PatientOutputs:
    """Process one patient's images and masks (``inputs``: manifest column -> path).

    Writes every output into ``folder`` atomically and returns what it wrote. Raises
    :class:`InputError` for bad data; ``step`` says which sequence and file was in hand.
    """
    suffix = settings.output_suffix
    register = settings.register
    corrected: dict[str, sitk.Image] = {}
    processed: dict[str, sitk.Image] = {}
    for seq in sequences:
        path = inputs.get(f"image_{seq}", "")
        step.at(seq, path)
        if not path:
            raise InputError(f"no image_{seq} path in the manifest")
        image = read_image(path, patient=patient)
        corrected[seq] = _bias_corrected(image, settings)
        if not (register and register.resample_moving and seq == register.moving):
            processed[seq] = _resampled(corrected[seq], settings)

    outputs = PatientOutputs()
    transform = None
    if register is not None:
        step.at(register.moving, inputs[f"image_{register.moving}"])
        transform = register_rigid(
            processed[register.fixed],
            corrected[register.moving],
            seed=settings.seed,
            **register.optimiser_kwargs(),
        )
        angles = np.degrees(transform.GetParameters()[:3])
        log.info(
            "patient %s: %s registered onto %s; rotation (%.2f, %.2f, %.2f) deg, "
            "translation (%.2f, %.2f, %.2f) mm",
            patient, register.moving, register.fixed, *angles, *transform.GetTranslation(),
        )  # fmt: skip
        outputs.transform = f"{register.moving}_to_{register.fixed}.tfm"
        save_transform(transform, folder / outputs.transform)
        if register.resample_moving:
            processed[register.moving] = transform_image(
                corrected[register.moving],
                transform,
                processed[register.fixed],
                settings.resample.interpolator,
                settings.resample.clamp,
            )

    masks = _processed_masks(patient, inputs, sequences, processed, transform, register, step)
    for seq in sequences:
        step.at(seq, inputs[f"image_{seq}"])
        image = processed[seq]
        if settings.normalise.method != "none":
            image = normalise_intensity(
                image,
                method=settings.normalise.method,
                percentiles=settings.normalise.percentiles,
                clip=settings.normalise.clip,
            )
        name = f"image_{seq}{suffix}"
        write_image(image, folder / name)
        outputs.columns[f"image_{seq}"] = name
    for column, mask in masks.items():
        name = f"{column}{suffix}"
        write_image(mask, folder / name)
        outputs.columns[column] = name
    return outputs


def _bias_corrected(image: sitk.Image, settings: PreprocessSettings) -> sitk.Image:
    n4 = settings.bias_correction
    if not n4.enabled:
        return sitk.Cast(image, sitk.sitkFloat32)
    return n4_bias_correction(
        image,
        shrink_factor=n4.shrink_factor,
        iterations=n4.iterations,
        convergence_threshold=n4.convergence_threshold,
        spline_order=n4.spline_order,
        control_points=n4.control_points,
        bias_field_fwhm=n4.bias_field_fwhm,
        wiener_noise=n4.wiener_noise,
        histogram_bins=n4.histogram_bins,
    )


def _resampled(image: sitk.Image, settings: PreprocessSettings) -> sitk.Image:
    spacing = settings.resample.spacing
    if spacing is None:
        return sitk.Cast(image, sitk.sitkFloat32)
    return resample_image(image, spacing, settings.resample.interpolator, settings.resample.clamp)


def _processed_masks(
    patient: str,
    inputs: dict[str, str],
    sequences: tuple[str, ...],
    processed: dict[str, sitk.Image],
    transform: sitk.Transform | None,
    register: RegisterSettings | None,
    step: Step,
) -> dict[str, sitk.Image]:
    """Every mask on its sequence's processed grid, plus masks carried across sequences."""
    out: dict[str, sitk.Image] = {}
    originals: dict[str, sitk.Image] = {}
    for seq in sequences:
        for kind in MASK_KINDS:
            column = f"{kind}_{seq}"
            if not inputs.get(column):
                continue
            step.at(seq, inputs[column])
            mask = read_image(inputs[column], patient=patient)
            originals[column] = mask
            moved = register is not None and register.resample_moving and seq == register.moving
            if moved:
                out[column] = carry_mask(mask, transform, processed[seq])
            else:
                out[column] = resample_mask(mask, reference=processed[seq])
            _check_not_emptied(mask, out[column])

    if register is None or not register.carry_masks:
        return out
    for kind in MASK_KINDS:
        source, target = f"{kind}_{register.fixed}", f"{kind}_{register.moving}"
        if source not in originals or (target in out and not register.replace_masks):
            continue
        step.at(register.fixed, inputs[source])
        # On the fixed grid (resample_moving) no transform is needed; else map moving -> fixed.
        reference = processed[register.moving]
        if register.resample_moving:
            out[target] = resample_mask(originals[source], reference=reference)
        else:
            out[target] = carry_mask(originals[source], transform, reference, inverse=True)
        _check_not_emptied(originals[source], out[target], carried_to=register.moving)
    return out


def _check_not_emptied(
    source: sitk.Image, result: sitk.Image, carried_to: str | None = None
) -> None:
    """A mask that is empty, or that lands outside the processed image, is an error."""
    if not np.any(sitk.GetArrayViewFromImage(source)):
        raise InputError("mask is empty (no labelled voxel)")
    if not np.any(sitk.GetArrayViewFromImage(result)):
        where = f"the {carried_to} image" if carried_to else "its image"
        raise InputError(
            f"mask lies outside {where} after resampling (no labelled voxel left); "
            "check that mask and image share a coordinate system (origin, direction)"
        )
