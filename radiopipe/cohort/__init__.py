"""The cohort manifest: load, import (nnU-Net raw layout, folder per patient), validate."""

from radiopipe.cohort.manifest import (
    DEFAULT_SEQUENCES,
    SPLITS,
    Cohort,
    read_manifest,
    write_manifest,
)

__all__ = ["DEFAULT_SEQUENCES", "SPLITS", "Cohort", "read_manifest", "write_manifest"]
