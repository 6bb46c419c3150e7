"""What a bundle is made of, found in a study run folder (``runs/<name>/``).

The pipeline's bundle stage and ``radiopipe export --run`` both read a finished run through
:class:`radiopipe.contracts.RunLayout`; nothing here computes, it only locates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from radiopipe.contracts import RunLayout
from radiopipe.errors import RadiopipeError
from radiopipe.segment.model_folder import CARD_FILE as SEGMENTATION_CARD


@dataclass(frozen=True)
class BundleSources:
    """The run's files that go into a bundle (optional parts None when the run lacks them)."""

    run: Path
    model_dir: Path  # train/model: model.json, skops pipelines, config.yaml
    thresholds: Path  # train/thresholds.json
    features: Path  # extract/features.parquet (its metadata holds the pyradiomics params)
    manifest: Path | None  # the manifest extraction read (data summary, SHAP background)
    performance: Path | None = None  # evaluate/performance.csv
    preprocess: Path | None = None  # preprocess/config.resolved.yaml
    segmentation: Path | None = None  # a trained V-Net model folder

    @property
    def name(self) -> str:
        """The run's name (its folder)."""
        return self.run.name


def sources_from_run(run: str | Path) -> BundleSources:
    """Locate the parts of a bundle in a finished study run; an error names what is missing."""
    run = Path(run)
    layout = RunLayout(run)
    required = {
        "train/model/model.json": layout.train.model,
        "train/thresholds.json": layout.train.thresholds,
        "extract/features.parquet": layout.extract.features,
    }
    missing = [name for name, path in required.items() if not path.is_file()]
    if missing:
        raise RadiopipeError(
            f"{run}: not a finished study run; missing {', '.join(missing)} (run the study "
            "with `radiopipe run` first)"
        )
    manifest = next(
        (
            stage.manifest
            for stage in (layout.segment, layout.preprocess, layout.cohort)
            if stage.manifest.is_file()
        ),
        None,
    )
    performance = layout.evaluate.performance
    preprocess = layout.preprocess.resolved_config
    return BundleSources(
        run=run,
        model_dir=layout.train.model_dir,
        thresholds=layout.train.thresholds,
        features=layout.extract.features,
        manifest=manifest,
        performance=performance if performance.is_file() else None,
        preprocess=preprocess if layout.preprocess.manifest.is_file() else None,
        segmentation=_segmentation_model(layout),
    )


def _segmentation_model(layout: RunLayout) -> Path | None:
    """The V-Net the run segmented with: trained in the run, or the folder its settings name."""
    if not layout.segment.manifest.is_file():
        return None
    trained = layout.segment.path("model")
    if (trained / SEGMENTATION_CARD).is_file():
        return trained
    config = layout.segment.resolved_config
    named = (
        (yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("model")
        if config.is_file()
        else None
    )
    if named and (Path(named) / SEGMENTATION_CARD).is_file():
        return Path(named)
    raise RadiopipeError(
        f"{layout.segment.folder}: the run segmented its patients, but the V-Net it used is "
        "not found (neither segment/model/ nor the folder named by its settings); the bundle "
        "could not segment new patients"
    )
