"""Which patients of a new centre the bundle scores under each unseen-site rule."""

from __future__ import annotations

import pytest

from radiopipe.bundle.loader import Bundle
from radiopipe.bundle.scoring import scorable_sites


def _bundle(tmp_path, rule="estimate", minimum=3) -> Bundle:
    card = {"has_sites": True, "training_sites": ["A", "B"],
            "unseen_site": {"rule": rule, "min_site_size": minimum}}  # fmt: skip
    return Bundle(tmp_path, card, model=None, thresholds={}, preprocess=None)


@pytest.fixture
def manifest(tmp_path):
    rows = ["A-1,A", "N-1,N", "N-2,N", "M-1,M", "M-2,M", "M-3,M"]
    path = tmp_path / "new.csv"
    path.write_text(
        "patient_id,site,split,label,image_t2w\n"
        + "".join(f"{r},,,images/{r.split(',')[0]}.nii.gz\n" for r in rows)
    )
    return path


def test_estimate_scores_a_large_enough_new_site_and_lists_a_small_one(tmp_path, manifest):
    kept, left = scorable_sites(_bundle(tmp_path), manifest, None)
    assert kept == ["A-1", "M-1", "M-2", "M-3"]
    assert [(r.patient_id, r.step) for r in left] == [
        ("N-1", "unseen_site"),
        ("N-2", "unseen_site"),
    ]
    assert "'estimate' needs at least 3" in left[0].reason and "passthrough" in left[0].reason


def test_passthrough_scores_a_single_new_patient_and_error_refuses_every_new_site(
    tmp_path, manifest
):
    kept, left = scorable_sites(_bundle(tmp_path), manifest, "passthrough")
    assert len(kept) == 6 and not left
    kept, left = scorable_sites(_bundle(tmp_path, rule="error"), manifest, None)
    assert kept == ["A-1"] and {r.patient_id for r in left} == {"N-1", "N-2", "M-1", "M-2", "M-3"}
