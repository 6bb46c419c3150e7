"""Weights-only files and the model folder's refusal of incompatible or tampered contents."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from radiopipe.config import save_resolved
from radiopipe.config.segmentation import SegmentationConfig
from radiopipe.errors import RadiopipeError
from radiopipe.segment import model_folder as ckpt
from radiopipe.torchrun.checkpoint import load_tensors, load_weights, save_tensors
from radiopipe.torchrun.seeding import restore_rng, rng_state


class _Evil:
    def __reduce__(self):
        return (Path.touch, (Path("/tmp/radiopipe-pwned"),))


def test_tensors_round_trip_and_rng_state(tmp_path: Path) -> None:
    state = {
        "w": torch.arange(4.0),
        "epoch": 3,
        "history": [{"loss": 0.5}],
        "rng": rng_state(),
    }
    save_tensors(tmp_path / "c.pt", state)
    loaded = load_tensors(tmp_path / "c.pt")
    assert torch.equal(loaded["w"], state["w"]) and loaded["epoch"] == 3
    restore_rng(loaded["rng"])
    first = torch.rand(3)
    restore_rng(loaded["rng"])
    assert torch.equal(torch.rand(3), first)
    assert not list(tmp_path.glob(".*tmp*"))  # atomic write left no temporary file


def test_arbitrary_pickles_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"payload": _Evil()}, path)
    with pytest.raises(RadiopipeError, match="only tensors and plain values"):
        load_tensors(path)
    assert not Path("/tmp/radiopipe-pwned").exists()
    (tmp_path / "junk.pt").write_bytes(pickle.dumps([1, 2], protocol=2) + b"garbage")
    with pytest.raises(RadiopipeError, match=r"junk.pt"):
        load_tensors(tmp_path / "junk.pt")


def _folder(tmp_path: Path, done: bool = True) -> Path:
    config = SegmentationConfig(sequences=["t2w"])
    save_resolved(config, tmp_path / ckpt.CONFIG_FILE)
    (tmp_path / "t2w").mkdir()
    save_tensors(tmp_path / "t2w" / ckpt.WEIGHTS_FILE, {"w": torch.zeros(2)})
    from radiopipe.hashing import file_sha256

    ckpt.write_card(tmp_path, config, {"t2w": {
        "weights": "t2w/model.pt", "done": done,
        "weights_sha256": file_sha256(tmp_path / "t2w" / ckpt.WEIGHTS_FILE),
    }})  # fmt: skip
    return tmp_path


def test_a_complete_folder_is_read(tmp_path: Path) -> None:
    config, card = ckpt.read_model_folder(_folder(tmp_path))
    assert config.sequences == ["t2w"] and card["versions"]["torch"] == torch.__version__


def test_not_a_model_folder(tmp_path: Path) -> None:
    with pytest.raises(RadiopipeError, match="not a radiopipe segmentation model folder"):
        ckpt.read_model_folder(tmp_path)


def test_other_format_version_is_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    card = json.loads((folder / ckpt.CARD_FILE).read_text(encoding="utf-8"))
    card["format_version"] = 99
    (folder / ckpt.CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(RadiopipeError, match=r"version 99.*retrain"):
        ckpt.read_model_folder(folder)


def test_config_from_an_incompatible_version_is_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    with open(folder / ckpt.CONFIG_FILE, "a") as handle:
        handle.write("future_option: 1\n")
    with pytest.raises(RadiopipeError, match=r"(?s)does not fit radiopipe.*future_option"):
        ckpt.read_model_folder(folder)


def test_incomplete_training_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RadiopipeError, match=r"incomplete.*--resume"):
        ckpt.read_model_folder(_folder(tmp_path, done=False))


def test_modified_weights_are_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    save_tensors(folder / "t2w" / ckpt.WEIGHTS_FILE, {"w": torch.ones(2)})
    with pytest.raises(RadiopipeError, match="SHA-256 differs"):
        ckpt.read_model_folder(folder)


def test_weights_that_do_not_fit_the_network(tmp_path: Path) -> None:
    save_tensors(tmp_path / "w.pt", {"weight": torch.zeros(3, 3)})
    with pytest.raises(RadiopipeError, match="do not fit the configured network"):
        load_weights(tmp_path / "w.pt", torch.nn.Linear(2, 2))
