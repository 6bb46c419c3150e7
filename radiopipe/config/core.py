"""Load YAML into pydantic models with errors that name the key, the file and allowed values."""

from __future__ import annotations

import logging
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from radiopipe.atomic import write_yaml
from radiopipe.errors import ConfigError
from radiopipe.hashing import settings_hash

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for settings: unknown keys are errors, values are validated on assignment.

    A key listed for the model in :data:`radiopipe.config.retired.RETIRED` is read and dropped
    with a warning (old configuration files keep working).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())

    @model_validator(mode="before")
    @classmethod
    def _drop_retired(cls, data: Any) -> Any:
        from radiopipe.config.retired import RETIRED

        retired = RETIRED.get(cls.__name__, {})
        if isinstance(data, dict) and retired.keys() & data.keys():
            for key in sorted(retired.keys() & data.keys()):
                log.warning("setting %r is retired and ignored: %s", key, retired[key])
            data = {k: v for k, v in data.items() if k not in retired}
        return data


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; a missing file, a syntax error or a non-mapping is a ConfigError."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of keys, got {type(data).__name__}")
    return data


def load_config(path: str | Path, model: type[M]) -> M:
    """Read ``path`` and validate it as ``model``."""
    return parse_config(read_yaml(path), model, source=str(path))


def parse_config(data: dict[str, Any], model: type[M], source: str = "<config>") -> M:
    """Validate a mapping as ``model``; every problem is reported, each with key and file."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        lines = [_describe(e, model, source) for e in err.errors()]
        raise ConfigError(
            f"{source}: {len(lines)} invalid setting(s):\n" + "\n".join(f"  - {ln}" for ln in lines)
        ) from None


def save_resolved(config: BaseModel, path: str | Path) -> Path:
    """Save the fully resolved settings (defaults filled in) as YAML, atomically."""
    return write_yaml(path, config.model_dump(mode="json"))


def config_hash(config: BaseModel | dict[str, Any]) -> str:
    """A stable SHA-256 of settings, for cache keys and stage skipping."""
    return settings_hash(config)


def _describe(error: dict[str, Any], model: type[BaseModel], source: str) -> str:
    loc = [p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
    key = ".".join(str(p) for p in loc) or "<top level>"
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        hint = f"; allowed keys here: {', '.join(allowed)}" if allowed else ""
        return f"unknown key '{key}' in {source}{hint}"
    if kind == "missing":
        return f"missing required key '{key}' in {source}"
    msg = error["msg"]
    if kind in ("literal_error", "enum"):
        expected = error.get("ctx", {}).get("expected")
        got = error.get("input")
        return f"key '{key}' in {source}: {got!r} is not allowed; allowed values: {expected}"
    return f"key '{key}' in {source}: {msg} (got {error.get('input')!r})"


def _allowed_keys(model: type[BaseModel], loc: list[Any]) -> list[str]:
    """Field names of the (sub)model at ``loc``; empty if it cannot be resolved."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        current = _submodel(current, part)
        if current is None:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _submodel(model: Any, name: str) -> Any:
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return None
    field = model.model_fields.get(name)
    if field is None:
        return None
    return _first_model(field.annotation)


def _first_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _first_model(arg)
        if found is not None:
            return found
    return None
