from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
import yaml

from radiopipe.config import StrictModel, config_hash, load_config, save_resolved
from radiopipe.errors import ConfigError


class Harmonisation(StrictModel):
    enabled: bool = True
    method: Literal["parametric", "nonparametric"] = "parametric"


class Settings(StrictModel):
    seed: int = 0
    alpha: float = 0.05
    combat: Harmonisation = Harmonisation()


def write(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def test_defaults_fill_in_and_resolved_copy_is_saved(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path / "c.yaml", {"alpha": 0.01}), Settings)
    assert cfg.alpha == 0.01 and cfg.combat.method == "parametric"
    save_resolved(cfg, tmp_path / "resolved.yaml")
    resolved = yaml.safe_load((tmp_path / "resolved.yaml").read_text(encoding="utf-8"))
    assert resolved == {
        "seed": 0,
        "alpha": 0.01,
        "combat": {"enabled": True, "method": "parametric"},
    }
    assert load_config(tmp_path / "resolved.yaml", Settings) == cfg


def test_unknown_key_names_key_file_and_allowed_keys(tmp_path: Path) -> None:
    path = write(tmp_path / "c.yaml", {"combat": {"methd": "parametric"}})
    with pytest.raises(ConfigError) as err:
        load_config(path, Settings)
    text = str(err.value)
    assert "unknown key 'combat.methd'" in text and str(path) in text
    assert "allowed keys here: enabled, method" in text


def test_top_level_unknown_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="allowed keys here: seed, alpha, combat"):
        load_config(write(tmp_path / "c.yaml", {"sead": 1}), Settings)


def test_wrong_type_and_wrong_choice_all_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "c.yaml", {"seed": "abc", "combat": {"method": "bayes"}})
    with pytest.raises(ConfigError) as err:
        load_config(path, Settings)
    text = str(err.value)
    assert "2 invalid setting(s)" in text
    assert "key 'seed'" in text and "'abc'" in text
    assert "key 'combat.method'" in text and "'parametric' or 'nonparametric'" in text


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "none.yaml", Settings)
    (tmp_path / "bad.yaml").write_text("seed: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "bad.yaml", Settings)
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(tmp_path / "list.yaml", Settings)


def test_config_hash_is_stable_and_sensitive() -> None:
    assert config_hash(Settings()) == config_hash(Settings())
    assert config_hash(Settings()) != config_hash(Settings(alpha=0.1))


def test_a_retired_setting_is_read_dropped_and_named_in_a_warning(caplog) -> None:
    """Old configuration files keep loading: a retired key is dropped with a warning; an
    unknown key is still an error."""
    import pytest as _pytest
    from pydantic import ValidationError

    from radiopipe.config.report import ReportConfig

    with caplog.at_level("WARNING", logger="radiopipe.config.core"):
        config = ReportConfig.model_validate({"primary_splits": ["external_test"]})
    assert "primary_splits" not in config.model_dump()
    assert "'primary_splits' is retired" in caplog.text
    with _pytest.raises(ValidationError):
        ReportConfig.model_validate({"primary_split": ["external_test"]})
