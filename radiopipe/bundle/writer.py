"""Write a bundle: everything needed to score new patients from their images, checksummed.

Layout (:class:`radiopipe.contracts.BundleLayout`)::

    bundle.json                 format, sequences, settings hashes, unseen-site rule, parts
    model_card.json / .md       versions, data summary, intended use, metrics on each test set
    model/                      the fitted pipelines (skops, allow-listed types) and model.json
    thresholds.json             the frozen thresholds (max Youden on training OOF predictions)
    extraction/params.yaml      the pyradiomics parameter file the features were extracted with
    extraction/features.json    the sequences, the feature list in model order, the settings hash
    preprocess/settings.yaml    the preprocessing settings (when the run preprocessed)
    segmentation/               the V-Net: config, card, weights as .npz arrays (when it segmented)
    combat/parameters.csv       ComBat location/scale per training site and feature
    explain/background.parquet  SHAP background: training patients in the selected feature space
    performance.csv             evaluate's table (when the run evaluated)
    checksums.sha256            SHA-256 of every file above

Nothing is pickled: tables are CSV/Parquet/JSON/YAML, pipelines skops, weights ``.npz``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radiopipe import __version__
from radiopipe.atomic import read_parquet_metadata, write_csv, write_json, write_parquet, write_text
from radiopipe.bundle.card import card_markdown, model_card
from radiopipe.bundle.checksums import CHECKSUMS, BundleError, write_checksums
from radiopipe.bundle.sources import BundleSources
from radiopipe.contracts import BundleLayout
from radiopipe.features.assemble import (
    META_PARAMS,
    META_PYRADIOMICS,
    META_SEQUENCES,
    META_SETTINGS_HASH,
)
from radiopipe.hashing import settings_hash

log = logging.getLogger(__name__)

FORMAT = "radiopipe-bundle"
FORMAT_VERSION = 1
BACKGROUND_SIZE = 50
BACKGROUND_SEED = 0


def write_bundle(sources: BundleSources, out: str | Path) -> Path:
    """Write the bundle of a finished run into ``out`` (replaced as a whole when complete)."""
    from radiopipe.modeling.persistence import load_model

    out = Path(out)
    partial = out.with_name(f".{out.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    layout = BundleLayout(partial)
    model = load_model(sources.model_dir)  # format, versions, hashes, allow-listed types
    _copy_model(sources.model_dir, model.card, layout.model_dir)
    shutil.copyfile(sources.thresholds, layout.thresholds)
    extraction = _extraction(sources.features, model.features, layout)
    preprocess = _preprocess(sources.preprocess, layout)
    if sources.segmentation is not None:
        from radiopipe.bundle.vnet import export_vnet

        export_vnet(sources.segmentation, layout.segmentation)
    unseen = _combat(model, layout.combat)
    _background(sources, model, layout.shap_background)
    if sources.performance is not None:
        shutil.copyfile(sources.performance, layout.performance)
    parts = {
        "sequences": extraction["sequences"],
        "n_features": len(model.features),
        "settings_sha256": extraction["settings_sha256"],
        "preprocess": preprocess is not None,
        "segmentation": sources.segmentation is not None,
        "unseen_site": unseen,
    }
    card = model_card(sources.name, model.card, sources.manifest, sources.performance, parts)
    write_json(layout.model_card, card)
    write_text(layout.model_card_md, card_markdown(card))
    write_json(layout.card, {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": sources.name,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "radiopipe_version": __version__,
        "run": str(sources.run.resolve()),
        **parts,
        "pyradiomics_version": extraction["pyradiomics_version"],
        "preprocess_sha256": preprocess,
        "reference_model": "stack",
        "models": list(model.card["models"]),
        "training_sites": list(model.card.get("training_sites", [])),
        "has_sites": bool(model.card.get("has_sites")),
        "covariates": list(model.card.get("covariates", [])),
        "fusion_model": model.card.get("fusion_model"),
        "shap_background": layout.shap_background.is_file(),
    })  # fmt: skip
    write_checksums(partial)
    _replace(partial, out)
    log.info("bundle written to %s", out)
    return out


def _replace(partial: Path, out: Path) -> None:
    """Move the finished bundle into ``out``; an earlier bundle there is removed first, the
    stage's record files (provenance, log) are kept."""
    from radiopipe.bundle.checksums import RECORD_FILES

    out.mkdir(parents=True, exist_ok=True)
    for entry in out.iterdir():
        if entry.name in RECORD_FILES:
            continue
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    for entry in sorted(partial.iterdir(), key=lambda p: p.name == CHECKSUMS):
        entry.rename(out / entry.name)  # the checksum file last
    partial.rmdir()


