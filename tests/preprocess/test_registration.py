from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from radiopipe.errors import InputError
from radiopipe.preprocess import carry_mask, load_transform, register_rigid, save_transform
from tests.preprocess.conftest import centre_of, pelvis

ROTATION_DEG = (6.0, -4.0, 8.0)
TRANSLATION_MM = (4.0, -3.0, 5.0)


@pytest.fixture(scope="module")
def pair() -> tuple[sitk.Image, sitk.Image, sitk.Image, sitk.Euler3DTransform]:
    """Fixed image and organ mask; a moved copy with inverted contrast; the true transform.

    ``truth`` maps fixed points to moving points, as register_rigid's result should.
    """
    fixed, organ = pelvis()
    motion = sitk.Euler3DTransform()
    motion.SetCenter(centre_of(fixed))
    motion.SetRotation(*np.deg2rad(ROTATION_DEG))
    motion.SetTranslation(TRANSLATION_MM)
    # moving(p) = fixed(motion(p)), so fixed(q) = moving(motion^-1(q)).
    moved = sitk.Resample(fixed, fixed, motion, sitk.sitkLinear, 10.0)
    moving = sitk.Cast(300.0 - moved, sitk.sitkFloat32)  # another contrast: needs MI
    return fixed, organ, moving, motion.GetInverse()


@pytest.fixture(scope="module")
def registered(pair) -> sitk.Euler3DTransform:
    """The transform found with seed 0."""
    fixed, _, moving, _ = pair
    return register_rigid(fixed, moving, seed=0)


def _max_point_error(found: sitk.Transform, truth: sitk.Transform, image: sitk.Image) -> float:
    size = np.array(image.GetSize())
    points = [
        image.TransformContinuousIndexToPhysicalPoint(
            ((0.2 + 0.3 * np.array(f)) * (size - 1)).tolist()
        )
        for f in np.ndindex(3, 3, 3)
    ]
    return max(
        float(np.linalg.norm(np.subtract(found.TransformPoint(p), truth.TransformPoint(p))))
        for p in points
    )


def _rotation_error_deg(found: sitk.Transform, truth: sitk.Transform) -> float:
    a = np.array(found.GetMatrix()).reshape(3, 3)
    b = np.array(truth.GetMatrix()).reshape(3, 3)
    cos = (np.trace(a.T @ b) - 1) / 2
    return float(np.degrees(np.arccos(np.clip(cos, -1, 1))))


def test_rigid_registration_recovers_a_known_motion(pair, registered) -> None:
    fixed, _, _, truth = pair
    found = registered
    assert isinstance(found, sitk.Euler3DTransform)
    assert _rotation_error_deg(found, truth) < 1.0
    assert _max_point_error(found, truth, fixed) < 1.0  # mm, over the central volume
    # Without registration the same points are off by the whole motion (several mm).
    assert _max_point_error(sitk.Euler3DTransform(), truth, fixed) > 5.0


def test_same_seed_same_transform(pair, registered) -> None:
    fixed, _, moving, truth = pair
    first = registered.GetParameters()
    again = register_rigid(fixed, moving, seed=0).GetParameters()
    other = register_rigid(fixed, moving, seed=1)
    assert first == again  # bit-identical
    assert first != other.GetParameters()  # the seed does drive the voxel sample ...
    assert _max_point_error(other, truth, fixed) < 1.0  # ... and any seed finds the motion


def test_saved_and_loaded_transform_gives_identical_results(
    pair, registered, tmp_path: Path
) -> None:
    fixed, _, moving, _ = pair
    found = registered
    path = save_transform(found, tmp_path / "cet1w_to_t2w.tfm")
    loaded = load_transform(path)
    assert loaded.GetParameters() == found.GetParameters()
    assert loaded.GetFixedParameters() == found.GetFixedParameters()
    before = sitk.Resample(moving, fixed, found, sitk.sitkLinear, 0.0)
    after = sitk.Resample(moving, fixed, loaded, sitk.sitkLinear, 0.0)
    assert np.array_equal(sitk.GetArrayFromImage(before), sitk.GetArrayFromImage(after))
    assert not list(tmp_path.glob(".*tmp*"))


def test_carry_mask_moves_a_mask_between_sequences(pair, registered) -> None:
    fixed, organ, moving, truth = pair
    found = registered
    # The organ drawn on the fixed image, carried onto the moving image's grid ...
    on_moving = carry_mask(organ, found, moving, inverse=True)
    expected = sitk.Resample(organ, moving, truth.GetInverse(), sitk.sitkNearestNeighbor, 0)
    overlap = sitk.LabelOverlapMeasuresImageFilter()
    overlap.Execute(on_moving, expected)
    assert overlap.GetDiceCoefficient() > 0.9
    naive = sitk.LabelOverlapMeasuresImageFilter()
    naive.Execute(organ, expected)
    assert naive.GetDiceCoefficient() < overlap.GetDiceCoefficient() - 0.1
    # ... and back again lands where it started; values stay labels.
    back = carry_mask(on_moving, found, fixed)
    overlap.Execute(back, organ)
    assert overlap.GetDiceCoefficient() > 0.9
    assert set(np.unique(sitk.GetArrayFromImage(back)).tolist()) == {0, 1}
    soft = sitk.Cast(organ, sitk.sitkFloat32) * 0.5
    with pytest.raises(InputError, match="non-integer"):
        carry_mask(soft, found, moving)


def test_transform_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_transform(tmp_path / "absent.tfm")
    bad = tmp_path / "bad.tfm"
    bad.write_text("#Insight Transform File V1.0\nTransform: Nonsense\n")
    with pytest.raises(InputError, match=r"bad\.tfm: unreadable transform"):
        load_transform(bad)
    with pytest.raises(InputError, match="not an ITK text transform"):
        load_transform(tmp_path / "model.pkl")
    with pytest.raises(ValueError, match=r"end in \.tfm or \.txt"):
        save_transform(sitk.Euler3DTransform(), tmp_path / "t.h5")
