"""radiopipe.hashing: the one place for file and settings hashes."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from pydantic import BaseModel

from radiopipe import imaging
from radiopipe.config import config_hash
from radiopipe.hashing import canonical_json, file_sha256, json_sha256, settings_hash


class _Settings(BaseModel):
    b: list[int] = [1, 2]
    a: Path = Path("x")


def test_file_and_folder_hashes(tmp_path: Path) -> None:
    one = tmp_path / "d" / "one.bin"
    one.parent.mkdir()
    one.write_bytes(b"abc" * 1000)
    assert file_sha256(one) == hashlib.sha256(b"abc" * 1000).hexdigest()
    before = file_sha256(one.parent)
    (one.parent / "two.bin").write_bytes(b"")  # a new (empty) file changes the folder hash
    assert file_sha256(one.parent) != before
    assert imaging.file_sha256 is file_sha256  # the old import path keeps working


def test_settings_hash_is_canonical_json_sha256() -> None:
    assert canonical_json({"b": [1, 2], "a": "x"}) == '{"a":"x","b":[1,2]}'
    expected = hashlib.sha256(b'{"a":"x","b":[1,2]}').hexdigest()
    assert json_sha256({"b": [1, 2], "a": "x"}) == expected
    assert settings_hash(_Settings()) == expected  # models are dumped in JSON mode
    assert config_hash(_Settings()) == expected == config_hash({"a": "x", "b": [1, 2]})


def test_hashing_imports_no_imaging_stack() -> None:
    code = (
        "import sys, radiopipe.hashing; print('SimpleITK' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
