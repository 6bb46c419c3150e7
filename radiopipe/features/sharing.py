"""pyradiomics with shared work: bin each derived image once, and do the mask-free steps once.

pyradiomics (3.1) repeats work that does not change the result:

- each of the six texture and first-order classes discretises the same derived image again
  (``binImage``), finding the ROI's minimum and maximum with Python's builtin ``min`` and
  ``max`` over every voxel; on the paper's settings that is a quarter of a task's time;
- for several masks of one image (robustness: second reader, erosion, dilation, contour
  perturbations), each ``execute`` call normalises, resamples and filters the image again.

:class:`SharedExtractor` runs pyradiomics' own steps, in pyradiomics' order, with its own
functions and classes, so the values are bit for bit those of ``execute``, except that

- one derived image is discretised once and its bins handed to every class (the bin edges
  depend only on the ROI's minimum and maximum, so pyradiomics' ``getBinEdges`` is given just
  those two values);
- across the masks of one image (:meth:`SharedExtractor.execute_masks`) the image is
  normalised once, resampled once per resampling grid, and filtered once per grid when
  several masks share it. pyradiomics resamples onto the mask's bounding box plus
  ``padDistance`` on a lattice fixed by the mask's grid, so two masks with the same box get
  the same grid and identical resampled and filtered images; different boxes are computed
  apart (filters see the crop's border, so sharing them would not be exact).

Tested against ``RadiomicsFeatureExtractor.execute`` in tests/features/test_sharing.py.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import SimpleITK as sitk
from radiomics import featureextractor, generalinfo, getFeatureClasses, imageoperations
from radiomics.featureextractor import RadiomicsFeatureExtractor

logger = logging.getLogger(__name__)

# Image types whose filtered images depend on the (resampled) image only, not on the mask.
MASK_FREE_IMAGE_TYPES = frozenset(
    {"Original", "LoG", "Wavelet", "Square", "SquareRoot", "Logarithm", "Exponential", "Gradient"}
)


class _Bins:
    """The discretisation of the derived image being computed, shared by its classes."""

    def __init__(self) -> None:
        self.key: tuple | None = None
        self.value: tuple[np.ndarray, np.ndarray, int] | None = None

    def clear(self) -> None:
        self.key, self.value = None, None


def bin_image(matrix: np.ndarray, mask: np.ndarray, settings: dict[str, Any]) -> np.ndarray:
    """``imageoperations.binImage(matrix, mask, **settings)[0]``, without a Python loop."""
    values = matrix[mask]
    lo, hi = values.min(), values.max()
    if not (np.isfinite(lo) and np.isfinite(hi)):  # builtin min/max order NaNs differently
        return imageoperations.binImage(matrix, mask, **settings)[0]
    edges = imageoperations.getBinEdges(np.array([lo, hi], dtype=values.dtype), **settings)
    binned = np.zeros(matrix.shape, dtype="int")
    binned[mask] = np.digitize(values, edges)
    return binned


def _sharing_class(base: type, bins: _Bins) -> type:
    """A subclass of a pyradiomics feature class whose ``_applyBinning`` reuses ``bins``."""

    def _applyBinning(self, matrix):
        key = (id(self.inputImage), id(self.inputMask), matrix.shape, _binning(self.settings))
        if bins.key != key:
            binned = bin_image(matrix, self.maskArray, self.settings)
            levels = np.unique(binned[self.maskArray])
            bins.key, bins.value = key, (binned, levels, int(np.max(levels)))
        binned, levels, ng = bins.value
        self.coefficients["grayLevels"] = levels.copy()
        self.coefficients["Ng"] = ng
        return binned.copy()

    members = {"_applyBinning": _applyBinning, "__module__": base.__module__}
    return type(base.__name__, (base,), members)


def _binning(settings: dict[str, Any]) -> tuple:
    return (settings.get("binWidth", 25), settings.get("binCount"), settings.get("label", 1))


class _Group:
    """What the masks of one image share: the normalised image, resampled and filtered images."""

    def __init__(self, image: sitk.Image, uses: collections.Counter) -> None:
        self.image = image  # kept so that id(image) stays unique while the group lives
        self.normalised: sitk.Image | None = None
        self.remaining = 0  # masks not yet done (this one included)
        self.uses = uses  # grid -> masks not yet done on that grid (this one included)
        self.resampled: dict[tuple, sitk.Image] = {}
        self.filtered: dict[tuple, list] = {}

    def done_with(self, grid: tuple | None) -> None:
        """Forget a grid's images after its last mask."""
        if grid is None:
            return
        self.uses[grid] -= 1
        if self.uses[grid] <= 0:
            self.resampled.pop(grid, None)
            for key in [k for k in self.filtered if k[0] == grid]:
                del self.filtered[key]


