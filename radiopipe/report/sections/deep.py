"""End-to-end deep models (CNN, ViT): saliency overlays written by the deep stage."""

from __future__ import annotations

from radiopipe.report.context import ReportContext
from radiopipe.report.elements import Figure, FigureRow, Paragraph, Section
from radiopipe.report.figures import file_uri, split_title
from radiopipe.report.formatting import num


def build(ctx: ReportContext) -> Section:
    """A gallery of each deep model's explanation overlays (from its index.csv)."""
    section = Section("deep", "Deep-learning models: explanation overlays")
    if not ctx.run.deep:
        section.note = ctx.run.notes.get("deep", "no deep models")
        return section
    in_table = set(ctx.models)
    for model, entry in ctx.run.deep.items():
        index = entry.get("index")
        evaluated = (
            "evaluated with the other models above"
            if model in in_table
            else ("not in evaluate/performance.csv")
        )
        if index is None or index.empty:
            section.blocks.append(Paragraph(f"{model}: no explanation overlays ({evaluated})."))
            continue
        folder = entry["folder"] / "explanations"
        rows = index.loc[index.get("model", model) == model] if "model" in index else index
        figs = []
        for r in rows.head(ctx.config.max_overlays).itertuples():
            path = folder / str(r.file)
            if not path.is_file() or folder.resolve() not in path.resolve().parents:
                continue
            where = split_title(str(r.split)).lower()
            caption = f"{r.patient_id}, {where}, outcome {r.label}, p = {num(r.probability, 2)}"
            figs.append(Figure(file_uri(path), caption))
        method = str(rows["method"].iloc[0]).replace("_", " ") if "method" in rows else "saliency"
        name = ctx.model_label(model)
        section.blocks.append(Paragraph(f"{name} ({method}; {evaluated}).", "lead"))
        caption = (
            f"{name}: {method} overlays on lesion-centred crops (each panel: patient, set, "
            "outcome, predicted probability)."
        )
        section.blocks += [FigureRow(figs[i : i + 2], caption) for i in range(0, len(figs), 2)]
    return section
