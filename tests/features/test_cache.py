"""The feature cache and the file-hash memo."""

from __future__ import annotations

from pathlib import Path

from radiopipe.features import cache as cache_module
from radiopipe.features.cache import FeatureCache, FileHasher, TaskEntry, safe_name
from radiopipe.hashing import file_sha256


def test_safe_names_are_plain_and_unique() -> None:
    assert safe_name("P001") == "P001"
    assert "/" not in safe_name("../../etc/passwd") and not safe_name("..").startswith(".")
    assert safe_name("a/b") != safe_name("a_b")


def test_entries_round_trip_and_other_inputs_miss(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path)
    entry = TaskEntry("img", "msk", {"k1": {"original_firstorder_Mean": 1.5}}, {"g": {"a": 1}})
    entry.labels["k1"] = "Original/firstorder"
    cache.save("P/1", "t2w", "", entry)
    again = cache.load("P/1", "t2w", "", "img", "msk")
    assert again.units == entry.units and again.diagnostics == entry.diagnostics
    assert again.labels == {"k1": "Original/firstorder"}
    assert cache.load("P/1", "t2w", "", "img", "other-mask").units == {}
    assert cache.load("P/1", "t2w", "erode", "img", "msk").units == {}


def test_a_damaged_cache_file_is_ignored(tmp_path: Path, caplog) -> None:
    cache = FeatureCache(tmp_path)
    path = cache.path("P1", "t2w")
    path.parent.mkdir(parents=True)
    path.write_text('{"format": 1, "units": {')
    assert cache.load("P1", "t2w", "", "img", "msk").units == {}
    assert "unreadable cache file" in caplog.text


def test_hash_memo_is_reused_until_the_file_changes(tmp_path: Path, monkeypatch) -> None:
    calls = []

    def counting(path):
        calls.append(Path(path))
        return file_sha256(path)

    monkeypatch.setattr(cache_module, "file_sha256", counting)
    data = tmp_path / "image.nii.gz"
    data.write_bytes(b"first")
    hasher = FileHasher(tmp_path / "cache")
    first = hasher.sha256(data)
    hasher.save()
    assert FileHasher(tmp_path / "cache").sha256(data) == first and len(calls) == 1
    data.write_bytes(b"changed content")
    assert FileHasher(tmp_path / "cache").sha256(data) == file_sha256(data) != first
    assert len(calls) == 2
    missing = hasher.many([tmp_path / "absent.nii.gz"])
    assert isinstance(missing[str(tmp_path / "absent.nii.gz")], FileNotFoundError)
