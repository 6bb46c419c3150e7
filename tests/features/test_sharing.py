"""SharedExtractor: pyradiomics' values bit for bit, with shared binning and mask-free steps."""

from __future__ import annotations

import collections
import logging

import numpy as np
import pytest
import SimpleITK as sitk
from radiomics import imageoperations
from radiomics.featureextractor import RadiomicsFeatureExtractor

from radiopipe.features import sharing
from radiopipe.features.perturb import dilate, erode, random_contour
from radiopipe.features.sharing import SharedExtractor, bin_image, get_mask
from tests.conftest import sphere_mask
from tests.features.conftest import lesion_image

RESAMPLED = {
    "imageType": {"Original": {}, "LoG": {"sigma": [1.0, 2.0]}, "Wavelet": {}},
    "featureClass": {"shape": None, "firstorder": None, "glcm": ["Contrast", "MCC"], "glszm": None},
    "setting": {
        "normalize": True, "normalizeScale": 100, "voxelArrayShift": 300, "binWidth": 20,
        "resampledPixelSpacing": [1, 1, 1], "interpolator": "sitkBSpline", "padDistance": 5,
    },
}  # fmt: skip
NATIVE = {  # no resampling: filters see the whole image, whatever the mask
    "imageType": {"Original": {}, "LoG": {"sigma": [1.5]}},
    "featureClass": {"firstorder": None, "glszm": None, "shape": None},
    "setting": {"binCount": 16},
}


@pytest.fixture(autouse=True)
def _quiet() -> None:
    import radiomics

    radiomics.setVerbosity(logging.ERROR)


def volumes(spacing=(0.8, 0.8, 2.0)) -> tuple[sitk.Image, dict[str, sitk.Image]]:
    """A textured image and five masks: reference, same-box, eroded, dilated, contour."""
    rng = np.random.default_rng(3)
    reference = sphere_mask((12, 30, 30), 5.5, center=(6, 15, 14))
    array = lesion_image(rng, reference, contrast=180)
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    same_box = reference.copy()
    same_box[6, 15, 14] = 0  # one interior voxel less: same bounding box, same grid
    masks = {}
    for name, voxels in (("reference", reference), ("same_box", same_box)):
        masks[name] = sitk.GetImageFromArray(voxels)
        masks[name].CopyInformation(image)
    masks["erode"] = erode(masks["reference"], 1, 1.0)
    masks["dilate"] = dilate(masks["reference"], 1, 1.0)
    masks["contour"] = random_contour(masks["reference"], 1, 1.0, 4.0, np.random.default_rng(0))
    return image, masks


def assert_identical(expected: dict, actual: dict) -> None:
    assert list(actual) == list(expected)
    for name, value in expected.items():
        if name.startswith("diagnostics_"):
            assert str(actual[name]) == str(value), name
        else:
            assert np.array_equal(np.asarray(actual[name]), np.asarray(value)), name


