"""Clinical and combined models: odds-ratio tables, the rad-score (distribution and formula),
the nomogram and the comparison with the imaging models.

Renders train's ``clinical_univariable.csv``, ``clinical_multivariable.csv``,
``radscore.parquet``, ``radscore_tests.csv``, ``radscore_formula.csv``,
``combined_coefficients.csv``, ``nomogram_points.csv`` / ``nomogram_total.csv`` and evaluate's
``clinical_comparisons.csv``; it fits nothing. The nomogram is also written as
``report/figures/nomogram.{pdf,svg}``.
"""

from __future__ import annotations

import pandas as pd

from radiopipe.atomic import atomic_path
from radiopipe.contracts import EvaluateLayout
from radiopipe.report import clinical_figures
from radiopipe.report.context import ReportContext
from radiopipe.report.elements import Figure, Paragraph, Section, Table
from radiopipe.report.figures import split_title
from radiopipe.report.formatting import ci, num, p_text, signed

TITLE = "Clinical and combined models"
NOMOGRAM_STEM = "nomogram"
TERM_LABELS = {"radscore": "Rad-score", "(intercept)": "Intercept"}


def build(ctx: ReportContext) -> Section:
    """The section (a note when the run has no clinical model)."""
    section = Section("clinical", TITLE)
    train = ctx.run.train
    if "clinical_univariable" not in train:
        section.note = (
            "no clinical model in this run (set clinical.covariates in the model settings)"
        )
        return section
    section.blocks.append(Paragraph(_INTRO, "small"))
    section.blocks.append(
        _or_table(
            "Univariable logistic regression (training patients)",
            train["clinical_univariable"],
            show_selected=True,
        )
    )
    section.blocks.append(
        _or_table(
            "Multivariable clinical model (training patients)",
            train["clinical_multivariable"],
            show_selected=False,
        )
    )
    if "radscore" in train and "radscore_tests" in train:
        section.blocks.append(_radscore_figure(ctx, train["radscore"], train["radscore_tests"]))
    if "radscore_formula" in train:
        section.blocks.append(_formula_table(train["radscore_formula"]))
    if "combined_coefficients" in train:
        section.blocks.append(_combined_table(train["combined_coefficients"]))
    if "nomogram_points" in train and "nomogram_total" in train:
        section.blocks.append(_nomogram(ctx, train["nomogram_points"], train["nomogram_total"]))
    comparisons = ctx.run.evaluate.get(EvaluateLayout.FILES["clinical_comparisons"])
    if comparisons is not None and not comparisons.empty:
        section.blocks.append(_comparison_table(ctx, comparisons))
    return section


_INTRO = (
    "The clinical model is a logistic regression on the covariates that passed selection "
    "inside each training fold; the rad-score is the LASSO linear predictor of the radiomics "
    "pipeline (computable by hand from the formula below and train/radscore_harmonisation.csv); "
    "the combined model is a logistic regression on the rad-score (out-of-fold for training "
    "patients) and the selected covariates. Tables describe the final models fitted on all "
    "training patients; performance is in the comparison table and the curves sections."
)


def _or_table(caption: str, table: pd.DataFrame, show_selected: bool) -> Table:
    rows = []
    for r in table.itertuples():
        level = r.level if isinstance(r.level, str) and r.level else ""
        name = f"{r.covariate} ({level})" if level else str(r.covariate)
        row = [name, num(r.odds_ratio, 2), ci(r.ci_low, r.ci_high, 2), p_text(r.p_value)]
        if show_selected:
            row += [p_text(r.covariate_p), "yes" if bool(r.selected) else "no"]
        rows.append(row)
    header = ["Covariate", "OR", "95% CI", "p"]
    if show_selected:
        header += ["Covariate p (LR test)", "Selected"]
    return Table(caption, header, rows, align="l" + "r" * (len(header) - 1))


