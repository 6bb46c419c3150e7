"""Rendering: anatomy inside the organ, sizes, scanners, and the outcome visible in the images."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from sklearn.metrics import roc_auc_score

from radiopipe.config.synth import SynthConfig
from radiopipe.synth import PRESETS, SIZES, cohort_parameters, scanner_for
from radiopipe.synth.outcome import OutcomeModel
from radiopipe.synth.patient import draw_patient, draw_profile
from radiopipe.synth.render import render_patient


def render(site: str, index: int, size: str = "tiny", seed: int = 0):
    scanner = scanner_for(site, seed)
    patient = draw_patient(seed, site, index, scanner, OutcomeModel.calibrated(2.5, 0.57))
    return patient, render_patient(patient, scanner, SIZES[size], keep_uterus=True)


@pytest.mark.parametrize("site", ["A", "B"])
def test_lesion_mask_is_non_empty_and_inside_the_uterus(site: str) -> None:
    for index in range(1, 7):
        _, volumes = render(site, index)
        for volume in volumes.values():
            mask = volume.mask.astype(bool)
            assert mask.sum() > 20
            assert not (mask & ~volume.uterus).any()
            # Never touching the volume border: the whole lesion is in the field of view.
            assert not mask[[0, -1]].any() and not mask[:, [0, -1]].any()
            assert not mask[:, :, [0, -1]].any()


def test_lesion_is_darker_than_myometrium_on_t2_for_most_patients() -> None:
    darker = 0
    for index in range(1, 11):
        _, volumes = render("A", index)
        v = volumes["t2w"]
        lesion = ndimage.binary_erosion(v.mask.astype(bool), np.ones((1, 3, 3)))
        ring = v.uterus & ~ndimage.binary_dilation(v.mask.astype(bool), np.ones((1, 5, 5)))
        darker += np.median(v.image[lesion]) < np.median(v.image[ring])
    assert darker >= 7  # Funaki I/II fibroids (about 90 %) are darker than myometrium


def test_volume_shapes_per_size() -> None:
    shapes = {}
    for size in SIZES:
        grids = cohort_parameters(SynthConfig(size=size))["grids"]
        shapes[size] = {
            (site, seq): grids[site][seq]["shape_xyz"] for site in grids for seq in grids[site]
        }
    tiny = np.array(list(shapes["tiny"].values()))
    assert tiny.max() <= 60 and tiny[:, 2].max() <= 20  # about 48 x 48 x 12
    for size in ("small", "default"):
        assert all(
            np.prod(shapes[size][key]) > 4 * np.prod(shapes["tiny"][key]) for key in shapes[size]
        )
    default = shapes["default"][("A", "t2w")]
    assert default[0] >= 256 and default[2] >= 20


def test_scanner_presets_and_seeded_random_sites() -> None:
    assert scanner_for("A", 0) == PRESETS["A"] and scanner_for("B", 7) == PRESETS["B"]
    c = scanner_for("C", 0)
    assert c == scanner_for("C", 0)
    assert c != scanner_for("C", 1) and c != scanner_for("D", 0)
    for protocol in (c.t2w, c.cet1w):
        assert 4.0 <= protocol.slice_mm <= 6.0 and 0.8 <= protocol.inplane_mm <= 1.4
        assert protocol.snr > 5 and protocol.scale > 0


def test_inter_sequence_motion_moves_the_cet1_mask() -> None:
    patient, volumes = render("B", 2, size="small")
    centres = {}
    for seq, v in volumes.items():
        idx = np.argwhere(v.mask)[:, ::-1].mean(0)
        centres[seq] = np.asarray(v.grid.origin) + idx * np.asarray(v.grid.spacing)
    shift = centres["cet1w"] - centres["t2w"]
    assert np.allclose(shift, patient.motion_mm, atol=2.5)


def test_outcome_is_visible_in_lesion_intensity_and_grows_with_effect_size() -> None:
    # One simple image feature: lesion signal relative to the whole image, both sequences.
    feature = []
    for index in range(1, 81):
        _, volumes = render("A", index)
        score = 0.0
        for v in volumes.values():
            score -= np.median(v.image[v.mask > 0]) / np.percentile(v.image, 90)
        feature.append(score)
    aucs = []
    for effect in (0.0, 1.5, 4.0):
        model = OutcomeModel.calibrated(effect, 0.57)
        labels = [draw_profile(0, "A", i, model).label for i in range(1, 81)]
        aucs.append(roc_auc_score(labels, feature))
    assert aucs[0] < 0.65
    assert aucs[0] < aucs[1] < aucs[2]
    assert aucs[2] > 0.7
