"""What a study run folder holds: every part the report can show, each optional.

Layout (DEVELOPERS.md, "Study run folder"): ``cohort/``, ``validate/``, ``segment/``,
``extract/``, ``robustness/``, ``train/``, ``deep/<model>/``, ``evaluate/``, ``explain/``.
A missing part is recorded as a note and its section is left out; a part that exists but
cannot be read is an error naming the file.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from radiopipe.contracts import PROVENANCE, RESOLVED_CONFIG, EvaluateLayout, RunLayout, StageName
from radiopipe.errors import RadiopipeError

log = logging.getLogger(__name__)

RESOLVED = RESOLVED_CONFIG
EVALUATE_TABLES = tuple(EvaluateLayout.FILES[name] for name in EvaluateLayout.TABLES)
TRAIN_TABLES = {  # RunContents.train key: TrainLayout file
    "funnel": "funnel",
    "selected": "selected_features",
    "stability": "selection_stability",
    "folds": "folds",
    "tuning": "tuning",
    **{  # the clinical section's tables (clinical.covariates; radscore whenever LASSO runs)
        name: name
        for name in (
            "radscore",
            "radscore_tests",
            "radscore_formula",
            "clinical_univariable",
            "clinical_multivariable",
            "combined_coefficients",
            "nomogram_points",
            "nomogram_total",
        )
    },
    "cv_repeats": "cv_repeats",
}


def read_table(path: Path, **kwargs: Any) -> pd.DataFrame:
    """A CSV or Parquet table; an unreadable file is an error naming it."""
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, **kwargs)
    except Exception as err:  # pandas and pyarrow raise many kinds
        raise RadiopipeError(f"{path}: cannot read this table ({err})") from None


def read_mapping(path: Path) -> dict[str, Any]:
    """A JSON or YAML mapping; an unreadable file is an error naming it."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as err:
        raise RadiopipeError(f"{path}: cannot read this file ({err})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RadiopipeError(f"{path}: expected a mapping, found {type(data).__name__}")
    return data


@dataclass
class RunContents:
    """The readable parts of a run folder (None or empty where absent) and notes on gaps."""

    root: Path
    notes: dict[str, str] = field(default_factory=dict)
    manifest: pd.DataFrame | None = None
    covariates: list[str] = field(default_factory=list)
    sequences: list[str] = field(default_factory=list)
    problems: pd.DataFrame | None = None
    segmentation: dict[str, Any] = field(default_factory=dict)
    features_path: Path | None = None
    features_meta: dict[str, str] = field(default_factory=dict)
    extraction: dict[str, Any] = field(default_factory=dict)
    icc: pd.DataFrame | None = None
    icc_patients: int | None = None  # patients with every rating (the ICC's sample)
    train: dict[str, Any] = field(default_factory=dict)
    evaluate: dict[str, pd.DataFrame] = field(default_factory=dict)
    explain_dir: Path | None = None
    deep: dict[str, dict[str, Any]] = field(default_factory=dict)
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The run's name (its folder name)."""
        return self.root.resolve().name

    def path(self, *parts: str) -> Path:
        """A path inside the run folder."""
        return self.root.joinpath(*parts)

    @property
    def layout(self) -> RunLayout:
        """The run's file layout (``radiopipe.contracts``)."""
        return RunLayout(self.root)


def load_run(root: str | Path) -> RunContents:
    """Read every part of a study run folder that exists."""
    root = Path(root)
    if not root.is_dir():
        raise RadiopipeError(f"{root}: run folder does not exist")
    run = RunContents(root)
    for loader in (
        _cohort,
        _validate,
        _segment,
        _extract,
        _robustness,
        _train,
        _deep,
        _evaluate,
        _explain,
        _records,
    ):
        loader(run)
    if not any((run.manifest is not None, run.evaluate, run.train, run.features_path)):
        raise RadiopipeError(
            f"{root}: no cohort/, extract/, train/ or evaluate/ folder; is this a study run "
            "folder (see DEVELOPERS.md, 'Study run folder')?"
        )
    return run


def _cohort(run: RunContents) -> None:
    path = run.layout.cohort.manifest
    if not path.is_file():
        run.notes["cohort"] = f"no cohort manifest ({path.relative_to(run.root)})"
        return
    from radiopipe.cohort.manifest import read_manifest

    cohort = read_manifest(path)
    run.manifest = cohort.table.copy()
    run.covariates = list(cohort.covariates)
    run.sequences = list(cohort.sequences)


def _validate(run: RunContents) -> None:
    path = run.layout.validate.problems
    if path.is_file():
        run.problems = read_table(path, dtype=str, keep_default_na=False)


def _segment(run: RunContents) -> None:
    layout = run.layout.segment
    if not layout.folder.is_dir():
        run.notes["segmentation"] = "no segment/ folder: masks were given with the cohort"
        return
    evaluation = layout.evaluation
    found: dict[str, Any] = {}
    for key in ("metrics", "summary"):
        if getattr(layout, key).is_file():
            found[key] = read_table(getattr(layout, key), dtype={"patient_id": str, "split": str})
    if layout.qc.is_file():
        found["qc"] = read_table(layout.qc, dtype={"patient_id": str}, keep_default_na=False)
    found["overlays"] = sorted(evaluation.glob("overlays_*.png")) if evaluation.is_dir() else []
    for path in (layout.resolved_config, layout.model_config):
        if path.is_file():
            found["config"] = read_mapping(path)
            break
    if "metrics" not in found and "summary" not in found:
        run.notes["segmentation"] = "segment/evaluation/ holds no Dice/HD95 tables"
    run.segmentation = found


def _extract(run: RunContents) -> None:
    layout = run.layout.extract
    path = layout.features
    if not path.is_file():
        run.notes["features"] = "no extract/features.parquet"
        return
    from radiopipe.atomic import read_parquet_metadata

    run.features_path = path
    try:
        run.features_meta = read_parquet_metadata(path)
    except Exception as err:
        raise RadiopipeError(f"{path}: not a readable Parquet file ({err})") from None
    if layout.summary.is_file():
        run.extraction = read_mapping(layout.summary)
    failures = layout.failures
    if failures.is_file():
        run.extraction["failures_table"] = read_table(failures, dtype=str, keep_default_na=False)


def _robustness(run: RunContents) -> None:
    path = run.layout.robustness.icc
    if path.is_file():
        run.icc = read_table(path)
        if "n_patients" in run.icc and len(run.icc):
            run.icc_patients = int(run.icc["n_patients"].max())
    else:
        run.notes["icc"] = "no robustness/icc.parquet (feature robustness not assessed)"


def _train(run: RunContents) -> None:
    layout = run.layout.train
    if not layout.folder.is_dir():
        run.notes[StageName.TRAIN] = "no train/ folder"
        return
    for key, name in TRAIN_TABLES.items():
        if getattr(layout, name).is_file():
            run.train[key] = read_table(getattr(layout, name))
    if layout.thresholds.is_file():
        run.train["thresholds"] = read_mapping(layout.thresholds)
    if layout.model.is_file():  # the JSON card only: nothing unpickled
        run.train["card"] = read_mapping(layout.model)
    separability = layout.existing("harmonisation")  # harmonization.csv: older runs
    if separability is None:
        run.notes["harmonisation"] = (
            "no train/harmonisation.csv: the train stage of this run wrote no harmonisation "
            "diagnostics (re-run train)"
        )
    else:
        run.train["harmonisation"] = read_table(
            separability, dtype={"features": str}, float_precision="round_trip"
        )
    if layout.harmonisation_pca.is_file():
        run.train["harmonisation_pca"] = read_table(
            layout.harmonisation_pca,
            dtype={"patient_id": str, "site": str},
            float_precision="round_trip",
        )


def _deep(run: RunContents) -> None:
    folder = run.layout.deep.folder
    if not folder.is_dir():
        run.notes["deep"] = "no deep/ folder: no end-to-end CNN or ViT models in this run"
        return
    for model in sorted(p for p in folder.iterdir() if p.is_dir()):
        entry: dict[str, Any] = {"folder": model}
        files = run.layout.deep.model(model.name)
        if files.explanations_index.is_file():
            entry["index"] = read_table(
                files.explanations_index, dtype={"patient_id": str, "split": str}
            )
        if files.resolved_config.is_file():
            entry["config"] = read_mapping(files.resolved_config)
        run.deep[model.name] = entry


def _evaluate(run: RunContents) -> None:
    layout = run.layout.evaluate
    folder = layout.folder
    if not folder.is_dir():
        run.notes["evaluate"] = "no evaluate/ folder: run `radiopipe evaluate`"
        return
    cohort_table = layout.cohort_table.name
    exact = {layout.best_comparisons.name}  # stated as the evaluate stage computed them
    for name in EVALUATE_TABLES:
        if (folder / name).is_file():
            options = {"float_precision": "round_trip"} if name in exact else {}
            run.evaluate[name] = read_table(
                folder / name, keep_default_na=name != cohort_table, **options
            )
    if layout.performance.name not in run.evaluate:
        run.notes["evaluate"] = "evaluate/ holds no performance.csv"


def _explain(run: RunContents) -> None:
    layout = run.layout.explain
    if layout.summary.is_file():
        run.explain_dir = layout.folder
    else:
        run.notes["explain"] = "no explain/explain.json: SHAP values were not computed"


def _records(run: RunContents) -> None:
    """Resolved settings and provenance of the run and of every stage folder."""
    for stage, folder in [("run", run.root), *[(p.name, p) for p in _stage_folders(run.root)]]:
        if (folder / RESOLVED).is_file():
            run.configs[stage] = read_mapping(folder / RESOLVED)
        if (folder / PROVENANCE).is_file():
            run.provenance[stage] = read_mapping(folder / PROVENANCE)


def _stage_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
