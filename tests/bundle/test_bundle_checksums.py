"""The bundle's checksum manifest: sha256sum format, and every kind of tampering refused."""

from __future__ import annotations

import hashlib

import pytest

from radiopipe.bundle.checksums import (
    CHECKSUMS,
    BundleError,
    bundle_files,
    verify_checksums,
    write_checksums,
)


@pytest.fixture
def bundle(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "stack.skops").write_bytes(b"pipeline")
    (tmp_path / "thresholds.json").write_text('{"stack": 0.5}')
    write_checksums(tmp_path)
    (tmp_path / "provenance.json").write_text("{}")  # the stage's record: not bundle content
    return tmp_path


def test_checksums_are_sha256sum_lines_of_every_file(bundle):
    lines = (bundle / CHECKSUMS).read_text(encoding="utf-8").splitlines()
    model, thresholds = (hashlib.sha256(b).hexdigest() for b in (b"pipeline", b'{"stack": 0.5}'))
    assert lines == [f"{model}  model/stack.skops", f"{thresholds}  thresholds.json"]
    assert bundle_files(bundle) == ["model/stack.skops", "thresholds.json"]
    assert set(verify_checksums(bundle)) == {"model/stack.skops", "thresholds.json"}


def test_changed_missing_and_added_files_are_refused_by_name(bundle):
    (bundle / "model" / "stack.skops").write_bytes(b"pipelinf")
    with pytest.raises(BundleError, match=r"model/stack.skops: file differs"):
        verify_checksums(bundle)
    (bundle / "model" / "stack.skops").unlink()
    with pytest.raises(BundleError, match=r"model/stack.skops: file of the bundle is missing"):
        verify_checksums(bundle)
    (bundle / "model" / "stack.skops").write_bytes(b"pipeline")
    (bundle / "model" / "extra.skops").write_bytes(b"x")
    with pytest.raises(BundleError, match=r"model/extra.skops: file is not listed"):
        verify_checksums(bundle)


def test_a_folder_without_checksums_is_not_a_bundle(tmp_path):
    with pytest.raises(BundleError, match="not a radiopipe bundle"):
        verify_checksums(tmp_path)
