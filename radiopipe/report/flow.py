"""The STARD/CONSORT-style patient-flow diagram: patients in the manifest, those left out
(input problems, failed preprocessing), those analysed, flagged on the way (failed feature
extraction, imputed; segmentation QC flags) and the patients and events of each set.

:func:`patient_flow` counts from the run's files; :func:`flow_figure` draws the counts."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from radiopipe.report.contents import read_table
from radiopipe.report.context import ReportContext
from radiopipe.report.figures import cohort_title, styled

SET_ORDER = ("train", "internal_test", "external_test", "")


@dataclass
class Flow:
    """Patient counts of each step of the flow diagram."""

    total: int
    excluded: dict[str, int] = field(default_factory=dict)  # reason -> patients left out
    flagged: dict[str, int] = field(default_factory=dict)  # reason -> analysed, but flagged
    analysed: int = 0
    sets: list[tuple[str, int, int]] = field(default_factory=list)  # (split, n, events)

    @property
    def n_excluded(self) -> int:
        return self.total - self.analysed


def _patients(table: pd.DataFrame | None) -> set[str]:
    if table is None or table.empty:
        return set()
    column = "patient_id" if "patient_id" in table else ("patient" if "patient" in table else None)
    if column is None:
        return set()
    return {str(p) for p in table[column] if str(p).strip()}


def _analysed(ctx: ReportContext, manifest: pd.DataFrame) -> set[str]:
    """Patients with predictions of the reference model, else with features, else all."""
    path = ctx.evaluated_predictions
    if path is not None:
        preds = pd.read_parquet(path, columns=["patient_id", "model"])
        found = set(preds.loc[preds["model"] == ctx.reference, "patient_id"].astype(str))
        if found:
            return found
    if ctx.run.features_path is not None:
        features = pd.read_parquet(ctx.run.features_path, columns=["patient_id"])
        return set(features["patient_id"].astype(str))
    return set(manifest["patient_id"].astype(str))


def patient_flow(ctx: ReportContext) -> Flow | None:
    """The counts of the flow diagram, or None without a cohort manifest."""
    manifest = ctx.run.manifest
    if manifest is None:
        return None
    everyone = set(manifest["patient_id"].astype(str))
    analysed = _analysed(ctx, manifest) & everyone
    left_out = everyone - analysed
    preprocess = ctx.run.layout.preprocess.failures
    sources = {
        "input validation problems": _patients(ctx.run.problems),
        "preprocessing failed": _patients(
            read_table(preprocess, dtype=str, keep_default_na=False)
            if preprocess.is_file()
            else None
        ),
        "feature extraction failed": _patients(ctx.run.extraction.get("failures_table")),
    }
    qc = ctx.run.segmentation.get("qc")
    if qc is not None and "flags" in qc:
        sources["segmentation QC flag"] = _patients(
            qc.loc[qc["flags"].astype(str).str.strip() != ""]
        )
    flow = Flow(total=len(everyone), analysed=len(analysed))
    explained: set[str] = set()
    for reason, patients in sources.items():  # each excluded patient under its first reason
        if (patients & left_out) - explained:
            flow.excluded[reason] = len((patients & left_out) - explained)
            explained |= patients & left_out
        if patients & analysed:
            kept = "imputed" if "extraction" in reason else "kept"
            flow.flagged[f"{reason} ({kept})"] = len(patients & analysed)
    if left_out - explained:
        flow.excluded["not in the analysis (other reasons)"] = len(left_out - explained)
    table = manifest.loc[manifest["patient_id"].astype(str).isin(analysed)]
    splits = table["split"].fillna("").astype(str)
    for split in [*SET_ORDER, *sorted(set(splits) - set(SET_ORDER))]:
        part = table.loc[splits == split]
        if len(part):
            events = int((part["label"].astype(str).str.strip() == "1").sum())
            flow.sets.append((split, len(part), events))
    return flow


def _set_name(split: str) -> str:
    return cohort_title(split) if split else "Cross-validation (no fixed set)"


def _box(ax, x: float, y: float, text: str, **style) -> None:
    ax.text(
        x, y, text, ha="center", va="center", fontsize=style.pop("size", 7.6),
        bbox={"boxstyle": "round,pad=0.45", "facecolor": style.pop("face", "white"),
              "edgecolor": style.pop("edge", "#1f4e79"), "linewidth": 0.9},
        **style,
    )  # fmt: skip


def _arrow(ax, start: tuple[float, float], end: tuple[float, float]) -> None:
    ax.annotate(
        "", xy=end, xytext=start,
        arrowprops={"arrowstyle": "-|>", "color": "#555555", "lw": 0.9, "shrinkA": 0,
                    "shrinkB": 0},
    )  # fmt: skip


@styled
def flow_figure(flow: Flow, label_names: dict[int, str]) -> object:
    """The flow diagram: main column top-down, exclusions and flags to the right, one box
    per set at the bottom."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.8, 4.6))
    ax.set_axis_off()
    ax.set(xlim=(0, 1), ylim=(0, 1))
    _box(ax, 0.32, 0.92, f"Patients in the cohort manifest\nn = {flow.total}")
    excluded = "\n".join(f"• {reason}: {n}" for reason, n in flow.excluded.items()) or "• none"
    ax.text(
        0.56, 0.72, f"Excluded (n = {flow.n_excluded})\n{excluded}", ha="left", va="center",
        fontsize=7.2, bbox={"boxstyle": "round,pad=0.45", "facecolor": "#fbf3f2",
                            "edgecolor": "#c0504d", "linewidth": 0.9},
    )  # fmt: skip
    _arrow(ax, (0.32, 0.87), (0.32, 0.57))
    _arrow(ax, (0.32, 0.72), (0.55, 0.72))
    _box(ax, 0.32, 0.52, f"Patients analysed\nn = {flow.analysed}")
    if flow.flagged:
        flagged = "\n".join(f"• {reason}: {n}" for reason, n in flow.flagged.items())
        ax.text(
            0.56, 0.42, f"Flagged, still analysed\n{flagged}", ha="left", va="center",
            fontsize=7.2, bbox={"boxstyle": "round,pad=0.45", "facecolor": "#fdf6ea",
                                "edgecolor": "#d08c2c", "linewidth": 0.9},
        )  # fmt: skip
        _arrow(ax, (0.32, 0.42), (0.55, 0.42))
    n = max(len(flow.sets), 1)
    centres = [(i + 0.5) / n for i in range(n)]
    _arrow(ax, (0.32, 0.47), (0.32, 0.3))
    ax.plot([centres[0], centres[-1]], [0.3, 0.3], color="#555555", lw=0.9)
    for x, (split, size, events) in zip(centres, flow.sets, strict=False):
        _arrow(ax, (x, 0.3), (x, 0.2))
        text = (
            f"{_set_name(split)}\nn = {size}\n{events} {label_names[1]}, "
            f"{size - events} {label_names[0]}"
        )
        _box(ax, x, 0.11, text, face="#f2f6fa", size=7.2)
    fig.tight_layout(pad=0.2)
    return fig
