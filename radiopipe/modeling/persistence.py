"""The model artefact: fitted pipelines in skops files, and a JSON card with everything else.

Folder layout::

    model/
      model.json         format version, package versions, features, sites, covariates,
                         thresholds, models, file hashes
      config.yaml        the resolved modelling settings
      stack.skops        the radiomics pipeline (base learners, stack[, stack_fusion])
      lasso_lr.skops     the LASSO baseline pipeline (when trained)
      radscore.skops     the rad-score's own pipeline (clinical covariates, a stack without
                         LASSO); the clinical and combined models are coefficients and the
                         covariate coding in the card (``clinical_model``)

Loading never unpickles: skops rebuilds objects only of the types on :data:`TRUSTED_TYPES`
(an explicit allow-list) and refuses a file that holds any other type. A model written by
another artefact format, or with other major.minor versions of the packages whose objects it
stores, is refused with a message saying what to install or to retrain.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radiopipe import __version__, runs
from radiopipe.atomic import atomic_path, write_json
from radiopipe.errors import RadiopipeError
from radiopipe.hashing import file_sha256

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
CARD = "model.json"
# Packages whose objects live in the skops files: their major.minor must match at load time.
PINNED_PACKAGES = ("scikit-learn", "imbalanced-learn", "lightgbm", "numpy")
RECORDED_PACKAGES = (*PINNED_PACKAGES, "skops", "neuroHarmonize", "optuna", "scipy", "pandas")

TRUSTED_TYPES = (
    "collections.OrderedDict",
    "imblearn.pipeline.Pipeline",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "radiopipe.modeling.clean.ConstantFilter",
    "radiopipe.modeling.combiners.ConvexCombiner",
    "radiopipe.modeling.clean.MedianImputer",
    "radiopipe.modeling.harmonise.ComBatHarmoniser",
    "radiopipe.modeling.harmonise.DropMeta",
    "radiopipe.modeling.harmonize.ComBatHarmonizer",  # bundles saved before the rename
    "radiopipe.modeling.harmonize.DropMeta",
    "radiopipe.modeling.lasso.LassoLogisticClassifier",
    "radiopipe.modeling.lasso.LassoSelector",
    "radiopipe.modeling.members.Member",
    "radiopipe.modeling.members.MemberAverage",
    "radiopipe.modeling.resample.MarkedSMOTE",
    "radiopipe.modeling.select.ICCFilter",
    "radiopipe.modeling.select.PearsonFilter",
    "radiopipe.modeling.select.TTestFilter",
    "radiopipe.modeling.stacking.StackingEnsemble",
    "radiopipe.modeling.tuning.TunedClassifier",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.tree._tree.Tree",
)


@dataclass
class LoadedModel:
    """Pipelines by model family (``stack``, ``lasso_lr``) and the model card."""

    pipelines: dict[str, Any]
    card: dict[str, Any]
    folder: Path

    @property
    def features(self) -> list[str]:
        """The feature columns the model expects."""
        return list(self.card["features"])


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages recorded in the card."""
    return runs.package_versions(RECORDED_PACKAGES)


def save_model(
    folder: str | Path, pipelines: dict[str, Any], card: dict[str, Any], config_yaml: str
) -> Path:
    """Write the pipelines (skops) and the card (JSON) into ``folder``; the card goes last."""
    import skops.io as sio

    from radiopipe.atomic import write_text

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, pipeline in pipelines.items():
        path = folder / f"{name}.skops"
        with atomic_path(path) as tmp:
            sio.dump(pipeline, tmp)
        untrusted = set(sio.get_untrusted_types(file=path)) - set(TRUSTED_TYPES)
        if untrusted:  # a new type must be reviewed before it joins the allow-list
            raise RuntimeError(f"model {name} holds types outside TRUSTED_TYPES: {untrusted}")
        files[name] = {"file": path.name, "sha256": file_sha256(path)}
    write_text(folder / "config.yaml", config_yaml)
    full_card = {
        "format_version": FORMAT_VERSION,
        "radiopipe_version": __version__,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "packages": package_versions(),
        "files": files,
        **card,
    }
    write_json(folder / CARD, full_card)
    return folder


def load_model(folder: str | Path) -> LoadedModel:
    """Load a model folder (or its model.json) after checking format, versions, hashes, types."""
    import skops.io as sio

    folder = Path(folder)
    if folder.name == CARD and folder.is_file():
        folder = folder.parent
    card_path = folder / CARD
    if not card_path.is_file():
        raise RadiopipeError(f"{folder}: not a radiopipe model folder (no {CARD})")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise RadiopipeError(f"{card_path}: unreadable model card ({err})") from None
    check_compatible(card, folder)
    pipelines = {}
    for name, entry in card["files"].items():
        path = folder / entry["file"]
        if not path.is_file():
            raise RadiopipeError(f"{folder}: model file {entry['file']} is missing")
        if file_sha256(path) != entry["sha256"]:
            raise RadiopipeError(
                f"{path}: file differs from the one this model was saved with (hash mismatch); "
                "refusing to load a modified model"
            )
        untrusted = sorted(set(sio.get_untrusted_types(file=path)) - set(TRUSTED_TYPES))
        if untrusted:
            raise RadiopipeError(
                f"{path}: holds object types outside radiopipe's allow-list "
                f"({', '.join(untrusted)}); refusing to load it"
            )
        pipelines[name] = sio.load(path, trusted=list(TRUSTED_TYPES))
    return LoadedModel(pipelines, card, folder)


def check_compatible(card: dict[str, Any], folder: Path) -> None:
    """Refuse a card written by another format or with other major.minor package versions."""
    version = card.get("format_version")
    if version != FORMAT_VERSION:
        raise RadiopipeError(
            f"{folder}: model artefact format {version} was written by radiopipe "
            f"{card.get('radiopipe_version')}; this radiopipe {__version__} reads format "
            f"{FORMAT_VERSION}. Retrain the model with this version."
        )
    current = package_versions()
    problems = []
    for name in PINNED_PACKAGES:
        saved, now = card.get("packages", {}).get(name), current.get(name)
        if _major_minor(saved) != _major_minor(now):
            problems.append(f"{name} {saved} (installed: {now})")
    if problems:
        raise RadiopipeError(
            f"{folder}: model was saved with {', '.join(problems)}; objects of other versions "
            "may behave differently. Install those versions or retrain the model."
        )


def _major_minor(version: str | None) -> tuple[str, ...] | None:
    return None if version is None else tuple(version.split(".")[:2])