class SharedExtractor(RadiomicsFeatureExtractor):
    """pyradiomics' extractor that shares bins between classes and work between masks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._bins = _Bins()
        self._classes = {
            name: (cls if name.startswith("shape") else _sharing_class(cls, self._bins))
            for name, cls in getFeatureClasses().items()
        }

    def extract(self, image: sitk.Image, mask: sitk.Image) -> dict[str, Any]:
        """Features of one mask (as ``execute(image, mask)``); raises what pyradiomics raises."""
        result = next(self.execute_masks(image, [mask]))[1]
        if isinstance(result, Exception):
            raise result
        return result

    def execute_masks(
        self, image: sitk.Image, masks: Sequence[sitk.Image]
    ) -> Iterator[tuple[int, dict[str, Any] | Exception]]:
        """Yield ``(index, features)`` per mask, or ``(index, exception)`` where it failed.

        Masks are done grouped by resampling grid, so at most one grid's images are held.
        """
        settings = self.settings.copy()
        grids: list[tuple | None] = []
        for mask in masks:  # the raw mask has the label's bounding box: no UInt32 copies yet
            try:
                grids.append(self._grid(image, mask, settings))
            except Exception:  # the mask fails in its turn below, with pyradiomics' message
                grids.append(None)
        group = _Group(image, collections.Counter(g for g in grids if g is not None))
        group.remaining = len(masks)
        order = sorted(range(len(masks)), key=lambda i: _first(grids, grids[i]))
        for index in order:
            try:
                # no reference kept here: the full-size UInt32 mask goes once it is resampled
                yield (
                    index,
                    self._execute_one(image, get_mask(masks[index], settings), group, settings),
                )
            except Exception as err:
                yield index, err
            finally:
                group.done_with(grids[index])
                group.remaining -= 1
                self._bins.clear()

    def computeFeatures(self, image, mask, imageTypeName, **kwargs):
        """pyradiomics' ``computeFeatures`` with the bin-sharing feature classes."""
        vector = collections.OrderedDict()
        self._bins.clear()
        for class_name, names in self.enabledFeatures.items():
            if class_name.startswith("shape") or class_name not in self._classes:
                continue
            feature_class = self._classes[class_name](image, mask, **kwargs)
            if names is not None:
                for name in names:
                    feature_class.enableFeatureByName(name)
            for name, value in feature_class.execute().items():
                vector[f"{imageTypeName}_{class_name}_{name}"] = value
        self._bins.clear()
        return vector

    # pyradiomics' execute (segment-based), step by step ------------------------------------

    def _execute_one(
        self, image: sitk.Image, mask: sitk.Image, group: _Group, settings: dict[str, Any]
    ) -> dict[str, Any]:
        settings = settings.copy()
        label = settings.get("label", 1)
        if featureextractor.geometryTolerance != settings.get("geometryTolerance"):
            self._setTolerance()
        info = None
        if settings.get("additionalInfo", False):
            info = generalinfo.GeneralInfo()
            info.addGeneralSettings(settings)
            info.addEnabledImageTypes(self.enabledImagetypes)
        vector: dict[str, Any] = collections.OrderedDict()
        image, mask, grid = self._load(image, mask, info, settings, group)
        box, corrected = imageoperations.checkMask(image, mask, **settings)
        if corrected is not None:
            if info is not None:
                info.addMaskElements(image, corrected, label, "corrected")
            mask = corrected
        resegmented = None
        if settings.get("resegmentRange", None) is not None:
            resegmented = imageoperations.resegmentMask(image, mask, **settings)
            box, _ = imageoperations.checkMask(image, resegmented, **settings)
            if info is not None:
                info.addMaskElements(image, resegmented, label, "resegmented")
        if info is not None:
            vector.update(info.getGeneralInfo())
        resegment_shape = settings.get("resegmentShape", False)
        if resegment_shape and resegmented is not None:
            mask = resegmented
        vector.update(self.computeShape(image, mask, box, **settings))
        if not resegment_shape and resegmented is not None:
            mask = resegmented
        for derived, name, kwargs in self._derived(image, mask, settings, grid, group):
            cropped = imageoperations.cropToTumorMask(derived, mask, box, padDistance=0)
            vector.update(self.computeFeatures(*cropped, name, **kwargs))
        return vector

    def _load(self, image, mask, info, settings, group: _Group):
        """pyradiomics' ``loadImage`` on images in memory (mask through :func:`get_mask`)."""
        label = settings.get("label", 1)
        if info is not None:
            info.addImageElements(image)
            info.addMaskElements(None, mask, label)
        if settings.get("normalize", False):
            normalised = group.normalised
            if normalised is None:
                normalised = imageoperations.normalizeImage(image, **settings)
            # kept while other masks follow; the last one lets it go after resampling, as
            # pyradiomics does, so a single mask needs no more memory than execute()
            group.normalised = normalised if group.remaining > 1 else None
            image = normalised
        grid: tuple | None = ("whole",)  # filters then see the whole image, whatever the mask
        if _resamples(settings):
            image, mask, grid = self._resample(image, mask, settings, group)
            if info is not None:
                info.addImageElements(image, "interpolated")
                info.addMaskElements(image, mask, label, "interpolated")
        elif settings.get("preCrop", False):
            box, corrected = imageoperations.checkMask(image, mask, **settings)
            if corrected is not None:
                mask = corrected
            if box is None:
                raise ValueError("Mask checks failed during pre-crop")
            image, mask = imageoperations.cropToTumorMask(image, mask, box, **settings)
            grid = None
        return image, mask, grid

    def _resample(self, image, mask, settings, group: _Group):
        """pyradiomics' ``resampleImage``, with the image's resampling kept per grid."""
        plan = _resampling_plan(image, mask, settings)
        if plan is None:  # spacing already right: pyradiomics only crops (cheap), no sharing
            resampled, mask = imageoperations.resampleImage(image, mask, **settings)
            return resampled, mask, None
        spacing, direction, size, origin, interpolator = plan
        rif = sitk.ResampleImageFilter()
        rif.SetOutputSpacing(spacing)
        rif.SetOutputDirection(direction)
        rif.SetSize(size)
        rif.SetOutputOrigin(origin)
        grid = _grid_key(spacing, direction, size, origin)
        resampled = group.resampled.get(grid)
        if resampled is None:
            rif.SetOutputPixelType(image.GetPixelID())
            rif.SetInterpolator(interpolator)
            resampled = rif.Execute(image)
            if group.uses[grid] > 1:
                group.resampled[grid] = resampled
        rif.SetOutputPixelType(mask.GetPixelID())
        rif.SetInterpolator(sitk.sitkNearestNeighbor)
        return resampled, rif.Execute(mask), grid

    def _grid(self, image: sitk.Image, mask: sitk.Image, settings: dict[str, Any]) -> tuple | None:
        """The grid the image is filtered on for this mask (None: not shareable)."""
        if not _resamples(settings):
            return None if settings.get("preCrop", False) else ("whole",)
        plan = _resampling_plan(image, mask, settings)
        return None if plan is None else _grid_key(*plan[:4])

    def _derived(self, image, mask, settings, grid, group: _Group) -> Iterator[tuple]:
        """The derived images of every enabled image type (kept when another mask needs them)."""
        for image_type, custom in self.enabledImagetypes.items():
            args = settings.copy()
            args.update(custom)
            make = getattr(imageoperations, f"get{image_type}Image")
            key = (grid, image_type)
            if key in group.filtered:
                yield from group.filtered[key]
            elif grid is None or image_type not in MASK_FREE_IMAGE_TYPES or group.uses[grid] < 2:
                yield from make(image, mask, **args)  # one at a time, as pyradiomics does
            else:  # another mask on this grid comes later: keep them until then
                group.filtered[key] = list(make(image, mask, **args))
                yield from group.filtered[key]


