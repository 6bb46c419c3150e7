"""The explain folder: SHAP tables (Parquet), figures (PNG) and a summary (JSON); read back.

Files written into ``explain/``:

- ``shap_values.parquet``: long table ``model, patient_id, split, feature_index, feature,
  shap_value, feature_value`` (feature values in the selected, preprocessed space);
- ``shap_patients.parquet``: ``model, patient_id, split, label, output, base_value, scale,
  method``; ``output`` is what the values explain (sum of values + base value);
- ``importance.parquet``: mean |SHAP| per model and feature, ranked, with the name's parts;
- ``grouped_importance.parquet``: per model, importance by sequence, image type, class;
- ``group_shap.parquet``: per model, grouping, group and patient: the sum of its values;
- ``plots/<model>_{bar,beeswarm,groups}.png`` and ``plots/<model>_waterfall_<patient>.png``;
- ``explain.json``: settings, background patients, timings, additivity errors, figures.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radiopipe.atomic import atomic_path, write_json, write_parquet
from radiopipe.config.explain import ExplainConfig
from radiopipe.contracts import ExplainLayout
from radiopipe.errors import RadiopipeError
from radiopipe.explain.core import ModelExplanation, ShapResult
from radiopipe.explain.groups import GROUPINGS, group_values

log = logging.getLogger(__name__)

SHAP_VALUES = "shap_values.parquet"
SHAP_PATIENTS = "shap_patients.parquet"
IMPORTANCE = "importance.parquet"
GROUPED = "grouped_importance.parquet"
GROUP_SHAP = "group_shap.parquet"
SUMMARY = ExplainLayout.FILES["summary"]
PLOTS = "plots"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def result_tables(result: ShapResult) -> dict[str, pd.DataFrame]:
    """The Parquet tables of a result, by file name."""
    values, patients, importance, grouped, groups = [], [], [], [], []
    for name, ex in result.models.items():
        n, m = ex.values.shape
        ids = ex.patients.index.astype(str).to_numpy()
        values.append(
            pd.DataFrame(
                {
                    "model": name,
                    "patient_id": np.repeat(ids, m),
                    "split": np.repeat(ex.patients["split"].astype(str).to_numpy(), m),
                    "feature_index": np.tile(np.arange(m), n),
                    "feature": np.tile(np.asarray(ex.features, dtype=object), n),
                    "shap_value": ex.values.ravel(),
                    "feature_value": ex.data.ravel(),
                }
            )
        )
        label = ex.patients["label"] if "label" in ex.patients else pd.Series(np.nan, ids)
        patients.append(
            pd.DataFrame(
                {
                    "model": name,
                    "patient_id": ids,
                    "split": ex.patients["split"].astype(str),
                    "label": pd.to_numeric(label, errors="coerce").to_numpy(dtype=float),
                    "output": ex.patients["output"].to_numpy(dtype=float),
                    "base_value": ex.base_value,
                    "scale": ex.scale,
                    "method": ex.method,
                }
            )
        )
        importance.append(ex.importance())
        grouped.append(ex.grouped())
        for grouping in GROUPINGS:
            sums = group_values(ex.values, ex.features, grouping)
            sums.index = ids
            long = sums.rename_axis("patient_id").reset_index()
            long = long.melt(id_vars="patient_id", var_name="group", value_name="shap_value")
            groups.append(long.assign(model=name, grouping=grouping))
    order = ["model", "grouping", "group", "patient_id", "shap_value"]
    return {
        SHAP_VALUES: pd.concat(values, ignore_index=True),
        SHAP_PATIENTS: pd.concat(patients, ignore_index=True),
        IMPORTANCE: _model_first(pd.concat(importance, ignore_index=True)),
        GROUPED: _model_first(pd.concat(grouped, ignore_index=True)),
        GROUP_SHAP: pd.concat(groups, ignore_index=True).loc[:, order],
    }


def _model_first(table: pd.DataFrame) -> pd.DataFrame:
    return table.loc[:, ["model", *[c for c in table.columns if c != "model"]]]


def write_result(
    result: ShapResult, out: str | Path, threshold: float = 0.5, extra: dict | None = None
) -> dict[str, Path]:
    """Write every table, figure and the summary into ``out`` (each file atomically)."""
    out = Path(out)
    files = {}
    for name, table in result_tables(result).items():
        files[name] = write_parquet(out / name, table)
    figures = write_figures(result, out / PLOTS, threshold)
    files.update({f"{PLOTS}/{p.name}": p for p in figures})
    summary = {
        "settings": result.settings.model_dump(mode="json"),
        "background_patients": result.background,
        "notes": result.notes,
        "threshold": threshold,
        "model_order": list(result.models),
        "models": {
            name: {
                "method": ex.method,
                "scale": ex.scale,
                "patients": len(ex.values),
                "features": len(ex.features),
                "seconds": round(ex.seconds, 3),
                "base_value": ex.base_value,
                "additivity_error": ex.additivity_error,
            }
            for name, ex in result.models.items()
        },
        "figures": sorted(p.relative_to(out).as_posix() for p in figures),
        **(extra or {}),
    }
    files[SUMMARY] = write_json(out / SUMMARY, summary)
    return files


def write_figures(result: ShapResult, folder: Path, threshold: float = 0.5) -> list[Path]:
    """Bar, beeswarm and grouped plots per model, waterfalls for chosen patients."""
    import matplotlib.pyplot as plt

    from radiopipe.explain import plots

    settings = result.settings
    written = []
    for name, ex in result.models.items():
        figures = {
            "bar": plots.bar_plot(ex, settings.max_display),
            "beeswarm": plots.beeswarm_plot(ex, settings.max_display),
            "groups": plots.grouped_plot(ex),
        }
        patients = list(settings.waterfall_patients)
        if name == next(iter(result.models)):  # examples for the ensemble only
            examples = plots.example_patients(ex, threshold, settings.waterfall_examples)
            patients += [p for p in examples if p not in patients]
        for patient in patients:
            figures[f"waterfall_{_SAFE.sub('_', patient)}"] = plots.waterfall_plot(
                ex, patient, settings.max_display
            )
        for kind, fig in figures.items():
            path = folder / f"{_SAFE.sub('_', name)}_{kind}.png"
            with atomic_path(path) as tmp:
                fig.savefig(tmp, dpi=150, bbox_inches="tight", facecolor="white")
            plt.close(fig)
            written.append(path)
    return written


def read_result(folder: str | Path) -> ShapResult:
    """A result read back from an explain folder (for the report and notebooks)."""
    import json

    folder = Path(folder)
    summary_path = folder / SUMMARY
    if not summary_path.is_file():
        raise RadiopipeError(f"{folder}: no SHAP results ({SUMMARY} missing); run `explain` first")
    summary: dict[str, Any] = json.loads(summary_path.read_text(encoding="utf-8"))
    values = pd.read_parquet(folder / SHAP_VALUES)
    patients = pd.read_parquet(folder / SHAP_PATIENTS)
    models = {}
    for name in summary.get("model_order", list(summary["models"])):
        part = values.loc[values["model"] == name]
        who = patients.loc[patients["model"] == name].set_index("patient_id")
        features = (
            part.drop_duplicates("feature_index").sort_values("feature_index")["feature"].tolist()
        )
        wide = part.pivot(index="patient_id", columns="feature_index", values="shap_value")
        data = part.pivot(index="patient_id", columns="feature_index", values="feature_value")
        wide, data = wide.loc[who.index], data.loc[who.index]
        models[name] = ModelExplanation(
            model=name,
            method=str(who["method"].iloc[0]),
            scale=str(who["scale"].iloc[0]),
            features=features,
            patients=who.loc[:, ["split", "label", "output"]],
            values=wide.to_numpy(dtype=float),
            data=data.to_numpy(dtype=float),
            base_value=float(who["base_value"].iloc[0]),
            seconds=float(summary["models"][name].get("seconds", np.nan)),
        )
    settings = ExplainConfig.model_validate(summary["settings"])
    return ShapResult(models, summary["background_patients"], settings, summary.get("notes", []))
