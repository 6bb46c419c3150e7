"""``radiopipe export-tables``: a run's features, predictions and performance as CSV and XLSX
files for colleagues working in SPSS, R or Excel.

Writes into ``OUT`` (default ``RUN/export``):

- ``features.csv``: one row per patient: ``patient_id, site, split, label, outcome`` (the
  outcome's name), the clinical covariates, then every radiomic feature (``<seq>__<name>``);
- ``predictions.csv``: one row per patient, model and split: the probability, the model's
  frozen threshold and the predicted class at it (``predicted``), the model's display name;
- ``performance.csv``: the evaluate stage's table (AUC with CIs, threshold metrics, DeLong);
- ``variables.csv``: a codebook of every feature column (sequence, image type, class, feature);
- ``tables.xlsx``: the same tables, one sheet each.

Numbers are written in full precision, missing values as empty cells, text as UTF-8.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from radiopipe.atomic import atomic_path, write_csv
from radiopipe.config.report import ReportConfig
from radiopipe.errors import RadiopipeError
from radiopipe.report.contents import load_run
from radiopipe.report.context import ReportContext

log = logging.getLogger(__name__)

FORMATS = ("csv", "xlsx")
WORKBOOK = "tables.xlsx"
EXCEL_MAX_COLUMNS, EXCEL_MAX_ROWS = 16_384, 1_048_576
COHORT_COLUMNS = ("patient_id", "site", "split", "label")


@dataclass
class Export:
    """What was written, per table and format, and what was left out and why."""

    out: Path
    files: dict[str, Path] = field(default_factory=dict)  # "features.csv" -> path
    notes: list[str] = field(default_factory=list)


def _features(ctx: ReportContext) -> pd.DataFrame | None:
    manifest = ctx.run.manifest
    features = pd.read_parquet(ctx.run.features_path) if ctx.run.features_path is not None else None
    if manifest is None and features is None:
        return None
    cohort = None
    if manifest is not None:
        columns = [c for c in (*COHORT_COLUMNS, *ctx.run.covariates) if c in manifest.columns]
        cohort = manifest.loc[:, columns].copy()
        cohort["patient_id"] = cohort["patient_id"].astype(str)
        labels = pd.to_numeric(cohort["label"], errors="coerce").astype("Int64")
        cohort["label"] = labels
        cohort.insert(4, "outcome", labels.map(ctx.label_names, na_action="ignore"))
    if features is None:
        return cohort
    features["patient_id"] = features["patient_id"].astype(str)
    if cohort is None:
        return features
    return cohort.merge(features, on="patient_id", how="left", validate="one_to_one")


def _thresholds(ctx: ReportContext) -> dict[str, float]:
    used = ctx.run.layout.evaluate.thresholds_used
    if used.is_file():
        data = json.loads(used.read_text(encoding="utf-8"))
        return {m: float(v["threshold"]) for m, v in data.items() if "threshold" in v}
    return {m: float(v) for m, v in (ctx.run.train.get("thresholds") or {}).items()}


def _predictions(ctx: ReportContext) -> pd.DataFrame | None:
    path = ctx.evaluated_predictions
    if path is None:
        return None
    table = pd.read_parquet(path)
    thresholds = _thresholds(ctx)
    table["model_name"] = table["model"].astype(str).map(ctx.model_label)
    table["threshold"] = table["model"].astype(str).map(thresholds)
    known = table["threshold"].notna()
    table["predicted"] = pd.Series(pd.NA, index=table.index, dtype="Int64")
    table.loc[known, "predicted"] = (
        table.loc[known, "probability"] >= table.loc[known, "threshold"]
    ).astype(int)
    table["outcome"] = table["label"].map(ctx.label_names, na_action="ignore")
    front = ["patient_id", "split", "fold", "model", "model_name", "probability", "threshold",
             "predicted", "label", "outcome"]  # fmt: skip
    return table.loc[:, [c for c in front if c in table] + [c for c in table if c not in front]]


def _variables(features: pd.DataFrame | None) -> pd.DataFrame | None:
    if features is None:
        return None
    from radiopipe.features.naming import feature_columns, parse_column

    rows = []
    for column in feature_columns(features.columns):
        name = parse_column(column)
        rows.append(
            {
                "column": column,
                "sequence": name.sequence,
                "image_type": name.image_type,
                "feature_class": name.feature_class,
                "feature": name.feature,
            }
        )
    return pd.DataFrame(rows) if rows else None


def export_tables(
    run: str | Path,
    formats: tuple[str, ...] | list[str] = FORMATS,
    out: str | Path | None = None,
    config: ReportConfig | None = None,
) -> Export:
    """Write the run's tables as CSV and/or one XLSX workbook (see the module docstring)."""
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise RadiopipeError(
            f"--format {','.join(formats)}: choose from {', '.join(FORMATS)} (comma-separated)"
        )
    ctx = ReportContext(load_run(run), config or ReportConfig())
    folder = Path(out) if out is not None else ctx.run.path("export")
    features = _features(ctx)
    tables = {
        "features": features,
        "predictions": _predictions(ctx),
        "performance": ctx.performance,
        "variables": _variables(features),
    }
    result = Export(folder)
    for name, table in list(tables.items()):
        if table is None:
            result.notes.append(f"{name}: not in this run")
            del tables[name]
    if not tables:
        raise RadiopipeError(f"{run}: no features, predictions or performance to export")
    if "csv" in formats:
        for name, table in tables.items():
            result.files[f"{name}.csv"] = write_csv(folder / f"{name}.csv", table, index=False)
    if "xlsx" in formats:
        result.files[WORKBOOK] = _workbook(folder / WORKBOOK, tables, result.notes)
    for note in result.notes:
        log.info("export-tables: %s", note)
    return result


def _workbook(path: Path, tables: dict[str, pd.DataFrame], notes: list[str]) -> Path:
    """One sheet per table; a table larger than an Excel sheet is left out with a note."""
    with atomic_path(path) as tmp, pd.ExcelWriter(tmp, engine="openpyxl") as writer:
        for name, table in tables.items():
            rows, columns = table.shape
            if columns > EXCEL_MAX_COLUMNS or rows + 1 > EXCEL_MAX_ROWS:
                notes.append(
                    f"{name}: {rows} rows x {columns} columns exceed an Excel sheet: "
                    f"in {name}.csv only"
                )
                continue
            table.to_excel(writer, sheet_name=name, index=False, freeze_panes=(1, 1))
    return path