def get_mask(mask: sitk.Image, settings: dict[str, Any]) -> sitk.Image:
    """``imageoperations.getMask``: the same UInt32 mask and errors, without sorting every voxel.

    pyradiomics lists the labels present with ``numpy.unique`` over the whole volume to check
    that the label is there; here that runs only to word the error.
    """
    if "vector" in mask.GetPixelIDTypeAsString().lower():
        return imageoperations.getMask(mask, **settings)
    label = settings.get("label", 1)
    mask = sitk.Cast(mask, sitk.sitkUInt32)
    voxels = sitk.GetArrayViewFromImage(mask)
    if not voxels.any() or not (voxels == label).any():
        return imageoperations.getMask(mask, **settings)  # raises pyradiomics' ValueError
    return mask


def _resampling_plan(image: sitk.Image, mask: sitk.Image, settings: dict[str, Any]):
    """The grid ``imageoperations.resampleImage`` resamples onto (pyradiomics 3.1's arithmetic).

    Returns (spacing, direction, size, origin, interpolator), or None where pyradiomics does
    not interpolate (the spacing is already the requested one). Raises what it raises.
    """
    spacing = np.array(settings["resampledPixelSpacing"])
    interpolator = settings.get("interpolator", sitk.sitkBSpline)
    pad = settings.get("padDistance", 5)
    mask_spacing = np.array(mask.GetSpacing())
    nd = len(mask_spacing)
    if len(spacing) != nd:
        raise AssertionError(
            f"Wrong dimensionality ({len(spacing)}-D) of resampledPixelSpacing!, {nd}-D required"
        )
    spacing = np.where(spacing == 0, mask_spacing, spacing)
    box = imageoperations._checkROI(image, mask, **settings)
    spacing = np.where(box[nd:] != 1, spacing, mask_spacing)
    if np.allclose(np.array(image.GetSpacing()), spacing):
        return None
    ratio = mask_spacing / spacing
    low = np.floor((box[:nd] - 0.5) * ratio - pad)
    high = np.ceil((box[:nd] + box[nd:] - 0.5) * ratio + pad)
    top = np.ceil(np.array(mask.GetSize()) * ratio) - 1
    low = np.where(low < 0, 0, low)
    high = np.where(high > top, top, high)
    size = np.array(high - low + 1, dtype="int").tolist()
    origin_index = np.array(0.5 * (spacing - mask_spacing) / mask_spacing) + low / ratio
    origin = mask.TransformContinuousIndexToPhysicalPoint(origin_index)
    if isinstance(interpolator, str):
        interpolator = getattr(sitk, interpolator, None)
        if interpolator is None:
            logger.warning("interpolator not recognized, using sitkBSpline")
            interpolator = sitk.sitkBSpline
    return spacing, np.array(mask.GetDirection()), size, origin, interpolator


def _grid_key(spacing, direction, size, origin) -> tuple:
    return (
        tuple(float(v) for v in spacing),
        tuple(float(v) for v in direction),
        tuple(int(v) for v in size),
        tuple(float(v) for v in origin),
    )


def _first(items: list, value: Any) -> int:
    """Index of the first item equal to ``value`` (orders masks grouped by grid)."""
    return items.index(value) if value is not None else len(items)


def _resamples(settings: dict[str, Any]) -> bool:
    """True if pyradiomics' loadImage resamples with these settings."""
    spacing = settings.get("resampledPixelSpacing")
    return settings.get("interpolator") is not None and spacing is not None
