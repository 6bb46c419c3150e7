"""What the fitted model did with patients it did not learn from, for the methods text: which
sites were training sites, and which were harmonised from their own unlabelled patients."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from radiopipe.contracts import TEST_SPLITS


@dataclass(frozen=True)
class Harmonisation:
    """The training sites and each unseen site with its number of scored patients."""

    training: list[str]
    unseen: dict[str, int]
    policy: str  # estimate, passthrough or error


def harmonisation_of(card: dict, manifest: pd.DataFrame | None, policy: str) -> Harmonisation:
    """From the model card (training sites, batch column) and the cohort manifest."""
    training = [str(s) for s in card.get("training_sites") or []]
    unseen: dict[str, int] = {}
    batch = str(card.get("batch") or "site")
    if manifest is not None and batch in manifest and "split" in manifest:
        tested = manifest.loc[manifest["split"].astype(str).isin([str(s) for s in TEST_SPLITS])]
        counts = tested[batch].astype(str).value_counts(sort=False)
        unseen = {s: int(n) for s, n in sorted(counts.items()) if s not in set(training)}
    return Harmonisation(training, unseen, policy)


def harmonisation_sentence(found: Harmonisation) -> str:
    """One or two sentences: trained sites, and how each unseen site was treated."""
    if not found.training:
        return ""
    text = f"ComBat parameters were estimated on the training sites ({', '.join(found.training)})."
    if not found.unseen:
        return text + " Every test patient came from a training site."
    listed = ", ".join(f"{site} ({n} patients)" for site, n in found.unseen.items())
    if found.policy == "estimate":
        return text + (
            f" The site effect of each centre without training patients, {listed}, was "
            "estimated from that centre's own unlabelled test patients, scored together "
            "(transductive, label-free: the outcome of these patients was never used, but their "
            "features were). The harmonisation sensitivity table gives the AUC with these "
            "centres left unadjusted and with the pipeline refitted without ComBat."
        )
    if found.policy == "passthrough":
        return text + f" Centres without training patients ({listed}) were left unadjusted."
    return text