def _formula_table(formula: pd.DataFrame) -> Table:
    rows = [
        [TERM_LABELS.get(r.term, r.term), num(r.coefficient, 4), num(r.center, 4), num(r.scale, 4)]
        for r in formula.itertuples()
    ]
    return Table(
        "Rad-score formula: radscore = sum of coefficient × (x − center) / scale",
        ["Term", "Coefficient", "Center", "Scale"],
        rows,
        align="lrrr",
        footnote="x is the feature after harmonisation (train/radscore_harmonisation.csv: "
        "grand_mean + (raw − location) / scale for the patient's site); the intercept's x is 1.",
    )


def _combined_table(table: pd.DataFrame) -> Table:
    rows = [
        [
            TERM_LABELS.get(r.term, r.term),
            num(r.coefficient, 3),
            num(r.odds_ratio, 2),
            ci(r.ci_low, r.ci_high, 2),
            p_text(r.p_value),
        ]
        for r in table.itertuples()
    ]
    return Table(
        "Combined model (rad-score + clinical covariates)",
        ["Term", "Coefficient", "OR", "95% CI", "p"],
        rows,
        align="lrrrr",
    )


def _radscore_figure(ctx: ReportContext, radscores: pd.DataFrame, tests: pd.DataFrame) -> Figure:
    labels = _labels(ctx, radscores)
    frame = radscores.assign(label=labels)
    fig = clinical_figures.radscore_figure(frame, tests, ctx.label_name)
    return Figure(
        ctx.figure(fig),
        "Rad-score by outcome per split (training: out-of-fold "
        "rad-scores); two-sided Mann-Whitney U test.",
    )


def _labels(ctx: ReportContext, radscores: pd.DataFrame) -> pd.Series:
    manifest = ctx.run.manifest
    if manifest is None or "label" not in manifest:
        return pd.Series(pd.NA, index=radscores.index)
    lookup = manifest.set_index(manifest["patient_id"].astype(str))["label"]
    values = pd.to_numeric(lookup, errors="coerce")
    return radscores["patient_id"].astype(str).map(values).reset_index(drop=True)


def _nomogram(ctx: ReportContext, points: pd.DataFrame, totals: pd.DataFrame) -> Figure:
    def label(name: str) -> str:
        return TERM_LABELS.get(name, name)

    fig = clinical_figures.nomogram_figure(points, totals, label)
    if ctx.figure_files is not None:
        folder = ctx.figure_files.folder
        folder.mkdir(parents=True, exist_ok=True)
        for fmt in ("pdf", "svg"):
            with atomic_path(folder / f"{NOMOGRAM_STEM}.{fmt}") as tmp:
                fig.savefig(tmp, format=fmt, bbox_inches="tight", facecolor="white")
    return Figure(
        ctx.figure(fig),
        "Nomogram of the combined model: read each predictor's "
        "points, add them, and read the probability below the total (tables: "
        "train/nomogram_points.csv, train/nomogram_total.csv).",
    )


def _comparison_table(ctx: ReportContext, table: pd.DataFrame) -> Table:
    order = {s: i for i, s in enumerate(ctx.splits)}
    shown = table[table["split"].isin(order)]
    shown = shown.assign(o=shown["split"].map(order)).sort_values("o", kind="stable")
    rows = [
        [
            split_title(r.split),
            f"{ctx.model_label(r.model)} vs {ctx.model_label(r.reference)}",
            num(r.auc_model, 3),
            num(r.auc_reference, 3),
            signed(r.auc_difference, 3),
            p_text(r.delong_p),
            p_text(r.p_holm),
            f"{num(r.nri, 2)} {ci(r.nri_ci_low, r.nri_ci_high, 2)}",
            f"{num(r.idi, 3)} {ci(r.idi_ci_low, r.idi_ci_high, 3)}",
        ]
        for r in shown.itertuples()
    ]
    return Table(
        "Clinical, rad-score, stacking and combined models compared",
        [
            "Split",
            "Comparison",
            "AUC",
            "AUC ref.",
            "ΔAUC",
            "DeLong p",
            "Holm p",
            "NRI (95% CI)",
            "IDI (95% CI)",
        ],
        rows,
        align="llrrrrrrr",
        wide=True,
        footnote="NRI: category-free net reclassification improvement; IDI: integrated "
        "discrimination improvement; CIs: stratified bootstrap; Holm over the comparisons "
        "of each split.",
    )
