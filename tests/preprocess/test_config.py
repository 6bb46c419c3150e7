from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import yaml

from radiopipe.config import load_config
from radiopipe.config.preprocess import PreprocessSettings, RegisterSettings
from radiopipe.errors import ConfigError
from radiopipe.preprocess import register_rigid

REPO = Path(__file__).resolve().parents[2]


def test_default_yaml_is_the_model_default() -> None:
    loaded = load_config(REPO / "configs" / "preprocess" / "default.yaml", PreprocessSettings)
    assert loaded == PreprocessSettings()
    assert loaded.resample.interpolator == "bspline" and loaded.register is None


def test_register_settings_feed_register_rigid_exactly() -> None:
    kwargs = RegisterSettings(moving="cet1w", fixed="t2w").optimiser_kwargs()
    parameters = inspect.signature(register_rigid).parameters
    assert set(kwargs) <= set(parameters)
    for name, value in kwargs.items():  # same defaults in the YAML model and the function
        default = parameters[name].default
        assert (list(default) if isinstance(default, tuple) else default) == value, name


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"register": {"moving": "t2w", "fixed": "t2w"}}, "name two sequences"),
        ({"register": {"moving": "cet1w"}}, "missing required key 'register.fixed'"),
        ({"register": {"moving": "a", "fixed": "b", "sampling": 1}}, "allowed keys here: moving"),
        ({"bias_correction": {"control_points": 3}}, "must exceed spline_order"),
        ({"normalise": {"percentiles": [99, 1]}}, "0 <= low < high <= 100"),
        ({"normalise": {"method": "minmax"}}, "'zscore', 'percentile' or 'none'"),
        ({"resample": {"spacing": [1.0, -1.0, 1.0]}}, "resample.spacing.1"),
        ({"resample": {"interpolator": "nearest"}}, "'bspline' or 'linear'"),
    ],
)
def test_invalid_settings_name_the_key(tmp_path: Path, data: dict, message: str) -> None:
    path = tmp_path / "preprocess.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as err:
        load_config(path, PreprocessSettings)
    assert message in str(err.value) and str(path) in str(err.value)


def test_in_plane_only_spacing_is_allowed() -> None:
    settings = PreprocessSettings.model_validate({"resample": {"spacing": [0.8, 0.8, None]}})
    assert settings.resample.spacing == (0.8, 0.8, None)