def _copy_model(source: Path, card: dict[str, Any], target: Path) -> None:
    """model.json, config.yaml and the skops files the card lists (nothing else of train/)."""
    target.mkdir(parents=True)
    names = ["model.json", "config.yaml", *(e["file"] for e in card["files"].values())]
    for name in names:
        shutil.copyfile(source / name, target / name)


def _extraction(features: Path, order: list[str], layout: BundleLayout) -> dict[str, Any]:
    """The pyradiomics parameters as recorded in the feature table, checked against its hash."""
    meta = read_parquet_metadata(features)
    missing = [k for k in (META_PARAMS, META_SETTINGS_HASH, META_SEQUENCES) if k not in meta]
    if missing:
        raise BundleError(
            f"{features}: the feature table records no {', '.join(missing)}; extract the "
            "features again with this radiopipe so the bundle knows how they were made"
        )
    params = json.loads(meta[META_PARAMS])
    from radiopipe.features.params import settings_hash as params_hash

    if params_hash(params) != meta[META_SETTINGS_HASH]:
        raise BundleError(
            f"{features}: its pyradiomics parameters do not give the settings hash recorded "
            f"with it (pyradiomics {meta.get(META_PYRADIOMICS)} then, another now); install "
            "that pyradiomics version or extract the features again"
        )
    import yaml

    write_text(layout.params, yaml.safe_dump(params, sort_keys=False))
    summary = {
        "sequences": json.loads(meta[META_SEQUENCES]),
        "features": list(order),
        "settings_sha256": meta[META_SETTINGS_HASH],
        "pyradiomics_version": meta.get(META_PYRADIOMICS),
    }
    write_json(layout.features, summary)
    return summary


def _preprocess(resolved: Path | None, layout: BundleLayout) -> str | None:
    """The preprocessing settings (validated), and their hash; None when the run had none."""
    if resolved is None:
        return None
    from radiopipe.config import load_config
    from radiopipe.config.preprocess import PreprocessSettings

    settings = load_config(resolved, PreprocessSettings)
    import yaml

    write_text(layout.preprocess, yaml.safe_dump(settings.model_dump(mode="json"), sort_keys=False))
    return settings_hash(settings)


def _combat(model, target: Path) -> dict[str, Any]:
    """ComBat's per-site location (gamma) and scale (delta) per feature; the unseen-site rule."""
    step = getattr(model.pipelines["stack"], "named_steps", {}).get("harmonise")
    if step is None or not hasattr(step, "sites_"):
        return {"rule": None, "min_site_size": None, "note": "no ComBat step"}
    names = np.asarray(step.feature_names_in_, dtype=object)[np.asarray(step.harmonized_, bool)]
    frames = [
        pd.DataFrame({
            "site": str(site), "feature": names, "gamma": step.gamma_[i], "delta": step.delta_[i],
            "grand_mean": step.grand_mean_, "var_pooled": step.var_pooled_,
        })
        for i, site in enumerate(step.sites_)
    ]  # fmt: skip
    write_csv(target, pd.concat(frames, ignore_index=True), index=False)
    return {"rule": step.unseen_site, "min_site_size": int(step.min_site_size)}


def _background(sources: BundleSources, model, target: Path) -> None:
    """A seeded sample of training patients in the stack's selected feature space (no IDs)."""
    if sources.manifest is None and model.card.get("has_sites"):
        log.warning("bundle: no manifest in the run; no SHAP background written")
        return
    from radiopipe.explain.targets import selected_space, split_pipeline
    from radiopipe.modeling.columns import meta_columns
    from radiopipe.modeling.tables import load_model_data
    from radiopipe.modeling.validation import development_patients

    card = model.card
    data = load_model_data(
        sources.features, sources.manifest, card["covariates"], require_labels=False,
        batch=card.get("batch", "site"),
    )  # fmt: skip
    development = development_patients(data.splits, card["design"])
    rng = np.random.default_rng(BACKGROUND_SEED)
    size = min(BACKGROUND_SIZE, len(development))
    chosen = sorted(rng.choice(np.asarray(development, dtype=object), size, replace=False))
    X = data.X.loc[chosen, model.features + meta_columns(data.X)]
    front, _ = split_pipeline(model.pipelines["stack"])
    Z = selected_space(front, X).reset_index(drop=True)
    write_parquet(target, Z)
