from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from radiopipe.errors import InputError
from radiopipe.preprocess import foreground_mask, n4_bias_correction, normalise_intensity
from tests.preprocess.conftest import physical_grid, sphere, to_image

SHAPE, SPACING = (40, 64, 64), (1.5, 1.5, 2.5)


def _biased_phantom() -> tuple[sitk.Image, np.ndarray, np.ndarray]:
    """A body holding a uniform organ, multiplied by a smooth bias; image, organ, clean array."""
    rng = np.random.default_rng(0)
    z, y, x = physical_grid(SHAPE, SPACING)
    clean = np.full(SHAPE, 2.0)
    clean[(x / 45) ** 2 + (y / 40) ** 2 + (z / 45) ** 2 <= 1] = 50.0
    organ = (x / 25) ** 2 + (y / 20) ** 2 + (z / 25) ** 2 <= 1
    clean[organ] = 100.0
    clean += rng.normal(0.0, 2.0, SHAPE)
    bias = np.exp(0.35 * x / 45 + 0.25 * y / 40 - 0.2 * (z / 45) ** 2)
    return to_image((clean * bias).astype(np.float32), SPACING), organ, clean


def _cv(values: np.ndarray) -> float:
    return float(values.std() / values.mean())


def test_n4_removes_a_known_multiplicative_bias() -> None:
    image, organ, clean = _biased_phantom()
    before = _cv(sitk.GetArrayFromImage(image)[organ])
    corrected, field = n4_bias_correction(image, iterations=(20, 20, 20), return_field=True)
    after = _cv(sitk.GetArrayFromImage(corrected)[organ])
    assert before > 0.09  # the bias spreads the uniform organ's intensities ...
    assert after < before / 3  # ... N4 takes most of that away
    assert after < 2 * _cv(clean[organ])  # close to the noise-only spread (0.02)
    # Applied at full resolution: corrected * field gives back the input, on the same grid.
    restored = sitk.GetArrayFromImage(corrected * field)
    assert np.allclose(restored, sitk.GetArrayFromImage(image), rtol=1e-4, atol=1e-3)
    assert corrected.GetSize() == image.GetSize() and corrected.GetSpacing() == image.GetSpacing()


def test_n4_with_an_explicit_mask_and_its_errors() -> None:
    image, organ, _ = _biased_phantom()
    body = foreground_mask(image)
    corrected = n4_bias_correction(image, mask=body, iterations=(20, 20))
    assert _cv(sitk.GetArrayFromImage(corrected)[organ]) < 0.05
    wrong_grid = sitk.Image(8, 8, 8, sitk.sitkUInt8)
    with pytest.raises(InputError, match="grids disagree"):
        n4_bias_correction(image, mask=wrong_grid)
    with pytest.raises(InputError, match="no foreground voxels with positive intensity"):
        n4_bias_correction(image * 0.0 - 1.0, mask=body)


def _lesion_image() -> tuple[sitk.Image, sitk.Image]:
    rng = np.random.default_rng(1)
    spacing = (1.0, 1.0, 2.0)
    array = rng.gamma(4.0, 30.0, (12, 32, 32)).astype(np.float32)
    mask = sphere((12, 32, 32), spacing, 9.0)
    array[mask == 0] *= 0.2
    return to_image(array, spacing), to_image(mask, spacing)


def test_zscore_gives_mean_zero_and_unit_sd_inside_the_mask() -> None:
    image, mask = _lesion_image()
    out = sitk.GetArrayFromImage(normalise_intensity(image, mask, "zscore"))
    inside = out[sitk.GetArrayFromImage(mask) > 0]
    assert abs(inside.mean()) < 1e-5 and abs(inside.std() - 1.0) < 1e-5
    outside = out[sitk.GetArrayFromImage(mask) == 0]
    assert outside.mean() < -0.5  # the same affine map applies outside the mask


def test_percentile_maps_p1_and_p99_to_zero_and_one() -> None:
    image, mask = _lesion_image()
    out = sitk.GetArrayFromImage(normalise_intensity(image, mask, "percentile", (1.0, 99.0)))
    inside = out[sitk.GetArrayFromImage(mask) > 0]
    low, high = np.percentile(inside, [1.0, 99.0])
    assert abs(low) < 1e-5 and abs(high - 1.0) < 1e-5
    assert out.min() < 0 and out.max() > 1
    clipped = sitk.GetArrayFromImage(normalise_intensity(image, mask, "percentile", clip=True))
    assert clipped.min() == 0.0 and clipped.max() == 1.0


def test_normalisation_defaults_to_the_otsu_foreground_and_refuses_flat_input() -> None:
    image, _ = _lesion_image()
    foreground = sitk.GetArrayFromImage(foreground_mask(image)) > 0
    assert 0.05 < foreground.mean() < 0.9
    out = sitk.GetArrayFromImage(normalise_intensity(image))
    assert abs(out[foreground].mean()) < 1e-5 and abs(out[foreground].std() - 1) < 1e-5
    flat = image * 0.0 + 5.0
    with pytest.raises(InputError, match="constant"):
        normalise_intensity(flat, foreground_mask(image))
    with pytest.raises(ValueError, match="allowed values: zscore, percentile"):
        normalise_intensity(image, method="minmax")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="0 <= low < high <= 100"):
        normalise_intensity(image, method="percentile", percentiles=(99.0, 1.0))
