"""Harmonisation before/after: site separability (cross-validated AUC) and PCA by site."""

from __future__ import annotations

from radiopipe.errors import RadiopipeError
from radiopipe.report import figures
from radiopipe.report.context import ReportContext
from radiopipe.report.elements import Figure, Paragraph, Section, Table
from radiopipe.report.formatting import num
from radiopipe.report.harmonisation import diagnostics

BEFORE = "Before (extracted features)"
# in-sample: every site's effect (an unseen centre's included) was estimated from these patients
AFTER = "After (the model's ComBat step; in-sample)"


def build(ctx: ReportContext) -> Section:
    """Separability and PCA before and (when the model has a ComBat step) after."""
    section = Section("harmonisation", "Harmonisation across sites")
    try:
        found = diagnostics(ctx.run)
    except RadiopipeError as err:
        section.note = str(err)
        return section
    rows = [
        [name, str(s.n_patients), str(s.n_features), num(s.auc, 3)]
        for name, s in ((BEFORE, found.before), (AFTER, found.after))
        if s is not None
    ]
    section.blocks.append(
        Paragraph(
            "Site separability: cross-validated AUC of a classifier predicting the site from the "
            "features (standardised, first principal components, logistic regression; fitted "
            "inside each fold). 0.5 means the sites cannot be told apart. The 'after' rows are "
            "in-sample: each site's ComBat effect, an unseen centre's included, was estimated "
            "from the same patients, so they show the adjustment, not its validity. " + found.status
        )
    )
    section.blocks.append(
        Table(
            "Site separability",
            ["Features", "Patients", "Features used", "Site AUC"],
            rows,
            align="lrrr",
        )
    )
    titles = [BEFORE] + ([AFTER] if found.after is not None else [])
    fig = figures.pca_figure(found.pca_before, found.pca_after, titles)
    section.blocks.append(
        Figure(
            ctx.figure(fig),
            "First two principal components of the standardised features, coloured by site.",
            width="100%" if found.after is not None else "52%",
        )
    )
    return section
