"""Typed settings for every stage; YAML in, validated, resolved copy saved with each run."""

from radiopipe.config.core import (
    StrictModel,
    config_hash,
    load_config,
    parse_config,
    read_yaml,
    save_resolved,
)

__all__ = [
    "StrictModel",
    "config_hash",
    "load_config",
    "parse_config",
    "read_yaml",
    "save_resolved",
]