class Counter:
    """Wraps pyradiomics functions and counts their calls (and what the filters yield)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
        self.calls: collections.Counter = collections.Counter()
        self.images: list[str] = []
        for name in names:
            monkeypatch.setattr(
                imageoperations, name, self._wrap(name, getattr(imageoperations, name))
            )

    def _wrap(self, name, function):
        def wrapped(*args, **kwargs):
            self.calls[name] += 1
            result = function(*args, **kwargs)
            if name.endswith("Image") and name.startswith("get"):
                return self._record(result)
            return result

        return wrapped

    def _record(self, generator):
        for item in generator:
            self.images.append(item[1])
            yield item


@pytest.mark.parametrize("params", [RESAMPLED, NATIVE], ids=["resampled", "native"])
def test_values_equal_pyradiomics_execute_for_every_mask(params: dict) -> None:
    image, masks = volumes()
    reference = RadiomicsFeatureExtractor(params)
    shared = SharedExtractor(params)
    order = list(masks)
    results = dict(shared.execute_masks(image, [masks[n] for n in order]))
    assert sorted(results) == list(range(len(order)))
    for index, name in enumerate(order):
        assert not isinstance(results[index], Exception), results[index]
        assert_identical(reference.execute(image, masks[name]), results[index])
    assert_identical(results[0], shared.extract(image, masks[order[0]]))


def test_masks_of_one_image_share_normalising_resampling_and_filters(monkeypatch) -> None:
    image, masks = volumes()
    counter = Counter(monkeypatch, "normalizeImage", "getLoGImage", "getWaveletImage")
    executed = collections.Counter()
    real = sitk.ResampleImageFilter.Execute

    def execute(self, *args):
        executed["image" if args[0].GetPixelID() == sitk.sitkFloat64 else "mask"] += 1
        return real(self, *args)

    monkeypatch.setattr(sitk.ResampleImageFilter, "Execute", execute)
    results = list(SharedExtractor(RESAMPLED).execute_masks(image, list(masks.values())))
    assert not [r for _, r in results if isinstance(r, Exception)]
    # reference and same_box share a grid; erode, dilate and contour each have their own
    assert counter.calls == {"normalizeImage": 1, "getLoGImage": 4, "getWaveletImage": 4}
    assert executed == {"image": 4, "mask": 5}
    log_images = [n for n in counter.images if n.startswith("log")]
    assert len(log_images) == 4 * 2  # each sigma once per grid


def test_without_resampling_every_mask_shares_the_filtered_images(monkeypatch) -> None:
    image, masks = volumes()
    counter = Counter(monkeypatch, "getLoGImage", "getOriginalImage")
    results = list(SharedExtractor(NATIVE).execute_masks(image, list(masks.values())))
    assert len(results) == 5 and not [r for _, r in results if isinstance(r, Exception)]
    assert counter.calls == {"getLoGImage": 1, "getOriginalImage": 1}


def test_each_derived_image_is_binned_once(monkeypatch) -> None:
    image, masks = volumes()
    binned = collections.Counter()
    real = sharing.bin_image

    def counting(matrix, mask, settings):
        binned[matrix.shape] += 1
        return real(matrix, mask, settings)

    monkeypatch.setattr(sharing, "bin_image", counting)
    monkeypatch.setattr(imageoperations, "binImage", pytest.fail)  # pyradiomics' own: unused
    SharedExtractor(RESAMPLED).extract(image, masks["reference"])
    assert sum(binned.values()) == 1 + 2 + 8  # original, 2 LoG, 8 wavelet; 3 classes each


def test_a_failing_mask_fails_alone_with_pyradiomics_message() -> None:
    image, masks = volumes()
    empty = sitk.Image(masks["reference"])
    empty *= 0
    results = dict(SharedExtractor(RESAMPLED).execute_masks(image, [masks["erode"], empty]))
    assert isinstance(results[1], ValueError) and "No labels found" in str(results[1])
    assert isinstance(results[0], dict)


def test_bin_image_equals_pyradiomics_bin_image() -> None:
    rng = np.random.default_rng(0)
    matrix = rng.normal(50, 30, size=(6, 9, 9))
    mask = rng.random(matrix.shape) > 0.4
    for settings in ({"binWidth": 5}, {"binWidth": 25}, {"binCount": 16}, {}):
        expected = imageoperations.binImage(matrix, mask, **settings)[0]
        assert np.array_equal(bin_image(matrix, mask, settings), expected)
        assert bin_image(matrix, mask, settings).dtype == expected.dtype
    flat = np.full((3, 4, 4), 10.0)  # one grey level: pyradiomics' single-bin case
    assert np.array_equal(
        bin_image(flat, flat > 0, {"binWidth": 5}), imageoperations.binImage(flat, flat > 0)[0]
    )


def test_get_mask_equals_pyradiomics_get_mask() -> None:
    _, masks = volumes()
    for label, mask in ((1, masks["reference"]), (2, masks["reference"] * 2 + masks["erode"])):
        expected = imageoperations.getMask(mask, label=label)
        actual = get_mask(mask, {"label": label})
        assert actual.GetPixelID() == expected.GetPixelID() == sitk.sitkUInt32
        assert np.array_equal(sitk.GetArrayFromImage(actual), sitk.GetArrayFromImage(expected))
    with pytest.raises(ValueError, match=r"Label \(7\) not present"):
        get_mask(masks["reference"], {"label": 7})
    with pytest.raises(ValueError, match="No labels found"):
        get_mask(masks["reference"] * 0, {"label": 1})
