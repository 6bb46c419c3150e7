"""pyradiomics parameter files: load, validate with pyradiomics' own schema, hash.

Any file that ``pyradiomics`` itself accepts (YAML or JSON with ``imageType``, ``featureClass``,
``setting``, ``voxelSetting``) is accepted here; validation uses the pykwalify schema shipped
with pyradiomics, so a file that passes here passes there, and errors name the file and key.
"""

from __future__ import annotations

import copy
import difflib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from radiopipe.errors import ConfigError
from radiopipe.hashing import json_sha256

TOP_LEVEL_KEYS = ("imageType", "featureClass", "setting", "voxelSetting")
logger = logging.getLogger(__name__)
_UNKNOWN_KEY = re.compile(r"Key '(?P<key>[^']+)' was not defined\. Path: '(?P<path>[^']*)'")


def pyradiomics_version() -> str:
    """The installed pyradiomics version (part of every cache key and settings hash)."""
    import radiomics

    return str(radiomics.__version__)


@dataclass(frozen=True)
class ExtractionParams:
    """A validated pyradiomics parameter mapping and where it came from."""

    data: dict[str, Any]
    source: str = "<parameters>"
    _sha256: str = field(default="", repr=False, compare=False)

    @property
    def settings(self) -> dict[str, Any]:
        """General settings (``setting`` merged with ``voxelSetting``), as given in the file."""
        merged = dict(self.data.get("setting") or {})
        merged.update(self.data.get("voxelSetting") or {})
        return merged

    @property
    def image_types(self) -> dict[str, dict[str, Any]]:
        """Enabled image types and their custom settings (pyradiomics default: Original)."""
        types = self.data.get("imageType") or {}
        return {k: dict(v or {}) for k, v in types.items()} or {"Original": {}}

    @property
    def feature_classes(self) -> dict[str, list[str] | None]:
        """Enabled feature classes, each with its feature list (None: all features)."""
        classes = self.data.get("featureClass") or {}
        if not classes:
            from radiomics import getFeatureClasses

            return {name: None for name in getFeatureClasses()}
        return {k: (list(v) if v else None) for k, v in classes.items()}

    @property
    def label(self) -> int:
        """The mask label that pyradiomics extracts (setting ``label``, default 1)."""
        return int(self.settings.get("label", 1))

    @property
    def sha256(self) -> str:
        """Hash of the parameters and the pyradiomics version: the settings hash."""
        return self._sha256 or settings_hash(self.data)

    def as_dict(self) -> dict[str, Any]:
        """A deep copy of the parameter mapping (what pyradiomics' extractor takes)."""
        return copy.deepcopy(self.data)

    def to_yaml(self) -> str:
        """The parameters as a pyradiomics YAML parameter file."""
        return yaml.safe_dump(self.data, sort_keys=False)


def settings_hash(data: dict[str, Any]) -> str:
    """SHA-256 of a parameter mapping together with the pyradiomics version."""
    return json_sha256({"pyradiomics": pyradiomics_version(), "params": data})


def load_params(path: str | Path) -> ExtractionParams:
    """Read and validate a pyradiomics parameter file (YAML or JSON)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: parameter file does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: not a readable parameter file: {err}") from None
    return validate_params(data if data is not None else {}, source=str(path))


def validate_params(data: Any, source: str = "<parameters>") -> ExtractionParams:
    """Validate a parameter mapping with pyradiomics' schema; every problem is reported."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: a pyradiomics parameter file is a mapping with keys "
            f"{', '.join(TOP_LEVEL_KEYS)}; got {type(data).__name__}"
        )
    problems = _schema_problems(data)
    problems += _extra_problems(data) if not problems else []
    if problems:
        raise ConfigError(
            f"{source}: {len(problems)} problem(s) in the pyradiomics parameter file:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
    _warn_questionable(data, source)
    data = copy.deepcopy(data)
    return ExtractionParams(data, source, settings_hash(data))


def _schema_problems(data: dict[str, Any]) -> list[str]:
    import pykwalify.core
    from radiomics import getParameterValidationFiles

    schema_file, schema_funcs = getParameterValidationFiles()
    quiet = [logging.getLogger(n) for n in ("pykwalify", "pykwalify.core", "pykwalify.rule")]
    levels = [lg.level for lg in quiet]
    for lg in quiet:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        core = pykwalify.core.Core(
            source_data=copy.deepcopy(data), schema_files=[schema_file], extensions=[schema_funcs]
        )
        core.validate(raise_exception=False)
        errors = [str(e) for e in (core.validation_errors or [])]
    except (ValueError, TypeError) as err:  # raised by pyradiomics' schema functions
        errors = [str(err)]
    finally:
        for lg, level in zip(quiet, levels, strict=True):
            lg.setLevel(level)
    return [_with_hint(e) for e in errors]


def _with_hint(error: str) -> str:
    match = _UNKNOWN_KEY.search(error)
    if not match:
        return error
    key, path = match["key"], match["path"].strip("/")
    allowed = _allowed_keys(path)
    close = difflib.get_close_matches(key, allowed, n=1)
    where = f"'{path}'" if path else "the top level"
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown key '{key}' in {where}{hint}"


def _allowed_keys(path: str) -> list[str]:
    from radiomics import getParameterValidationFiles

    schema = yaml.safe_load(Path(getParameterValidationFiles()[0]).read_text(encoding="utf-8"))
    if not path:
        return list(schema["mapping"])
    section = schema["mapping"].get(path.split("/")[0], {})
    if path.startswith("imageType/"):
        section = schema["mapping"]["setting"]
    return list(section.get("mapping", {}))


def _extra_problems(data: dict[str, Any]) -> list[str]:
    """Errors pyradiomics would only raise mid-extraction (so every case of a batch fails late)."""
    settings = dict(data.get("setting") or {})
    spacing = settings.get("resampledPixelSpacing")
    if spacing is not None and len(spacing) != 3:
        return [f"setting.resampledPixelSpacing must hold 3 values (x, y, z in mm), got {spacing}"]
    return []


def _warn_questionable(data: dict[str, Any], source: str) -> None:
    """Log settings that pyradiomics accepts but that are probably not what the user meant."""
    settings = dict(data.get("setting") or {})
    log_args = (data.get("imageType") or {}).get("LoG", None)
    if "LoG" in (data.get("imageType") or {}) and not (log_args or {}).get(
        "sigma", settings.get("sigma")
    ):
        logger.warning("%s: LoG is enabled without sigma values; it yields no features", source)
    if "binWidth" in settings and "binCount" in settings:
        logger.warning("%s: both binWidth and binCount are set; pyradiomics uses binCount", source)
