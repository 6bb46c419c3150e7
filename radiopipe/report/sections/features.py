"""Features: what was extracted, how robust it is (ICC), the selection funnel per fold, how
stable the selection is across folds, and the final signature."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from radiopipe.contracts import StageName
from radiopipe.explain.groups import describe_features
from radiopipe.report import figures
from radiopipe.report.analysis import icc_summary
from radiopipe.report.context import ReportContext
from radiopipe.report.elements import Figure, Paragraph, Section, Table
from radiopipe.report.formatting import num, pct

FUNNEL_LABELS = {
    "input": "Extracted features",
    "constant": "Non-constant",
    "icc": "Robust (ICC filter)",
    "ttest": "Univariate t-test",
    "pearson": "Redundancy filter (correlation)",
    "lasso": "LASSO selection",
}


def feature_columns(ctx: ReportContext) -> list[str]:
    """Feature columns of extract/features.parquet (schema only; no data read)."""
    import pyarrow.parquet as pq

    if ctx.run.features_path is None:
        return []
    names = pq.read_schema(ctx.run.features_path).names
    return [n for n in names if n != "patient_id" and not n.startswith("__")]


def labels_for(columns: list[str]) -> dict[str, str]:
    """Readable labels of feature columns ('T2WI wavelet-LLH GLCM Contrast')."""
    if not columns:
        return {}
    table = describe_features(columns)
    return dict(zip(table["column"], table["label"], strict=True))


def build(ctx: ReportContext) -> Section:
    """Extraction, robustness, funnel, stability and signature, each when present."""
    section = Section("features", "Radiomic features and selection")
    columns = feature_columns(ctx)
    if columns:
        section.blocks += _extraction(ctx, columns)
    if ctx.run.icc is not None:
        section.blocks += _icc(ctx)
    train = ctx.run.train
    if "funnel" in train:
        section.blocks.append(_funnel(train["funnel"]))
    selected = train.get("selected")
    stability = train.get("stability")
    if stability is None and selected is not None:
        stability = selection_frequency(selected)
    if stability is not None and not stability.empty:
        section.blocks += _stability(ctx, stability, selected)
    if selected is not None:
        signature = _signature(ctx, selected, stability)
        if signature is not None:
            section.blocks.append(signature)
    if not section.blocks:
        section.note = (
            "; ".join(ctx.run.notes[k] for k in ("features", StageName.TRAIN) if k in ctx.run.notes)
            or "no features or selection results"
        )
    return section


def _extraction(ctx: ReportContext, columns: list[str]) -> list:
    parts = describe_features(columns)
    counts = pd.crosstab(parts["feature_class_label"], parts["sequence"])
    order = [s for s in ctx.run.sequences if s in counts.columns]
    sequences = order + [s for s in counts.columns if s not in order]
    body = [
        [cls, *[str(int(counts.loc[cls, s])) for s in sequences], str(int(counts.loc[cls].sum()))]
        for cls in counts.index
    ]
    body.append(["Total", *[str(int(counts[s].sum())) for s in sequences], str(len(columns))])
    images = parts.loc[parts["sequence"] != "other"].groupby("filter")["image_type"].nunique()
    kinds = [
        f"{images[f]} {label}"
        for f, label in (("original", "original"), ("log", "LoG"), ("wavelet", "wavelet"))
        if f in images
    ] + [f"{n} {f}" for f, n in images.items() if f not in ("original", "log", "wavelet")]
    meta = ctx.run.features_meta
    text = (
        f"{len(columns)} features per patient were extracted from {int(images.sum())} "
        f"images per sequence ({', '.join(kinds)})."
    )
    if meta.get("pyradiomics_version"):
        text += f" pyradiomics {meta['pyradiomics_version']}."
    failures = ctx.run.extraction.get("failures_table")
    if failures is not None and len(failures):
        text += f" {len(failures)} extraction task(s) failed (extract/failures.csv)."
    table = Table(
        "Extracted features by class and sequence",
        ["Feature class", *[ctx.sequence_label(s) for s in sequences], "Total"],
        body,
        row_styles=[""] * (len(body) - 1) + ["total"],
    )
    return [Paragraph(text), table]


def _icc(ctx: ReportContext) -> list:
    icc = ctx.run.icc
    threshold = float(ctx.run.configs.get(StageName.TRAIN, {}).get("icc", {}).get("threshold", 0.8))
    robust = icc["icc"] > threshold
    source = str(icc["source"].iloc[0]).replace("_", " ") if "source" in icc else "two masks"
    n_patients = int(icc["n_patients"].max()) if "n_patients" in icc else None
    text = (
        f"Robustness to segmentation: {int(robust.sum())} of {len(icc)} features "
        f"({pct(robust.mean())}) had ICC(2,1) > {threshold:g} ({source}"
        + (f", {n_patients} training patients" if n_patients else "")
        + ")."
    )
    blocks: list = [Paragraph(text)]
    if {"sequence", "feature_class"} <= set(icc.columns):
        share = icc_summary(icc, threshold)
        order = [s for s in ctx.run.sequences if s in share.columns]
        sequences = order + [s for s in share.columns if s not in order]
        body = [[cls, *[pct(share.loc[cls, s]) for s in sequences]] for cls in share.index]
        blocks.append(
            Table(
                f"Share of features with ICC > {threshold:g}",
                ["Feature class", *[ctx.sequence_label(s) for s in sequences]],
                body,
            )
        )
    labels = {s: ctx.sequence_label(s) for s in set(icc.get("sequence", []))}
    blocks.append(
        Figure(
            ctx.figure(figures.icc_figure(icc, threshold, labels)),
            "Distribution of ICC(2,1) per sequence.",
            width="80%",
        )
    )
    return blocks


def _funnel(funnel: pd.DataFrame) -> Table:
    steps = [c for c in FUNNEL_LABELS if c in funnel.columns]
    final = funnel.loc[funnel["fold"] < 0]
    cv = funnel.loc[funnel["fold"] >= 0]
    header = ["Step", "Final model"] + (["Outer CV folds, median [range]"] if len(cv) else [])
    body = []
    for step in steps:
        row = [FUNNEL_LABELS[step], str(int(final[step].iloc[0])) if len(final) else "–"]
        if len(cv):
            values = cv[step]
            row.append(f"{int(values.median())} [{int(values.min())}–{int(values.max())}]")
        body.append(row)
    return Table(
        "Feature selection funnel",
        header,
        body,
        footnote="Every step was fitted on the training patients of each fold only.",
    )


def selection_frequency(selected: pd.DataFrame) -> pd.DataFrame:
    """How often each feature was selected across CV folds (from selected_features.csv)."""
    cv = selected.loc[selected["fold"] >= 0]
    folds = max(cv["fold"].nunique(), 1)
    counts = cv.groupby("feature")["fold"].nunique()
    final = set(selected.loc[selected["fold"] < 0, "feature"])
    features = sorted(set(selected["feature"]))
    out = pd.DataFrame({"feature": features})
    out["n_folds"] = out["feature"].map(counts).fillna(0).astype(int)
    out["frequency"] = out["n_folds"] / folds
    out["in_final_model"] = out["feature"].isin(final)
    return out.sort_values(["frequency", "feature"], ascending=[False, True], ignore_index=True)


def mean_jaccard(selected: pd.DataFrame) -> float:
    """Mean pairwise Jaccard index of the feature sets selected in the CV folds."""
    sets = [set(g["feature"]) for f, g in selected.groupby("fold") if f >= 0]
    pairs = [len(a & b) / len(a | b) for a, b in combinations(sets, 2) if a | b]
    return float(np.mean(pairs)) if pairs else float("nan")


def _stability(ctx: ReportContext, stability: pd.DataFrame, selected: pd.DataFrame | None) -> list:
    labels = labels_for(list(stability["feature"]))
    top = ctx.config.max_features_shown
    text = f"{len(stability)} distinct features were selected in at least one fit"
    if selected is not None:
        folds = selected.loc[selected["fold"] >= 0, "fold"].nunique()
        jaccard = mean_jaccard(selected)
        text += (
            f"; across {folds} outer CV folds the selected sets had a mean pairwise Jaccard "
            f"index of {num(jaccard, 2)} (1 = identical sets)"
        )
    fig = figures.stability_figure(stability, labels, top)
    return [
        Paragraph(text + "."),
        Figure(
            ctx.figure(fig),
            f"Selection frequency of the {top} "
            "most frequently selected features (dark: in the final model).",
        ),
    ]


def _signature(ctx: ReportContext, selected: pd.DataFrame, stability: pd.DataFrame | None):
    final = selected.loc[selected["fold"] < 0]
    if final.empty:
        return None
    parts = describe_features(list(final["feature"])).set_index("column")
    frequency = (
        {}
        if stability is None
        else dict(zip(stability["feature"], stability["frequency"], strict=True))
    )
    body = []
    for r in final.sort_values("lasso_coef", key=lambda s: -s.abs()).itertuples():
        p = parts.loc[r.feature]
        body.append(
            [
                ctx.sequence_label(p["sequence"]),
                p["image_type"],
                p["feature_class_label"],
                p["feature"],
                num(r.lasso_coef),
                pct(frequency.get(r.feature), 0),
            ]
        )
    return Table(
        f"Final signature ({len(final)} features)",
        ["Sequence", "Image type", "Class", "Feature", "LASSO coefficient", "Selected in CV folds"],
        body,
        align="llllrr",
    )
