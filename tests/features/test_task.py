"""One task in a worker: problems come back as messages naming the file, never as crashes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from radiopipe.features.params import validate_params
from radiopipe.features.task import TaskSpec, run_task
from radiopipe.features.units import plan_units
from tests.conftest import sphere_mask, write_volume

PARAMS = validate_params(
    {"featureClass": {"firstorder": None}, "setting": {"binWidth": 25, "label": 1}}
)


def spec_for(image: Path, mask: Path) -> TaskSpec:
    units = plan_units(PARAMS)
    return TaskSpec("P9", "t2w", str(image), str(mask), PARAMS.as_dict(), (("k", units[0]),))


def volumes(tmp_path: Path, image: np.ndarray, mask: np.ndarray) -> TaskSpec:
    # NRRD keeps NaN voxels (SimpleITK's NIfTI reader does not)
    return spec_for(
        write_volume(tmp_path / "image.nrrd", image), write_volume(tmp_path / "mask.nrrd", mask)
    )


def test_success_returns_features_under_their_unit_key(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    result = run_task(
        volumes(tmp_path, rng.normal(100, 10, (8, 12, 12)), sphere_mask((8, 12, 12), 3))
    )
    assert result.ok and set(result.units) == {"k"}
    assert result.units["k"]["original_firstorder_Mean"] == pytest.approx(100, abs=5)
    assert result.diagnostics["Mask-original_VoxelNum"] > 50
    assert result.peak_rss_mb > 10 and result.seconds > 0


def test_nan_inside_the_mask(tmp_path: Path) -> None:
    image = np.full((8, 12, 12), 100.0, np.float32)
    image[4, 6, 6] = np.nan
    result = run_task(volumes(tmp_path, image, sphere_mask((8, 12, 12), 3)))
    assert "1 NaN or infinite voxel(s) inside the mask" in result.error
    assert result.file.endswith("image.nrrd")


def test_a_flat_roi_fails_in_pyradiomics_and_names_the_mask(tmp_path: Path) -> None:
    line = np.zeros((8, 12, 12), np.uint8)
    line[4, 6, 2:10] = 1  # one-dimensional: pyradiomics needs at least 2 dimensions
    result = run_task(volumes(tmp_path, np.ones((8, 12, 12), np.float32), line))
    assert result.error.startswith("pyradiomics failed: ValueError")
    assert result.file.endswith("mask.nrrd") and result.patient_id == "P9"


def test_wrong_dimension(tmp_path: Path) -> None:
    import SimpleITK as sitk

    flat = tmp_path / "flat.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(np.ones((12, 12), np.float32)), str(flat))
    mask = write_volume(tmp_path / "mask.nii.gz", sphere_mask((8, 12, 12), 3))
    result = run_task(spec_for(flat, mask))
    assert "is 2-D; expected 3-D" in result.error and result.file == str(flat)


def test_one_paper_task_filters_each_image_type_and_sigma_once(tmp_path: Path, monkeypatch) -> None:
    """All units of the paper settings in one task: one LoG call yielding each sigma once, one
    wavelet call, and each derived image's features computed once."""
    from radiomics import imageoperations

    from radiopipe.features import sharing
    from radiopipe.features.params import load_params
    from radiopipe.features.units import params_for
    from tests.features.conftest import PAPER

    calls: dict[str, int] = {}
    images: list[str] = []

    def counted(name):
        real = getattr(imageoperations, name)

        def wrapped(*args, **kwargs):
            calls[name] = calls.get(name, 0) + 1
            for item in real(*args, **kwargs):
                images.append(item[1])
                yield item

        return wrapped

    for name in ("getOriginalImage", "getLoGImage", "getWaveletImage"):
        monkeypatch.setattr(imageoperations, name, counted(name))
    computed: list[str] = []
    real_compute = sharing.SharedExtractor.computeFeatures

    def compute(self, image, mask, name, **kwargs):
        computed.append(name)
        return real_compute(self, image, mask, name, **kwargs)

    monkeypatch.setattr(sharing.SharedExtractor, "computeFeatures", compute)
    params = load_params(PAPER)
    units = plan_units(params)
    rng = np.random.default_rng(1)
    mask = sphere_mask((14, 20, 20), 5)
    image = rng.normal(300, 40, mask.shape) + 200 * mask
    spec = TaskSpec(
        "P1", "t2w", str(write_volume(tmp_path / "i.nrrd", image, (0.9, 0.9, 1.5))),
        str(write_volume(tmp_path / "m.nrrd", mask, (0.9, 0.9, 1.5))),
        params_for(units, params), tuple((u.describe(), u) for u in units),
    )  # fmt: skip
    result = run_task(spec)
    assert result.ok, result.error
    assert calls == {"getOriginalImage": 1, "getLoGImage": 1, "getWaveletImage": 1}
    assert len(images) == len(set(images)) == 1 + 4 + 8
    assert sorted(computed) == sorted(images)
    assert all(result.units[u.describe()] for u in units)  # every unit got its features


def test_a_group_on_one_image_gives_each_mask_its_own_result(tmp_path: Path) -> None:
    from radiopipe.features.task import run_group

    rng = np.random.default_rng(2)
    image = write_volume(tmp_path / "image.nrrd", rng.normal(100, 10, (8, 12, 12)))
    masks = {
        "small": sphere_mask((8, 12, 12), 2.5), "large": sphere_mask((8, 12, 12), 3.5),
        "empty": np.zeros((8, 12, 12), np.uint8),
    }  # fmt: skip
    specs = []
    for name, mask in masks.items():
        path = write_volume(tmp_path / f"{name}.nrrd", mask)
        specs.append(replace(spec_for(image, path), variant=name))
    results = run_group(specs)
    assert [r.variant for r in results] == ["small", "large", "empty"]
    alone = [run_task(spec) for spec in specs]
    for grouped, single in zip(results[:2], alone[:2], strict=True):
        assert grouped.ok and grouped.units == single.units
    assert results[0].units["k"] != results[1].units["k"]
    assert not results[2].ok and results[2].file.endswith("empty.nrrd")
    assert "mask is empty" in results[2].error and results[2].error == alone[2].error
    with pytest.raises(ValueError, match="same image"):
        run_group([specs[0], replace(specs[1], image=str(tmp_path / "other.nrrd"))])
