"""SHAP: global importance, per-patient explanations and importance by feature group."""

from __future__ import annotations

import json

from radiopipe.explain.groups import GROUPING_TITLES
from radiopipe.explain.outputs import GROUPED, PLOTS, SUMMARY
from radiopipe.report.contents import read_table
from radiopipe.report.context import ReportContext
from radiopipe.report.elements import Figure, FigureRow, Paragraph, Section, Table
from radiopipe.report.figures import file_uri
from radiopipe.report.formatting import num, pct

SCALES = {"probability": "predicted probability", "log_odds": "log-odds"}


def build(ctx: ReportContext) -> Section:
    """Figures written by the explain stage, and the grouped importance table."""
    section = Section("shap", "Model explanations (SHAP)")
    folder = ctx.run.explain_dir
    if folder is None:
        section.note = ctx.run.notes.get("explain", "no SHAP results")
        return section
    summary = json.loads((folder / SUMMARY).read_text(encoding="utf-8"))
    models = summary.get("models", {})
    settings = summary.get("settings", {})
    plots = folder / PLOTS
    order = summary.get("model_order", list(models))
    names = {m: ctx.model_label(m) for m in models}
    section.blocks.append(Paragraph(_intro(models, settings, summary, names), "small"))
    for rank, model in enumerate(order):
        info = models[model]
        figures = {kind: plots / f"{model}_{kind}.png" for kind in ("bar", "beeswarm", "groups")}
        if not any(p.is_file() for p in figures.values()):
            continue
        scale = SCALES.get(info["scale"], info["scale"])
        section.blocks.append(
            Paragraph(
                f"{ctx.model_label(model)}: {info['method']}; SHAP values in {scale}.", "lead"
            )
        )
        captions = {
            "bar": "Global importance: mean |SHAP value| per feature.",
            "beeswarm": "SHAP value of every explained patient (colour: the feature's value).",
            "groups": "Importance by sequence, image type and feature class (mean |sum of the "
            "group's SHAP values|).",
        }
        shown = [
            Figure(file_uri(p), captions[k], width="82%") for k, p in figures.items() if p.is_file()
        ]
        if rank == 0:
            section.blocks += shown
            table = _grouped_table(ctx, model)
            if table is not None:
                section.blocks.append(table)
            for path in sorted(plots.glob(f"{model}_waterfall_*.png"))[:3]:
                patient = path.stem.split("_waterfall_")[-1]
                section.blocks.append(
                    Figure(
                        file_uri(path),
                        f"Patient {patient}: how each "
                        "feature moves the prediction from the background "
                        "average E[f(X)] to the patient's f(x).",
                        width="72%",
                    )
                )
        else:
            section.blocks.append(
                FigureRow(
                    [Figure(f.uri) for f in shown[:2]],
                    f"{ctx.model_label(model)}: global importance and SHAP values.",
                )
            )
    if len(section.blocks) == 1:
        section.blocks = []
        section.note = "explain/ holds no figures"
    return section


def _intro(models: dict, settings: dict, summary: dict, names: dict | None = None) -> str:
    background = len(summary.get("background_patients", []))
    shown = ", ".join((names or {}).get(m, m) for m in models)
    return (
        f"SHAP values were computed for {shown} in the selected feature space: the "
        f"stacking ensemble model-agnostically (antithetic permutation sampling, "
        f"{settings.get('permutations', 1)} ordering pair(s) per background patient), tree "
        f"base learners exactly with interventional TreeSHAP; the background was {background} "
        f"training patients drawn with seed {settings.get('seed', 0)}. Values add up to each "
        "patient's output minus the background average (largest discrepancy "
        f"{max((m.get('additivity_error', 0) for m in models.values()), default=0):.1e})."
    )


def _grouped_table(ctx: ReportContext, model: str) -> Table | None:
    path = ctx.run.explain_dir / GROUPED
    if not path.is_file():
        return None
    table = read_table(path)
    part = table.loc[table["model"] == model]
    if part.empty:
        return None
    body, styles = [], []
    for grouping, title in GROUPING_TITLES.items():
        rows = part.loc[part["grouping"] == grouping].sort_values("importance", ascending=False)
        body.append([title, "", "", ""])
        styles.append("subhead")
        for r in rows.itertuples():
            body.append(
                [
                    f"\u2003{r.label}",
                    str(int(r.n_features)),
                    num(r.importance, 4),
                    pct(r.importance_share),
                ]
            )
            styles.append("level")
    return Table(
        f"{ctx.model_label(model)}: importance by feature group",
        ["Group", "Features", "Mean |group SHAP|", "Share"],
        body,
        row_styles=styles,
    )
