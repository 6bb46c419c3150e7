from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from radiopipe.torchrun.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_weights,
    save_checkpoint,
    save_weights,
)


class _Payload:
    """An arbitrary object: unpickling it would run code the user did not write."""

    def __reduce__(self):
        return (print, ("pwned",))


def test_weights_round_trip(tmp_path: Path) -> None:
    model = torch.nn.Linear(3, 2)
    save_weights(tmp_path / "w.pt", model)
    other = torch.nn.Linear(3, 2)
    load_weights(tmp_path / "w.pt", other)
    assert torch.equal(model.weight, other.weight)
    assert not list(tmp_path.glob(".*tmp*")), "no temporary file is left behind"


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_pickled_objects_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"model": _Payload()}, path)
    with pytest.raises(CheckpointError, match="refused"):
        load_weights(path, torch.nn.Linear(3, 2))
    assert "pwned" not in capsys.readouterr().out
    path.write_bytes(pickle.dumps({"x": _Payload()}))
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_truncated_or_mismatched_files_are_explained(tmp_path: Path) -> None:
    save_weights(tmp_path / "w.pt", torch.nn.Linear(3, 2))
    data = (tmp_path / "w.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="unreadable or truncated"):
        load_weights(tmp_path / "cut.pt", torch.nn.Linear(3, 2))
    with pytest.raises(CheckpointError, match="do not fit the configured network"):
        load_weights(tmp_path / "w.pt", torch.nn.Linear(4, 2))


def test_checkpoint_of_other_settings_is_refused(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "last.pt", {"epoch": 3, "config_sha256": "aaa", "history": []})
    assert load_checkpoint(tmp_path / "last.pt", "aaa")["epoch"] == 3
    with pytest.raises(CheckpointError, match="different settings"):
        load_checkpoint(tmp_path / "last.pt", "bbb")
