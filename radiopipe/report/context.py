"""What every section builder shares: the run's contents, the settings, model order, labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from radiopipe.config.report import ReportConfig
from radiopipe.contracts import SPLIT_ORDER, EvaluateLayout, Split
from radiopipe.explain.groups import SEQUENCE_LABELS
from radiopipe.report import figures
from radiopipe.report.contents import RunContents
from radiopipe.report.figure_files import FigureFiles
from radiopipe.report.references import Citations


@dataclass
class ReportContext:
    """The run, the report settings and derived facts (reference model, splits, labels)."""

    run: RunContents
    config: ReportConfig
    warnings: list[str] = field(default_factory=list)
    memo: dict[str, object] = field(default_factory=dict)  # results computed once per report
    citations: Citations = field(default_factory=Citations)  # numbered references, in order
    figure_files: FigureFiles | None = None  # set: figures are kept for report/figures/

    def warn(self, message: str) -> None:
        """Record a warning for the report (once, however often it is raised)."""
        if message not in self.warnings:
            self.warnings.append(message)

    @cached_property
    def evaluated_predictions(self) -> Path | None:
        """The predictions table of every model: the evaluate stage's merged table, else the
        train stage's, else None (the report reads it, never recomputes from it)."""
        layout = self.run.layout
        for path in (layout.evaluate.predictions, layout.train.predictions):
            if path.is_file():
                return path
        return None

    @cached_property
    def performance(self) -> pd.DataFrame | None:
        """evaluate/performance.csv, or None."""
        return self.run.evaluate.get(EvaluateLayout.FILES["performance"])

    @cached_property
    def evaluate_config(self) -> dict:
        """The evaluate stage's resolved settings (empty if unknown)."""
        return self.run.configs.get("evaluate", {})

    @cached_property
    def reference(self) -> str:
        """The pre-specified model the others are compared with: the evaluation's (performance
        .csv ``reference``, from design.json). A different report setting is ignored."""
        fixed = None
        if self.performance is not None and "reference" in self.performance:
            found = self.performance["reference"].dropna()
            if not found.empty:
                fixed = str(found.iloc[0])
        fixed = fixed or str(self.evaluate_config.get("reference", "stack"))
        if self.config.reference and self.config.reference != fixed:
            self.warn(
                f"report reference {self.config.reference} ignored: the pre-specified reference "
                f"of this evaluation is {fixed} (evaluate.reference, fixed before any fit)"
            )
        return fixed

    @cached_property
    def models(self) -> list[str]:
        """Models in the performance table, the reference first."""
        if self.performance is None:
            return []
        found = list(dict.fromkeys(self.performance["model"].astype(str)))
        return [m for m in found if m == self.reference] + [m for m in found if m != self.reference]

    @cached_property
    def splits(self) -> list[str]:
        """Splits of the main tables and figures, in the conventional order: every split of
        the performance table except the apparent one (``train``: resubstitution, optimistic),
        which only the appendix "apparent, optimistic" shows."""
        if self.performance is None:
            return []
        present = set(self.performance["split"].astype(str)) - {Split.TRAIN}
        return [s for s in SPLIT_ORDER if s in present] + sorted(present - set(SPLIT_ORDER))

    def model_label(self, model: str) -> str:
        """A model's display name ('Stacking ensemble' for stack; report.model_labels)."""
        return self.config.model_label(str(model))

    @cached_property
    def model_labels(self) -> dict[str, str]:
        """Display names of the models in the performance table."""
        return {m: self.model_label(m) for m in self.models}

    @cached_property
    def colours(self) -> dict[str, str]:
        """A fixed colour per model across every figure."""
        return figures.model_colours(self.models, self.reference)

    def sequence_label(self, sequence: str) -> str:
        """'T2WI' for t2w, etc."""
        return SEQUENCE_LABELS.get(sequence, sequence)

    @cached_property
    def label_names(self) -> dict[int, str]:
        """The outcome's names: report.label_names when set to other than the default, else
        the names the run's evaluate stage used (the pipeline's cohort.label_names), else
        negative / positive."""
        from radiopipe.config.report import DEFAULT_LABEL_NAMES

        if dict(self.config.label_names) != DEFAULT_LABEL_NAMES:
            return dict(self.config.label_names)
        names = (self.evaluate_config.get("cohort_table") or {}).get("label_names") or {}
        if sorted(str(k) for k in names) == ["0", "1"]:
            return {int(k): str(v) for k, v in names.items()}
        return dict(self.config.label_names)

    def label_name(self, label: int) -> str:
        """The outcome's name for label 0 or 1."""
        return self.label_names[int(label)]

    def figure(self, fig: object) -> str:
        """A figure as an embeddable data URI in the configured format (kept open for
        report/figures/ when ``figure_files`` is set)."""
        if self.figure_files is None:
            return figures.data_uri(fig, self.config.figure_format)
        uri = figures.data_uri(fig, self.config.figure_format, close=False)
        self.figure_files.hold(uri, fig)
        return uri
