"""``radiopipe design``: fix the study design once (design.json, folds.csv) for every model."""

from __future__ import annotations

from pathlib import Path

import typer

from radiopipe.cli.stage import FORCE_HELP
from radiopipe.progress import console


def register(app: typer.Typer) -> None:
    """Add ``design`` to the app."""
    app.command("design")(design)


def design(
    manifest: Path = typer.Option(..., help="Cohort manifest CSV (site, split, label)."),
    out: Path = typer.Option(..., help="Output folder (design.json, folds.csv)."),
    config: Path | None = typer.Option(
        None, help="Model settings YAML: its design, cv.outer_folds/outer_repeats and seed."
    ),
    kind: str | None = typer.Option(
        None, "--design", help="Override: auto, fixed_split or nested_cv."
    ),
    folds: int | None = typer.Option(None, min=2, help="Override the number of outer folds."),
    repeats: int | None = typer.Option(None, min=1, help="Override the outer repeats."),
    seed: int | None = typer.Option(None, help="Override the seed of the fold assignment."),
    force: bool = typer.Option(False, help=FORCE_HELP),
) -> None:
    """Resolve the design (fixed_split or nested_cv) and draw the outer folds, once."""
    from radiopipe.cli.stage import run_stage
    from radiopipe.config import load_config, parse_config
    from radiopipe.config.model import ModelConfig
    from radiopipe.config.model_presets import new_study_config
    from radiopipe.modeling.design import DesignSettings, read_design
    from radiopipe.pipeline.cohort_stages import design_stage

    model = load_config(config, ModelConfig) if config else new_study_config()
    data = DesignSettings.of(model).model_dump()
    overrides = {"design": kind, "outer_folds": folds, "outer_repeats": repeats, "seed": seed}
    data |= {k: v for k, v in overrides.items() if v is not None}
    settings = parse_config(data, DesignSettings, source="command line")
    outputs, _ = run_stage(design_stage(settings), out, force, {"cohort": {"manifest": manifest}})
    resolved, _ = read_design(outputs["design"])
    console.print(
        f"design {resolved.design}: {resolved.n_development} development patients, "
        f"{resolved.folds} folds x {resolved.repeats} repeat(s), seed {resolved.seed}, "
        f"reference model {resolved.reference}"
    )
    print(outputs["design"])  # the design file on stdout, for scripts
