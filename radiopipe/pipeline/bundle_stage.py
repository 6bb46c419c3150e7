"""The last stage of every study run: ``bundle/``, what scoring a new patient needs.

It reads the run's finished files (the fitted model, thresholds, the feature table with its
pyradiomics parameters, the manifest, and when present preprocessing settings, the V-Net and
evaluate's performance table) and writes them, checksummed, with the model card
(:mod:`radiopipe.bundle.writer`). ``radiopipe export --run`` writes the same for a run made
before this stage existed.
"""

from __future__ import annotations

from radiopipe.pipeline.engine import MANIFEST, From, Input, Outputs, Stage, StageCall

OPTIONAL_MANIFEST = From(MANIFEST.stages, MANIFEST.name, optional=True)


def bundle_stage() -> Stage:
    """Write ``runs/<name>/bundle/`` from the run's outputs."""

    def run(call: StageCall) -> Outputs:
        from radiopipe.bundle.sources import sources_from_run
        from radiopipe.bundle.writer import write_bundle
        from radiopipe.contracts import BundleLayout

        write_bundle(sources_from_run(call.ctx.run.root), call.folder)
        layout = BundleLayout(call.folder)
        return {"bundle": layout.card, "checksums": layout.checksums}

    inputs: dict[str, Input] = {
        "model": From("train", "model"),
        "thresholds": From("train", "thresholds"),
        "features": From("extract", "features"),
        "manifest": OPTIONAL_MANIFEST,
        "performance": From("evaluate", "performance.csv", optional=True),
        "segmentation_model": From("segment", "model_card", optional=True),
    }
    return Stage("bundle", run, inputs=inputs, outputs=("bundle", "checksums"))
